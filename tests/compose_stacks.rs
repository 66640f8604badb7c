//! `compose` secrets, replicas, builds and composed projects against a real Docker engine.

mod common;
mod services;
mod stack;

use stack::*;

#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn secrets_reach_only_the_container_and_a_new_value_recreates_it() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (file_value, env_value, new_value) =
        ("f1le-s3cret-v4lue", "env-s3cret-v4lue", "n3w-s3cret-v4lue");
    let leaks = |text: &str| {
        [file_value, env_value, new_value]
            .iter()
            .flat_map(|s| [s.to_string(), b64.encode(s), b64.encode(format!("{s}\n"))])
            .find(|form| text.contains(form.trim_end_matches('=')))
    };
    let yaml = format!(
        r#"services:
  app:
    image: {IMAGE}
    init: true
    command: sleep 600
    secrets:
      - db_password
      - source: api_token
        target: api
        uid: "1000"
        gid: "1000"
        mode: "0400"
    configs:
      - source: app_conf
        target: /etc/app.conf
secrets:
  db_password:
    file: ./db_password.txt
  api_token:
    environment: APP_API_TOKEN
configs:
  app_conf:
    content: "listen 8080"
"#
    );
    let stack = Stack::new("opscomposesecrets", &yaml);
    std::fs::write(
        stack.dir.path().join("db_password.txt"),
        format!("{file_value}\n"),
    )
    .expect("secret file");
    let mut shown = Vec::new();
    for args in [vec!["plan"], vec!["plan", "--format", "json"], vec!["run"]] {
        let (code, out, err) = stack.run_with(UP, &args, &[("APP_API_TOKEN", env_value)]);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        shown.push(out + &err);
    }
    // In the container: the file secret bind-mounted read-only, the environment secret
    // copied with its owner and mode, the config with its content.
    assert_eq!(
        stack.exec("app", "cat /run/secrets/db_password").1,
        file_value
    );
    let (code, _) = stack.exec("app", "echo x > /run/secrets/db_password");
    assert_ne!(code, 0, "the file secret is writable");
    assert_eq!(stack.exec("app", "cat /run/secrets/api").1, env_value);
    assert_eq!(
        stack.exec("app", "stat -c '%a %u %g' /run/secrets/api").1,
        "400 1000 1000"
    );
    assert_eq!(stack.exec("app", "cat /etc/app.conf").1, "listen 8080");
    // Nothing the engine keeps of the container's configuration shows a value.
    let config = stack.inspect("app", "{{json .Config}} {{json .HostConfig}}");
    assert!(leaks(&config).is_none(), "{config}");

    // Unchanged: kept. A new environment value: recreated, and the plan says why.
    let (code, out, err) = stack.run_with(UP, &["run"], &[("APP_API_TOKEN", env_value)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=0 recreated=0 kept=1"), "{out}");
    shown.push(out + &err);
    let (code, plan, err) = stack.run_with(UP, &["plan"], &[("APP_API_TOKEN", new_value)]);
    assert_eq!(code, 0, "{plan}{err}");
    assert!(
        plan.contains("recreate opscomposesecrets-app-1: secrets changed"),
        "{plan}"
    );
    shown.push(plan + &err);
    let (code, out, err) = stack.run_with(UP, &["run"], &[("APP_API_TOKEN", new_value)]);
    assert_eq!(code, 0, "{out}{err}");
    shown.push(out + &err);
    assert_eq!(stack.exec("app", "cat /run/secrets/api").1, new_value);
    for text in &shown {
        assert!(leaks(text).is_none(), "leaks {:?}:\n{text}", leaks(text));
    }

    // A container that prints its secrets and fails: its last output is redacted.
    stack.write(&yaml.replace("command: sleep 600", "command: [\"sh\", \"-c\", \"cat /run/secrets/db_password /run/secrets/api; base64 /run/secrets/api; exit 1\"]\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 30s"));
    let (code, out, err) = stack.run_with(UP, &["run"], &[("APP_API_TOKEN", new_value)]);
    assert_eq!(code, 1, "{out}{err}");
    let text = out + &err;
    assert!(
        text.contains("${secret:db_password}"),
        "the output is shown, masked: {text}"
    );
    assert!(leaks(&text).is_none(), "{text}");
}

fn replicas_stack(scale: u32) -> String {
    format!(
        "services:\n  web:\n    image: {IMAGE}\n    init: true\n    command: sleep 600\n    scale: {scale}\n  db:\n    image: {IMAGE}\n    init: true\n    command: sleep 600\n"
    )
}

#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn three_replicas_scale_to_one_and_docker_compose_v1_still_sees_them() {
    let stack = Stack::new("opsscale", &replicas_stack(3));
    let up = "compose up \"FILE\" as up {\n  project = \"PROJECT\"\n  timeout 1m\n}\nnotify stdout \"created=${up.created} kept=${up.kept} removed=${up.removed}\"\n";
    let (code, plan, err) = stack.run(up, &["plan"]);
    assert_eq!(code, 0, "{plan}{err}");
    for n in 1..=3 {
        assert!(
            plan.contains(&format!("service web: create opsscale-web-{n}")),
            "{plan}"
        );
    }
    let (code, out, err) = stack.run(up, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=4 kept=0 removed=0"), "{out}");
    assert_eq!(
        stack.containers(),
        [
            "opsscale-db-1",
            "opsscale-web-1",
            "opsscale-web-2",
            "opsscale-web-3"
        ]
    );
    assert_eq!(
        docker(&[
            "inspect",
            "-f",
            "{{index .Config.Labels \"com.docker.compose.container-number\"}}",
            "opsscale-web-3"
        ]),
        "3"
    );
    // The replicas answer to the service's name on the project network.
    let (code, ping) = stack.exec("db", "ping -c1 -W2 web");
    assert_eq!(code, 0, "{ping}");
    let (code, out, err) = stack.run(up, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=0 kept=4 removed=0"), "{out}");
    // docker-compose v1 lists the replicas as the project's.
    let ps = std::process::Command::new("docker-compose")
        .args(["-p", "opsscale", "-f"])
        .arg(stack.file())
        .args(["ps", "-q", "web"])
        .env("DOCKER_HOST", engine())
        .output()
        .expect("docker-compose ps");
    assert_eq!(
        String::from_utf8_lossy(&ps.stdout).lines().count(),
        3,
        "{ps:?}"
    );

    // Scaled to one: the plan lists what goes, the run removes it, the rest is kept.
    let first = stack.id("web");
    stack.write(&replicas_stack(1));
    let (code, plan, _) = stack.run(up, &["plan"]);
    assert_eq!(code, 0);
    assert!(
        plan.contains("service web: stop and remove opsscale-web-3 (scaled to 1)"),
        "{plan}"
    );
    assert!(
        plan.contains("service web: stop and remove opsscale-web-2 (scaled to 1)"),
        "{plan}"
    );
    assert!(plan.contains("service web: keep opsscale-web-1"), "{plan}");
    let (code, out, err) = stack.run(up, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=0 kept=2 removed=2"), "{out}");
    assert_eq!(stack.containers(), ["opsscale-db-1", "opsscale-web-1"]);
    assert_eq!(first, stack.id("web"));
    let (code, out, err) = stack.run(up, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=0 kept=2 removed=0"), "{out}");
}

#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn build_from_a_context_rebuilds_only_when_it_changes_and_names_the_failing_step() {
    let stack = Stack::new(
        "opsbuild",
        "services:\n  web:\n    init: true\n    build:\n      context: ./web\n      args:\n        GREETING: hello\n  tool:\n    init: true\n    image: opsbuild/tool:dev\n    build:\n      context: ./web\n      dockerfile_inline: |\n        FROM ops-test/busybox:1\n        CMD [\"sleep\", \"600\"]\n",
    );
    docker(&["image", "rm", "-f", "opsbuild-web", "opsbuild/tool:dev"]);
    let web = stack.dir.path().join("web");
    std::fs::create_dir_all(web.join("app")).expect("mkdir");
    std::fs::write(
        web.join("Dockerfile"),
        format!("FROM {IMAGE}\nARG GREETING\nCOPY . /src/\nRUN echo built-$GREETING > /built\nCMD [\"sleep\", \"600\"]\n"),
    )
    .expect("Dockerfile");
    std::fs::write(web.join("app/main.sh"), "echo one\n").expect("write");
    std::fs::write(web.join("app/debug.log"), "noise\n").expect("write");
    std::fs::write(web.join(".dockerignore"), "**/*.log\n").expect("dockerignore");
    let up = "compose up \"FILE\" as up {\n  project = \"PROJECT\"\n  timeout 2m\n}\nnotify stdout \"created=${up.created} recreated=${up.recreated} kept=${up.kept}\"\n";
    let ctx = web.display().to_string();
    let (code, plan, err) = stack.run(up, &["plan"]);
    assert_eq!(code, 0, "{plan}{err}");
    assert!(
        plan.contains(&format!(
            "image opsbuild-web: build from {ctx} (image missing)"
        )),
        "{plan}"
    );
    assert!(
        plan.contains("image opsbuild/tool:dev: build from"),
        "{plan}"
    );
    let (code, out, err) = stack.run(up, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("web: building opsbuild-web from"), "{out}");
    assert!(
        out.contains(" : FROM ops-test/busybox:1"),
        "the build output streams: {out}"
    );
    assert_eq!(stack.exec("web", "cat /built").1, "built-hello");
    assert_eq!(stack.exec("web", "cat /src/app/main.sh").1, "echo one");
    let (code, _) = stack.exec("web", "test -e /src/app/debug.log");
    assert_ne!(code, 0, ".dockerignore was not honoured");
    let hash = docker(&[
        "image",
        "inspect",
        "-f",
        "{{index .Config.Labels \"dev.ops.compose.build-hash\"}}",
        "opsbuild-web",
    ]);
    assert_eq!(hash.len(), 64, "the build hash label: {hash}");

    // Unchanged, or only an ignored file changed: up to date, kept.
    std::fs::write(web.join("app/debug.log"), "more noise\n").expect("write");
    let (code, plan, _) = stack.run(up, &["plan"]);
    assert_eq!(code, 0);
    assert!(
        plan.contains(&format!("image opsbuild-web: build from {ctx}: up to date")),
        "{plan}"
    );
    let (code, out, err) = stack.run(up, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=0 recreated=0 kept=2"), "{out}");
    assert!(!out.contains("building"), "{out}");

    // A changed file: rebuilt, and the container recreated; the plan says both.
    std::fs::write(web.join("app/main.sh"), "echo two\n").expect("write");
    let (code, plan, _) = stack.run(up, &["plan"]);
    assert_eq!(code, 0);
    assert!(
        plan.contains("image opsbuild-web: build from") && plan.contains("(context changed)"),
        "{plan}"
    );
    assert!(plan.contains("service web: recreate opsbuild-web-1: image opsbuild-web is rebuilt (kept if nothing it runs changes)"), "{plan}");
    // tool shares the context: it is rebuilt too, but nothing it runs changed, so its
    // container is kept.
    let tool = stack.id("tool");
    let (code, out, err) = stack.run(up, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=0 recreated=1 kept=1"), "{out}");
    assert_eq!(tool, stack.id("tool"));
    assert_eq!(stack.exec("web", "cat /src/app/main.sh").1, "echo two");
    // build = never keeps the image it has, and the plan says it is out of date.
    std::fs::write(web.join("app/main.sh"), "echo three\n").expect("write");
    let never = up.replace("  timeout 2m\n", "  timeout 2m\n  build = never\n");
    let (code, plan, _) = stack.run(&never, &["plan"]);
    assert_eq!(code, 0);
    assert!(
        plan.contains("image opsbuild-web: context changed, kept (build = never)"),
        "{plan}"
    );

    // A failing instruction: the step names it and what it returned.
    std::fs::write(
        web.join("Dockerfile"),
        format!("FROM {IMAGE}\nRUN echo about to fail && false\n"),
    )
    .expect("Dockerfile");
    let (code, out, err) = stack.run(up, &["run"]);
    assert_eq!(code, 1, "{out}{err}");
    let all = format!("{out}{err}");
    assert!(all.contains("cannot build image opsbuild-web"), "{all}");
    assert!(
        all.contains("(at Step 2/") && all.contains(" : RUN echo about to fail && false)"),
        "{all}"
    );
    assert!(
        all.contains("about to fail"),
        "the output before the failure is shown: {all}"
    );
    docker(&["image", "rm", "-f", "opsbuild-web", "opsbuild/tool:dev"]);
}

/// Every family at once: a build, a secret, capabilities and limits, a tmpfs, a shared
/// network namespace, a static address, replicas, `extends` from another file, an
/// `include`, and an override file merged over the first.
#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn a_stack_of_every_family_comes_up_stays_up_and_comes_down() {
    let stack = Stack::new(
        "opsevery",
        &format!(
            r#"include:
  - shared/cache.yml
services:
  app:
    build: ./app
    init: true
    cap_drop: [ALL]
    cap_add: [NET_BIND_SERVICE]
    ulimits: {{nofile: 2048}}
    tmpfs: [/scratch]
    mem_limit: 64m
    secrets: [token]
    networks:
      back:
        ipv4_address: 10.213.90.10
  sidecar:
    image: {IMAGE}
    init: true
    command: sleep 600
    network_mode: service:app
  worker:
    extends:
      file: shared/base.yml
      service: job
    scale: 2
    networks: [back]
secrets:
  token:
    environment: EVERY_TOKEN
networks:
  back:
    ipam:
      config:
        - subnet: 10.213.90.0/24
"#
        ),
    );
    let d = stack.dir.path();
    std::fs::create_dir_all(d.join("app")).expect("mkdir");
    std::fs::create_dir_all(d.join("shared")).expect("mkdir");
    std::fs::write(
        d.join("app/Dockerfile"),
        format!("FROM {IMAGE}\nCMD [\"sleep\", \"600\"]\n"),
    )
    .expect("Dockerfile");
    std::fs::write(
        d.join("shared/base.yml"),
        format!("services:\n  job:\n    image: {IMAGE}\n    init: true\n    command: sleep 600\n    environment: {{ROLE: worker}}\n"),
    )
    .expect("base");
    std::fs::write(
        d.join("shared/cache.yml"),
        format!(
            "services:\n  cache:\n    image: {IMAGE}\n    init: true\n    command: sleep 600\n"
        ),
    )
    .expect("include");
    std::fs::write(
        d.join("override.yml"),
        "services:\n  worker:\n    environment: {LEVEL: debug}\n",
    )
    .expect("override");
    let override_file = d.join("override.yml").display().to_string();
    let up = format!(
        "compose up \"FILE\" as up {{\n  project = \"PROJECT\"\n  files = [\"{override_file}\"]\n  timeout 2m\n}}\nnotify stdout \"created=${{up.created}} recreated=${{up.recreated}} kept=${{up.kept}}\"\n"
    );
    let env = [("EVERY_TOKEN", "ev3ry-t0ken-value")];
    let (code, out, err) = stack.run_with(&up, &["run"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=5 recreated=0 kept=0"), "{out}");
    assert_eq!(
        stack.containers(),
        [
            "opsevery-app-1",
            "opsevery-cache-1",
            "opsevery-sidecar-1",
            "opsevery-worker-1",
            "opsevery-worker-2"
        ]
    );
    assert_eq!(
        stack.exec("app", "cat /run/secrets/token").1,
        "ev3ry-t0ken-value"
    );
    assert_eq!(stack.open_files("app").split(' ').next(), Some("2048"));
    assert!(stack.exec("app", "ip -4 addr").1.contains("10.213.90.10"));
    assert_eq!(
        stack.exec("app", "readlink /proc/self/ns/net").1,
        stack.exec("sidecar", "readlink /proc/self/ns/net").1
    );
    // extends and the override file, merged.
    let worker_env = docker(&["inspect", "-f", "{{json .Config.Env}}", "opsevery-worker-2"]);
    assert!(
        worker_env.contains("ROLE=worker") && worker_env.contains("LEVEL=debug"),
        "{worker_env}"
    );
    assert!(!out.contains("ev3ry-t0ken-value"), "{out}");

    let (code, out, err) = stack.run_with(&up, &["run"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("created=0 recreated=0 kept=5"),
        "not idempotent: {out}"
    );

    let down = format!(
        "compose down \"FILE\" {{\n  project = \"PROJECT\"\n  files = [\"{override_file}\"]\n}}\n"
    );
    let (code, out, err) = stack.run_with(&down, &["run"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(stack.containers().is_empty());
    assert_eq!(stack.networks(), "");
    docker(&["image", "rm", "-f", "opsevery-app"]);
}
