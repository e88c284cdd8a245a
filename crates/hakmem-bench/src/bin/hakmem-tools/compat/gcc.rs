//! gcc: `tests/compat/gcc.sh` compiles the multi-file C program `cprog/` at -O2 and -O0 and
//! runs it.

use super::{run_script, Ctx, Outcome};
use anyhow::Result;
use hakmem_bench::contestants::Contestant;
use std::fs;
use std::path::Path;

const GCC_SH: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat/gcc.sh"));
const CPROG: &[(&str, &str)] = &[
    ("common.h", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat/cprog/common.h"))),
    ("util.c", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat/cprog/util.c"))),
    ("strtab.c", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat/cprog/strtab.c"))),
    ("vec.c", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat/cprog/vec.c"))),
    ("tree.c", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat/cprog/tree.c"))),
    ("main.c", include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat/cprog/main.c"))),
];

pub fn run_gcc(ctx: &Ctx, col: &Contestant, dir: &Path) -> Result<Outcome> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir.join("cprog"))?;
    for (name, text) in CPROG {
        fs::write(dir.join("cprog").join(name), text)?;
    }
    run_script(ctx, col, dir, "gcc.sh", GCC_SH, if ctx.full { "3" } else { "1" })
}
