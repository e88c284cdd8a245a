//! The prof box's outputs: a pprof heap profile (protobuf, uncompressed: `pprof` and
//! `go tool pprof` read it as is) of the live samples, written at exit (`HAKMEM_PROF_DUMP`),
//! on a signal (`HAKMEM_PROF_SIGNAL`) and from `hakmem_prof_dump` / `hakmem::prof_dump`;
//! and the leak report at exit (the sampled blocks still live, by stack, a few `hakmem:`
//! lines with raw addresses and module offsets).
//!
//! The profile: sample types `inuse_objects`/`count` and `inuse_space`/`bytes` (each sample
//! scaled by `1 / (1 - exp(-size / mean))`), period `space`/`bytes` = the mean; one
//! Location per return address (address − 1: inside the call instruction, what a
//! symbolizer should look up), each with the Mapping (from `/proc/self/maps`: file, start,
//! limit, offset) it lies in, so the file can be symbolized offline (`hakmem prof report`).
//!
//! Everything is built in `mmap`ed buffers and written with `write(2)`; the signal handler
//! only uses async-signal-safe calls (open, read, write, mmap, munmap) and never waits for
//! the table's lock: if it is busy, the dump is left for the next sample to write.

use super::{inverse_probability, mean, Rec, MAX_DEPTH};
use crate::backend::os;
use crate::config::PATH_MAX;
use crate::sync::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use core::fmt::Write as _;
use core::ptr;

// ---- memory: mmap'd scratch ------------------------------------------------------------

/// A zeroed mapping, unmapped on drop.
struct Scratch {
    p: *mut u8,
    len: usize,
}

impl Scratch {
    fn new(len: usize) -> Option<Scratch> {
        let len = len.max(1).next_multiple_of(os::PAGE);
        let p = os::map(len);
        (!p.is_null()).then_some(Scratch { p, len })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        os::unmap(self.p, self.len);
    }
}

// ---- /proc/self/maps ----------------------------------------------------------------------

/// One executable file mapping.
#[derive(Clone, Copy)]
struct Map {
    start: usize,
    end: usize,
    off: usize,
    /// The path, as a range of the maps text.
    path: (usize, usize),
}

/// `/proc/self/maps`, read raw, and its executable file mappings.
struct Maps {
    text: Scratch,
    text_len: usize,
    list: Scratch,
    n: usize,
}

const MAPS_TEXT: usize = 8 << 20;
const MAPS_MAX: usize = 1 << 15;

fn hex(s: &[u8]) -> usize {
    let mut v = 0usize;
    for &b in s {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => break,
        };
        v = v.wrapping_mul(16).wrapping_add(d as usize);
    }
    v
}

impl Maps {
    fn read() -> Option<Maps> {
        let text = Scratch::new(MAPS_TEXT)?;
        let list = Scratch::new(MAPS_MAX * core::mem::size_of::<Map>())?;
        // SAFETY: the scratch is ours, writable for its length.
        let buf = unsafe { core::slice::from_raw_parts_mut(text.p, text.len) };
        let text_len = os::read_file(b"/proc/self/maps\0", buf);
        let mut m = Maps { text, text_len, list, n: 0 };
        m.parse();
        Some(m)
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: text_len bytes of the scratch were written by read_file.
        unsafe { core::slice::from_raw_parts(self.text.p, self.text_len) }
    }

    fn parse(&mut self) {
        let text_len = self.text_len;
        let base = self.text.p;
        let list = self.list.p as *mut Map;
        let mut i = 0;
        while i < text_len {
            // SAFETY: i < text_len: inside what read_file wrote.
            let line_end = (i..text_len).find(|&k| unsafe { *base.add(k) } == b'\n').unwrap_or(text_len);
            // SAFETY: [i, line_end) is inside the text.
            let line = unsafe { core::slice::from_raw_parts(base.add(i), line_end - i) };
            // start-end perms offset dev inode path
            let mut fields = [(0usize, 0usize); 6];
            let mut nf = 0;
            let mut k = 0;
            while k < line.len() && nf < 6 {
                while k < line.len() && line[k] == b' ' {
                    k += 1;
                }
                let s = k;
                if nf == 5 {
                    k = line.len(); // the path may contain spaces
                } else {
                    while k < line.len() && line[k] != b' ' {
                        k += 1;
                    }
                }
                if s < k {
                    fields[nf] = (s, k);
                    nf += 1;
                }
            }
            let f = |j: usize| &line[fields[j].0..fields[j].1];
            if nf == 6 && f(1).len() >= 3 && f(1)[2] == b'x' && f(5).first() == Some(&b'/') && self.n < MAPS_MAX {
                let range = f(0);
                let dash = range.iter().position(|&b| b == b'-').unwrap_or(0);
                let m = Map {
                    start: hex(&range[..dash]),
                    end: hex(&range[dash + 1..]),
                    off: hex(f(2)),
                    path: (i + fields[5].0, i + fields[5].1),
                };
                // SAFETY: n < MAPS_MAX: inside the list scratch.
                unsafe { *list.add(self.n) = m };
                self.n += 1;
            }
            i = line_end + 1;
        }
    }

    fn get(&self, j: usize) -> Map {
        // SAFETY: j < n, written by parse.
        unsafe { *(self.list.p as *const Map).add(j) }
    }

    fn path(&self, m: &Map) -> &[u8] {
        &self.bytes()[m.path.0..m.path.1]
    }

    /// Index of the mapping holding `a`.
    fn find(&self, a: usize) -> Option<usize> {
        (0..self.n).find(|&j| {
            let m = self.get(j);
            a >= m.start && a < m.end
        })
    }
}

/// The code range of the library holding `f` if it is libhakmem.so (the extent of its
/// executable mappings); (0, 0) when hakmem is linked into the program itself.
pub(crate) fn own_code_range(f: usize) -> (usize, usize) {
    let Some(maps) = Maps::read() else { return (0, 0) };
    let Some(j) = maps.find(f) else { return (0, 0) };
    let me = maps.get(j);
    let path = maps.path(&me);
    let name = &path[path.iter().rposition(|&b| b == b'/').map_or(0, |k| k + 1)..];
    if !name.starts_with(b"libhakmem") {
        return (0, 0);
    }
    let (mut lo, mut hi) = (me.start, me.end);
    for k in 0..maps.n {
        let m = maps.get(k);
        if maps.path(&m) == path {
            lo = lo.min(m.start);
            hi = hi.max(m.end);
        }
    }
    (lo, hi)
}

// ---- protobuf encoding ----------------------------------------------------------------

/// A byte sink: an mmap'd buffer or a stack buffer for one nested message.
struct Out {
    p: *mut u8,
    len: usize,
    cap: usize,
    overflow: bool,
}

impl Out {
    fn over(s: &Scratch) -> Out {
        Out { p: s.p, len: 0, cap: s.len, overflow: false }
    }
    fn on_stack(b: &mut [u8]) -> Out {
        Out { p: b.as_mut_ptr(), len: 0, cap: b.len(), overflow: false }
    }
    fn put(&mut self, b: &[u8]) {
        if self.len + b.len() > self.cap {
            self.overflow = true;
            return;
        }
        // SAFETY: the range is inside the buffer (checked above).
        unsafe { ptr::copy_nonoverlapping(b.as_ptr(), self.p.add(self.len), b.len()) };
        self.len += b.len();
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: len bytes were written.
        unsafe { core::slice::from_raw_parts(self.p, self.len) }
    }
    fn varint(&mut self, mut v: u64) {
        let mut b = [0u8; 10];
        let mut n = 0;
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                b[n] = byte;
                n += 1;
                break;
            }
            b[n] = byte | 0x80;
            n += 1;
        }
        self.put(&b[..n]);
    }
    /// A varint field (wire type 0).
    fn uint(&mut self, field: u64, v: u64) {
        self.varint(field << 3);
        self.varint(v);
    }
    /// A length-delimited field (wire type 2).
    fn lenfield(&mut self, field: u64, b: &[u8]) {
        self.varint(field << 3 | 2);
        self.varint(b.len() as u64);
        self.put(b);
    }
}

/// The fixed strings, in string-table order (index = position).
const STRINGS: [&str; 6] = ["", "inuse_objects", "count", "inuse_space", "bytes", "space"];
const S_INUSE_OBJECTS: u64 = 1;
const S_COUNT: u64 = 2;
const S_INUSE_SPACE: u64 = 3;
const S_BYTES: u64 = 4;
const S_SPACE: u64 = 5;

/// The scaled values of a sample: (objects, bytes).
fn scaled(r: &Rec, mean: u64) -> (u64, u64) {
    let w = inverse_probability(r.prob, mean);
    ((w + 0.5) as u64, (r.size as f64 * w + 0.5) as u64)
}

/// Encode the profile of `recs` into `out`.
fn encode(out: &mut Out, recs: &[Rec], maps: &Maps, mean: u64) {
    let frames: usize = recs.iter().map(|r| r.depth).sum();
    // Location ids by address: open addressing in a scratch table (address, id).
    let cap = (frames * 2).next_power_of_two().max(1024);
    let Some(locs) = Scratch::new(cap * 16) else {
        out.overflow = true;
        return;
    };
    let slots = locs.p as *mut (usize, u64);
    let mut next_id = 1u64;
    let mut vt = [0u8; 32];
    for (t, u) in [(S_INUSE_OBJECTS, S_COUNT), (S_INUSE_SPACE, S_BYTES)] {
        let mut m = Out::on_stack(&mut vt);
        m.uint(1, t);
        m.uint(2, u);
        let len = m.len;
        out.lenfield(1, &vt[..len]);
    }
    for r in recs {
        let mut ids = [0u64; MAX_DEPTH];
        for (k, &ret) in r.stack[..r.depth].iter().enumerate() {
            let addr = ret - 1;
            let mut i = (addr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize & (cap - 1);
            // SAFETY: i < cap (masked); the scratch holds cap pairs, zeroed = empty.
            let id = unsafe {
                loop {
                    let s = &mut *slots.add(i);
                    if s.1 == 0 {
                        *s = (addr, next_id);
                        next_id += 1;
                        // A new Location: id, mapping, address.
                        let mut lb = [0u8; 48];
                        let mut l = Out::on_stack(&mut lb);
                        l.uint(1, s.1);
                        if let Some(j) = maps.find(addr) {
                            l.uint(2, j as u64 + 1);
                        }
                        l.uint(3, addr as u64);
                        let len = l.len;
                        out.lenfield(4, &lb[..len]);
                        break s.1;
                    }
                    if s.0 == addr {
                        break s.1;
                    }
                    i = (i + 1) & (cap - 1);
                }
            };
            ids[k] = id;
        }
        // Sample: packed location ids, packed values.
        let mut sb = [0u8; MAX_DEPTH * 10 + 64];
        let mut s = Out::on_stack(&mut sb);
        let mut pb = [0u8; MAX_DEPTH * 10];
        let mut p = Out::on_stack(&mut pb);
        for &id in &ids[..r.depth] {
            p.varint(id);
        }
        let plen = p.len;
        s.lenfield(1, &pb[..plen]);
        let (objs, bytes) = scaled(r, mean);
        let mut vb = [0u8; 24];
        let mut v = Out::on_stack(&mut vb);
        v.varint(objs);
        v.varint(bytes);
        let vlen = v.len;
        s.lenfield(2, &vb[..vlen]);
        let slen = s.len;
        out.lenfield(2, &sb[..slen]);
    }
    // Mappings (id = index + 1), their file names after the fixed strings.
    for j in 0..maps.n {
        let m = maps.get(j);
        let mut mb = [0u8; 64];
        let mut o = Out::on_stack(&mut mb);
        o.uint(1, j as u64 + 1);
        o.uint(2, m.start as u64);
        o.uint(3, m.end as u64);
        o.uint(4, m.off as u64);
        o.uint(5, (STRINGS.len() + j) as u64);
        let len = o.len;
        out.lenfield(3, &mb[..len]);
    }
    for s in STRINGS {
        out.lenfield(6, s.as_bytes());
    }
    for j in 0..maps.n {
        let m = maps.get(j);
        out.lenfield(6, maps.path(&m));
    }
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    out.uint(9, ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
    let mut pt = [0u8; 32];
    let mut m = Out::on_stack(&mut pt);
    m.uint(1, S_SPACE);
    m.uint(2, S_BYTES);
    let len = m.len;
    out.lenfield(11, &pt[..len]);
    out.uint(12, mean);
    out.uint(14, S_INUSE_SPACE);
}

// ---- dumps ------------------------------------------------------------------------------

/// Live samples copied out of the table.
struct Snap {
    mem: Scratch,
    n: usize,
}

impl Snap {
    fn take(wait: bool) -> Option<Snap> {
        // Room for the samples live now plus some taken meanwhile.
        let cap = super::live_hint() + 1024;
        let mem = Scratch::new(cap * core::mem::size_of::<Rec>())?;
        // SAFETY: the scratch holds cap records.
        let n = unsafe { super::snapshot(mem.p as *mut Rec, cap, wait)? };
        Some(Snap { mem, n })
    }
    fn recs(&self) -> &[Rec] {
        // SAFETY: n records were copied in.
        unsafe { core::slice::from_raw_parts(self.mem.p as *const Rec, self.n) }
    }
}

/// Why a dump failed (an errno value).
pub type Errno = i32;

/// A dump is being written (one at a time; a signal arriving meanwhile is dropped).
static DUMPING: AtomicBool = AtomicBool::new(false);

/// Write the profile to the NUL-terminated `path`. `wait`: wait for the table's lock.
fn dump_to(path: &[u8], wait: bool) -> Result<(), Errno> {
    if !super::on() {
        return Err(libc::ENOSYS);
    }
    if DUMPING.swap(true, Relaxed) {
        return Err(libc::EBUSY);
    }
    let r = (|| {
        let snap = Snap::take(wait).ok_or(libc::EAGAIN)?;
        let maps = Maps::read().ok_or(libc::ENOMEM)?;
        let frames: usize = snap.recs().iter().map(|r| r.depth).sum();
        let est = 4096 + maps.text_len * 2 + snap.n * (MAX_DEPTH * 10 + 64) + frames * 40;
        let buf = Scratch::new(est).ok_or(libc::ENOMEM)?;
        let mut out = Out::over(&buf);
        encode(&mut out, snap.recs(), &maps, mean());
        if out.overflow {
            return Err(libc::ENOMEM);
        }
        write_file(path, out.bytes())
    })();
    DUMPING.store(false, Relaxed);
    r
}

fn write_file(path: &[u8], data: &[u8]) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated (callers build it so); write of our buffer.
    unsafe {
        let fd = libc::open(
            path.as_ptr() as *const libc::c_char,
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o644,
        );
        if fd < 0 {
            return Err(*libc::__errno_location());
        }
        let mut off = 0;
        while off < data.len() {
            let w = libc::write(fd, data.as_ptr().add(off) as *const libc::c_void, data.len() - off);
            if w <= 0 {
                let e = *libc::__errno_location();
                if w < 0 && e == libc::EINTR {
                    continue;
                }
                libc::close(fd);
                return Err(if w == 0 { libc::EIO } else { e });
            }
            off += w as usize;
        }
        if libc::close(fd) != 0 {
            return Err(*libc::__errno_location());
        }
    }
    Ok(())
}

/// The API's dump (`hakmem_prof_dump`, `hakmem::prof_dump`): `path` without its NUL.
pub fn dump(path: &[u8]) -> Result<(), Errno> {
    let mut p = [0u8; PATH_MAX];
    if path.is_empty() || path.len() >= PATH_MAX || path.contains(&0) {
        return Err(libc::EINVAL);
    }
    p[..path.len()].copy_from_slice(path);
    dump_to(&p[..=path.len()], true)
}

/// The configured dump path with `%p` replaced by the pid; a fork child without `%p`
/// writes `PATH.<pid>` (its dump is its own). Returns the length written (NUL included),
/// 0 when no path is configured.
fn configured_path(out: &mut [u8; PATH_MAX]) -> usize {
    let src = super::dump_path();
    if src.is_empty() {
        return 0;
    }
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as usize;
    let mut digits = [0u8; 20];
    let mut k = digits.len();
    let mut v = pid;
    loop {
        k -= 1;
        digits[k] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let pid_s = &digits[k..];
    let mut n = 0;
    let mut push = |b: &[u8], n: &mut usize| {
        let m = b.len().min(PATH_MAX - 1 - *n);
        out[*n..*n + m].copy_from_slice(&b[..m]);
        *n += m;
    };
    let mut i = 0;
    let mut had_pid = false;
    while i < src.len() {
        if src[i] == b'%' && src.get(i + 1) == Some(&b'p') {
            push(pid_s, &mut n);
            had_pid = true;
            i += 2;
        } else {
            push(&src[i..i + 1], &mut n);
            i += 1;
        }
    }
    if !had_pid && pid != super::init_pid() {
        push(b".", &mut n);
        push(pid_s, &mut n);
    }
    out[n] = 0;
    n + 1
}

/// The signal's dump, or a pending one: to the configured path, never waiting for the lock.
pub(crate) fn dump_pending() {
    let mut p = [0u8; PATH_MAX];
    let n = configured_path(&mut p);
    if n == 0 {
        super::set_pending(false);
        return;
    }
    match dump_to(&p[..n], false) {
        Err(libc::EAGAIN) | Err(libc::EBUSY) => super::set_pending(true),
        _ => super::set_pending(false),
    }
}

extern "C" fn on_signal(_sig: libc::c_int) {
    // SAFETY: errno is this thread's; the handler must leave it as it found it.
    let saved = unsafe { *libc::__errno_location() };
    dump_pending();
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
}

/// Install the signal handler (choice index of `HAKMEM_PROF_SIGNAL`) and the exit hook.
pub(crate) fn arm(signal: u32) {
    let sig = match signal {
        1 => libc::SIGUSR1,
        2 => libc::SIGUSR2,
        3 => libc::SIGHUP,
        4 => libc::SIGURG,
        5 => libc::SIGWINCH,
        _ => 0,
    };
    // SAFETY: sigaction with a zeroed struct, our handler and SA_RESTART; atexit with an
    // extern "C" fn of this library.
    unsafe {
        if sig != 0 {
            let mut sa: libc::sigaction = core::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, ptr::null_mut());
        }
        REPORT_FD.store(libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 3).max(-1) as usize, Relaxed);
        libc::atexit(at_exit);
    }
}

/// A copy of stderr for the exit report (the program may have closed fd 2 by then).
static REPORT_FD: AtomicUsize = AtomicUsize::new(2);

/// Exit: the profile to `HAKMEM_PROF_DUMP`, and the leak report.
extern "C" fn at_exit() {
    let mut p = [0u8; PATH_MAX];
    let n = configured_path(&mut p);
    let fd = match REPORT_FD.load(Relaxed) as isize {
        x if x < 0 => 2,
        x => x as i32,
    };
    if n > 0 {
        let path = core::str::from_utf8(&p[..n - 1]).unwrap_or("?");
        let mut b = crate::msg::StackBuf::<600>::new();
        match dump_to(&p[..n], true) {
            Ok(()) => {
                let _ = writeln!(b, "hakmem: prof: heap profile written to {path}");
            }
            Err(e) => {
                let _ = writeln!(b, "hakmem: prof: could not write {path} (errno {e})");
            }
        }
        b.flush_to(fd);
    }
    leak_report(fd);
}

/// The leak report: sampled blocks still live, grouped by stack, the largest five.
fn leak_report(fd: i32) {
    let Some(snap) = Snap::take(true) else { return };
    let recs = snap.recs();
    let mean = mean();
    let mut b = crate::msg::StackBuf::<600>::new();
    let (mut objs, mut bytes) = (0u64, 0u64);
    for r in recs {
        let (o, by) = scaled(r, mean);
        objs += o;
        bytes += by;
    }
    let _ = writeln!(
        b,
        "hakmem: prof: {} sampled blocks live at exit (~{} bytes in ~{} objects estimated; {} samples taken, {} dropped)",
        recs.len(),
        bytes,
        objs,
        super::SAMPLES.load(Relaxed),
        super::DROPPED.load(Relaxed)
    );
    b.flush_to(fd);
    if recs.is_empty() {
        return;
    }
    // Group by stack: a stack hash per record, groups in an open-addressing scratch table.
    let cap = (recs.len() * 2).next_power_of_two();
    let Some(g) = Scratch::new(cap * core::mem::size_of::<Group>()) else { return };
    let groups = g.p as *mut Group;
    for (i, r) in recs.iter().enumerate() {
        let h = stack_hash(r);
        let mut k = h as usize & (cap - 1);
        let (o, by) = scaled(r, mean);
        // SAFETY: k < cap (masked); zeroed groups are empty (count 0).
        unsafe {
            loop {
                let s = &mut *groups.add(k);
                if s.count == 0 {
                    *s = Group { hash: h, first: i, count: 1, objs: o, bytes: by };
                    break;
                }
                if s.hash == h {
                    s.count += 1;
                    s.objs += o;
                    s.bytes += by;
                    break;
                }
                k = (k + 1) & (cap - 1);
            }
        }
    }
    let maps = Maps::read();
    let mut last = u64::MAX;
    for rank in 0..5 {
        // The largest group below the last one printed.
        let mut best: Option<Group> = None;
        for k in 0..cap {
            // SAFETY: k < cap.
            let s = unsafe { *groups.add(k) };
            if s.count > 0 && s.bytes < last && best.is_none_or(|x| s.bytes > x.bytes) {
                best = Some(s);
            }
        }
        let Some(s) = best else { break };
        last = s.bytes;
        let _ = writeln!(
            b,
            "hakmem: prof: leak #{}: ~{} bytes in ~{} objects ({} samples) at",
            rank + 1,
            s.bytes,
            s.objs,
            s.count
        );
        b.flush_to(fd);
        let r = &recs[s.first];
        for (d, &ret) in r.stack[..r.depth.min(8)].iter().enumerate() {
            let _ = write!(b, "hakmem: prof:   #{d} {ret:#x}");
            if let Some(m) = maps.as_ref() {
                if let Some(j) = m.find(ret - 1) {
                    let map = m.get(j);
                    let path = m.path(&map);
                    let name = &path[path.iter().rposition(|&c| c == b'/').map_or(0, |x| x + 1)..];
                    let _ =
                        write!(b, " {}+{:#x}", core::str::from_utf8(name).unwrap_or("?"), ret - map.start + map.off);
                }
            }
            let _ = writeln!(b);
            b.flush_to(fd);
        }
    }
}

#[derive(Clone, Copy)]
struct Group {
    hash: u64,
    first: usize,
    count: u64,
    objs: u64,
    bytes: u64,
}

fn stack_hash(r: &Rec) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ r.depth as u64;
    for &a in &r.stack[..r.depth] {
        h = (h ^ a as u64).wrapping_mul(0x100_0000_01b3);
    }
    h | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_encode_as_protobuf_does() {
        let mut b = [0u8; 32];
        let mut o = Out::on_stack(&mut b);
        o.varint(1);
        o.varint(300);
        o.varint(u64::MAX);
        assert_eq!(&b[..3], &[1, 0xac, 0x02]);
        assert_eq!(b[3..13], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        let mut small = [0u8; 2];
        let mut o = Out::on_stack(&mut small);
        o.varint(u64::MAX);
        assert!(o.overflow, "a full buffer says so instead of writing past its end");
    }

    #[test]
    fn maps_of_this_process_hold_our_code() {
        let m = Maps::read().unwrap();
        let j = m.find(maps_of_this_process_hold_our_code as fn() as usize).expect("this function is mapped");
        assert!(m.path(&m.get(j)).starts_with(b"/"));
    }
}
