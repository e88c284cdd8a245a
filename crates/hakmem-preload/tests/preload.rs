//! libhakmem.so under LD_PRELOAD: the C ABI's contract (tests/c/abi.c), bad input
//! ending in a clear message, and every box switch changing what the stats report.
//! Needs `cargo build --release` first (the README's test command does it).

use std::process::{Command, Output};

mod common;
use common::{c_prog, lib};

fn run(prog: &str, arg: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(c_prog(prog));
    c.arg(arg).env("LD_PRELOAD", lib());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn abi(check: &str) {
    let o = run("abi", check, &[]);
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains(&format!("ok {check}")),
        "abi {check}: status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn abi_basic_sizes_and_usable_size() {
    abi("basic");
}
#[test]
fn abi_calloc_zero_and_overflow() {
    abi("calloc");
}
#[test]
fn abi_impossible_sizes_enomem() {
    abi("impossible");
}
#[test]
fn abi_alignment_family() {
    abi("align");
}
#[test]
fn abi_realloc_across_kinds() {
    abi("realloc");
}
#[test]
fn abi_thread_churn_with_surviving_blocks() {
    abi("threads");
}
#[test]
fn abi_fork_while_threads_allocate() {
    abi("fork");
}

/// A fault ends the process with SIGABRT and one line naming the call and address.
fn fault(check: &str, expect: &str, env: &[(&str, &str)]) {
    let o = run("abi", check, env);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{check} survived: {err}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("survived"));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(o.status.signal(), Some(libc::SIGABRT), "{check}: {:?}", o.status);
    let line =
        err.lines().find(|l| l.starts_with("hakmem: ")).unwrap_or_else(|| panic!("{check}: no message in {err:?}"));
    assert!(line.contains(expect), "{check}: {line}");
    assert!(line.contains("address 0x"), "{check}: message must name the address: {line}");
}

#[test]
fn bad_free_of_a_foreign_pointer_aborts_with_message() {
    fault("bad-free", "invalid pointer", &[]);
}
#[test]
fn double_free_of_a_tiny_block_aborts_with_message() {
    fault("double-free", "double free", &[]);
}
#[test]
fn double_free_of_large_and_huge_blocks_abort() {
    fault("double-free-large", "double free", &[]);
    fault("double-free-huge", "invalid pointer", &[]);
}
#[test]
fn hardened_mode_catches_interior_pointers() {
    fault("bad-free-heap", "not the start of a block", &[("HAKMEM_HARDEN", "1")]);
}
#[test]
fn hardened_mode_catches_double_free_below_the_top() {
    fault("double-free-aba", "double free", &[("HAKMEM_HARDEN", "1")]);
}
#[test]
fn hardened_mode_refuses_a_forged_free_list_link() {
    let o = run("abi", "overflow-into-free", &[("HAKMEM_HARDEN", "1")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "forged link followed: {}", String::from_utf8_lossy(&o.stdout));
    assert!(err.contains("corrupted free list") && err.contains("address 0x"), "{err}");
}
#[test]
fn hardened_mode_runs_the_abi_checks() {
    for check in ["basic", "calloc", "align", "realloc", "threads"] {
        let o = run("abi", check, &[("HAKMEM_HARDEN", "1")]);
        assert!(o.status.success(), "{check} under HAKMEM_HARDEN=1: {}", String::from_utf8_lossy(&o.stderr));
    }
}

// ---- boxes, observed through HAKMEM_STATS=1 -------------------------------------------------

/// Parsed `hakmem: ...` report lines.
struct Report(String);

impl Report {
    fn of(o: &Output) -> Report {
        assert!(o.status.success(), "run failed: {}", String::from_utf8_lossy(&o.stderr));
        Report(String::from_utf8_lossy(&o.stderr).into_owned())
    }
    /// The number after `word` on the line starting with `prefix`.
    fn num(&self, prefix: &str, word: &str) -> u64 {
        let line =
            self.0.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix:?} in {}", self.0));
        let mut it = line.split_whitespace();
        while let Some(w) = it.next() {
            if w == word {
                return it.next().unwrap().trim_end_matches(',').parse().unwrap();
            }
        }
        panic!("no {word:?} in {line:?}")
    }
    /// refills, refilled, flushes, flushed, out of the class whose blocks are `bs` bytes.
    fn class_row_of_block(&self, bs: u64) -> Vec<u64> {
        let line = self
            .0
            .lines()
            .find(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() > 2 && w[1].starts_with('C') && w[2] == bs.to_string()
            })
            .unwrap_or_else(|| panic!("no class row of {bs} B blocks"));
        line.split_whitespace().skip(3).map(|w| w.parse().unwrap()).collect()
    }
    fn box_hits(&self, name: &str) -> u64 {
        self.num(&format!("hakmem: box {name} "), "hits")
    }
}

fn stats(prog_arg: &str, env: &[(&str, &str)]) -> Report {
    let mut e = vec![("HAKMEM_STATS", "1")];
    e.extend_from_slice(env);
    Report::of(&run("boxes", prog_arg, &e))
}

/// `boxes ARG` must end in hakmem's "double free" abort with switch `var` off and on.
fn double_free_aborts_either_way(arg: &str, var: &str) {
    for v in ["0", "1"] {
        let o = run("boxes", arg, &[(var, v)]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("hakmem: free") && err.contains("double free"),
            "boxes {arg} with {var}={v}: {err}"
        );
    }
}

/// The lean and release-policy boxes act only with the purge box off.
const NO_PURGE: (&str, &str) = ("HAKMEM_SS_PURGE", "0");

/// madvise calls but those that gave arena chunks back to the OS (one each: the arena box).
fn policy_madvises(r: &Report) -> u64 {
    r.num("hakmem: syscalls", "madvise") - r.num("hakmem: arena", "given")
}

/// SuperSlabs still held by heaps (mapped, not released, not pooled).
fn held_by_heaps(r: &Report) -> u64 {
    let n = |w: &str| r.num("hakmem: superslabs", w);
    n("mapped") - n("released") - n("pool") - n("(and")
}

#[test]
fn purge_gives_a_freed_burst_back_at_once_and_keeps_it_mapped() {
    let r = stats("burst", &[]);
    let rss_kb = r.num("hakmem: memory", "rss");
    // ~300 MB were live; the report runs after everything was freed, with no idle time.
    assert!(rss_kb < 24 * 1024, "rss after the free: {rss_kb} KiB\n{}", r.0);
    assert_eq!(r.num("hakmem: superslabs", "pool"), 0, "no demand was seen: nothing kept warm");
    assert!(r.num("hakmem: superslabs", "(and") > 100, "decommitted and kept mapped\n{}", r.0);
    assert_eq!(r.num("hakmem: superslabs", "released"), 0, "none given back to the OS\n{}", r.0);
    assert!(r.box_hits("HAKMEM_SS_PURGE") > 100);
    // Without the box the lean cap keeps its target mapped and resident.
    let off = stats("burst", &[NO_PURGE]);
    assert_eq!(off.box_hits("HAKMEM_SS_PURGE"), 0);
    assert!(
        off.num("hakmem: memory", "rss") > rss_kb,
        "lean cap {} KiB, purge {rss_kb} KiB",
        off.num("hakmem: memory", "rss")
    );
}

#[test]
fn purge_keeps_a_swinging_working_set_warm() {
    // 30 rounds of 40 MB up and down: the first shrink looks like a burst (decommitted),
    // then the pool has seen the draw and keeps it: no mapping churn, no decommit churn.
    let r = stats("oscillate", &[]);
    let mmaps = r.num("hakmem: syscalls", "mmap");
    assert!(mmaps <= 16, "{mmaps} mmaps\n{}", r.0);
    assert!(r.num("hakmem: superslabs", "pool") >= 10, "the swing stays warm\n{}", r.0);
    assert!(r.num("hakmem: syscalls", "madvise") < 1200, "decommits only in the first round\n{}", r.0);
    let off = stats("oscillate", &[NO_PURGE, ("HAKMEM_SS_MEM_LEAN_TARGET_MB", "4")]);
    // Without the box the chunks churn: given back to the OS and taken again.
    let mapped = |r: &Report| r.num("hakmem: superslabs", "mapped");
    assert!(mapped(&off) > 4 * mapped(&r), "{} and {} chunks taken from the OS", mapped(&off), mapped(&r));
}

#[test]
fn memory_freed_into_an_exited_threads_heap_comes_back() {
    // A thread allocates 100 000 blocks and exits; main frees them all. Nothing may stay
    // pinned in the abandoned heap until a new thread adopts it.
    let r = stats("remote", &[]);
    assert!(held_by_heaps(&r) <= 2, "SuperSlabs still held by heaps: {}\n{}", held_by_heaps(&r), r.0);
    assert!(r.num("hakmem: memory", "rss") < 12 * 1024, "{}", r.0);
}

#[test]
fn lean_mode_gives_a_burst_back_and_speed_keeps_a_pool() {
    let speed = stats("burst", &[("HAKMEM_PROFILE", "speed"), NO_PURGE]);
    let lean = stats("burst", &[("HAKMEM_PROFILE", "balanced"), NO_PURGE]);
    let pool = |r: &Report| r.num("hakmem: superslabs", "pool");
    let released = |r: &Report| r.num("hakmem: superslabs", "released");
    // balanced keeps <= 10 MB (5 SuperSlabs) + hysteresis; speed keeps up to 64 MB.
    assert!(pool(&lean) <= 7, "lean pool {}", pool(&lean));
    assert!(pool(&speed) > pool(&lean), "speed pool {} lean pool {}", pool(&speed), pool(&lean));
    assert!(released(&lean) > released(&speed));
    assert!(lean.box_hits("HAKMEM_SS_MEM_LEAN") > 0);
    assert_eq!(speed.box_hits("HAKMEM_SS_MEM_LEAN"), 0);
    // and no madvise without a decommit policy (but those that give arena chunks back)
    assert_eq!(policy_madvises(&lean), 0, "{}", lean.0);
}

#[test]
fn lean_decommit_policies_madvise() {
    for how in ["DONTNEED", "FREE"] {
        let r = stats("burst", &[("HAKMEM_SS_MEM_LEAN_DECOMMIT", how), NO_PURGE]);
        assert!(policy_madvises(&r) > 0, "{how}: no madvise\n{}", r.0);
    }
    let off = stats("burst", &[("HAKMEM_SS_MEM_LEAN_DECOMMIT", "OFF"), NO_PURGE]);
    assert_eq!(policy_madvises(&off), 0, "{}", off.0);
}

#[test]
fn lean_target_sets_what_stays_mapped() {
    let small = stats("burst", &[("HAKMEM_SS_MEM_LEAN_TARGET_MB", "2"), NO_PURGE]);
    let big = stats("burst", &[("HAKMEM_SS_MEM_LEAN_TARGET_MB", "40"), NO_PURGE]);
    let pool = |r: &Report| r.num("hakmem: superslabs", "pool");
    assert!(pool(&small) < pool(&big), "target 2: {} target 40: {}", pool(&small), pool(&big));
}

#[test]
fn release_policy_hysteresis_avoids_map_unmap_churn() {
    // A hysteresis of 8 SuperSlabs: with chunks mapped four at a time, the default 4 MB (two
    // chunks) no longer changes this oscillation's counts.
    let env_on = [
        ("HAKMEM_SS_RELEASE_POLICY", "1"),
        ("HAKMEM_SS_RELEASE_HYSTERESIS_MB", "16"),
        ("HAKMEM_SS_MEM_LEAN_TARGET_MB", "4"),
        NO_PURGE,
    ];
    let env_off = [("HAKMEM_SS_RELEASE_POLICY", "0"), ("HAKMEM_SS_MEM_LEAN_TARGET_MB", "4"), NO_PURGE];
    let on = stats("oscillate", &env_on);
    let off = stats("oscillate", &env_off);
    // Chunks come four at a time, so the churn shows in the chunks given back to the OS (an
    // madvise each in the arena, an munmap outside it).
    let released = |r: &Report| r.num("hakmem: superslabs", "released");
    assert!(on.box_hits("HAKMEM_SS_RELEASE_POLICY") > 0);
    assert!(
        released(&off) > released(&on),
        "no hysteresis: {} released, hysteresis: {}",
        released(&off),
        released(&on)
    );
}

#[test]
fn prewarm_maps_superslabs_at_start_only_without_lean() {
    let mapped = |r: &Report| r.num("hakmem: superslabs", "mapped");
    let reused = |r: &Report| r.num("hakmem: superslabs", "reused");
    // Without prewarm the first allocation maps a batch of 4 SuperSlabs in one mmap.
    let balanced = stats("idle", &[]);
    assert_eq!(mapped(&balanced), 4);
    assert_eq!(reused(&balanced), 0, "the first SuperSlab is fresh, not from the pool");
    assert_eq!(balanced.num("hakmem: syscalls", "mmap"), 1);
    // speed prewarms (4, here set explicitly) into the pool; the first allocation reuses one.
    let speed = stats("idle", &[("HAKMEM_PROFILE", "speed"), ("HAKMEM_SS_PREWARM", "4")]);
    assert_eq!(mapped(&speed), 4);
    assert_eq!(reused(&speed), 1);
    assert_eq!(speed.num("hakmem: syscalls", "mmap"), 1, "a prewarm is one mmap");
    let suppressed =
        stats("idle", &[("HAKMEM_PROFILE", "speed"), ("HAKMEM_SS_PREWARM", "4"), ("HAKMEM_SS_MEM_LEAN", "1")]);
    assert_eq!(mapped(&suppressed), 4, "lean mode suppresses prewarm: the first allocation's batch only");
    assert_eq!(reused(&suppressed), 0);
}

#[test]
fn c7_ultra_box_runs_when_switched_on() {
    let off = stats("oscillate", &[]);
    assert_eq!(off.box_hits("HAKMEM_C7_ULTRA"), 0);
    let on = stats("oscillate", &[("HAKMEM_C7_ULTRA", "1")]);
    assert!(on.box_hits("HAKMEM_C7_ULTRA") > 0);
    // the deeper lane of the 1 KiB class (C7 in the seed's numbering) refills less often
    let c7 = |r: &Report| r.class_row_of_block(1024);
    assert!(c7(&on)[0] < c7(&off)[0], "1 KiB refills: on {:?} off {:?}", c7(&on), c7(&off));
}

#[test]
fn huge_cache_box_reuses_mappings() {
    let on = stats("huge", &[("HAKMEM_HUGE_CACHE_MB", "64")]);
    let off = stats("huge", &[("HAKMEM_HUGE_CACHE_MB", "0")]);
    assert_eq!(off.box_hits("HAKMEM_HUGE_CACHE_MB"), 0);
    assert!(on.box_hits("HAKMEM_HUGE_CACHE_MB") >= 90);
    let mmaps = |r: &Report| r.num("hakmem: syscalls", "mmap");
    assert!(mmaps(&off) >= 100 && mmaps(&on) < 20, "mmaps: cache {} no cache {}", mmaps(&on), mmaps(&off));
}

#[test]
fn remote_batch_box_queues_cross_thread_frees() {
    let on = stats("remote", &[("HAKMEM_REMOTE_BATCH", "32")]);
    let off = stats("remote", &[("HAKMEM_REMOTE_BATCH", "0")]);
    // hits count batches sent: 100 000 blocks in chains of 32
    assert!(on.box_hits("HAKMEM_REMOTE_BATCH") >= 100_000 / 32);
    assert_eq!(off.box_hits("HAKMEM_REMOTE_BATCH"), 0);
    // both ways every block reaches its owner's heap and is counted as remote
    for r in [&on, &off] {
        assert!(r.num("hakmem: remote", "frees") >= 100_000, "{}", r.0);
    }
}

#[test]
fn invalid_and_unknown_variables_warn_and_use_defaults() {
    let o = run(
        "boxes",
        "idle",
        &[
            ("HAKMEM_SS_MEM_LEAN", "maybe"),
            ("HAKMEM_SS_MEM_LEAN_TARGET_MB", "-3"),
            ("HAKMEM_SS_MEM_LAEN", "1"),
            ("HAKMEM_STATS", "1"),
        ],
    );
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let line = |needle: &str| {
        err.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle:?} in {err}")).to_string()
    };
    let l = line("HAKMEM_SS_MEM_LEAN=\"maybe\"");
    assert!(l.contains("0|1") && l.contains("using 1"), "{l}");
    let l = line("HAKMEM_SS_MEM_LEAN_TARGET_MB=\"-3\"");
    assert!(l.contains("integer") && l.contains("using 10"), "{l}");
    let l = line("HAKMEM_SS_MEM_LAEN");
    assert!(l.contains("unknown"), "{l}");
    // defaults in force: balanced, lean on
    assert!(err.contains("profile balanced"));
    let bad_profile = run("boxes", "idle", &[("HAKMEM_PROFILE", "turbo"), ("HAKMEM_STATS", "1")]);
    let err = String::from_utf8_lossy(&bad_profile.stderr);
    assert!(err.contains("HAKMEM_PROFILE=\"turbo\"") && err.contains("profile balanced"), "{err}");
}

#[test]
fn profile_precedence_default_profile_env() {
    let pool = |r: &Report| r.num("hakmem: superslabs", "pool");
    // speed profile: a 48 MB purge floor -> a warm pool after the burst; an explicit
    // HAKMEM_SS_PURGE_FLOOR_MB=0 overrides the profile.
    let speed = stats("burst", &[("HAKMEM_PROFILE", "MIXED_TINYV3_C7_SAFE")]);
    let speed_lean = stats("burst", &[("HAKMEM_PROFILE", "speed"), ("HAKMEM_SS_PURGE_FLOOR_MB", "0")]);
    assert!(pool(&speed) > pool(&speed_lean));
    assert!(speed.0.contains("profile speed"));
}

#[test]
fn remote_prefetch_box_hints_chains_without_touching_live_data() {
    // A live producer's blocks come back through its inbox round after round; the queued
    // blocks carry the hint in their second word. Every block must reach the consumer
    // intact and no round may hand an address out twice, with the box on and off, and in
    // hardened mode (which sends every remote free alone: no chains, no hints).
    let on = stats("pingpong", &[("HAKMEM_REMOTE_PREFETCH", "1")]);
    let off = stats("pingpong", &[("HAKMEM_REMOTE_PREFETCH", "0")]);
    let hardened = stats("pingpong", &[("HAKMEM_REMOTE_PREFETCH", "1"), ("HAKMEM_HARDEN", "1")]);
    assert!(on.box_hits("HAKMEM_REMOTE_PREFETCH") > 0, "{}", on.0);
    assert_eq!(off.box_hits("HAKMEM_REMOTE_PREFETCH"), 0);
    assert_eq!(hardened.box_hits("HAKMEM_REMOTE_PREFETCH"), 0);
    for r in [&on, &off] {
        // The producer reuses what the consumer freed (drained onto its lanes).
        assert!(r.num("hakmem: remote", "drained") >= 100_000, "{}", r.0);
    }
}

#[test]
fn class_borrow_box_keeps_blocks_intact_and_catches_a_borrowed_block_freed_twice() {
    // pingpong's sizes (16 B..1 KiB) make classes run out while their neighbours hold freed
    // blocks: the box borrows, and every block still arrives intact and is never handed out
    // twice in a round (the program checks both).
    let on = stats("pingpong", &[("HAKMEM_CLASS_BORROW", "1")]);
    let off = stats("pingpong", &[("HAKMEM_CLASS_BORROW", "0")]);
    assert!(on.box_hits("HAKMEM_CLASS_BORROW") > 0, "{}", on.0);
    assert_eq!(off.box_hits("HAKMEM_CLASS_BORROW"), 0, "{}", off.0);
    // A freed 288-byte block moved onto the 256-byte lane, then freed again: the suspect
    // walk covers the borrowing lane.
    double_free_aborts_either_way("borrow-twice", "HAKMEM_CLASS_BORROW");
}

#[test]
fn thp_box_advises_fresh_superslabs_and_huge_blocks_only_when_on() {
    // `boxes huge`: 100 rounds of a 4 MiB block (the first one a fresh mapping, the rest
    // from the huge cache). On, the fresh mappings (SuperSlab batches and the 4 MiB block)
    // get MADV_HUGEPAGE, counted per advice; off, none.
    let on = stats("huge", &[("HAKMEM_THP", "1")]);
    let off = stats("huge", &[("HAKMEM_THP", "0")]);
    // At least the first SuperSlab batch and the first (fresh) 4 MiB block.
    assert!(on.box_hits("HAKMEM_THP") >= 2, "{}", on.0);
    assert_eq!(off.box_hits("HAKMEM_THP"), 0, "{}", off.0);
}

#[test]
fn thp_after_box_advises_only_once_the_heap_is_large() {
    // `boxes burst` holds ~300 MB of small blocks: past 16 MB of SuperSlabs each fresh batch
    // is advised. `boxes idle` never holds 16 MB: nothing is. Off (0), nothing either way.
    let big = stats("burst", &[("HAKMEM_THP_AFTER_MB", "16")]);
    let mapped = big.num("hakmem: superslabs", "mapped");
    let hits = big.box_hits("HAKMEM_THP_AFTER_MB");
    // One advice per batch of up to four chunks, for the chunks past the first 8.
    assert!(hits > 0 && hits * 4 >= mapped.saturating_sub(8 + 4), "{hits} advices for {mapped} chunks\n{}", big.0);
    let small = stats("idle", &[("HAKMEM_THP_AFTER_MB", "16")]);
    assert_eq!(small.box_hits("HAKMEM_THP_AFTER_MB"), 0, "{}", small.0);
    let off = stats("burst", &[("HAKMEM_THP_AFTER_MB", "0")]);
    assert_eq!(off.box_hits("HAKMEM_THP_AFTER_MB"), 0, "{}", off.0);
}

#[test]
fn remote_slab_lists_box_returns_every_block_intact_and_catches_a_remote_double_free() {
    // With the box, the consumer's frees go onto the producer's slabs' own lists and come
    // back through the slabs' nodes on the inbox: contents intact, no address handed out
    // twice in a round, every block drained; hardened mode keeps its checked queue.
    let on = stats("pingpong", &[("HAKMEM_REMOTE_SLAB_LISTS", "1")]);
    let off = stats("pingpong", &[("HAKMEM_REMOTE_SLAB_LISTS", "0")]);
    let hardened = stats("pingpong", &[("HAKMEM_REMOTE_SLAB_LISTS", "1"), ("HAKMEM_HARDEN", "1")]);
    assert!(on.box_hits("HAKMEM_REMOTE_SLAB_LISTS") > 0, "{}", on.0);
    assert_eq!(on.box_hits("HAKMEM_REMOTE_BATCH"), 0, "no remote queue with the box: {}", on.0);
    assert_eq!(off.box_hits("HAKMEM_REMOTE_SLAB_LISTS"), 0);
    assert_eq!(hardened.box_hits("HAKMEM_REMOTE_SLAB_LISTS"), 0);
    for r in [&on, &off] {
        let (sent, drained) = (r.num("hakmem: remote", "frees"), r.num("hakmem: remote", "drained"));
        assert_eq!(sent, 400_000, "{}", r.0);
        assert_eq!(drained, sent, "every remote free came back to its owner: {}", r.0);
    }
    // Frees into the heap of a thread that exited: each slab's node reclaims the heap at once.
    let exited = stats("remote", &[("HAKMEM_REMOTE_SLAB_LISTS", "1")]);
    assert!(exited.box_hits("HAKMEM_REMOTE_SLAB_LISTS") > 0, "{}", exited.0);
    assert_eq!(exited.num("hakmem: remote", "drained"), 100_000, "{}", exited.0);
    // The checks of the C ABI hold with it: threads, fork, realloc.
    for check in ["threads", "fork", "realloc"] {
        let o = run("abi", check, &[("HAKMEM_REMOTE_SLAB_LISTS", "1")]);
        assert!(o.status.success(), "{check} with the slab-lists box: {}", String::from_utf8_lossy(&o.stderr));
    }
    double_free_aborts_either_way("remote-twice", "HAKMEM_REMOTE_SLAB_LISTS");
}

#[test]
fn free_check_box_off_takes_local_frees_off_the_hit_path_and_still_catches_the_top_twice() {
    // Off, the hit path sends local frees to `free_unchecked` (fast_heap is null): the C ABI
    // checks must hold, and freeing the block just freed aborts either way.
    // (hits count lane flushes, which oscillate's frees make)
    let off = stats("oscillate", &[("HAKMEM_FREE_CHECK", "0")]);
    let on = stats("oscillate", &[]);
    assert_eq!(off.box_hits("HAKMEM_FREE_CHECK"), 0, "{}", off.0);
    assert!(on.box_hits("HAKMEM_FREE_CHECK") > 0, "{}", on.0);
    for check in ["threads", "fork", "realloc"] {
        let o = run("abi", check, &[("HAKMEM_FREE_CHECK", "0")]);
        assert!(o.status.success(), "{check} without the free checks: {}", String::from_utf8_lossy(&o.stderr));
    }
    double_free_aborts_either_way("twice", "HAKMEM_FREE_CHECK");
}

#[test]
fn remote_keep_box_keeps_blocks_and_sends_them_home() {
    // Off by default (NO-GO in its A/B), but it must stay correct: main frees 100 000 blocks
    // of a thread that exited, keeps up to half a lane of them per class and sends the rest
    // (and, at its lanes' flushes, the kept ones) to the owner.
    let on = stats("remote", &[("HAKMEM_REMOTE_KEEP", "1")]);
    let off = stats("remote", &[]);
    assert!(on.box_hits("HAKMEM_REMOTE_KEEP") > 0, "{}", on.0);
    assert_eq!(off.box_hits("HAKMEM_REMOTE_KEEP"), 0);
    // The checks of the C ABI hold with blocks of other heaps on the lanes, threads
    // exiting with kept blocks, and fork.
    for check in ["threads", "fork", "realloc"] {
        let o = run("abi", check, &[("HAKMEM_REMOTE_KEEP", "1")]);
        assert!(o.status.success(), "{check} with the remote-keep box: {}", String::from_utf8_lossy(&o.stderr));
    }
    // Forced off where it cannot work: hardened mode checks every free against its slab.
    let hardened = stats("remote", &[("HAKMEM_REMOTE_KEEP", "1"), ("HAKMEM_HARDEN", "1")]);
    assert_eq!(hardened.box_hits("HAKMEM_REMOTE_KEEP"), 0);
}
