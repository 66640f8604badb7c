//! `wait`: a fixed pause, or polling a probe until it passes (always bounded).

use lang::schema::{
    Attribute, Effect, Nested, Output, SchemaType as T, StepSchema, Target, Variant,
};

use futures_util::future::BoxFuture;
use interpreter::step::{
    InputView, Outputs, StepContext, StepError, StepInput, StepKind, StepPlan,
};
use interpreter::value::Value;

/// The `wait` step kind.
pub static SCHEMA: StepSchema = StepSchema {
    kind: "wait",
    doc: "pauses, or polls a read-only step until it passes",
    variants: &[&WAIT, &UNTIL],
};

/// `wait`.
pub static WAIT: Variant = Variant {
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
};

/// `wait until`.
pub static UNTIL: Variant = Variant {
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
};

/// `wait 45s`: sleeps, unless the run is cancelled.
pub struct Wait;

impl StepKind for Wait {
    fn variant(&self) -> &'static Variant {
        &WAIT
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(async move {
            let duration = input
                .target
                .as_ref()
                .and_then(Value::as_duration)
                .ok_or_else(|| StepError::fatal("`wait` needs a duration"))?;
            if duration.is_zero() {
                // A zero-length timer would still wait for the next timer tick (1 ms).
                return Ok(Outputs::new());
            }
            tokio::select! {
                _ = tokio::time::sleep(duration) => Ok(Outputs::new()),
                _ = ctx.cancel.cancelled() => Err(StepError::fatal("cancelled while waiting")),
            }
        })
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        StepPlan {
            duration: view.target_value.as_ref().and_then(Value::as_duration),
            ..StepPlan::new(format!("pauses for {}", view.target()))
        }
    }
}

/// `wait until { probe ... }`: polling is done by the executor, which owns attempts,
/// expectations and timeouts; this registers the kind and describes it for plans.
pub struct WaitUntil;

impl StepKind for WaitUntil {
    fn variant(&self) -> &'static Variant {
        &UNTIL
    }

    fn run<'a>(
        &'a self,
        _input: &'a StepInput,
        _ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(async { Err(StepError::fatal("`wait until` is run by the executor")) })
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        let backoff = match view.value("backoff").and_then(Value::as_str) {
            Some("exponential") => format!(", doubling up to {}", view.attr("max_every")),
            _ => String::new(),
        };
        StepPlan::new(format!(
            "polls its step every {}{backoff} until it passes (read-only)",
            view.attr("every")
        ))
    }
}
