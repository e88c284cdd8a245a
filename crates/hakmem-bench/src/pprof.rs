//! A pprof profile (`profile.proto`, uncompressed), decoded by hand: the fields hakmem's prof
//! box writes and Go's profiles use. `hakmem prof` symbolizes it; `hakmem bench
//! --prof-accuracy` sums its `inuse_space`.

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

enum Field<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b, i: 0 }
    }
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let Some(&byte) = self.b.get(self.i) else { bail!("truncated varint") };
            self.i += 1;
            v |= ((byte & 0x7f) as u64).checked_shl(shift).unwrap_or(0);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        bail!("varint longer than 10 bytes")
    }
    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>> {
        if self.i >= self.b.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let f = match key & 7 {
            0 => Field::Int(self.varint()?),
            1 => {
                self.i += 8;
                Field::Int(0)
            }
            5 => {
                self.i += 4;
                Field::Int(0)
            }
            2 => {
                let n = self.varint()? as usize;
                let end = self.i.checked_add(n).filter(|&e| e <= self.b.len()).context("truncated field")?;
                let s = &self.b[self.i..end];
                self.i = end;
                Field::Bytes(s)
            }
            w => bail!("unsupported wire type {w}"),
        };
        Ok(Some((key >> 3, f)))
    }
}

/// A repeated integer field: packed (bytes) or one value.
fn ints(f: Field<'_>, out: &mut Vec<u64>) -> Result<()> {
    match f {
        Field::Int(x) => out.push(x),
        Field::Bytes(b) => {
            let mut r = Reader::new(b);
            while r.i < b.len() {
                out.push(r.varint()?);
            }
        }
    }
    Ok(())
}

/// A mapping of the profiled process: an executable file mapped at `start..limit` from
/// file offset `offset`.
#[derive(Clone, Debug, Default)]
pub struct Mapping {
    pub start: u64,
    pub limit: u64,
    pub offset: u64,
    pub file: String,
}

/// A location: an address in a mapping, or (Go profiles) functions named by the profile.
#[derive(Clone, Debug, Default)]
pub struct Location {
    pub mapping: u64,
    pub address: u64,
    /// Function ids from the profile's own `line` entries (Go profiles), innermost first.
    pub functions: Vec<u64>,
}

/// The decoded profile (the fields the readers use).
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// The string table (index 0 is the empty string).
    pub strings: Vec<String>,
    /// (type, unit) as string indices, one per value of each sample.
    pub sample_types: Vec<(u64, u64)>,
    /// (location ids innermost first, values in `sample_types` order).
    pub samples: Vec<(Vec<u64>, Vec<u64>)>,
    pub locations: HashMap<u64, Location>,
    pub mappings: HashMap<u64, Mapping>,
    /// Function id -> name (string index).
    pub functions: HashMap<u64, u64>,
    /// The sampling period (hakmem: the mean bytes between samples).
    pub period: u64,
}

impl Profile {
    /// Reads and decodes a profile file (uncompressed).
    pub fn read(path: &Path) -> Result<Profile> {
        let b = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        if b.starts_with(&[0x1f, 0x8b]) {
            bail!("{} is gzip-compressed: gunzip it first (hakmem writes uncompressed profiles)", path.display());
        }
        Self::decode(&b).with_context(|| format!("{} is not a pprof profile", path.display()))
    }

    /// Decodes a profile from its bytes.
    pub fn decode(b: &[u8]) -> Result<Profile> {
        let mut p = Profile::default();
        let mut mapping_files = Vec::new();
        let mut r = Reader::new(b);
        while let Some((f, v)) = r.next()? {
            match (f, v) {
                (1, Field::Bytes(m)) => {
                    let (mut t, mut u) = (0, 0);
                    let mut r = Reader::new(m);
                    while let Some((f, v)) = r.next()? {
                        match (f, v) {
                            (1, Field::Int(x)) => t = x,
                            (2, Field::Int(x)) => u = x,
                            _ => {}
                        }
                    }
                    p.sample_types.push((t, u));
                }
                (2, Field::Bytes(m)) => {
                    let (mut locs, mut vals) = (Vec::new(), Vec::new());
                    let mut r = Reader::new(m);
                    while let Some((f, v)) = r.next()? {
                        match f {
                            1 => ints(v, &mut locs)?,
                            2 => ints(v, &mut vals)?,
                            _ => {}
                        }
                    }
                    p.samples.push((locs, vals));
                }
                (3, Field::Bytes(m)) => {
                    let mut x = [0u64; 6];
                    let mut r = Reader::new(m);
                    while let Some((f, v)) = r.next()? {
                        if let (1..=5, Field::Int(n)) = (f, v) {
                            x[f as usize] = n;
                        }
                    }
                    p.mappings.insert(x[1], Mapping { start: x[2], limit: x[3], offset: x[4], file: String::new() });
                    mapping_files.push((x[1], x[5]));
                }
                (4, Field::Bytes(m)) => {
                    let mut l = Location::default();
                    let mut id = 0;
                    let mut r = Reader::new(m);
                    while let Some((f, v)) = r.next()? {
                        match (f, v) {
                            (1, Field::Int(x)) => id = x,
                            (2, Field::Int(x)) => l.mapping = x,
                            (3, Field::Int(x)) => l.address = x,
                            (4, Field::Bytes(line)) => {
                                let mut r = Reader::new(line);
                                while let Some((f, v)) = r.next()? {
                                    if let (1, Field::Int(fid)) = (f, v) {
                                        l.functions.push(fid);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                    p.locations.insert(id, l);
                }
                (5, Field::Bytes(m)) => {
                    let (mut id, mut name) = (0, 0);
                    let mut r = Reader::new(m);
                    while let Some((f, v)) = r.next()? {
                        match (f, v) {
                            (1, Field::Int(x)) => id = x,
                            (2, Field::Int(x)) => name = x,
                            _ => {}
                        }
                    }
                    p.functions.insert(id, name);
                }
                (6, Field::Bytes(s)) => p.strings.push(String::from_utf8_lossy(s).into_owned()),
                (12, Field::Int(x)) => p.period = x,
                _ => {}
            }
        }
        for (id, s) in mapping_files {
            if let (Some(m), Some(name)) = (p.mappings.get_mut(&id), p.strings.get(s as usize)) {
                m.file = name.clone();
            }
        }
        if p.strings.first().map(String::as_str) != Some("") {
            bail!("string table does not start with the empty string");
        }
        Ok(p)
    }

    /// String `i` of the table (`?` when out of range).
    pub fn string(&self, i: u64) -> &str {
        self.strings.get(i as usize).map_or("?", String::as_str)
    }

    /// The index of sample type `name` (`inuse_space`, ...) among each sample's values.
    pub fn value_index(&self, name: &str) -> Option<usize> {
        self.sample_types.iter().position(|&(t, _)| self.string(t) == name)
    }

    /// The sum of sample type `name` over every sample (`inuse_space`: the estimated live
    /// bytes), or None when the profile has no such type.
    pub fn total(&self, name: &str) -> Option<u64> {
        let i = self.value_index(name)?;
        Some(self.samples.iter().map(|(_, v)| v.get(i).copied().unwrap_or(0)).sum())
    }
}

/// A minimal protobuf writer: what the tests that build profiles by hand need.
pub mod encode {
    /// Append `v` as a varint.
    pub fn varint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// Append field `f` as length-delimited bytes `b`.
    pub fn field(out: &mut Vec<u8>, f: u64, b: &[u8]) {
        varint(out, f << 3 | 2);
        varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::encode::{field, varint};

    #[test]
    fn totals_of_a_hand_made_profile() {
        let mut p = Vec::new();
        for s in ["", "inuse_objects", "count", "inuse_space", "bytes"] {
            field(&mut p, 6, s.as_bytes());
        }
        field(&mut p, 1, &[0x08, 1, 0x10, 2]);
        field(&mut p, 1, &[0x08, 3, 0x10, 4]);
        // Two samples, values packed: (objects, bytes); one value above 2^32.
        for (objs, bytes) in [(3u64, 5_000u64), (1, 6_000_000_000)] {
            let mut s = Vec::new();
            field(&mut s, 1, &[1]);
            let mut v = Vec::new();
            varint(&mut v, objs);
            varint(&mut v, bytes);
            field(&mut s, 2, &v);
            field(&mut p, 2, &s);
        }
        varint(&mut p, 12 << 3);
        varint(&mut p, 524_288);
        let prof = Profile::decode(&p).unwrap();
        assert_eq!(prof.total("inuse_space"), Some(6_000_005_000));
        assert_eq!(prof.total("inuse_objects"), Some(4));
        assert_eq!(prof.total("alloc_space"), None);
        assert_eq!(prof.period, 524_288);
        assert!(Profile::decode(&[0x0a, 0x05, 1]).is_err(), "a truncated field is an error, not a panic");
        assert!(Profile::decode(&[0x32, 0x01, b'x']).is_err(), "the string table starts with \"\"");
    }
}
