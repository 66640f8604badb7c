//! The approval message: the text an approver signs (`ssh-keygen -Y sign -n
//! ops-approval`). One `key: value` per line in a fixed order, so the signed bytes are
//! exactly what is checked; nothing in it is secret.

/// The SSH signature namespace of approvals.
pub const NAMESPACE: &str = "ops-approval";

/// The first line of every approval message.
const MAGIC: &str = "ops-approval 1";

/// The longest approval file read (message and signature).
pub const FILE_LIMIT: usize = 64 * 1024;

/// An approver's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The gate may open.
    Approve,
    /// The run stops here (its handlers run).
    Reject,
}

impl Decision {
    /// `approve` or `reject`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }
}

/// What an approval says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The run it is for.
    pub run: String,
    /// The plan hash it approves.
    pub plan: String,
    /// The gate's step id.
    pub step: String,
    /// The gate's title (for the approver's eyes; not what is checked).
    pub gate: String,
    /// Who approves (a principal of `allowed_signers`).
    pub approver: String,
    /// Approve or reject.
    pub decision: Decision,
    /// Why (one line, may be empty).
    pub reason: String,
    /// When it was signed (RFC 3339).
    pub signed: jiff::Timestamp,
    /// After this it is void (RFC 3339).
    pub expires: jiff::Timestamp,
}

const KEYS: [&str; 9] = [
    "run", "plan", "step", "gate", "approver", "decision", "reason", "signed", "expires",
];

/// One line: control characters (line breaks included) become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Message {
    /// The exact text that is signed.
    pub fn text(&self) -> String {
        let values = [
            one_line(&self.run),
            one_line(&self.plan),
            one_line(&self.step),
            one_line(&self.gate),
            one_line(&self.approver),
            self.decision.as_str().to_string(),
            one_line(&self.reason),
            self.signed.to_string(),
            self.expires.to_string(),
        ];
        let mut out = format!("{MAGIC}\n");
        for (k, v) in KEYS.iter().zip(values) {
            out.push_str(&format!("{k}: {v}\n"));
        }
        out
    }

    /// Parses a message; it must be in the canonical form [`Message::text`] writes.
    pub fn parse(text: &str) -> Result<Message, String> {
        let mut lines = text.split('\n');
        if lines.next() != Some(MAGIC) {
            return Err(format!("it does not start with `{MAGIC}`"));
        }
        let mut values = Vec::new();
        for key in KEYS {
            let line = lines
                .next()
                .ok_or_else(|| format!("it has no `{key}:` line"))?;
            let value = line
                .strip_prefix(key)
                .and_then(|l| l.strip_prefix(": "))
                .ok_or_else(|| format!("`{key}:` expected, found `{}`", one_line(line)))?;
            values.push(value.to_string());
        }
        if lines.next() != Some("") || lines.next().is_some() {
            return Err("it has text after `expires:`".into());
        }
        let time = |v: &str, what: &str| {
            v.parse::<jiff::Timestamp>()
                .map_err(|e| format!("its `{what}` time `{v}` is not RFC 3339: {e}"))
        };
        let decision = match values[5].as_str() {
            "approve" => Decision::Approve,
            "reject" => Decision::Reject,
            other => return Err(format!("its decision `{other}` is not approve or reject")),
        };
        let message = Message {
            run: values[0].clone(),
            plan: values[1].clone(),
            step: values[2].clone(),
            gate: values[3].clone(),
            approver: values[4].clone(),
            decision,
            reason: values[6].clone(),
            signed: time(&values[7], "signed")?,
            expires: time(&values[8], "expires")?,
        };
        // Canonical form only: what was signed is what is read.
        if message.text() != text {
            return Err("it is not in canonical form".into());
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            run: "r1".into(),
            plan: "sha256:abc".into(),
            step: "2.1".into(),
            gate: "approve \"Restore\nproduction\"".into(),
            approver: "bob".into(),
            decision: Decision::Reject,
            reason: "not\r\nnow".into(),
            signed: "2026-12-02T05:00:00Z".parse().unwrap(),
            expires: "2026-12-02T06:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_signed_text_reads_back_and_nothing_else_does() {
        let text = message().text();
        assert!(text.starts_with("ops-approval 1\nrun: r1\n"), "{text}");
        // Line breaks in free text cannot forge a field.
        assert!(
            text.contains("gate: approve \"Restore production\"\n"),
            "{text}"
        );
        let back = Message::parse(&text).unwrap();
        assert_eq!(back.decision, Decision::Reject);
        assert_eq!(back.reason, "not  now");
        for bad in [
            text.replace("ops-approval 1", "ops-approval 2"),
            text.replace("decision: reject", "decision: maybe"),
            text.replace("step: 2.1\n", ""),
            format!("{text}extra: 1\n"),
            text.replace("expires: 2026-12-02T06:00:00Z", "expires: tomorrow"),
            text.replace("run: r1\n", "run: r1\r\n"),
        ] {
            assert!(Message::parse(&bad).is_err(), "{bad}");
        }
    }
}
