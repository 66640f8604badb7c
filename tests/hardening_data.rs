//! Hardening of what ops connects to and writes, each defect class against the real
//! component: connection strings that try to redirect a restore, passwords decoded one
//! way for every step, concurrent backups of one set, files left by dead writers,
//! scratch servers that must die with ops and keep their data private, restores that
//! must refuse, and hostile servers that send endless replies.

mod services;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use services::*;

fn psql(pg: &Postgres, password: Option<&str>, sql: &str) {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &pg.port.to_string(), "-U", "ops"])
        .args(["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGPASSWORD", password.unwrap_or(""))
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn redis_cli(port: u16, password: Option<&str>, args: &[&str]) -> String {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["-p", &port.to_string()]);
    if let Some(pw) = password {
        cmd.env("REDISCLI_AUTH", pw);
    }
    let out = cmd.args(args).output().expect("redis-cli");
    assert!(out.status.success(), "redis-cli {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn files_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        name.ends_with(suffix) && !name.starts_with('.')
    });
    out.sort();
    out
}

/// A verified `backup redis` of the server on `port` into `into`.
fn verified_redis_backup(port: u16, into: &Path) {
    let body = format!(
        "backup redis \"redis://127.0.0.1:{port}\" as b {{\n  into = \"{}\"\n}}\nbackup verify b.path\n",
        into.display()
    );
    let (code, out, err) = run_runbook(&body, &["run"], &[]);
    assert_eq!(code, 0, "{out}{err}");
}

/// A verified `backup files` of a small tree, set `set`, in `into`.
fn verified_files_backup(work: &Path, into: &Path, set: &str) -> PathBuf {
    let src = work.join("src");
    std::fs::create_dir_all(&src).expect("src");
    std::fs::write(src.join("a.txt"), "alpha\n").expect("write");
    let body = format!(
        "backup files \"{}\" as b {{\n  into = \"{}\"\n  set = \"{set}\"\n}}\nbackup verify b.path\n",
        src.display(),
        into.display()
    );
    let (code, out, err) = run_runbook(&body, &["run"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    files_with(into, ".tar.zst").pop().expect("a backup")
}

#[test]
#[ignore = "services tier (PostgreSQL, Redis, OpenSSL): run scripts/test.sh"]
fn a_database_name_cannot_redirect_a_restore() {
    let pg = Postgres::with_password("s3cr3t-pw");
    psql(
        &pg,
        Some("s3cr3t-pw"),
        "create table t (id int); insert into t values (1)",
    );
    let work = tempfile::tempdir().expect("tempdir");
    let into = work.path().join("pg");
    let env = [("PG_PASSWORD", "s3cr3t-pw")];
    let backup = format!(
        "secret PG_PASSWORD\nbackup postgres \"postgresql://ops:${{PG_PASSWORD}}@127.0.0.1:{}/postgres\" as b {{\n  into = \"{}\"\n}}\nbackup verify b.path\n",
        pg.port,
        into.display()
    );
    let (code, out, err) = run_runbook(&backup, &["run"], &env);
    assert_eq!(code, 0, "{out}{err}");
    // A listener that would receive the password if the name became a connection string.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    trap.set_nonblocking(true).expect("nonblocking");
    let trap_port = trap.local_addr().expect("addr").port();
    let restore = format!(
        "secret PG_PASSWORD\nparam db: string = \"restored\"\nrestore postgres \"{}\" {{\n  into = \"postgresql://ops:${{PG_PASSWORD}}@127.0.0.1:{}/${{db}}\"\n}}\n",
        into.display(),
        pg.port
    );
    let crafted = format!("db=dbname=postgres host=127.0.0.1 port={trap_port}");
    let (code, out, err) = run_runbook(&restore, &["run", "--set", &crafted], &env);
    assert_eq!(code, 1, "the restore must fail: {out}{err}");
    assert!(
        trap.accept().is_err(),
        "the crafted name redirected the restore to 127.0.0.1:{trap_port}"
    );
    assert!(
        (out.clone() + &err).contains("does not exist"),
        "the server was asked for a database of that name: {out}{err}"
    );
    assert!(!(out + &err).contains("s3cr3t-pw"));
}

#[test]
#[ignore = "services tier (PostgreSQL, Redis, OpenSSL): run scripts/test.sh"]
fn passwords_are_decoded_the_same_way_for_every_step() {
    // `+` stays a plus and `%25` is a percent sign: for the probe and for pg_dump alike.
    let pg = Postgres::with_password("p+ss%w0rd");
    let work = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "postgresql://ops:p+ss%25w0rd@127.0.0.1:{}/postgres",
        pg.port
    );
    let body = format!(
        "secret PG_URL\nprobe postgres PG_URL\nbackup postgres PG_URL as b {{\n  into = \"{}\"\n}}\nbackup verify b.path\n",
        work.path().join("pg").display()
    );
    let (code, out, err) = run_runbook(&body, &["run"], &[("PG_URL", &url)]);
    assert_eq!(code, 0, "{out}{err}");

    // A percent-encoded Redis password reaches redis-cli decoded, as it reaches the probe.
    let redis = Redis::with_password("r3d!s%pass");
    redis_cli(redis.port, Some("r3d!s%pass"), &["set", "k", "v"]);
    let url = format!("redis://:r3d%21s%25pass@127.0.0.1:{}", redis.port);
    let body = format!(
        "secret REDIS_URL\nprobe redis REDIS_URL\nbackup redis REDIS_URL as b {{\n  into = \"{}\"\n}}\nbackup verify b.path {{\n  deep = true\n}}\n",
        work.path().join("redis").display()
    );
    let (code, out, err) = run_runbook(&body, &["run"], &[("REDIS_URL", &url)]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn concurrent_backups_of_one_set_never_share_a_file() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).expect("src");
    for i in 0..50 {
        std::fs::write(src.join(format!("f{i}")), format!("{i}").repeat(2000)).expect("write");
    }
    let into = work.path().join("backups");
    // Two steps of one process, started at the same moment.
    let step = |name: &str| {
        format!(
            "  backup files \"{}\" as {name} {{\n    into = \"{}\"\n    set = \"same\"\n  }}\n",
            src.display(),
            into.display()
        )
    };
    let body = format!(
        "parallel {{\n{}{}}}\nbackup verify b1.path\nbackup verify b2.path\n",
        step("b1"),
        step("b2")
    );
    let (code, out, err) = run_runbook(&body, &["run"], &[]);
    assert_eq!(code, 0, "both backups are whole: {out}{err}");
    assert_eq!(files_with(&into, ".tar.zst").len(), 2);

    // Two processes, three times over: every backup lands under its own name.
    let file = work.path().join("b.rb.ops");
    std::fs::write(
        &file,
        format!(
            "runbook \"b\" {{\n  title = \"b\"\n  owner = \"qa\"\n}}\n{}",
            step("b").trim_start()
        ),
    )
    .expect("write");
    for round in 0..3 {
        let children: Vec<_> = (0..2)
            .map(|n| {
                // Two hosts' runs: each with its own lock state, so they really overlap.
                Command::new(env!("CARGO_BIN_EXE_ops"))
                    .arg("run")
                    .arg(&file)
                    .arg("--state-dir")
                    .arg(work.path().join(format!("state-{round}-{n}")))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("ops")
            })
            .collect();
        for mut c in children {
            assert!(c.wait().expect("wait").success());
        }
    }
    let all = files_with(&into, ".tar.zst");
    assert_eq!(all.len(), 8, "{all:?}");
    for path in &all {
        let (code, out, err) = run_runbook(
            &format!("backup verify \"{}\"\n", path.display()),
            &["run"],
            &[],
        );
        assert_eq!(code, 0, "{}: {out}{err}", path.display());
    }
    assert!(
        std::fs::read_dir(&into)
            .expect("dir")
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().contains(".partial-")),
        "no temporary file is left"
    );
}

#[test]
fn set_names_are_bounded_and_retention_counts_are_at_least_one() {
    let long = "s".repeat(200);
    let work = tempfile::tempdir().expect("tempdir");
    let into = work.path().join("b");
    let body = format!(
        "backup files \"{}\" {{\n  into = \"{}\"\n  set = \"{long}\"\n}}\n",
        work.path().display(),
        into.display()
    );
    let (code, out, _) = run_runbook(&body, &["check"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("OPS2043"), "{out}");
    assert!(out.contains("at most 100 characters"), "{out}");
    // The same name through a parameter fails at run time, before anything is written.
    let body = format!(
        "param set: string = \"x\"\nbackup files \"{}\" {{\n  into = \"{}\"\n  set = set\n}}\n",
        work.path().display(),
        into.display()
    );
    let (code, out, err) = run_runbook(&body, &["run", "--set", &format!("set={long}")], &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!((out + &err).contains("at most 100"));
    assert!(files_with(&into, "").is_empty(), "nothing was written");

    let body = "backup prune \"/tmp\" {\n  keep_last = -1\n}\n";
    let (code, out, _) = run_runbook(body, &["check"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("at least 1"), "{out}");
}

#[test]
fn prune_removes_what_dead_writers_left_and_nothing_else() {
    let work = tempfile::tempdir().expect("tempdir");
    let into = work.path().join("backups");
    let good = verified_files_backup(work.path(), &into, "conf");
    let mut dead = Command::new("true").spawn().expect("true");
    let dead_pid = dead.id();
    dead.wait().expect("wait");
    let dead_partial = into.join(format!(
        ".conf-20260101T000000.000Z.tar.zst.partial-{dead_pid}-abcdefgh"
    ));
    let live_partial = into.join(format!(
        ".conf-20260101T000001.000Z.tar.zst.partial-{}-abcdefgh",
        std::process::id()
    ));
    std::fs::write(&dead_partial, "half").expect("write");
    // A manifest whose backup never arrived (its writer died between the two renames).
    let orphan = into.join("conf-20250101T000000.000Z.tar.zst.manifest.json");
    let text = std::fs::read_to_string(stdlib::backup::manifest_path(&good)).expect("manifest");
    std::fs::write(
        &orphan,
        text.replace(
            good.file_name().and_then(|n| n.to_str()).expect("name"),
            "conf-20250101T000000.000Z.tar.zst",
        ),
    )
    .expect("write");
    let touched = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&orphan)
        .status()
        .expect("touch");
    assert!(touched.success());
    let body = format!(
        "backup prune \"{}\" {{\n  set = \"conf\"\n  keep_last = 5\n}}\n",
        into.display()
    );
    let (code, out, err) = run_runbook(&body, &["plan"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("removes 2 file(s) left by backups that did not finish"),
        "{out}"
    );
    // While a live process writes the set, its files and the set's manifests stay; and a
    // writer in another PID namespace or on another host, whose PID means nothing here,
    // is known by the lock it holds.
    std::fs::write(&live_partial, "in progress").expect("write");
    let foreign = into.join(".conf-20260101T000002.000Z.tar.zst.partial-4194000-abcdefgh");
    std::fs::write(&foreign, "written elsewhere").expect("write");
    let foreign_lock = std::fs::File::open(&foreign).expect("open");
    foreign_lock.lock().expect("lock");
    let (code, out, err) = run_runbook(&body, &["run"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!dead_partial.exists(), "the dead writer's file is removed");
    assert!(live_partial.exists(), "a live writer's file is kept");
    assert!(
        foreign.exists(),
        "a locked file is kept whatever its PID says"
    );
    assert!(
        orphan.exists(),
        "no manifest is removed while the set is being written"
    );
    std::fs::remove_file(&live_partial).expect("rm");
    drop(foreign_lock);
    std::fs::remove_file(&foreign).expect("rm");
    let (code, out, err) = run_runbook(&body, &["run"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!orphan.exists(), "the orphan manifest is removed");
    assert!(good.exists(), "the backup is kept");
}

#[test]
fn restores_refuse_failed_verifications_and_escaping_archives() {
    let work = tempfile::tempdir().expect("tempdir");
    let into = work.path().join("backups");
    let good = verified_files_backup(work.path(), &into, "conf");
    // Corrupt it and verify again: the verification fails and is recorded.
    let mut bytes = std::fs::read(&good).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&good, bytes).expect("write");
    let (code, _, _) = run_runbook(
        &format!("backup verify \"{}\"\n", good.display()),
        &["run"],
        &[],
    );
    assert_eq!(code, 1);
    let restore = |from: &Path, to: &Path| {
        run_runbook(
            &format!(
                "restore files \"{}\" {{\n  into = \"{}\"\n}}\n",
                from.display(),
                to.display()
            ),
            &["run"],
            &[],
        )
    };
    let (code, out, err) = restore(&good, &work.path().join("r1"));
    assert_eq!(code, 1, "{out}{err}");
    let text = out + &err;
    assert!(text.contains("failed its last verification"), "{text}");
    assert!(!text.contains("never verified"), "{text}");

    // An archive whose entries climb out of the target, with a manifest that says it
    // verified: the restore names them and writes nothing.
    let evil = into.join("evil-20260101T000000.000Z.tar.zst");
    let mut archive = tar::Builder::new(Vec::new());
    for (name, data) in [("ok.txt", &b"fine\n"[..]), ("../escaped.txt", b"owned\n")] {
        let mut header = tar::Header::new_gnu();
        header.as_gnu_mut().expect("gnu").name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append(&header, data).expect("append");
    }
    let tar_bytes = archive.into_inner().expect("tar");
    std::fs::write(&evil, zstd::encode_all(&tar_bytes[..], 3).expect("zstd")).expect("write");
    let (size, sha) = stdlib::backup::hash_file(&evil).expect("hash");
    let manifest = serde_json::json!({
        "version": 1, "kind": "files", "set": "evil",
        "file": "evil-20260101T000000.000Z.tar.zst", "source": "/nowhere",
        "started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:00:01Z",
        "size": size, "sha256": sha, "tools": {},
        "verified": { "at": "2026-01-01T00:00:02Z", "method": "sha256", "ok": true }
    });
    std::fs::write(stdlib::backup::manifest_path(&evil), manifest.to_string()).expect("write");
    let target = work.path().join("r2").join("inner");
    let (code, out, err) = restore(&evil, &target);
    assert_eq!(code, 1, "{out}{err}");
    let text = out + &err;
    assert!(text.contains("would land outside"), "{text}");
    assert!(text.contains("../escaped.txt"), "{text}");
    assert!(!work.path().join("r2/escaped.txt").exists());
    assert!(!target.join("ok.txt").exists(), "nothing was written");
}

/// PIDs of processes whose command line mentions `needle`.
fn processes_with(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(needle)
        {
            out.push(pid);
        }
    }
    out
}

#[test]
#[ignore = "services tier (PostgreSQL, Redis, OpenSSL): run scripts/test.sh"]
fn a_scratch_redis_server_dies_with_ops_and_keeps_its_data_private() {
    use std::os::unix::fs::PermissionsExt;
    let source = Redis::start();
    for i in 0..200 {
        redis_cli(source.port, None, &["set", &format!("k{i}"), "v"]);
    }
    let work = tempfile::tempdir().expect("tempdir");
    let into = work.path().join("redis");
    verified_redis_backup(source.port, &into);
    // A target that accepts the connection and then never answers INFO: the restore waits
    // there with its scratch server loaded.
    let target = Hostile::start(Hostility::SilentRedisInfo);
    let tmp = work.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp");
    let file = work.path().join("r.rb.ops");
    std::fs::write(
        &file,
        format!(
            "runbook \"r\" {{\n  title = \"r\"\n  owner = \"qa\"\n}}\nrestore redis \"{}\" {{\n  into = \"redis://127.0.0.1:{}\"\n}}\n",
            into.display(),
            target.port
        ),
    )
    .expect("write");
    let mut ops = Command::new(env!("CARGO_BIN_EXE_ops"))
        .arg("run")
        .arg(&file)
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ops");
    let tmp_text = tmp.to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (scratch, servers) = loop {
        let dirs: Vec<PathBuf> = std::fs::read_dir(&tmp)
            .expect("tmp")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().contains("ops-scratch-redis-"))
            .collect();
        let servers = processes_with(&tmp_text);
        if let Some(dir) = dirs.first()
            && dir.join("dump.rdb").exists()
            && !servers.is_empty()
        {
            break (dir.clone(), servers);
        }
        assert!(
            Instant::now() < deadline,
            "the scratch server never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&scratch), 0o700, "the scratch directory is private");
    assert_eq!(
        mode(&scratch.join("dump.rdb")),
        0o600,
        "the snapshot copy is private"
    );
    // SIGKILL: no handler runs in ops, yet its scratch server must go.
    if let Some(pid) = rustix::process::Pid::from_raw(ops.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
    ops.wait().expect("wait");
    let deadline = Instant::now() + Duration::from_secs(10);
    while servers
        .iter()
        .any(|pid| Path::new(&format!("/proc/{pid}")).exists())
    {
        // A killed child stays a zombie until reaped by init: a zombie is gone enough.
        let zombies = servers.iter().all(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
        });
        if zombies {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the scratch redis-server outlived ops: {servers:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs a runbook against a hostile server: it must fail within seconds, saying the
/// reply was too large, without the memory a full read would take.
fn refuses_endless_reply(body: &str) {
    let started = Instant::now();
    let (code, out, err) = run_runbook(body, &["run"], &[]);
    assert_eq!(code, 1, "{out}{err}");
    let text = out + &err;
    assert!(text.contains("in one reply"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(30), "{text}");
    let rss = children_max_rss_kib();
    assert!(rss < 300 * 1024, "a child used {rss} KiB");
}

#[test]
#[ignore = "services tier (PostgreSQL, Redis, OpenSSL): run scripts/test.sh"]
fn endless_replies_from_hostile_servers_are_cut() {
    let pg = Hostile::start(Hostility::EndlessPostgres);
    refuses_endless_reply(&format!(
        "probe postgres \"postgresql://ops@127.0.0.1:{}/postgres\"\n",
        pg.port
    ));
    let redis = Hostile::start(Hostility::EndlessRedis);
    refuses_endless_reply(&format!(
        "probe redis \"redis://127.0.0.1:{}\"\n",
        redis.port
    ));

    let source = Redis::start();
    redis_cli(source.port, None, &["set", "k", "v"]);
    let work = tempfile::tempdir().expect("tempdir");
    let into = work.path().join("redis");
    verified_redis_backup(source.port, &into);
    refuses_endless_reply(&format!(
        "restore redis \"{}\" {{\n  into = \"redis://127.0.0.1:{}\"\n}}\n",
        into.display(),
        redis.port
    ));
}

#[test]
fn a_failed_expectation_quotes_a_few_kib_of_a_large_body() {
    let body = vec![b'a'; 1 << 20];
    let server =
        HttpServer::start(move |_, _| Some(("200 OK".to_string(), Vec::new(), body.clone())));
    let work = tempfile::tempdir().expect("tempdir");
    let junit = work.path().join("junit.xml");
    let (code, out, err) = run_runbook(
        &format!(
            "probe http \"{}\" {{\n  expect body == \"ok\"\n}}\n",
            server.url("/big")
        ),
        &["run", "--report-junit", junit.to_str().expect("utf-8")],
        &[],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("(1048578 bytes in all)"),
        "{}",
        &err[..err.len().min(500)]
    );
    assert!(
        out.len() + err.len() < 32 * 1024,
        "{} bytes printed",
        out.len() + err.len()
    );
    let report = std::fs::metadata(&junit).expect("junit").len();
    assert!(report < 32 * 1024, "the JUnit report holds {report} bytes");
}
