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
    /// The matcher could not be built (an absurd amount of secret text): every text is
    /// withheld rather than shown unredacted.
    blind: bool,
    /// The longest form searched for, in bytes (line breaks removed).
    longest: usize,
}

/// What a text is replaced by when secrets are known but could not be indexed.
const WITHHELD: &str = "(withheld: the run's secrets are too large to search for)";

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
        let longest = needles.iter().map(Vec::len).max().unwrap_or(0);
        let build = |needles: &[Vec<u8>]| {
            NFA::builder()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(true)
                .build(needles)
                .ok()
                .map(std::sync::Arc::new)
        };
        // Fail closed: without a matcher, nothing is shown at all.
        let matcher = build(&needles);
        Redactor {
            blind: matcher.is_none(),
            matcher,
            values: std::sync::Arc::new(values),
            longest,
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
        if self.blind && !text.is_empty() {
            return WITHHELD.to_string();
        }
        match self.ranges(text) {
            Some(ranges) => replace(text, &ranges),
            None => text.to_string(),
        }
    }

    /// Redacts in place.
    pub fn redact_in_place(&self, text: &mut String) {
        if self.blind && !text.is_empty() {
            *text = WITHHELD.to_string();
        } else if let Some(ranges) = self.ranges(text) {
            *text = replace(text, &ranges);
        }
    }

    /// `text` cut to at most `limit` bytes, with a secret the cut would split hidden: the
    /// part before the cut of a secret that continues after it would match no form once
    /// cut, so an end that may begin a secret (4 bytes or more) becomes `(secret)`. Whole
    /// secrets before it are left for the sinks to redact, so a cut output keeps its
    /// value. For every output kept in part (a command's capped output, a capped body,
    /// the tail of a container's log).
    pub fn cut(&self, text: &str, limit: usize) -> String {
        if text.len() <= limit {
            return text.to_string();
        }
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.hide_tail(&text[..end])
    }

    /// `text`, which was cut, with an end that may begin a secret (4 bytes or more)
    /// replaced by `(secret)`.
    pub fn hide_tail(&self, text: &str) -> String {
        let partial = self.partial_tail(text);
        if partial < forms::MIN_FORM_LEN {
            return text.to_string();
        }
        let mut start = text.len() - partial;
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        format!("{}{REDACTED}", &text[..start])
    }

    /// `text` redacted as if `context` (shown before, already redacted) came just before
    /// it on the previous line: a secret that began in `context` is found in `text` too.
    pub fn redact_after(&self, context: &str, text: &str) -> String {
        if context.is_empty() || self.is_empty() {
            return self.redact(text);
        }
        if self.blind {
            return WITHHELD.to_string();
        }
        let joined = format!("{context}\n{text}");
        let offset = context.len() + 1;
        let Some(ranges) = self.ranges(&joined) else {
            return text.to_string();
        };
        let ranges: Vec<(usize, usize)> = ranges
            .into_iter()
            .filter(|&(_, end)| end > offset)
            .map(|(start, end)| (start.saturating_sub(offset), end - offset))
            .collect();
        replace(text, &ranges)
    }

    /// Bytes at the end of `text` that may be (the start of) a secret (line breaks
    /// skipped): the longest suffix that is a prefix of a form. 0 when none.
    pub fn partial_tail(&self, text: &str) -> usize {
        if !self.may_continue(text) {
            return 0;
        }
        let Some(nfa) = &self.matcher else {
            return 0;
        };
        let Ok(anchored) = nfa.start_state(Anchored::Yes) else {
            return text.len().min(self.longest);
        };
        let bytes = text.as_bytes();
        let from = bytes.len().saturating_sub(self.longest);
        // The first start that stays alive to the end gives the longest suffix; most
        // starts die within a byte or two.
        for start in from..bytes.len() {
            if is_break(bytes[start]) {
                continue;
            }
            let mut state = anchored;
            let mut alive = true;
            for &b in bytes[start..].iter().filter(|b| !is_break(**b)) {
                state = nfa.next_state(Anchored::Yes, state, b);
                if nfa.is_dead(state) {
                    alive = false;
                    break;
                }
            }
            if alive {
                return bytes.len() - start;
            }
        }
        0
    }

    /// The longest form searched for, in bytes.
    pub fn longest(&self) -> usize {
        self.longest
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
        self.matcher.is_none() && !self.blind
    }

    /// True when `text` ends inside what may be the start of a secret (line breaks
    /// skipped): a streamed line ending so must wait for the next one.
    pub fn may_continue(&self, text: &str) -> bool {
        let Some(nfa) = &self.matcher else {
            return false;
        };
        let Ok(mut state) = nfa.start_state(Anchored::No) else {
            return false;
        };
        for b in text.bytes().filter(|b| !is_break(*b)) {
            state = nfa.next_state(Anchored::No, state, b);
        }
        !nfa.is_start(state)
    }

    /// Merged byte ranges of `text` covered by a secret, or `None` when there are none.
    fn ranges(&self, text: &str) -> Option<Vec<(usize, usize)>> {
        let nfa = self.matcher.as_ref()?;
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
        let matches = nfa
            .try_find_overlapping_iter(Input::new(&*haystack).anchored(Anchored::No))
            .ok()?;
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
    fn a_cut_never_leaves_the_start_of_a_secret() {
        let r = Redactor::new(["tok3n-value-1234"]);
        let text = "output: tok3n-value-1234 and again tok3n-val";
        let cut = r.cut(&format!("{text}ue-1234 more"), text.len());
        assert_eq!(cut, "output: tok3n-value-1234 and again (secret)");
        assert_eq!(r.redact(&cut), "output: (secret) and again (secret)");
        assert_eq!(r.cut("short", 100), "short");
        assert_eq!(r.cut("nothing secret here at all", 8), "nothing ");
        assert_eq!(r.partial_tail("x tok3n-v"), 7);
        assert_eq!(
            r.partial_tail("x tok3n-value-1234"),
            16,
            "a whole secret counts"
        );
        assert_eq!(r.partial_tail("x "), 0);
        // Three characters or fewer are not worth hiding (they are also what ordinary
        // words end with).
        assert_eq!(r.cut("word tok and more", 8), "word tok");
    }

    #[test]
    fn a_secret_begun_on_the_previous_line_is_found() {
        let r = Redactor::new(["tok3n-value-1234"]);
        assert_eq!(
            r.redact_after("seen: tok3n-va", "lue-1234 end"),
            "(secret) end"
        );
        assert_eq!(r.redact_after("", "lue-1234 end"), "lue-1234 end");
        assert_eq!(r.redact_after("other", "plain"), "plain");
    }

    #[test]
    fn markdown_cells_and_long_secrets() {
        let r = Redactor::new(["ab|cd1234"]);
        assert_eq!(r.redact("| ab\\|cd1234 |"), "| (secret) |");
        let long = "k".repeat(forms::MAX_ENCODED_LEN + 1);
        let r = Redactor::new([long.as_str()]);
        assert_eq!(r.redact(&format!("[{long}]")), "[(secret)]");
    }

    #[test]
    fn overlapping_forms_are_merged_and_unicode_is_kept_whole() {
        let r = Redactor::new(["abcabc", "cabcX"]);
        assert_eq!(r.redact("1abcabcX2"), "1(secret)2");
        let r = Redactor::new(["é-secret-é"]);
        assert_eq!(r.redact("[é-SECRET-é]"), "[(secret)]");
    }
}
