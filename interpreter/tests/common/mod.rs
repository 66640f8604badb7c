//! Pure test step kinds and helpers for executor tests: no I/O, a shared log, and
//! tokio's paused clock for time.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use interpreter::event::{Collector, Event, EventSink};
use interpreter::exec::{self, Mode, RunOptions, RunResult};
use interpreter::plan::{self, Environment, Plan, PlanRequest};
use interpreter::step::{
    Answer, InputView, Outputs, PromptKind, Prompter, Registry, StepContext, StepError, StepInput,
    StepKind, StepPlan,
};
use interpreter::value::Value;
use lang::schema::{
    Attribute, Effect, Output, SchemaType as T, Schemas, StepSchema, Subject, Target, Variant,
};
use lang::{CheckOptions, MemoryLoader};
use tokio_util::sync::CancellationToken;

const TEXT: Target = Target {
    name: "text",
    ty: T::String,
    sensitive: true,
    required: true,
    doc: "text",
};

const DURATION: Target = Target {
    name: "duration",
    ty: T::Duration,
    sensitive: false,
    required: true,
    doc: "how long",
};

const OUTPUTS: &[Output] = &[
    Output::tainted("value", T::String, "the text"),
    Output::new("attempt", T::Int, "attempt number"),
];

const SUBJECTS: &[Subject] = &[Subject::new("value", T::String, "the text")];

/// `test echo|sleep|flaky|hang|mutate`: pure step kinds for executor tests.
pub static TEST: StepSchema = StepSchema {
    kind: "test",
    doc: "test steps",
    variants: &[&ECHO, &SLEEP, &FLAKY, &HANG, &MUTATE, &ASK],
};

/// `test echo`.
pub static ECHO: Variant = Variant {
    name: Some("echo"),
    doc: "logs its text and outputs it",
    target: Some(TEXT),
    outputs: OUTPUTS,
    subjects: SUBJECTS,
    default_timeout: Some(Duration::from_secs(5)),
    ..Variant::BASE
};

/// `test sleep`.
pub static SLEEP: Variant = Variant {
    name: Some("sleep"),
    doc: "sleeps",
    target: Some(DURATION),
    outputs: OUTPUTS,
    default_timeout: Some(Duration::from_secs(60)),
    ..Variant::BASE
};

/// `test flaky`.
pub static FLAKY: Variant = Variant {
    name: Some("flaky"),
    doc: "fails until attempt `passes_on`",
    target: Some(TEXT),
    attributes: &[Attribute::new("passes_on", T::Int, "attempt that passes").default("1")],
    outputs: OUTPUTS,
    subjects: SUBJECTS,
    default_timeout: Some(Duration::from_secs(5)),
    ..Variant::BASE
};

/// `test hang`.
pub static HANG: Variant = Variant {
    name: Some("hang"),
    doc: "never finishes unless cancelled",
    default_timeout: Some(Duration::from_secs(3600)),
    ..Variant::BASE
};

/// `test mutate`.
pub static MUTATE: Variant = Variant {
    name: Some("mutate"),
    doc: "records a change",
    target: Some(TEXT),
    effect: Effect::Mutating,
    default_timeout: Some(Duration::from_secs(5)),
    ..Variant::BASE
};

/// `test ask`.
pub static ASK: Variant = Variant {
    name: Some("ask"),
    doc: "asks the operator",
    target: Some(TEXT),
    effect: Effect::Interactive,
    ..Variant::BASE
};

pub static SCHEMAS: Schemas = Schemas { steps: &[&TEST] };

/// What the test kinds did, shared across steps.
#[derive(Clone, Default)]
pub struct Log {
    pub lines: Arc<Mutex<Vec<String>>>,
    pub running: Arc<AtomicUsize>,
    pub max_running: Arc<AtomicUsize>,
    pub attempts: Arc<Mutex<HashMap<String, usize>>>,
    pub mutations: Arc<AtomicUsize>,
}

impl Log {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("log").clone()
    }
    fn push(&self, line: String) {
        self.lines.lock().expect("log").push(line);
    }
}

struct Kind {
    variant: &'static str,
    log: Log,
}

impl StepKind for Kind {
    fn variant(&self) -> &'static Variant {
        TEST.variant(self.variant).expect("a test variant")
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
            let attempt = {
                let mut a = self.log.attempts.lock().expect("attempts");
                let n = a.entry(ctx.id.clone()).or_default();
                *n += 1;
                *n
            };
            let mut out = Outputs::new();
            out.insert("value".into(), Value::str(text.clone()));
            out.insert("attempt".into(), Value::Int(attempt as i64));
            match self.variant {
                "echo" => {
                    self.log.push(text.clone());
                    ctx.log(format!("echo {text}"));
                    Ok(out)
                }
                "sleep" => {
                    let d = input
                        .target
                        .as_ref()
                        .and_then(Value::as_duration)
                        .unwrap_or_default();
                    let now = self.log.running.fetch_add(1, Ordering::SeqCst) + 1;
                    self.log.max_running.fetch_max(now, Ordering::SeqCst);
                    self.log.push(format!("start {}", ctx.id));
                    tokio::time::sleep(d).await;
                    self.log.push(format!("end {}", ctx.id));
                    self.log.running.fetch_sub(1, Ordering::SeqCst);
                    Ok(out)
                }
                "flaky" => {
                    let passes_on =
                        input.attr("passes_on").and_then(Value::as_int).unwrap_or(1) as usize;
                    if attempt < passes_on {
                        Err(StepError::new(format!("attempt {attempt} failed")))
                    } else {
                        Ok(out)
                    }
                }
                "hang" => {
                    std::future::pending::<()>().await;
                    Ok(out)
                }
                "mutate" => {
                    self.log.mutations.fetch_add(1, Ordering::SeqCst);
                    self.log.push(format!("mutated {text}"));
                    Ok(out)
                }
                "ask" => match ctx.prompter.ask(PromptKind::Confirm, &text).await {
                    Ok(Answer::Yes(by)) => {
                        out.insert("value".into(), Value::str(by));
                        Ok(out)
                    }
                    Ok(Answer::No) => Err(StepError::fatal("answered no")),
                    Err(e) => Err(StepError::fatal(e)),
                },
                _ => Err(StepError::fatal("unknown test variant")),
            }
        })
    }
    fn plan(&self, view: &InputView) -> StepPlan {
        StepPlan {
            duration: (self.variant == "sleep")
                .then(|| view.target_value.as_ref().and_then(Value::as_duration))
                .flatten(),
            ..StepPlan::new(format!("test {} {}", self.variant, view.target()))
        }
    }
    fn inspect<'a>(
        &'a self,
        input: &'a StepInput,
        _ctx: &'a StepContext,
    ) -> Option<BoxFuture<'a, Result<String, StepError>>> {
        (self.variant == "mutate").then(|| -> BoxFuture<'a, Result<String, StepError>> {
            Box::pin(async move {
                let text = input
                    .target
                    .as_ref()
                    .map(Value::interpolated)
                    .unwrap_or_default();
                match text.as_str() {
                    "unreachable" => Err(StepError::fatal("cannot reach unreachable")),
                    _ => Ok(format!("{text} looks fine")),
                }
            })
        })
    }
}

pub fn registry(log: &Log) -> Registry {
    registry_of(log, &["echo", "sleep", "flaky", "hang", "mutate", "ask"])
}

/// A registry with only some of the test variants implemented.
pub fn registry_of(log: &Log, variants: &[&'static str]) -> Registry {
    let mut r = Registry::new(SCHEMAS);
    for &v in variants {
        r.register(Kind {
            variant: v,
            log: log.clone(),
        });
    }
    r
}

/// An environment with fixed variables and no readable files.
pub struct Env(pub HashMap<String, String>);

impl Environment for Env {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
    fn readable(&self, path: &str) -> Result<(), String> {
        Err(format!("{path}: no such file"))
    }
}

/// Loads, checks (no errors allowed) and plans a runbook.
pub fn plan_with(
    src: &str,
    registry: &Registry,
    env: &Env,
    start_at: Option<&str>,
) -> Result<Plan, Vec<lang::Diagnostic>> {
    let loader = MemoryLoader::new().with("main.rb.ops", src);
    let options = lang::CompileOptions {
        check: CheckOptions::default(),
        callees: true,
    };
    let compiled = lang::compile("main.rb.ops", &loader, &SCHEMAS, &options);
    let errors = compiled.errors();
    assert!(errors.is_empty(), "parse or check errors: {errors:#?}");
    let hir = compiled.hir().expect("a checked program");
    plan::plan(&PlanRequest {
        hir: &hir,
        registry,
        inputs: Vec::new(),
        start_at: start_at.map(str::to_string),
        ops_version: String::from("test"),
        env,
        now: "2026-12-01T12:00:00Z".parse().expect("a timestamp"),
    })
}

pub fn plan(src: &str, registry: &Registry) -> Plan {
    plan_with(src, registry, &Env(HashMap::new()), None).expect("plans")
}

/// Answers every prompt yes.
pub struct Yes;

impl Prompter for Yes {
    fn ask<'a>(&'a self, _: PromptKind, _: &'a str) -> BoxFuture<'a, Result<Answer, String>> {
        Box::pin(async { Ok(Answer::Yes("--yes")) })
    }
}

pub fn options(mode: Mode) -> RunOptions {
    RunOptions {
        earlier: std::sync::Arc::default(),
        identity: None,
        mode,
        grace: Duration::from_secs(1),
        prompter: Arc::new(Yes),
        secrets: HashMap::new(),
        outside_window: None,
        interrupted_by: Arc::default(),
    }
}

/// Runs a plan, returning the result and every event.
pub async fn run(
    plan: &Plan,
    registry: &Registry,
    options: RunOptions,
    cancel: CancellationToken,
) -> (RunResult, Vec<Event>) {
    let collector = Collector::default();
    let sink = EventSink::new(vec![Box::new(collector.clone())]);
    let result = exec::run(plan, registry, options, sink, cancel).await;
    (result, collector.events())
}

/// `runbook "t" {}` plus the body.
pub fn runbook(body: &str) -> String {
    format!("runbook \"t\" {{\n  title = \"test\"\n  owner = \"qa\"\n}}\n\n{body}")
}
