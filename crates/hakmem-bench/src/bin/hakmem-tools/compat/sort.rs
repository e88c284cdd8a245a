//! GNU sort three ways over a generated file of 1M lines (5M with --full).

use super::process::run_measured;
use super::{base_cmd, Ctx, Outcome};
use anyhow::Result;
use hakmem_bench::contestants::Contestant;
use std::fs;
use std::io::Write;
use std::path::Path;

const SORT_SH: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat/sort.sh"));

pub fn sort_lines(full: bool) -> usize {
    if full {
        5_000_000
    } else {
        1_000_000
    }
}

/// The sort input: deterministic lines of words and numbers, some duplicates, varied lengths.
fn sort_input(path: &Path, lines: usize) -> Result<()> {
    if path.is_file() {
        return Ok(());
    }
    let mut w = std::io::BufWriter::new(fs::File::create(path)?);
    let mut x: u32 = 1234567;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    const WORDS: &[&str] = &[
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
        "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    ];
    for i in 0..lines {
        let r = next();
        let a = WORDS[(r % 20) as usize];
        let b = WORDS[((r >> 5) % 20) as usize];
        let pad = "x".repeat(((r >> 10) % 40) as usize);
        // every 10th line repeats an earlier key, so sort -u has work to do
        let key = if i % 10 == 0 { (r >> 8) % 1000 } else { r };
        writeln!(w, "{a}{b}{pad} {key:x} {} {}", (r >> 3) % 100_000, i % 7)?;
    }
    w.flush()?;
    Ok(())
}

pub fn run_sort(ctx: &Ctx, col: &Contestant, dir: &Path) -> Result<Outcome> {
    let input = ctx.inputs.join(format!("sort-{}.txt", sort_lines(ctx.full)));
    sort_input(&input, sort_lines(ctx.full))?;
    let local = dir.join("input.txt");
    let _ = fs::remove_file(&local);
    fs::hard_link(&input, &local).or_else(|_| fs::copy(&input, &local).map(|_| ()))?;
    fs::write(dir.join("sort.sh"), SORT_SH)?;
    let mut c = base_cmd("sh", col);
    c.arg("sort.sh");
    let (m, out) = run_measured(c, dir, ctx.timeout)?;
    for f in ["input.txt", "s1.txt", "s2.txt", "s3.txt"] {
        let _ = fs::remove_file(dir.join(f));
    }
    Ok(Outcome::from_output(&m, &out, dir))
}
