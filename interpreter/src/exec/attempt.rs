//! One step: `when`, input resolution, attempts with timeout and retry, expectations,
//! outputs (with secrecy), `wait until` polling, and the dry-run recorder.

use std::time::Duration;

use indexmap::IndexMap;
use lang::Code;
use lang::schema::{Effect, Secrecy};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Executor, Failure, Flow, Mode, Phase, RunResolver, Slot, recorded};
use crate::eval::{compare, eval_known};
use crate::event::{Event, Status};
use crate::plan::{Loc, OnFailure, Planned, PlannedState, PlannedStep};
use crate::step::{Outputs, StepContext, StepError, StepInput, StepKind};
use crate::text::QUOTE_LIMIT;
use crate::value::Value;

/// Why an attempt did not succeed.
#[derive(Debug)]
enum AttemptError {
    Step(StepError),
    Expect { message: String, loc: Loc },
    Timeout(Duration),
    Cancelled,
}

impl AttemptError {
    fn message(&self) -> String {
        match self {
            AttemptError::Step(e) => e.message.clone(),
            AttemptError::Expect { message, .. } => message.clone(),
            AttemptError::Timeout(d) => format!("timed out after {}", lang::fmt::duration(*d)),
            AttemptError::Cancelled => String::from("cancelled"),
        }
    }

    fn code(&self) -> Code {
        match self {
            AttemptError::Step(e) => e.code.unwrap_or(Code::StepFailed),
            AttemptError::Expect { .. } => Code::ExpectationFailed,
            AttemptError::Timeout(_) => Code::StepTimedOut,
            AttemptError::Cancelled => Code::Interrupted,
        }
    }

    /// The pause the other side asked for before the next attempt.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            AttemptError::Step(e) => e.retry_after,
            _ => None,
        }
    }

    fn retryable(&self) -> bool {
        match self {
            AttemptError::Step(e) => e.retryable,
            AttemptError::Cancelled => false,
            _ => true,
        }
    }
}

/// Why a recorded step has no outputs.
const RECORDED: &str = "a dry-run recorded it instead of running it";

/// The longest read-only look a live preflight takes at a mutating step.
const INSPECT_LIMIT: Duration = Duration::from_secs(30);

/// The prefix of the log line carrying what a live preflight saw of a mutating step.
pub const INSPECTED: &str = "inspected: ";

impl<'a> Executor<'a> {
    pub(super) async fn step(&self, step: &'a PlannedStep, phase: Phase<'_>) -> Flow {
        if step.before_start && !phase.handler {
            self.not_run(
                step,
                Status::Skipped,
                "before --start-at".into(),
                "it is before --start-at",
            );
            return Flow::Ok;
        }
        // An interactive step (a `confirm`, an approval gate) is asked again: what it
        // decided is not taken from a file anyone with the state directory could edit.
        if !phase.handler
            && step.effect != Effect::Interactive
            && let Some(earlier) = self.options.earlier.get(&step.id)
        {
            self.reuse(step, earlier);
            return Flow::Ok;
        }
        let resolver = self.resolver(phase.failure);
        if let Some(when) = &step.when {
            match eval_known(&when.expr, &step.scope, &resolver) {
                Ok(v) if v.as_bool() == Some(true) => {}
                Ok(_) => {
                    let reason = format!("`when {}` is false", when.text);
                    self.not_run(step, Status::Skipped, reason.clone(), reason);
                    return Flow::Ok;
                }
                Err(e) if recorded(step.effect, self.options.mode) => {
                    let message = format!(
                        "would: {} (if `when {}` holds: {})",
                        step.change, when.text, e.message
                    );
                    self.not_run(step, Status::Recorded, message, RECORDED);
                    return Flow::Ok;
                }
                Err(e) => {
                    return self.dry_or_fail(step, phase, Code::OutputUnavailable, &e.message);
                }
            }
        }
        if self.preflight()
            && step.effect == Effect::ReadOnly
            && let Some(after) = &step.after
        {
            // It checks what an earlier step of the run changes: checked now, it would
            // judge today's world, not the one it will see.
            let message = format!("checked after {after} runs (it reads what {after} changes)");
            self.not_run(step, Status::Skipped, message.clone(), message);
            return Flow::Ok;
        }
        if self.preflight()
            && step.effect == Effect::ReadOnly
            && step.nested.is_none()
            && step.variant.outputs.is_empty()
            && step.variant.subjects.is_empty()
        {
            // A read-only step that produces nothing checks nothing (`wait 45s`).
            let message = String::from("checks nothing now (a pause)");
            self.not_run(step, Status::Skipped, message.clone(), message);
            return Flow::Ok;
        }
        if recorded(step.effect, self.options.mode) {
            if let Some(problem) = self.inspect(step, &resolver, phase.token).await {
                self.finish(step, Status::Failed, Duration::ZERO, 0, Some(problem), None);
                self.set_slot(&step.id, Slot::NotRun(RECORDED.into()));
                return Flow::Ok;
            }
            let message = match step.effect {
                Effect::Interactive => format!("would ask: {}", step.change),
                _ => format!("would: {}", step.change),
            };
            self.not_run(step, Status::Recorded, message, RECORDED);
            return Flow::Ok;
        }
        let input = match self.input(step, &resolver) {
            Ok(input) => input,
            Err(message) => {
                return self.dry_or_fail(step, phase, Code::OutputUnavailable, &message);
            }
        };
        let label = live_label(step, &input);
        if let Ok(mut labels) = self.labels.lock() {
            labels.insert(step.id.clone(), label.clone());
        }
        let Some(imp) = self.registry.get(step.variant) else {
            let message = format!(
                "this build of ops has no implementation of `{}`",
                step.variant.display(step.kind)
            );
            return self.failed(
                step,
                phase,
                Code::StepNotImplemented,
                &message,
                &step.loc,
                0,
                Duration::ZERO,
            );
        };
        let started = Instant::now();
        let attempts = step.retry.as_ref().map_or(1, |r| r.count.saturating_add(1));
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            tracing::debug!(step = %step.id, attempt, label = %label, "attempt started");
            self.sink.emit(Event::StepStarted {
                id: step.id.clone(),
                label: label.clone(),
                attempt,
            });
            let result = if step.nested.is_some() {
                self.wait_until(step, &input, phase).await
            } else {
                self.attempt(step, imp.as_ref(), &input, phase.token, &resolver)
                    .await
            };
            match result {
                Ok(outputs) => {
                    let value = Value::Map(outputs);
                    self.finish(
                        step,
                        Status::Ok,
                        started.elapsed(),
                        attempt,
                        None,
                        Some(&value),
                    );
                    self.set_slot(&step.id, Slot::Done(value));
                    return Flow::Ok;
                }
                Err(AttemptError::Cancelled) => {
                    self.fail(
                        step,
                        Code::Interrupted,
                        &format!("cancelled by {} before it finished", self.interruption()),
                        &step.loc,
                        phase,
                    );
                    self.finish(
                        step,
                        Status::Cancelled,
                        started.elapsed(),
                        attempt,
                        Some(format!("cancelled ({})", self.interruption())),
                        None,
                    );
                    self.set_slot(&step.id, Slot::NotRun(String::from("it was cancelled")));
                    return Flow::Interrupted;
                }
                Err(e) if attempt < attempts && e.retryable() && !phase.token.is_cancelled() => {
                    let delay = self.retry_delay(step, attempt, e.retry_after());
                    tracing::info!(step = %step.id, attempt, delay_ms = delay.as_millis() as u64, error = %e.message(), "attempt failed; retrying");
                    self.sink.emit(Event::StepRetry {
                        id: step.id.clone(),
                        attempt,
                        attempts,
                        delay_ms: delay.as_millis() as u64,
                        reason: e.message(),
                    });
                    if !sleep(delay, phase.token).await {
                        self.finish(
                            step,
                            Status::Cancelled,
                            started.elapsed(),
                            attempt,
                            Some(format!(
                                "cancelled ({}) while waiting to retry",
                                self.interruption()
                            )),
                            None,
                        );
                        self.set_slot(&step.id, Slot::NotRun(String::from("it was cancelled")));
                        return Flow::Interrupted;
                    }
                }
                Err(e) => {
                    let loc = match &e {
                        AttemptError::Expect { loc, .. } => loc.clone(),
                        _ => step.loc.clone(),
                    };
                    let mut message = e.message();
                    if attempts > 1 {
                        message = format!("{message} (attempt {attempt} of {attempts})");
                    }
                    return self.failed(
                        step,
                        phase,
                        e.code(),
                        &message,
                        &loc,
                        attempt,
                        started.elapsed(),
                    );
                }
            }
        }
    }

    /// A step an earlier attempt of a resumed run finished: reported, not run; its
    /// outputs feed later steps unless they held a secret (never journaled).
    fn reuse(&self, step: &PlannedStep, earlier: &super::Earlier) {
        let message = format!("done in an earlier attempt of this run (at {})", earlier.at);
        self.finish(
            step,
            Status::Reused,
            Duration::ZERO,
            0,
            Some(message),
            earlier.outputs.as_ref(),
        );
        let slot = match &earlier.outputs {
            _ if earlier.unreadable => Slot::NotRun(format!(
                "step {} ran in an earlier attempt of this run, but its outputs cannot be read back from the journal; `ops resume` cannot pass them on (start a new run)",
                step.id
            )),
            Some(v) if v.holds_secret() => Slot::NotRun(format!(
                "step {} ran in an earlier attempt of this run and its outputs held a secret, which the journal does not keep; `ops resume` cannot pass it on (start a new run)",
                step.id
            )),
            Some(v) => Slot::Done(v.clone()),
            None => Slot::Done(Value::Map(IndexMap::new())),
        };
        self.set_slot(&step.id, slot);
    }

    #[allow(clippy::too_many_arguments)]
    fn failed(
        &self,
        step: &PlannedStep,
        phase: Phase<'_>,
        code: Code,
        message: &str,
        loc: &Loc,
        attempts: u32,
        elapsed: Duration,
    ) -> Flow {
        tracing::warn!(step = %step.id, code = %code, error = %message, "step failed");
        let continued = step.on_failure == OnFailure::Continue;
        let status = if continued {
            Status::FailedContinued
        } else {
            Status::Failed
        };
        self.finish(
            step,
            status,
            elapsed,
            attempts,
            Some(message.to_string()),
            None,
        );
        self.set_slot(&step.id, Slot::NotRun(format!("it failed: {message}")));
        self.fail(step, code, message, loc, phase);
        // A live preflight reports every check, not only up to the first failure.
        if continued || self.preflight() {
            return Flow::Ok;
        }
        Flow::Failed(Failure {
            id: step.id.clone(),
            step: step
                .name
                .clone()
                .unwrap_or_else(|| format!("{} {}", step.id, step.variant.display(step.kind))),
            message: self.redactor.clean(message),
        })
    }

    /// In a live preflight, lets a mutating step look read-only at what it would act on
    /// ([`StepKind::inspect`]); what it saw goes out as an `inspected: ` log line. Returns
    /// the problem when the look shows the step would fail.
    async fn inspect(
        &self,
        step: &PlannedStep,
        resolver: &RunResolver<'_>,
        token: &CancellationToken,
    ) -> Option<String> {
        if !matches!(
            self.options.mode,
            Mode::DryRun {
                live_readonly: true
            }
        ) || step.effect != Effect::Mutating
            || step.after.is_some()
        {
            // What an earlier step of the run changes first is not looked at now.
            return None;
        }
        let imp = self.registry.get(step.variant)?;
        let input = self.input(step, resolver).ok()?;
        let ctx = StepContext {
            id: step.id.clone(),
            cancel: token.child_token(),
            events: self.sink.clone(),
            secrets: self.redactor.clone(),
            prompter: self.options.prompter.clone(),
            run: self.options.identity.clone(),
        };
        let look = imp.inspect(&input, &ctx)?;
        let limit = step.timeout.unwrap_or(INSPECT_LIMIT).min(INSPECT_LIMIT);
        let problem = match tokio::time::timeout(limit, look).await {
            Ok(Ok(seen)) => {
                ctx.log(format!("{INSPECTED}{seen}"));
                return None;
            }
            Ok(Err(e)) => e.message,
            Err(_) => format!(
                "the read-only look timed out after {}",
                lang::fmt::duration(limit)
            ),
        };
        Some(format!("would fail: {}", self.redactor.redact(&problem)))
    }

    /// True in `ops plan --preflight`: read-only steps run live, nothing else does.
    fn preflight(&self) -> bool {
        matches!(
            self.options.mode,
            Mode::DryRun {
                live_readonly: true
            }
        )
    }

    /// In a dry-run a value that depends on an unrun step is expected: record the step.
    fn dry_or_fail(&self, step: &PlannedStep, phase: Phase<'_>, code: Code, message: &str) -> Flow {
        if matches!(self.options.mode, Mode::DryRun { .. }) {
            let reason = format!("not run in the dry-run: {message}");
            self.not_run(step, Status::Skipped, reason.clone(), reason);
            return Flow::Ok;
        }
        self.failed(step, phase, code, message, &step.loc, 0, Duration::ZERO)
    }

    /// The pause before attempt `attempt + 1`. A `Retry-After` the step reports lengthens
    /// a jittered delay up to the planned one, never beyond: the plan's worst case holds.
    fn retry_delay(&self, step: &PlannedStep, attempt: u32, asked: Option<Duration>) -> Duration {
        let Some(retry) = &step.retry else {
            return Duration::ZERO;
        };
        let planned = retry.delay(attempt);
        let delay = if retry.jitter {
            // Equal jitter: half the delay, plus a random part of the other half.
            planned / 2 + planned.mul_f64(0.5 * self.random())
        } else {
            planned
        };
        asked.map_or(delay, |asked| delay.max(asked.min(planned)))
    }

    /// Resolves the target and attributes, now that earlier steps have run.
    fn input(&self, step: &PlannedStep, resolver: &RunResolver<'_>) -> Result<StepInput, String> {
        let target = match &step.target {
            Some(p) => Some(self.value(p, step, resolver)?),
            None => None,
        };
        let mut attrs = IndexMap::new();
        for (name, planned) in &step.attrs {
            attrs.insert(name.clone(), self.value(planned, step, resolver)?);
        }
        Ok(StepInput {
            variant: step.variant,
            target,
            attrs,
            timeout: step.timeout,
            expected: step.expects.iter().map(|e| e.subject.clone()).collect(),
        })
    }

    fn value(
        &self,
        planned: &Planned,
        step: &PlannedStep,
        resolver: &RunResolver<'_>,
    ) -> Result<Value, String> {
        match (&planned.state, &planned.expr) {
            (PlannedState::Known(v), _) => Ok(v.clone()),
            (PlannedState::Unknown(_), Some(expr)) => {
                eval_known(expr, &step.scope, resolver).map_err(|e| e.message)
            }
            (PlannedState::Unknown(_), None) => Err(format!("`{}` has no value", planned.text)),
        }
    }

    /// One attempt: run, taint outputs, check expectations; bounded and cancellable.
    async fn attempt(
        &self,
        step: &PlannedStep,
        imp: &dyn StepKind,
        input: &StepInput,
        token: &CancellationToken,
        resolver: &RunResolver<'_>,
    ) -> Result<Outputs, AttemptError> {
        let ctx = StepContext {
            id: step.id.clone(),
            cancel: token.child_token(),
            events: self.sink.clone(),
            secrets: self.redactor.clone(),
            prompter: self.options.prompter.clone(),
            run: self.options.identity.clone(),
        };
        let run = imp.run(input, &ctx);
        // A read-only step has nothing to wind down: on cancellation it stops at once
        // (a probe waiting on a silent server, a poll); a mutating one gets the grace.
        let grace = if step.effect == Effect::ReadOnly {
            Duration::ZERO
        } else {
            self.options.grace
        };
        let outputs = self
            .bounded(run, step.timeout, grace, &ctx.cancel, token)
            .await?;
        let outputs = taint(step, input, outputs);
        self.expectations(step, imp, &outputs, resolver)?;
        Ok(outputs)
    }

    /// Awaits a step future within its timeout; on cancellation it gets `grace` to stop.
    async fn bounded(
        &self,
        fut: futures_util::future::BoxFuture<'_, Result<Outputs, StepError>>,
        timeout: Option<Duration>,
        grace: Duration,
        step_token: &CancellationToken,
        token: &CancellationToken,
    ) -> Result<Outputs, AttemptError> {
        let mut fut = fut;
        let guarded = async {
            tokio::select! {
                biased;
                r = &mut fut => r.map_err(AttemptError::Step),
                _ = token.cancelled() => {
                    step_token.cancel();
                    match tokio::time::timeout(grace, &mut fut).await {
                        Ok(Ok(outputs)) => Ok(outputs),
                        Ok(Err(_)) | Err(_) => Err(AttemptError::Cancelled),
                    }
                }
            }
        };
        let result = match timeout {
            Some(limit) => match tokio::time::timeout(limit, guarded).await {
                Ok(r) => r,
                Err(_) => Err(AttemptError::Timeout(limit)),
            },
            None => guarded.await,
        };
        // A step that gave up because it saw the cancellation was cancelled, not failed.
        match result {
            Err(_) if token.is_cancelled() => Err(AttemptError::Cancelled),
            other => other,
        }
    }

    fn expectations(
        &self,
        step: &PlannedStep,
        imp: &dyn StepKind,
        outputs: &Outputs,
        resolver: &RunResolver<'_>,
    ) -> Result<(), AttemptError> {
        for expect in &step.expects {
            let fail = |message: String| AttemptError::Expect {
                message,
                loc: expect.loc.clone(),
            };
            let arg = match &expect.arg {
                Some(a) => Some(self.value(a, step, resolver).map_err(fail)?),
                None => None,
            };
            let expected = self.value(&expect.value, step, resolver).map_err(fail)?;
            let actual = imp
                .subject(outputs, &expect.subject, arg.as_ref())
                .map_err(|m| fail(format!("`{}`: {m}", expect.text)))?;
            let holds = compare(expect.op, &actual, &expected)
                .map_err(|m| fail(format!("`{}`: {m}", expect.text)))?;
            if !holds {
                let subject = match &arg {
                    Some(a) => format!("{} {}", expect.subject, a.render()),
                    None => expect.subject.clone(),
                };
                // Redacted before it is cut, so a cut secret is still recognised; a
                // 1 MiB body is quoted in part, with its size.
                let shown = |v: &Value| {
                    crate::text::quote(&self.redactor.redact(&v.render()), QUOTE_LIMIT).into_owned()
                };
                return Err(fail(format!(
                    "expected {subject} {} {}, got {}",
                    expect.op.as_str(),
                    shown(&expected),
                    shown(&actual)
                )));
            }
        }
        Ok(())
    }

    /// `wait until`: polls the nested read-only step until it passes or time runs out.
    async fn wait_until(
        &self,
        step: &'a PlannedStep,
        input: &StepInput,
        phase: Phase<'_>,
    ) -> Result<Outputs, AttemptError> {
        let Some(nested) = step.nested.as_deref() else {
            return Err(AttemptError::Step(StepError::fatal(
                "`wait until` has no step to poll",
            )));
        };
        let Some(imp) = self.registry.get(nested.variant) else {
            return Err(AttemptError::Step(StepError::fatal(format!(
                "this build of ops has no implementation of `{}`",
                nested.variant.display(nested.kind)
            ))));
        };
        let resolver = self.resolver(phase.failure);
        let nested_input = self
            .input(nested, &resolver)
            .map_err(|m| AttemptError::Step(StepError::fatal(m)))?;
        let limit = step.timeout.unwrap_or(Duration::from_secs(60));
        // Polling faster than 10 times a second only floods the event stream.
        let every = input
            .attr("every")
            .and_then(Value::as_duration)
            .unwrap_or(Duration::from_secs(2))
            .max(Duration::from_millis(100));
        let max_every = input
            .attr("max_every")
            .and_then(Value::as_duration)
            .unwrap_or(Duration::from_secs(30));
        let exponential = input.str("backoff") == Some("exponential");
        let started = Instant::now();
        let mut delay = every;
        let mut polls = 0i64;
        loop {
            polls += 1;
            let remaining = limit.saturating_sub(started.elapsed());
            let mut bounded = nested_input.clone();
            bounded.timeout = Some(nested.timeout.map_or(remaining, |t| t.min(remaining)));
            let mut nested_bounded = nested.clone();
            nested_bounded.timeout = bounded.timeout;
            let result = self
                .attempt(
                    &nested_bounded,
                    imp.as_ref(),
                    &bounded,
                    phase.token,
                    &resolver,
                )
                .await;
            let last = match result {
                Ok(_) => {
                    let mut out = IndexMap::new();
                    out.insert("attempts".to_string(), Value::Int(polls));
                    out.insert(
                        "elapsed".to_string(),
                        Value::Duration(round(started.elapsed())),
                    );
                    return Ok(out);
                }
                Err(AttemptError::Cancelled) => return Err(AttemptError::Cancelled),
                Err(e) => e.message(),
            };
            let elapsed = started.elapsed();
            self.sink.emit(Event::StepLog {
                id: step.id.clone(),
                line: format!(
                    "not ready ({} of {}, poll {polls}): {last}",
                    lang::fmt::duration(round(elapsed)),
                    lang::fmt::duration(limit)
                ),
            });
            if self.preflight() {
                // A preflight looks once: is it ready now?
                return Err(AttemptError::Step(StepError::fatal(format!(
                    "not ready now ({last}); the run polls for up to {}",
                    lang::fmt::duration(limit)
                ))));
            }
            if elapsed + delay >= limit {
                return Err(AttemptError::Step(StepError::new(format!(
                    "not ready within {} ({polls} polls); last: {last}",
                    lang::fmt::duration(limit)
                ))));
            }
            if !sleep(delay, phase.token).await {
                return Err(AttemptError::Cancelled);
            }
            if exponential {
                delay = (delay * 2).min(max_every);
            }
        }
    }
}

/// `probe http "http://127.0.0.1:8080/healthz" as up`, with the target as resolved.
fn live_label(step: &PlannedStep, input: &StepInput) -> String {
    let mut out = step.variant.display(step.kind);
    if let Some(target) = &input.target {
        out.push(' ');
        out.push_str(&target.render());
    }
    if let Some(name) = &step.name {
        out.push_str(" as ");
        out.push_str(name);
    }
    out
}

/// Marks outputs secret when a sensitive input was.
fn taint(step: &PlannedStep, input: &StepInput, outputs: Outputs) -> Outputs {
    let variant = step.variant;
    let target_secret = variant.target.is_some_and(|t| t.sensitive)
        && input.target.as_ref().is_some_and(Value::is_secret);
    let attr_secret = variant
        .attributes
        .iter()
        .any(|a| a.sensitive && input.attrs.get(a.name).is_some_and(Value::is_secret));
    if !(target_secret || attr_secret) {
        return outputs;
    }
    outputs
        .into_iter()
        .map(|(name, value)| {
            let tainted = variant
                .outputs
                .iter()
                .any(|o| o.name == name && o.secrecy == Secrecy::FromInputs);
            (name, if tainted { value.into_secret() } else { value })
        })
        .collect()
}

/// Sleeps unless cancelled first; false when cancelled.
async fn sleep(delay: Duration, token: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = token.cancelled() => false,
    }
}

/// Durations in outputs are rounded to milliseconds.
fn round(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}
