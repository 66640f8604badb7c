//! The last line of defence for secrets: every line of text leaving a run (events,
//! reports, error messages, panics) passes through a [`Redactor`] that replaces each
//! known secret value, also in its JSON-escaped and URL-encoded forms, with `(secret)`.
//! Values are marked secret by type first ([`crate::value::Value::Secret`]); this catches
//! what a step's own error text (a URL in a connection error) might repeat.

use crate::value::REDACTED;

/// Secrets shorter than this are not searched for in text: replacing every `a` would
/// make output unreadable without protecting anything. Their values are still never
/// printed by type.
pub const MIN_REDACTED_LEN: usize = 3;

/// Replaces known secret values in text.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Every form searched for, longest first.
    needles: Vec<String>,
}

impl Redactor {
    /// A redactor for these secret values.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut needles = Vec::new();
        for secret in secrets {
            if secret.len() < MIN_REDACTED_LEN {
                continue;
            }
            needles.push(secret.to_string());
            // Output is often streamed line by line: each line of a multi-line secret
            // (a PEM key) is a secret too.
            if secret.contains('\n') {
                needles.extend(
                    secret
                        .lines()
                        .map(str::trim)
                        .filter(|l| l.len() >= MIN_REDACTED_LEN)
                        .map(str::to_string),
                );
            }
            // The form `Value::render` writes inside a quoted literal.
            let rendered = crate::value::Value::str(secret).render();
            needles.push(rendered[1..rendered.len() - 1].to_string());
            let json = serde_json::to_string(secret).unwrap_or_default();
            needles.push(json[1..json.len().saturating_sub(1).max(1)].to_string());
            needles.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
            needles.push(percent_encode(secret));
        }
        needles.retain(|n| n.len() >= MIN_REDACTED_LEN);
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        Redactor { needles }
    }

    /// The text with every secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), REDACTED);
            }
        }
        out
    }

    /// Redacts in place.
    pub fn redact_in_place(&self, text: &mut String) {
        if self.needles.iter().any(|n| text.contains(n.as_str())) {
            *text = self.redact(text);
        }
    }

    /// True when no secret is known.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }
}

/// RFC 3986 percent-encoding of everything but unreserved characters (`%20` for space).
fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_is_redacted() {
        let r = Redactor::new(["p@ss w\"rd/1"]);
        for text in [
            "p@ss w\"rd/1",
            "p@ss w\\\"rd/1",
            "p%40ss+w%22rd%2F1",
            "p%40ss%20w%22rd%2F1",
        ] {
            let line = format!("connect to https://u:{text}@db failed");
            assert_eq!(r.redact(&line), "connect to https://u:(secret)@db failed");
        }
        assert!(Redactor::new(["ab"]).is_empty());
    }

    #[test]
    fn lines_of_multi_line_secrets_and_rendered_forms() {
        let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n-----END KEY-----";
        let r = Redactor::new([key, "pa$$w0rd"]);
        assert_eq!(r.redact("stdout: MIIEvQIBADANBgkq"), "stdout: (secret)");
        assert_eq!(r.redact("got \"pa\\$\\$w0rd\""), "got \"(secret)\"");
    }
}
