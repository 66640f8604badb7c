//! Streamed output, line by line: a line whose end may be the start of a secret that
//! continues on the next line is held back until the next line shows whether it does.

use super::Redactor;

/// Held lines are released once they hold this many bytes, whatever follows: no secret
/// form is that long in practice, and memory stays bounded.
const MAX_HELD: usize = 64 * 1024;

/// Lines of one stream on their way out, redacted across line breaks.
#[derive(Debug, Default)]
pub struct LineBuffer {
    held: Vec<String>,
    bytes: usize,
}

impl LineBuffer {
    /// Adds a line; returns the lines that can be shown now, redacted.
    pub fn push(&mut self, line: String, redactor: &Redactor) -> Vec<String> {
        self.bytes += line.len() + 1;
        self.held.push(line);
        let joined = self.held.join("\n");
        if self.bytes < MAX_HELD && redactor.may_continue(&joined) {
            return Vec::new();
        }
        self.release(&joined, redactor)
    }

    /// True when lines are held back.
    pub fn is_holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// The stream ended or went quiet: every held line, redacted.
    pub fn flush(&mut self, redactor: &Redactor) -> Vec<String> {
        if self.held.is_empty() {
            return Vec::new();
        }
        let joined = self.held.join("\n");
        self.release(&joined, redactor)
    }

    fn release(&mut self, joined: &str, redactor: &Redactor) -> Vec<String> {
        self.held.clear();
        self.bytes = 0;
        redactor
            .redact(joined)
            .split('\n')
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_wrapped_over_three_lines_never_shows_a_part() {
        let r = Redactor::new(["0123456789abcdef"]);
        let mut buffer = LineBuffer::default();
        let mut shown = Vec::new();
        for line in ["start", "x 012345", "6789a", "bcdef y", "end"] {
            shown.extend(buffer.push(line.to_string(), &r));
        }
        shown.extend(buffer.flush(&r));
        assert_eq!(
            shown,
            ["start", "x (secret)", "(secret)", "(secret) y", "end"]
        );
    }

    #[test]
    fn lines_pass_at_once_when_nothing_may_continue() {
        let r = Redactor::new(["zzzsecret"]);
        let mut buffer = LineBuffer::default();
        assert_eq!(buffer.push("plain line.".into(), &r), ["plain line."]);
        assert!(!buffer.is_holding());
    }
}
