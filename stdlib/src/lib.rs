//! The ops standard library: one module per step kind.
//!
//! Pipeline position: the checker (`lang`) validates steps against the schemas
//! exported here ([`SCHEMAS`]); the interpreter runs them. Each module declares its
//! step's schema: variants, target, attributes (types, defaults, required-ness,
//! sensitivity), typed outputs, expectation subjects, effect and default timeout.

pub mod backup;
pub mod call;
pub mod compose;
pub mod conn;
pub mod exec;
pub mod interactive;
pub mod net;
pub mod notify;
pub mod probe;
pub mod reference;
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
    &interactive::CONFIRM_SCHEMA,
    &interactive::MANUAL_SCHEMA,
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
    registry
}
