//! The documentation tells the truth: every `ops` example in `docs/language.md` parses,
//! checks without a single diagnostic and is in canonical layout; `docs/stdlib.md` is
//! the reference generated from the stdlib's schemas.

mod common;

use std::path::Path;

/// `(info string, body)` of every fenced block whose language is `ops`.
fn ops_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in markdown.lines() {
        match &mut current {
            None => {
                if let Some(info) = line.strip_prefix("```ops") {
                    current = Some((info.trim().to_string(), String::new()));
                }
            }
            Some(_) if line == "```" => {
                if let Some(block) = current.take() {
                    out.push(block);
                }
            }
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an ops block is not closed");
    out
}

#[test]
fn every_language_example_parses_checks_and_is_formatted() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/language.md"))
            .expect("read");
    let blocks = ops_blocks(&doc);
    assert!(
        blocks.len() >= 15,
        "docs/language.md has {} examples",
        blocks.len()
    );
    let mut loader = lang::MemoryLoader::new();
    for (i, (info, body)) in blocks.iter().enumerate() {
        let name = match info.strip_prefix("file=") {
            Some(file) => file.to_string(),
            None => format!("example-{i}.rb.ops"),
        };
        loader = loader.with(&name, body);
        let (program, _, diagnostics) = common::check_with(&name, &loader);
        assert!(
            diagnostics.is_empty(),
            "example {i} ({name}):\n{body}\n{}",
            common::render_all(&program, &diagnostics)
        );
        let formatted = lang::fmt::format_source(body).expect("formats");
        if info != "unformatted" {
            assert_eq!(&formatted, body, "example {i} is not in canonical layout");
        }
    }
}

#[test]
fn stdlib_reference_is_generated_from_the_schemas() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/stdlib.md");
    let generated = stdlib::reference::markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/stdlib.md");
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == generated,
        "docs/stdlib.md is out of date: run `UPDATE_DOCS=1 cargo test --test docs`"
    );
}

#[test]
fn schema_defaults_parse_and_fit_their_types() {
    for schema in stdlib::STEPS {
        for variant in schema.variants {
            for attr in variant
                .attributes
                .iter()
                .chain(lang::schema::UNIVERSAL_ATTRIBUTES)
            {
                let Some(default) = attr.default else {
                    continue;
                };
                let label = format!("{} {:?} {}", schema.kind, variant.name, attr.name);
                let expr = lang::parse_expr(default).unwrap_or_else(|d| panic!("{label}: {d:?}"));
                let fits = match (attr.ty, &expr.kind) {
                    (lang::schema::SchemaType::Enum(words), lang::ast::ExprKind::Path(p)) => {
                        words.contains(&p.root.name.as_str())
                    }
                    (lang::schema::SchemaType::Enum(words), lang::ast::ExprKind::Str(s)) => {
                        s.as_plain().is_some_and(|w| words.contains(&w.as_str()))
                    }
                    (lang::schema::SchemaType::String, lang::ast::ExprKind::Str(_))
                    | (lang::schema::SchemaType::Path, lang::ast::ExprKind::Str(_))
                    | (lang::schema::SchemaType::Bool, lang::ast::ExprKind::Bool(_))
                    | (lang::schema::SchemaType::Int, lang::ast::ExprKind::Int(_))
                    | (lang::schema::SchemaType::Size, lang::ast::ExprKind::Size(_))
                    | (lang::schema::SchemaType::Duration, lang::ast::ExprKind::Duration(_)) => {
                        true
                    }
                    _ => false,
                };
                assert!(
                    fits,
                    "{label}: default `{default}` does not fit {:?}",
                    attr.ty
                );
            }
            assert!(
                variant.default_timeout.is_some()
                    || variant.requires_timeout
                    || variant.params_from_target
                    || schema.kind == "wait",
                "{} {:?} has no bounded default timeout",
                schema.kind,
                variant.name
            );
        }
    }
}
