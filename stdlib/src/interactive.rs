//! `confirm` and `manual`: steps that wait for a person.

use std::time::Duration;

use lang::schema::{Effect, Output, SchemaType as T, StepSchema, Target, Variant};

/// `confirm "question?"`: a yes/no prompt, answered by `--yes` in automation.
pub const CONFIRM_SCHEMA: StepSchema = StepSchema {
    kind: "confirm",
    doc: "asks the operator a yes/no question; `--yes` answers it in automation",
    variants: &[Variant {
        name: None,
        doc: "a yes/no question; the run stops on no",
        target: Some(Target {
            name: "question",
            ty: T::String,
            sensitive: false,
            required: true,
            doc: "the question",
        }),
        outputs: &[Output::new(
            "answered_by",
            T::String,
            "`operator` or `--yes`",
        )],
        effect: Effect::Interactive,
        default_timeout: Some(Duration::from_secs(3600)),
        ..Variant::BASE
    }],
};

/// `manual "do this"`: a checklist item the operator must tick.
pub const MANUAL_SCHEMA: StepSchema = StepSchema {
    kind: "manual",
    doc: "a checklist item the operator performs and ticks",
    variants: &[Variant {
        name: None,
        doc: "a manual task; the run waits until it is ticked",
        target: Some(Target {
            name: "task",
            ty: T::String,
            sensitive: false,
            required: true,
            doc: "what to do",
        }),
        outputs: &[Output::new(
            "answered_by",
            T::String,
            "`operator` or `--yes`",
        )],
        effect: Effect::Interactive,
        default_timeout: Some(Duration::from_secs(3600)),
        ..Variant::BASE
    }],
};
