//! The real `ops` binary: output of `check`, `fmt` and `explain`, and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Runs `ops` in the fixtures directory with a fixed date and no colour or CI.
fn ops(args: &[&str]) -> (i32, String, String) {
    ops_in(&fixtures(), args, &[], None)
}

fn ops_in(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ops"));
    cmd.args(args)
        .current_dir(dir)
        .env("OPS_TODAY", "2026-11-22")
        .env("OPS_NOW", "2026-12-01T19:30:00Z")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("ops runs");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("ops finishes");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn transcript((code, stdout, stderr): (i32, String, String)) -> String {
    format!("exit: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}")
}

#[test]
fn check_clean_runbook_exits_zero() {
    let (code, stdout, stderr) = ops(&["check", "check/ok/summit-ga-smoke.rb.ops"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "checked 1 file: no problems\n", "")
    );
}

#[test]
fn check_errors_human() {
    // Rendered at the width COLUMNS says (a terminal's); into a pipe nothing wraps.
    let fixtures = fixtures();
    let args = ["check", "check/err/many-at-once.rb.ops"];
    insta::assert_snapshot!(transcript(ops_in(
        &fixtures,
        &args,
        &[("COLUMNS", "100")],
        None
    )));
    let (_, unwrapped, _) = ops(&args);
    assert!(
        unwrapped.contains("`max_body`, `on_failure` or `description`\n"),
        "a pipe gets whole lines: {unwrapped}"
    );
}

#[test]
fn check_directory_reports_every_file() {
    let (code, stdout, _) = ops(&["check", "check/ok"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.ends_with("checked 6 files: no problems\n"),
        "{stdout}"
    );
}

/// Files are checked on every core and reported as they finish, yet the report is in path
/// order, every file is counted once, and a library's problem reached from many runbooks
/// is reported once, at the first of them.
#[test]
fn check_of_many_files_reports_in_path_order_and_each_problem_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("lib.rb.ops"),
        "param port: int = \"not a number\"\n",
    )
    .expect("write");
    let n = 120;
    for i in 0..n {
        // Every seventh file has its own error; every file includes the broken library.
        let body = if i % 7 == 0 {
            "notify stdout missing_name\n"
        } else {
            "notify stdout \"ok\"\n"
        };
        let text = format!(
            "runbook \"r{i}\" {{\n  title = \"r{i}\"\n  owner = \"t\"\n}}\n\ninclude \"lib.rb.ops\"\n\n{body}"
        );
        std::fs::write(dir.path().join(format!("r{i:03}.rb.ops")), text).expect("write");
    }
    let json = |_: ()| {
        let (code, stdout, _) = ops_in(dir.path(), &["check", "--format", "json", "."], &[], None);
        assert_eq!(code, 1, "{stdout}");
        serde_json::from_str::<serde_json::Value>(&stdout).expect("JSON")
    };
    let doc = json(());
    assert_eq!(json(()), doc, "two checks of the same files differ");
    let paths: Vec<&str> = doc["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path"))
        .collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "files out of order");
    assert_eq!(paths.len(), n + 1, "{paths:?}");
    let diags = doc["diagnostics"].as_array().expect("diagnostics");
    let in_lib = diags
        .iter()
        .filter(|d| {
            d["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("lib.rb.ops"))
        })
        .count();
    assert_eq!(in_lib, 1, "the library's problem once: {diags:#?}");
    let own = diags
        .iter()
        .filter(|d| {
            d["path"]
                .as_str()
                .is_some_and(|p| !p.ends_with("lib.rb.ops"))
        })
        .count();
    assert_eq!(own, n.div_ceil(7), "{diags:#?}");
    assert_eq!(doc["summary"]["files"], n + 1);
    assert_eq!(doc["summary"]["errors"], diags.len());
    let (code, human, _) = ops_in(dir.path(), &["check", "."], &[], None);
    assert_eq!(code, 1);
    assert!(
        human.ends_with(&format!(
            "checked {} files: {} errors, 0 warnings\n",
            n + 1,
            diags.len()
        )),
        "{human}"
    );
    // The human report follows the same order: r000's problem before r007's.
    let first = human.find("r000.rb.ops").expect("r000 reported");
    let second = human.find("r007.rb.ops").expect("r007 reported");
    assert!(first < second, "{human}");
}
#[test]
fn check_json_is_versioned_and_positions_diagnostics() {
    let (code, stdout, _) = ops(&[
        "check",
        "--format",
        "json",
        "check/err/undefined-name.rb.ops",
    ]);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    assert_eq!(doc["version"], 1);
    insta::assert_json_snapshot!(doc);
}

#[test]
fn check_github_annotations_when_in_actions() {
    let out = ops_in(
        &fixtures(),
        &[
            "check",
            "check/err/validation-expired.rb.ops",
            "check/err/secret-leak.rb.ops",
        ],
        &[("GITHUB_ACTIONS", "true")],
        None,
    );
    let annotations: Vec<&str> = out.1.lines().filter(|l| l.starts_with("::")).collect();
    insta::assert_snapshot!(annotations.join("\n"));
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let (code, stdout, _) = ops(&["check", "check/err/unused-declaration.rb.ops"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("0 errors, 1 warning"), "{stdout}");
    let (code, _, _) = ops(&[
        "check",
        "--deny-warnings",
        "check/err/unused-declaration.rb.ops",
    ]);
    assert_eq!(code, 1);
}

#[test]
fn usage_errors_exit_two() {
    let (code, _, stderr) = ops(&["check", "no/such/file.rb.ops"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no/such/file.rb.ops"), "{stderr}");
    let empty = tempfile::tempdir().expect("tempdir");
    let (code, _, stderr) = ops_in(empty.path(), &["check", "."], &[], None);
    assert_eq!(code, 2);
    assert!(stderr.contains("no `*.rb.ops` files"), "{stderr}");
    let (code, _, _) = ops(&["check", "--format", "yaml", "check/ok"]);
    assert_eq!(code, 2);
    let (code, _, _) = ops(&["check"]);
    assert_eq!(code, 2);
    let (code, _, stderr) = ops_in(
        &fixtures(),
        &["check", "check/ok"],
        &[("OPS_TODAY", "yesterday")],
        None,
    );
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let (_, stdout, _) = ops(&[
        "--color",
        "always",
        "check",
        "check/err/unknown-variant.rb.ops",
    ]);
    assert!(stdout.contains("\x1b["), "--color always colours");
    let (_, stdout, _) = ops(&[
        "--color",
        "never",
        "check",
        "check/err/unknown-variant.rb.ops",
    ]);
    assert!(!stdout.contains("\x1b["));
    let (_, stdout, _) = ops_in(
        &fixtures(),
        &["check", "check/err/unknown-variant.rb.ops"],
        &[("NO_COLOR", "1")],
        None,
    );
    assert!(!stdout.contains("\x1b["));
    // Into a pipe `auto` is plain, unless CLICOLOR_FORCE asks for colour anyway.
    let args = ["check", "check/err/unknown-variant.rb.ops"];
    let (_, stdout, _) = ops(&args);
    assert!(!stdout.contains("\x1b["), "a pipe gets no colour");
    let (_, stdout, _) = ops_in(&fixtures(), &args, &[("CLICOLOR_FORCE", "1")], None);
    assert!(stdout.contains("\x1b["), "CLICOLOR_FORCE colours a pipe");
}

#[test]
fn fmt_check_shows_a_diff_and_fails() {
    insta::assert_snapshot!(transcript(ops(&[
        "fmt",
        "--check",
        "fmt/in/alignment.rb.ops"
    ])));
    let (code, stdout, stderr) = ops(&["fmt", "--check", "check/ok"]);
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));
}

#[test]
fn fmt_rewrites_files_in_place_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("messy.rb.ops");
    std::fs::copy(fixtures().join("fmt/in/messy.rb.ops"), &file).expect("copy");
    let (code, _, stderr) = ops_in(dir.path(), &["fmt", "messy.rb.ops"], &[], None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "formatted messy.rb.ops\n");
    let once = std::fs::read_to_string(&file).expect("read");
    let (code, _, stderr) = ops_in(dir.path(), &["fmt", "messy.rb.ops"], &[], None);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), once);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left behind");
}

#[test]
fn fmt_reads_stdin() {
    let (code, stdout, _) = ops_in(&fixtures(), &["fmt", "-"], &[], Some("wait   1s;wait 2s\n"));
    assert_eq!((code, stdout.as_str()), (0, "wait 1s\nwait 2s\n"));
}

#[test]
fn fmt_refuses_files_with_syntax_errors() {
    insta::assert_snapshot!(transcript(ops(&[
        "fmt",
        "parse/err/unterminated-string.rb.ops"
    ])));
}

#[test]
fn explain_prints_the_documentation() {
    let (code, stdout, _) = ops(&["explain", "OPS2004"]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("## OPS2004 unknown-attribute\n"),
        "{stdout}"
    );
    let (code, by_slug, _) = ops(&["explain", "unknown-attribute"]);
    assert_eq!((code, by_slug), (0, stdout));
    let (code, _, stderr) = ops(&["explain", "OPS9999"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--list"), "{stderr}");
    let (code, list, _) = ops(&["explain", "--list"]);
    assert_eq!(code, 0);
    assert_eq!(list.lines().count(), lang::Code::ALL.len());
}
