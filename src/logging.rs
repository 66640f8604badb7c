//! Diagnostic logs (`OPS_LOG=debug`): tracing events on stderr, every line passed
//! through the run's redactor, so a secret in an error message never reaches a log.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use interpreter::redact::Redactor;
use tracing_subscriber::filter::LevelFilter;

/// The secrets known so far; `ops run` sets them once they are read.
fn redactor() -> &'static Mutex<Redactor> {
    static REDACTOR: OnceLock<Mutex<Redactor>> = OnceLock::new();
    REDACTOR.get_or_init(|| Mutex::new(Redactor::default()))
}

/// Redacts these secrets from every log line (and panic message) from now on.
pub fn set_redactor(r: Redactor) {
    if let Ok(mut current) = redactor().lock() {
        *current = r;
    }
}

/// Adds one secret value read while planning to what logs and panics redact.
pub fn add_secret(value: &str) {
    if let Ok(mut current) = redactor().lock() {
        *current = current.with([value]);
    }
}

/// `text` with every secret known so far redacted.
pub fn redact(text: &str) -> String {
    match redactor().lock() {
        Ok(r) => r.redact(text),
        Err(_) => String::from("(withheld)"),
    }
}

/// Writes one formatted log event to stderr, redacted.
pub struct RedactingStderr {
    buffer: Vec<u8>,
}

impl Write for RedactingStderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactingStderr {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buffer);
        let text = match redactor().lock() {
            Ok(r) => r.redact(&text),
            Err(_) => return,
        };
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
}

/// Installs the log subscriber when `OPS_LOG` names a level (`error` … `trace`).
pub fn init() -> Result<(), String> {
    let Ok(level) = std::env::var("OPS_LOG") else {
        return Ok(());
    };
    let filter: LevelFilter = level.trim().parse().map_err(|_| {
        format!("OPS_LOG=`{level}` is not a level (error, warn, info, debug, trace, off)")
    })?;
    tracing_subscriber::fmt()
        .with_max_level(filter)
        .with_ansi(false)
        .with_target(false)
        .with_writer(|| RedactingStderr { buffer: Vec::new() })
        .try_init()
        .map_err(|e| format!("cannot set up logging: {e}"))
}
