//! Terminal progress: one plain line per state change (CI logs, pipes, `NO_COLOR`
//! respected), with a spinner line for running steps when writing to a terminal.

use std::io::Write;
use std::time::Duration;

use anstyle::{AnsiColor, Style};

use crate::event::{Event, Reporter, Status};

/// Human progress lines.
pub struct Terminal<W: Write + Send> {
    out: W,
    color: bool,
    dry_run: bool,
}

impl<W: Write + Send> Terminal<W> {
    /// Writes to `out`, with ANSI colours when `color`.
    pub fn new(out: W, color: bool) -> Self {
        Terminal {
            out,
            color,
            dry_run: false,
        }
    }

    /// The writer (the spinner reporter formats into a buffer).
    pub fn out_mut(&mut self) -> &mut W {
        &mut self.out
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
}

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();

fn dur(ms: u64) -> String {
    crate::plan_render::dur(Duration::from_millis(ms))
}

impl<W: Write + Send> Reporter for Terminal<W> {
    fn event(&mut self, event: &Event) {
        let line = match event {
            Event::RunStarted {
                runbook,
                title,
                file,
                dry_run,
                steps,
                outside_window,
                ..
            } => {
                self.dry_run = *dry_run;
                let what = if *dry_run { "dry-run" } else { "run" };
                let title = if title.is_empty() {
                    String::new()
                } else {
                    format!(" — {title}")
                };
                let mut line = format!("ops {what}: {runbook}{title} ({file}, {steps} steps)");
                if let Some(reason) = outside_window {
                    line.push_str(&format!("\n  outside its window: {reason}"));
                }
                line
            }
            Event::GroupStarted { id, kind, title } => {
                let title = if title.is_empty() {
                    String::new()
                } else {
                    format!(" {title}")
                };
                self.paint(BOLD, &format!("▶ {id} {kind}{title}"))
            }
            Event::GroupFinished { .. } => return,
            Event::StepStarted { id, label, attempt } => {
                if *attempt > 1 {
                    format!("  … {id} {label} (attempt {attempt})")
                } else {
                    format!("  … {id} {label}")
                }
            }
            Event::StepLog { id, line } => format!("    {id} │ {line}"),
            Event::StepRetry {
                id,
                attempt,
                attempts,
                delay_ms,
                reason,
            } => self.paint(
                YELLOW,
                &format!(
                    "  ↻ {id} attempt {attempt}/{attempts} failed: {reason}; retrying in {}",
                    dur(*delay_ms)
                ),
            ),
            Event::StepFinished {
                id,
                label,
                status,
                duration_ms,
                message,
                location,
                ..
            } => {
                let detail = message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                match status {
                    Status::Ok => {
                        self.paint(GREEN, &format!("  ✓ {id} {label} ({})", dur(*duration_ms)))
                    }
                    Status::Failed | Status::FailedContinued => self.paint(
                        RED,
                        &format!(
                            "  ✗ {id} {label} {} after {}{detail}\n      at {location}",
                            status.as_str(),
                            dur(*duration_ms)
                        ),
                    ),
                    Status::Skipped => {
                        self.paint(DIM, &format!("  - {id} {label} skipped{detail}"))
                    }
                    Status::Recorded => format!("  ~ {id} {label}{detail}"),
                    Status::Reused => self.paint(GREEN, &format!("  ✓ {id} {label}{detail}")),
                    Status::Cancelled => {
                        self.paint(YELLOW, &format!("  ! {id} {label} cancelled{detail}"))
                    }
                }
            }
            Event::RunFinished {
                status,
                duration_ms,
                failed_step,
                exit_code,
            } => {
                let failed = failed_step
                    .as_deref()
                    .map(|s| format!(" at step {s}"))
                    .unwrap_or_default();
                let text = format!(
                    "{} {status}{failed} after {} (exit {exit_code})",
                    if self.dry_run { "dry-run" } else { "run" },
                    dur(*duration_ms)
                );
                let style = if status == "ok" { GREEN } else { RED };
                self.paint(style.bold(), &text)
            }
        };
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }
}
