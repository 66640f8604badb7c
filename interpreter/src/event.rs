//! Run events: what the executor tells reporters, in order. The JSON Lines format
//! (`ops run --format json`) is these events serialised, one per line; its first event
//! names the schema version ([`EVENTS_VERSION`]).

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::redact::Redactor;

/// Version of the event stream schema; bumped on any incompatible change.
pub const EVENTS_VERSION: u32 = 1;

/// How a step or group ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It ran and its expectations held.
    Ok,
    /// It failed (after its retries).
    Failed,
    /// It failed, and `on_failure = continue` let the run go on.
    FailedContinued,
    /// It did not run (`when` false, `--start-at`, an earlier failure).
    Skipped,
    /// A dry-run recorded what it would do instead of doing it.
    Recorded,
    /// Ctrl-C stopped it.
    Cancelled,
    /// `ops resume`: an earlier attempt of the run finished it; its outputs come from the
    /// journal.
    Reused,
}

impl Status {
    /// The word shown in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::FailedContinued => "failed (continued)",
            Status::Skipped => "skipped",
            Status::Recorded => "recorded",
            Status::Cancelled => "cancelled",
            Status::Reused => "done earlier",
        }
    }
}

/// One thing that happened during a run.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// First event: what runs.
    RunStarted {
        /// Event schema version.
        version: u32,
        /// `ops` version.
        ops_version: String,
        /// The runbook id.
        runbook: String,
        /// Its title.
        title: String,
        /// Its file.
        file: String,
        /// sha256 of the runbook and the files it reaches.
        hash: String,
        /// True for a dry-run.
        dry_run: bool,
        /// Steps in the plan (handlers included).
        steps: usize,
        /// Why the run goes ahead outside the runbook's window (`--outside-window`).
        #[serde(skip_serializing_if = "Option::is_none")]
        outside_window: Option<String>,
    },
    /// A stage, parallel group, call or handler began.
    GroupStarted {
        /// Plan id.
        id: String,
        /// `stage`, `parallel`, `call`, `on failure`, `always`.
        kind: String,
        /// Its title.
        title: String,
    },
    /// It ended.
    GroupFinished {
        /// Plan id.
        id: String,
        /// How.
        status: Status,
    },
    /// A step attempt began.
    StepStarted {
        /// Plan id.
        id: String,
        /// `probe http "..." as name`.
        label: String,
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// A line of step output or progress.
    StepLog {
        /// Plan id.
        id: String,
        /// The line.
        line: String,
    },
    /// An attempt failed; another follows after `delay_ms`.
    StepRetry {
        /// Plan id.
        id: String,
        /// The attempt that failed.
        attempt: u32,
        /// Attempts allowed in all.
        attempts: u32,
        /// Pause before the next one.
        delay_ms: u64,
        /// Why it failed.
        reason: String,
    },
    /// A step ended.
    StepFinished {
        /// Plan id.
        id: String,
        /// Its label.
        label: String,
        /// How.
        status: Status,
        /// Wall time in milliseconds.
        duration_ms: u64,
        /// Attempts made.
        attempts: u32,
        /// Failure, skip reason or recorded change.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// `file:line` of the step, or of the failed `expect`.
        location: String,
        /// Its outputs (secrets redacted).
        #[serde(skip_serializing_if = "Option::is_none")]
        outputs: Option<serde_json::Value>,
        /// The same outputs typed (durations, sizes), for the run journal and resume:
        /// not part of the event stream. Secrets are `{"secret": null}`.
        #[serde(skip)]
        values: Option<serde_json::Value>,
    },
    /// Last event.
    RunFinished {
        /// `ok`, `failed`, `interrupted` (or `preflight_failed`).
        status: String,
        /// Wall time in milliseconds.
        duration_ms: u64,
        /// The step that failed the run, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        failed_step: Option<String>,
        /// The process exit code.
        exit_code: i32,
    },
}

impl Event {
    /// Every free-text field, for redaction.
    fn texts_mut(&mut self) -> Vec<&mut String> {
        match self {
            Event::RunStarted {
                title,
                outside_window,
                ..
            } => {
                let mut v = vec![title];
                v.extend(outside_window.as_mut());
                v
            }
            Event::GroupStarted { title, .. } => vec![title],
            Event::StepStarted { label, .. } => vec![label],
            Event::StepLog { line, .. } => vec![line],
            Event::StepRetry { reason, .. } => vec![reason],
            Event::StepFinished { label, message, .. } => {
                let mut v = vec![label];
                v.extend(message.as_mut());
                v
            }
            Event::GroupFinished { .. } | Event::RunFinished { .. } => Vec::new(),
        }
    }

    /// Redacts secrets everywhere and neutralises control characters in the texts shown.
    fn redact(&mut self, redactor: &Redactor) {
        for text in self.texts_mut() {
            redactor.redact_in_place(text);
            if let std::borrow::Cow::Owned(clean) = crate::text::neutralize(text) {
                *text = clean;
            }
        }
        if let Event::StepFinished {
            outputs, values, ..
        } = self
        {
            if let Some(json) = outputs {
                redactor.redact_json(json);
            }
            // Typed outputs are for resume: text with a secret in it would come back as
            // `(secret)`, a wrong value, so a redacted set is kept as a secret (`ops
            // resume` then cannot pass it on, and says so).
            if let Some(json) = values {
                let before = json.clone();
                redactor.redact_json(json);
                if *json != before {
                    *json = serde_json::json!({ "secret": null });
                }
            }
        }
    }
}

/// Receives events, in order.
pub trait Reporter: Send {
    /// One event (already redacted).
    fn event(&mut self, event: &Event);
    /// The run is over: write files, flush.
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A reporter that keeps every event (tests, the Markdown and JUnit reports).
#[derive(Clone, Default)]
pub struct Collector(pub Arc<Mutex<Vec<Event>>>);

impl Collector {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Reporter for Collector {
    fn event(&mut self, event: &Event) {
        if let Ok(mut events) = self.0.lock() {
            events.push(event.clone());
        }
    }
}

/// Fans events out to reporters after redacting them. Cloning shares the reporters.
#[derive(Clone)]
pub struct EventSink {
    inner: Arc<Mutex<SinkInner>>,
}

struct SinkInner {
    redactor: Redactor,
    reporters: Vec<Box<dyn Reporter>>,
}

impl EventSink {
    /// A sink writing to these reporters.
    pub fn new(reporters: Vec<Box<dyn Reporter>>) -> EventSink {
        EventSink {
            inner: Arc::new(Mutex::new(SinkInner {
                redactor: Redactor::default(),
                reporters,
            })),
        }
    }

    /// Sets the secrets to redact from now on.
    pub fn set_redactor(&self, redactor: Redactor) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.redactor = redactor;
        }
    }

    /// Sends one event to every reporter.
    pub fn emit(&self, mut event: Event) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        event.redact(&inner.redactor);
        for reporter in &mut inner.reporters {
            reporter.event(&event);
        }
    }

    /// Finishes every reporter; the first error is returned.
    pub fn finish(&self) -> std::io::Result<()> {
        let Ok(mut inner) = self.inner.lock() else {
            return Ok(());
        };
        let mut result = Ok(());
        for reporter in &mut inner.reporters {
            if let Err(e) = reporter.finish() {
                result = result.and(Err(e));
            }
        }
        result
    }
}
