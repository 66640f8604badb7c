//! The stdlib reference (`docs/stdlib.md`), generated from the schemas so the docs
//! cannot drift from what the checker enforces.

use std::fmt::Write;

use lang::schema::{SchemaType, StepSchema, UNIVERSAL_ATTRIBUTES, Variant};

/// The whole reference as Markdown.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str("# Standard library reference\n\n");
    out.push_str("Generated from the step schemas in `stdlib/src` (do not edit; run\n");
    out.push_str(
        "`UPDATE_DOCS=1 cargo test --test docs`). `ops check` validates every step against\n",
    );
    out.push_str(
        "exactly these tables. *Sensitive* attributes may receive secrets; they are redacted in\n",
    );
    out.push_str("every output.\n\n");
    out.push_str("Every step also accepts:\n\n");
    attributes_table(&mut out, UNIVERSAL_ATTRIBUTES);
    for schema in crate::STEPS {
        kind(&mut out, schema);
    }
    out
}

fn kind(out: &mut String, schema: &StepSchema) {
    let _ = writeln!(
        out,
        "\n## `{}`\n\n{}.\n",
        schema.kind,
        capitalise(schema.doc)
    );
    for variant in schema.variants {
        self::variant(out, schema.kind, variant);
    }
}

fn variant(out: &mut String, kind: &str, v: &Variant) {
    let _ = writeln!(out, "### `{}`\n\n{}.\n", v.display(kind), capitalise(v.doc));
    let effect = if v.readonly_attr {
        format!("{} (read-only with `readonly = true`)", v.effect.as_str())
    } else {
        v.effect.as_str().to_string()
    };
    let timeout = match (v.default_timeout, v.requires_timeout) {
        (_, true) => String::from("none: a `timeout` is required"),
        (Some(d), false) => lang::fmt::duration(d),
        (None, false) if v.params_from_target => String::from("the called runbook's steps"),
        (None, false) => String::from("bounded by its target"),
    };
    let _ = writeln!(out, "- effect: {effect}\n- default timeout: {timeout}");
    if let Some(t) = v.target {
        let _ = writeln!(
            out,
            "- target: `{}` ({}{}{}): {}",
            t.name,
            type_text(t.ty),
            if t.required { ", required" } else { "" },
            if t.sensitive { ", sensitive" } else { "" },
            t.doc
        );
    }
    if v.params_from_target {
        out.push_str("- attributes: the parameters of the called runbook\n");
    }
    if v.nested != lang::schema::Nested::None {
        out.push_str("- body: exactly one read-only step, polled until it passes\n");
    }
    out.push('\n');
    if !v.attributes.is_empty() {
        out.push_str("Attributes:\n\n");
        attributes_table(out, v.attributes);
    }
    if !v.outputs.is_empty() {
        out.push_str(
            "Outputs:\n\n| output | type | secret when inputs are | meaning |\n|---|---|---|---|\n",
        );
        for o in v.outputs {
            let tainted = matches!(o.secrecy, lang::schema::Secrecy::FromInputs);
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                o.name,
                type_text(o.ty),
                if tainted { "yes" } else { "no" },
                o.doc
            );
        }
        out.push('\n');
    }
    if !v.subjects.is_empty() {
        out.push_str("Expectations:\n\n| subject | argument | compared value | meaning |\n|---|---|---|---|\n");
        for s in v.subjects {
            let arg = s.arg.map_or(String::from("—"), type_text);
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                s.name,
                arg,
                type_text(s.ty),
                s.doc
            );
        }
        out.push('\n');
    }
}

fn attributes_table(out: &mut String, attrs: &[lang::schema::Attribute]) {
    out.push_str("| attribute | type | default | notes |\n|---|---|---|---|\n");
    for a in attrs {
        let default = a.default.map_or(String::from("—"), |d| {
            format!("`{}`", d.replace('|', "\\|"))
        });
        let mut notes = Vec::new();
        if a.required {
            notes.push(String::from("**required**"));
        }
        if a.sensitive {
            notes.push(String::from("sensitive"));
        }
        notes.push(a.doc.to_string());
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            a.name,
            type_text(a.ty),
            default,
            notes.join("; ")
        );
    }
    out.push('\n');
}

fn type_text(ty: SchemaType) -> String {
    match ty {
        SchemaType::String => "string".into(),
        SchemaType::Int => "int".into(),
        SchemaType::Float => "float".into(),
        SchemaType::Bool => "bool".into(),
        SchemaType::Duration => "duration".into(),
        SchemaType::Size => "size".into(),
        SchemaType::Url => "url".into(),
        SchemaType::Path => "path".into(),
        SchemaType::Any => "any".into(),
        SchemaType::ListOf(inner) => format!("list<{}>", type_text(*inner)),
        SchemaType::MapOf(inner) => format!("map<{}>", type_text(*inner)),
        SchemaType::Enum(words) => words
            .iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(" \\| "),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
