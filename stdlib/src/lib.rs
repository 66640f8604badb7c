//! The ops standard library: one module per step kind.
//!
//! Pipeline position: the checker (`lang`) validates steps against the schemas
//! exported here ([`SCHEMAS`]); the interpreter runs them. Each module declares its
//! step's schema: variants, target, attributes (types, defaults, required-ness,
//! sensitivity), typed outputs, expectation subjects, effect and default timeout.

pub mod approve;
pub mod backup;
pub mod call;
pub mod compose;
pub mod conn;
pub mod exec;
pub mod http;
pub mod interactive;
pub mod net;
pub mod notify;
pub mod probe;
pub mod reference;
pub mod touch;
pub mod wait;

use lang::schema::{Schemas, StepSchema};

/// Every step kind of the standard library.
pub static STEPS: &[&StepSchema] = &[
    &probe::SCHEMA,
    &wait::SCHEMA,
    &compose::SCHEMA,
    &backup::SCHEMA,
    &backup::RESTORE_SCHEMA,
    &notify::SCHEMA,
    &exec::SCHEMA,
    &http::SCHEMA,
    &interactive::CONFIRM_SCHEMA,
    &interactive::MANUAL_SCHEMA,
    &approve::SCHEMA,
    &call::SCHEMA,
];

/// The schema set the checker validates against.
pub static SCHEMAS: Schemas = Schemas { steps: STEPS };

/// A registry with every step kind this build implements.
pub fn registry() -> interpreter::step::Registry {
    use interpreter::step::PromptKind;
    let mut registry = interpreter::step::Registry::new(SCHEMAS);
    registry.register(wait::Wait);
    registry.register(wait::WaitUntil);
    registry.register(notify::Stdout);
    registry.register(exec::Exec);
    registry.register(exec::ProbeExec);
    registry.register(probe::http::Http);
    registry.register(http::Request);
    registry.register(probe::tcp::Tcp);
    registry.register(probe::redis::Redis);
    registry.register(probe::postgres::Postgres);
    registry.register(notify::http::Webhook);
    registry.register(notify::http::Slack);
    for kind in compose::Compose::ALL {
        registry.register(kind);
    }
    for kind in backup::Backup::ALL {
        registry.register(kind);
    }
    registry.register(interactive::Ask(PromptKind::Confirm));
    registry.register(interactive::Ask(PromptKind::Manual));
    registry.register(approve::Approve);
    registry
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    /// The modules of each step kind's code and the kinds whose attributes they read.
    const MODULES: &[(&str, &[&str])] = &[
        ("probe", &["probe", "http"]),
        ("http.rs", &["http"]),
        ("compose", &["compose"]),
        ("backup", &["backup", "restore"]),
        ("notify", &["notify"]),
        ("exec", &["exec", "probe"]),
        ("wait.rs", &["wait"]),
        ("interactive.rs", &["confirm", "manual"]),
    ];

    /// Every attribute name the stdlib's code asks a step's inputs for (`input.str("cwd")`,
    /// `view.value("set")`, ...) is declared by a variant of the kind: a misspelled name
    /// fails here even on a path no other test runs (the inputs also check it at run time
    /// against the exact variant).
    #[test]
    fn every_attribute_read_is_declared_by_the_schema() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let lookup = [
            "str(",
            "attr(",
            "value(",
            "rendered(",
            "optional(",
            "list(input, ",
        ];
        let mut checked = 0;
        for (module, kinds) in MODULES {
            let declared: BTreeSet<&str> = kinds
                .iter()
                .filter_map(|k| super::SCHEMAS.get(k))
                .flat_map(|s| s.variants.iter())
                .flat_map(|v| v.attributes.iter().map(|a| a.name))
                .collect();
            let path = root.join(module);
            let files: Vec<std::path::PathBuf> = if path.is_dir() {
                walkdir::WalkDir::new(&path)
                    .into_iter()
                    .filter_map(Result::ok)
                    .map(|e| e.into_path())
                    .filter(|p| p.extension().is_some_and(|e| e == "rs"))
                    .collect()
            } else {
                vec![path]
            };
            for file in files {
                let text = std::fs::read_to_string(&file).expect("source");
                for call in lookup {
                    let pattern = match call.starts_with("list") {
                        true => format!("{call}\""),
                        false => format!(".{call}\""),
                    };
                    for (at, _) in text.match_indices(&pattern) {
                        let rest = &text[at + pattern.len()..];
                        let name = &rest[..rest.find('"').expect("a closed string")];
                        assert!(
                            declared.contains(name),
                            "{}: `{name}` is read but no variant of {kinds:?} declares it",
                            file.display()
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(
            checked >= 60,
            "only {checked} look-ups found: is the scan broken?"
        );
    }
}
