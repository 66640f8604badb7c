//! `confirm` and `manual`: steps that wait for a person.

use std::time::Duration;

use lang::schema::{Effect, Output, SchemaType as T, StepSchema, Target, Variant};

use futures_util::future::BoxFuture;
use interpreter::step::{
    Answer, InputView, Outputs, PromptKind, StepContext, StepError, StepInput, StepKind, StepPlan,
};
use interpreter::value::Value;

/// `confirm "question?"`: a yes/no prompt, answered by `--yes` in automation.
pub static CONFIRM_SCHEMA: StepSchema = StepSchema {
    kind: "confirm",
    doc: "asks the operator a yes/no question; `--yes` answers it in automation",
    variants: &[&CONFIRM],
};

/// `confirm`.
pub static CONFIRM: Variant = Variant {
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
};

/// `manual "do this"`: a checklist item the operator must tick.
pub static MANUAL_SCHEMA: StepSchema = StepSchema {
    kind: "manual",
    doc: "a checklist item the operator performs and ticks",
    variants: &[&MANUAL],
};

/// `manual`.
pub static MANUAL: Variant = Variant {
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
};

/// `confirm` and `manual`: ask the operator through the run's prompter.
pub struct Ask(pub PromptKind);

impl StepKind for Ask {
    fn variant(&self) -> &'static Variant {
        match self.0 {
            PromptKind::Confirm => &CONFIRM,
            PromptKind::Manual => &MANUAL,
        }
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(async move {
            let text = input
                .target
                .as_ref()
                .map(Value::interpolated)
                .unwrap_or_default();
            match ctx.prompter.ask(self.0, &text).await {
                Ok(Answer::Yes(by)) => {
                    let mut out = Outputs::new();
                    out.insert("answered_by".into(), Value::str(by));
                    Ok(out)
                }
                Ok(Answer::No) => Err(StepError::fatal(match self.0 {
                    PromptKind::Confirm => "the operator answered no",
                    PromptKind::Manual => "the operator did not tick the task as done",
                })),
                Err(why) => Err(StepError::fatal(why).with_code(lang::Code::NoOperator)),
            }
        })
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        StepPlan::new(match self.0 {
            PromptKind::Confirm => format!("{} (yes/no; a no stops the run)", view.target()),
            PromptKind::Manual => format!("{} (the operator ticks it when done)", view.target()),
        })
    }
}
