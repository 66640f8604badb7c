//! Every form in which common tools write a secret value: the value itself, each line of
//! a multi-line value, string escapes (JSON, twice-escaped JSON, ASCII-only JSON, Rust
//! debug, `.rb.ops` literals, HTML, shell single quotes), percent-encodings (RFC 3986,
//! form encoding, and what the `url` crate writes into each part of a URL), hex, and
//! base64 (standard and URL-safe, at all three byte alignments, with and without
//! padding). Letter case is handled by the matcher, which ignores ASCII case.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Derived forms shorter than this are not searched for: a two-character base64 core
/// would match everywhere without protecting anything.
pub const MIN_FORM_LEN: usize = 4;

/// Secrets longer than this are searched for as themselves and line by line only: the
/// thirty encoded forms of a multi-megabyte file would make the matcher huge, and such a
/// value is not pasted into a URL or a header.
pub const MAX_ENCODED_LEN: usize = 16 * 1024;

/// Every form of `secret` worth searching for (unsorted, possibly with duplicates).
pub fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    // Output is often streamed line by line: each line of a multi-line secret (a PEM key)
    // is a secret too.
    if secret.contains('\n') {
        out.extend(secret.lines().map(str::trim).map(str::to_string));
    }
    if secret.len() > MAX_ENCODED_LEN {
        return out;
    }
    // A Markdown table cell escapes `|`.
    out.push(secret.replace('|', "\\|"));
    let json = json_escape(secret);
    out.push(json_escape(&json));
    out.push(json);
    out.push(json_ascii(secret));
    out.push(debug_escape(secret));
    out.push(literal_escape(secret));
    out.push(html_escape(secret, "&#39;"));
    out.push(html_escape(secret, "&#x27;"));
    out.push(secret.replace('\'', "'\\''"));
    out.push(percent_encode(secret));
    out.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
    out.extend(url_parts(secret));
    out.push(hex(secret.as_bytes()));
    out.extend(base64_forms(secret.as_bytes()));
    out
}

/// JSON string contents (without the quotes), as serde_json writes them.
fn json_escape(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(&quoted)
        .to_string()
}

/// JSON with every non-ASCII character as `\uXXXX` (Python's `json.dumps` default).
fn json_ascii(text: &str) -> String {
    let mut out = String::new();
    for c in json_escape(text).chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

/// Rust's `{:?}` of a string, without the quotes.
fn debug_escape(text: &str) -> String {
    let quoted = format!("{text:?}");
    quoted[1..quoted.len() - 1].to_string()
}

/// The form `Value::render` writes inside a quoted `.rb.ops` literal.
fn literal_escape(text: &str) -> String {
    let rendered = crate::value::Value::str(text).render();
    rendered[1..rendered.len() - 1].to_string()
}

fn html_escape(text: &str, apostrophe: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apostrophe),
            c => out.push(c),
        }
    }
    out
}

/// RFC 3986 percent-encoding of everything but unreserved characters (`%20` for space).
fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The partial percent-encodings the `url` crate (and so reqwest, in its error texts)
/// writes for a value in the path, query, fragment, user name and password of a URL.
fn url_parts(secret: &str) -> Vec<String> {
    let Ok(base) = url::Url::parse("http://h/") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut u = base.clone();
    u.set_path(secret);
    out.push(u.path().trim_start_matches('/').to_string());
    let mut u = base.clone();
    u.set_query(Some(secret));
    out.extend(u.query().map(str::to_string));
    let mut u = base.clone();
    u.set_fragment(Some(secret));
    out.extend(u.fragment().map(str::to_string));
    let mut u = base.clone();
    if u.set_username(secret).is_ok() {
        out.push(u.username().to_string());
    }
    let mut u = base;
    if u.set_password(Some(secret)).is_ok() {
        out.extend(u.password().map(str::to_string));
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Base64 of the secret wherever it sits in a longer encoded text: for each of the three
/// byte alignments, the characters that depend on the secret's bytes only; and the whole
/// encoding of the secret alone, padded and not (standard and URL-safe alphabets).
fn base64_forms(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        out.push(engine.encode(bytes));
    }
    for shift in 0..3usize {
        let mut shifted = vec![0u8; shift];
        shifted.extend_from_slice(bytes);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&shifted);
            // Character i covers bits 6i..6i+6 of the shifted bytes: keep those that
            // cover secret bits only (after the shift's 8*shift bits, within the text).
            let first = (8 * shift).div_ceil(6);
            let last = (8 * shifted.len()) / 6;
            if first < last {
                out.push(encoded[first..last].to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_cores_are_found_at_every_alignment() {
        let secret = b"hunter2-secret";
        let found = base64_forms(secret);
        for prefix in [&b""[..], b"x", b"xy", b"xyz", b"wxyz"] {
            for suffix in [&b""[..], b"!", b"!!"] {
                let mut text = prefix.to_vec();
                text.extend_from_slice(secret);
                text.extend_from_slice(suffix);
                let encoded = STANDARD.encode(&text);
                assert!(
                    found
                        .iter()
                        .any(|f| f.len() >= MIN_FORM_LEN && encoded.contains(f.as_str())),
                    "{encoded} for prefix {prefix:?}"
                );
            }
        }
    }

    #[test]
    fn url_parts_match_what_the_url_crate_writes() {
        let secret = "tok en!x/é";
        let u =
            url::Url::parse(&format!("http://127.0.0.1:1/api/{secret}?q={secret}")).expect("url");
        let text = u.to_string();
        let forms = url_parts(secret);
        assert!(
            forms.iter().any(|f| text.contains(&format!("/api/{f}"))),
            "{text}"
        );
        assert!(
            forms.iter().any(|f| text.contains(&format!("q={f}"))),
            "{text}"
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(json_ascii("é\"x"), "\\u00e9\\\"x");
        assert_eq!(json_escape(&json_escape("a\"b")), "a\\\\\\\"b");
        assert_eq!(html_escape("<a'&>", "&#39;"), "&lt;a&#39;&amp;&gt;");
        assert_eq!(hex(b"\x01\xab"), "01ab");
        assert_eq!(debug_escape("a\tb"), "a\\tb");
    }
}
