//! Data-first fixture tests: every `*.rb.ops` under `tests/fixtures/<phase>/{ok,err}`
//! is a case. `ok` fixtures snapshot what the phase produces and must be clean; an
//! `err` fixture's first line names the codes it expects (`# expect: OPS2004`), the
//! harness checks exactly those codes are reported, and the rendered diagnostics are
//! snapshotted.

mod common;

use std::collections::BTreeSet;

use common::{check, expected_codes, fixture_rel, render_all};

/// Asserts that the diagnostics' codes are exactly the expected set.
fn assert_codes(rel: &str, text: &str, diagnostics: &[lang::Diagnostic]) {
    let expected: BTreeSet<String> = expected_codes(text).into_iter().collect();
    assert!(
        !expected.is_empty(),
        "{rel}: the first line must be `# expect: OPSnnnn ...`"
    );
    let found: BTreeSet<String> = diagnostics.iter().map(|d| d.code.to_string()).collect();
    assert_eq!(
        found, expected,
        "{rel}: expected codes {expected:?}, found {found:?}"
    );
}

#[test]
fn parse_ok() {
    insta::glob!("fixtures/parse/ok/*.rb.ops", |path| {
        let text = std::fs::read_to_string(path).expect("fixture is UTF-8");
        let parsed = lang::parse(&text);
        assert!(
            parsed.diagnostics.is_empty(),
            "{}: {:#?}",
            path.display(),
            parsed.diagnostics
        );
        let ast = parsed.ast.expect("ast");
        insta::assert_snapshot!(lang::dump::dump(&ast, true));
    });
}

#[test]
fn parse_err() {
    insta::glob!("fixtures/parse/err/*.rb.ops", |path| {
        let rel = fixture_rel(path);
        let bytes = std::fs::read(path).expect("read");
        let (program, _, _) = check(&rel);
        let diagnostics: Vec<lang::Diagnostic> = program.parse_diagnostics().cloned().collect();
        assert_codes(&rel, &String::from_utf8_lossy(&bytes), &diagnostics);
        insta::assert_snapshot!(render_all(&program, &diagnostics));
    });
}

#[test]
fn check_ok() {
    insta::glob!("fixtures/check/ok/*.rb.ops", |path| {
        let rel = fixture_rel(path);
        let (program, checked, diagnostics) = check(&rel);
        assert!(
            diagnostics.is_empty(),
            "{rel}:\n{}",
            render_all(&program, &diagnostics)
        );
        insta::assert_snapshot!(summary(&checked.expect("checked")));
    });
}

#[test]
fn check_err() {
    insta::glob!("fixtures/check/err/*.rb.ops", |path| {
        let rel = fixture_rel(path);
        let text = std::fs::read_to_string(path).expect("fixture is UTF-8");
        let (program, _, diagnostics) = check(&rel);
        assert_codes(&rel, &text, &diagnostics);
        insta::assert_snapshot!(render_all(&program, &diagnostics));
    });
}

#[test]
fn fmt_layout() {
    insta::glob!("fixtures/fmt/in/*.rb.ops", |path| {
        let text = std::fs::read_to_string(path).expect("fixture is UTF-8");
        let formatted = lang::fmt::format_source(&text).expect("formats");
        let again = lang::fmt::format_source(&formatted).expect("formats again");
        assert_eq!(again, formatted, "{}: not idempotent", path.display());
        insta::assert_snapshot!(formatted);
    });
}

/// What the checker resolved, one line per fact.
fn summary(checked: &lang::Checked) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "kind: {:?}", checked.kind);
    if let Some(m) = &checked.meta {
        let _ = writeln!(
            out,
            "runbook {} title={:?} owner={:?} category={:?} complexity={:?} tags={:?} validated={:?} max_age={:?} budget={:?} window={:?} escalation={:?}",
            m.id,
            m.title,
            m.owner,
            m.category,
            m.complexity.map(|c| c.as_str()),
            m.tags,
            m.validated.map(|d| d.to_string()),
            m.max_age.map(lang::fmt::duration),
            m.budget.map(lang::fmt::duration),
            m.window
                .as_ref()
                .map(|w| (w.days.clone(), w.start, w.end, w.tz.clone())),
            m.escalation,
        );
    }
    for p in &checked.params {
        let _ = writeln!(
            out,
            "param {}: {} required={} description={:?}",
            p.name,
            p.ty.describe(),
            p.default.is_none(),
            p.description
        );
    }
    for s in &checked.secrets {
        let _ = writeln!(out, "secret {} from {:?}", s.name, s.source);
    }
    for s in &checked.steps {
        let _ = writeln!(
            out,
            "step {} {} as {} [{}] timeout={}",
            s.kind,
            s.variant.name.unwrap_or("-"),
            s.name.as_deref().unwrap_or("-"),
            s.effect.as_str(),
            s.variant
                .default_timeout
                .map_or(String::from("none"), lang::fmt::duration),
        );
    }
    out
}
