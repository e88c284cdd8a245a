//! `hakmem prof report FILE` and `hakmem prof flamegraph FILE -o out.svg`: read a heap
//! profile written by the prof box (`HAKMEM_PROF=1`, docs/profiling.md), or any
//! uncompressed pprof profile, and symbolize it offline with the mappings recorded in it
//! (`addr2line`: DWARF line tables and inlined functions, else the symbol table).

use anyhow::{bail, Context, Result};
use hakmem_bench::pprof::{Mapping, Profile};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ProfArgs {
    #[command(subcommand)]
    cmd: ProfCmd,
}

#[derive(clap::Subcommand)]
enum ProfCmd {
    /// Top allocation sites by in-use bytes (flat: the function that called malloc;
    /// cumulative: every function on the stack), and the largest stacks.
    Report {
        /// The profile (pprof protobuf, uncompressed).
        file: PathBuf,
        /// Rows per table.
        #[arg(long, default_value_t = 15)]
        top: usize,
        /// Stacks printed in full.
        #[arg(long, default_value_t = 3)]
        stacks: usize,
        /// Sample value to rank by (a sample type of the profile).
        #[arg(long, default_value = "inuse_space")]
        value: String,
    },
    /// A flame graph (SVG, inferno) of the in-use bytes by stack.
    Flamegraph {
        file: PathBuf,
        /// Where to write the SVG.
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long, default_value = "inuse_space")]
        value: String,
    },
}

pub fn main(a: ProfArgs) -> Result<i32> {
    match a.cmd {
        ProfCmd::Report { file, top, stacks, value } => {
            let p = Profile::read(&file)?;
            let s = Symbolized::new(&p, &value)?;
            print!("{}", s.report(&file, top, stacks));
        }
        ProfCmd::Flamegraph { file, output, value } => {
            let p = Profile::read(&file)?;
            let s = Symbolized::new(&p, &value)?;
            let lines = s.collapsed();
            let mut opt = inferno::flamegraph::Options::default();
            opt.title = format!("hakmem heap profile: {value}");
            opt.subtitle = Some(file.display().to_string());
            opt.count_name = s.unit.clone();
            let out = std::fs::File::create(&output).with_context(|| format!("creating {}", output.display()))?;
            inferno::flamegraph::from_lines(&mut opt, lines.iter().map(String::as_str), std::io::BufWriter::new(out))
                .context("writing the flame graph")?;
            eprintln!("hakmem: flame graph of {} stacks written to {}", lines.len(), output.display());
        }
    }
    Ok(0)
}

// ---- symbolization -------------------------------------------------------------------

/// An ELF file's loader and its PT_LOAD segments (file offset -> virtual address).
struct Object {
    loader: addr2line::Loader,
    /// (p_offset, p_vaddr, p_filesz)
    loads: Vec<(u64, u64, u64)>,
}

/// The PT_LOAD segments of an ELF64 little-endian file.
fn load_segments(data: &[u8]) -> Vec<(u64, u64, u64)> {
    let u16_at = |o: usize| data.get(o..o + 2).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as u64);
    let u32_at = |o: usize| data.get(o..o + 4).map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()) as u64);
    let u64_at = |o: usize| data.get(o..o + 8).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()));
    if !data.starts_with(b"\x7fELF") || data.get(4) != Some(&2) || data.get(5) != Some(&1) {
        return Vec::new();
    }
    let (phoff, phentsize, phnum) = (u64_at(0x20) as usize, u16_at(0x36) as usize, u16_at(0x38) as usize);
    (0..phnum)
        .map(|i| phoff + i * phentsize)
        .filter(|&o| u32_at(o) == 1)
        .map(|o| (u64_at(o + 8), u64_at(o + 16), u64_at(o + 32)))
        .collect()
}

struct Symbolizer {
    objects: HashMap<String, Option<Object>>,
}

/// One frame of a stack, symbolized: function name and `file:line` when known.
#[derive(Clone)]
struct Frame {
    function: String,
    place: String,
}

impl Symbolizer {
    fn object(&mut self, file: &str) -> Option<&Object> {
        self.objects
            .entry(file.to_string())
            .or_insert_with(|| {
                let data = std::fs::read(file).ok()?;
                let loads = load_segments(&data);
                let loader = addr2line::Loader::new(file).ok()?;
                Some(Object { loader, loads })
            })
            .as_ref()
    }

    /// The frames (inlined ones first) at `addr` in mapping `m`.
    fn frames(&mut self, m: Option<&Mapping>, addr: u64) -> Vec<Frame> {
        let raw = || vec![Frame { function: format!("{addr:#x}"), place: String::new() }];
        let Some(m) = m else { return raw() };
        let base_name = m.file.rsplit('/').next().unwrap_or(&m.file).to_string();
        let file_off = addr.wrapping_sub(m.start).wrapping_add(m.offset);
        let fallback = vec![Frame { function: format!("{base_name}+{file_off:#x}"), place: String::new() }];
        let Some(obj) = self.object(&m.file) else { return fallback };
        let Some(&(off, vaddr, _)) = obj.loads.iter().find(|&&(o, _, sz)| file_off >= o && file_off < o + sz) else {
            return fallback;
        };
        let probe = file_off - off + vaddr;
        let mut out = Vec::new();
        if let Ok(mut it) = obj.loader.find_frames(probe) {
            while let Ok(Some(f)) = it.next() {
                let function = f
                    .function
                    .as_ref()
                    .and_then(|n| n.demangle().ok().map(|s| s.into_owned()))
                    .unwrap_or_else(|| "?".to_string());
                let place = f
                    .location
                    .map(|l| {
                        format!("{}:{}", l.file.unwrap_or("?").rsplit('/').next().unwrap_or("?"), l.line.unwrap_or(0))
                    })
                    .unwrap_or_default();
                out.push(Frame { function, place });
            }
        }
        if out.iter().all(|f| f.function == "?") {
            if let Some(sym) = obj.loader.find_symbol(probe) {
                let name = addr2line::demangle_auto(sym.into(), None).into_owned();
                let place = out.first().map(|f| f.place.clone()).unwrap_or_default();
                return vec![Frame { function: name, place }];
            }
            if out.is_empty() {
                return fallback;
            }
        }
        out
    }
}

/// The profile's samples as symbolized stacks (innermost first) with the chosen value.
struct Symbolized {
    stacks: Vec<(Vec<Frame>, i64)>,
    unit: String,
    total: i64,
    samples: usize,
    period: u64,
    other_totals: Vec<(String, i64)>,
}

/// hakmem's own frames (a program linking hakmem as its Rust global allocator records them).
fn is_allocator_frame(f: &Frame) -> bool {
    let n = f.function.trim_start_matches('<');
    n.starts_with("hakmem::") || n.starts_with("__rust_alloc") || n.starts_with("__rustc::")
}

impl Symbolized {
    fn new(p: &Profile, value: &str) -> Result<Symbolized> {
        let Some(vi) = p.value_index(value) else {
            let have: Vec<&str> = p.sample_types.iter().map(|&(t, _)| p.string(t)).collect();
            bail!("the profile has no sample type {value:?} (it has {have:?})");
        };
        let unit = p.string(p.sample_types[vi].1).to_string();
        let mut sym = Symbolizer { objects: HashMap::new() };
        let mut cache: HashMap<u64, Vec<Frame>> = HashMap::new();
        let mut stacks = Vec::new();
        let mut total = 0i64;
        let mut other = vec![0i64; p.sample_types.len()];
        for (locs, vals) in &p.samples {
            let v = vals.get(vi).copied().unwrap_or(0) as i64;
            total += v;
            for (k, o) in other.iter_mut().enumerate() {
                *o += vals.get(k).copied().unwrap_or(0) as i64;
            }
            let mut frames = Vec::new();
            for id in locs {
                let fs = cache.entry(*id).or_insert_with(|| match p.locations.get(id) {
                    None => vec![Frame { function: format!("location {id}"), place: String::new() }],
                    Some(l) if !l.functions.is_empty() => l
                        .functions
                        .iter()
                        .map(|f| Frame {
                            function: p.functions.get(f).map_or("?", |&n| p.string(n)).to_string(),
                            place: String::new(),
                        })
                        .collect(),
                    Some(l) => sym.frames(p.mappings.get(&l.mapping), l.address),
                });
                frames.extend(fs.iter().cloned());
            }
            let skip = frames.iter().take_while(|f| is_allocator_frame(f)).count();
            frames.drain(..skip.min(frames.len().saturating_sub(1)));
            stacks.push((frames, v));
        }
        let other_totals = p.sample_types.iter().zip(other).map(|(&(t, _), v)| (p.string(t).to_string(), v)).collect();
        Ok(Symbolized { stacks, unit, total, samples: p.samples.len(), period: p.period, other_totals })
    }

    fn report(&self, file: &Path, top: usize, nstacks: usize) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let totals: Vec<String> = self.other_totals.iter().map(|(n, v)| format!("{n} {}", human(*v))).collect();
        let _ = writeln!(s, "heap profile {}: {} samples; {}", file.display(), self.samples, totals.join(", "));
        if self.period > 0 {
            let _ =
                writeln!(s, "sampling: one sample per {} {} on average (values are estimates)", self.period, self.unit);
        }
        let pct = |v: i64| if self.total > 0 { 100.0 * v as f64 / self.total as f64 } else { 0.0 };
        let mut flat: HashMap<(String, String), (i64, usize)> = HashMap::new();
        let mut cum: HashMap<String, i64> = HashMap::new();
        for (frames, v) in &self.stacks {
            let site = frames.first().cloned().unwrap_or(Frame { function: "(no stack)".into(), place: String::new() });
            let e = flat.entry((site.function, site.place)).or_default();
            e.0 += v;
            e.1 += 1;
            let mut seen = HashSet::new();
            for f in frames {
                if seen.insert(f.function.as_str()) {
                    *cum.entry(f.function.clone()).or_default() += v;
                }
            }
        }
        let mut flat: Vec<_> = flat.into_iter().collect();
        flat.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
        let _ = writeln!(s, "\ntop allocation sites (the function that called the allocator), by {}:", self.unit);
        let _ = writeln!(s, "{:>12} {:>6}  {:>7}  site", self.unit, "%", "samples");
        for ((func, place), (v, n)) in flat.iter().take(top) {
            let at = if place.is_empty() { String::new() } else { format!(" ({place})") };
            let _ = writeln!(s, "{:>12} {:>5.1}%  {:>7}  {func}{at}", human(*v), pct(*v), n);
        }
        let mut cum: Vec<_> = cum.into_iter().collect();
        cum.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let _ = writeln!(s, "\ncumulative (anywhere on the stack):");
        for (func, v) in cum.iter().take(top) {
            let _ = writeln!(s, "{:>12} {:>5.1}%  {func}", human(*v), pct(*v));
        }
        // The largest stacks, merged by their frames.
        let mut by_stack: HashMap<Vec<String>, (i64, &Vec<Frame>)> = HashMap::new();
        for (frames, v) in &self.stacks {
            let key: Vec<String> = frames.iter().map(|f| format!("{} {}", f.function, f.place)).collect();
            by_stack.entry(key).or_insert((0, frames)).0 += v;
        }
        let mut by_stack: Vec<_> = by_stack.into_values().collect();
        by_stack.sort_by_key(|x| std::cmp::Reverse(x.0));
        for (i, (v, frames)) in by_stack.iter().take(nstacks).enumerate() {
            let _ = writeln!(s, "\nstack #{}: {} ({:.1}%)", i + 1, human(*v), pct(*v));
            for f in frames.iter() {
                let at = if f.place.is_empty() { String::new() } else { format!("  {}", f.place) };
                let _ = writeln!(s, "    {}{at}", f.function);
            }
        }
        s
    }

    /// Collapsed stacks for inferno: `outer;...;inner value`.
    fn collapsed(&self) -> Vec<String> {
        let mut m: HashMap<String, i64> = HashMap::new();
        for (frames, v) in &self.stacks {
            let key: Vec<&str> = frames.iter().rev().map(|f| f.function.as_str()).collect();
            let key = if key.is_empty() { "(no stack)".to_string() } else { key.join(";").replace(' ', "_") };
            *m.entry(key).or_default() += v;
        }
        let mut lines: Vec<String> = m.into_iter().filter(|(_, v)| *v > 0).map(|(k, v)| format!("{k} {v}")).collect();
        lines.sort();
        lines
    }
}

fn human(v: i64) -> String {
    let a = v.unsigned_abs() as f64;
    let sign = if v < 0 { "-" } else { "" };
    if a >= 1e9 {
        format!("{sign}{:.2}G", a / 1e9)
    } else if a >= 1e6 {
        format!("{sign}{:.2}M", a / 1e6)
    } else if a >= 1e4 {
        format!("{sign}{:.1}k", a / 1e3)
    } else {
        format!("{sign}{a}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use hakmem_bench::pprof::encode::{field, varint};

    #[test]
    fn decodes_and_ranks_a_hand_made_profile() {
        let mut p = Vec::new();
        for s in ["", "inuse_space", "bytes", "big", "small"] {
            field(&mut p, 6, s.as_bytes());
        }
        field(&mut p, 1, &[0x08, 1, 0x10, 2]);
        // Two functions, locations with line entries naming them, two samples.
        for (id, name) in [(1u8, 3u8), (2, 4)] {
            field(&mut p, 5, &[0x08, id, 0x10, name]);
            let mut line = Vec::new();
            field(&mut line, 4, &[0x08, id]);
            let mut loc = vec![0x08, id];
            loc.extend(line);
            field(&mut p, 4, &loc);
        }
        for (loc, val) in [(1u8, 5000u64), (2, 10)] {
            let mut s = Vec::new();
            field(&mut s, 1, &[loc]);
            let mut v = Vec::new();
            varint(&mut v, val);
            field(&mut s, 2, &v);
            field(&mut p, 2, &s);
        }
        let prof = Profile::decode(&p).unwrap();
        let s = Symbolized::new(&prof, "inuse_space").unwrap();
        let r = s.report(Path::new("x.pb"), 5, 1);
        let big = r.find("  big").unwrap();
        let small = r.find("  small").unwrap();
        assert!(big < small, "{r}");
        assert_eq!(s.collapsed(), vec!["big 5000".to_string(), "small 10".to_string()]);
        assert!(Symbolized::new(&prof, "alloc_space").is_err());
        assert!(Profile::decode(&[0x0a, 0x05, 1]).is_err(), "a truncated field is an error, not a panic");
    }
}
