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
    assert_eq!(web.networks["front"], ["www"]);
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
        "services:\n  a:\n    image: x\n    privileged: true\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n    ports: [\"99999:1\"]\n    healthcheck:\n      retries: -1\nsecrets: {}\n",
        &[],
        &[],
    )
    .expect_err("invalid");
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = text.join("\n");
    assert!(
        all.contains(":4:5: unsupported key `privileged` in service `a`"),
        "{all}"
    );
    assert!(
        all.contains(":12:1: unsupported top-level key `secrets`"),
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
    assert!(all.contains("\n  4 |     privileged: true"), "{all}");
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
    assert!(parse_port("80/sctp").is_err());
    assert!(parse_port("a:b:c:d").is_err());
}

fn existing(service: &str, svc: &Service, state: &str) -> Existing {
    Existing {
        id: format!("id-{service}"),
        name: format!("p-{service}-1"),
        service: service.into(),
        hash: svc.config_hash(),
        fields: svc
            .field_hashes()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        image_id: String::from("sha256:1"),
        state: state.into(),
        health: String::from("none"),
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

#[test]
fn the_docs_list_every_supported_key() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/steps.md"))
        .expect("docs/steps.md");
    for key in SERVICE_KEYS {
        assert!(
            docs.contains(&format!("`{key}`")),
            "docs/steps.md does not mention `{key}`"
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
