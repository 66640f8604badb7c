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
            files: &[],
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
    assert!(
        all.contains("retries` must be a whole number 0 or more, not -1"),
        "{all}"
    );
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
    let p = parse_port("127.0.0.1:0:80").expect("any free host port");
    assert_eq!((p[0].published.as_str(), p[0].target), ("0", 80));
    assert!(parse_port("8080:0").is_err(), "container port 0");
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

mod families;
