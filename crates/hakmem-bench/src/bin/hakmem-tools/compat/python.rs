//! python3: `tests/compat/py_alloc.py` (dicts, lists, strings, sets, objects, threads), and
//! CPython's own regression tests on allocation-heavy modules, compared case by case.

use super::process::{run_measured, Exit};
use super::{base_cmd, which, Ctx, Outcome};
use anyhow::{Context, Result};
use hakmem_bench::contestants::Contestant;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PY_ALLOC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat/py_alloc.py"));

/// CPython regression-test modules that stress allocation (bounded run).
const CPY_TESTS: &[&str] = &[
    "test_dict",
    "test_list",
    "test_set",
    "test_unicode",
    "test_json",
    "test_pickle",
    "test_re",
    "test_threading",
    "test_bytes",
    "test_collections",
    "test_deque",
    "test_tuple",
];
/// Added by `--full`.
const CPY_TESTS_FULL: &[&str] = &[
    "test_itertools",
    "test_gc",
    "test_weakref",
    "test_decimal",
    "test_ast",
    "test_marshal",
    "test_zlib",
    "test_hashlib",
    "test_codecs",
    "test_heapq",
    "test_array",
    "test_ordered_dict",
    "test_struct",
    "test_memoryview",
    "test_copy",
    "test_string",
    "test_sort",
    "test_float",
    "test_long",
    "test_queue",
    "test_functools",
    "test_enum",
];

/// A python3 whose `test` package holds the regression tests; the real executable, not a
/// pyenv shell shim (so the program measured is python itself).
pub fn find_python() -> Option<PathBuf> {
    let mut cands: Vec<PathBuf> = vec![PathBuf::from("/usr/bin/python3")];
    if let Some(p) = which("python3") {
        cands.push(p);
    }
    for c in cands {
        let Ok(out) = Command::new(&c)
            .args(["-c", "import sys, test.test_dict; print(sys.executable)"])
            .env_remove("LD_PRELOAD")
            .stderr(Stdio::null())
            .output()
        else {
            continue;
        };
        if out.status.success() {
            let exe = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !exe.is_empty() && Path::new(&exe).is_file() {
                return Some(PathBuf::from(exe));
            }
        }
    }
    None
}

pub fn cpy_tests(full: bool) -> Vec<&'static str> {
    let mut v = CPY_TESTS.to_vec();
    if full {
        v.extend_from_slice(CPY_TESTS_FULL);
    }
    v
}

pub fn run_python(ctx: &Ctx, col: &Contestant, dir: &Path) -> Result<Outcome> {
    let py = ctx.python.as_ref().context("no python")?;
    fs::write(dir.join("py_alloc.py"), PY_ALLOC)?;
    let mut c = base_cmd(py, col);
    c.args(["py_alloc.py", if ctx.full { "4" } else { "1" }]);
    let (m, out) = run_measured(c, dir, ctx.timeout)?;
    let mut o = Outcome::from_output(&m, &out, dir);
    if o.ok && !String::from_utf8_lossy(&out).ends_with("done\n") {
        o.ok = false;
        o.detail = "output does not end with `done`".into();
    }
    Ok(o)
}

/// One line per test case: `name status result [failure|error]`, from regrtest's JUnit XML.
fn junit_cases(xml: &str) -> Vec<String> {
    fn attr(chunk: &str, key: &str) -> String {
        let pat = format!("{key}=\"");
        chunk.find(&pat).and_then(|i| chunk[i + pat.len()..].split('"').next()).unwrap_or("").to_string()
    }
    let mut v = Vec::new();
    for chunk in xml.split("<testcase ").skip(1) {
        let head_end = chunk.find('>').unwrap_or(chunk.len());
        let head = &chunk[..head_end];
        let body_end = chunk.find("</testcase>").unwrap_or(head_end);
        let body = if head.ends_with('/') { "" } else { &chunk[..body_end] };
        let mut line = format!("{} {} {}", attr(head, "name"), attr(head, "status"), attr(head, "result"));
        if body.contains("<failure") {
            line.push_str(" FAILURE");
        }
        if body.contains("<error") {
            line.push_str(" ERROR");
        }
        if body.contains("<skipped") {
            line.push_str(" skipped");
        }
        v.push(line);
    }
    v.sort();
    v
}

pub fn run_cpython_tests(ctx: &Ctx, col: &Contestant, dir: &Path) -> Result<Outcome> {
    let py = ctx.python.as_ref().context("no python")?;
    let tests = cpy_tests(ctx.full);
    let mut c = base_cmd(py, col);
    c.args(["-m", "test", "--junit-xml", "junit.xml"]).args(&tests);
    let (m, out) = run_measured(c, dir, ctx.timeout)?;
    let xml = fs::read_to_string(dir.join("junit.xml")).unwrap_or_default();
    let cases = junit_cases(&xml);
    let text = String::from_utf8_lossy(&out);
    // The module-level verdicts of regrtest's summary ("3 tests OK.", "1 test failed: ...").
    let mut summary_lines = Vec::new();
    if let Some(i) = text.rfind("== Tests result") {
        for l in text[i..].lines() {
            if !l.starts_with("Total duration") && !l.trim().is_empty() {
                summary_lines.push(l.trim().to_string());
            }
        }
    }
    let bad = cases.iter().filter(|c| c.contains("FAILURE") || c.contains("ERROR")).count();
    let skipped = cases.iter().filter(|c| c.contains("skipped")).count();
    let ok = m.exit == Exit::Code(0) && !cases.is_empty() && bad == 0;
    let summary = if m.exit == Exit::Timeout || matches!(m.exit, Exit::Signal(_)) {
        format!("{} after {} cases", m.exit, cases.len())
    } else {
        format!("{} pass {} fail {} skip", cases.len() - bad - skipped, bad, skipped)
    };
    let detail = if ok {
        String::new()
    } else {
        let failed: Vec<&String> =
            cases.iter().filter(|c| c.contains("FAILURE") || c.contains("ERROR")).take(5).collect();
        format!("{}; {}; {:?}", m.exit, summary_lines.join(" "), failed)
    };
    let result = format!("{}\n{}\n{}", m.exit, summary_lines.join("\n"), cases.join("\n"));
    Ok(Outcome::measured(&m, result, summary, ok, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_cases_reads_outcomes() {
        let xml = r#"<testsuites tests="3"><testsuite tests="3">
<testcase name="test.test_a.T.test_ok" status="run" result="completed" time="0.1" />
<testcase name="test.test_a.T.test_bad" status="run" result="completed" time="0.2"><failure type="AssertionError">boom</failure></testcase>
<testcase name="test.test_a.T.test_skip" status="skipped" result="skipped" time="0.0"><skipped>no</skipped></testcase>
</testsuite></testsuites>"#;
        let v = junit_cases(xml);
        assert_eq!(
            v,
            vec![
                "test.test_a.T.test_bad run completed FAILURE",
                "test.test_a.T.test_ok run completed",
                "test.test_a.T.test_skip skipped skipped skipped",
            ]
        );
        assert!(junit_cases("").is_empty());
    }
}
