//! `ops history`, `ops show RUN` and `ops audit verify RUN`: runs read back from the
//! journals (and the run index that lists them).

use std::io::Write;
use std::path::{Path, PathBuf};

use interpreter::event::{Event, Reporter};
use interpreter::journal::{self, Journal};
use interpreter::run_report::{MarkdownReport, Terminal};

use crate::cli::{
    AuditArgs, AuditCommand, Cli, EXIT_FAILED, EXIT_USAGE, HistoryArgs, PlanFormat, ShowArgs,
};
use crate::index::{Index, Row};
use crate::resume::state_here;

/// Runs `ops history`.
pub fn history(args: &HistoryArgs) -> i32 {
    let state = state_here(args.state_dir.as_deref());
    let rows = match rows(&state, args.runbook.as_deref(), args.limit) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("ops history: {e}");
            return EXIT_USAGE;
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::to_string_pretty(&rows).unwrap_or_default();
        let _ = writeln!(out, "{json}");
        return 0;
    }
    if rows.is_empty() {
        let _ = writeln!(out, "no runs in {}", state.display());
        return 0;
    }
    let table: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            let outcome = match (r.exit_code, r.resumes) {
                (Some(code), 0) => format!("{} (exit {code})", r.status),
                (Some(code), n) => format!("{} (exit {code}, resumed {n}×)", r.status),
                (None, _) => r.status.clone(),
            };
            [
                r.run.clone(),
                r.runbook.clone(),
                format!("{}@{}", r.user, r.host),
                r.started
                    .chars()
                    .take(19)
                    .collect::<String>()
                    .replace('T', " "),
                r.duration_ms
                    .map(|ms| {
                        lang::fmt::duration(std::time::Duration::from_millis(ms.max(0) as u64))
                    })
                    .unwrap_or_else(|| "-".into()),
                outcome,
                r.approvals.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let head = [
        "RUN",
        "RUNBOOK",
        "WHO",
        "STARTED (UTC)",
        "DURATION",
        "OUTCOME",
        "APPROVALS",
    ];
    let mut widths = head.map(str::len);
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s
    };
    let _ = writeln!(out, "{}", line(head.to_vec()));
    for row in &table {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
    0
}

/// The index's rows (after adding journals it lacks), with runs whose process is gone
/// shown as `died`.
fn rows(state: &Path, runbook: Option<&str>, limit: usize) -> Result<Vec<Row>, String> {
    let mut index = Index::open(state)?;
    index.sweep(state)?;
    let mut rows = index.list(runbook, limit)?;
    let here = crate::state::hostname();
    for row in rows.iter_mut().filter(|r| r.status == "running") {
        if row.host == here && !alive(row.pid) {
            row.status = "died (no end recorded)".into();
        }
    }
    Ok(rows)
}

/// True when process `pid` is an `ops` still running.
fn alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            c.split(|b| *b == 0)
                .next()
                .is_some_and(|a| a.ends_with(b"ops"))
        })
        .unwrap_or(false)
}

/// A run id as given, `last` being the latest run.
fn resolve(state: &Path, run: &str) -> Result<String, String> {
    if run == "last" {
        let mut index = Index::open(state)?;
        index.sweep(state)?;
        return index
            .list(None, 1)?
            .into_iter()
            .next()
            .map(|r| r.run)
            .filter(|r| journal::valid_run_id(r))
            .ok_or_else(|| format!("no runs in {}", state.display()));
    }
    if !journal::valid_run_id(run) {
        return Err(format!("`{run}` is not a run id"));
    }
    Ok(run.to_string())
}

fn journal_of(state: &Path, run: &str) -> Result<(String, PathBuf, Journal), String> {
    let run = resolve(state, run)?;
    let path = journal::path(state, &run);
    let j = Journal::read(&path)?;
    Ok((run, path, j))
}

/// Runs `ops show RUN`.
pub fn show(cli: &Cli, args: &ShowArgs) -> i32 {
    let state = state_here(args.state_dir.as_deref());
    let (run, _, j) = match journal_of(&state, &args.run) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("ops show: {e}");
            return EXIT_USAGE;
        }
    };
    let verdict = journal::check(&j, &run);
    if !verdict.ok() {
        eprintln!(
            "ops show: warning: the journal of run {run} does not verify (`ops audit verify {run}`)"
        );
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        PlanFormat::Json => {
            for r in &j.records {
                let _ = writeln!(out, "{}", r.json);
            }
        }
        PlanFormat::Md => {
            let started = j.records.first().map(|r| r.at.clone()).unwrap_or_default();
            let mut report = MarkdownReport::new(None, None, started);
            for (_, event) in events(&j) {
                if let Some(e) = event {
                    report.event(&e);
                }
            }
            let _ = write!(out, "{}", report.markdown());
        }
        PlanFormat::Human => {
            if let Some(h) = j.header() {
                let _ = writeln!(
                    out,
                    "run {run} of `{}` ({}) by {}@{} (pid {})",
                    h.runbook, h.file, h.user, h.host, h.pid
                );
            }
            drop(out);
            let mut term = Terminal::new(std::io::stdout(), cli.color.enabled());
            for (record, event) in events(&j) {
                match event {
                    Some(e) => term.event(&e),
                    None => {
                        let _ = writeln!(term.out_mut(), "  · {}", note(record));
                    }
                }
            }
        }
    }
    0
}

/// Every record after the header: a run event, or a journal note (`None`).
fn events(j: &Journal) -> impl Iterator<Item = (&journal::Record, Option<Event>)> {
    j.records
        .iter()
        .skip(1)
        .map(|r| (r, serde_json::from_value::<Event>(r.json.clone()).ok()))
}

fn note(r: &journal::Record) -> String {
    let j = &r.json;
    let s = |k: &str| j[k].as_str().unwrap_or_default().to_string();
    match r.event.as_str() {
        "resumed" => format!(
            "{}: resumed by {}@{} (pid {}); {} steps done earlier, re-running {}",
            r.at,
            s("user"),
            s("host"),
            j["pid"],
            j["reused"].as_array().map_or(0, Vec::len),
            j["rerun"]
        ),
        "lock_taken_over" => format!(
            "{}: took over lock `{}` from run {} (pid {}), which ended without releasing it",
            r.at,
            s("lock"),
            s("from_run"),
            j["from_pid"]
        ),
        "torn_line_dropped" => format!(
            "{}: a torn line {} (a crash while writing it) was cut; its sha256 was {}",
            r.at,
            j["line"],
            s("sha256")
        ),
        other => format!("{}: {other}", r.at),
    }
}

/// Runs `ops audit verify RUN`: exit 0 when the chain holds, 1 when it does not.
pub fn audit(args: &AuditArgs) -> i32 {
    let AuditCommand::Verify { run, state_dir } = &args.command;
    let state = state_here(state_dir.as_deref());
    let (run, path, j) = match journal_of(&state, run) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("ops audit: {e}");
            return EXIT_USAGE;
        }
    };
    let mut verdict = journal::check(&j, &run);
    // The chain cannot show records cut from its end: the index kept the head.
    if let Ok(Some(row)) = Index::open(&state).and_then(|i| i.get(&run))
        && let (Some(records), Some(head)) = (row.records, row.head.as_deref())
    {
        match j.records.iter().find(|r| i64::try_from(r.seq + 1).ok() == Some(records)) {
                None => verdict.problems.push(format!(
                    "the index recorded {records} records when the run last ended, the journal has {}: records were cut from its end",
                    verdict.records
                )),
                Some(r) if j.line_hashes[r.line - 1] != head => verdict.problems.push(format!(
                    "line {}: record seq {} is not the one the index recorded as the last when the run ended: it was edited",
                    r.line, r.seq
                )),
                Some(_) => {}
            }
    }
    for n in &verdict.notes {
        eprintln!("ops audit: note: {n}");
    }
    if verdict.ok() {
        println!(
            "journal of run {run} ({}): {} records, chain intact, head sha256:{}",
            path.display(),
            verdict.records,
            verdict.head
        );
        0
    } else {
        let d = lang::diag::plan::journal_tampered(&run, &verdict.problems);
        crate::runtime::print_plan_errors(&[d], &lang::Program::default(), false);
        EXIT_FAILED
    }
}
