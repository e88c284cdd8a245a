//! One TrueType font for every chart the CLI draws.
//!
//! plotters is built with `ab_glyph` (pure Rust, no fontconfig/freetype), which lays out
//! text, for SVG as for PNG, with a font registered at run time: take the system's.

use anyhow::{bail, Result};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Register a sans-serif font with plotters (once per process).
pub fn register() -> Result<()> {
    static DONE: OnceLock<()> = OnceLock::new();
    if DONE.get().is_some() {
        return Ok(());
    }
    let mut cands: Vec<PathBuf> = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Ok(o) = std::process::Command::new("fc-match").args(["-f", "%{file}", "sans-serif"]).output() {
        let f = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if f.ends_with(".ttf") {
            cands.push(PathBuf::from(f));
        }
    }
    for c in cands {
        if let Ok(bytes) = std::fs::read(&c) {
            // The font lives for the rest of the process, as plotters' registry requires.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes).is_ok() {
                let _ = DONE.set(());
                return Ok(());
            }
        }
    }
    bail!("--plot needs a TrueType font for its labels; install one with `apt-get install fonts-dejavu-core`")
}
