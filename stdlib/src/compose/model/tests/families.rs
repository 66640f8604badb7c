//! The key families added for real stacks: settings, networks, secrets, replicas,
//! composition.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::*;

#[test]
fn container_settings_are_read_in_every_form() {
    let p = load_text(
        r#"
services:
  db:
    image: x
  app:
    image: x
    cap_add: [net_admin, CAP_SYS_TIME]
    cap_drop: [ALL]
    privileged: false
    security_opt: ["no-new-privileges:true"]
    sysctls: {net.core.somaxconn: 1024}
    ulimits:
      nproc: 65535
      nofile: {soft: 1024, hard: 2048}
    tmpfs: ["/run:size=64m", /tmp]
    shm_size: 64m
    read_only: true
    devices: ["/dev/null:/dev/nothing:r"]
    pid: service:db
    ipc: shareable
    logging: {driver: local, options: {max-size: 10m}}
    mem_limit: 1.5g
    cpus: "0.5"
    pids_limit: 100
    oom_score_adj: -500
    platform: linux/amd64
    stdin_open: true
    tty: true
    group_add: [audio]
    dns: 127.0.0.53
    dns_search: [example.internal]
    deploy:
      resources:
        limits: {memory: 1536m, pids: 100}
        reservations: {memory: 256m, cpus: "0.25"}
      restart_policy: {condition: on-failure, max_attempts: 3, delay: 5s}
      placement: {constraints: ["node.role == manager"]}
  side:
    image: x
    network_mode: service:app
"#,
        &[],
        &[],
    )
    .expect("valid");
    let app = &p.services["app"].settings;
    assert_eq!(app.cap_add, ["NET_ADMIN", "CAP_SYS_TIME"]);
    assert_eq!(app.ulimits["nproc"], (65535, 65535));
    assert_eq!(app.ulimits["nofile"], (1024, 2048));
    assert_eq!(app.tmpfs["/run"], "size=64m");
    assert_eq!(app.tmpfs["/tmp"], "");
    assert_eq!(app.shm_size, Some(64 << 20));
    assert_eq!(app.mem_limit, Some(1536 << 20), "both forms agree");
    assert_eq!(app.mem_reservation, Some(256 << 20));
    assert_eq!(app.cpus, Some(500_000_000));
    assert_eq!(
        app.devices,
        [("/dev/null".into(), "/dev/nothing".into(), "r".into())]
    );
    assert_eq!(app.logging.as_ref().map(|l| l.0.as_str()), Some("local"));
    assert_eq!(app.dns, ["127.0.0.53"]);
    assert_eq!(p.services["app"].restart.as_deref(), Some("on-failure:3"));
    // Shared namespaces are implied dependencies, and start first.
    assert_eq!(
        p.services["app"].depends_on["db"],
        Condition::ServiceStarted
    );
    assert_eq!(
        p.services["side"].depends_on["app"],
        Condition::ServiceStarted
    );
    assert!(p.services["side"].networks.is_empty());
    let order = order(&p.services, vec!["side".into()]).expect("no cycle");
    assert_eq!(order, ["db", "app", "side"]);
    // What one engine does not act on is a warning, never silence.
    let notes = p.notes.join("\n");
    assert!(
        notes.contains("reservations` `cpus` is not enforced"),
        "{notes}"
    );
    assert!(notes.contains("`delay` is ignored"), "{notes}");
    assert!(notes.contains("`placement` is ignored"), "{notes}");
    // New keys are named in the reason for a recreate.
    let hashes = p.services["app"].field_hashes();
    for field in ["cap_add", "ulimits", "tmpfs", "mem_limit", "pid", "logging"] {
        assert!(hashes.contains_key(field), "{field}: {hashes:?}");
    }
    assert_eq!(parse_bytes("2048k"), Some(2 << 20));
    assert_eq!(parse_bytes("1GB"), Some(1 << 30));
    assert_eq!(parse_bytes("12"), Some(12));
    assert_eq!(parse_bytes("12x"), None);
    assert_eq!(parse_bytes("-1"), None);
}

#[test]
fn bad_container_settings_are_reported_at_their_value() {
    let errors = load_text(
        r#"
services:
  a:
    image: x
    cap_add: [net-admin]
    ulimits: {nofile: {soft: 10, hard: 5}, core: {soft: 1}}
    shm_size: lots
    cpus: two
    oom_score_adj: 5000
    pid: vm
    devices: ["nvidia.com/gpu=all"]
    platform: amd64
    mem_limit: 1g
    deploy:
      replicas: 3
      resources: {limits: {memory: 2g}, reservations: {devices: []}}
      restart_policy: {condition: sometimes}
    network_mode: host
    ports: ["8080:80"]
  b:
    image: x
    network_mode: service:b
  c:
    image: x
    network_mode: service:a
    hostname: c
    networks: [default]
"#,
        &[],
        &[],
    )
    .expect_err("invalid");
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = all.join("\n");
    for (line, text) in [
        (5, "`net-admin` is not a capability name"),
        (6, "the soft limit 10 is above the hard limit 5"),
        (6, "needs both `soft` and `hard`"),
        (7, "`lots` is not a size"),
        (8, "`two` is not a number of CPUs"),
        (9, "must be a whole number from -1000 to 1000, not 5000"),
        (10, "`vm` is not one of host, container:NAME, service:NAME"),
        (11, "CDI device names are not supported"),
        (12, "`amd64` is not OS/ARCH[/VARIANT]"),
        (
            15,
            "has 3 replicas and publishes host port 8080: only one container can have it",
        ),
        (16, "contradicts `mem_limit`"),
        (16, "device reservations (GPUs) are not supported"),
        (
            17,
            "condition `sometimes` is not one of none, on-failure, any",
        ),
        (19, "`ports` cannot be set with network_mode `host`"),
        (22, "cannot share a namespace or volumes with itself"),
        (26, "`hostname` cannot be set with network_mode `service:a`"),
        (27, "has both `network_mode` and `networks`"),
    ] {
        assert!(
            errors
                .iter()
                .any(|e| e.pos.line == line && e.message.contains(text)),
            "line {line}: {text}\n{all}"
        );
    }
}

#[test]
fn networks_with_ipam_and_static_addresses() {
    let p = load_text(
        r#"
services:
  app:
    image: x
    networks:
      back:
        ipv4_address: 172.30.5.10
        ipv6_address: "fd00:5::10"
      front:
        priority: 10
        aliases: [www]
networks:
  front: {}
  back:
    enable_ipv6: true
    driver_opts: {com.docker.network.bridge.name: opsback0}
    ipam:
      config:
        - subnet: 172.30.0.0/16
          ip_range: 172.30.5.0/24
          gateway: 172.30.0.1
        - subnet: "fd00:5::/64"
"#,
        &[],
        &[],
    )
    .expect("valid");
    let back = &p.networks["back"];
    assert_eq!(back.ipam.pools.len(), 2);
    assert_eq!(back.ipam.pools[0].gateway.as_deref(), Some("172.30.0.1"));
    assert_eq!(back.enable_ipv6, Some(true));
    let app = &p.services["app"];
    assert_eq!(
        app.networks["back"].ipv4_address.as_deref(),
        Some("172.30.5.10")
    );
    // The highest priority is the network the container is created on.
    let order: Vec<&str> = app.attachments().iter().map(|(n, _)| *n).collect();
    assert_eq!(order, ["front", "back"]);
    let endpoint = crate::compose::body::endpoint("app", &app.networks["back"]);
    let ipam = endpoint.ipam_config.expect("static addresses");
    assert_eq!(ipam.ipv4_address.as_deref(), Some("172.30.5.10"));
    assert_eq!(endpoint.aliases.expect("aliases"), ["app"]);
    // An existing network with other subnets cannot serve the file.
    let drift = actions::subnet_drift(back, &[String::from("10.0.0.0/8")]).expect("drift");
    assert!(
        drift.contains("exists with subnets [10.0.0.0/8]"),
        "{drift}"
    );
    let same = [String::from("fd00:5::/64"), String::from("172.30.0.0/16")];
    assert_eq!(actions::subnet_drift(back, &same), None);

    let errors = load_text(
        "services:\n  a:\n    image: x\n    networks:\n      n:\n        ipv4_address: 10.9.0.5\n      m:\n        ipv4_address: 10.1.0.5\n      o:\n        ipv4_address: fd00::1\n        speed: fast\nnetworks:\n  n:\n    ipam:\n      config:\n        - subnet: 10.1.0.0/16\n          gateway: 10.2.0.1\n          ip_range: 10.3.0.0/24\n        - subnet: 10.1.0.0/33\n  m: {}\n  o: {}\n",
        &[],
        &[],
    )
    .expect_err("invalid");
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = all.join("\n");
    for (line, text) in [
        (
            6,
            "10.9.0.5 is outside the subnets of network `n` (10.1.0.0/16)",
        ),
        (8, "a static address needs a subnet"),
        (10, "`fd00::1` is not an IPv4 address"),
        (11, "unsupported key `speed`"),
        (16, "gateway `10.2.0.1` is not an address in 10.1.0.0/16"),
        (
            16,
            "ip_range `10.3.0.0/24` is not a range inside 10.1.0.0/16",
        ),
        (19, "`10.1.0.0/33` is not a subnet"),
    ] {
        assert!(
            errors
                .iter()
                .any(|e| e.pos.line == line && e.message.contains(text)),
            "line {line}: {text}\n{all}"
        );
    }
    assert!(contains(
        parse_cidr("10.0.0.0/8").expect("cidr"),
        "10.255.0.1".parse().expect("ip")
    ));
    assert!(!contains(
        parse_cidr("10.0.0.0/8").expect("cidr"),
        "11.0.0.1".parse().expect("ip")
    ));
    assert!(contains(
        parse_cidr("0.0.0.0/0").expect("cidr"),
        "11.0.0.1".parse().expect("ip")
    ));
}

#[test]
fn secrets_and_configs_are_granted_without_showing_their_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("stack").join("docker-compose.yml");
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(file.with_file_name("db.txt"), "file-secret-value\n").expect("secret file");
    let yaml = r#"
services:
  app:
    image: x
    secrets:
      - db
      - source: token
        target: api
        uid: "1000"
        mode: "0400"
    configs:
      - source: conf
        target: /etc/app.conf
secrets:
  db: {file: ./db.txt}
  token: {environment: API_TOKEN_VALUE}
configs:
  conf: {content: "listen 8080\n"}
"#;
    std::fs::write(&file, yaml).expect("write");
    let load_with = |token: &str| {
        let token = token.to_string();
        let env = move |k: &str| (k == "API_TOKEN_VALUE").then(|| token.clone());
        load(
            &file,
            &LoadOptions {
                project: Some("p"),
                profiles: &[],
                env_file: None,
                env: &env,
                strict: true,
                sensitive: &|_: &str, _: &str| false,
                files: &[],
            },
        )
        .expect("valid")
    };
    let p = load_with("tok-123456");
    let app = &p.services["app"];
    assert_eq!(app.secrets[0].target, "/run/secrets/db");
    assert!(
        app.secrets[0]
            .file
            .as_deref()
            .is_some_and(|f| f.ends_with("/stack/db.txt"))
    );
    assert_eq!(app.secrets[1].target, "/run/secrets/api");
    assert_eq!(
        (app.secrets[1].uid.as_deref(), app.secrets[1].mode),
        (Some("1000"), Some(0o400))
    );
    assert_eq!(app.configs[0].target, "/etc/app.conf");
    // The values are redacted from what a run prints, and never in the hash or Debug.
    let masked = p.masks.apply("db=file-secret-value token=tok-123456");
    assert_eq!(masked, "db=${secret:db} token=${secret:token}");
    let json = serde_json::to_string(app).expect("json");
    assert!(
        !json.contains("tok-123456") && !json.contains("file-secret-value"),
        "{json}"
    );
    assert!(!format!("{app:?}").contains("tok-123456"));
    // A new value changes the hash (the container is recreated); the digest is salted.
    let q = load_with("tok-654321");
    assert_ne!(app.config_hash(), q.services["app"].config_hash());
    assert!(actions_changed(app, &q.services["app"]).contains("secrets"));
    let digest = app.secrets[1].digest.clone().expect("digest");
    let plain = hex(&Sha256::digest(b"tok-123456"));
    assert_ne!(digest, plain, "an unsalted digest of the value");
    // The archive copied into the container holds the file with its owner and mode.
    let tar = crate::compose::body::copied_files(app)
        .expect("tar")
        .expect("some");
    let mut archive = tar::Archive::new(&tar[..]);
    let entries: Vec<(String, u32, u64)> = archive
        .entries()
        .expect("entries")
        .map(|e| {
            let e = e.expect("entry");
            let h = e.header();
            (
                e.path().expect("path").display().to_string(),
                h.mode().expect("mode"),
                h.uid().expect("uid"),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (String::from("run/secrets/api"), 0o400, 1000),
            (String::from("etc/app.conf"), 0o444, 0)
        ]
    );

    let errors = load_text(
        "services:\n  a:\n    image: x\n    secrets: [nope, s, {source: s, uid: root}]\nsecrets:\n  s: {environment: UNSET_VARIABLE_X}\n  t: {external: true}\n  u: {}\n",
        &[],
        &[],
    )
    .expect_err("invalid");
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = all.join("\n");
    for (line, text) in [
        (4, "secret `nope` is not declared"),
        (4, "`root` is not a numeric id"),
        (6, "the variable UNSET_VARIABLE_X is not set"),
        (7, "need Swarm"),
        (8, "needs a source"),
    ] {
        assert!(
            errors
                .iter()
                .any(|e| e.pos.line == line && e.message.contains(text)),
            "line {line}: {text}\n{all}"
        );
    }
}

/// What `decide` says changed between two versions of a service.
fn actions_changed(old: &Service, new: &Service) -> String {
    let c = existing("app", old, "running");
    let mut project = load_text("services:\n  app:\n    image: x\n", &[], &[]).expect("valid");
    project.services.insert(String::from("app"), new.clone());
    let d = actions::decide(&project, &[String::from("app")], &[c], &HashMap::new());
    format!("{:?}", d[0].action)
}

#[test]
fn replicas_scale_up_and_down_and_levels_start_together() {
    let p = load_text(
        "services:\n  db:\n    image: x\n  cache:\n    image: x\n  web:\n    image: x\n    scale: 3\n    ports: [\"127.0.0.1:9000-9009:80\"]\n    depends_on: [db, cache]\n  worker:\n    image: x\n    deploy: {replicas: 2}\n    depends_on: [db]\n",
        &[],
        &[],
    )
    .expect("valid");
    assert_eq!(
        (p.services["web"].replicas, p.services["worker"].replicas),
        (3, 2)
    );
    let order = order(&p.services, p.services.keys().cloned().collect()).expect("no cycle");
    // db and cache start together, then web and worker.
    assert_eq!(
        actions::levels(&p, &order),
        [vec!["db", "cache"], vec!["web", "worker"]]
    );
    // From nothing: one create per replica, named by number.
    let d = actions::decide(&p, &order, &[], &HashMap::new());
    let web: Vec<u32> = d
        .iter()
        .filter(|d| d.service == "web")
        .map(|d| d.number)
        .collect();
    assert_eq!(web, [1, 2, 3]);
    assert_eq!(actions::replica_name(&p, "web", 3), "stack-web-3");
    // Running with 5 web replicas, the file says 3: two are removed, highest first, and
    // the others are kept (scaling is not a configuration change).
    let svc = &p.services["web"];
    let running: Vec<Existing> = (1..=5)
        .map(|n| Existing {
            number: n,
            id: format!("id-web-{n}"),
            ..existing("web", svc, "running")
        })
        .collect();
    let d = actions::decide(&p, &[String::from("web")], &running, &HashMap::new());
    let got: Vec<(u32, &Action)> = d.iter().map(|d| (d.number, &d.action)).collect();
    let removed = Action::Remove(String::from("scaled to 3"));
    assert_eq!(
        got,
        [
            (1, &Action::Keep),
            (2, &Action::Keep),
            (3, &Action::Keep),
            (5, &removed),
            (4, &removed)
        ]
    );
    let errors = load_text(
        "services:\n  a:\n    image: x\n    container_name: fixed\n    scale: 2\n  b:\n    image: x\n    scale: 2\n    deploy: {replicas: 3}\n",
        &[],
        &[],
    )
    .expect_err("invalid");
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = all.join("\n");
    assert!(
        all.contains(":5:12: service `a` has 2 replicas and a `container_name`"),
        "{all}"
    );
    assert!(
        all.contains("`deploy.replicas` of service `b` (3) contradicts its `scale` (2)"),
        "{all}"
    );
}

#[test]
fn files_merge_in_order_and_extends_and_include_compose_a_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("stack");
    std::fs::create_dir_all(root.join("lib")).expect("mkdir");
    let write = |name: &str, text: &str| std::fs::write(root.join(name), text).expect("write");
    write(
        "docker-compose.yml",
        r#"
include:
  - lib/shared.yml
services:
  base:
    image: x
    environment: [A=1, B=2]
    ports: ["127.0.0.1:8080:80"]
    volumes: ["./data:/data", "/cache"]
    command: ["run", "base"]
  web:
    extends: base
    environment: {B: "20", C: "3"}
    volumes: ["./web:/data"]
  worker:
    extends:
      file: lib/common.yml
      service: job
    command: ["work"]
"#,
    );
    write(
        "override.yml",
        "services:\n  web:\n    ports: [\"127.0.0.1:9090:90\"]\n    command: [\"run\", \"web\"]\n    labels: [team=sre]\n",
    );
    write(
        "lib/common.yml",
        "services:\n  job:\n    image: y\n    env_file: [{path: job.env, format: raw}, {path: missing.env, required: false}]\n    volumes: [\"./conf:/conf:ro\"]\n",
    );
    write(
        "lib/job.env",
        "RAW=\"kept as written\"\n# comment\nURL=${NOT_EXPANDED}\n",
    );
    write(
        "lib/shared.yml",
        "services:\n  cache:\n    image: z\n    volumes: [\"./cache:/var/cache\"]\n",
    );
    let env = |_: &str| None;
    let files = [root.join("override.yml")];
    let p = load(
        &root.join("docker-compose.yml"),
        &LoadOptions {
            project: Some("p"),
            profiles: &[],
            env_file: None,
            env: &env,
            strict: true,
            sensitive: &|_: &str, _: &str| false,
            files: &files,
        },
    )
    .expect("valid");
    let web = &p.services["web"];
    // extends: the base's values, this service's merged over them.
    assert_eq!(web.environment["A"], "1");
    assert_eq!(web.environment["B"], "20");
    assert_eq!(web.environment["C"], "3");
    let targets: Vec<&str> = web.volumes.iter().map(|m| m.target.as_str()).collect();
    assert_eq!(
        targets,
        ["/cache", "/data"],
        "the same target is replaced, not doubled"
    );
    assert!(web.volumes[1].source.ends_with("/stack/web"));
    // The override file: command replaced, ports appended, labels merged.
    assert_eq!(
        web.command.as_deref(),
        Some(&["run".to_string(), "web".to_string()][..])
    );
    let ports: Vec<u16> = web.ports.iter().map(|p| p.target).collect();
    assert_eq!(ports, [80, 90]);
    assert_eq!(web.labels["team"], "sre");
    // extends from another file: its relative paths resolve against that file's dir.
    let worker = &p.services["worker"];
    assert_eq!(worker.image, "y");
    assert!(
        worker.volumes[0].source.ends_with("/stack/lib/conf"),
        "{:?}",
        worker.volumes
    );
    assert_eq!(worker.environment["RAW"], "\"kept as written\"");
    assert_eq!(worker.environment["URL"], "${NOT_EXPANDED}");
    assert_eq!(worker.command.as_deref(), Some(&["work".to_string()][..]));
    // include: the included project's service joins, with its paths.
    assert!(
        p.services["cache"].volumes[0]
            .source
            .ends_with("/stack/lib/cache")
    );

    // Errors point into the file they are in.
    write("lib/shared.yml", "services:\n  web:\n    image: z\n");
    write(
        "lib/common.yml",
        "services:\n  job:\n    image: y\n    ports: [\"x:1\"]\n",
    );
    let err = load(
        &root.join("docker-compose.yml"),
        &LoadOptions {
            project: Some("p"),
            profiles: &[],
            env_file: None,
            env: &env,
            strict: true,
            sensitive: &|_: &str, _: &str| false,
            files: &[],
        },
    )
    .expect_err("invalid");
    let all: Vec<String> = err.iter().map(ToString::to_string).collect();
    let all = all.join("\n");
    assert!(
        all.contains("services `web` of the included file is already defined by the project"),
        "{all}"
    );
    write("lib/shared.yml", "services: {}\n");
    let err = load_at(&root.join("docker-compose.yml")).expect_err("invalid");
    let all: Vec<String> = err.iter().map(ToString::to_string).collect();
    let all = all.join("\n");
    assert!(
        all.contains("lib/common.yml:4:13: `x` in `x:1` is not a port number"),
        "{all}"
    );
    write(
        "docker-compose.yml",
        "services:\n  a:\n    extends: b\n  b:\n    extends: a\n",
    );
    let err = load_at(&root.join("docker-compose.yml")).expect_err("invalid");
    let all: Vec<String> = err.iter().map(ToString::to_string).collect();
    assert!(all.join("\n").contains("is a cycle"), "{all:?}");
}

/// Loads a compose file with no environment, no profiles and project `p`.
fn load_at(file: &std::path::Path) -> Result<Project, Vec<FileError>> {
    load(
        file,
        &LoadOptions {
            project: Some("p"),
            profiles: &[],
            env_file: None,
            env: &|_: &str| None,
            strict: true,
            sensitive: &|_: &str, _: &str| false,
            files: &[],
        },
    )
}

#[test]
fn what_real_files_write_is_read_as_compose_reads_it() {
    // Each of these was refused by an earlier reader in a survey of public stacks.
    let p = load_text(
        "services:\n  a:\n    image: x\n    cap_drop: [all]\n    cap_add: [net_admin]\n    platform: \"${DOCKER_PLATFORM:-}\"\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      retries: \"${RETRIES:-10}\"\n      start_interval: 1s\n    deploy:\n      restart_policy: {condition: unless-stopped}\n    secrets:\n      - source: s\n        mode: 0440\nsecrets:\n  s: {environment: S_VALUE}\n",
        &[("S_VALUE", "v4lue")],
        &[],
    )
    .expect("valid");
    let a = &p.services["a"];
    assert_eq!(a.settings.cap_drop, ["ALL"]);
    assert_eq!(a.settings.cap_add, ["NET_ADMIN"]);
    assert_eq!(a.settings.platform, None, "an empty platform is none");
    let h = a.healthcheck.as_ref().expect("healthcheck");
    assert_eq!(
        (h.retries, h.start_interval),
        (Some(10), Some(1_000_000_000))
    );
    assert_eq!(a.restart.as_deref(), Some("unless-stopped"));
    assert_eq!(a.secrets[0].mode, Some(0o440), "0440 is octal");
    // An external secret is refused once, where it is defined.
    let errors = load_text(
        "services:\n  a:\n    image: x\n    secrets: [pw]\nsecrets:\n  pw: {external: true}\n",
        &[],
        &[],
    )
    .expect_err("swarm");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].message.contains("need Swarm"), "{errors:?}");
}

#[test]
fn label_files_mac_address_attach_and_develop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(dir.path().join("labels.env"), "team=sre\ntier=\"back\"\n").expect("labels");
    std::fs::write(
        &file,
        "services:\n  a:\n    image: x\n    label_file: labels.env\n    labels: {tier: front}\n    mac_address: 02:42:ac:11:00:09\n    networks: {n: {priority: 5}, m: {}}\n    attach: false\n    develop: {watch: [{path: ., action: rebuild}]}\nnetworks:\n  n: {}\n  m: {}\n",
    )
    .expect("write");
    let p = load_at(&file).expect("valid");
    let a = &p.services["a"];
    assert_eq!(a.labels["team"], "sre");
    assert_eq!(a.labels["tier"], "front", "labels win over label_file");
    assert_eq!(
        a.networks["n"].mac_address.as_deref(),
        Some("02:42:ac:11:00:09")
    );
    assert_eq!(a.networks["m"].mac_address, None);
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("`develop` of service `a` is ignored")),
        "{:?}",
        p.notes
    );
}
