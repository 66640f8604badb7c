//! `notify`: tells people what happened (`stdout`, `webhook`, `slack`).

use std::time::Duration;

use lang::schema::{Attribute, Effect, Output, SchemaType as T, StepSchema, Target, Variant};

pub mod http;

use futures_util::future::BoxFuture;
use interpreter::step::{
    InputView, Outputs, StepContext, StepError, StepInput, StepKind, StepPlan,
};
use interpreter::value::Value;

/// The `notify` step kind.
pub static SCHEMA: StepSchema = StepSchema {
    kind: "notify",
    doc: "sends a message to the terminal, a webhook or Slack",
    variants: &[&STDOUT, &WEBHOOK, &SLACK],
};

/// `notify stdout`.
pub static STDOUT: Variant = Variant {
    name: Some("stdout"),
    doc: "prints a message on the terminal and in reports",
    target: Some(Target {
        name: "message",
        ty: T::String,
        sensitive: false,
        required: true,
        doc: "the message",
    }),
    effect: Effect::Mutating,
    default_timeout: Some(Duration::from_secs(5)),
    ..Variant::BASE
};

/// `notify webhook`.
pub static WEBHOOK: Variant = Variant {
    name: Some("webhook"),
    doc: "POSTs a JSON body to a URL; retries 429/5xx honouring Retry-After",
    target: Some(Target {
        name: "url",
        ty: T::Url,
        sensitive: true,
        required: true,
        doc: "the webhook URL, usually from a secret",
    }),
    attributes: &[
        Attribute::new("json", T::Any, "the JSON body").required(),
        Attribute::new("headers", T::MapOf(&T::String), "extra headers").sensitive(),
        Attribute::new("attempts", T::Int, "delivery attempts at most (1-20)")
            .default("3")
            .range(1, 20),
    ],
    outputs: &[Output::new(
        "status",
        T::Int,
        "HTTP status of the final attempt",
    )],
    effect: Effect::Mutating,
    default_timeout: Some(Duration::from_secs(10)),
    ..Variant::BASE
};

/// `notify slack`.
pub static SLACK: Variant = Variant {
    name: Some("slack"),
    doc: "posts to a Slack incoming webhook",
    target: Some(Target {
        name: "webhook",
        ty: T::Url,
        sensitive: true,
        required: true,
        doc: "the incoming-webhook URL, from a secret",
    }),
    attributes: &[
        Attribute::new("text", T::String, "message text (mrkdwn)").required(),
        Attribute::new("blocks", T::ListOf(&T::Any), "Block Kit blocks"),
        Attribute::new("attempts", T::Int, "delivery attempts at most (1-20)")
            .default("3")
            .range(1, 20),
    ],
    outputs: &[Output::new(
        "status",
        T::Int,
        "HTTP status of the final attempt",
    )],
    effect: Effect::Mutating,
    default_timeout: Some(Duration::from_secs(10)),
    ..Variant::BASE
};

/// `notify stdout "message"`: prints the message on the terminal and into reports.
pub struct Stdout;

impl StepKind for Stdout {
    fn variant(&self) -> &'static Variant {
        &STDOUT
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(async move {
            let message = input
                .target
                .as_ref()
                .map(Value::interpolated)
                .unwrap_or_default();
            for line in message.lines() {
                ctx.log(line);
            }
            Ok(Outputs::new())
        })
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        StepPlan::new(format!("prints {}", view.target()))
    }
}
