//! The canary matrix: one secret value with spaces, `!`, `@`, `$`, `%` and `+` flows
//! through every step kind (exec, probes of HTTP, PostgreSQL and Redis, `wait until`,
//! webhooks and Slack, backups and their manifests, restores, `call`) and every sink
//! (plain and TTY terminals, JSON events, JUnit, Markdown, `$GITHUB_STEP_SUMMARY`,
//! `OPS_LOG` logs, plans in every format and `-o`, `--preflight`, `ops test` reports).
//! Every output is searched for the canary in every form common tools write it: raw,
//! upper and lower case, JSON-escaped, form- and percent-encoded, as the `url` crate
//! writes it in a path or query, hex in both cases, base64 (standard and URL-safe, with
//! and without padding, and at all three byte alignments), and split across lines.
//! Compose's part (a secret in a compose file, a container printing it) is in
//! `tests/compose.rs`.

mod services;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use services::*;

const CANARY: &str = "Cn4ry s3cr!t@h0st$x%y+z";
const HOST_TOKEN: &str = "hostc4n4rytoken";

/// Every form of `secret` a leak could take, with its name.
fn forms(secret: &str) -> Vec<(String, String)> {
    let bytes = secret.as_bytes();
    let mut out = vec![
        ("raw".to_string(), secret.to_string()),
        ("upper".to_string(), secret.to_uppercase()),
        ("lower".to_string(), secret.to_lowercase()),
    ];
    let json = serde_json::to_string(secret).expect("json");
    out.push(("json".into(), json[1..json.len() - 1].to_string()));
    out.push((
        "form-encoded".into(),
        url::form_urlencoded::byte_serialize(bytes).collect(),
    ));
    out.push((
        "percent-encoded".into(),
        bytes
            .iter()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
                    (*b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect(),
    ));
    let mut u = url::Url::parse("http://h/").expect("url");
    u.set_path(secret);
    out.push(("url path".into(), u.path()[1..].to_string()));
    u.set_query(Some(secret));
    out.push((
        "url query".into(),
        u.query().unwrap_or_default().to_string(),
    ));
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    out.push(("hex upper".into(), hex.to_uppercase()));
    out.push(("hex".into(), hex));
    for (name, engine) in [
        ("base64", &STANDARD),
        ("base64 unpadded", &STANDARD_NO_PAD),
        ("base64url", &URL_SAFE),
        ("base64url unpadded", &URL_SAFE_NO_PAD),
    ] {
        out.push((name.into(), engine.encode(bytes)));
    }
    for shift in 1..3usize {
        let mut shifted = vec![b'x'; shift];
        shifted.extend_from_slice(bytes);
        let encoded = STANDARD_NO_PAD.encode(&shifted);
        let (first, last) = ((8 * shift).div_ceil(6), (8 * shifted.len()) / 6);
        out.push((
            format!("base64 at offset {shift}"),
            encoded[first..last].to_string(),
        ));
    }
    out
}

/// The first form of a secret found in `text` (also with its line breaks removed).
fn leak(text: &str) -> Option<String> {
    let joined = text.replace("\r\n", "").replace('\n', "");
    for secret in [CANARY, HOST_TOKEN] {
        for (name, form) in forms(secret) {
            if form.len() >= 8 && (text.contains(&form) || joined.contains(&form)) {
                return Some(format!("{name} {form:?}"));
            }
        }
    }
    None
}

/// A shell script printing the canary in every form, a secret split over lines, and
/// failing with a form as its last output.
fn forms_script(dir: &Path) -> PathBuf {
    let mut script = String::from("set -u\n");
    for (name, form) in forms(CANARY) {
        script.push_str(&format!(
            "printf '%s: %s\\n' '{name}' '{}'\n",
            form.replace('\'', "'\\''")
        ));
    }
    // Real tools on the value itself, as an operator's command would.
    script.push_str("printf %s \"$C\" | base64\n");
    script.push_str("printf 'a%s' \"$C\" | base64\n");
    script.push_str("printf 'ab%s' \"$C\" | base64 -w 0; echo\n");
    script.push_str("printf %s \"$C\" | od -An -tx1 | tr -d ' \\n'; echo\n");
    script.push_str("printf %s \"$C\" | tr a-z A-Z; echo\n");
    // Split across lines of streamed output, in two and three parts.
    let (a, b) = CANARY.split_at(9);
    let (b, c) = b.split_at(7);
    script.push_str(&format!("printf '%s\\n%s\\n' 'begin {a}' '{b}{c} end'\n"));
    script.push_str(&format!("printf '%s\\n%s\\n%s\\n' '{a}' '{b}' '{c}'\n"));
    script.push_str("printf %s \"$C\" | base64 >&2\nexit 3\n");
    let path = dir.join("forms.sh");
    std::fs::write(&path, script).expect("script");
    path
}

/// The same command on a pseudo-terminal (`script`), so the live spinners report.
fn ops_tty(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> String {
    let line = std::iter::once(env!("CARGO_BIN_EXE_ops").to_string())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-qefc", &line, "/dev/null"])
        .current_dir(dir)
        .env_remove("CI")
        .env("TERM", "xterm")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("script (util-linux) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn matrix_runbook(dir: &Path, web: &HttpServer, pg_port: u16, redis_port: u16) -> PathBuf {
    let script = forms_script(dir);
    let into = dir.join("backups");
    std::fs::write(
        dir.join("callee.rb.ops"),
        "runbook \"callee\" {\n  title = \"Callee\"\n  owner = \"qa\"\n}\nsecret CANARY\nexec [\"sh\", \"-c\", \"echo callee $C; exit 4\"] {\n  env = { C = CANARY }\n}\n",
    )
    .expect("callee");
    let body = format!(
        r#"runbook "canary-matrix" {{
  title = "The canary in every sink"
  owner = "qa"
}}

secret CANARY
secret HOST_TOKEN
secret REDIS_URL
secret WRONG_PG
secret WRONG_REDIS

stage "every step kind" {{
  exec ["sh", "{script}"] as printed {{
    env = {{ C = CANARY }}
    on_failure = continue
  }}
  probe http "http://127.0.0.1:1/api/${{CANARY}}?q=${{CANARY}}" {{
    timeout 3s
    on_failure = continue
  }}
  probe http "http://${{HOST_TOKEN}}.invalid:1/" {{
    timeout 3s
    on_failure = continue
  }}
  probe http "{echo}" {{
    headers = {{ "X-Token" = CANARY }}
    expect header "x-echo" == "something else"
    on_failure = continue
  }}
  probe postgres WRONG_PG {{
    on_failure = continue
  }}
  probe redis WRONG_REDIS {{
    on_failure = continue
  }}
  wait until {{
    probe http "{echo}" {{
      headers = {{ "X-Token" = CANARY }}
      expect status == 201
    }}
    every = 200ms
    timeout 1s
    on_failure = continue
  }}
  notify webhook "{reject}/${{CANARY}}" {{
    json = {{ text = "deploy" }}
    headers = {{ "X-Token" = CANARY }}
    attempts = 1
    on_failure = continue
  }}
  notify slack "{reject}/slack/${{CANARY}}" {{
    text = "deploy"
    attempts = 1
    on_failure = continue
  }}
  backup redis REDIS_URL as b {{
    into = "{into}"
  }}
  backup verify b.path {{
    deep = true
  }}
  restore redis b.path {{
    into = WRONG_REDIS
    on_failure = continue
  }}
  call "callee.rb.ops" {{
    on_failure = continue
  }}
}}

on failure {{
  notify stdout "failed: ${{failure.message}}"
}}

always {{
  exec ["sh", "-c", "echo done; exit 5"] {{
    env = {{ C = CANARY }}
  }}
}}
"#,
        script = script.display(),
        echo = web.url("/echo"),
        reject = web.url("/reject"),
        into = into.display(),
    );
    let _ = (pg_port, redis_port);
    let file = dir.join("matrix.rb.ops");
    std::fs::write(&file, body).expect("runbook");
    file
}

#[test]
#[ignore = "services tier (PostgreSQL, Redis, OpenSSL): run scripts/test.sh"]
fn the_canary_never_appears_in_any_sink_in_any_form() {
    // The script really prints every form: the test fails if the redactor misses one.
    let work = tempfile::tempdir().expect("tempdir");
    let raw = Command::new("sh")
        .arg(forms_script(work.path()))
        .env("C", CANARY)
        .output()
        .expect("sh");
    let raw = String::from_utf8_lossy(&raw.stdout).into_owned();
    for (name, form) in forms(CANARY) {
        assert!(raw.contains(&form), "the script prints the {name} form");
    }

    let web = HttpServer::start(|_, seen| {
        let token = seen
            .headers
            .iter()
            .find(|(k, _)| k == "x-token")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        if seen.path.starts_with("/echo") {
            Some((
                "200 OK".into(),
                vec![("X-Echo".into(), token.clone())],
                format!("{{\"token\": {}}}", serde_json::Value::String(token)).into_bytes(),
            ))
        } else {
            // A server that quotes the request back in its error, in every form it has it.
            Some((
                "400 Bad Request".into(),
                Vec::new(),
                format!("rejected {} token={token} body={}", seen.path, seen.body).into_bytes(),
            ))
        }
    });
    let pg = Postgres::with_password("the-real-password");
    let redis = Redis::start();
    let set = Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "config",
            "set",
            "requirepass",
            CANARY,
        ])
        .output()
        .expect("redis-cli");
    assert!(set.status.success());
    let encoded: String = url::form_urlencoded::byte_serialize(CANARY.as_bytes()).collect();
    let encoded = encoded.replace('+', "%20");
    let redis_url = format!("redis://:{encoded}@127.0.0.1:{}", redis.port);
    let wrong_pg = format!("postgresql://ops:{encoded}@127.0.0.1:{}/postgres", pg.port);
    let wrong_redis = format!("redis://:{encoded}x@127.0.0.1:{}", redis.port);
    let file = matrix_runbook(work.path(), &web, pg.port, redis.port);
    let summary = work.path().join("summary.md");
    let env = [
        ("CANARY", CANARY),
        ("HOST_TOKEN", HOST_TOKEN),
        ("REDIS_URL", redis_url.as_str()),
        ("WRONG_PG", wrong_pg.as_str()),
        ("WRONG_REDIS", wrong_redis.as_str()),
        ("OPS_LOG", "debug"),
        ("GITHUB_STEP_SUMMARY", summary.to_str().expect("utf-8")),
    ];
    let name = file.file_name().and_then(|n| n.to_str()).expect("name");
    let mut outputs: Vec<(String, String)> = Vec::new();

    for format in ["human", "json", "md"] {
        let (_, out, err) = ops_in(&["plan", name, "--format", format], work.path(), &env);
        outputs.push((format!("plan --format {format}"), out + &err));
    }
    let (_, out, err) = ops_in(&["plan", name, "-o", "plan.json"], work.path(), &env);
    outputs.push(("plan -o".into(), out + &err));
    outputs.push((
        "saved plan".into(),
        std::fs::read_to_string(work.path().join("plan.json")).expect("saved plan"),
    ));
    for format in ["human", "json"] {
        let (_, out, err) = ops_in(
            &["plan", name, "--preflight", "--format", format],
            work.path(),
            &env,
        );
        outputs.push((format!("plan --preflight {format}"), out + &err));
    }

    let (code, out, err) = ops_in(
        &[
            "run",
            name,
            "--report-junit",
            "junit.xml",
            "--report-md",
            "report.md",
        ],
        work.path(),
        &env,
    );
    assert_eq!(code, 1, "the always handler fails on purpose: {out}{err}");
    assert!(
        out.contains("(secret)"),
        "the secret is shown redacted: {out}"
    );
    assert!(err.contains("DEBUG"), "logs are on: {err}");
    outputs.push(("run (terminal)".into(), out + &err));
    for report in ["junit.xml", "report.md", "summary.md"] {
        outputs.push((
            report.into(),
            std::fs::read_to_string(work.path().join(report)).expect(report),
        ));
    }
    let (_, out, err) = ops_in(&["run", name, "--format", "json"], work.path(), &env);
    outputs.push(("run --format json".into(), out + &err));
    outputs.push((
        "run on a TTY".into(),
        ops_tty(&["run", name], work.path(), &env),
    ));

    // The manifests the backup wrote (and the verification recorded).
    for entry in std::fs::read_dir(work.path().join("backups"))
        .expect("backups")
        .flatten()
    {
        if entry
            .file_name()
            .to_string_lossy()
            .ends_with(".manifest.json")
        {
            outputs.push((
                format!("manifest {}", entry.file_name().to_string_lossy()),
                std::fs::read_to_string(entry.path()).expect("manifest"),
            ));
        }
    }

    // `ops test` over a directory holding the matrix (and its callee).
    let (_, out, err) = ops_in(
        &["test", ".", "--junit", "test-junit.xml", "--md", "test.md"],
        work.path(),
        &env,
    );
    outputs.push(("ops test".into(), out + &err));
    for report in ["test-junit.xml", "test.md"] {
        outputs.push((
            report.into(),
            std::fs::read_to_string(work.path().join(report)).expect(report),
        ));
    }

    let mut leaks = Vec::new();
    for (what, text) in &outputs {
        if let Some(form) = leak(text) {
            leaks.push(format!("{what} leaks the {form}"));
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
    // Each step really ran and reported what it saw (so the matrix exercised them).
    let run = &outputs
        .iter()
        .find(|(w, _)| w == "run (terminal)")
        .expect("run")
        .1;
    for seen in [
        "stdout: raw:",
        "GET http://127.0.0.1:1/api/",
        "expected header \"x-echo\"",
        "password authentication failed",
        "Password authentication failed",
        "not ready within",
        "the webhook answered 400",
        "callee",
    ] {
        assert!(run.contains(seen), "the run shows `{seen}`:\n{run}");
    }
}

/// Outputs kept in part never end in the first part of a secret: a command's output cut at
/// `max_output`, and a secret split over the 10th and 11th streamed lines (the 11th is not
/// shown, yet it decides what the 10th shows).
#[test]
fn a_cut_output_never_ends_in_part_of_a_secret() {
    let work = tempfile::tempdir().expect("tempdir");
    let script = work.path().join("cut.sh");
    let (head, rest) = CANARY.split_at(12);
    std::fs::write(
        &script,
        format!(
            "printf '%01010d' 0\nprintf '%s' '{}'\n{}printf '%s\\n%s\\n' 'line 10 {head}' '{rest}'\n",
            CANARY.replace('\'', "'\\''"),
            (1..10).map(|i| format!("echo line {i}\n")).collect::<String>()
        ),
    )
    .expect("script");
    std::fs::write(
        work.path().join("cut.rb.ops"),
        format!(
            "runbook \"cut\" {{\n  title = \"cut\"\n  owner = \"qa\"\n}}\nsecret CANARY\nexec [\"sh\", \"{}\"] {{\n  max_output = 1KiB\n}}\nexec [\"true\"] {{\n  env = {{ C = CANARY }}\n}}\n",
            script.display()
        ),
    )
    .expect("runbook");
    for format in ["human", "json"] {
        let (code, out, err) = ops_in(
            &["run", "cut.rb.ops", "--format", format],
            work.path(),
            &[("CANARY", CANARY)],
        );
        assert_eq!(code, 0, "{out}{err}");
        let text = out + &err;
        assert!(
            text.contains("more bytes not kept") || format == "human",
            "{text}"
        );
        assert!(
            !text.contains(head),
            "{format} shows the start of the secret:\n{text}"
        );
        assert!(leak(&text).is_none(), "{text}");
    }
}
