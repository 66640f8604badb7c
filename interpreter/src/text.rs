//! Text from outside (program output, server replies, container logs, file names) made
//! safe to show: control characters neutralised so that nothing can drive the
//! operator's terminal, and long values quoted only in part, with their size.

use std::borrow::Cow;
use std::fmt::Write as _;

use lang::source::drives_terminal as is_dangerous;

/// How much of a long value a message quotes.
pub const QUOTE_LIMIT: usize = 2048;

/// The text with every dangerous character written as a visible escape (`\x1b`,
/// `\u{202e}`), so an escape sequence in remote data prints as text instead of setting a
/// window title, clearing the screen or writing the clipboard. A carriage return before
/// a line feed is kept.
pub fn neutralize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_dangerous) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            out.push(c);
        } else if is_dangerous(c) {
            let code = c as u32;
            if code < 0x100 {
                let _ = write!(out, "\\x{code:02x}");
            } else {
                let _ = write!(out, "\\u{{{code:x}}}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// At most `limit` bytes of `text` (cut at a character boundary), followed by how much
/// was left out: `…(1048576 bytes in all)`.
pub fn quote(text: &str, limit: usize) -> Cow<'_, str> {
    if text.len() <= limit {
        return Cow::Borrowed(text);
    }
    let mut cut = limit;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}…({} bytes in all)", &text[..cut], text.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_become_visible_text() {
        assert_eq!(neutralize("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(
            neutralize("\x1b]0;owned\x07\x1b[2J\u{9b}31m"),
            "\\x1b]0;owned\\x07\\x1b[2J\\x9b31m"
        );
        assert_eq!(neutralize("a\r\nb\rc"), "a\r\nb\\x0dc");
        assert_eq!(neutralize("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn quotes_are_cut_at_a_character_and_say_the_size() {
        assert_eq!(quote("short", 10), "short");
        assert_eq!(quote("ééé", 3), "é…(6 bytes in all)");
    }
}
