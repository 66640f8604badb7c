//! `compose` container settings and shared namespaces against a real Docker engine:
//! what the file asks for is what the process in the container sees.

mod common;
mod services;
mod stack;

use stack::*;

/// `app` with capabilities, limits, a read-only root with a tmpfs, kernel and DNS
/// settings; `side` in app's network and PID namespaces. NOFILE is app's soft limit.
fn settings_stack(nofile: u32) -> String {
    format!(
        r#"services:
  app:
    image: {IMAGE}
    init: true
    command: sleep 600
    cap_drop: [ALL]
    cap_add: [NET_ADMIN]
    security_opt: ["no-new-privileges:true"]
    privileged: false
    read_only: true
    tmpfs: ["/scratch:size=1m"]
    shm_size: 16m
    sysctls:
      net.core.somaxconn: 1024
    ulimits:
      nofile: {{soft: {nofile}, hard: 4096}}
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 64
    oom_score_adj: 100
    group_add: ["4242"]
    dns: [127.0.0.53]
    dns_search: [ops.internal]
    logging:
      driver: local
      options: {{max-size: 1m}}
    stop_signal: SIGINT
    deploy:
      resources:
        reservations: {{memory: 16m}}
      restart_policy: {{condition: on-failure, max_attempts: 2}}
  side:
    image: {IMAGE}
    init: true
    command: sleep 600
    network_mode: service:app
    pid: service:app
"#
    )
}

#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn container_settings_reach_the_process_and_shared_namespaces_follow_their_owner() {
    let stack = Stack::new("opssettings", &settings_stack(1024));
    let (code, plan, err) = stack.run(UP, &["plan"]);
    assert_eq!(code, 0, "{plan}{err}");
    let app = plan.find("service app: create").expect(&plan);
    let side = plan.find("service side: create").expect(&plan);
    assert!(app < side, "the namespace owner comes first: {plan}");

    let (code, out, err) = stack.run(UP, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=2 recreated=0 kept=0"), "{out}");

    // Capabilities: everything dropped but NET_ADMIN (bit 12).
    let (_, status) = stack.exec("app", "grep CapEff /proc/self/status");
    assert!(status.ends_with("0000000000001000"), "{status}");
    // The ulimit, the tmpfs, the read-only root, the sysctl, shm and the extra group.
    // The limits of the container's own process (an exec'd shell may get others).
    assert_eq!(stack.open_files("app"), "1024 4096");
    let (_, mounts) = stack.exec("app", "grep ' /scratch ' /proc/mounts");
    assert!(
        mounts.starts_with("tmpfs /scratch tmpfs") && mounts.contains("size=1024k"),
        "{mounts}"
    );
    let (code, touched) = stack.exec("app", "touch /root-file");
    assert_ne!(code, 0, "the root filesystem is writable");
    assert!(touched.contains("Read-only file system"), "{touched}");
    assert_eq!(stack.exec("app", "touch /scratch/f && echo ok").1, "ok");
    assert_eq!(
        stack.exec("app", "cat /proc/sys/net/core/somaxconn").1,
        "1024"
    );
    assert!(stack.exec("app", "df -k /dev/shm").1.contains("16384"));
    assert!(stack.exec("app", "id -G").1.split(' ').any(|g| g == "4242"));
    assert!(
        stack
            .exec("app", "cat /etc/resolv.conf")
            .1
            .contains("search ops.internal")
    );
    assert_eq!(stack.exec("app", "cat /proc/self/oom_score_adj").1, "100");
    // What only the engine knows: limits, logging, the restart policy, the stop signal.
    assert_eq!(
        stack.inspect(
            "app",
            "{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.LogConfig.Type}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.Config.StopSignal}} {{.HostConfig.SecurityOpt}}"
        ),
        "67108864 16777216 500000000 64 local on-failure:2 SIGINT [no-new-privileges:true]"
    );
    // side shares app's network and PID namespaces: the same namespaces, and app's
    // process is visible from side.
    for ns in ["net", "pid"] {
        let a = stack.exec("app", &format!("readlink /proc/self/ns/{ns}")).1;
        let s = stack
            .exec("side", &format!("readlink /proc/self/ns/{ns}"))
            .1;
        assert_eq!(a, s, "{ns} namespace not shared");
    }
    assert!(stack.exec("side", "ps").1.matches("sleep 600").count() >= 2);

    // Again: nothing changes.
    let ids = (stack.id("app"), stack.id("side"));
    let (code, out, err) = stack.run(UP, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=0 recreated=0 kept=2"), "{out}");
    assert_eq!(ids, (stack.id("app"), stack.id("side")));

    // A new ulimit recreates app, and side with it (its namespaces were app's): the plan
    // says why for each.
    // A new service in app's namespace comes with it: it must join the new container's
    // namespace, not the one being replaced.
    stack.write(&format!(
        "{}  late:\n    image: {IMAGE}\n    init: true\n    command: sleep 600\n    network_mode: service:app\n",
        settings_stack(2048)
    ));
    let (code, plan, _) = stack.run(UP, &["plan"]);
    assert_eq!(code, 0);
    assert!(
        plan.contains("service app: recreate opssettings-app-1: ulimits changed"),
        "{plan}"
    );
    assert!(
        plan.contains(
            "service side: recreate opssettings-side-1: it shares the network namespace of app"
        ),
        "{plan}"
    );
    let (code, out, err) = stack.run(UP, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=1 recreated=2 kept=0"), "{out}");
    assert_eq!(stack.open_files("app").split(' ').next(), Some("2048"));
    let a = stack.exec("app", "readlink /proc/self/ns/net").1;
    assert_eq!(a, stack.exec("side", "readlink /proc/self/ns/net").1);
    assert_eq!(a, stack.exec("late", "readlink /proc/self/ns/net").1);

    let (code, out, err) = stack.run(
        "compose down \"FILE\" { project = \"PROJECT\" }\n",
        &["run"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(stack.containers().is_empty());
}

#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn swarm_only_deploy_keys_are_warned_about_in_the_plan() {
    let stack = Stack::new(
        "opsswarmkeys",
        &format!(
            "services:\n  app:\n    image: {IMAGE}\n    command: sleep 600\n    deploy:\n      placement: {{constraints: [\"node.role == manager\"]}}\n      resources:\n        reservations: {{cpus: \"0.25\"}}\n"
        ),
    );
    let (code, plan, err) = stack.run(UP, &["plan"]);
    assert_eq!(code, 0, "{plan}{err}");
    assert!(
        plan.contains("`placement` is ignored: only Swarm acts on it"),
        "{plan}"
    );
    assert!(plan.contains("`cpus` is not enforced"), "{plan}");
}

/// `docker inspect` template of the name of the volume mounted at /cache.
const CACHE_VOLUME: &str =
    "{{range .Mounts}}{{if eq .Destination \"/cache\"}}{{.Name}}{{end}}{{end}}";

/// A port P of 127.0.0.1 such that P and P + 1 are both free now.
fn two_free_ports() -> u16 {
    use std::net::TcpListener;
    for _ in 0..100 {
        let Ok(first) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(p) = first.local_addr().map(|a| a.port()) else {
            continue;
        };
        if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no two consecutive free ports on 127.0.0.1");
}

/// `app` with an anonymous volume, a named one, a tmpfs mount and a port range;
/// `reader` mounts app's volumes read-only. GREETING changes app's configuration.
fn volumes_stack(port: u16, greeting: &str) -> String {
    let next = port + 1;
    format!(
        r#"services:
  app:
    image: {IMAGE}
    init: true
    command: sleep 600
    environment:
      GREETING: {greeting}
    ports: ["127.0.0.1:{port}-{next}:8080-8081"]
    volumes:
      - /cache
      - data:/data:nocopy
      - type: tmpfs
        target: /run/app
        tmpfs: {{size: 1m, mode: "0750"}}
  reader:
    image: {IMAGE}
    init: true
    command: sleep 600
    volumes_from: ["app:ro"]
volumes:
  data: {{}}
"#
    )
}

#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn anonymous_volumes_survive_a_recreate_and_go_only_with_volumes_true() {
    let port = two_free_ports();
    let stack = Stack::new("opsvolumes", &volumes_stack(port, "hello"));
    let (code, out, err) = stack.run(UP, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=2"), "{out}");
    // The tmpfs mount with its size and mode; the port range published pairwise.
    let (_, mounts) = stack.exec("app", "grep ' /run/app ' /proc/mounts");
    assert!(
        mounts.contains("tmpfs") && mounts.contains("size=1024k") && mounts.contains("mode=750"),
        "{mounts}"
    );
    let ports = stack.inspect("app", "{{json .HostConfig.PortBindings}}");
    for (published, target) in [(port, 8080), (port + 1, 8081)] {
        assert!(
            ports.contains(&format!(
                "\"{target}/tcp\":[{{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"{published}\"}}]"
            )),
            "{ports}"
        );
    }
    // reader sees app's volumes, read-only.
    assert_eq!(stack.exec("app", "echo kept > /cache/f && echo ok").1, "ok");
    assert_eq!(stack.exec("reader", "cat /cache/f").1, "kept");
    let (code, _) = stack.exec("reader", "touch /cache/g");
    assert_ne!(code, 0, "volumes_from :ro mounted read-write");
    let anonymous = stack.inspect("app", CACHE_VOLUME);
    assert_eq!(anonymous.len(), 64, "an anonymous volume: {anonymous}");

    // A changed environment recreates app; its anonymous volume comes back, and the plan
    // says so.
    let old = stack.id("app");
    stack.write(&volumes_stack(port, "bonjour"));
    let (code, plan, _) = stack.run(UP, &["plan"]);
    assert_eq!(code, 0);
    assert!(
        plan.contains(
            "recreate opsvolumes-app-1: environment changed (keeps its volumes at /cache)"
        ),
        "{plan}"
    );
    let (code, out, err) = stack.run(UP, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_ne!(old, stack.id("app"));
    assert_eq!(
        stack.exec("app", "cat /cache/f").1,
        "kept",
        "the recreate lost the anonymous volume"
    );
    assert_eq!(stack.inspect("app", CACHE_VOLUME), anonymous);
    let (code, out, err) = stack.run(UP, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("recreated=0 kept=2"),
        "the kept volume made up unstable: {out}"
    );

    // down keeps anonymous volumes, and says so; volumes = true removes them.
    let down = "compose down \"FILE\" { project = \"PROJECT\" }\n";
    let (code, plan, _) = stack.run(down, &["plan"]);
    assert_eq!(code, 0);
    assert!(
        plan.contains("its anonymous volumes at /cache are kept (volumes = false)"),
        "{plan}"
    );
    let (code, out, err) = stack.run(down, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        docker(&["volume", "inspect", "-f", "{{.Name}}", &anonymous]),
        anonymous
    );
    // Bring it back (a new anonymous volume) and take it down with its volumes.
    let (code, out, err) = stack.run(UP, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    let second = stack.inspect("app", CACHE_VOLUME);
    let down_all = "compose down \"FILE\" {\n  project = \"PROJECT\"\n  volumes = true\n}\n";
    let (code, plan, _) = stack.run(down_all, &["plan"]);
    assert_eq!(code, 0);
    assert!(
        plan.contains("remove its anonymous volumes at /cache (their data is deleted)"),
        "{plan}"
    );
    let (code, out, err) = stack.run(down_all, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        docker(&["volume", "ls", "-q", "--filter", &format!("name={second}")]),
        ""
    );
    assert_eq!(stack.volumes(), "", "the named volume stayed");
    docker(&["volume", "rm", &anonymous]);
}

/// `db` at a static address on an IPAM subnet (SUBNET, in 10.213.0.0/16: outside the
/// engine's default pools, from which the other tests' networks are given subnets), `app` on two networks with
/// `front` first by priority, and `legacy` reaching db by a link alias.
fn networks_stack(subnet: &str, address: &str) -> String {
    format!(
        r#"services:
  db:
    image: {IMAGE}
    init: true
    command: sleep 600
    label_file: db.labels
    networks:
      back:
        ipv4_address: {address}
  app:
    image: {IMAGE}
    init: true
    command: sleep 600
    networks:
      back: {{}}
      front:
        priority: 10
        aliases: [www]
  legacy:
    image: {IMAGE}
    init: true
    command: sleep 600
    networks: [back]
    links: ["db:database"]
networks:
  front: {{}}
  back:
    ipam:
      config:
        - subnet: {subnet}
"#
    )
}

#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn static_addresses_on_an_ipam_subnet_links_and_a_changed_subnet_is_refused() {
    let stack = Stack::new("opsipam", &networks_stack("10.213.77.0/24", "10.213.77.10"));
    std::fs::write(stack.dir.path().join("db.labels"), "team=data\n").expect("label file");
    let (code, out, err) = stack.run(UP, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        docker(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
            "opsipam_back"
        ]),
        "10.213.77.0/24"
    );
    assert!(
        stack
            .exec("db", "ip -4 addr")
            .1
            .contains("inet 10.213.77.10/24")
    );
    assert_eq!(
        stack.inspect("db", "{{index .Config.Labels \"team\"}}"),
        "data"
    );
    // app is on both networks, and reaches db at its address by name.
    let nets = stack.inspect(
        "app",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert_eq!(nets, "opsipam_back opsipam_front");
    let (code, ping) = stack.exec("app", "ping -c1 -W2 db");
    assert_eq!(code, 0, "{ping}");
    assert!(ping.contains("10.213.77.10"), "{ping}");
    // The link alias resolves from legacy.
    let (code, ping) = stack.exec("legacy", "ping -c1 -W2 database");
    assert_eq!(code, 0, "{ping}");
    assert!(ping.contains("10.213.77.10"), "{ping}");
    let (code, out, err) = stack.run(UP, &["run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created=0 recreated=0 kept=3"), "{out}");

    // Another subnet cannot be applied to the existing network: a preflight error, and
    // the run refuses before touching anything.
    stack.write(&networks_stack("10.213.78.0/24", "10.213.78.10"));
    let (code, plan, err) = stack.run(UP, &["plan"]);
    assert_eq!(code, 3, "{plan}{err}");
    let all = format!("{plan}{err}");
    assert!(all.contains("network opsipam_back exists with subnets [10.213.77.0/24], and the file asks for [10.213.78.0/24]"), "{all}");
    let id = stack.id("db");
    let (code, out, err) = stack.run(UP, &["run"]);
    assert_ne!(code, 0, "{out}{err}");
    assert_eq!(id, stack.id("db"), "db was touched");
}

/// The engine's API version, as (major, minor).
fn engine_api() -> (usize, usize) {
    let v = docker(&["version", "-f", "{{.Server.APIVersion}}"]);
    let (major, minor) = v.split_once('.').expect("an API version");
    (major.parse().expect("major"), minor.parse().expect("minor"))
}

/// A setting the engine would drop without a word is refused by an older engine before
/// anything changes, and applied by a newer one.
#[test]
#[ignore = "engine tier (a Docker engine): run scripts/test.sh"]
fn a_mac_address_is_applied_or_refused_by_the_engine_s_api_version() {
    let stack = Stack::new(
        "opsmac",
        &format!(
            "services:\n  db:\n    image: {IMAGE}\n    init: true\n    command: sleep 600\n    mac_address: \"02:42:ac:1f:4d:0b\"\n"
        ),
    );
    let api = engine_api();
    let (code, plan, err) = stack.run(UP, &["plan"]);
    if api < (1, 44) {
        assert_eq!(code, 3, "{plan}{err}");
        let all = format!("{plan}{err}");
        assert!(
            all.contains(&format!("service db: `mac_address` needs Docker Engine API 1.44, and this engine speaks {}.{}", api.0, api.1)),
            "{all}"
        );
        let (code, out, err) = stack.run(UP, &["run"]);
        assert_ne!(code, 0, "{out}{err}");
        assert!(
            stack.containers().is_empty(),
            "a refused run created containers"
        );
    } else {
        assert_eq!(code, 0, "{plan}{err}");
        let (code, out, err) = stack.run(UP, &["run"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            stack
                .exec("db", "cat /sys/class/net/eth0/address")
                .1
                .contains("02:42:ac:1f:4d:0b")
        );
    }
}
