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
    /// The end of what was released last (as printed by the program, unredacted): a
    /// secret that began there is still found in the next lines.
    carry: String,
}

impl LineBuffer {
    /// Adds a line; returns the lines that can be shown now, redacted.
    pub fn push(&mut self, line: String, redactor: &Redactor) -> Vec<String> {
        self.bytes += line.len() + 1;
        self.held.push(line);
        let joined = self.held.join("\n");
        let context = format!("{}\n{joined}", self.carry);
        if self.bytes < MAX_HELD && redactor.may_continue(&context) {
            return Vec::new();
        }
        self.release(joined, redactor, self.bytes >= MAX_HELD)
    }

    /// True when lines are held back.
    pub fn is_holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// The stream ended or went quiet: every held line, redacted; an end that may be the
    /// start of a secret is redacted too (what follows later is still matched against it).
    pub fn flush(&mut self, redactor: &Redactor) -> Vec<String> {
        if self.held.is_empty() {
            return Vec::new();
        }
        let joined = self.held.join("\n");
        self.release(joined, redactor, true)
    }

    fn release(&mut self, joined: String, redactor: &Redactor, early: bool) -> Vec<String> {
        self.held.clear();
        self.bytes = 0;
        let partial = if early {
            redactor.partial_tail(&joined)
        } else {
            0
        };
        let shown = if partial >= super::forms::MIN_FORM_LEN {
            let mut start = joined.len() - partial;
            while !joined.is_char_boundary(start) {
                start -= 1;
            }
            let mut shown = redactor.redact_after(&self.carry, &joined[..start]);
            shown.push_str(crate::value::REDACTED);
            shown
        } else {
            redactor.redact_after(&self.carry, &joined)
        };
        // Keep the end of what was printed, as long as the longest secret form.
        let keep = redactor.longest().min(joined.len());
        let mut from = joined.len() - keep;
        while !joined.is_char_boundary(from) {
            from += 1;
        }
        self.carry = joined[from..].to_string();
        shown.split('\n').map(str::to_string).collect()
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
    fn a_quiet_stream_shows_a_held_line_without_the_start_of_its_secret() {
        let r = Redactor::new(["0123456789abcdef"]);
        let mut buffer = LineBuffer::default();
        assert!(buffer.push("x 012345".to_string(), &r).is_empty());
        // The stream goes quiet: the line is shown, its possible secret start hidden.
        assert_eq!(buffer.flush(&r), ["x (secret)"]);
        // The rest arrives later: it is still recognised.
        let mut shown = buffer.push("6789abcdef y".to_string(), &r);
        shown.extend(buffer.flush(&r));
        assert_eq!(shown, ["(secret) y"]);
    }

    #[test]
    fn lines_pass_at_once_when_nothing_may_continue() {
        let r = Redactor::new(["zzzsecret"]);
        let mut buffer = LineBuffer::default();
        assert_eq!(buffer.push("plain line.".into(), &r), ["plain line."]);
        assert!(!buffer.is_holding());
    }
}
