//! The last line of defence for secrets: every text leaving a run or a plan (events,
//! reports, plans, error messages, logs, panics) passes through a [`Redactor`] that
//! replaces each known secret value, in every form common tools write it
//! ([`forms`]: escapes, percent-encodings, hex, base64 at any alignment, any ASCII
//! letter case, split across lines), with `(secret)`. Values are marked secret by type
//! first ([`crate::value::Value::Secret`]); this catches what a step's own error text
//! (a URL in a connection error, a server echoing a token) might repeat.
//!
//! One Aho-Corasick automaton holds every form of every secret; a text is searched once
//! with line breaks skipped (so a secret wrapped over lines is still found), every
//! overlapping match is merged, and the covered characters are replaced: linear in the
//! text. [`LineBuffer`] holds back streamed lines while a secret may continue on the next.

pub mod forms;
mod stream;

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{Anchored, Input, MatchKind};

pub use stream::LineBuffer;

use crate::value::REDACTED;

/// Secrets shorter than this are not searched for in text: replacing every `a` would
/// make output unreadable without protecting anything. Their values are still never
/// printed by type.
pub const MIN_REDACTED_LEN: usize = 3;

/// Replaces known secret values in text.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Every form of every secret, line breaks removed, ASCII case ignored (a contiguous
    /// NFA: a few bytes per state, where a DFA over a 3 KiB PEM key's forms would take
    /// tens of megabytes).
    matcher: Option<std::sync::Arc<NFA>>,
    /// The values themselves, for [`Redactor::with`].
    values: std::sync::Arc<Vec<String>>,
}

impl Redactor {
    /// A redactor for these secret values.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut needles: Vec<Vec<u8>> = Vec::new();
        let mut values = Vec::new();
        for secret in secrets {
            if secret.chars().count() < MIN_REDACTED_LEN {
                continue;
            }
            values.push(secret.to_string());
            for (i, form) in forms::forms(secret).into_iter().enumerate() {
                let bytes: Vec<u8> = form.bytes().filter(|b| !is_break(*b)).collect();
                // The secret itself counts from MIN_REDACTED_LEN, derived forms from
                // MIN_FORM_LEN (the first form is the secret).
                let min = if i == 0 {
                    MIN_REDACTED_LEN
                } else {
                    forms::MIN_FORM_LEN
                };
                if bytes.len() >= min {
                    needles.push(bytes);
                }
            }
        }
        needles.sort();
        needles.dedup();
        if needles.is_empty() {
            return Redactor::default();
        }
        let matcher = NFA::builder()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .build(&needles)
            .ok()
            .map(std::sync::Arc::new);
        Redactor {
            matcher,
            values: std::sync::Arc::new(values),
        }
    }

    /// This redactor with more values to redact (a compose variable that holds a
    /// password without being a declared secret).
    pub fn with<'a>(&self, more: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut more = more.into_iter().peekable();
        if more.peek().is_none() {
            return self.clone();
        }
        let all: Vec<String> = self
            .values
            .iter()
            .cloned()
            .chain(more.map(str::to_string))
            .collect();
        Redactor::new(all.iter().map(String::as_str))
    }

    /// The text with every secret replaced.
    pub fn redact(&self, text: &str) -> String {
        match self.ranges(text) {
            Some(ranges) => replace(text, &ranges),
            None => text.to_string(),
        }
    }

    /// Redacts in place.
    pub fn redact_in_place(&self, text: &mut String) {
        if let Some(ranges) = self.ranges(text) {
            *text = replace(text, &ranges);
        }
    }

    /// Redacts, then neutralises control characters ([`crate::text::neutralize`]): for
    /// every text from outside that is about to be shown.
    pub fn clean(&self, text: &str) -> String {
        crate::text::neutralize(&self.redact(text)).into_owned()
    }

    /// Redacts every string (and key) of a JSON document.
    pub fn redact_json(&self, json: &mut serde_json::Value) {
        if self.is_empty() {
            return;
        }
        match json {
            serde_json::Value::String(s) => self.redact_in_place(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| self.redact_json(i)),
            serde_json::Value::Object(map) => {
                let entries = std::mem::take(map);
                for (mut key, mut value) in entries {
                    self.redact_in_place(&mut key);
                    self.redact_json(&mut value);
                    map.insert(key, value);
                }
            }
            _ => {}
        }
    }

    /// True when `text` holds a secret in any form.
    pub fn contains(&self, text: &str) -> bool {
        self.ranges(text).is_some()
    }

    /// True when no secret is known.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// True when `text` ends inside what may be the start of a secret (line breaks
    /// skipped): a streamed line ending so must wait for the next one.
    pub fn may_continue(&self, text: &str) -> bool {
        let Some(dfa) = &self.matcher else {
            return false;
        };
        let Ok(mut state) = dfa.start_state(Anchored::No) else {
            return false;
        };
        for b in text.bytes().filter(|b| !is_break(*b)) {
            state = dfa.next_state(Anchored::No, state, b);
        }
        !dfa.is_start(state)
    }

    /// Merged byte ranges of `text` covered by a secret, or `None` when there are none.
    fn ranges(&self, text: &str) -> Option<Vec<(usize, usize)>> {
        let dfa = self.matcher.as_ref()?;
        let bytes = text.as_bytes();
        // Search the text with line breaks removed; `index` maps back.
        let has_breaks = bytes.iter().any(|b| is_break(*b));
        let (haystack, index): (std::borrow::Cow<[u8]>, Vec<usize>) = if has_breaks {
            let mut hay = Vec::with_capacity(bytes.len());
            let mut index = Vec::with_capacity(bytes.len());
            for (i, b) in bytes.iter().enumerate() {
                if !is_break(*b) {
                    hay.push(*b);
                    index.push(i);
                }
            }
            (hay.into(), index)
        } else {
            (bytes.into(), Vec::new())
        };
        let map = |i: usize| if has_breaks { index[i] } else { i };
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let matches = dfa.try_find_overlapping_iter(Input::new(&*haystack)).ok()?;
        for m in matches {
            let (start, end) = (map(m.start()), map(m.end() - 1) + 1);
            ranges.push((start, end));
        }
        if ranges.is_empty() {
            return None;
        }
        // Overlapping matches end in order; merging needs them by start.
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Some(merged)
    }
}

fn is_break(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// Replaces each range with `(secret)`, keeping the line breaks inside it, and widening
/// to character boundaries (a case-insensitive match never splits a character, but a
/// byte-level form may).
fn replace(text: &str, ranges: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for &(start, end) in ranges {
        let mut start = start.max(at);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = end.min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        if start < at {
            start = at;
        }
        out.push_str(&text[at..start]);
        let covered = &text[start..end];
        let mut first = true;
        for piece in covered.split_inclusive(['\n', '\r']) {
            let content = piece.trim_end_matches(['\n', '\r']);
            if !content.is_empty() || first {
                out.push_str(REDACTED);
            }
            out.push_str(&piece[content.len()..]);
            first = false;
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn every_encoding_is_redacted() {
        let r = Redactor::new(["p@ss w\"rd/1"]);
        for text in [
            "p@ss w\"rd/1",
            "p@ss w\\\"rd/1",
            "p%40ss+w%22rd%2F1",
            "p%40ss%20w%22rd%2F1",
            "P@SS W\"RD/1",
            "7040737320772272642f31",
            "7040737320772272642F31",
            "cEBzcyB3InJkLzE=",
            "cEBzcyB3InJkLzE",
        ] {
            let line = format!("connect to https://u:{text}@db failed");
            assert_eq!(r.redact(&line), "connect to https://u:(secret)@db failed");
        }
        assert!(Redactor::new(["ab"]).is_empty());
    }

    #[test]
    fn base64_inside_longer_text_at_every_alignment() {
        let secret = "c4n4ry s3cr3t!";
        let r = Redactor::new([secret]);
        for prefix in ["", "a", "ab", "abc"] {
            let blob = base64::engine::general_purpose::STANDARD
                .encode(format!("{prefix}user:{secret}\n"));
            let out = r.redact(&format!("Authorization: Basic {blob}"));
            assert!(out.contains(REDACTED), "{prefix:?}: {out}");
            // What is left is the encoded prefix and the partial characters at the edges.
            let left = out
                .replace("Authorization: Basic ", "")
                .replace(REDACTED, "");
            let known = format!("{prefix}user:").len() * 4 / 3;
            assert!(left.len() <= known + 6, "{prefix:?}: {out}");
        }
    }

    #[test]
    fn lines_of_multi_line_secrets_and_rendered_forms() {
        let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n-----END KEY-----";
        let r = Redactor::new([key, "pa$$w0rd"]);
        assert_eq!(r.redact("stdout: MIIEvQIBADANBgkq"), "stdout: (secret)");
        assert_eq!(r.redact("got \"pa\\$\\$w0rd\""), "got \"(secret)\"");
    }

    #[test]
    fn a_secret_split_over_lines_is_found_and_lines_are_kept() {
        let r = Redactor::new(["tok3n-value"]);
        assert_eq!(r.redact("a tok3n\n-value b"), "a (secret)\n(secret) b");
        assert_eq!(
            r.redact("x tok\r\n3n-va\nlue"),
            "x (secret)\r\n(secret)\n(secret)"
        );
        assert!(r.may_continue("line ends with tok"));
        assert!(r.may_continue("tok3n-va\n"));
        assert!(!r.may_continue("nothing here"));
        assert!(!Redactor::default().may_continue("tok"));
    }

    #[test]
    fn overlapping_forms_are_merged_and_unicode_is_kept_whole() {
        let r = Redactor::new(["abcabc", "cabcX"]);
        assert_eq!(r.redact("1abcabcX2"), "1(secret)2");
        let r = Redactor::new(["é-secret-é"]);
        assert_eq!(r.redact("[é-SECRET-é]"), "[(secret)]");
    }
}
