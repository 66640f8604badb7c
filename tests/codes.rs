//! The diagnostic code table: unique, fully documented in `docs/errors.md`, and every
//! code exercised: parse and check codes by an `err` fixture (or a generated bad-input
//! test), plan and run codes by a fixture of `tests/fixtures/codes` run through `ops` (or,
//! where no single runbook can produce one, by a named test that asserts it).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use lang::Code;

/// Codes produced by inputs too large or too odd to commit as fixture files; each is
/// asserted by `tests/bad_input.rs` instead.
const GENERATED: &[Code] = &[Code::FileTooLarge];

/// Codes that no input can produce: they report bugs in ops itself.
const UNTRIGGERABLE: &[Code] = &[Code::InternalError];

#[test]
fn codes_and_slugs_are_unique() {
    let numbers: BTreeSet<u16> = Code::ALL.iter().map(|c| *c as u16).collect();
    assert_eq!(numbers.len(), Code::ALL.len());
    let slugs: BTreeSet<&str> = Code::ALL.iter().map(|c| c.slug()).collect();
    assert_eq!(slugs.len(), Code::ALL.len());
    for code in Code::ALL {
        let n = *code as u16;
        assert!(
            (1000..5000).contains(&n),
            "{code} is outside OPS1xxx-OPS4xxx"
        );
        assert_eq!(Code::parse(&code.to_string()), Some(*code));
        assert_eq!(Code::parse(code.slug()), Some(*code));
    }
}

#[test]
fn every_code_is_documented_once_and_nothing_else_is() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md"))
        .expect("docs/errors.md");
    let headings: Vec<&str> = doc.lines().filter(|l| l.starts_with("## ")).collect();
    for code in Code::ALL {
        let heading = format!("## {code} {}", code.slug());
        let count = headings.iter().filter(|h| **h == heading).count();
        assert_eq!(
            count, 1,
            "docs/errors.md needs exactly one `{heading}` section"
        );
    }
    assert_eq!(
        headings.len(),
        Code::ALL.len(),
        "docs/errors.md has sections for unknown codes: {headings:?}"
    );
}

#[test]
fn every_code_has_an_err_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut covered = BTreeSet::new();
    for phase in ["parse", "check"] {
        let dir = root.join(phase).join("err");
        for entry in std::fs::read_dir(&dir).expect("fixture dir") {
            let path = entry.expect("entry").path();
            let bytes = std::fs::read(&path).expect("read");
            for code in common::expected_codes(&String::from_utf8_lossy(&bytes)) {
                covered.insert(code);
            }
        }
    }
    for code in Code::ALL {
        // Plan and run codes are produced by running ops: see the next test.
        if GENERATED.contains(code) || UNTRIGGERABLE.contains(code) || *code as u16 >= 3000 {
            continue;
        }
        assert!(
            covered.contains(&code.to_string()),
            "{code} {} has no err fixture",
            code.slug()
        );
    }
}

/// Plan and run codes no single runbook can produce (a vars file, a saved plan, a
/// registry without a kind, a signal), each with the test that asserts it: the test must
/// exist and assert that code.
const ASSERTED_BY: &[(Code, &str, &str)] = &[
    (
        Code::UndeclaredVariable,
        "tests/run.rs",
        "plan_time_problems_have_their_codes",
    ),
    (
        Code::StepNotImplemented,
        "interpreter/tests/executor.rs",
        "a_step_kind_without_implementation_is_a_plan_error",
    ),
    (
        Code::SavedPlanInvalid,
        "tests/run.rs",
        "saved_plans_run_only_while_nothing_changed",
    ),
    (
        Code::SavedPlanRunbookChanged,
        "tests/run.rs",
        "saved_plans_run_only_while_nothing_changed",
    ),
    (
        Code::SavedPlanParametersChanged,
        "tests/run.rs",
        "saved_plans_run_only_while_nothing_changed",
    ),
    (
        Code::SavedPlanVersionChanged,
        "tests/run.rs",
        "saved_plans_run_only_while_nothing_changed",
    ),
    (
        Code::SavedPlanDiffers,
        "tests/run.rs",
        "saved_plans_run_only_while_nothing_changed",
    ),
    (
        Code::OutputUnavailable,
        "tests/run.rs",
        "run_time_problems_have_their_codes",
    ),
    (
        Code::ResumeRefused,
        "tests/resume.rs",
        "a_failed_run_prints_its_resume_command_and_resume_refuses_what_it_must",
    ),
    (
        Code::JournalTampered,
        "tests/resume.rs",
        "audit_verify_finds_edited_removed_and_cut_records",
    ),
    (
        Code::RunLocked,
        "tests/locks.rs",
        "a_second_run_fails_at_once_naming_the_holder_and_named_locks_are_shared",
    ),
    (
        Code::Interrupted,
        "interpreter/tests/executor.rs",
        "cancel_stops_in_flight_steps_then_runs_handlers",
    ),
];

/// One plan/run fixture: `# expect: CODE`, `# ops: plan|run ARGS...`, `# exit: N`.
struct CodeFixture {
    name: String,
    code: String,
    args: Vec<String>,
    exit: i32,
}

fn code_fixtures() -> Vec<CodeFixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codes");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/fixtures/codes") {
        let path = entry.expect("entry").path();
        if !path.to_string_lossy().ends_with(".rb.ops") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let header = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::trim)
                .unwrap_or_else(|| panic!("{} has no `{key}` line", path.display()))
                .to_string()
        };
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let ops = header("# ops:");
        let mut words = ops.split_whitespace().map(str::to_string);
        let mut args = vec![words.next().expect("a subcommand"), name.clone()];
        args.extend(words);
        out.push(CodeFixture {
            code: header("# expect:"),
            exit: header("# exit:").parse().expect("an exit code"),
            name,
            args,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Each plan/run fixture gives its code, as a rendered diagnostic (`OPS3002
/// invalid-parameter-value`) or a plan finding (`error   OPS3009 ...`), and its exit code.
#[test]
fn every_plan_and_run_code_fixture_gives_its_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codes");
    let fixtures = code_fixtures();
    assert!(fixtures.len() >= 15, "only {} fixtures", fixtures.len());
    for f in &fixtures {
        let code = Code::parse(&f.code).unwrap_or_else(|| panic!("{}: no code {}", f.name, f.code));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ops"))
            .args(&f.args)
            .current_dir(&dir)
            .env("OPS_TODAY", "2026-11-22")
            .env("OPS_NOW", "2026-12-01T19:30:00Z")
            .env("DOCKER_HOST", "unix:///nonexistent/ops-codes/docker.sock")
            .env_remove("COLUMNS")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("ops runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let rendered = text.contains(&format!("{code} {}", code.slug()));
        // A finding's level is the step kind's call (an unreachable engine only warns).
        let finding = text.lines().any(|l| {
            let l = l.trim_start();
            (l.starts_with("error") || l.starts_with("warning")) && l.contains(&format!(" {code} "))
        });
        assert!(rendered || finding, "{}: no {code} in\n{text}", f.name);
        assert_eq!(out.status.code(), Some(f.exit), "{}:\n{text}", f.name);
    }
}

/// Every plan/run code has a fixture above, or is listed in [`ASSERTED_BY`] with a test
/// that exists and asserts it (by number or by name).
#[test]
fn every_plan_and_run_code_is_tested() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures: BTreeSet<String> = code_fixtures().into_iter().map(|f| f.code).collect();
    for code in Code::ALL.iter().filter(|c| **c as u16 >= 3000) {
        if fixtures.contains(&code.to_string()) {
            continue;
        }
        let Some((_, file, test)) = ASSERTED_BY.iter().find(|(c, _, _)| c == code) else {
            panic!(
                "{code} {} has no fixture in tests/fixtures/codes and no entry in ASSERTED_BY",
                code.slug()
            );
        };
        let text = std::fs::read_to_string(root.join(file)).expect("the test file");
        let start = text
            .find(&format!("fn {test}("))
            .unwrap_or_else(|| panic!("{file} has no test `{test}` (for {code})"));
        let body = &text[start..];
        let body = &body[..body[3..].find("\nfn ").map_or(body.len(), |e| e + 3)];
        let named = body.contains(&code.to_string()) || body.contains(&format!("Code::{code:?}"));
        assert!(
            named && body.contains("assert"),
            "`{test}` in {file} does not assert {code}"
        );
    }
}
