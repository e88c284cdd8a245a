//! Will `LD_PRELOAD` reach a program? Only the dynamic loader reads it, and a program gets a
//! dynamic loader only when its ELF file names one (a `PT_INTERP` program header). A static
//! binary, static-pie included, has none: it runs on its own allocator, whatever the
//! environment says. A `#!` script runs its interpreter, which is what is checked then.

use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, PartialEq, Eq)]
pub enum Loader {
    /// A dynamically linked ELF program: the preload applies.
    Dynamic,
    /// An ELF program without `PT_INTERP`: nothing reads `LD_PRELOAD`.
    Static,
    /// Set-user/group-ID: the loader ignores a preload path outside the trusted directories.
    SetId,
    /// Not an ELF file nor a `#!` script, or unreadable: nothing to say.
    Unknown,
}

const PT_INTERP: u32 = 3;

/// Whether an ELF image (its first bytes, program headers included) names a loader.
/// `None` when the bytes are not a complete ELF header and program header table.
pub fn has_interp(b: &[u8]) -> Option<bool> {
    if b.len() < 52 || &b[..4] != b"\x7fELF" {
        return None;
    }
    let is64 = match b[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let le = match b[5] {
        1 => true,
        2 => false,
        _ => return None,
    };
    let u16_at = |o: usize| -> Option<u16> {
        let s: [u8; 2] = b.get(o..o + 2)?.try_into().ok()?;
        Some(if le { u16::from_le_bytes(s) } else { u16::from_be_bytes(s) })
    };
    let u32_at = |o: usize| -> Option<u32> {
        let s: [u8; 4] = b.get(o..o + 4)?.try_into().ok()?;
        Some(if le { u32::from_le_bytes(s) } else { u32::from_be_bytes(s) })
    };
    let u64_at = |o: usize| -> Option<u64> {
        let s: [u8; 8] = b.get(o..o + 8)?.try_into().ok()?;
        Some(if le { u64::from_le_bytes(s) } else { u64::from_be_bytes(s) })
    };
    let (phoff, phentsize, phnum) = if is64 {
        (usize::try_from(u64_at(32)?).ok()?, u16_at(54)? as usize, u16_at(56)? as usize)
    } else {
        (u32_at(28)? as usize, u16_at(42)? as usize, u16_at(44)? as usize)
    };
    let mut found = false;
    for i in 0..phnum {
        let at = phoff.checked_add(i.checked_mul(phentsize)?)?;
        found |= u32_at(at)? == PT_INTERP;
    }
    Some(found)
}

/// `prog` as `execvp` would find it.
pub fn which(prog: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        return Some(PathBuf::from(prog));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(prog)).find(|p| p.is_file())
}

/// What the loader will do with `LD_PRELOAD` for the program at `path`.
pub fn loader(path: &Path) -> Loader {
    loader_depth(path, 0)
}

fn loader_depth(path: &Path, depth: u32) -> Loader {
    use std::os::unix::fs::PermissionsExt;
    let Ok(mut f) = std::fs::File::open(path) else {
        return Loader::Unknown;
    };
    let mode = f.metadata().map(|m| m.permissions().mode()).unwrap_or(0);
    let mut head = Vec::new();
    // Program headers sit near the start in every linker's output; 64 KiB is plenty.
    if f.by_ref().take(64 * 1024).read_to_end(&mut head).is_err() {
        return Loader::Unknown;
    }
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|&c| c == b'\n').next().unwrap_or(&[]);
        let interp = String::from_utf8_lossy(line);
        return match interp.split_whitespace().next() {
            Some(i) if depth < 4 => loader_depth(Path::new(i), depth + 1),
            _ => Loader::Unknown,
        };
    }
    match has_interp(&head) {
        Some(false) => Loader::Static,
        Some(true) if mode & 0o6000 != 0 => Loader::SetId,
        Some(true) => Loader::Dynamic,
        None => Loader::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian ELF64 header followed by program headers of the given types.
    fn elf64(types: &[u32]) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2; // 64-bit
        b[5] = 1; // little-endian
        b[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        b[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        b[56..58].copy_from_slice(&(types.len() as u16).to_le_bytes()); // e_phnum
        for t in types {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&t.to_le_bytes());
            b.extend(ph);
        }
        b
    }

    #[test]
    fn finds_pt_interp_among_the_program_headers() {
        assert_eq!(has_interp(&elf64(&[6, 3, 1, 2])), Some(true));
        // PT_LOAD and PT_DYNAMIC without PT_INTERP: static-pie.
        assert_eq!(has_interp(&elf64(&[1, 1, 2])), Some(false));
        assert_eq!(has_interp(&elf64(&[])), Some(false));
        let mut cut = elf64(&[1, 3]);
        cut.truncate(64 + 56 + 2);
        assert_eq!(has_interp(&cut), None, "a table cut short is not guessed at");
        assert_eq!(has_interp(b"#!/bin/sh\n"), None);
    }

    #[test]
    fn real_programs_and_scripts() {
        let sh = which("sh").expect("sh on PATH");
        assert_eq!(loader(&sh), Loader::Dynamic);
        let d = std::env::temp_dir().join(format!("hakmem-elf-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let fake = d.join("static-prog");
        std::fs::write(&fake, elf64(&[1, 2])).unwrap();
        assert_eq!(loader(&fake), Loader::Static);
        let script = d.join("script");
        std::fs::write(&script, format!("#!{} -e\necho hi\n", fake.display())).unwrap();
        assert_eq!(loader(&script), Loader::Static, "a script is judged by its interpreter");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        assert_eq!(loader(&script), Loader::Dynamic);
        assert_eq!(loader(&d.join("missing")), Loader::Unknown);
        let _ = std::fs::remove_dir_all(&d);
    }
}
