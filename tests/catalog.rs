//! `ops list`, `ops catalog` (and the repository's generated `runbooks/README.md`),
//! `ops init` and `ops test`, through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ops(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ops"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_ACTIONS")
        .stdin(Stdio::null())
        .output()
        .expect("ops runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
    std::fs::write(path, text).expect("write");
}

fn runbook(id: &str, meta: &str, body: &str) -> String {
    format!(
        "runbook \"{id}\" {{\n  title = \"{id} title\"\n  owner = \"team-{id}\"\n{meta}}}\n\n{body}"
    )
}

#[test]
fn the_repository_catalog_is_generated_and_current() {
    let (code, text, err) = ops(&root(), &["catalog", "runbooks", "--format", "md"]);
    assert_eq!(code, 0, "{err}");
    let file = root().join("runbooks/README.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&file, &text).expect("write the catalog");
    }
    let current = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        current == text,
        "runbooks/README.md is out of date: run `ops catalog runbooks --format md -o runbooks/README.md` (or UPDATE_DOCS=1 cargo test --test catalog)"
    );
    // Every runbook of the repository is in it, libraries are not.
    let (_, json, _) = ops(&root(), &["list", "runbooks", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    let ids: Vec<&str> = json["runbooks"]
        .as_array()
        .expect("runbooks")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert!(
        ids.contains(&"quickstart") && ids.contains(&"data-dr-drill"),
        "{ids:?}"
    );
    for id in &ids {
        assert!(
            text.contains(&format!("`{id}`")),
            "{id} missing from the catalog"
        );
    }
    assert!(
        !text.contains("shared-infra.rb.ops"),
        "a library is not a procedure"
    );
}

#[test]
fn list_and_catalog_group_by_category_and_mark_overdue_validations() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "db/failover.rb.ops",
        &runbook(
            "db-failover",
            "  category = \"data\"\n  complexity = advanced\n  validated = \"2020-01-01\"\n  max_age = 30d\n  budget = 1h\n  tags = [\"lab\"]\n",
            "notify stdout \"x\"\n",
        ),
    );
    write(
        dir.path(),
        "web/restart.rb.ops",
        &runbook(
            "web-restart",
            "  category = \"deployment\"\n  description = \"Restarts | the web tier\"\n  validated = \"2999-01-01\"\n  max_age = 90d\n",
            "notify stdout \"y\"\n",
        ),
    );
    write(dir.path(), "lib/common.rb.ops", "param x: string = \"a\"\n");
    let (code, out, err) = ops(dir.path(), &["list"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].starts_with("db-failover") && lines[1].contains("advanced"),
        "{out}"
    );
    assert!(
        lines[1].ends_with("db/failover.rb.ops  (validation overdue)"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("web-restart") && !lines[2].contains("overdue"),
        "{out}"
    );
    let (_, out, _) = ops(dir.path(), &["list", ".", "--tag", "lab", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    let runbooks = json["runbooks"].as_array().expect("array");
    assert_eq!(runbooks.len(), 1);
    assert_eq!(runbooks[0]["overdue"], true);
    assert_eq!(runbooks[0]["due"], "2020-01-31");
    assert_eq!(runbooks[0]["budget"], "1h");

    let (code, md, _) = ops(dir.path(), &["catalog", "."]);
    assert_eq!(code, 0);
    let data = md.find("## data").expect("data section");
    let deployment = md.find("## deployment").expect("deployment section");
    assert!(data < deployment, "{md}");
    assert!(
        md.contains("| [db-failover title](db/failover.rb.ops) `db-failover` |  | team-db-failover | advanced | 1h | 2020-01-01 **overdue** |"),
        "{md}"
    );
    assert!(
        md.contains("Restarts \\| the web tier"),
        "pipes are escaped: {md}"
    );
    assert!(md.contains("2999-01-01 (due 2999-04-01)"), "{md}");
    // Written atomically to a file with -o; JSON has the same entries.
    let (code, _, _) = ops(
        dir.path(),
        &["catalog", ".", "--format", "json", "-o", "c.json"],
    );
    assert_eq!(code, 0);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("c.json")).expect("file"))
            .expect("json");
    assert_eq!(json["runbooks"].as_array().map(Vec::len), Some(2));
    // A directory without runbooks is a usage error, not an empty catalog.
    let empty = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = ops(empty.path(), &["catalog", "."]);
    assert_eq!(code, 2);
    assert!(err.contains("no `*.rb.ops` files"), "{err}");
}

#[test]
fn init_writes_a_starter_that_checks_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = ops(dir.path(), &["init", "ops/Restart API.rb.ops"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("runbook \"restart-api\""), "{out}");
    let file = dir.path().join("ops/Restart API.rb.ops");
    let text = std::fs::read_to_string(&file).expect("written");
    let (code, out, err) = ops(dir.path(), &["check", "--deny-warnings", "ops"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, _) = ops(dir.path(), &["fmt", "--check", "ops"]);
    assert_eq!(code, 0, "the starter is formatted");
    let (code, out, _) = ops(dir.path(), &["plan", "ops/Restart API.rb.ops"]);
    assert_eq!(code, 0, "{out}");
    // A second init refuses and leaves the file alone.
    std::fs::write(&file, "# mine\n").expect("write");
    let (code, _, err) = ops(dir.path(), &["init", "ops/Restart API.rb.ops"]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists; nothing was written"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "# mine\n");
    assert!(text.contains("owner       = \"platform-team\""));
    let (code, _, err) = ops(dir.path(), &["init", "notes.txt"]);
    assert_eq!(code, 2);
    assert!(err.contains("does not end in `.rb.ops`"), "{err}");
}

#[test]
fn test_runs_tagged_runbooks_and_writes_junit_and_markdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tagged = "  tags = [\"lab\"]\n";
    write(
        dir.path(),
        "a.rb.ops",
        &runbook("a-pass", tagged, "notify stdout \"hello\"\n"),
    );
    write(
        dir.path(),
        "b.rb.ops",
        &runbook(
            "b-fail",
            tagged,
            "probe exec [\"sh\", \"-c\", \"echo broken >&2; exit 3\"] {\n  expect exit == 0\n  timeout 5s\n}\n",
        ),
    );
    write(
        dir.path(),
        "c.rb.ops",
        &runbook("c-untagged", "", "notify stdout \"no\"\n"),
    );
    write(
        dir.path(),
        "d.rb.ops",
        &runbook("d-slow", tagged, "wait 30s\n"),
    );
    let (code, out, err) = ops(
        dir.path(),
        &[
            "test",
            ".",
            "--tag",
            "lab",
            "--junit",
            "out/junit.xml",
            "--md",
            "out/report.md",
            "--timeout",
            "2s",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("ops test: 3 runbooks"), "{out}");
    assert!(out.contains("PASS  a-pass"), "{out}");
    assert!(out.contains("FAIL  b-fail"), "{out}");
    assert!(
        out.contains("step 1 `probe exec"),
        "the failed step is named: {out}"
    );
    assert!(
        out.contains("FAIL  d-slow") && out.contains("timed out after 2s"),
        "{out}"
    );
    assert!(!out.contains("c-untagged"), "{out}");
    assert!(out.contains("1 passed, 2 failed"), "{out}");
    let junit = std::fs::read_to_string(dir.path().join("out/junit.xml")).expect("junit");
    assert!(junit.starts_with("<?xml"), "{junit}");
    assert!(
        junit.contains("<testsuites name=\"ops test\" tests=\"3\" failures=\"2\""),
        "{junit}"
    );
    assert_eq!(junit.matches("<testsuite ").count(), 3, "{junit}");
    assert!(junit.contains("<failure"), "{junit}");
    // Every count is the number of cases it stands for: each suite's `tests` and
    // `failures` match its <testcase>s, and the outer counts are their sums.
    let mut total = (0, 0);
    for suite in junit.split("<testsuite ").skip(1) {
        let suite = &suite[..suite.find("</testsuite>").expect("a closed suite")];
        let cases = suite.matches("<testcase ").count();
        let failures = suite.matches("<failure").count();
        assert!(
            suite.contains(&format!("tests=\"{cases}\""))
                && suite.contains(&format!("failures=\"{failures}\"")),
            "a suite's counts match its cases: {suite}"
        );
        total = (total.0 + cases, total.1 + failures);
    }
    assert!(
        junit.contains(&format!("tests=\"{}\" failures=\"{}\"", total.0, total.1)),
        "the report's counts are the sums {total:?}: {junit}"
    );
    let md = std::fs::read_to_string(dir.path().join("out/report.md")).expect("md");
    assert!(md.contains("| `a-pass` | `./a.rb.ops` | passed |"), "{md}");
    assert!(
        md.contains("| `b-fail` | `./b.rb.ops` | **failed** |"),
        "{md}"
    );
    assert!(
        md.contains("<details><summary>a-pass (passed)</summary>"),
        "{md}"
    );
    // Nothing tagged: a usage error.
    let (code, _, err) = ops(dir.path(), &["test", ".", "--tag", "nothing"]);
    assert_eq!(code, 2);
    assert!(err.contains("no runbook tagged `nothing`"), "{err}");
}
