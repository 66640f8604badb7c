//! The diagnostic code table: unique, fully documented in `docs/errors.md`, and every
//! code exercised by at least one `err` fixture (or a generated bad-input test).

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

/// Every plan/run code is asserted by an executor or CLI test (by number or by name).
#[test]
fn every_plan_and_run_code_is_tested() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut tests = String::new();
    for dir in ["tests", "interpreter/tests"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("tests dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("codes.rs") {
                tests.push_str(&std::fs::read_to_string(&path).expect("read"));
            }
        }
    }
    for code in Code::ALL.iter().filter(|c| **c as u16 >= 3000) {
        let variant = format!("Code::{code:?}");
        assert!(
            tests.contains(&code.to_string()) || tests.contains(&variant),
            "{code} {} is not asserted by any test",
            code.slug()
        );
    }
}
