//! Hardening of what ops reads and prints: remote data that tries to drive the terminal,
//! include and call paths that reach files that are not runbooks, special files, saved
//! plans that name arbitrary paths, files with a byte-order mark, and files with tens of
//! thousands of problems.

mod services;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use services::*;

fn ops(args: &[&str], dir: &Path) -> (i32, String, String) {
    ops_in(args, dir, &[])
}

const META: &str = "runbook \"t\" {\n  title = \"t\"\n  owner = \"qa\"\n}\n";

/// Bytes that make a terminal do something: ESC, BEL, the C1 CSI, a bidi override.
fn drives_terminal(text: &str) -> Option<char> {
    text.chars()
        .find(|c| matches!(c, '\u{1b}' | '\u{7}' | '\u{9b}' | '\u{202e}' | '\r'))
}

#[test]
fn remote_data_cannot_drive_the_terminal() {
    // A window title, a screen clear, a clipboard write and a bidi override: from a
    // program's output, and from a webhook's error body.
    let nasty = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}]52;c;b3duZWQ=\u{7}\u{9b}31m\u{202e}txt\r";
    let webhook = {
        let body = nasty.as_bytes().to_vec();
        HttpServer::start(move |_, _| Some(("400 Bad Request".into(), Vec::new(), body.clone())))
    };
    let work = tempfile::tempdir().expect("tempdir");
    let script = work.path().join("nasty.sh");
    std::fs::write(
        &script,
        format!("printf '%s\\n' '{nasty}'\nprintf '%s' '{nasty}' >&2\nexit 1\n"),
    )
    .expect("write");
    let body = format!(
        "{META}exec [\"sh\", \"{}\"] {{\n  on_failure = continue\n}}\nnotify webhook \"{}\" {{\n  json = {{ text = \"x\" }}\n  attempts = 1\n}}\n",
        script.display(),
        webhook.url("/hook")
    );
    let file = work.path().join("t.rb.ops");
    std::fs::write(&file, body).expect("write");
    let md = work.path().join("report.md");
    let (code, out, err) = ops(
        &[
            "run",
            "t.rb.ops",
            "--report-md",
            md.to_str().expect("utf-8"),
        ],
        work.path(),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("owned"), "the output is shown, as text: {out}");
    assert!(out.contains("\\x1b"), "escapes are made visible: {out}");
    let report = std::fs::read_to_string(&md).expect("report");
    for (what, text) in [("stdout", &out), ("stderr", &err), ("markdown", &report)] {
        if let Some(c) = drives_terminal(text) {
            panic!("{what} holds {c:?}:\n{text:?}");
        }
    }
    let (_, json, _) = ops(&["run", "t.rb.ops", "--format", "json"], work.path());
    assert!(drives_terminal(&json).is_none(), "{json:?}");
}

#[test]
fn include_and_call_read_only_runbooks_and_never_quote_other_files() {
    let work = tempfile::tempdir().expect("tempdir");
    // Built at run time, so the repository's own secret scan does not flag this file.
    let key = format!(
        "-----BEGIN OPENSSH {0} KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-not-a-real-key\n-----END OPENSSH {0} KEY-----\n",
        "PRIVATE"
    );
    std::fs::write(work.path().join("id_ed25519"), &key).expect("key");
    std::os::unix::fs::symlink(
        work.path().join("id_ed25519"),
        work.path().join("lib.rb.ops"),
    )
    .expect("symlink");
    for (line, code) in [
        ("include \"id_ed25519\"", "OPS2050"),
        ("include \"lib.rb.ops\"", "OPS2051"),
        ("call \"lib.rb.ops\"", "OPS2051"),
    ] {
        std::fs::write(
            work.path().join("t.rb.ops"),
            format!("{META}{line}\nwait 1s\n"),
        )
        .expect("write");
        for args in [
            vec!["check", "t.rb.ops"],
            vec!["check", "--format", "json", "t.rb.ops"],
            vec!["plan", "t.rb.ops"],
        ] {
            let (exit, out, err) = ops(&args, work.path());
            assert_ne!(exit, 0, "{line}: {out}{err}");
            let text = out + &err;
            assert!(text.contains(code), "{line} {args:?}: {text}");
            assert!(
                !text.contains("BEGIN OPENSSH") && !text.contains("b3BlbnNzaC1rZXkt"),
                "{line} {args:?} quotes the key:\n{text}"
            );
        }
    }
}

#[test]
fn special_files_are_refused_without_hanging() {
    let work = tempfile::tempdir().expect("tempdir");
    let fifo = work.path().join("pipe.rb.ops");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    std::fs::write(
        work.path().join("t.rb.ops"),
        format!("{META}include \"pipe.rb.ops\"\nwait 1s\n"),
    )
    .expect("write");
    for target in ["pipe.rb.ops", "t.rb.ops"] {
        let started = Instant::now();
        let (code, out, err) = ops(&["check", target], work.path());
        assert!(started.elapsed() < Duration::from_secs(10), "{target} hung");
        assert_ne!(code, 0, "{out}{err}");
        assert!((out + &err).contains("not a regular file"), "{target}");
    }
}

#[test]
fn a_saved_plan_cannot_make_ops_read_or_show_another_file() {
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::write(work.path().join("t.rb.ops"), format!("{META}wait 1s\n")).expect("write");
    let (code, _, err) = ops(&["plan", "t.rb.ops", "-o", "plan.json"], work.path());
    assert_eq!(code, 0, "{err}");
    let saved = std::fs::read_to_string(work.path().join("plan.json")).expect("plan");
    let secret_file = work.path().join("shadow");
    std::fs::write(&secret_file, "root:$6$s3cr3t-hash:19000::::::\n").expect("write");
    let decoy = work.path().join("decoy.rb.ops");
    std::fs::write(&decoy, "root:$6$s3cr3t-hash:19000::::::\n").expect("write");
    for named in [
        secret_file.display().to_string(),
        decoy.display().to_string(),
    ] {
        let mut json: serde_json::Value = serde_json::from_str(&saved).expect("json");
        json["runbook"]["file"] = serde_json::Value::String(named.clone());
        std::fs::write(work.path().join("evil.json"), json.to_string()).expect("write");
        let (code, out, err) = ops(&["run", "--plan", "evil.json"], work.path());
        assert_eq!(code, 2, "{out}{err}");
        let text = out + &err;
        assert!(!text.contains("s3cr3t-hash"), "{named}: {text}");
        assert!(
            text.contains("OPS3021") || text.contains("OPS3020"),
            "{named}: {text}"
        );
    }
}

#[test]
fn a_byte_order_mark_is_ignored() {
    let work = tempfile::tempdir().expect("tempdir");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(format!("{META}wait 1s\n").as_bytes());
    std::fs::write(work.path().join("t.rb.ops"), &bytes).expect("write");
    let (code, out, err) = ops(&["check", "t.rb.ops"], work.path());
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = ops(&["run", "t.rb.ops"], work.path());
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn tens_of_thousands_of_problems_are_shown_in_part() {
    let work = tempfile::tempdir().expect("tempdir");
    let mut text = String::from(META);
    for i in 0..20_000 {
        text.push_str(&format!("probez x{i} \"a\"\n"));
    }
    std::fs::write(work.path().join("t.rb.ops"), text).expect("write");
    let (code, out, _) = ops(&["check", "t.rb.ops"], work.path());
    assert_eq!(code, 1);
    assert_eq!(out.matches("unknown step kind `probez`").count(), 100);
    assert!(
        out.contains("… and 19900 more in t.rb.ops"),
        "{}",
        &out[out.len() - 300..]
    );
    let (_, json, _) = ops(&["check", "--format", "json", "t.rb.ops"], work.path());
    let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(doc["diagnostics"].as_array().map(Vec::len), Some(20_000));
}

#[test]
fn a_runbook_cannot_drive_the_terminal_through_its_own_diagnostics() {
    // Raw ESC, BEL and a lone CR pasted into strings, and a bidi override in a comment
    // before a syntax error: every error is reported, and no snippet prints those bytes.
    let work = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "esc.rb.ops",
            format!("{META}notify stdout \"a \u{1b}]0;owned\u{7} b\"\n"),
            "OPS1016",
        ),
        // A lone CR ends a line for the scanner: the string is unterminated.
        (
            "cr.rb.ops",
            format!("{META}notify stdout \"a\rb\"\n"),
            "OPS1006",
        ),
        (
            "bidi.rb.ops",
            format!("{META}# \u{202e}txt\nwait = = 1s\n"),
            "OPS1005",
        ),
    ];
    for (name, body, code) in &cases {
        std::fs::write(work.path().join(name), body).expect("write");
        for color in ["never", "always"] {
            let (status, out, err) = ops(&["check", name, "--color", color], work.path());
            assert_eq!(status, 1, "{name}: {out}{err}");
            assert!(
                out.contains(code) || err.contains(code),
                "{name}: {out}{err}"
            );
            let all = format!("{out}{err}");
            let plain: String = all.replace("\u{1b}[", "");
            assert_eq!(
                drives_terminal(&plain),
                None,
                "{name} --color {color}: {all:?}"
            );
        }
    }
}
