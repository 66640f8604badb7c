//! `--report-md FILE`: a Markdown run report, the evidence of a (quarterly) validation;
//! also appended to `$GITHUB_STEP_SUMMARY` when that is set.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::write_atomic;
use crate::event::{Event, Reporter, Status};

/// Collects the run and writes the report at the end.
pub struct MarkdownReport {
    path: Option<PathBuf>,
    summary: Option<PathBuf>,
    started: String,
    events: Vec<Event>,
}

impl MarkdownReport {
    /// A report to `path` and/or appended to the GitHub step summary file.
    pub fn new(path: Option<PathBuf>, summary: Option<PathBuf>, started: String) -> Self {
        MarkdownReport {
            path,
            summary,
            started,
            events: Vec::new(),
        }
    }

    /// The Markdown document.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let mut rows = String::new();
        let mut logs: Vec<(String, String)> = Vec::new();
        for event in &self.events {
            match event {
                Event::RunStarted {
                    runbook,
                    title,
                    file,
                    hash,
                    ops_version,
                    dry_run,
                    outside_window,
                    ..
                } => {
                    let what = if *dry_run { "Dry-run" } else { "Run" };
                    let _ = writeln!(out, "# {what} report: {}", cell(runbook));
                    if !title.is_empty() {
                        let _ = writeln!(out, "\n{}", cell(title));
                    }
                    let _ = write!(
                        out,
                        "\n| | |\n|---|---|\n| File | `{}` |\n| sha256 | `{hash}` |\n| ops | {ops_version} |\n| Started | {} |\n",
                        cell(file),
                        self.started
                    );
                    if let Some(reason) = outside_window {
                        let _ = writeln!(out, "| Outside its window | {} |", cell(reason));
                    }
                }
                Event::StepLog { id, line } => logs.push((id.clone(), line.clone())),
                Event::StepFinished {
                    id,
                    label,
                    status,
                    duration_ms,
                    attempts,
                    message,
                    location,
                    ..
                } => {
                    let icon = match status {
                        Status::Ok | Status::Reused => "✅",
                        Status::Failed | Status::Cancelled => "❌",
                        Status::FailedContinued => "⚠️",
                        Status::Skipped | Status::Recorded => "⏭️",
                    };
                    let _ = writeln!(
                        rows,
                        "| {id} | `{}` | {icon} {} | {} | {attempts} | {} |",
                        cell(label),
                        status.as_str(),
                        crate::plan_render::dur(Duration::from_millis(*duration_ms)),
                        cell(&match message {
                            Some(m) => format!("{m} ({location})"),
                            None => location.clone(),
                        })
                    );
                }
                Event::RunFinished {
                    status,
                    duration_ms,
                    exit_code,
                    ..
                } => {
                    let _ = writeln!(
                        out,
                        "| Result | **{status}** (exit {exit_code}) |\n| Duration | {} |",
                        crate::plan_render::dur(Duration::from_millis(*duration_ms))
                    );
                }
                _ => {}
            }
        }
        out.push_str("\n## Steps\n\n| # | Step | Status | Duration | Attempts | Details |\n|---|---|---|---|---|---|\n");
        out.push_str(&rows);
        if !logs.is_empty() {
            out.push_str("\n## Output\n\n```text\n");
            for (id, line) in logs {
                let _ = writeln!(out, "{id} │ {}", line.replace("```", "'''"));
            }
            out.push_str("```\n");
        }
        out
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

impl Reporter for MarkdownReport {
    fn event(&mut self, event: &Event) {
        self.events.push(event.clone());
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let text = self.markdown();
        if let Some(path) = &self.path {
            write_atomic(path, text.as_bytes())?;
        }
        if let Some(summary) = &self.summary {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(summary)?;
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
        }
        Ok(())
    }
}
