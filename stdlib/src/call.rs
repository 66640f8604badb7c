//! `call "other.rb.ops" { param = value }`: runs another runbook as a step.

use lang::schema::{Effect, SchemaType as T, StepSchema, Target, Variant};

/// The `call` step kind; its attributes are the called runbook's parameters.
pub static SCHEMA: StepSchema = StepSchema {
    kind: "call",
    doc: "runs another runbook as one step, passing its parameters",
    variants: &[&CALL],
};

/// `call`.
pub static CALL: Variant = Variant {
    name: None,
    doc: "runs the runbook at the path (relative to this file) with the given parameters",
    target: Some(Target {
        name: "runbook",
        ty: T::Path,
        sensitive: false,
        required: true,
        doc: "path of the runbook to run",
    }),
    effect: Effect::Mutating,
    params_from_target: true,
    ..Variant::BASE
};
