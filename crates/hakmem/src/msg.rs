//! Messages to stderr without allocating: a fixed stack buffer implementing
//! `core::fmt::Write` (which, unlike `format!`, never touches the heap).

use core::fmt;

pub struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    pub const fn new() -> Self {
        StackBuf { buf: [0; N], len: 0 }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    /// Write the buffer to stderr and empty it.
    pub fn flush(&mut self) {
        self.flush_to(2);
    }
    /// Write the buffer to `fd` and empty it.
    pub fn flush_to(&mut self, fd: i32) {
        crate::backend::os::write_fd(fd, self.as_bytes());
        self.len = 0;
    }
}

impl<const N: usize> fmt::Write for StackBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Truncate rather than fail: a clipped message beats none.
        let room = N - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Print one line `hakmem: <args>` to stderr (internal: exported only so the crate's modules
/// can name it by path).
#[doc(hidden)]
#[macro_export]
macro_rules! hak_eprintln {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let mut b = $crate::msg::StackBuf::<512>::new();
        let _ = b.write_str("hakmem: ");
        let _ = write!(b, $($arg)*);
        let _ = b.write_str("\n");
        b.flush();
    }};
}

/// Report a fault in the program's use of the allocator (bad free, double free) and abort,
/// as glibc does: one line naming the call and the address.
#[cold]
#[inline(never)]
pub fn fatal(call: &str, what: &str, addr: usize) -> ! {
    hak_eprintln!("{call}(): {what} (address {addr:#x}); aborting");
    // SAFETY: abort has no preconditions and does not return.
    unsafe { libc::abort() }
}
