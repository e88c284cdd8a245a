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
//!
//! **Terminal operations** (misuse that must end the process): an input starting with
//! [`TERMINAL_MAGIC`] is `magic, kind, victim index (u16), parameter, ops...`. The ops run
//! as usual, then the terminal operation `kind % 2`:
//! - 0, write-after-free: a live tiny/small block (usable <= 32 KiB) is freed and its first
//!   16 bytes overwritten with a forged link (parameter % 4: another live block, a static
//!   array, the unmapped 0xdead0000, the block itself), then 8 blocks of its size are
//!   allocated. Outcome: one clear abort (SIGABRT, exactly one `hakmem: ` line ending in
//!   `; aborting`), or a clean run on in which no forged address and no block already live
//!   was handed out (the model checks).
//! - 1, interior free: `free(p + off)` with `0 < off < usable` of a live block. Outcome:
//!   SIGABRT with exactly one `hakmem: free(): ... ; aborting` line; running on fails.
//!
//! A terminal input runs in a forked child (an abort must not end the AFL target or the
//! test process); the parent reads the child's stderr, waits (30 s at most, then kills it)
//! and panics with a diagnosis unless the outcome is one of the above. Every other input
//! (the whole committed corpus: no file starts with the magic) decodes exactly as before.

use hakmem::api;
use hakmem::RustTls as T;
use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Sizes at every class and path edge (tiny / small / large / huge).
pub const EDGE_SIZES: [usize; 40] = [
    0,
    1,
    15,
    16,
    17,
    31,
    32,
    33,
    63,
    64,
    65,
    127,
    128,
    255,
    256,
    511,
    512,
    767,
    768,
    769,
    1023,
    1024,
    1025,
    2048,
    4095,
    4096,
    4097,
    8192,
    16384,
    32767,
    32768,
    32769,
    65536,
    65537,
    100_000,
    524_288,
    1_048_575,
    1_048_576,
    1_048_577,
    3 << 20,
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
            128..=191 => self.u16() as usize % 1100,          // tiny
            192..=223 => 1024 + self.u16() as usize % 32_000, // small
            224..=247 => 32_768 + (self.u16() as usize) * 15, // large (up to ~1 MiB)
            _ => (1 << 20) + (self.u16() as usize) * 48,      // huge (up to ~4 MiB)
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
            panic!(
                "{when}: block {addr:#x} (usable {}) corrupted at {}: {:#x} != {:#x}",
                b.usable,
                o + k,
                s[k],
                b.fill
            );
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

/// A new helper thread: the sender is how to reach it, the handle how to wait for its end.
fn spawn_helper() -> (Sender<Msg>, std::thread::JoinHandle<()>) {
    let (tx, rx) = channel::<Msg>();
    let t = std::thread::Builder::new()
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
    (tx, t)
}

/// The process's helper thread (made once; a forked child makes its own, see
/// [`run_terminal`]).
fn helper() -> Sender<Msg> {
    static H: OnceLock<Mutex<Sender<Msg>>> = OnceLock::new();
    H.get_or_init(|| Mutex::new(spawn_helper().0)).lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn send(h: &Sender<Msg>, m: Msg) {
    h.send(m).expect("helper thread gone");
}

fn sync_helper(h: &Sender<Msg>) {
    let (tx, rx) = channel();
    send(h, Msg::Sync(tx));
    rx.recv().expect("helper thread gone");
}

// ---- the interpreter ---------------------------------------------------------------------

/// Run one input. Panics (which aborts under `panic = "abort"`, a crash for AFL) on any
/// model violation; hakmem's own aborts are crashes too.
pub fn run(data: &[u8]) {
    if let Some((t, body)) = terminal(data) {
        return run_terminal(t, body);
    }
    let h = helper();
    let mut m = Model::default();
    ops(data, &mut m, &h);
    // SAFETY: every block in the model is live and came from hakmem.
    unsafe {
        for b in std::mem::take(&mut m.live) {
            verify(&b, "at the end");
            m.release(&b);
            api::free::<T>(b.addr as *mut u8);
        }
    }
    assert!(m.ranges.is_empty() && m.bytes == 0, "model leaked");
    sync_helper(&h);
}

/// Run the operations of `data` against the model `m`, the helper thread `h` serving the
/// remote ones.
fn ops(data: &[u8], m: &mut Model, h: &Sender<Msg>) {
    let mut inp = Input { d: data, i: 0 };
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
                        send(h, Msg::Free(b.addr));
                    }
                }
                8 => {
                    // the helper allocates; the block joins our model and we free it later
                    let n = inp.size();
                    if !m.full(n) {
                        let fillb = m.fresh_fill();
                        let (tx, rx) = channel();
                        send(h, Msg::Alloc(n, fillb, tx));
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
                    sync_helper(h);
                }
            }
        }
    }
}

// ---- terminal operations (run in a forked child) -----------------------------------------

/// First bytes of an input that ends in a terminal operation (see the module docs).
pub const TERMINAL_MAGIC: &[u8; 4] = b"HKT!";

/// Misuse that must end the process (or, for write-after-free, leave the model intact).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Terminal {
    /// Overwrite the first 16 bytes of a freed block with a forged link, then allocate.
    WriteAfterFree { victim: u16, forge: u8 },
    /// Free a pointer inside a live block.
    InteriorFree { victim: u16, offset: u8 },
}

/// The terminal operation of `data` and the ops to run before it, if `data` has one.
pub fn terminal(data: &[u8]) -> Option<(Terminal, &[u8])> {
    let rest = data.strip_prefix(TERMINAL_MAGIC)?;
    let b = |i: usize| rest.get(i).copied().unwrap_or(0);
    let victim = u16::from(b(1)) | u16::from(b(2)) << 8;
    let t = match b(0) % 2 {
        0 => Terminal::WriteAfterFree { victim, forge: b(3) },
        _ => Terminal::InteriorFree { victim, offset: b(3) },
    };
    Some((t, rest.get(4..).unwrap_or(&[])))
}

/// An input that runs `ops` and then the terminal operation `t`.
pub fn terminal_input(t: Terminal, ops: &[u8]) -> Vec<u8> {
    let (kind, victim, param) = match t {
        Terminal::WriteAfterFree { victim, forge } => (0u8, victim, forge),
        Terminal::InteriorFree { victim, offset } => (1u8, victim, offset),
    };
    let mut v = TERMINAL_MAGIC.to_vec();
    v.extend_from_slice(&[kind, victim as u8, (victim >> 8) as u8, param]);
    v.extend_from_slice(ops);
    v
}

/// A forged link target for write-after-free: static, so its address is known.
static FORGED_AREA: [u64; 512] = [0; 512];
/// What a child prints (to stderr) when it ran on after the terminal operation.
const SURVIVED: &str = "hakmem-fuzz: survived the terminal operation";

fn write_stderr(s: &str) {
    // SAFETY: write(2) of a live buffer; no lock, no allocation (safe in a forked child).
    unsafe { libc::write(2, s.as_ptr().cast(), s.len()) };
}

/// In the child: the ops, then the terminal operation. Returns only when the program ran
/// on (write-after-free with the model intact, or an interior free that went unnoticed).
unsafe fn terminal_child(t: Terminal, body: &[u8], h: &Sender<Msg>) {
    let mut m = Model::default();
    ops(body, &mut m, h);
    sync_helper(h);
    let small = |b: &Live| b.usable <= 32768;
    match t {
        Terminal::WriteAfterFree { victim, forge } => {
            let cands: Vec<usize> = (0..m.live.len()).filter(|&i| small(&m.live[i])).collect();
            let v = if cands.is_empty() {
                m.adopt(api::malloc::<T>(64), 64, 16, "malloc (victim)");
                m.live.len() - 1
            } else {
                cands[victim as usize % cands.len()]
            };
            let b = m.live.swap_remove(v);
            verify(&b, "before free (victim)");
            m.release(&b);
            let (forged, span) = match forge % 4 {
                0 if !m.live.is_empty() => {
                    let o = m.live[victim as usize % m.live.len()];
                    (o.addr, o.usable)
                }
                0 | 1 => (FORGED_AREA.as_ptr() as usize + 64, 4096 - 64),
                2 => (0xdead_0000, 4096),
                _ => (b.addr, b.usable),
            };
            api::free::<T>(b.addr as *mut u8);
            // the write after free: a forged next pointer, twice (whatever the layout)
            std::ptr::write_unaligned(b.addr as *mut [usize; 2], [forged, forged]);
            write_stderr(&format!("hakmem-fuzz: wrote {forged:#x} into the freed block {:#x}\n", b.addr));
            for k in 0..8 {
                let p = api::malloc::<T>(b.usable);
                let a = p as usize;
                write_stderr(&format!("hakmem-fuzz: malloc({}) #{k} = {a:#x}\n", b.usable));
                // (a forged link to the block itself: the model's overlap check below judges)
                if forge % 4 != 3 && a < forged + span && a + b.usable > forged {
                    let (n, end, blk) = (b.usable, forged + span, b.addr);
                    panic!(
                        "write-after-free: malloc({n}) #{k} returned {a:#x}, inside the forged target \
                         {forged:#x}..{end:#x} written into the freed block {blk:#x}"
                    );
                }
                m.adopt(p, b.usable, 16, "malloc after write-after-free");
            }
            write_stderr("hakmem-fuzz: the 8 mallocs are done; checking every live block\n");
            for b in &m.live {
                verify(b, "after write-after-free");
            }
        }
        Terminal::InteriorFree { victim, offset } => {
            if m.live.is_empty() {
                m.adopt(api::malloc::<T>(64), 64, 16, "malloc (victim)");
            }
            let b = m.live[victim as usize % m.live.len()];
            let off = 1 + offset as usize % (b.usable.min(4096) - 1).max(1);
            write_stderr(&format!("hakmem-fuzz: free({:#x}) = block {:#x} + {off}\n", b.addr + off, b.addr));
            api::free::<T>((b.addr + off) as *mut u8);
        }
    }
}

/// In the child: a SIGSEGV / SIGBUS prints the faulting address (then kills the child with
/// the same signal), so the diagnosis says what was touched.
unsafe fn name_faults() {
    extern "C" fn on_fault(sig: i32, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo; only async-signal-safe calls below.
        unsafe {
            let mut b = [0u8; 64];
            let mut n = 0;
            for &c in b"hakmem-fuzz: fault at 0x" {
                b[n] = c;
                n += 1;
            }
            let a = (*info).si_addr() as usize;
            for i in (0..16).rev() {
                b[n] = b"0123456789abcdef"[(a >> (i * 4)) & 15];
                n += 1;
            }
            b[n] = b'\n';
            libc::write(2, b.as_ptr().cast(), n + 1);
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
    let mut sa: libc::sigaction = std::mem::zeroed();
    let handler: extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void) = on_fault;
    sa.sa_sigaction = handler as usize;
    sa.sa_flags = libc::SA_SIGINFO;
    libc::sigaction(libc::SIGSEGV, &sa, std::ptr::null_mut());
    libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
}

/// How a terminal child ended.
#[derive(Debug)]
pub struct ChildEnd {
    /// `waitpid` status (raw).
    pub status: i32,
    pub stderr: String,
    pub hung: bool,
}

impl ChildEnd {
    fn how(&self) -> String {
        let st = self.status;
        if self.hung {
            "hung (killed after 30 s)".into()
        } else if libc::WIFEXITED(st) {
            format!("exit {}", libc::WEXITSTATUS(st))
        } else if libc::WIFSIGNALED(st) {
            format!("signal {}", libc::WTERMSIG(st))
        } else {
            format!("status {st:#x}")
        }
    }
}

/// Is `end` an outcome the terminal operation `t` allows? Err names what went wrong.
pub fn check_terminal_end(t: Terminal, end: &ChildEnd) -> Result<(), String> {
    let lines: Vec<&str> = end.stderr.lines().filter(|l| l.starts_with("hakmem: ")).collect();
    let aborted = !end.hung && libc::WIFSIGNALED(end.status) && libc::WTERMSIG(end.status) == libc::SIGABRT;
    let clear_abort = |call: &str| -> Result<(), String> {
        if !aborted {
            return Err(format!("want SIGABRT, got {}", end.how()));
        }
        if lines.len() != 1 {
            return Err(format!("want exactly one `hakmem: ` line, got {}: {lines:?}", lines.len()));
        }
        if !lines[0].starts_with(&format!("hakmem: {call}")) || !lines[0].ends_with("; aborting") {
            return Err(format!("want `hakmem: {call}...; aborting`, got {:?}", lines[0]));
        }
        Ok(())
    };
    if let Some(i) = end.stderr.find("model violation").or_else(|| end.stderr.find(" panicked at ")) {
        let what: Vec<&str> = end.stderr[i..].lines().take(2).collect();
        return Err(format!("the model caught a fault in the child: {}", what.join(" ")));
    }
    let ran_on = !end.hung && libc::WIFEXITED(end.status) && libc::WEXITSTATUS(end.status) == 0;
    match t {
        Terminal::WriteAfterFree { .. } if ran_on && end.stderr.contains(SURVIVED) && lines.is_empty() => Ok(()),
        Terminal::WriteAfterFree { .. } => clear_abort(""),
        Terminal::InteriorFree { .. } if ran_on => Err("the interior free went unnoticed (the child ran on)".into()),
        Terminal::InteriorFree { .. } => clear_abort("free(): "),
    }
}

/// Fork; the child runs the ops and the terminal operation with its stderr in a pipe; the
/// parent reads it, waits (30 s at most), and panics unless the end is allowed.
pub fn run_terminal(t: Terminal, body: &[u8]) {
    let end = run_in_child(t, body);
    if let Err(e) = check_terminal_end(t, &end) {
        // the head (a panic message, the hakmem line) and the tail of the child's stderr
        let lines: Vec<&str> = end.stderr.lines().collect();
        let mut shown: Vec<&str> = lines.iter().take(12).copied().collect();
        if lines.len() > 17 {
            shown.push("...");
        }
        shown.extend(lines.iter().skip(12.max(lines.len().saturating_sub(5))));
        panic!("terminal {t:?}: {e}\n  child: {}\n  child stderr:\n    {}", end.how(), shown.join("\n    "));
    }
}

/// Run the terminal input in a forked child and report how it ended.
pub fn run_in_child(t: Terminal, body: &[u8]) -> ChildEnd {
    let mut fds = [0; 2];
    // SAFETY: plain syscalls on our own descriptors. After fork the child touches no lock
    // another thread of the parent could have held: hakmem's own locks are reset by its
    // atfork handlers, libc malloc's by glibc; the child makes a new helper thread rather
    // than use the parent's, writes with write(2) and leaves with _exit.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0, "pipe");
        let pid = libc::fork();
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            libc::close(fds[0]);
            libc::dup2(fds[1], 2);
            name_faults();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let (h, helper) = spawn_helper();
                terminal_child(t, body, &h);
                // Running on includes the helper's exit (it drains its heap's inbox, where
                // a remote free's link may have been overwritten): wait for it.
                drop(h);
                let _ = helper.join();
            }));
            match r {
                Ok(()) => {
                    write_stderr(SURVIVED);
                    write_stderr("\n");
                    libc::_exit(0)
                }
                Err(e) => {
                    let msg = e
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| e.downcast_ref::<&str>().copied())
                        .unwrap_or("(non-string panic)");
                    write_stderr(&format!("hakmem-fuzz: model violation: {msg}\n"));
                    libc::_exit(101)
                }
            }
        }
        libc::close(fds[1]);
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut hung = false;
        loop {
            let mut pfd = libc::pollfd { fd: fds[0], events: libc::POLLIN, revents: 0 };
            if t0.elapsed() > Duration::from_secs(30) {
                hung = true;
                libc::kill(pid, libc::SIGKILL);
                break;
            }
            if libc::poll(&mut pfd, 1, 100) <= 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            let n = libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len());
            if n <= 0 {
                break;
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
        libc::close(fds[0]);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        ChildEnd { status, stderr: String::from_utf8_lossy(&out).into_owned(), hung }
    }
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
