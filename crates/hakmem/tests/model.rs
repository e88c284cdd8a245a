//! Model-based test: random sequences of malloc/calloc/realloc/free/aligned allocations
//! on several threads, checked against a shadow model of every live block.
//! Checks: no two live blocks overlap (over their whole usable size), alignment holds,
//! contents survive until free and across realloc, calloc memory is zero, the usable
//! size is writable. A share of blocks is freed by a thread other than its allocator.

use hakmem::api;
use hakmem::RustTls as T;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Mutex};

#[derive(Clone, Debug)]
enum Op {
    Malloc(usize),
    Calloc(usize, usize),
    Aligned(u32, usize),
    Realloc(usize, usize),
    Free(usize),
    /// Hand a block to the next thread, which frees it.
    Send(usize),
}

/// Sizes that hit every class edge and every path (tiny, small, large, huge).
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..1100,
        2 => prop::sample::select(vec![15, 16, 17, 768, 769, 1023, 1024, 1025, 4096, 8193, 32767, 32768, 32769]),
        2 => 1100usize..40_000,
        1 => 40_000usize..1_200_000,
        1 => prop::sample::select(vec![(1 << 20) + 1, 3 << 20]),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => size().prop_map(Op::Malloc),
        1 => (1usize..64, 0usize..600).prop_map(|(a, b)| Op::Calloc(a, b)),
        1 => (4u32..17, size()).prop_map(|(a, s)| Op::Aligned(a, s)),
        2 => (any::<usize>(), size()).prop_map(|(i, s)| Op::Realloc(i, s)),
        5 => any::<usize>().prop_map(Op::Free),
        2 => any::<usize>().prop_map(Op::Send),
    ]
}

#[derive(Clone, Copy)]
struct Live {
    addr: usize,
    size: usize,
    fill: u8,
}

/// Every live block of every thread: start -> end (usable), for overlap checks.
type Ranges = Arc<Mutex<BTreeMap<usize, usize>>>;

fn claim(ranges: &Ranges, addr: usize, len: usize) {
    let mut r = ranges.lock().unwrap();
    if let Some((&s, &e)) = r.range(..addr + len.max(1)).next_back() {
        assert!(e <= addr || s >= addr + len.max(1), "block {addr:#x}+{len} overlaps live {s:#x}..{e:#x}");
    }
    r.insert(addr, addr + len.max(1));
}

fn release(ranges: &Ranges, addr: usize) {
    assert!(ranges.lock().unwrap().remove(&addr).is_some(), "freeing untracked {addr:#x}");
}

unsafe fn verify(b: &Live) {
    let s = std::slice::from_raw_parts(b.addr as *const u8, b.size);
    if let Some(i) = s.iter().position(|&x| x != b.fill) {
        panic!("block {:#x} size {} corrupted at {i}: {} != {}", b.addr, b.size, s[i], b.fill);
    }
}

unsafe fn adopt(ranges: &Ranges, p: *mut u8, size: usize, align: usize, fill_byte: u8) -> Live {
    assert!(!p.is_null(), "allocation of {size} failed");
    assert_eq!(p as usize % align, 0, "misaligned {p:?} for {align}");
    let usable = api::usable_size(p);
    assert!(usable >= size, "usable {usable} < requested {size}");
    // The whole usable size is ours: write it, then claim it for overlap checks.
    std::ptr::write_bytes(p, fill_byte, usable);
    claim(ranges, p as usize, usable);
    Live { addr: p as usize, size: usable, fill: fill_byte }
}

unsafe fn run_thread(ops: Vec<Op>, ranges: Ranges, tx: mpsc::Sender<Live>, rx: mpsc::Receiver<Live>, seed: u8) {
    let mut live: Vec<Live> = Vec::new();
    let mut next_fill = seed;
    let mut fresh = || {
        next_fill = next_fill.wrapping_add(31) | 1;
        next_fill
    };
    for (k, op) in ops.into_iter().enumerate() {
        // The allocator's own invariants (lanes, partial lists, slab counts) hold between
        // any two calls.
        if k % 32 == 0 {
            hakmem::check_thread::<T>();
        }
        // Free whatever other threads handed us (remote frees).
        while let Ok(b) = rx.try_recv() {
            verify(&b);
            release(&ranges, b.addr);
            api::free::<T>(b.addr as *mut u8);
        }
        match op {
            Op::Malloc(n) => {
                let p = api::malloc::<T>(n);
                live.push(adopt(&ranges, p, n, 16, fresh()));
            }
            Op::Calloc(a, b) => {
                let p = api::calloc::<T>(a, b);
                assert!(!p.is_null());
                let z = std::slice::from_raw_parts(p, a * b);
                assert!(z.iter().all(|&x| x == 0), "calloc({a},{b}) not zeroed");
                live.push(adopt(&ranges, p, a * b, 16, fresh()));
            }
            Op::Aligned(shift, n) => {
                let align = 1usize << shift;
                let p = api::memalign::<T>(align, n);
                live.push(adopt(&ranges, p, n, align, fresh()));
            }
            Op::Realloc(i, n) if !live.is_empty() => {
                let i = i % live.len();
                let old = live.swap_remove(i);
                verify(&old);
                release(&ranges, old.addr);
                let p = api::realloc::<T>(old.addr as *mut u8, n.max(1));
                assert!(!p.is_null());
                let kept = old.size.min(n.max(1));
                let s = std::slice::from_raw_parts(p, kept);
                assert!(s.iter().all(|&x| x == old.fill), "realloc lost contents");
                live.push(adopt(&ranges, p, n.max(1), 16, fresh()));
            }
            Op::Free(i) if !live.is_empty() => {
                let b = live.swap_remove(i % live.len());
                verify(&b);
                release(&ranges, b.addr);
                api::free::<T>(b.addr as *mut u8);
            }
            Op::Send(i) if !live.is_empty() => {
                let b = live.swap_remove(i % live.len());
                let _ = tx.send(b);
            }
            _ => {}
        }
    }
    for b in live {
        verify(&b);
        release(&ranges, b.addr);
        api::free::<T>(b.addr as *mut u8);
    }
    hakmem::check_thread::<T>();
    drop(tx);
    // Drain until every sender is gone, so no block is left behind.
    for b in rx {
        verify(&b);
        release(&ranges, b.addr);
        api::free::<T>(b.addr as *mut u8);
    }
}

fn run_case(per_thread: Vec<Vec<Op>>) {
    let ranges: Ranges = Arc::new(Mutex::new(BTreeMap::new()));
    let n = per_thread.len();
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| mpsc::channel::<Live>()).unzip();
    let mut rxs: Vec<Option<mpsc::Receiver<Live>>> = rxs.into_iter().map(Some).collect();
    let handles: Vec<_> = per_thread
        .into_iter()
        .enumerate()
        .map(|(i, ops)| {
            let tx = txs[(i + 1) % n].clone(); // send to the next thread
            let rx = rxs[i].take().unwrap();
            let r = ranges.clone();
            std::thread::spawn(move || unsafe { run_thread(ops, r, tx, rx, i as u8 * 50) })
        })
        .collect();
    drop(txs);
    for h in handles {
        h.join().expect("worker panicked");
    }
    assert!(ranges.lock().unwrap().is_empty(), "blocks leaked from the model");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn random_sequences_on_three_threads(ops in prop::collection::vec(prop::collection::vec(op(), 0..300), 3)) {
        run_case(ops);
    }
}

#[test]
fn single_thread_long_sequence() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    for _ in 0..4 {
        let ops = prop::collection::vec(op(), 3000).new_tree(&mut runner).unwrap().current();
        run_case(vec![ops]);
    }
}
