//! Executor semantics with pure test step kinds and tokio's paused clock.

mod common;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use interpreter::event::{Event, Status};
use interpreter::exec::{self, Mode, RunStatus};
use lang::Code;
use tokio_util::sync::CancellationToken;

fn statuses(events: &[Event]) -> Vec<(String, Status)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished { id, status, .. } => Some((id.clone(), *status)),
            _ => None,
        })
        .collect()
}

fn message(events: &[Event], step: &str) -> String {
    events
        .iter()
        .find_map(|e| match e {
            Event::StepFinished { id, message, .. } if id == step => message.clone(),
            _ => None,
        })
        .unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn steps_run_in_order_and_outputs_feed_later_steps() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook(
            "test echo \"a\" as first\nstage \"two\" {\n  test echo \"${first.value}-b\" as second\n}\ntest echo \"${second.value}-c\"\n",
        ),
        &reg,
    );
    let (result, events) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Ok);
    assert_eq!(log.lines(), ["a", "a-b", "a-b-c"]);
    let ids: Vec<String> = statuses(&events).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["1", "2.1", "3"]);
    assert!(matches!(
        events.first(),
        Some(Event::RunStarted { version: 1, .. })
    ));
    assert!(matches!(
        events.last(),
        Some(Event::RunFinished { exit_code: 0, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn parallel_respects_its_limit() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook(
            "parallel limit 2 {\n  test sleep 100ms\n  test sleep 100ms\n  test sleep 100ms\n  test sleep 100ms\n  test sleep 100ms\n}\n",
        ),
        &reg,
    );
    // The planner's worst case simulates the same slots: 3 rounds of 100ms.
    assert_eq!(plan.worst_case.success, Duration::from_millis(300));
    let started = tokio::time::Instant::now();
    let (result, _) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Ok);
    assert_eq!(log.max_running.load(Ordering::SeqCst), 2);
    assert_eq!(started.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn unlimited_parallel_runs_everything_at_once() {
    let log = Log::default();
    let reg = registry(&log);
    let body: String = (0..20).map(|_| "  test sleep 100ms\n").collect();
    let plan = plan(&runbook(&format!("parallel {{\n{body}}}\n")), &reg);
    let started = tokio::time::Instant::now();
    let (result, _) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Ok);
    assert_eq!(log.max_running.load(Ordering::SeqCst), 20);
    assert_eq!(started.elapsed(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn a_loop_inside_parallel_makes_one_ordered_branch_per_iteration() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook(
            "parallel limit 2 {\n  for host in [\"a\", \"b\", \"c\"] {\n    test sleep 100ms as s\n    test echo \"${host} after ${s.attempt}\"\n  }\n}\n",
        ),
        &reg,
    );
    let ids: Vec<&str> = plan.steps().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["1.1.1", "1.1.2", "1.2.1", "1.2.2", "1.3.1", "1.3.2"]);
    let started = tokio::time::Instant::now();
    let (result, _) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Ok);
    assert_eq!(
        log.max_running.load(Ordering::SeqCst),
        2,
        "the limit counts iterations"
    );
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    let mut lines: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.contains("after"))
        .collect();
    lines.sort();
    assert_eq!(lines, ["a after 1", "b after 1", "c after 1"]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_handler_fails_a_successful_run() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook(
            "test echo \"main\"\nalways {\n  test echo \"failure was '${failure.message}'\"\n  test flaky \"x\" {\n    passes_on = 2\n  }\n}\n",
        ),
        &reg,
    );
    let (result, events) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Failed);
    assert_eq!(
        log.lines(),
        ["main", "failure was ''"],
        "failure.* are empty after a success"
    );
    assert!(matches!(
        events.last(),
        Some(Event::RunFinished { exit_code: 1, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn start_at_inside_a_loop_reads_only_its_own_iteration() {
    let log = Log::default();
    let reg = registry(&log);
    let src = runbook(
        "for h in [\"a\", \"b\"] {\n  test echo \"${h}\" as e\n  test echo \"got ${e.value}\"\n}\n",
    );
    // Starting at the second iteration's first step needs nothing that is skipped.
    let plan = plan_with(&src, &reg, &Env(HashMap::new()), Some("3")).expect("plans");
    assert!(plan.findings.is_empty(), "{:?}", plan.findings);
    let (_, _) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(log.lines(), ["b", "got b"]);
    // Starting at the reader of a skipped step is refused.
    let plan = plan_with(&src, &reg, &Env(HashMap::new()), Some("4")).expect("plans");
    assert_eq!(plan.findings[0].code, Code::SkippedOutput);
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially_on_the_clock() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook(
            "test flaky \"x\" {\n  passes_on = 4\n  retry 5 every 1s backoff exponential\n}\n",
        ),
        &reg,
    );
    let started = tokio::time::Instant::now();
    let (result, events) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Ok);
    let delays: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::StepRetry { delay_ms, .. } => Some(*delay_ms),
            _ => None,
        })
        .collect();
    assert_eq!(delays, [1000, 2000, 4000]);
    assert_eq!(started.elapsed(), Duration::from_secs(7));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::StepFinished {
            attempts: 4,
            status: Status::Ok,
            ..
        }
    )));
}

#[tokio::test(start_paused = true)]
async fn jitter_keeps_delays_between_half_and_all() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook("test flaky \"x\" {\n  passes_on = 9\n  retry 8 every 10s jitter\n}\n"),
        &reg,
    );
    let (_, events) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    let delays: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::StepRetry { delay_ms, .. } => Some(*delay_ms),
            _ => None,
        })
        .collect();
    assert_eq!(delays.len(), 8);
    assert!(
        delays.iter().all(|d| (5000..=10000).contains(d)),
        "{delays:?}"
    );
    assert!(
        delays.iter().any(|d| *d != delays[0]),
        "jitter varies delays: {delays:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_gives_up_with_the_last_error() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook(
            "test flaky \"x\" {\n  passes_on = 10\n  retry 2 every 1s\n}\ntest echo \"after\"\n",
        ),
        &reg,
    );
    let (result, events) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Failed);
    assert_eq!(result.status.exit_code(), 1);
    assert_eq!(message(&events, "1"), "attempt 3 failed (attempt 3 of 3)");
    assert_eq!(statuses(&events)[1], ("2".to_string(), Status::Skipped));
    assert!(log.lines().is_empty(), "nothing after the failure ran");
    assert_eq!(result.failures[0].code, Code::StepFailed);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_bounds_each_attempt() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(&runbook("test hang {\n  timeout 2s\n}\n"), &reg);
    let started = tokio::time::Instant::now();
    let (result, events) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Failed);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(result.failures[0].code, Code::StepTimedOut);
    assert_eq!(message(&events, "1"), "timed out after 2s");
}

#[tokio::test(start_paused = true)]
async fn failed_expectations_say_expected_and_actual_and_point_at_the_expect() {
    let log = Log::default();
    let reg = registry(&log);
    let src = runbook("test echo \"hello\" {\n  expect value == \"bye\"\n}\n");
    let plan = plan(&src, &reg);
    let (result, _) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    let failure = &result.failures[0];
    assert_eq!(failure.code, Code::ExpectationFailed);
    assert_eq!(failure.message, "expected value == \"bye\", got \"hello\"");
    assert_eq!(failure.loc.line, 7, "points at the expect line");
}

#[tokio::test(start_paused = true)]
async fn handlers_see_the_failure_and_always_runs() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook(
            "stage \"s\" {\n  test flaky \"x\" as boom {\n    passes_on = 5\n  }\n  on failure {\n    test echo \"stage saw ${failure.step}: ${failure.message}\"\n  }\n}\non failure {\n  test echo \"runbook saw ${failure.step}\"\n}\nalways {\n  test echo \"cleanup\"\n}\n",
        ),
        &reg,
    );
    let (result, _) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Failed);
    assert_eq!(
        log.lines(),
        [
            "stage saw boom: attempt 1 failed",
            "runbook saw boom",
            "cleanup"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn handlers_do_not_run_on_success_but_always_does() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook(
            "test echo \"main\"\non failure {\n  test echo \"failure\"\n}\nalways {\n  test echo \"cleanup\"\n}\n",
        ),
        &reg,
    );
    let (result, events) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Ok);
    assert_eq!(log.lines(), ["main", "cleanup"]);
    assert_eq!(message(&events, "f1"), "not run: nothing failed");
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_in_flight_steps_then_runs_handlers() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook(
            "test hang\ntest echo \"never\"\non failure {\n  test echo \"rollback\"\n}\nalways {\n  test echo \"cleanup\"\n}\n",
        ),
        &reg,
    );
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel.cancel();
    });
    let started = tokio::time::Instant::now();
    let (result, events) = run(&plan, &reg, options(Mode::Run), token).await;
    assert_eq!(result.status, RunStatus::Interrupted);
    assert_eq!(result.status.exit_code(), 130);
    // 500ms until Ctrl-C; the hanging step only reads, so it stops at once (a mutating
    // one would get the 1s grace to wind down).
    assert_eq!(started.elapsed(), Duration::from_millis(500));
    assert_eq!(log.lines(), ["rollback", "cleanup"]);
    assert_eq!(result.failures[0].code, Code::Interrupted);
    let s = statuses(&events);
    assert_eq!(s[0], ("1".to_string(), Status::Cancelled));
    assert_eq!(s[1], ("2".to_string(), Status::Skipped));
}

#[tokio::test(start_paused = true)]
async fn when_false_skips_with_a_reason() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook(
            "param go: bool = false\ntest echo \"a\" as a\ntest echo \"skipped\" {\n  when go\n}\ntest echo \"ran\" {\n  when a.value == \"a\"\n}\n",
        ),
        &reg,
    );
    let (result, events) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Ok);
    assert_eq!(log.lines(), ["a", "ran"]);
    assert_eq!(message(&events, "2"), "`when go` is false");
}

#[tokio::test(start_paused = true)]
async fn on_failure_continue_goes_on() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook(
            "test flaky \"x\" {\n  passes_on = 3\n  on_failure = continue\n}\ntest echo \"next\"\n",
        ),
        &reg,
    );
    let (result, events) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Ok);
    assert_eq!(log.lines(), ["next"]);
    assert_eq!(statuses(&events)[0].1, Status::FailedContinued);
    assert!(result.failures[0].continued);
}

#[tokio::test(start_paused = true)]
async fn loops_expand_and_each_iteration_has_its_own_outputs() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook(
            "for host in [\"a\", \"b\"] {\n  test echo \"${host}\" as e\n  test echo \"got ${e.value}\"\n}\n",
        ),
        &reg,
    );
    let ids: Vec<&str> = plan.steps().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4"]);
    let (result, _) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Ok);
    assert_eq!(log.lines(), ["a", "got a", "b", "got b"]);
}

#[tokio::test(start_paused = true)]
async fn start_at_skips_earlier_steps() {
    let log = Log::default();
    let reg = registry(&log);
    let src = runbook(
        "test echo \"one\"\nstage \"s\" {\n  test echo \"two\"\n  test echo \"three\"\n}\n",
    );
    let plan = plan_with(&src, &reg, &Env(HashMap::new()), Some("2.2")).expect("plans");
    let (_, events) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(log.lines(), ["three"]);
    assert_eq!(message(&events, "1"), "before --start-at");
    let err = plan_with(&src, &reg, &Env(HashMap::new()), Some("9")).expect_err("unknown id");
    assert_eq!(err[0].code, Code::UnknownStartStep);
}

#[tokio::test(start_paused = true)]
async fn dry_run_makes_no_mutating_call() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook(
            "test echo \"read\" as r\ntest mutate \"change ${r.value}\"\ntest ask \"sure?\"\nalways {\n  test mutate \"cleanup\"\n}\n",
        ),
        &reg,
    );
    for live in [false, true] {
        let (result, events) = run(
            &plan,
            &reg,
            options(Mode::DryRun {
                live_readonly: live,
            }),
            CancellationToken::new(),
        )
        .await;
        assert_eq!(result.status, RunStatus::Ok);
        assert_eq!(
            log.mutations.load(Ordering::SeqCst),
            0,
            "no mutating call in a dry-run"
        );
        let s = statuses(&events);
        assert_eq!(s[1].1, Status::Recorded);
        assert_eq!(s[2].1, Status::Recorded);
        assert_eq!(s[0].1, if live { Status::Ok } else { Status::Recorded });
    }
    assert_eq!(
        log.lines(),
        ["read"],
        "only --preflight runs the read-only step"
    );
    // The real run does mutate: the recorder is what prevented it.
    run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(log.mutations.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn secrets_are_redacted_in_events_and_taint_outputs() {
    let log = Log::default();
    let reg = registry(&log);
    let env = Env(HashMap::from([(
        "TOKEN".to_string(),
        "canary-5ecret".to_string(),
    )]));
    let plan = plan_with(
        &runbook("secret TOKEN\ntest echo \"Bearer ${TOKEN}\" as e\ntest flaky \"x\" {\n  passes_on = 2\n}\n"),
        &reg,
        &env,
        None,
    )
    .expect("plans");
    let mut opts = options(Mode::Run);
    opts.secrets
        .insert("env TOKEN".into(), "canary-5ecret".into());
    let (result, events) = run(&plan, &reg, opts, CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Failed);
    assert_eq!(
        log.lines(),
        ["Bearer canary-5ecret"],
        "the step itself sees the value"
    );
    let json = serde_json::to_string(&events).expect("serialises");
    assert!(!json.contains("canary-5ecret"), "{json}");
    assert!(json.contains("(secret)"));
}

#[test]
fn a_step_kind_without_implementation_is_a_plan_error() {
    let log = Log::default();
    let reg = registry_of(&log, &["echo"]);
    let plan = plan(&runbook("test echo \"a\"\ntest mutate \"b\"\n"), &reg);
    let finding = plan
        .findings
        .iter()
        .find(|f| f.code == Code::StepNotImplemented)
        .expect("an OPS3010 finding");
    assert_eq!(finding.step.as_deref(), Some("2"));
    assert!(plan.has_errors());
}

#[tokio::test(start_paused = true)]
async fn a_live_dry_run_lets_mutating_steps_look_read_only() {
    let log = Log::default();
    let reg = registry(&log);
    let plan = plan(
        &runbook("test mutate \"db\"\ntest mutate \"unreachable\"\n"),
        &reg,
    );
    let live = Mode::DryRun {
        live_readonly: true,
    };
    let (_, events) = run(&plan, &reg, options(live), CancellationToken::new()).await;
    assert_eq!(log.mutations.load(Ordering::SeqCst), 0);
    let seen: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::StepLog { id, line } if id == "1" => Some(line.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(seen, [format!("{}db looks fine", exec::INSPECTED)]);
    assert_eq!(
        statuses(&events),
        [
            ("1".to_string(), Status::Recorded),
            ("2".to_string(), Status::Failed)
        ]
    );
    assert_eq!(
        message(&events, "2"),
        "would fail: cannot reach unreachable"
    );
    // A plain dry-run never looks.
    let quiet = Mode::DryRun {
        live_readonly: false,
    };
    let (_, events) = run(&plan, &reg, options(quiet), CancellationToken::new()).await;
    assert!(!events.iter().any(|e| matches!(e, Event::StepLog { .. })));
    assert_eq!(statuses(&events)[1].1, Status::Recorded);
}

#[tokio::test(start_paused = true)]
async fn the_worst_case_counts_stage_handlers_on_each_path_and_the_run_stays_within_it() {
    let log = Log::default();
    let reg = registry(&log);
    // The stage's `always` runs on both paths, its `on failure` (50s) only when `flaky` fails
    // (it never passes: 3 attempts of at most 5s, 1s apart).
    let source = "test sleep 10s\nstage \"s\" {\n  test flaky \"x\" {\n    passes_on = 9\n    retry 2 every 1s\n  }\n  on failure {\n    test sleep 50s\n  }\n  always {\n    test sleep 1m\n  }\n}\ntest ask \"go on?\"\nalways {\n  test sleep 20s\n}\n";
    let plan = plan(&runbook(source), &reg);
    let wc = &plan.worst_case;
    // Success: 10s + (15s + 2s) + 1m + 20s; failure adds the stage's 50s handler.
    assert_eq!(wc.success, Duration::from_secs(10 + 17 + 60 + 20));
    assert_eq!(wc.failure, Duration::from_secs(10 + 17 + 50 + 60 + 20));
    assert_eq!(wc.operator_steps, ["3"]);
    let started = tokio::time::Instant::now();
    let (result, _) = run(&plan, &reg, options(Mode::Run), CancellationToken::new()).await;
    assert_eq!(result.status, RunStatus::Failed);
    // Paused clock: flaky fails at once, so the run takes every sleep but no timeout.
    assert!(started.elapsed() <= wc.failure, "{:?}", started.elapsed());
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(10 + 2 + 50 + 60 + 20)
    );
}
