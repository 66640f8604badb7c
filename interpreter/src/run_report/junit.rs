//! `--report-junit FILE`: a JUnit XML file with a testcase per step; failed
//! expectations and step errors are `<failure>`s, skipped steps `<skipped>`.

use std::path::PathBuf;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::write_atomic;
use crate::event::{Event, Reporter, Status};

/// Collects step results and writes the XML file at the end.
pub struct Junit {
    path: PathBuf,
    suite: String,
    cases: Vec<Event>,
    duration_ms: u64,
    outside_window: Option<String>,
}

impl Junit {
    /// A report to be written to `path`.
    pub fn new(path: PathBuf) -> Self {
        Junit {
            path,
            suite: String::from("ops"),
            cases: Vec::new(),
            duration_ms: 0,
            outside_window: None,
        }
    }

    /// The report: one suite (the runbook), one case per finished step.
    pub fn report(&self) -> Report {
        let mut suite = TestSuite::new(self.suite.as_str());
        suite.set_time(Duration::from_millis(self.duration_ms));
        if let Some(reason) = &self.outside_window {
            suite.add_property(quick_junit::Property::new(
                "outside_window",
                reason.as_str(),
            ));
        }
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
            let message = message.clone().unwrap_or_default();
            let outcome = match status {
                Status::Failed | Status::FailedContinued | Status::Cancelled => {
                    let kind = if message.starts_with("expected ") {
                        "expectation"
                    } else {
                        status.as_str()
                    };
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(message.as_str())
                        .set_type(kind)
                        .set_description(format!("{location}\n{message}"));
                    s
                }
                Status::Skipped | Status::Recorded => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(message.as_str());
                    s
                }
                Status::Ok | Status::Reused => TestCaseStatus::success(),
            };
            let mut test_case = TestCase::new(format!("{id} {label}"), outcome);
            test_case
                .set_classname(self.suite.as_str())
                .set_time(Duration::from_millis(*duration_ms));
            let file = location
                .rsplit_once(':')
                .map_or(location.as_str(), |(f, _)| f);
            test_case.extra.insert("file".into(), file.into());
            suite.add_test_case(test_case);
        }
        // `disabled` is quick-junit's count of skipped cases; GitLab and Jenkins read
        // `skipped`.
        let skipped = suite
            .test_cases
            .iter()
            .filter(|c| matches!(c.status, TestCaseStatus::Skipped { .. }))
            .count();
        suite
            .extra
            .insert("skipped".into(), skipped.to_string().into());
        let mut report = Report::new("ops");
        report
            .set_time(Duration::from_millis(self.duration_ms))
            .add_test_suite(suite);
        report
    }

    /// The XML document (counts computed from the cases).
    pub fn xml(&self) -> String {
        self.report()
            .to_string()
            .unwrap_or_else(|e| format!("<!-- the JUnit report could not be written: {e} -->"))
    }
}

impl Reporter for Junit {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted {
                runbook,
                outside_window,
                ..
            } => {
                self.suite = runbook.clone();
                self.outside_window = outside_window.clone();
            }
            Event::StepFinished { .. } => self.cases.push(event.clone()),
            Event::RunFinished { duration_ms, .. } => self.duration_ms = *duration_ms,
            _ => {}
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        write_atomic(&self.path, self.xml().as_bytes())
    }
}
