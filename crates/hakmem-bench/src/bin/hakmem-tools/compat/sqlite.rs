//! sqlite3: `tests/compat/sqlite.sql`, 100k rows (500k with --full), index, query, update,
//! vacuum, and PRAGMA integrity_check.

use super::process::run_measured;
use super::{base_cmd, Ctx, Outcome};
use anyhow::Result;
use hakmem_bench::contestants::Contestant;
use std::fs;
use std::path::Path;
use std::process::Stdio;

const SQLITE_SQL: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat/sqlite.sql"));

pub fn run_sqlite(ctx: &Ctx, col: &Contestant, dir: &Path) -> Result<Outcome> {
    let rows = if ctx.full { "500000" } else { "100000" };
    fs::write(dir.join("sqlite.sql"), SQLITE_SQL.replace("@ROWS@", rows))?;
    let _ = fs::remove_file(dir.join("db.sqlite"));
    let mut c = base_cmd("sqlite3", col);
    c.arg("db.sqlite").stdin(Stdio::null());
    // sqlite3 reads the script with .read (stdin is /dev/null in measured runs)
    c.args(["-cmd", ".read sqlite.sql", ".exit"]);
    let (m, out) = run_measured(c, dir, ctx.timeout)?;
    let _ = fs::remove_file(dir.join("db.sqlite"));
    let mut o = Outcome::from_output(&m, &out, dir);
    if o.ok && !String::from_utf8_lossy(&out).contains("\nok\n") {
        o.ok = false;
        o.detail = "PRAGMA integrity_check did not say ok".into();
    }
    Ok(o)
}
