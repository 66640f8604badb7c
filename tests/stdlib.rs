//! The standard library's steps against real components on 127.0.0.1: HTTP servers
//! written here, a TLS server with a test CA, PostgreSQL, Redis, webhook receivers,
//! and real processes.

mod services;

use std::time::{Duration, Instant};

use services::*;

static FLAKY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static BUSY_ONCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[test]
fn http_probe_expectations_and_faults() {
    let server = HttpServer::start(|n, req| match req.path.as_str() {
        "/health" => ok(
            "200 OK",
            r#"{"status":"ok","checks":[{"name":"db","ok":true}]}"#,
        ),
        "/ready" => ok(
            "503 Service Unavailable",
            r#"{"status":"degraded","failures":["db","cache"]}"#,
        ),
        "/flaky" if FLAKY.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 3 => {
            let _ = n;
            ok("503 Service Unavailable", "{}")
        }
        "/flaky" => ok("200 OK", r#"{"status":"ok"}"#),
        "/html" => Some((
            "200 OK".into(),
            vec![("content-type".into(), "text/html".into())],
            b"<html>".to_vec(),
        )),
        "/hang" => None,
        "/big" => Some((
            "200 OK".into(),
            vec![("content-length".into(), "10000000000".into())],
            vec![b'x'; 4 << 20],
        )),
        _ => ok("404 Not Found", "{}"),
    });
    let base = server.url("");
    // Expectations that hold, on status, header, body, JSON paths and latency.
    let (code, out, err) = run_runbook(
        &format!(
            "probe http \"{base}/health\" as h {{\n  expect status == 200\n  expect header \"content-type\" contains \"json\"\n  expect json \".status\" == \"ok\"\n  expect json \".checks[0].name\" == \"db\"\n  expect json \".checks[0].ok\" == true\n  expect latency < 5s\n  expect body matches \"\\\"status\\\":\\\\s*\\\"ok\\\"\"\n}}\nnotify stdout \"answered ${{h.status}} in ${{h.latency}}\"\n"
        ),
        &["run"],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("│ answered 200 in"), "{out}");

    // A 503 with a failures array: expected vs actual, pointing at the expect line.
    let (code, _, err) = run_runbook(
        &format!("probe http \"{base}/ready\" {{\n  expect json \".failures\" == []\n}}\n"),
        &["run"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("expected json \".failures\" == [], got")
            && err.contains("[\"db\", \"cache\"]"),
        "{err}"
    );
    assert!(err.contains("t.rb.ops:7:"), "{err}");

    // Flaky then healthy: retries until it passes.
    let (code, out, err) = run_runbook(
        &format!(
            "probe http \"{base}/flaky\" {{\n  expect status == 200\n  retry 5 every 10ms\n}}\n"
        ),
        &["run"],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.matches("↻ 1 attempt").count(), 3, "{out}");

    // A path missing from the JSON, and a body that is not JSON.
    let (code, _, err) = run_runbook(
        &format!("probe http \"{base}/health\" {{\n  expect json \".nope\" == 1\n}}\n"),
        &["run"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("`.nope` does") && err.contains("(keys there: checks, status)"),
        "{err}"
    );
    let (code, _, err) = run_runbook(
        &format!("probe http \"{base}/html\" {{\n  expect json \".status\" == \"ok\"\n}}\n"),
        &["run"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("the body is not JSON"), "{err}");

    // A server that accepts and never answers ends at the timeout.
    let started = Instant::now();
    let (code, _, err) = run_runbook(
        &format!("probe http \"{base}/hang\" {{\n  timeout 1s\n}}\n"),
        &["run"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("OPS3032") && err.contains("timed out after 1s"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // A 10 GB body is cut at max_body and does not hold the step.
    let started = Instant::now();
    let (code, out, err) = run_runbook(
        &format!(
            "probe http \"{base}/big\" as big {{\n  max_body = 64KiB\n  expect status == 200\n  timeout 10s\n}}\n"
        ),
        &["run", "--format", "json"],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let body_len = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|e| e["outputs"]["body"].as_str().map(str::len))
        .expect("the body output");
    assert_eq!(body_len, 64 << 10);

    // Connection refused, and a name that does not resolve.
    let closed = free_port();
    let (code, _, err) = run_runbook(
        &format!("probe http \"http://127.0.0.1:{closed}/\" {{\n  timeout 2s\n}}\n"),
        &["run"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.to_lowercase().contains("connection refused"), "{err}");
    let (code, _, err) = run_runbook(
        "probe http \"http://no-such-host.invalid/\" {\n  timeout 5s\n}\n",
        &["run"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("dns error") || err.contains("failed to lookup"),
        "{err}"
    );
}

#[test]
fn http_requests_send_auth_headers_and_bodies_and_probes_only_read() {
    let server = HttpServer::start(|_, _| ok("200 OK", "{}"));
    let source = format!(
        "secret TOKEN\nhttp request \"{}\" {{\n  method = POST\n  bearer = TOKEN\n  headers = {{ \"x-trace\" = \"abc\" }}\n  json = {{ ping = true }}\n  expect status == 200\n}}\n",
        server.url("/api")
    );
    // The plan shows the method, the URL and the body, the secret in it redacted; a
    // dry-run sends nothing.
    let (code, out, err) = run_runbook(
        &source,
        &["plan", "--preflight"],
        &[("TOKEN", "t0k3n-value")],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "would: sends POST {} with the JSON body {{ ping = true }}",
            server.url("/api")
        )),
        "{out}"
    );
    assert!(
        !out.contains("t0k3n-value") && out.contains("(secret)"),
        "{out}"
    );
    assert!(server.requests().is_empty(), "the plan sent nothing");
    let (code, out, err) = run_runbook(&source, &["run"], &[("TOKEN", "t0k3n-value")]);
    assert_eq!(code, 0, "{out}{err}");
    let seen = server.requests();
    let req = &seen[0];
    assert_eq!(req.method, "POST");
    assert!(
        req.headers
            .contains(&("authorization".into(), "Bearer t0k3n-value".into()))
    );
    assert!(req.headers.contains(&("x-trace".into(), "abc".into())));
    assert_eq!(req.body, r#"{"ping":true}"#);

    // A probe that would change something is refused when checked, with the step to use.
    let (code, _, err) = run_runbook(
        &format!(
            "probe http \"{}\" {{\n  method = POST\n}}\n",
            server.url("/api")
        ),
        &["run"],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("OPS2052 value-refused") && err.contains("http request"),
        "{err}"
    );
    // From a parameter the checker cannot see it: the plan refuses it (exit 3), and the
    // probe would not send it anyway.
    let (code, out, err) = run_runbook(
        &format!(
            "param m: string = \"DELETE\"\nprobe http \"{}\" {{\n  method = m\n}}\n",
            server.url("/api")
        ),
        &["run"],
        &[],
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("a probe only reads"), "{err}");
    assert_eq!(server.requests().len(), 1, "nothing more was sent");
}

#[test]
#[ignore = "services tier (PostgreSQL, Redis, OpenSSL): run scripts/test.sh"]
fn tls_probes_use_a_ca_file_or_an_explicit_opt_out() {
    let ca = TestCa::create();
    let server = TlsServer::start(&ca);
    let url = format!("https://127.0.0.1:{}/", server.port);
    let (code, out, err) = run_runbook(
        &format!(
            "probe http \"{url}\" {{\n  ca_file = \"{}\"\n  expect status == 200\n}}\n",
            ca.ca()
        ),
        &["run"],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run_runbook(
        &format!("probe http \"{url}\" {{\n  timeout 5s\n}}\n"),
        &["run"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("certificate") || err.contains("UnknownIssuer"),
        "{err}"
    );
    let (code, out, err) = run_runbook(
        &format!("probe http \"{url}\" {{\n  insecure = true\n  expect status == 200\n}}\n"),
        &["run"],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn tcp_probes() {
    let server = HttpServer::start(|_, _| ok("200 OK", "{}"));
    let (code, out, err) = run_runbook(
        &format!(
            "probe tcp \"127.0.0.1:{}\" {{\n  expect latency < 2s\n}}\n",
            server.port
        ),
        &["run"],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run_runbook(
        &format!("probe tcp \"127.0.0.1:{}\"\n", free_port()),
        &["run"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.to_lowercase().contains("connection refused"), "{err}");
}

#[test]
fn webhooks_deliver_retry_and_give_up() {
    let server = HttpServer::start(|n, req| match req.path.as_str() {
        "/hook" => ok("200 OK", "ok"),
        "/busy" if !BUSY_ONCE.swap(true, std::sync::atomic::Ordering::SeqCst) => {
            let _ = n;
            Some((
                "429 Too Many Requests".into(),
                vec![("retry-after".into(), "1".into())],
                Vec::new(),
            ))
        }
        "/busy" => ok("200 OK", "ok"),
        _ => ok("500 Internal Server Error", "boom"),
    });
    let (code, out, err) = run_runbook(
        "secret HOOK\nnotify webhook HOOK {\n  json = { text = \"deployed\", ok = true }\n}\nnotify slack HOOK {\n  text = \"*deployed*\"\n}\n",
        &["run"],
        &[("HOOK", &server.url("/hook"))],
    );
    assert_eq!(code, 0, "{out}{err}");
    let seen = server.requests();
    let json: serde_json::Value = serde_json::from_str(&seen[0].body).expect("json");
    assert_eq!(json, serde_json::json!({"text": "deployed", "ok": true}));
    let slack: serde_json::Value = serde_json::from_str(&seen[1].body).expect("json");
    assert_eq!(slack, serde_json::json!({"text": "*deployed*"}));
    assert!(
        !out.contains(&server.url("/hook")),
        "the webhook URL is a secret: {out}"
    );

    // 429 with Retry-After: 1 is honoured, then delivered.
    let started = Instant::now();
    let (code, out, err) = run_runbook(
        "secret HOOK\nnotify webhook HOOK {\n  json = { a = 1 }\n}\n",
        &["run"],
        &[("HOOK", &server.url("/busy"))],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert!(out.contains("429"), "{out}");

    // 500 forever: bounded attempts, then a clear failure without the URL.
    let (code, _, err) = run_runbook(
        "secret HOOK\nnotify webhook HOOK {\n  json = { a = 1 }\n  attempts = 2\n}\n",
        &["run"],
        &[("HOOK", &server.url("/down"))],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("500 Internal Server Error") && err.contains("(attempt 2 of 2)"),
        "{err}"
    );
    assert!(!err.contains("/down"), "{err}");

    // The dry-run shows the target redacted and the rendered message.
    let (code, out, _) = run_runbook(
        "secret HOOK\nnotify slack HOOK {\n  text = \"deploy done\"\n}\nnotify webhook HOOK {\n  json = { text = \"done\" }\n}\n",
        &["plan"],
        &[("HOOK", &server.url("/hook"))],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("would: posts \"deploy done\" to the Slack webhook (secret)"),
        "{out}"
    );
    assert!(
        out.contains("would: POSTs { text = \"done\" } to (secret)"),
        "{out}"
    );
}

#[test]
fn commands_take_no_shell_and_are_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sentinel = dir.path().join("sentinel");
    let s = sentinel.display();
    for evil in [
        format!("; touch {s}"),
        format!("$(touch {s})"),
        format!("`touch {s}`"),
        format!("\\\" ; touch {s} ; \\\""),
        format!("x\\ntouch {s}"),
        format!("' ; touch {s} ; '"),
    ] {
        let (code, out, err) = run_runbook(
            &format!(
                "param value: string = \"{evil}\"\nexec [\"echo\", value]\nexec [\"printf\", \"%s\\n\", \"prefix-${{value}}\"]\n"
            ),
            &["run"],
            &[],
        );
        assert_eq!(code, 0, "{evil}: {out}{err}");
        assert!(!sentinel.exists(), "{evil} started a process");
    }
    // A program that does not exist, and one that never exits (its group is killed).
    let (code, _, err) = run_runbook(
        "exec [\"ops-test-nope\"] {\n  timeout 5s\n}\n",
        &["run"],
        &[],
    );
    assert_eq!(code, 3, "preflight finds it first: {err}");
    let started = Instant::now();
    let (code, _, err) = run_runbook(
        &format!(
            "exec [\"sh\", \"-c\", \"sleep 30 & sleep 30; touch {s}\"] {{\n  timeout 1s\n}}\n"
        ),
        &["run"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("OPS3032 step-timed-out"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    assert!(!sentinel.exists());
    // A background process left in the group does not hold the step open.
    let started = Instant::now();
    let (code, out, err) = run_runbook(
        "exec [\"sh\", \"-c\", \"sleep 1000 & echo started\"]\n",
        &["run"],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // Output is capped; the exit code can be expected instead of failing the step.
    let (code, out, err) = run_runbook(
        "exec [\"sh\", \"-c\", \"head -c 100000 /dev/zero | tr '\\\\0' x; exit 4\"] as big {\n  max_output = 1KiB\n  expect exit == 4\n}\nnotify stdout \"kept ${big.stdout}\"\n",
        &["run", "--format", "json"],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("more bytes not kept: max_output is 1024"),
        "{out}"
    );
}

#[test]
fn readonly_exec_runs_in_preflight() {
    let (code, out, err) = run_runbook(
        "exec [\"echo\", \"read-only\"] {\n  readonly = true\n}\nexec [\"echo\", \"mutating\"]\n",
        &["plan", "--preflight"],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok        1 exec"), "{out}");
    assert!(!out.contains("ok        2 exec"), "{out}");
}

#[test]
#[ignore = "services tier (PostgreSQL, Redis, OpenSSL): run scripts/test.sh"]
fn postgres_probes_are_read_only() {
    let pg = Postgres::start();
    let url = pg.url();
    let env = [("DATABASE_URL", url.as_str())];
    let (code, out, err) = run_runbook(
        "secret DATABASE_URL\nprobe postgres DATABASE_URL as one {\n  expect value == 1\n}\nprobe postgres DATABASE_URL as rows {\n  query = \"select n, 'row ' || n as label from generate_series(1, 3) as n\"\n  expect row_count == 3\n}\nnotify stdout \"second label: ${rows.rows[1].label}\"\n",
        &["run"],
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("│ second label: (secret)") || out.contains("second label: row 2"),
        "{out}"
    );
    let (code, _, err) = run_runbook(
        "secret DATABASE_URL\nprobe postgres DATABASE_URL {\n  query = \"create table x (a int)\"\n}\n",
        &["run"],
        &env,
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot execute CREATE TABLE in a read-only") && err.contains("(25006)"),
        "{err}"
    );
    let (code, _, err) = run_runbook(
        "secret DATABASE_URL\nprobe postgres DATABASE_URL {\n  timeout 3s\n}\n",
        &["run"],
        &[(
            "DATABASE_URL",
            &format!("postgresql://ops@127.0.0.1:{}/postgres", free_port()),
        )],
    );
    assert_eq!(code, 1);
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
}

#[test]
#[ignore = "services tier (PostgreSQL, Redis, OpenSSL): run scripts/test.sh"]
fn redis_probes() {
    let redis = Redis::start();
    let (code, out, err) = run_runbook(
        &format!(
            "probe redis \"redis://127.0.0.1:{}\" {{\n  expect reply == \"PONG\"\n  expect info \"role\" == \"master\"\n}}\n",
            redis.port
        ),
        &["run"],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run_runbook(
        &format!(
            "probe redis \"redis://127.0.0.1:{}\" {{\n  timeout 3s\n}}\n",
            free_port()
        ),
        &["run"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("cannot connect to Redis"), "{err}");
}

#[test]
fn wait_until_polls_a_probe_within_its_timeout() {
    static READY_AFTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let server = HttpServer::start(|_, req| match req.path.as_str() {
        "/warming" if READY_AFTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 => {
            ok("503 Service Unavailable", r#"{"status":"starting"}"#)
        }
        "/warming" => ok("200 OK", r#"{"status":"ok"}"#),
        _ => ok("503 Service Unavailable", r#"{"status":"down"}"#),
    });
    let (code, out, err) = run_runbook(
        &format!(
            "wait until as ready {{\n  probe http \"{}\" {{\n    expect json \".status\" == \"ok\"\n  }}\n  every = 100ms\n  timeout 10s\n}}\nnotify stdout \"ready after ${{ready.attempts}} polls\"\n",
            server.url("/warming")
        ),
        &["run"],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("not ready (") && out.contains("of 10s, poll 1)"),
        "{out}"
    );
    assert!(out.contains("│ ready after 3 polls"), "{out}");
    let started = Instant::now();
    let (code, out, err) = run_runbook(
        &format!(
            "wait until {{\n  probe http \"{}\" {{\n    expect status == 200\n  }}\n  every = 200ms\n  timeout 1s\n}}\n",
            server.url("/down")
        ),
        &["run"],
        &[],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("not ready within 1s") && err.contains("expected status == 200, got 503"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_program_that_cannot_start_says_why() {
    let (code, _, err) = run_runbook("exec [\"/nonexistent/ops-test-prog\"]\n", &["run"], &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot start `/nonexistent/ops-test-prog`")
            && err.contains("is it installed"),
        "{err}"
    );
}
