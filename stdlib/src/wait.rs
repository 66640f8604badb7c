//! `wait`: a fixed pause, or polling a probe until it passes (always bounded).

use lang::schema::{
    Attribute, Effect, Nested, Output, SchemaType as T, StepSchema, Target, Variant,
};

/// The `wait` step kind.
pub const SCHEMA: StepSchema = StepSchema {
    kind: "wait",
    doc: "pauses, or polls a read-only step until it passes",
    variants: &[
        Variant {
            name: None,
            doc: "a fixed pause: `wait 45s`",
            target: Some(Target {
                name: "duration",
                ty: T::Duration,
                sensitive: false,
                required: true,
                doc: "how long to wait",
            }),
            effect: Effect::ReadOnly,
            ..Variant::BASE
        },
        Variant {
            name: Some("until"),
            doc: "polls the nested read-only step until it passes; needs a `timeout`",
            attributes: &[
                Attribute::new("every", T::Duration, "delay between attempts").default("2s"),
                Attribute::new(
                    "backoff",
                    T::Enum(&["constant", "exponential"]),
                    "how the delay grows",
                )
                .default("constant"),
                Attribute::new(
                    "max_every",
                    T::Duration,
                    "upper bound on the delay with exponential backoff",
                )
                .default("30s"),
            ],
            outputs: &[
                Output::new("attempts", T::Int, "attempts made"),
                Output::new("elapsed", T::Duration, "time until the step passed"),
            ],
            effect: Effect::ReadOnly,
            requires_timeout: true,
            nested: Nested::OneReadOnly,
            ..Variant::BASE
        },
    ],
};
