//! Standard output that a closed pipe does not turn into a panic: `hakmem config -v | head -1`
//! ends quietly once `head` has what it wants (`println!` would panic, and the release
//! profile aborts on panic).

use std::io::{ErrorKind, Write};

/// Writes `s` to stdout; a reader that went away is not an error.
pub fn print(s: &str) -> std::io::Result<()> {
    let mut o = std::io::stdout().lock();
    match o.write_all(s.as_bytes()).and_then(|_| o.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}
