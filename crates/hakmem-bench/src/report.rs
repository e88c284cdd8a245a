//! Comparison tables: one row per (workload, contestant), as text, Markdown, CSV or JSON.

use crate::runner::{OsCalls, RunOutput};
use crate::stats::{median, Summary};
use serde::Serialize;

/// Everything measured for one contestant on one workload.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ContestantRuns {
    pub name: String,
    pub runs: Vec<RunOutput>,
    pub failures: Vec<String>,
    /// callgrind total instructions and the ops of that run.
    pub instructions: Option<(u64, u64)>,
    /// `strace -c` memory syscalls (whole process) and the ops of that run.
    pub strace: Option<(u64, u64)>,
}

/// One table row.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub workload: String,
    pub allocator: String,
    pub runs: usize,
    pub median_ops_per_sec: f64,
    pub mean_ops_per_sec: f64,
    pub min_ops_per_sec: f64,
    pub max_ops_per_sec: f64,
    pub cv: f64,
    /// Median ops/s over the reference contestant's median (mimalloc when it ran).
    pub ratio_vs_ref: Option<f64>,
    pub reference: Option<String>,
    pub peak_rss_kb: Option<u64>,
    /// The allocator's own mmap+munmap+madvise per op (hakmem only), whole process.
    pub syscalls_per_op: Option<f64>,
    /// The same from the start line to the end of the work: no start-up, no thread exits
    /// (multi-threaded workloads).
    pub timed_syscalls_per_op: Option<f64>,
    pub instructions: Option<u64>,
    pub instructions_per_op: Option<f64>,
    /// mmap/munmap/madvise/mremap/brk/mprotect per op seen by strace (any allocator).
    pub strace_syscalls_per_op: Option<f64>,
    /// Queue workloads: the median share (%) of the producers' and the consumers' time spent
    /// waiting on the queue (checks `producer_blocked_permille`, `consumer_blocked_permille`).
    pub producer_blocked_pct: Option<f64>,
    pub consumer_blocked_pct: Option<f64>,
    pub failures: usize,
}

/// The median of a per-mille check over the runs, as a percentage.
fn check_pct(runs: &[RunOutput], key: &str) -> Option<f64> {
    let v: Vec<f64> = runs.iter().filter_map(|r| r.checks.get(key).map(|&x| x as f64 / 10.0)).collect();
    if v.is_empty() {
        None
    } else {
        Some(median(&v))
    }
}

/// The median over the runs of the OS calls `calls` picks, per op (`None`: no run has them).
fn median_calls_per_op(runs: &[RunOutput], calls: impl Fn(&RunOutput) -> Option<OsCalls>) -> Option<f64> {
    let v: Vec<f64> = runs.iter().filter_map(|r| calls(r).map(|o| o.total() as f64 / r.ops.max(1) as f64)).collect();
    if v.is_empty() {
        None
    } else {
        Some(median(&v))
    }
}

/// Builds rows for one workload. `reference` is the contestant the ratio is taken against;
/// when it did not run, the first contestant with results is used.
pub fn rows(workload: &str, cs: &[ContestantRuns], reference: &str) -> Vec<Row> {
    let med = |c: &ContestantRuns| {
        let v: Vec<f64> = c.runs.iter().map(|r| r.ops_per_sec).collect();
        if v.is_empty() {
            None
        } else {
            Some(median(&v))
        }
    };
    let reference = cs
        .iter()
        .find(|c| c.name == reference && !c.runs.is_empty())
        .or_else(|| cs.iter().find(|c| !c.runs.is_empty()));
    let ref_med = reference.and_then(med);
    cs.iter()
        .map(|c| {
            let ops: Vec<f64> = c.runs.iter().map(|r| r.ops_per_sec).collect();
            let s = Summary::of(&ops);
            let rss: Vec<f64> = c.runs.iter().filter_map(|r| r.peak_rss_kb.map(|k| k as f64)).collect();
            Row {
                workload: workload.to_string(),
                allocator: c.name.clone(),
                runs: c.runs.len(),
                median_ops_per_sec: s.as_ref().map_or(f64::NAN, |s| s.p50),
                mean_ops_per_sec: s.as_ref().map_or(f64::NAN, |s| s.mean),
                min_ops_per_sec: s.as_ref().map_or(f64::NAN, |s| s.min),
                max_ops_per_sec: s.as_ref().map_or(f64::NAN, |s| s.max),
                cv: s.as_ref().map_or(f64::NAN, |s| s.cv),
                ratio_vs_ref: match (s.as_ref(), ref_med) {
                    (Some(s), Some(r)) if r > 0.0 => Some(s.p50 / r),
                    _ => None,
                },
                reference: reference.map(|r| r.name.clone()),
                peak_rss_kb: if rss.is_empty() { None } else { Some(median(&rss).round() as u64) },
                syscalls_per_op: median_calls_per_op(&c.runs, |r| r.os_calls),
                timed_syscalls_per_op: median_calls_per_op(&c.runs, |r| r.os_calls_timed),
                instructions: c.instructions.map(|(ir, _)| ir),
                instructions_per_op: c.instructions.map(|(ir, ops)| ir as f64 / ops.max(1) as f64),
                strace_syscalls_per_op: c.strace.map(|(n, ops)| n as f64 / ops.max(1) as f64),
                producer_blocked_pct: check_pct(&c.runs, "producer_blocked_permille"),
                consumer_blocked_pct: check_pct(&c.runs, "consumer_blocked_permille"),
                failures: c.failures.len(),
            }
        })
        .collect()
}

/// `83.2 M`, `4.26 k`: three significant digits with an SI prefix.
pub fn si(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let (v, p) = if x >= 1e9 {
        (x / 1e9, " G")
    } else if x >= 1e6 {
        (x / 1e6, " M")
    } else if x >= 1e3 {
        (x / 1e3, " k")
    } else {
        (x, " ")
    };
    let s = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    format!("{s}{p}").trim_end().to_string()
}

/// Which optional columns a table has.
#[derive(Clone, Copy)]
struct Extra {
    timed: bool,
    instr: bool,
    strace: bool,
    blocked: bool,
}

fn cells(r: &Row, x: Extra) -> Vec<String> {
    let mut v = vec![
        r.allocator.clone(),
        r.runs.to_string(),
        si(r.median_ops_per_sec),
        si(r.mean_ops_per_sec),
        si(r.min_ops_per_sec),
        if r.cv.is_finite() { format!("{:.2}%", r.cv * 100.0) } else { "-".into() },
        r.ratio_vs_ref.map_or("-".into(), |x| format!("{x:.3}")),
        r.peak_rss_kb.map_or("-".into(), |k| format!("{:.1} MB", k as f64 / 1024.0)),
        r.syscalls_per_op.map_or("-".into(), |x| format!("{x:.2e}")),
    ];
    if x.timed {
        v.push(r.timed_syscalls_per_op.map_or("-".into(), |x| format!("{x:.2e}")));
    }
    if x.blocked {
        v.push(match (r.producer_blocked_pct, r.consumer_blocked_pct) {
            (Some(p), Some(c)) => format!("{p:.1}% / {c:.1}%"),
            _ => "-".into(),
        });
    }
    if x.strace {
        v.push(r.strace_syscalls_per_op.map_or("-".into(), |x| format!("{x:.2e}")));
    }
    if x.instr {
        v.push(r.instructions.map_or("-".into(), |x| si(x as f64)));
        v.push(r.instructions_per_op.map_or("-".into(), |x| format!("{x:.1}")));
    }
    if r.failures > 0 {
        v[0] = format!("{} ({} failed)", r.allocator, r.failures);
    }
    v
}

fn header(rows: &[Row]) -> (Vec<String>, Extra) {
    let x = Extra {
        timed: rows.iter().any(|r| r.timed_syscalls_per_op.is_some()),
        instr: rows.iter().any(|r| r.instructions.is_some()),
        strace: rows.iter().any(|r| r.strace_syscalls_per_op.is_some()),
        blocked: rows.iter().any(|r| r.producer_blocked_pct.is_some()),
    };
    let reference = rows.iter().find_map(|r| r.reference.clone()).unwrap_or_else(|| "ref".into());
    let mut h: Vec<String> =
        ["allocator", "runs", "median ops/s", "mean ops/s", "min ops/s", "CV"].iter().map(|s| s.to_string()).collect();
    h.push(format!("vs {reference}"));
    h.push("peak RSS".into());
    h.push("syscalls/op".into());
    if x.timed {
        h.push("timed syscalls/op".into());
    }
    if x.blocked {
        h.push("blocked P/C".into());
    }
    if x.strace {
        h.push("strace mem calls/op".into());
    }
    if x.instr {
        h.push("instructions".into());
        h.push("instr/op".into());
    }
    (h, x)
}

/// Plain aligned table for a terminal: the first column left, the numbers right.
pub fn text_table(rows: &[Row]) -> String {
    let (h, x) = header(rows);
    plain_table(h, rows.iter().map(|r| cells(r, x)).collect())
}

/// A borderless table (comfy-table), first column left-aligned, the others right-aligned.
pub fn plain_table(header: Vec<String>, body: Vec<Vec<String>>) -> String {
    use comfy_table::{presets::NOTHING, CellAlignment, Table};
    let mut t = Table::new();
    t.load_preset(NOTHING).set_header(header).add_rows(body);
    for (i, c) in t.column_iter_mut().enumerate() {
        // Two spaces between columns, none at the edges.
        c.set_padding((0, 2));
        if i > 0 {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut s: String = t.lines().map(|l| l.trim_end().to_string() + "\n").collect();
    if s.is_empty() {
        s.push('\n');
    }
    s
}

/// GitHub Markdown table.
pub fn markdown_table(rows: &[Row]) -> String {
    let (h, x) = header(rows);
    markdown_grid(&h, &rows.iter().map(|r| cells(r, x)).collect::<Vec<_>>())
}

/// A GitHub Markdown table, first column left-aligned, the others right-aligned.
pub fn markdown_grid(header: &[String], body: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n", header.join(" | "));
    s.push_str(&format!(
        "|{}\n",
        header.iter().enumerate().map(|(i, _)| if i == 0 { " --- |" } else { " ---: |" }).collect::<String>()
    ));
    for r in body {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s
}

/// CSV with every numeric field unformatted.
pub fn csv(rows: &[Row]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ops_per_sec: f64, rss: u64, os: Option<OsCalls>) -> RunOutput {
        RunOutput {
            workload: "w".into(),
            ops: 1000,
            seconds: 1000.0 / ops_per_sec,
            ops_per_sec,
            peak_rss_kb: Some(rss),
            rss_end_kb: None,
            os_calls: os,
            // The timed section made the munmaps and madvises, start-up the mmaps.
            os_calls_timed: os.map(|o| OsCalls { mmap: 0, ..o }),
            params: serde_json::Value::Null,
            checks: Default::default(),
            memory: Default::default(),
            prof: None,
        }
    }

    fn sample() -> Vec<ContestantRuns> {
        vec![
            ContestantRuns {
                name: "hakmem".into(),
                runs: vec![
                    run(90.0, 4096, Some(OsCalls { mmap: 4, munmap: 3, madvise: 3 })),
                    run(110.0, 4096, None),
                    run(100.0, 2048, None),
                ],
                ..Default::default()
            },
            ContestantRuns {
                name: "mimalloc".into(),
                runs: vec![run(80.0, 1024, None), run(80.0, 1024, None)],
                instructions: Some((5000, 1000)),
                strace: Some((50, 1000)),
                ..Default::default()
            },
            ContestantRuns { name: "tcmalloc".into(), failures: vec!["boom".into()], ..Default::default() },
        ]
    }

    #[test]
    fn rows_ratio_rss_syscalls() {
        let rows = rows("w", &sample(), "mimalloc");
        assert_eq!(rows.len(), 3);
        let h = &rows[0];
        assert_eq!(h.median_ops_per_sec, 100.0);
        assert_eq!(h.ratio_vs_ref, Some(1.25));
        assert_eq!(h.peak_rss_kb, Some(4096));
        assert_eq!(h.syscalls_per_op, Some(0.01));
        assert_eq!(h.timed_syscalls_per_op, Some(0.006));
        assert_eq!(rows[1].timed_syscalls_per_op, None);
        let t = text_table(&rows);
        assert!(t.contains("timed syscalls/op") && t.contains("6.00e-3"), "{t}");
        assert_eq!(h.reference.as_deref(), Some("mimalloc"));
        assert_eq!(rows[1].ratio_vs_ref, Some(1.0));
        assert_eq!(rows[1].instructions_per_op, Some(5.0));
        assert_eq!(rows[1].strace_syscalls_per_op, Some(0.05));
        assert_eq!(rows[0].strace_syscalls_per_op, None);
        assert_eq!(rows[2].runs, 0);
        assert_eq!(rows[2].failures, 1);
        assert!(rows[2].ratio_vs_ref.is_none());
    }

    #[test]
    fn reference_falls_back_to_first_with_results() {
        let rows = rows("w", &sample(), "jemalloc");
        assert_eq!(rows[0].reference.as_deref(), Some("hakmem"));
        assert_eq!(rows[1].ratio_vs_ref, Some(0.8));
    }

    #[test]
    fn blocked_column_from_the_checks() {
        let mut cs = sample();
        for (r, (p, c)) in cs[0].runs.iter_mut().zip([(100, 900), (300, 700), (200, 800)]) {
            r.checks.insert("producer_blocked_permille".into(), p);
            r.checks.insert("consumer_blocked_permille".into(), c);
        }
        let rows = rows("w", &cs, "mimalloc");
        assert_eq!((rows[0].producer_blocked_pct, rows[0].consumer_blocked_pct), (Some(20.0), Some(80.0)));
        assert_eq!(rows[1].producer_blocked_pct, None);
        let t = text_table(&rows);
        assert!(t.lines().next().unwrap().contains("blocked P/C"), "{t}");
        assert!(t.contains("20.0% / 80.0%"), "{t}");
        assert!(!text_table(&super::rows("w", &sample(), "mimalloc")).contains("blocked"));
    }

    #[test]
    fn formats() {
        assert_eq!(si(83_240_000.0), "83.2 M");
        assert_eq!(si(4_260.3), "4.26 k");
        assert_eq!(si(512.0), "512");
        assert_eq!(si(f64::NAN), "-");
        let rows = rows("w", &sample(), "mimalloc");
        let t = text_table(&rows);
        let head = t.lines().next().unwrap();
        assert!(
            head.contains("vs mimalloc") && head.contains("strace mem calls/op") && head.contains("instr/op"),
            "{head}"
        );
        assert!(t.contains("tcmalloc (1 failed)"));
        assert!(t.lines().nth(1).unwrap().starts_with("hakmem  "), "{t}");
        let md = markdown_table(&rows);
        assert_eq!(md.lines().count(), 2 + 3);
        assert!(md.lines().nth(2).unwrap().starts_with("| hakmem | 3 | 100 |"));
        let c = csv(&rows).unwrap();
        assert!(c.starts_with("workload,allocator,runs,median_ops_per_sec"));
        assert_eq!(c.lines().count(), 4);
    }
}
