//! `ops plan --preflight` through the real binary: it runs every read-only check it can
//! and reports all of them, holds back the checks of what the run changes first, and
//! never runs a mutating step of any kind (a server counts every request by method; each
//! mutating kind would leave a sentinel file).

mod services;

use std::path::Path;

use services::*;

/// A server that answers 200 on `/ok` and `/api/state`, 503 on everything else.
fn server() -> HttpServer {
    HttpServer::start(|_, seen| match seen.path.as_str() {
        "/ok" | "/api/state" => ok("200 OK", r#"{"status":"ok"}"#),
        _ => ok("503 Service Unavailable", r#"{"status":"down"}"#),
    })
}

fn runbook(dir: &Path, server: &HttpServer, closed: u16) -> String {
    let d = dir.display();
    let url = |p: &str| server.url(p);
    format!(
        r#"param dir: path = "{d}"

stage "checks" {{
  probe http "{ok}" {{
    expect status == 200
  }}
  probe http "{fail}" {{
    expect status == 200
  }}
  probe tcp "127.0.0.1:{closed}" {{
    timeout 2s
  }}
}}
stage "change" {{
  exec ["touch", "${{dir}}/exec-ran"]
  probe http "{after}" {{
    expect status == 200
  }}
  http request "{api}" {{
    method = POST
    json   = {{ order = 1 }}
  }}
  probe http "{state}" {{
    expect status == 200
  }}
  notify webhook "{hook}" {{
    json = {{ text = "done" }}
  }}
  backup files "${{dir}}/src" as snap {{
    into = "${{dir}}/backups"
  }}
  backup verify snap.path
  backup prune "${{dir}}/backups" {{
    keep_last = 1
  }}
  restore files "${{dir}}/backups" {{
    into = "${{dir}}/restored"
  }}
  wait 30s
  wait until {{
    probe tcp "127.0.0.1:{closed}"
    timeout 1m
  }}
}}
probe tcp "127.0.0.1:{closed}" {{
  on_failure = continue
  timeout 2s
}}
"#,
        ok = url("/ok"),
        fail = url("/fail"),
        after = url("/after-exec"),
        api = url("/api/orders"),
        state = url("/api/state"),
        hook = url("/hook"),
    )
}

fn line<'a>(out: &'a str, id: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(id) && l.starts_with("  "))
        .unwrap_or_else(|| panic!("no preflight line for {id} in\n{out}"))
}

#[test]
fn preflight_reports_every_check_and_never_changes_anything() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("src")).expect("mkdir");
    std::fs::write(dir.path().join("src/a.txt"), "a").expect("write");
    let server = server();
    let closed = free_port();
    let (code, out, err) = run_runbook(
        &runbook(dir.path(), &server, closed),
        &["plan", "--preflight"],
        &[],
    );
    // Two checks fail with nothing before them that could change that: exit 3.
    assert_eq!(code, 3, "{out}{err}");
    let preflight = out
        .split("\nPreflight (")
        .nth(1)
        .expect("a preflight section");
    assert!(line(preflight, "1.1").starts_with("  ok"), "{preflight}");
    // Every check ran, not only up to the first failure.
    assert!(
        line(preflight, "1.2").starts_with("  FAILED"),
        "{preflight}"
    );
    assert!(
        line(preflight, "1.3").starts_with("  FAILED"),
        "{preflight}"
    );
    // After an `exec` (what the plan cannot see), a failure only warns.
    let after_exec = line(preflight, "2.2");
    assert!(
        after_exec.starts_with("  warning") && after_exec.contains("2.1 `exec"),
        "{preflight}"
    );
    // The state the POST changes is checked after it, not now.
    assert!(
        line(preflight, "2.4").contains("later")
            && line(preflight, "2.4").contains("checked after 2.3 runs"),
        "{preflight}"
    );
    // A mutating step only looks read-only at what it would act on.
    assert!(
        line(preflight, "2.6").contains("1 files, 1 B before compression"),
        "{preflight}"
    );
    // A poll looks once and warns; a pause checks nothing.
    assert!(
        line(preflight, "2.11").starts_with("  warning"),
        "{preflight}"
    );
    assert!(
        line(preflight, "2.11").contains("not ready now"),
        "{preflight}"
    );
    assert!(
        !preflight.contains(" 2.10 "),
        "the pause is not a check: {preflight}"
    );
    // A check allowed to fail only warns (after the exec, and by its own `continue`).
    assert!(line(preflight, "3").starts_with("  warning"), "{preflight}");
    assert!(
        preflight
            .contains("Live preflight: 2 ok, 2 failed, 3 warning(s), 1 checked later in the run"),
        "{preflight}"
    );
    // Nothing was changed: only GETs reached the server, no sentinel exists.
    let methods: Vec<String> = server.requests().iter().map(|r| r.method.clone()).collect();
    assert!(
        !methods.is_empty() && methods.iter().all(|m| m == "GET"),
        "{methods:?}"
    );
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        !paths.contains(&"/api/state".to_string()),
        "held back: {paths:?}"
    );
    for sentinel in ["exec-ran", "backups", "restored"] {
        assert!(!dir.path().join(sentinel).exists(), "{sentinel} exists");
    }
    // JSON says the same, per step.
    let (code, out, _) = run_runbook(
        &runbook(dir.path(), &server, closed),
        &["plan", "--preflight", "--format", "json"],
        &[],
    );
    assert_eq!(code, 3);
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    let verdicts: Vec<(String, String)> = json["live_preflight"]
        .as_array()
        .expect("live_preflight")
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap_or("").to_string(),
                l["verdict"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        verdicts.contains(&("2.4".into(), "later".into())),
        "{verdicts:?}"
    );
    assert!(
        verdicts.contains(&("1.2".into(), "FAILED".into())),
        "{verdicts:?}"
    );
    let methods: Vec<String> = server.requests().iter().map(|r| r.method.clone()).collect();
    assert!(methods.iter().all(|m| m == "GET"), "{methods:?}");
    for sentinel in ["exec-ran", "backups", "restored"] {
        assert!(!dir.path().join(sentinel).exists(), "{sentinel} exists");
    }
}
