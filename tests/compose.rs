//! `compose` against a real Docker engine: a private dockerd started by
//! `scripts/engine.sh` (socket, data and pidfile under /tmp/ops-engine; `.ci/run` stops it
//! by PID) and the offline test image `ops-test/busybox:1`. Each test uses its own project
//! name and ports and removes what it created, even when it fails.

mod common;
mod services;
mod stack;

use std::path::Path;
use std::process::Command;

use services::*;
use stack::*;

/// A three-service stack: `db` with a healthcheck, `migrate` (a one-shot job) after db is
/// healthy, `web` after db is healthy and migrate completed, publishing PORT.
fn platform(port: u16, greeting: &str) -> String {
    format!(
        r#"x-base: &base
  image: {IMAGE}
  init: true
services:
  db:
    <<: *base
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/healthz"]
      interval: 500ms
      retries: 20
    volumes:
      - data:/data
  migrate:
    <<: *base
    command: sh -c "echo migrated > /data/done"
    volumes:
      - data:/data
    depends_on:
      db:
        condition: service_healthy
  web:
    <<: *base
    command: httpd -f -p 8080 -h /www
    environment:
      - GREETING=${{GREETING:-{greeting}}}
    ports:
      - "127.0.0.1:{port}:8080"
    labels:
      team: sre
    depends_on:
      db:
        condition: service_healthy
      migrate:
        condition: service_completed_successfully
volumes:
  data:
"#
    )
}

fn started_at(stack: &Stack, service: &str) -> String {
    stack.inspect(service, "{{.State.StartedAt}}")
}

#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn up_is_ordered_labelled_idempotent_and_recreates_only_what_changed() {
    let port = free_port();
    let stack = Stack::new("opsorder", &platform(port, "hello"));

    // The plan, before anything exists: every service to create, in dependency order.
    let (code, plan, err) = stack.run(UP, &["plan"]);
    assert_eq!(code, 0, "{plan}{err}");
    let db = plan.find("service db: create opsorder-db-1").expect(&plan);
    let migrate = plan.find("service migrate: create").expect(&plan);
    let web = plan.find("service web: create").expect(&plan);
    assert!(db < migrate && migrate < web, "{plan}");
    assert!(
        plan.contains("after db healthy, migrate completed"),
        "{plan}"
    );
    assert!(plan.contains("network opsorder_default: create"), "{plan}");
    assert!(plan.contains("volume opsorder_data: create"), "{plan}");
    assert!(stack.containers().is_empty(), "a plan created containers");

    let (code, out, err) = stack.run(UP, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=3 recreated=0 kept=0"), "{out}");
    assert_eq!(
        stack.containers(),
        ["opsorder-db-1", "opsorder-migrate-1", "opsorder-web-1"]
    );
    // Order: migrate and web started after db was healthy; web after migrate exited 0.
    let db_healthy = stack.inspect("db", "{{(index .State.Health.Log 0).End}}");
    let migrate_end = stack.inspect("migrate", "{{.State.FinishedAt}}");
    assert!(started_at(&stack, "migrate") > started_at(&stack, "db"));
    assert!(started_at(&stack, "migrate").as_str() >= &db_healthy[..19]);
    assert!(
        started_at(&stack, "web") >= migrate_end,
        "web started before migrate ended"
    );
    assert_eq!(stack.inspect("migrate", "{{.State.ExitCode}}"), "0");
    // The standard Compose labels, and the service's own.
    let labels = stack.inspect("web", "{{json .Config.Labels}}");
    for label in [
        "\"com.docker.compose.project\":\"opsorder\"",
        "\"com.docker.compose.service\":\"web\"",
        "\"com.docker.compose.container-number\":\"1\"",
        "\"com.docker.compose.config-hash\":\"",
        "\"team\":\"sre\"",
    ] {
        assert!(labels.contains(label), "{label} missing in {labels}");
    }
    assert_eq!(stack.inspect("web", "{{.State.Health}}"), "<nil>");
    assert_eq!(stack.inspect("db", "{{.State.Health.Status}}"), "healthy");
    let body = http_get(port, "/healthz");
    assert!(body.contains("\"status\":\"ok\""), "{body}");

    // Again: nothing changes.
    let ids: Vec<String> = ["db", "migrate", "web"]
        .iter()
        .map(|s| stack.id(s))
        .collect();
    let (code, plan, _) = stack.run(UP, &["plan"]);
    assert_eq!(code, 0);
    assert!(
        plan.contains("service db: keep opsorder-db-1 (running, unchanged)"),
        "{plan}"
    );
    assert!(plan.contains("service web: keep"), "{plan}");
    let (code, out, err) = stack.run(UP, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=0 recreated=0 kept=2"), "{out}");
    let again: Vec<String> = ["db", "migrate", "web"]
        .iter()
        .map(|s| stack.id(s))
        .collect();
    assert_eq!(ids, again, "an unchanged up recreated containers");

    // Change one service: only it is recreated, and the plan says why.
    stack.write(&platform(port, "bonjour"));
    let (code, plan, _) = stack.run(UP, &["plan"]);
    assert_eq!(code, 0);
    assert!(
        plan.contains("service web: recreate opsorder-web-1: environment changed"),
        "{plan}"
    );
    assert!(plan.contains("service db: keep"), "{plan}");
    let (code, out, err) = stack.run(UP, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("recreated=1"), "{out}");
    assert_eq!(stack.id("db"), ids[0], "db was recreated");
    assert_ne!(stack.id("web"), ids[2], "web was not recreated");
    assert!(
        stack
            .inspect("web", "{{.Config.Env}}")
            .contains("GREETING=bonjour")
    );

    // ps: state and health per service, with expectations.
    let (code, out, err) = stack.run(
        "compose ps \"FILE\" as ps {\n  project = \"PROJECT\"\n  services = [\"db\", \"web\"]\n  expect state \"web\" == \"running\"\n  expect health \"db\" == \"healthy\"\n  expect unhealthy == 0\n}\nnotify stdout \"running=${ps.running} healthy=${ps.healthy} total=${ps.total}\"\n",
        &["run"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("running=2 healthy=1 total=2"), "{out}");

    // restart: same containers, started again, db before web.
    let web_started = started_at(&stack, "web");
    let (code, out, err) = stack.run(
        "compose restart \"FILE\" as r {\n  project = \"PROJECT\"\n  services = [\"web\", \"db\"]\n  wait = healthy\n}\nnotify stdout \"restarted=${r.restarted}\"\n",
        &["run"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("restarted=2"), "{out}");
    let db_line = out.find("db: restarted").expect(&out);
    let web_line = out.find("web: restarted").expect(&out);
    assert!(db_line < web_line, "restart order: {out}");
    assert_ne!(started_at(&stack, "web"), web_started);
    assert_eq!(stack.id("db"), ids[0]);

    // down: containers and the network go; the named volume stays unless asked.
    let (code, plan, _) = stack.run(
        "compose down \"FILE\" {\n  project = \"PROJECT\"\n}\n",
        &["plan"],
    );
    assert_eq!(code, 0);
    assert!(
        plan.contains("stops and removes 3 containers of project opsorder"),
        "{plan}"
    );
    assert!(
        plan.contains("volume opsorder_data: kept (volumes = false)"),
        "{plan}"
    );
    let (code, out, err) = stack.run(
        "compose down \"FILE\" as d {\n  project = \"PROJECT\"\n}\nnotify stdout \"removed=${d.removed}\"\n",
        &["run"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("removed=3"), "{out}");
    assert!(stack.containers().is_empty());
    assert_eq!(stack.networks(), "");
    assert_eq!(stack.volumes(), "opsorder_data");
    let (code, out, err) = stack.run(
        "compose down \"FILE\" {\n  project = \"PROJECT\"\n  volumes = true\n}\n",
        &["run"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(stack.volumes(), "", "the volume was not removed");
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn docker_compose_v1_recognises_the_stack() {
    let Ok(out) = Command::new("docker-compose").arg("version").output() else {
        panic!("docker-compose (Debian's Compose v1) is needed: apt-get install -y docker-compose");
    };
    assert!(out.status.success());
    let stack = Stack::new(
        "opsv1",
        &format!("services:\n  app:\n    image: {IMAGE}\n    init: true\n    command: sleep 600\n"),
    );
    let (code, out, err) = stack.run(UP, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    let ps = Command::new("docker-compose")
        .args(["-p", "opsv1", "-f"])
        .arg(stack.file())
        .args(["ps", "--services", "--filter", "status=running"])
        .env("DOCKER_HOST", engine())
        .output()
        .expect("docker-compose ps");
    assert_eq!(String::from_utf8_lossy(&ps.stdout).trim(), "app", "{ps:?}");
}

#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn a_healthcheck_that_never_passes_fails_with_its_last_output() {
    let stack = Stack::new(
        "opssick",
        &format!(
            "services:\n  slow:\n    image: {IMAGE}\n    init: true\n    command: sleep 600\n    healthcheck:\n      test: [\"CMD-SHELL\", \"echo warming up; exit 1\"]\n      interval: 500ms\n      retries: 1000\n  sick:\n    image: {IMAGE}\n    init: true\n    command: sleep 600\n    profiles: [\"sick\"]\n    healthcheck:\n      test: [\"CMD-SHELL\", \"wget -q http://127.0.0.1:9/ || (echo wget: connection refused; exit 1)\"]\n      interval: 300ms\n      retries: 2\n"
        ),
    );
    let started = std::time::Instant::now();
    let (code, out, err) = stack.run(
        "compose up \"FILE\" {\n  project = \"PROJECT\"\n  wait = healthy\n  timeout 8s\n}\n",
        &["run"],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(started.elapsed().as_secs() < 30);
    assert!(err.contains("not ready within 8.0s"), "{err}");
    assert!(err.contains("slow is starting"), "{err}");
    assert!(
        err.contains("last health check exit 1: warming up"),
        "{err}"
    );

    // A check that goes unhealthy fails at once, naming the service and the check's output.
    let (code, out, err) = stack.run(
        "compose up \"FILE\" {\n  project = \"PROJECT\"\n  profiles = [\"sick\"]\n  services = [\"sick\"]\n  wait = healthy\n  timeout 1m\n}\n",
        &["run"],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("sick is unhealthy (last health check exit 1"),
        "{err}"
    );
    assert!(err.contains("wget"), "{err}");
}

#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn missing_image_busy_port_and_unreachable_engine_are_clear() {
    // An image that is neither local nor pullable (no registry here).
    let stack = Stack::new(
        "opsmissing",
        "services:\n  ghost:\n    image: ops-test/absent:9\n",
    );
    let (code, out, err) = stack.run(
        "compose up \"FILE\" {\n  project = \"PROJECT\"\n}\n",
        &["run"],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("service ghost: cannot pull image ops-test/absent:9"),
        "{err}"
    );
    let (code, plan, err) = stack.run(
        "compose up \"FILE\" {\n  project = \"PROJECT\"\n  pull = never\n}\n",
        &["plan"],
    );
    assert_eq!(code, 3, "{plan}{err}");
    let all = format!("{plan}{err}");
    assert!(
        all.contains("image ops-test/absent:9 is not in the engine and pull = never"),
        "{all}"
    );

    // A published port another process holds.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port();
    let busy = Stack::new(
        "opsbusy",
        &format!(
            "services:\n  web:\n    image: {IMAGE}\n    init: true\n    command: sleep 600\n    ports:\n      - \"127.0.0.1:{port}:8080\"\n"
        ),
    );
    let (code, out, err) = busy.run(
        "compose up \"FILE\" {\n  project = \"PROJECT\"\n}\n",
        &["run"],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("service web: container opsbusy-web-1 did not start"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "already in use by another process: 127.0.0.1:{port}"
        )),
        "{err}"
    );
    drop(holder);

    // No engine: the plan still shows what up would create, with a warning.
    let body = format!(
        "compose up \"{}\" {{\n  project = \"opsnoengine\"\n}}\n",
        stack.file().display()
    );
    let (code, plan, err) = run_runbook(
        &body,
        &["plan"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_eq!(code, 0, "{plan}{err}");
    let all = format!("{plan}{err}");
    assert!(all.contains("OPS3037"), "{all}");
    assert!(all.contains("not reachable"), "{all}");
    assert!(
        all.contains("service ghost: create opsnoengine-ghost-1"),
        "{all}"
    );
    let (code, out, err) = run_runbook(
        &body,
        &["run"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("OPS3037"), "{err}");
}

#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn an_invalid_compose_file_is_reported_in_the_yaml() {
    let stack = Stack::new(
        "opsinvalid",
        &format!(
            "services:\n  web:\n    image: {IMAGE}\n    gpus: all\n    volumes:\n      - cache:/cache\n    environment:\n      SESSION: ${{SESSION_SECRET:?set the session secret}}\n"
        ),
    );
    let (code, plan, err) = stack.run(
        "compose up \"FILE\" {\n  project = \"PROJECT\"\n}\n",
        &["plan"],
    );
    assert_eq!(code, 3, "{plan}{err}");
    let all = format!("{plan}{err}");
    assert!(all.contains("OPS3036"), "{all}");
    // Interpolation runs first: the unset required variable is reported with its position.
    assert!(
        all.contains("docker-compose.yml:8:16: required variable SESSION_SECRET is not set: set the session secret"),
        "{all}"
    );
    let (code, plan, err) = run_runbook(
        &format!(
            "compose up \"{}\" {{\n  project = \"opsinvalid\"\n}}\n",
            stack.file().display()
        ),
        &["plan"],
        &[
            ("DOCKER_HOST", engine()),
            ("SESSION_SECRET", "s3cr3t-value"),
        ],
    );
    assert_eq!(code, 3, "{plan}{err}");
    let all = format!("{plan}{err}");
    assert!(
        all.contains("docker-compose.yml:4:5: unsupported key `gpus` in service `web`"),
        "{all}"
    );
    assert!(
        all.contains("volume `cache` is not declared under top-level `volumes`"),
        "{all}"
    );
    assert!(!all.contains("s3cr3t-value"), "{all}");
    let (code, out, err) = stack.run(
        "compose up \"FILE\" {\n  project = \"PROJECT\"\n}\n",
        &["run"],
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(stack.containers().is_empty());
}

/// The platform runbooks of `runbooks/platform/` against the lab stacks: the full platform
/// up in its start order (plan first), verified healthy, then down to nothing.
#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn the_platform_runbooks_bring_the_lab_up_in_order_and_down() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ops = |args: &[&str], secret: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ops"));
        cmd.args(args)
            .current_dir(root)
            .env("DOCKER_HOST", engine())
            .env("NO_COLOR", "1")
            .env_remove("NORNS_SESSION_SECRET");
        if let Some(s) = secret {
            cmd.env("NORNS_SESSION_SECRET", s);
        }
        let out = cmd.output().expect("ops runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).replace("\n  │ ", " "),
        )
    };
    let lab_containers = || {
        docker(&[
            "ps",
            "-a",
            "--filter",
            "name=platform-",
            "--format",
            "{{.Names}}",
        ])
    };
    let start = "runbooks/platform/start-platform.rb.ops";
    let stop = "runbooks/platform/stop-platform.rb.ops";
    let _ = ops(&["run", stop], None);

    // Without the session secret nothing starts (the runbook's secret preflight).
    let (code, out, err) = ops(&["run", start], None);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        format!("{out}{err}").contains("NORNS_SESSION_SECRET"),
        "{out}{err}"
    );
    assert_eq!(lab_containers(), "");

    let secret = "lab-session-secret-0451";
    let (code, plan, err) = ops(&["plan", start], Some(secret));
    assert_eq!(code, 0, "{plan}{err}");
    assert!(plan.contains("service openbao: create platform-infrastructure-openbao-1 (ops-test/busybox:1, after nats healthy)"), "{plan}");
    assert_eq!(lab_containers(), "", "the plan started containers");

    let (code, out, err) = ops(&["run", start], Some(secret));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("platform up: 3 + 3 + 3 + 3 containers created"),
        "{out}"
    );
    // Stacks in their start order, each healthy before the next one starts.
    let pos = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing:\n{out}"))
    };
    assert!(pos("openbao is healthy") < pos("zitadel: created"));
    assert!(pos("oauth2-proxy is healthy") < pos("prometheus: created"));
    assert!(pos("grafana is healthy") < pos("norns-agent: created"));
    assert!(
        !out.contains(secret) && !err.contains(secret),
        "the secret leaked"
    );
    let env = docker(&[
        "inspect",
        "-f",
        "{{.Config.Env}}",
        "platform-langgraph-hlidskjalf-ui-1",
    ]);
    assert!(
        env.contains(&format!("NORNS_SESSION_SECRET={secret}")),
        "{env}"
    );

    // A second bring-up changes nothing.
    let (code, out, err) = ops(&["run", start], Some(secret));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("platform up: 0 + 0 + 0 + 0 containers created"),
        "{out}"
    );

    let (code, out, err) = ops(&["run", stop], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("platform down: 3 + 3 + 3 + 3 containers removed"),
        "{out}"
    );
    assert_eq!(lab_containers(), "");
    assert!(!docker(&["network", "ls", "--format", "{{.Name}}"]).contains("lab_platform"));
}

/// Like `terraform apply PLAN`: a saved plan runs while the engine is as planned, and is
/// refused (OPS3024) once the stack changed under it.
#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn a_saved_plan_is_refused_once_the_stack_changed() {
    let stack = Stack::new(
        "opssaved",
        &format!("services:\n  app:\n    image: {IMAGE}\n    init: true\n    command: sleep 600\n"),
    );
    let runbook = stack.dir.path().join("up.rb.ops");
    std::fs::write(
        &runbook,
        format!(
            "runbook \"saved\" {{\n  title = \"saved\"\n  owner = \"qa\"\n}}\n\ncompose up \"{}\" {{\n  project = \"opssaved\"\n}}\n",
            stack.file().display()
        ),
    )
    .expect("write runbook");
    let plan = stack.dir.path().join("plan.json");
    let ops = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ops"))
            .args(args)
            .env("DOCKER_HOST", engine())
            .env("NO_COLOR", "1")
            .output()
            .expect("ops runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (rb, pl) = (
        runbook.to_str().expect("utf-8"),
        plan.to_str().expect("utf-8"),
    );
    let (code, _, err) = ops(&["plan", rb, "-o", pl]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = ops(&["run", "--plan", pl]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(stack.containers(), ["opssaved-app-1"]);
    // The plan said "create"; the container exists now: the saved plan is stale.
    let (code, _, err) = ops(&["run", "--plan", pl]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("OPS3024"), "{err}");
}

/// Secrets interpolated into a compose file: the plan (every format, `-o`, `--preflight`),
/// the run's preflight and its errors say `${NAME}`, never the value; a container that
/// prints a secret (raw or base64) has it redacted in the failure message.
#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn secrets_in_a_compose_file_never_print() {
    use base64::Engine as _;
    let token = "S3cret-tok3n-v4lue";
    let pass = "Pa55w0rd-v4lue";
    let api = "ap1-t0ken-v4lue";
    let env = [
        ("REG_TOKEN", token),
        ("DB_PASSWORD", pass),
        ("API_TOKEN", api),
    ];
    let b64 = base64::engine::general_purpose::STANDARD;
    let leaks = |text: &str| {
        [token, pass, api]
            .iter()
            .flat_map(|s| [s.to_string(), b64.encode(s), b64.encode(format!("{s}\n"))])
            .find(|form| text.contains(form.trim_end_matches('=')))
    };
    let body = "secret REG_TOKEN\nsecret DB_PASSWORD\ncompose up \"FILE\" {\n  project = \"PROJECT\"\n  pull = never\n}\n";
    let stack = Stack::new(
        "opssecret",
        "services:\n  web:\n    image: \"registry.local/${REG_TOKEN}/busybox:latest\"\n    environment:\n      KEY: \"${API_TOKEN}\"\n",
    );
    let saved = stack.dir.path().join("plan.json");
    let saved = saved.to_str().expect("utf-8");
    let mut shown = Vec::new();
    for args in [
        vec!["plan"],
        vec!["plan", "--format", "json"],
        vec!["plan", "--format", "md"],
        vec!["plan", "-o", saved],
        vec!["plan", "--preflight"],
        vec!["run"],
    ] {
        let (_, out, err) = stack.run_with(body, &args, &env);
        shown.push((format!("{args:?}"), out + &err));
    }
    shown.push((
        "saved plan".into(),
        std::fs::read_to_string(saved).expect("saved"),
    ));
    for (what, text) in &shown {
        assert!(
            leaks(text).is_none(),
            "{what} leaks {:?}:\n{text}",
            leaks(text)
        );
    }
    assert!(
        shown[0]
            .1
            .contains("registry.local/${REG_TOKEN}/busybox:latest"),
        "{}",
        shown[0].1
    );

    // An invalid value built from a secret: the error names the variable.
    stack.write("services:\n  web:\n    image: busybox\n    ports: [\"${DB_PASSWORD}:80\"]\n");
    let (code, out, err) = stack.run_with(body, &["plan"], &env);
    assert_eq!(code, 3, "{out}{err}");
    let text = out + &err;
    assert!(leaks(&text).is_none(), "{text}");
    assert!(text.contains("${DB_PASSWORD}"), "{text}");

    // A container that prints the secret and exits: its last output is redacted.
    stack.write(&format!(
        "services:\n  leaky:\n    image: {IMAGE}\n    command: [\"sh\", \"-c\", \"echo token=$$TOKEN; echo $$TOKEN | base64; exit 1\"]\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 30s\n    environment:\n      TOKEN: \"${{DB_PASSWORD}}\"\n"
    ));
    let (code, out, err) = stack.run_with(
        "secret DB_PASSWORD\ncompose up \"FILE\" {\n  project = \"PROJECT\"\n  wait = healthy\n  timeout 20s\n}\n",
        &["run"],
        &env,
    );
    assert_eq!(code, 1, "{out}{err}");
    let text = out + &err;
    assert!(
        text.contains("token=${DB_PASSWORD}"),
        "the output is shown, masked: {text}"
    );
    assert!(leaks(&text).is_none(), "{text}");
}

/// The plan of a compose runbook accounts for what its own steps do: a probe of the port
/// `up` publishes is checked after it, a failure handler's `down` lists what `up` leaves,
/// an `up` after a `down` creates everything, and `--preflight` creates nothing.
#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn compose_plans_account_for_earlier_steps_and_preflight_changes_nothing() {
    let port = free_port();
    let stack = Stack::new("ops-world", &platform(port, "hi"));
    let body = format!(
        "compose up \"FILE\" as up {{\n  project = \"PROJECT\"\n  wait = healthy\n  timeout 1m\n}}\nprobe http \"http://localhost:{port}/\" {{\n  timeout 5s\n}}\ncompose down \"FILE\" {{\n  project = \"PROJECT\"\n}}\ncompose up \"FILE\" as again {{\n  project = \"PROJECT\"\n  wait = healthy\n  timeout 1m\n}}\non failure {{\n  compose down \"FILE\" {{\n    project = \"PROJECT\"\n  }}\n}}\n"
    );
    let (code, out, err) = stack.run(&body, &["plan", "--preflight"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("later     2 probe http"), "{out}");
    assert!(out.contains("checked after 1 runs"), "{out}");
    // The down after the up removes what the up leaves; the up after the down creates all.
    assert!(
        out.contains("stops and removes 3 containers of project ops-world (as 1 leaves it)"),
        "{out}"
    );
    assert!(
        out.contains("brings up project ops-world (3 to create)"),
        "{out}"
    );
    // The handler may run after any failure: what 1 or 4 leave, as far as it can tell.
    assert!(
        out.contains(
            "stops and removes up to 3 containers of project ops-world: what 4 (if it runs) leaves"
        ),
        "{out}"
    );
    assert!(
        stack.containers().is_empty(),
        "the preflight created {:?}",
        stack.containers()
    );
    // And the run does what the plan says.
    let (_, plan, _) = stack.run(&body, &["plan", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan).expect("json");
    let (code, events, err) = stack.run(&body, &["run", "--format", "json"]);
    assert_eq!(code, 0, "{events}{err}");
    let problems = common::fidelity::plan_vs_run(&plan, &events);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(stack.containers().len(), 3);
}
