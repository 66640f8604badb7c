//! Live progress on a terminal: an indicatif spinner per running step (with its
//! elapsed time), and the same finished lines as [`super::Terminal`] printed above them.
//! Used only when standard output is a terminal and no CI is detected.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Terminal;
use crate::event::{Event, Reporter};

/// Spinners for running steps; finished steps become plain lines.
pub struct Spinners {
    multi: MultiProgress,
    running: HashMap<String, ProgressBar>,
    lines: Terminal<Vec<u8>>,
    style: ProgressStyle,
}

impl Spinners {
    /// Spinners on standard output, with colour when `color`.
    pub fn new(color: bool) -> Self {
        let style = ProgressStyle::with_template("  {spinner} {msg} {elapsed:.dim}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        Spinners {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            running: HashMap::new(),
            lines: Terminal::new(Vec::new(), color),
            style,
        }
    }

    /// Formats `event` as the plain reporter would and prints it above the spinners.
    fn print(&mut self, event: &Event) {
        self.lines.event(event);
        let text = String::from_utf8_lossy(&std::mem::take(self.lines.out_mut())).into_owned();
        for line in text.lines() {
            let _ = self.multi.println(line);
        }
    }
}

impl Reporter for Spinners {
    fn event(&mut self, event: &Event) {
        match event {
            Event::StepStarted { id, label, attempt } => {
                let bar = self
                    .running
                    .remove(id)
                    .unwrap_or_else(|| self.multi.add(ProgressBar::new_spinner()));
                bar.set_style(self.style.clone());
                let attempt = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                bar.set_message(format!("{id} {label}{attempt}"));
                bar.enable_steady_tick(Duration::from_millis(100));
                self.running.insert(id.clone(), bar);
            }
            Event::StepFinished { id, .. } => {
                if let Some(bar) = self.running.remove(id) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                self.print(event);
            }
            Event::RunFinished { .. } => {
                for (_, bar) in self.running.drain() {
                    bar.finish_and_clear();
                }
                self.print(event);
            }
            _ => self.print(event),
        }
    }
}
