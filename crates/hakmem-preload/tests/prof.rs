//! The prof box (`HAKMEM_PROF=1`) under LD_PRELOAD: tests/c/prof.c holds 10 MB, 5 MB and
//! 1 MB at three functions (blocks of 16 B .. 1.1 MB, the sizes each function allocated are
//! printed on stdout), churns through allocations it frees, and dumps the heap profile
//! through `hakmem_prof_dump`. The profile is decoded here (a small protobuf reader) and
//! each sample attributed to a site by the site functions' address ranges (`nm -S` of the
//! program, placed with the profile's own mapping of it): the estimates must rank the
//! sites and lie within sampling error of the truth, freed blocks must not show, and it
//! must hold across threads and in a fork child (whose dump is its own).
//!
//! Statistics: at mean `m` bytes between samples a block of `s` bytes is sampled with
//! probability `p = 1 - exp(-s/m)` and counts `s/p`; the variance of a site's estimate is
//! `sum s^2 (1-p)/p <= m * bytes` (`s(1-p)/p <= m`). The tests run at m = 16 KiB and accept
//! 4.5 standard deviations of that bound (a false failure about once in 10^5 checks).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod common;
use common::{c_prog_fp, command, run_child, Run};

const MEAN_KB: u64 = 16;

// ---- a protobuf reader for the pprof fields the test needs -------------------------------

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b, i: 0 }
    }
    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = self.b[self.i];
            self.i += 1;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return v;
            }
            shift += 7;
            assert!(shift < 70, "varint too long");
        }
    }
    /// Next (field, wire type, varint value or bytes).
    fn next(&mut self) -> Option<(u64, Field<'a>)> {
        if self.i >= self.b.len() {
            return None;
        }
        let key = self.varint();
        let f = match key & 7 {
            0 => Field::Int(self.varint()),
            2 => {
                let n = self.varint() as usize;
                let s = &self.b[self.i..self.i + n];
                self.i += n;
                Field::Bytes(s)
            }
            w => panic!("unexpected wire type {w}"),
        };
        Some((key >> 3, f))
    }
}

enum Field<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

fn packed(b: &[u8]) -> Vec<u64> {
    let mut r = Reader::new(b);
    let mut v = Vec::new();
    while r.i < b.len() {
        v.push(r.varint());
    }
    v
}

#[derive(Default, Debug)]
struct Profile {
    strings: Vec<String>,
    sample_types: Vec<(u64, u64)>,
    /// (location ids, values)
    samples: Vec<(Vec<u64>, Vec<u64>)>,
    /// id -> (mapping id, address)
    locations: HashMap<u64, (u64, u64)>,
    /// id -> (start, limit, offset, filename index)
    mappings: HashMap<u64, (u64, u64, u64, u64)>,
    period: u64,
}

fn decode(b: &[u8]) -> Profile {
    let mut p = Profile::default();
    let mut r = Reader::new(b);
    while let Some((f, v)) = r.next() {
        match (f, v) {
            (1, Field::Bytes(m)) => {
                let mut r = Reader::new(m);
                let (mut t, mut u) = (0, 0);
                while let Some((f, v)) = r.next() {
                    match (f, v) {
                        (1, Field::Int(x)) => t = x,
                        (2, Field::Int(x)) => u = x,
                        _ => {}
                    }
                }
                p.sample_types.push((t, u));
            }
            (2, Field::Bytes(m)) => {
                let mut r = Reader::new(m);
                let (mut locs, mut vals) = (Vec::new(), Vec::new());
                while let Some((f, v)) = r.next() {
                    match (f, v) {
                        (1, Field::Bytes(x)) => locs = packed(x),
                        (2, Field::Bytes(x)) => vals = packed(x),
                        _ => {}
                    }
                }
                p.samples.push((locs, vals));
            }
            (3, Field::Bytes(m)) => {
                let mut r = Reader::new(m);
                let mut f5 = [0u64; 6];
                while let Some((f, v)) = r.next() {
                    if let (1..=5, Field::Int(x)) = (f, v) {
                        f5[f as usize] = x;
                    }
                }
                p.mappings.insert(f5[1], (f5[2], f5[3], f5[4], f5[5]));
            }
            (4, Field::Bytes(m)) => {
                let mut r = Reader::new(m);
                let (mut id, mut map, mut addr) = (0, 0, 0);
                while let Some((f, v)) = r.next() {
                    match (f, v) {
                        (1, Field::Int(x)) => id = x,
                        (2, Field::Int(x)) => map = x,
                        (3, Field::Int(x)) => addr = x,
                        _ => {}
                    }
                }
                p.locations.insert(id, (map, addr));
            }
            (6, Field::Bytes(s)) => p.strings.push(String::from_utf8(s.to_vec()).unwrap()),
            (12, Field::Int(x)) => p.period = x,
            _ => {}
        }
    }
    p
}

// ---- running prof.c and attributing samples ----------------------------------------------

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hakmem-prof-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let prog = c_prog_fp("prof");
    let mut e = vec![("HAKMEM_PROF", "1"), ("HAKMEM_PROF_SAMPLE_KB", "16")];
    e.extend_from_slice(env);
    let r = run_child(command(&prog, args, &e, true), &format!("prof {}", args.join(" ")), Duration::from_secs(120));
    assert!(r.status.success() && !r.hung, "{}", r.describe());
    r
}

/// Bytes each site allocated, from the program's `site NAME BYTES` lines.
fn truth(r: &Run) -> HashMap<String, u64> {
    r.stdout
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("site")).then(|| (w.next().unwrap().to_string(), w.next().unwrap().parse().unwrap()))
        })
        .collect()
}

/// Address ranges (file virtual addresses) of the program's functions, from `nm -S`.
fn functions(prog: &Path) -> Vec<(String, u64, u64)> {
    let o = Command::new("nm").arg("-S").arg("--defined-only").arg(prog).output().expect("nm (binutils)");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() == 4 && (w[2] == "T" || w[2] == "t") {
                Some((w[3].to_string(), u64::from_str_radix(w[0], 16).ok()?, u64::from_str_radix(w[1], 16).ok()?))
            } else {
                None
            }
        })
        .collect()
}

/// Estimated in-use bytes per site function (a sample counts for the first site function
/// on its stack), and the bytes of samples whose stack names no site.
fn by_site(p: &Profile, prog: &Path) -> (HashMap<String, u64>, u64) {
    let funcs = functions(prog);
    let name = prog.to_string_lossy();
    let space = p.sample_types.iter().position(|&(t, _)| p.strings[t as usize] == "inuse_space").expect("inuse_space");
    let mut out = HashMap::new();
    let mut other = 0;
    for (locs, vals) in &p.samples {
        let mut site = None;
        for id in locs {
            let (map, addr) = p.locations[id];
            let Some(&(start, _limit, off, file)) = p.mappings.get(&map) else { continue };
            if p.strings[file as usize] != name {
                continue;
            }
            // The program is PIE or not: its text's file offset equals its virtual address
            // (as ld lays it out), so the load bias is start - offset.
            let vaddr = addr - (start - off);
            if let Some((f, _, _)) =
                funcs.iter().find(|(f, a, s)| f.starts_with("site_") && vaddr >= *a && vaddr < a + s)
            {
                site = Some(f.clone());
                break;
            }
        }
        match site {
            Some(s) => *out.entry(s).or_insert(0) += vals[space],
            None => other += vals[space],
        }
    }
    (out, other)
}

fn within_error(name: &str, est: u64, want: u64) {
    let sd = ((MEAN_KB * 1024) as f64 * want as f64).sqrt();
    let diff = (est as f64 - want as f64).abs();
    assert!(
        diff <= 4.5 * sd,
        "{name}: estimated {est} bytes, allocated {want} (|diff| {diff:.0} > 4.5 sd = {:.0})",
        4.5 * sd
    );
}

fn check_sites(profile: &Path, r: &Run, sites: &[&str], absent: &[&str]) -> Profile {
    let bytes = std::fs::read(profile).unwrap_or_else(|e| panic!("{}: {e}\n{}", profile.display(), r.describe()));
    let p = decode(&bytes);
    assert_eq!(p.strings.first().map(String::as_str), Some(""), "string 0 must be empty");
    let types: Vec<(&str, &str)> =
        p.sample_types.iter().map(|&(t, u)| (p.strings[t as usize].as_str(), p.strings[u as usize].as_str())).collect();
    assert_eq!(types, [("inuse_objects", "count"), ("inuse_space", "bytes")]);
    assert_eq!(p.period, MEAN_KB * 1024);
    for (locs, _) in &p.samples {
        for id in locs {
            let (map, _) = p.locations.get(id).expect("every location id is defined");
            assert!(*map == 0 || p.mappings.contains_key(map));
        }
    }
    let prog = c_prog_fp("prof");
    let (est, other) = by_site(&p, &prog);
    let want = truth(r);
    for s in sites {
        let w = *want.get(*s).unwrap_or_else(|| panic!("{s} did not run: {}", r.describe()));
        within_error(s, *est.get(*s).unwrap_or(&0), w);
    }
    for s in absent {
        assert_eq!(est.get(*s), None, "{s}: its blocks were freed, yet samples remain: {est:?}");
    }
    // The sites in order of bytes held.
    let mut ranked: Vec<(&String, &u64)> = est.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1));
    let order: Vec<&str> = ranked.iter().map(|(n, _)| n.as_str()).collect();
    let mut expect: Vec<&str> = sites.to_vec();
    expect.sort_by_key(|s| std::cmp::Reverse(want[*s]));
    assert_eq!(order, expect, "ranking by estimated bytes {est:?}");
    // Samples outside the sites: the program's own bookkeeping (stdio, the keep arrays of
    // threads), small next to 16 MB.
    assert!(other < 1 << 20, "{other} bytes attributed to no site");
    p
}

#[test]
fn sites_are_ranked_and_estimated_within_sampling_error() {
    let d = scratch("sites");
    let file = d.join("sites.pb");
    let r = run(&["sites", file.to_str().unwrap()], &[]);
    check_sites(&file, &r, &["site_ten_mb", "site_five_mb", "site_one_mb"], &["churn"]);
    // The exit report: the blocks are still live (a leak, as far as hakmem can tell).
    let lines = r.hakmem_lines();
    assert!(lines.iter().any(|l| l.contains("sampled blocks live at exit")), "{}", r.describe());
    assert!(lines.iter().any(|l| l.starts_with("hakmem: prof: leak #1: ~")), "{}", r.describe());
    assert!(lines.iter().any(|l| l.contains("#0 0x") && l.contains("prof+0x")), "module offsets: {}", r.describe());
}

/// With the lane guard every malloc is checked, and the prof countdown is kept in the
/// checked path instead of the hit path's countdown: the same estimates must come out.
#[test]
fn sites_are_estimated_with_the_lane_guard_on() {
    let d = scratch("guard");
    let file = d.join("guard.pb");
    let r = run(&["sites", file.to_str().unwrap()], &[("HAKMEM_LANE_GUARD", "1")]);
    check_sites(&file, &r, &["site_ten_mb", "site_five_mb", "site_one_mb"], &["churn"]);
}

/// Blocks whose size changes under realloc: strings grown a few bytes at a time (in place
/// mostly) and a huge block grown by mremap. Their profile follows the sizes they have at the
/// dump (before the fix, the strings lost their samples and read ~90% low).
#[test]
fn blocks_grown_by_realloc_are_estimated_at_their_size() {
    let d = scratch("realloc");
    let file = d.join("realloc.pb");
    let r = run(&["realloc", file.to_str().unwrap()], &[]);
    check_sites(&file, &r, &["site_grown", "site_one_mb"], &["churn"]);
}

#[test]
fn threads_each_site_on_its_own_thread() {
    let d = scratch("threads");
    let file = d.join("threads.pb");
    let r = run(&["threads", file.to_str().unwrap()], &[]);
    check_sites(&file, &r, &["site_ten_mb", "site_five_mb", "site_one_mb"], &["churn"]);
}

#[test]
fn fork_child_keeps_sampling_and_its_dump_is_its_own() {
    let d = scratch("fork");
    let (child, parent) = (d.join("child.pb"), d.join("parent.pb"));
    let r = run(&["fork", child.to_str().unwrap(), parent.to_str().unwrap()], &[]);
    // The child freed the ten MB it inherited and holds its own five.
    check_sites(&child, &r, &["site_five_mb"], &["site_ten_mb", "site_one_mb"]);
    check_sites(&parent, &r, &["site_ten_mb", "site_one_mb"], &["site_five_mb"]);
}

#[test]
fn dump_at_exit_and_on_the_signal() {
    let d = scratch("exit");
    let at_exit = d.join("exit-%p.pb");
    let api = d.join("api.pb");
    let r = run(&["sites", api.to_str().unwrap()], &[("HAKMEM_PROF_DUMP", at_exit.to_str().unwrap())]);
    let written: Vec<_> =
        std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    let exit_file = written.iter().find(|n| n.starts_with("exit-") && n.ends_with(".pb")).unwrap_or_else(|| {
        panic!("no exit dump among {written:?}: {}", r.describe());
    });
    assert!(!exit_file.contains("%p"), "%p becomes the pid");
    let p = check_sites(&d.join(exit_file), &r, &["site_ten_mb", "site_five_mb", "site_one_mb"], &["churn"]);
    assert!(!p.samples.is_empty());
    let sig = d.join("signal.pb");
    let r = run(
        &["signal", sig.to_str().unwrap()],
        &[("HAKMEM_PROF_SIGNAL", "USR2"), ("HAKMEM_PROF_DUMP", sig.to_str().unwrap())],
    );
    check_sites(&sig, &r, &["site_five_mb"], &[]);
}

#[test]
fn the_api_says_when_profiling_is_off() {
    let d = scratch("off");
    let file = d.join("off.pb");
    let prog = c_prog_fp("prof");
    let r =
        run_child(command(&prog, &["sites", file.to_str().unwrap()], &[], true), "prof off", Duration::from_secs(60));
    // hakmem_prof_dump returns ENOSYS (38): the program reports it and exits 1.
    assert_eq!(r.status.code(), Some(1), "{}", r.describe());
    assert!(r.stderr.contains("hakmem_prof_dump: 38"), "{}", r.describe());
    assert!(!file.exists());
}

/// The ABI checks of tests/c/abi.c at a high sampling rate (one sample per KiB): every
/// path that moves blocks on and off the lanes runs with the countdowns in force.
#[test]
fn abi_checks_pass_while_sampling_densely() {
    let prog = common::c_prog("abi");
    for check in ["basic", "calloc", "align", "realloc", "threads", "fork"] {
        for harden in ["0", "1"] {
            let env = [("HAKMEM_PROF", "1"), ("HAKMEM_PROF_SAMPLE_KB", "1"), ("HAKMEM_HARDEN", harden)];
            let r = run_child(command(&prog, &[check], &env, true), &format!("abi {check}"), Duration::from_secs(120));
            assert!(
                r.status.success() && r.stdout.contains(&format!("ok {check}")),
                "harden={harden}: {}",
                r.describe()
            );
        }
    }
}
