//! `allowed_signers` (the `ssh-keygen -Y verify` format) and checking one approval's SSH
//! signature against it: `principals [options] keytype base64 [comment]` per line, with
//! the `namespaces`, `valid-after` and `valid-before` options honoured.

use ssh_key::{PublicKey, SshSig};

use super::message::NAMESPACE;

/// The longest `allowed_signers` file read.
pub const SIGNERS_LIMIT: usize = 1024 * 1024;

/// One usable line.
#[derive(Clone, Debug)]
struct Entry {
    principals: Vec<String>,
    namespaces: Option<Vec<String>>,
    valid_after: Option<jiff::Timestamp>,
    valid_before: Option<jiff::Timestamp>,
    key: PublicKey,
}

/// The parsed file.
#[derive(Clone, Debug, Default)]
pub struct AllowedSigners {
    entries: Vec<Entry>,
}

/// Splits where `sep` holds outside double quotes (quotes kept), dropping empty parts.
fn split_unquoted(text: &str, sep: impl Fn(char) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if !quoted && sep(c) {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The fields of a line: split on spaces and tabs outside quotes.
fn fields(line: &str) -> Vec<String> {
    split_unquoted(line, |c| c == ' ' || c == '\t')
}

fn is_key_type(word: &str) -> bool {
    word.starts_with("ssh-") || word.starts_with("ecdsa-") || word.starts_with("sk-")
}

/// `YYYYMMDD[HHMM[SS]][Z]`, read as UTC.
fn signer_time(text: &str) -> Result<jiff::Timestamp, String> {
    let digits = text.trim_end_matches('Z');
    let padded = match digits.len() {
        8 => format!("{digits}000000"),
        12 => format!("{digits}00"),
        14 => digits.to_string(),
        _ => return Err(format!("`{text}` is not YYYYMMDD[HHMM[SS]][Z]")),
    };
    jiff::civil::DateTime::strptime("%Y%m%d%H%M%S", &padded)
        .and_then(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
        .map(|z| z.timestamp())
        .map_err(|e| format!("`{text}`: {e}"))
}

impl AllowedSigners {
    /// Parses the file; a line that cannot be used is an error naming it.
    pub fn parse(text: &str) -> Result<AllowedSigners, String> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: String| format!("allowed_signers line {}: {why}", n + 1);
            let f = fields(line);
            if f.len() < 3 {
                return Err(bad("expected `principals [options] keytype key`".into()));
            }
            let principals: Vec<String> = f[0]
                .trim_matches('"')
                .split(',')
                .map(str::to_string)
                .collect();
            let (options, key_at) = if is_key_type(&f[1]) {
                (None, 1)
            } else {
                (Some(f[1].as_str()), 2)
            };
            let mut entry_ns = None;
            let (mut after, mut before) = (None, None);
            for option in options.map(split_options).unwrap_or_default() {
                let (name, value) = option
                    .split_once('=')
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.trim_matches('"').to_string()))
                    .unwrap_or_else(|| (option.to_ascii_lowercase(), String::new()));
                match name.as_str() {
                    "namespaces" => {
                        entry_ns = Some(value.split(',').map(str::to_string).collect());
                    }
                    "valid-after" => after = Some(signer_time(&value).map_err(bad)?),
                    "valid-before" => before = Some(signer_time(&value).map_err(bad)?),
                    "cert-authority" => {
                        return Err(bad(
                            "cert-authority lines are not supported; list the approvers' keys"
                                .into(),
                        ));
                    }
                    other => return Err(bad(format!("unknown option `{other}`"))),
                }
            }
            let key_text = f
                .get(key_at..key_at + 2)
                .map(|k| k.join(" "))
                .ok_or_else(|| bad("no key".into()))?;
            let key = PublicKey::from_openssh(&key_text)
                .map_err(|e| bad(format!("the key cannot be read: {e}")))?;
            entries.push(Entry {
                principals,
                namespaces: entry_ns,
                valid_after: after,
                valid_before: before,
                key,
            });
        }
        Ok(AllowedSigners { entries })
    }

    /// Verifies `signature` (armored `SSH SIGNATURE`) over `message` as `principal`'s at
    /// `now`; the key's SHA256 fingerprint on success.
    pub fn verify(
        &self,
        principal: &str,
        message: &[u8],
        signature: &str,
        now: jiff::Timestamp,
    ) -> Result<String, String> {
        let sig = SshSig::from_pem(signature.trim())
            .map_err(|e| format!("the signature cannot be read: {e}"))?;
        if sig.namespace() != NAMESPACE {
            return Err(format!(
                "it is signed for namespace `{}`, not `{NAMESPACE}`",
                sig.namespace()
            ));
        }
        let fingerprint = PublicKey::from(sig.public_key().clone())
            .fingerprint(ssh_key::HashAlg::Sha256)
            .to_string();
        let entry = self
            .entries
            .iter()
            .find(|e| e.key.key_data() == sig.public_key() && listed(&e.principals, principal))
            .ok_or_else(|| {
                format!("the key {fingerprint} is not in allowed_signers for `{principal}`")
            })?;
        if let Some(ns) = &entry.namespaces
            && !ns.iter().any(|n| matches(n, NAMESPACE))
        {
            return Err(format!(
                "allowed_signers limits {principal}'s key to other namespaces"
            ));
        }
        if entry.valid_after.is_some_and(|t| now < t) || entry.valid_before.is_some_and(|t| now > t)
        {
            return Err(format!(
                "allowed_signers says {principal}'s key is not valid now"
            ));
        }
        entry
            .key
            .verify(NAMESPACE, message, &sig)
            .map_err(|_| format!("the signature does not match the message (key {fingerprint})"))?;
        Ok(fingerprint)
    }
}

/// Options are comma-separated, with commas inside quotes kept.
fn split_options(text: &str) -> Vec<String> {
    split_unquoted(text, |c| c == ',')
}

/// A principal list: `name` matches one pattern and no negated one (`!pattern`), as
/// `ssh-keygen -Y verify` reads it.
fn listed(patterns: &[String], name: &str) -> bool {
    let negated = patterns
        .iter()
        .filter_map(|p| p.strip_prefix('!'))
        .any(|p| matches(p, name));
    !negated
        && patterns
            .iter()
            .any(|p| !p.starts_with('!') && matches(p, name))
}

/// A principal pattern: exact, or with `*` and `?` wildcards.
fn matches(pattern: &str, name: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return pattern == name;
    }
    globset::Glob::new(pattern)
        .map(|g| g.compile_matcher().is_match(name))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGcvUV1e6JVy1hvK2xnOAvqSeVRGyBDLqbWyFWH0UhjV";

    #[test]
    fn lines_with_options_parse_and_bad_lines_are_named() {
        let ok = format!(
            "# approvers\nalice,bob {KEY} alice@laptop\ncarol namespaces=\"git,ops-approval\",valid-after=\"20260101\" {KEY}\n"
        );
        let signers = AllowedSigners::parse(&ok).unwrap();
        assert_eq!(signers.entries.len(), 2);
        assert_eq!(signers.entries[0].principals, ["alice", "bob"]);
        assert_eq!(
            signers.entries[1].namespaces.as_deref(),
            Some(&["git".to_string(), "ops-approval".to_string()][..])
        );
        for (bad, why) in [
            (format!("alice cert-authority {KEY}"), "cert-authority"),
            (
                format!("alice frobnicate {KEY}"),
                "unknown option `frobnicate`",
            ),
            ("alice ssh-ed25519 notbase64".to_string(), "cannot be read"),
            ("alice".to_string(), "expected"),
            (format!("alice valid-before=\"2026\" {KEY}"), "YYYYMMDD"),
        ] {
            let err = AllowedSigners::parse(&format!("\n{bad}\n")).unwrap_err();
            assert!(
                err.starts_with("allowed_signers line 2:") && err.contains(why),
                "{err}"
            );
        }
        assert!(matches("*@example.com", "bob@example.com"));
        let team = ["*".to_string(), "!mallory".to_string()];
        assert!(listed(&team, "bob") && !listed(&team, "mallory"));
        assert!(!matches("alice", "alice2"));
    }
}
