use std::collections::HashMap;

use std::time::Duration;

use super::*;
use crate::compose::actions::{self, Action};
use crate::compose::engine::Existing;

fn load_text(
    yaml: &str,
    env: &[(&str, &str)],
    profiles: &[&str],
) -> Result<Project, Vec<FileError>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("stack").join("docker-compose.yml");
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(&file, yaml).expect("write");
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |k: &str| env.get(k).cloned();
    let profiles: Vec<String> = profiles.iter().map(|p| p.to_string()).collect();
    load(
        &file,
        &LoadOptions {
            project: None,
            profiles: &profiles,
            env_file: None,
            env: &lookup,
            strict: true,
            sensitive: &|name: &str, _: &str| crate::compose::yaml::looks_sensitive(name),
        },
    )
}

#[test]
fn reads_every_supported_form() {
    let p = load_text(
        r#"
services:
  web:
    image: "img:${TAG:-1}"
    command: sh -c "echo 'a b'"
    entrypoint: ["/bin/sh"]
    environment:
      - A=1
      - FROM_ENV
    ports:
      - "8080:80"
      - "127.0.0.1:9090:90/udp"
      - target: 70
        published: "7070"
    volumes:
      - data:/data:ro
      - ./conf:/conf
    networks:
      front:
        aliases: [www]
    depends_on:
      db:
        condition: service_healthy
    restart: on-failure:3
    labels: {team: sre}
    stop_grace_period: 1m30s
  db:
    image: img:1
    environment: {B: 2, C: null}
    healthcheck:
      test: wget -q http://127.0.0.1/
      interval: 500ms
      retries: 3
  tools:
    image: img:1
    profiles: [debug]
networks:
  front: {}
volumes:
  data:
"#,
        &[("FROM_ENV", "x"), ("TAG", "")],
        &[],
    )
    .expect("valid");
    assert_eq!(p.name, "stack");
    assert_eq!(p.disabled, ["tools"]);
    let web = &p.services["web"];
    assert_eq!(web.image, "img:1");
    assert_eq!(
        web.command.as_deref(),
        Some(&["sh".to_string(), "-c".into(), "echo 'a b'".into()][..])
    );
    assert_eq!(web.environment["A"], "1");
    assert_eq!(web.environment["FROM_ENV"], "x");
    assert_eq!(web.ports.len(), 3);
    assert_eq!(web.ports[1].host_ip, "127.0.0.1");
    assert_eq!(web.ports[1].protocol, "udp");
    assert_eq!(web.ports[2].published, "7070");
    assert_eq!(web.volumes[0].kind, "volume");
    assert!(web.volumes[0].read_only);
    assert_eq!(web.volumes[1].kind, "bind");
    assert!(
        web.volumes[1].source.ends_with("/stack/conf"),
        "{}",
        web.volumes[1].source
    );
    assert_eq!(web.networks["front"].aliases, ["www"]);
    assert_eq!(web.depends_on["db"], Condition::ServiceHealthy);
    assert_eq!(web.stop_grace_period, Some(90));
    let db = &p.services["db"];
    assert_eq!(db.environment["B"], "2");
    assert!(
        !db.environment.contains_key("C"),
        "an unset pass-through variable stays out"
    );
    let h = db.healthcheck.as_ref().expect("healthcheck");
    assert_eq!(h.test, ["CMD-SHELL", "wget -q http://127.0.0.1/"]);
    assert_eq!(h.interval, Some(500_000_000));
    assert_eq!(p.networks["front"].name, "stack_front");
    assert_eq!(p.networks["default"].name, "stack_default");
    assert_eq!(p.volumes["data"].name, "stack_data");
    let order = order(&p.services, vec!["web".into()]).expect("no cycle");
    assert_eq!(order, ["db", "web"]);
}

#[test]
fn every_problem_is_reported_with_its_position() {
    let errors = load_text(
        "services:\n  a:\n    image: x\n    gpus: all\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n    ports: [\"99999:1\"]\n    healthcheck:\n      retries: -1\nmodels: {}\n",
        &[],
        &[],
    )
    .expect_err("invalid");
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = text.join("\n");
    assert!(
        all.contains(":4:5: unsupported key `gpus` in service `a`"),
        "{all}"
    );
    assert!(
        all.contains(":12:1: unsupported top-level key `models`"),
        "{all}"
    );
    assert!(
        all.contains("`99999` in `99999:1` is not a port number"),
        "{all}"
    );
    assert!(all.contains("retries` must be a whole number"), "{all}");
    assert!(
        all.contains("healthcheck needs `test`") || all.contains("needs `test`"),
        "{all}"
    );
    assert!(all.contains("depends_on has a cycle: a -> b -> a"), "{all}");
    assert!(all.contains("\n  4 |     gpus: all"), "{all}");
}

#[test]
fn required_variables_and_profiles() {
    let yaml =
        "services:\n  a:\n    image: \"x:${V:?set V}\"\n    profiles: [p]\n  b:\n    image: x\n";
    let e = load_text(yaml, &[], &["p"]).expect_err("V unset");
    assert_eq!(e[0].pos.line, 3);
    assert!(
        e[0].message
            .contains("required variable V is not set: set V")
    );
    let p = load_text(yaml, &[("V", "2")], &["p"]).expect("valid");
    assert_eq!(p.services["a"].image, "x:2");
    let p = load_text(yaml, &[("V", "2")], &[]).expect("valid");
    assert!(!p.services.contains_key("a"));
    let e = load_text("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    profiles: [p]\n", &[], &[])
        .expect_err("dependency not enabled");
    assert!(
        e[0].message.contains("which no enabled profile includes"),
        "{e:?}"
    );
}

#[test]
fn durations_and_ports() {
    assert_eq!(
        parse_compose_duration("1m30s"),
        Some(Duration::from_secs(90))
    );
    assert_eq!(
        parse_compose_duration("500ms"),
        Some(Duration::from_millis(500))
    );
    assert_eq!(
        parse_compose_duration("1.5s"),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(parse_compose_duration("10"), Some(Duration::from_secs(10)));
    assert_eq!(parse_compose_duration("ten"), None);
    assert_eq!(parse_compose_duration("5x"), None);
    let p = parse_port("[::1]:8080:80").expect("ipv6");
    assert_eq!(
        (p[0].host_ip.as_str(), p[0].published.as_str(), p[0].target),
        ("::1", "8080", 80)
    );
    let p = parse_port("80").expect("target only");
    assert_eq!((p[0].published.as_str(), p[0].target), ("", 80));
    assert_eq!(parse_port("80/sctp").expect("sctp")[0].protocol, "sctp");
    assert!(parse_port("80/icmp").is_err());
    assert!(parse_port("a:b:c:d").is_err());
    // Ranges: pairwise, a container range on random host ports, or one container port on
    // the first free port of a host range.
    let p = parse_port("127.0.0.1:8000-8002:80-82/udp").expect("range");
    let pairs: Vec<(&str, u16)> = p.iter().map(|p| (p.published.as_str(), p.target)).collect();
    assert_eq!(pairs, [("8000", 80), ("8001", 81), ("8002", 82)]);
    assert!(
        p.iter()
            .all(|p| p.host_ip == "127.0.0.1" && p.protocol == "udp")
    );
    assert_eq!(parse_port("90-91").expect("targets").len(), 2);
    let p = parse_port("9000-9010:80").expect("host range");
    assert_eq!((p.len(), p[0].published.as_str()), (1, "9000-9010"));
    let e = parse_port("8000-8001:80-82").expect_err("lengths");
    assert!(e.contains("not the same length"), "{e}");
    let e = parse_port("82-80").expect_err("descending");
    assert!(e.contains("not an ascending range"), "{e}");
}

#[test]
fn volumes_in_every_form() {
    let p = load_text(
        r#"
services:
  app:
    image: x
    volumes:
      - /cache
      - data:/data:ro,nocopy
      - ./conf:/conf:ro,Z,rshared
      - type: tmpfs
        target: /run/app
        tmpfs: {size: 1m, mode: "1777"}
      - type: volume
        source: data
        target: /sub
        volume: {subpath: app, nocopy: true}
      - type: bind
        source: ./conf
        target: /conf2
        bind: {propagation: rslave, create_host_path: true, selinux: z}
  reader:
    image: x
    volumes_from: ["app:ro", "container:other"]
volumes:
  data: {}
"#,
        &[],
        &[],
    )
    .expect("valid");
    let v = &p.services["app"].volumes;
    assert!(v[0].anonymous() && v[0].target == "/cache");
    assert!(v[1].read_only && v[1].nocopy && v[1].source == "data");
    assert_eq!(
        (
            v[2].kind.as_str(),
            v[2].selinux.as_deref(),
            v[2].propagation.as_deref()
        ),
        ("bind", Some("Z"), Some("rshared"))
    );
    assert_eq!(
        (v[3].kind.as_str(), v[3].tmpfs_size, v[3].tmpfs_mode),
        ("tmpfs", Some(1 << 20), Some(0o1777))
    );
    assert_eq!(v[4].subpath.as_deref(), Some("app"));
    assert_eq!(v[5].propagation.as_deref(), Some("rslave"));
    let reader = &p.services["reader"];
    assert_eq!(reader.volumes_from, ["app:ro", "container:other"]);
    assert_eq!(reader.depends_on["app"], Condition::ServiceStarted);
    // The engine request: binds as before, mounts for the rest.
    let m = crate::compose::body::mounts(&p, &p.services["app"], &[]);
    assert_eq!(m.binds[0], "stack_data:/data:ro,nocopy");
    assert!(
        m.binds[1].ends_with("/stack/conf:/conf:ro,Z,rshared"),
        "{m:?}"
    );
    assert_eq!(m.mounts.len(), 2, "anonymous, subpath: {m:?}");
    assert!(m.mounts[0].source.is_none(), "a new anonymous volume");
    assert_eq!(m.tmpfs["/run/app"], "size=1048576,mode=1777");
    // A recreate mounts the old anonymous volumes again (the file's and the image's),
    // not the project's named ones.
    let old = [
        (String::from("/cache"), String::from("f00d")),
        (String::from("/var/lib/image-volume"), String::from("beef")),
        (String::from("/data"), String::from("stack_data")),
    ];
    let mounts = crate::compose::body::mounts(&p, &p.services["app"], &old).mounts;
    let sources: Vec<(Option<&str>, Option<&str>)> = mounts
        .iter()
        .map(|m| (m.target.as_deref(), m.source.as_deref()))
        .collect();
    assert!(
        sources.contains(&(Some("/cache"), Some("f00d"))),
        "{sources:?}"
    );
    assert!(
        sources.contains(&(Some("/var/lib/image-volume"), Some("beef"))),
        "{sources:?}"
    );
    assert_eq!(mounts.len(), 3, "{sources:?}");

    let errors = load_text(
        "services:\n  a:\n    image: x\n    volumes:\n      - /x\n      - /x\n      - data:rel\n      - ./c:/c:nocopy\n      - type: image\n        target: /i\n      - type: tmpfs\n        target: /t\n        bind: {propagation: rshared}\n      - type: bind\n        source: ./missing\n        target: /m\n        bind: {create_host_path: false}\n    volumes_from: [\"b:rx\"]\n  b:\n    image: x\nvolumes:\n  data: {}\n",
        &[],
        &[],
    )
    .expect_err("invalid");
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = all.join("\n");
    for (line, text) in [
        (6, "`/x` is mounted twice"),
        (7, "`rel` is not an absolute path"),
        (8, "volume mode `nocopy` is not supported here"),
        (9, "volume type `image` is not supported"),
        (11, "`bind:` options on a `tmpfs` mount"),
        (14, "does not exist (and `create_host_path` is false)"),
        (18, "`b:rx` is not SERVICE[:ro|rw]"),
    ] {
        assert!(
            errors
                .iter()
                .any(|e| e.pos.line == line && e.message.contains(text)),
            "line {line}: {text}\n{all}"
        );
    }
}

fn existing(service: &str, svc: &Service, state: &str) -> Existing {
    Existing {
        id: format!("id-{service}"),
        name: format!("p-{service}-1"),
        service: service.into(),
        number: 1,
        hash: svc.config_hash(),
        fields: svc
            .field_hashes()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        image_id: String::from("sha256:1"),
        state: state.into(),
        health: String::from("none"),
        volumes: Vec::new(),
    }
}

#[test]
fn decisions_name_what_changed() {
    let p = load_text(
        "services:\n  a:\n    image: x\n  b:\n    image: x\n  c:\n    image: x\n  d:\n    image: x\n",
        &[],
        &[],
    )
    .expect("valid");
    let mut changed = p.services["b"].clone();
    changed.environment.insert("K".into(), "v".into());
    changed.command = Some(vec!["sleep".into()]);
    let containers = vec![
        existing("a", &p.services["a"], "running"),
        existing("b", &changed, "running"),
        existing("c", &p.services["c"], "exited"),
        existing("gone", &p.services["a"], "running"),
    ];
    let images = HashMap::from([(String::from("x"), Some(String::from("sha256:1")))]);
    let order: Vec<String> = p.services.keys().cloned().collect();
    let d = actions::decide(&p, &order, &containers, &images);
    assert_eq!(d[0].action, Action::Keep);
    assert_eq!(
        d[1].action,
        Action::Recreate(String::from("command, environment changed"))
    );
    assert_eq!(d[2].action, Action::Start(String::from("exited")));
    assert_eq!(d[3].action, Action::Create);
    let orphans = actions::orphans(&p, &containers);
    assert_eq!(orphans.len(), 1);
    assert_eq!(orphans[0].service, "gone");
    // A newer image under the same tag recreates an otherwise unchanged service.
    let newer = HashMap::from([(String::from("x"), Some(String::from("sha256:2")))]);
    let d = actions::decide(&p, &order, &containers, &newer);
    assert_eq!(
        d[0].action,
        Action::Recreate(String::from("image x was updated"))
    );
}

/// The backquoted keys of a marked list in docs/steps.md, and the count it states.
fn docs_keys(docs: &str, list: &str) -> (Vec<String>, usize) {
    let start = format!("<!-- compose-keys:{list} -->");
    let from = docs.find(&start).expect("the list's start marker") + start.len();
    let len = docs[from..]
        .find("<!-- /compose-keys -->")
        .expect("the list's end marker");
    let text = &docs[from..from + len];
    let count = text
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .and_then(|(n, _)| n.parse().ok())
        .expect("the list states its count");
    let keys = text
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|k| *k != "x-*")
        .map(str::to_string)
        .collect();
    (keys, count)
}

#[test]
fn the_docs_list_exactly_the_supported_and_refused_keys() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/steps.md"))
        .expect("docs/steps.md");
    let (supported, count) = docs_keys(&docs, "supported");
    let code: Vec<String> = service_keys().map(str::to_string).collect();
    assert_eq!(
        supported, code,
        "docs/steps.md's supported keys differ from the reader's"
    );
    assert_eq!(
        count,
        code.len(),
        "the supported count in docs/steps.md is stale"
    );
    let (refused, count) = docs_keys(&docs, "refused");
    assert_eq!(
        refused, REFUSED_KEYS,
        "docs/steps.md's refused keys differ from the code's"
    );
    assert_eq!(
        count,
        REFUSED_KEYS.len(),
        "the refused count in docs/steps.md is stale"
    );
    // A refused key is refused by the reader, at its line, and no key is in both lists.
    for key in REFUSED_KEYS {
        assert!(!code.iter().any(|k| k == key), "`{key}` is in both lists");
        let err = load_text(
            &format!("services:\n  web:\n    image: x\n    {key}: 1\n"),
            &[],
            &[],
        )
        .expect_err(key);
        assert!(
            err.iter()
                .any(|e| e.pos.line == 4 && e.message.contains(&format!("unsupported key `{key}`"))),
            "{key}: {err:?}"
        );
    }
}

#[test]
fn secret_variables_are_remembered_and_shown_by_name() {
    let err = load_text(
        "services:\n  web:\n    image: \"registry.local/${REG_TOKEN}/busybox:latest\"\n    ports: [\"${DB_PASSWORD}:80\"]\n",
        &[("REG_TOKEN", "S3cret-tok"), ("DB_PASSWORD", "S3cret")],
        &[],
    )
    .expect_err("the port is not a number");
    let text: Vec<String> = err.iter().map(ToString::to_string).collect();
    let text = text.join("\n");
    assert!(text.contains("${DB_PASSWORD}"), "{text}");
    assert!(!text.contains("S3cret"), "{text}");
    let p = load_text(
        "services:\n  web:\n    image: \"registry.local/${REG_TOKEN}/busybox:latest\"\n",
        &[("REG_TOKEN", "S3cret-tok")],
        &[],
    )
    .expect("valid");
    assert_eq!(
        p.services["web"].image,
        "registry.local/S3cret-tok/busybox:latest"
    );
    assert_eq!(
        p.masks
            .apply("create web-1 (registry.local/S3cret-tok/busybox:latest)"),
        "create web-1 (registry.local/${REG_TOKEN}/busybox:latest)"
    );
}

#[test]
fn a_service_without_new_keys_keeps_its_configuration_hash() {
    // Containers created by an earlier ops carry this hash: a reader that learns new keys
    // must not recreate them on the next `up` (pinned from the reader before the
    // container settings, volumes and network modes were added).
    let p = load_text(
        "services:\n  web:\n    image: busybox:1\n    init: true\n    command: sleep 600\n    ports: [\"127.0.0.1:8080:80\"]\n    environment:\n      A: b\n    volumes:\n      - data:/data:ro\n    restart: unless-stopped\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 5s\nvolumes:\n  data: {}\n",
        &[],
        &[],
    )
    .expect("valid");
    assert_eq!(
        p.services["web"].config_hash(),
        "bbf39657842d2fcd5735deecd66d1ce1707931f1de902c98ebe08de2aafb7429"
    );
}

#[test]
fn container_settings_are_read_in_every_form() {
    let p = load_text(
        r#"
services:
  db:
    image: x
  app:
    image: x
    cap_add: [NET_ADMIN, CAP_SYS_TIME]
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
