//! Property: `ops fmt` is idempotent, fmt(fmt(x)) == fmt(x), over generated runbooks
//! that mix what makes layout decisions hard: alignment runs of attributes and
//! parameters with names of every length next to lists and maps that may or may not fit
//! on a line, collections written over several lines or on one, comments in every place
//! a comment may go, blank lines, nested blocks and steps. The seed fixtures and every
//! runbook of the repository are checked too.

use proptest::prelude::*;

fn ident() -> impl Strategy<Value = String> {
    (1usize..70).prop_flat_map(|n| {
        proptest::string::string_regex(&format!("[a-z][a-z0-9_]{{{}}}", n - 1)).expect("regex")
    })
}

fn word() -> impl Strategy<Value = String> {
    (0usize..70).prop_flat_map(|n| {
        proptest::string::string_regex(&format!("[a-zA-Z0-9 .:/_-]{{{n}}}")).expect("regex")
    })
}

/// A separator inside a collection: a space, or a line break with some indentation.
fn sep() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just(" "),
        Just(""),
        Just("\n  "),
        Just("\n    "),
        Just("\n")
    ]
}

fn value() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        word().prop_map(|w| format!("\"{w}\"")),
        (0i64..100_000).prop_map(|n| n.to_string()),
        Just("30s".to_string()),
        Just("true".to_string()),
    ];
    let list = (
        proptest::collection::vec((word(), sep()), 0..6),
        sep(),
        any::<bool>(),
    )
        .prop_map(|(items, end, trailing)| {
            let mut out = String::from("[");
            for (i, (w, s)) in items.iter().enumerate() {
                out.push_str(s);
                out.push_str(&format!("\"{w}\""));
                if i + 1 < items.len() || trailing {
                    out.push(',');
                }
            }
            out.push_str(end);
            out.push(']');
            out
        });
    let map = (
        proptest::collection::vec((ident(), word(), sep()), 0..5),
        sep(),
    )
        .prop_map(|(entries, end)| {
            let mut out = String::from("{");
            let mut seen = std::collections::HashSet::new();
            for (k, w, s) in entries {
                if !seen.insert(k.clone()) {
                    continue;
                }
                out.push_str(s);
                out.push_str(&format!("{k} = \"{w}\""));
                out.push_str(if s.contains('\n') { "" } else { " " });
            }
            out.push_str(end);
            out.push('}');
            out
        });
    prop_oneof![scalar, list, map]
}

fn comment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(String::new()),
        1 => word().prop_map(|w| format!(" # {w}")),
    ]
}

/// A statement inside a step body: an attribute.
fn attr_line() -> impl Strategy<Value = String> {
    (ident(), value(), comment(), any::<bool>()).prop_map(|(name, v, c, blank)| {
        format!("{}  {name} = {v}{c}\n", if blank { "\n" } else { "" })
    })
}

/// A top-level statement.
fn top_stmt() -> impl Strategy<Value = String> {
    let param = (ident(), value(), comment(), any::<bool>()).prop_map(|(name, v, c, blank)| {
        let ty = if v.starts_with('[') {
            "list<string>"
        } else if v.starts_with('{') {
            "map<string>"
        } else if v.starts_with('"') {
            "string"
        } else if v.ends_with('s') {
            "duration"
        } else if v == "true" {
            "bool"
        } else {
            "int"
        };
        format!(
            "{}param {name}: {ty} = {v}{c}\n",
            if blank { "\n" } else { "" }
        )
    });
    let step = (
        word(),
        proptest::collection::vec(attr_line(), 0..5),
        prop::option::of(ident()),
    )
        .prop_map(|(msg, attrs, name)| {
            let name = name.map(|n| format!(" as {n}")).unwrap_or_default();
            if attrs.is_empty() {
                format!("notify stdout \"{msg}\"{name}\n")
            } else {
                format!("exec [\"true\"]{name} {{\n{}}}\n", attrs.concat())
            }
        });
    let own_comment = word().prop_map(|w| format!("# {w}\n"));
    prop_oneof![3 => param, 3 => step, 1 => own_comment, 1 => Just("\n".to_string())]
}

fn runbook() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(attr_line(), 0..4),
        proptest::collection::vec(top_stmt(), 1..12),
    )
        .prop_map(|(meta, stmts)| {
            format!(
                "runbook \"generated\" {{\n  title = \"Generated\"\n  owner = \"ops\"\n{}}}\n{}",
                meta.concat(),
                stmts.concat()
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn formatting_twice_changes_nothing(text in runbook()) {
        // Generated text that does not parse (a duplicate key, say) is not the formatter's
        // business; every text that formats must be a fixed point.
        if let Ok(once) = lang::fmt::format_source(&text) {
            let twice = lang::fmt::format_source(&once);
            prop_assert!(twice.is_ok(), "the formatted text does not format again:\n{once}");
            let twice = twice.unwrap_or_default();
            prop_assert_eq!(&twice, &once, "not idempotent; input:\n{}", text);
        }
    }
}

#[test]
fn a_single_item_list_beside_a_long_name_settles() {
    let text = "runbook \"osc\" {\n  title = \"Oscillation\"\n  owner = \"ops\"\n}\nparam hosts: list<string> = [\"alpha.example.internal.with.a.long.domain.name\"]\nparam a_very_long_parameter_name_that_pushes_the_alignment: string = \"x\"\n\nwait 1s\n";
    let once = lang::fmt::format_source(text).expect("formats");
    let twice = lang::fmt::format_source(&once).expect("formats again");
    assert_eq!(twice, once);
}

#[test]
fn every_runbook_of_the_repository_is_a_fixed_point() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for dir in ["runbooks", "tests/fixtures"] {
        for entry in walkdir::WalkDir::new(root.join(dir)) {
            let entry = entry.expect("walk");
            let path = entry.path();
            if !path.to_string_lossy().ends_with(".rb.ops") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            if let Ok(once) = lang::fmt::format_source(&text) {
                let twice = lang::fmt::format_source(&once).expect("formats again");
                assert_eq!(twice, once, "{}", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} runbooks were formatted");
}
