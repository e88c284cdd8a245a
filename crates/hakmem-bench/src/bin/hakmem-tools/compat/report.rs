//! The compat report: one row per program, one cell per allocator, as text or Markdown.

use super::process::mib;
use super::Outcome;
use hakmem_bench::contestants::Contestant;
use std::fmt::Write as _;

pub struct Row {
    pub program: String,
    pub what: String,
    pub skipped: Option<String>,
    pub cells: Vec<Outcome>,
}

fn verdict(row: &Row, cols: &[Contestant], i: usize) -> &'static str {
    if row.cells[i].result == row.cells[0].result {
        "same"
    } else if cols[i].is_hakmem() {
        "DIFFERS"
    } else {
        "differs"
    }
}

pub fn render(rows: &[Row], cols: &[Contestant], notes: &[String], header: &str, markdown: bool) -> String {
    let mut s = String::new();
    let mut head = vec!["program".to_string()];
    for c in cols {
        head.push(c.name.clone());
    }
    let mut body: Vec<Vec<String>> = Vec::new();
    for r in rows {
        let mut line = vec![r.program.clone()];
        if let Some(why) = &r.skipped {
            line.push(format!("skipped: {why}"));
            body.push(line);
            continue;
        }
        for (i, c) in r.cells.iter().enumerate() {
            let v = if i == 0 { String::new() } else { format!(" [{}]", verdict(r, cols, i)) };
            line.push(format!("{}, {:.2} s ({:.2} s cpu), {}{v}", c.summary, c.wall, c.cpu, mib(c.maxrss_kb)));
        }
        body.push(line);
    }
    if markdown {
        let _ = writeln!(s, "{header}\n");
        let _ = writeln!(s, "Each cell: result, wall time (CPU time of the program's processes), peak RSS; [same] when the result equals glibc's.\n");
        let _ = writeln!(s, "| {} |", head.join(" | "));
        let _ = writeln!(s, "|{}|", head.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
        for l in &body {
            let mut l = l.clone();
            l.resize(head.len(), String::new());
            let _ = writeln!(s, "| {} |", l.join(" | "));
        }
    } else {
        let _ = writeln!(s, "{header} -- each cell: result, wall time (cpu time), peak RSS [verdict against glibc]");
        let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
        for l in body.iter().filter(|l| l.len() == head.len()) {
            for (i, c) in l.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        for l in std::iter::once(&head).chain(body.iter()) {
            let line: Vec<String> = l.iter().enumerate().map(|(i, c)| format!("{:<w$}", c, w = w[i])).collect();
            let _ = writeln!(s, "{}", line.join("  ").trim_end());
        }
    }
    // what each program ran
    let _ = writeln!(s);
    for r in rows {
        let _ = writeln!(s, "{}{}: {}", if markdown { "- " } else { "  " }, r.program, r.what);
    }
    // extra measurements (redis)
    for r in rows.iter().filter(|r| r.skipped.is_none() && r.cells.iter().any(|c| !c.metrics.is_empty())) {
        let mut keys: Vec<String> = Vec::new();
        for c in &r.cells {
            for (k, _) in &c.metrics {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        let _ = writeln!(s);
        if markdown {
            let _ = writeln!(s, "{} measurements:\n", r.program);
            let _ =
                writeln!(s, "| measure | {} |", cols.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(" | "));
            let _ = writeln!(s, "|---|{}|", cols.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
        } else {
            let _ = writeln!(s, "{} measurements:", r.program);
            let _ = writeln!(
                s,
                "  {:<24}{}",
                "measure",
                cols.iter().map(|c| format!("{:>16}", c.name)).collect::<String>()
            );
        }
        for k in &keys {
            let vals: Vec<String> = r
                .cells
                .iter()
                .map(|c| c.metrics.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.clone()).unwrap_or_else(|| "-".into()))
                .collect();
            if markdown {
                let _ = writeln!(s, "| {k} | {} |", vals.join(" | "));
            } else {
                let _ = writeln!(s, "  {:<24}{}", k, vals.iter().map(|v| format!("{v:>16}")).collect::<String>());
            }
        }
    }
    // failures, in full
    let mut problems = Vec::new();
    for r in rows.iter().filter(|r| r.skipped.is_none()) {
        for (i, c) in r.cells.iter().enumerate() {
            let differs = i > 0 && c.result != r.cells[0].result;
            if !c.ok || differs {
                problems.push(format!(
                    "{} under {}: {}{}{}",
                    r.program,
                    cols[i].name,
                    c.summary,
                    if differs { " (result differs from glibc)" } else { "" },
                    if c.detail.is_empty() { String::new() } else { format!(": {}", c.detail) }
                ));
            }
        }
    }
    for r in rows.iter().filter(|r| r.skipped.is_none()) {
        for (i, c) in r.cells.iter().enumerate() {
            for m in c.messages.iter().take(5) {
                problems.push(format!("{} under {}: the allocator said: {m}", r.program, cols[i].name));
            }
        }
    }
    if !problems.is_empty() {
        let _ = writeln!(s, "\nproblems:");
        for p in problems {
            let _ = writeln!(s, "{}{p}", if markdown { "- " } else { "  " });
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(s, "\nnotes:");
        for n in notes {
            let _ = writeln!(s, "{}{n}", if markdown { "- " } else { "  " });
        }
    }
    s
}

pub fn first_diff_line(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: glibc {:?} vs {:?}", i + 1, trunc(x), trunc(y));
        }
    }
    format!("glibc has {} lines, this run {}", a.lines().count(), b.lines().count())
}

fn trunc(s: &str) -> String {
    s.chars().take(120).collect()
}
