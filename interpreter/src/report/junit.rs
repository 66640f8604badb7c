//! `--report-junit FILE`: a JUnit XML file with a testcase per step; failed
//! expectations and step errors are `<failure>`s, skipped steps `<skipped>`.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{write_atomic, xml_escape};
use crate::event::{Event, Reporter, Status};

/// Collects step results and writes the XML file at the end.
pub struct Junit {
    path: PathBuf,
    suite: String,
    cases: Vec<Event>,
    duration_ms: u64,
}

impl Junit {
    /// A report to be written to `path`.
    pub fn new(path: PathBuf) -> Self {
        Junit {
            path,
            suite: String::from("ops"),
            cases: Vec::new(),
            duration_ms: 0,
        }
    }

    /// The XML document.
    pub fn xml(&self) -> String {
        let mut failures = 0;
        let mut skipped = 0;
        let mut body = String::new();
        for case in &self.cases {
            let Event::StepFinished {
                id,
                label,
                status,
                duration_ms,
                message,
                location,
                ..
            } = case
            else {
                continue;
            };
            let _ = write!(
                body,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\" file=\"{}\"",
                xml_escape(&format!("{id} {label}")),
                xml_escape(&self.suite),
                *duration_ms as f64 / 1000.0,
                xml_escape(
                    location
                        .rsplit_once(':')
                        .map_or(location.as_str(), |(f, _)| f)
                ),
            );
            let message = message.clone().unwrap_or_default();
            match status {
                Status::Failed | Status::FailedContinued | Status::Cancelled => {
                    failures += 1;
                    let kind = if message.starts_with("expected ") {
                        "expectation"
                    } else {
                        status.as_str()
                    };
                    let _ = write!(
                        body,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}\n{}</failure>\n    </testcase>\n",
                        xml_escape(&message),
                        xml_escape(kind),
                        xml_escape(location),
                        xml_escape(&message)
                    );
                }
                Status::Skipped | Status::Recorded => {
                    skipped += 1;
                    let _ = write!(
                        body,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                        xml_escape(&message)
                    );
                }
                Status::Ok => body.push_str("/>\n"),
            }
        }
        let tests = self.cases.len();
        let time = self.duration_ms as f64 / 1000.0;
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ops\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{time:.3}\">\n  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{time:.3}\">\n{body}  </testsuite>\n</testsuites>\n",
            xml_escape(&self.suite)
        )
    }
}

impl Reporter for Junit {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted { runbook, .. } => self.suite = runbook.clone(),
            Event::StepFinished { .. } => self.cases.push(event.clone()),
            Event::RunFinished { duration_ms, .. } => self.duration_ms = *duration_ms,
            _ => {}
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        write_atomic(&self.path, self.xml().as_bytes())
    }
}
