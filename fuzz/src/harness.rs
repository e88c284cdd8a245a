//! The fuzz harness: input bytes are read as a sequence of allocator operations, run
//! through `hakmem::api` and checked against a shadow model of every live block.
//!
//! Used three ways, always through [`run`]:
//! - `fuzz/src/bin/afl.rs`: AFL++ persistent-mode target (coverage-guided, stable Rust);
//! - `fuzz/src/bin/replay.rs`: replays files (the corpus, a crash) without AFL;
//! - `crates/hakmem/tests/fuzz_corpus.rs`: the committed corpus and generated inputs in
//!   `cargo test` (it includes this file with `#[path]`).
//!
//! Checks after every operation: the pointer is non-null, aligned as asked (16 by
//! default), `usable_size >= requested`, the whole usable range overlaps no other live
//! block, calloc memory is zero, realloc keeps the common prefix, and every block's
//! contents are intact when it is freed, reallocated or verified. A second thread frees
//! blocks the main thread allocated, and allocates blocks the main thread frees.
//!
//! Format: each operation is one opcode byte followed by its argument bytes; a short
//! input simply ends the sequence (missing bytes read as 0).

use hakmem::api;
use hakmem::RustTls as T;
use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

/// Sizes at every class and path edge (tiny / small / large / huge).
pub const EDGE_SIZES: [usize; 40] = [
    0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256, 511, 512, 767, 768, 769, 1023, 1024, 1025,
    2048, 4095, 4096, 4097, 8192, 16384, 32767, 32768, 32769, 65536, 65537, 100_000, 524_288, 1_048_575,
    1_048_576, 1_048_577, 3 << 20,
];

/// Limits that keep one execution fast and bounded.
const MAX_LIVE: usize = 256;
const MAX_LIVE_BYTES: usize = 64 << 20;
const MAX_OPS: usize = 4096;

struct Input<'a> {
    d: &'a [u8],
    i: usize,
}

impl Input<'_> {
    fn done(&self) -> bool {
        self.i >= self.d.len()
    }
    fn u8(&mut self) -> u8 {
        let b = self.d.get(self.i).copied().unwrap_or(0);
        self.i += 1;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from(self.u8()) | u16::from(self.u8()) << 8
    }
    /// A size: mostly class edges (+-0), else spread over every range.
    fn size(&mut self) -> usize {
        let sel = self.u8();
        match sel {
            0..=127 => EDGE_SIZES[sel as usize % EDGE_SIZES.len()],
            128..=191 => self.u16() as usize % 1100,         // tiny
            192..=223 => 1024 + self.u16() as usize % 32_000, // small
            224..=247 => 32_768 + (self.u16() as usize) * 15, // large (up to ~1 MiB)
            _ => (1 << 20) + (self.u16() as usize) * 48,     // huge (up to ~4 MiB)
        }
    }
    /// An alignment: 8..64 KiB mostly, sometimes up to 2 MiB (huge aligned path).
    fn align(&mut self) -> usize {
        let b = self.u8();
        let shift = if b < 240 { 3 + b as usize % 14 } else { 17 + b as usize % 5 };
        1usize << shift
    }
}

#[derive(Clone, Copy, Debug)]
struct Live {
    addr: usize,
    /// Bytes we fill and check (the usable size, capped for huge blocks, see `span`).
    usable: usize,
    fill: u8,
}

/// Fill and check the whole block up to 64 KiB; beyond that, the first and last 4 KiB
/// and one byte every 4 KiB (keeps huge blocks cheap while still catching overlap).
fn for_each_checked(usable: usize, mut f: impl FnMut(usize, usize)) {
    if usable <= 65536 {
        f(0, usable);
    } else {
        f(0, 4096);
        let mut o = 4096;
        while o < usable - 4096 {
            f(o, 1);
            o += 4096;
        }
        f(usable - 4096, 4096);
    }
}

unsafe fn fill(b: &Live) {
    for_each_checked(b.usable, |o, n| std::ptr::write_bytes((b.addr + o) as *mut u8, b.fill, n));
}

unsafe fn verify(b: &Live, when: &str) {
    verify_prefix(b, b.addr, b.usable, when)
}

/// Check the bytes `fill` wrote into block `b`, as they now stand at `addr` (the block
/// itself, or where realloc moved it), up to `kept` bytes.
unsafe fn verify_prefix(b: &Live, addr: usize, kept: usize, when: &str) {
    for_each_checked(b.usable, |o, n| {
        let n = if o >= kept { 0 } else { n.min(kept - o) };
        let s = std::slice::from_raw_parts((addr + o) as *const u8, n);
        if let Some(k) = s.iter().position(|&x| x != b.fill) {
            panic!("{when}: block {addr:#x} (usable {}) corrupted at {}: {:#x} != {:#x}", b.usable, o + k, s[k], b.fill);
        }
    });
}

/// Shadow of every live block: start -> end, for overlap checks.
#[derive(Default)]
struct Model {
    ranges: BTreeMap<usize, usize>,
    live: Vec<Live>,
    bytes: usize,
    next_fill: u8,
}

impl Model {
    fn claim(&mut self, addr: usize, len: usize) {
        let end = addr + len.max(1);
        if let Some((&s, &e)) = self.ranges.range(..end).next_back() {
            assert!(e <= addr || s >= end, "block {addr:#x}..{end:#x} overlaps live {s:#x}..{e:#x}");
        }
        self.ranges.insert(addr, end);
        self.bytes += len;
    }
    fn release(&mut self, b: &Live) {
        assert!(self.ranges.remove(&b.addr).is_some(), "untracked block {:#x}", b.addr);
        self.bytes -= b.usable;
    }
    fn fresh_fill(&mut self) -> u8 {
        self.next_fill = self.next_fill.wrapping_add(37) | 1;
        self.next_fill
    }
    /// Check a new block and take it into the model.
    unsafe fn adopt(&mut self, p: *mut u8, req: usize, align: usize, what: &str) {
        assert!(!p.is_null(), "{what}: allocation of {req} bytes returned null");
        assert_eq!(p as usize % align, 0, "{what}: {p:?} not aligned to {align}");
        let usable = api::usable_size(p);
        assert!(usable >= req.max(1), "{what}: usable {usable} < requested {req}");
        self.claim(p as usize, usable);
        let b = Live { addr: p as usize, usable, fill: self.fresh_fill() };
        fill(&b);
        self.live.push(b);
    }
    fn full(&self, req: usize) -> bool {
        self.live.len() >= MAX_LIVE || self.bytes + req > MAX_LIVE_BYTES
    }
    fn take(&mut self, i: u16) -> Option<Live> {
        if self.live.is_empty() {
            return None;
        }
        let b = self.live.swap_remove(i as usize % self.live.len());
        Some(b)
    }
}

// ---- the second thread ------------------------------------------------------------------

enum Msg {
    /// Free this block (allocated by the main thread: a remote free).
    Free(usize),
    /// Allocate `n` bytes, fill the usable size with the byte, send the address back.
    Alloc(usize, u8, Sender<usize>),
    /// Reply once everything sent before has been done.
    Sync(Sender<()>),
}

fn helper() -> &'static Mutex<Sender<Msg>> {
    static H: OnceLock<Mutex<Sender<Msg>>> = OnceLock::new();
    H.get_or_init(|| {
        let (tx, rx) = channel::<Msg>();
        std::thread::Builder::new()
            .name("hakmem-fuzz-remote".into())
            .spawn(move || {
                for m in rx {
                    // SAFETY: blocks sent here are live and owned by nobody else any more.
                    unsafe {
                        match m {
                            Msg::Free(a) => api::free::<T>(a as *mut u8),
                            Msg::Alloc(n, byte, reply) => {
                                let p = api::malloc::<T>(n);
                                if !p.is_null() {
                                    std::ptr::write_bytes(p, byte, n);
                                }
                                let _ = reply.send(p as usize);
                            }
                            Msg::Sync(reply) => {
                                let _ = reply.send(());
                            }
                        }
                    }
                }
            })
            .expect("spawn helper thread");
        Mutex::new(tx)
    })
}

fn send(m: Msg) {
    helper().lock().unwrap_or_else(|e| e.into_inner()).send(m).expect("helper thread gone");
}

fn sync_helper() {
    let (tx, rx) = channel();
    send(Msg::Sync(tx));
    rx.recv().expect("helper thread gone");
}

// ---- the interpreter ---------------------------------------------------------------------

/// Run one input. Panics (which aborts under `panic = "abort"`, a crash for AFL) on any
/// model violation; hakmem's own aborts are crashes too.
pub fn run(data: &[u8]) {
    let mut inp = Input { d: data, i: 0 };
    let mut m = Model::default();
    let mut ops = 0;
    // SAFETY: every pointer passed to hakmem came from hakmem and is live in the model.
    unsafe {
        while !inp.done() && ops < MAX_OPS {
            ops += 1;
            match inp.u8() % 10 {
                0 | 1 => {
                    let n = inp.size();
                    if !m.full(n) {
                        m.adopt(api::malloc::<T>(n), n, 16, "malloc");
                    }
                }
                2 => {
                    let count = inp.u8() as usize % 64;
                    let each = inp.size() % 20_000;
                    let n = count * each;
                    if !m.full(n) {
                        let p = api::calloc::<T>(count, each);
                        assert!(!p.is_null(), "calloc({count}, {each}) returned null");
                        let z = std::slice::from_raw_parts(p, n);
                        assert!(z.iter().all(|&x| x == 0), "calloc({count}, {each}) memory not zeroed");
                        m.adopt(p, n, 16, "calloc");
                    }
                }
                3 => {
                    let a = inp.align();
                    let n = inp.size();
                    if !m.full(n + a) {
                        m.adopt(api::memalign::<T>(a, n), n, a, "memalign");
                    }
                }
                4 | 5 => {
                    let i = inp.u16();
                    let n = inp.size().max(1);
                    if m.full(n) {
                        continue;
                    }
                    if let Some(old) = m.take(i) {
                        verify(&old, "before realloc");
                        m.release(&old);
                        let p = api::realloc::<T>(old.addr as *mut u8, n);
                        assert!(!p.is_null(), "realloc({:#x}, {n}) returned null", old.addr);
                        verify_prefix(&old, p as usize, old.usable.min(n), "after realloc (common prefix)");
                        m.adopt(p, n, 16, "realloc");
                    }
                }
                6 => {
                    if let Some(b) = m.take(inp.u16()) {
                        verify(&b, "before free");
                        m.release(&b);
                        api::free::<T>(b.addr as *mut u8);
                    }
                }
                7 => {
                    // cross-thread free: the helper thread frees a block we allocated
                    if let Some(b) = m.take(inp.u16()) {
                        verify(&b, "before remote free");
                        m.release(&b);
                        send(Msg::Free(b.addr));
                    }
                }
                8 => {
                    // the helper allocates; the block joins our model and we free it later
                    let n = inp.size();
                    if !m.full(n) {
                        let fillb = m.fresh_fill();
                        let (tx, rx) = channel();
                        send(Msg::Alloc(n, fillb, tx));
                        let p = rx.recv().expect("helper thread gone") as *mut u8;
                        assert!(!p.is_null(), "remote malloc({n}) returned null");
                        let req = Live { addr: p as usize, usable: n, fill: fillb };
                        verify(&req, "block from the helper");
                        m.adopt(p, n, 16, "remote malloc");
                    }
                }
                _ => {
                    // verify everything; wait for the helper's frees to be done
                    for b in &m.live {
                        verify(b, "periodic check");
                    }
                    sync_helper();
                }
            }
        }
        for b in std::mem::take(&mut m.live) {
            verify(&b, "at the end");
            m.release(&b);
            api::free::<T>(b.addr as *mut u8);
        }
    }
    assert!(m.ranges.is_empty() && m.bytes == 0, "model leaked");
    sync_helper();
}

/// A deterministic pseudo-random input (xorshift32), for generated runs in `cargo test`.
pub fn generated(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 7) as u8
        })
        .collect()
}
