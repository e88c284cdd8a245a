//! The memory section of `hakmem bench --memory`: what the runs of the memory workloads
//! (`burst`, `fit`) and every workload's peak RSS say, as tables of measurements × contestants.
//!
//! - Burst given back: RSS held after free = RSS at each idle time − RSS before the burst (MB).
//! - Fit: RSS over the live requested bytes, [`fit::overhead`], in %.
//! - Peak RSS: the median VmHWM of [`report::rows`], in MB.
//!
//! Every cell is the median over the contestant's runs; MB are 2^20 bytes, as in the main table.

use crate::report::{self, ContestantRuns};
use crate::runner::RunOutput;
use crate::stats::median;
use crate::workloads::{burst, fit};
use serde::Serialize;

/// One workload of the section (a workload name with its options) and its runs.
pub struct Measured<'a> {
    pub workload: &'a str,
    pub cs: &'a [ContestantRuns],
}

/// A table: one row per measurement, one column per contestant.
#[derive(Clone, Debug, Serialize)]
pub struct Grid {
    pub title: String,
    /// The first column's heading.
    pub what: String,
    pub unit: &'static str,
    pub contestants: Vec<String>,
    pub rows: Vec<GridRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GridRow {
    pub label: String,
    /// Median per contestant; None where it has no run.
    pub cells: Vec<Option<f64>>,
}

/// `16 B`, `1 KiB`, `32 KiB`, `1.5 KiB`.
pub fn fmt_size(b: u64) -> String {
    if b >= 1024 && b % 1024 == 0 {
        format!("{} KiB", b / 1024)
    } else if b >= 1024 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        format!("{b} B")
    }
}

/// The row name of a memory workload run from its parameters: `burst`, `burst, 32 threads`,
/// `fit 16 B – 1 KiB`; other workloads by name.
pub fn label(workload: &str, params: &serde_json::Value) -> String {
    let u = |k: &str| params.get(k).and_then(|v| v.as_u64());
    match workload {
        "burst" => match u("threads") {
            Some(t) if t > 0 => format!("burst, {t} threads"),
            _ => "burst".into(),
        },
        "fit" => match (u("min_size"), u("max_size")) {
            (Some(a), Some(b)) => format!("fit {} – {}", fmt_size(a), fmt_size(b)),
            _ => "fit".into(),
        },
        w => w.into(),
    }
}

/// RSS held after the last free, per idle time (ms), in KiB: RSS(t) − RSS(before).
pub fn held_after_free(r: &RunOutput) -> Vec<(u64, f64)> {
    let Some(before) = r.memory.get("rss_before_kb") else { return vec![] };
    let idle: Vec<u64> =
        r.params.get("idle_ms").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
    idle.into_iter().filter_map(|ms| Some((ms, *r.memory.get(&burst::idle_key(ms))? as f64 - *before as f64))).collect()
}

/// The fit overhead of one run (0.12 = 12%), if it is a fit run.
pub fn fit_overhead(r: &RunOutput) -> Option<f64> {
    let m = &r.memory;
    Some(fit::overhead(*m.get("baseline_rss_kb")?, *m.get("rss_kb")?, *m.get("live_bytes")?))
}

fn med(v: Vec<f64>) -> Option<f64> {
    let v: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| median(&v))
}

fn params_of(cs: &[ContestantRuns]) -> serde_json::Value {
    cs.iter().flat_map(|c| c.runs.first()).map(|r| r.params.clone()).next().unwrap_or_default()
}

/// The section's tables: burst given back (when a burst ran), fit (when a fit ran), peak RSS.
pub fn grids(measured: &[Measured]) -> Vec<Grid> {
    let names: Vec<String> =
        measured.first().map(|m| m.cs.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
    let grid = |title: &str, what: &str, unit: &'static str| Grid {
        title: title.into(),
        what: what.into(),
        unit,
        contestants: names.clone(),
        rows: vec![],
    };
    let mut held = grid("Burst given back: RSS held after free", "workload, idle after the last free", "MB");
    let mut fit = grid("Fit: RSS over the live requested bytes", "sizes", "%");
    let mut peak = grid("Peak RSS", "workload", "MB");
    for m in measured {
        let params = params_of(m.cs);
        let name = label(m.workload, &params);
        if m.workload == "burst" {
            let idle: Vec<u64> =
                params.get("idle_ms").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
            for ms in idle {
                let cells =
                    m.cs.iter()
                        .map(|c| {
                            let v = c.runs.iter().flat_map(held_after_free).filter(|&(t, _)| t == ms);
                            med(v.map(|(_, kb)| kb / 1024.0).collect())
                        })
                        .collect();
                held.rows.push(GridRow { label: format!("{name}, {}", fmt_secs(ms)), cells });
            }
        }
        if m.workload == "fit" {
            let cells =
                m.cs.iter().map(|c| med(c.runs.iter().filter_map(fit_overhead).map(|x| x * 100.0).collect())).collect();
            fit.rows.push(GridRow { label: name.trim_start_matches("fit ").to_string(), cells });
        }
        let cells =
            report::rows(m.workload, m.cs, "").into_iter().map(|r| r.peak_rss_kb.map(|k| k as f64 / 1024.0)).collect();
        peak.rows.push(GridRow { label: name, cells });
    }
    [held, fit, peak].into_iter().filter(|g| !g.rows.is_empty()).collect()
}

/// `0 s`, `1 s`, `0.25 s`.
fn fmt_secs(ms: u64) -> String {
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{} s", ms as f64 / 1000.0)
    }
}

fn cell(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "-".into(),
        Some(x) if unit == "%" => format!("{x:.1}%"),
        Some(x) => format!("{x:.1} MB"),
    }
}

fn table(g: &Grid) -> (Vec<String>, Vec<Vec<String>>) {
    let header = std::iter::once(g.what.clone()).chain(g.contestants.iter().cloned()).collect();
    let body = g
        .rows
        .iter()
        .map(|r| std::iter::once(r.label.clone()).chain(r.cells.iter().map(|&c| cell(c, g.unit))).collect())
        .collect();
    (header, body)
}

/// The tables for a terminal, each under its title.
pub fn text(grids: &[Grid]) -> String {
    grids
        .iter()
        .map(|g| {
            let (h, b) = table(g);
            format!("{}\n{}\n", g.title, report::plain_table(h, b))
        })
        .collect()
}

/// The tables in Markdown, each under a `###` heading.
pub fn markdown(grids: &[Grid]) -> String {
    grids
        .iter()
        .map(|g| {
            let (h, b) = table(g);
            format!("### {}\n\n{}\n", g.title, report::markdown_grid(&h, &b))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn out(workload: &str, params: serde_json::Value, mem: &[(&str, u64)], peak: u64) -> RunOutput {
        RunOutput {
            workload: workload.into(),
            ops: 10,
            seconds: 1.0,
            ops_per_sec: 10.0,
            peak_rss_kb: Some(peak),
            rss_end_kb: None,
            os_calls: None,
            os_calls_timed: None,
            params,
            checks: BTreeMap::new(),
            memory: mem.iter().map(|&(k, v)| (k.to_string(), v)).collect(),
            prof: None,
        }
    }

    fn burst_run(idle0: u64, idle1000: u64) -> RunOutput {
        out(
            "burst",
            serde_json::json!({"idle_ms": [0, 1000], "threads": 32, "total_mb": 300.0}),
            &[("rss_before_kb", 1024), ("rss_idle_0ms_kb", idle0), ("rss_idle_1000ms_kb", idle1000)],
            300 * 1024,
        )
    }

    fn fit_run(rss_kb: u64) -> RunOutput {
        // 1 MiB live; baseline 1000 KiB.
        out(
            "fit",
            serde_json::json!({"min_size": 16, "max_size": 1024, "blocks": 4}),
            &[("baseline_rss_kb", 1000), ("rss_kb", rss_kb), ("live_bytes", 1 << 20)],
            rss_kb,
        )
    }

    #[test]
    fn labels_and_sizes() {
        assert_eq!(fmt_size(16), "16 B");
        assert_eq!(fmt_size(1024), "1 KiB");
        assert_eq!(fmt_size(32768), "32 KiB");
        assert_eq!(fmt_size(1536), "1.5 KiB");
        assert_eq!(label("burst", &serde_json::json!({"threads": 0})), "burst");
        assert_eq!(label("burst", &serde_json::json!({"threads": 32})), "burst, 32 threads");
        assert_eq!(label("fit", &serde_json::json!({"min_size": 513, "max_size": 1024})), "fit 513 B – 1 KiB");
        assert_eq!(label("random-mixed", &serde_json::Value::Null), "random-mixed");
    }

    #[test]
    fn held_and_overhead_of_one_run() {
        assert_eq!(held_after_free(&burst_run(3072, 2048)), vec![(0, 2048.0), (1000, 1024.0)]);
        assert_eq!(held_after_free(&fit_run(3000)), vec![]);
        // RSS grew by 1280 KiB for 1 MiB asked: 25%.
        assert!((fit_overhead(&fit_run(2280)).unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(fit_overhead(&burst_run(1, 1)), None);
    }

    #[test]
    fn grids_take_medians_per_contestant() {
        let bursts = vec![
            ContestantRuns {
                name: "a".into(),
                runs: vec![burst_run(3072, 2048), burst_run(5120, 1024), burst_run(4096, 1024)],
                ..Default::default()
            },
            ContestantRuns { name: "b".into(), failures: vec!["boom".into()], ..Default::default() },
        ];
        let fits = vec![
            ContestantRuns { name: "a".into(), runs: vec![fit_run(2280), fit_run(2024)], ..Default::default() },
            ContestantRuns { name: "b".into(), runs: vec![fit_run(3048)], ..Default::default() },
        ];
        let g = grids(&[Measured { workload: "burst", cs: &bursts }, Measured { workload: "fit", cs: &fits }]);
        assert_eq!(g.len(), 3);
        let (held, fit, peak) = (&g[0], &g[1], &g[2]);
        assert_eq!(held.contestants, ["a", "b"]);
        assert_eq!(held.rows[0].label, "burst, 32 threads, 0 s");
        assert_eq!(held.rows[0].cells, vec![Some(3.0), None], "median of 2, 4, 3 MB");
        assert_eq!(held.rows[1].label, "burst, 32 threads, 1 s");
        assert_eq!(held.rows[1].cells, vec![Some(0.0), None]);
        assert_eq!(fit.rows[0].label, "16 B – 1 KiB");
        // a: 25% and 0% → 12.5%; b: 100%.
        assert_eq!(fit.rows[0].cells, vec![Some(12.5), Some(100.0)]);
        assert_eq!(peak.rows.len(), 2);
        assert_eq!(peak.rows[0].cells, vec![Some(300.0), None]);
        let t = text(&g);
        assert!(t.contains("Burst given back") && t.contains("12.5%") && t.contains("3.0 MB"), "{t}");
        let md = markdown(&g);
        assert!(md.contains("### Fit: RSS over the live requested bytes"), "{md}");
        assert!(md.contains("| 16 B – 1 KiB | 12.5% | 100.0% |"), "{md}");
        assert!(md.contains("| burst, 32 threads, 0 s | 3.0 MB | - |"), "{md}");
    }
}
