//! Backups, verification, retention and restores against real data: a directory tree, a
//! throwaway PostgreSQL cluster loaded by `pgbench -i`, and a Redis server with keys.

mod services;

use std::path::{Path, PathBuf};
use std::process::Command;

use services::*;

fn tree(root: &Path) {
    std::fs::create_dir_all(root.join("conf/nested")).expect("dirs");
    std::fs::write(root.join("conf/app.yaml"), "port: 8080\n").expect("write");
    std::fs::write(root.join("conf/nested/secret.key"), "k3y").expect("write");
    std::fs::write(
        root.join("data.bin"),
        (0..200_000u32)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    )
    .expect("write");
    std::fs::write(root.join("debug.log"), "noise\n").expect("write");
}

fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.zst"))
        .collect();
    files.sort();
    files
}

fn files_backup(src: &Path, into: &Path) -> (i32, String, String) {
    run_runbook(
        &format!(
            "backup files \"{}\" as b {{\n  into = \"{}\"\n  set = \"conf\"\n  exclude = [\"*.log\"]\n}}\nnotify stdout \"${{b.path}} ${{b.size}} ${{b.sha256}}\"\n",
            src.display(),
            into.display()
        ),
        &["run"],
        &[],
    )
}

fn verify(path: &Path) -> (i32, String, String) {
    run_runbook(
        &format!("backup verify \"{}\"\n", path.display()),
        &["run"],
        &[],
    )
}

#[test]
fn files_backup_verify_restore_round_trip() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    let into = work.path().join("backups");
    tree(&src);
    let (code, out, err) = files_backup(&src, &into);
    assert_eq!(code, 0, "{out}{err}");
    let files = backups(&into);
    assert_eq!(files.len(), 1);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(stdlib::backup::manifest_path(&files[0])).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["kind"], "files");
    assert_eq!(manifest["set"], "conf");
    assert!(manifest["verified"].is_null());
    let (size, sha) = stdlib::backup::hash_file(&files[0]).expect("hash");
    assert_eq!(manifest["sha256"], sha.as_str());
    assert_eq!(manifest["size"], size);
    assert!(out.contains(&sha), "the step outputs the sha256: {out}");
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(&into).expect("dir").count(), 2);

    // A restore refuses an unverified backup.
    let target = work.path().join("restored");
    let restore = format!(
        "restore files \"{}\" {{\n  into = \"{}\"\n}}\n",
        into.display(),
        target.display()
    );
    let (code, _, err) = run_runbook(&restore, &["run"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("holds no verified backup"), "{err}");

    let (code, out, err) = run_runbook(
        &format!(
            "backup verify \"{}\" {{\n  deep = true\n}}\n",
            files[0].display()
        ),
        &["run"],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(stdlib::backup::manifest_path(&files[0])).expect("manifest"),
    )
    .expect("json");
    assert_eq!(
        manifest["verified"]["method"],
        "sha256 + tar listing (5 entries) + extracted into a scratch directory (3 files)"
    );
    let (code, out, err) = run_runbook(&restore, &["run"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    for rel in ["conf/app.yaml", "conf/nested/secret.key", "data.bin"] {
        assert_eq!(
            std::fs::read(src.join(rel)).expect("src"),
            std::fs::read(target.join(rel)).expect("restored"),
            "{rel}"
        );
    }
    assert!(!target.join("debug.log").exists(), "excluded by the glob");
    // A second restore into the same (now non-empty) directory is refused.
    let (code, _, err) = run_runbook(&restore, &["run"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("is not empty"), "{err}");
}

#[test]
fn verify_detects_every_flipped_byte_and_truncation() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    let into = work.path().join("backups");
    tree(&src);
    assert_eq!(files_backup(&src, &into).0, 0);
    let original = backups(&into).remove(0);
    let bytes = std::fs::read(&original).expect("read");
    let manifest = stdlib::backup::manifest_path(&original);
    let corrupt_dir = work.path().join("corrupt");
    std::fs::create_dir_all(&corrupt_dir).expect("dir");
    let corrupt = corrupt_dir.join(original.file_name().expect("name"));
    let corrupt_manifest = stdlib::backup::manifest_path(&corrupt);
    // 60 random positions, one flipped bit each, through the real `ops` binary.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut detected = 0;
    for _ in 0..60 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let pos = (seed % bytes.len() as u64) as usize;
        let mut flipped = bytes.clone();
        flipped[pos] ^= 1 << (seed % 8);
        std::fs::write(&corrupt, &flipped).expect("write");
        std::fs::copy(&manifest, &corrupt_manifest).expect("copy");
        let (code, _, err) = verify(&corrupt);
        assert_eq!(code, 1, "a flipped bit at {pos} was not detected");
        assert!(
            err.contains("failed verification") && err.contains("corrupt"),
            "{err}"
        );
        detected += 1;
    }
    assert_eq!(detected, 60);
    // Truncated.
    std::fs::write(&corrupt, &bytes[..bytes.len() / 2]).expect("write");
    std::fs::copy(&manifest, &corrupt_manifest).expect("copy");
    assert_eq!(verify(&corrupt).0, 1);
    // The failure is recorded, and a restore refuses it.
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&corrupt_manifest).expect("manifest"))
            .expect("json");
    assert_eq!(recorded["verified"]["ok"], false);
    let (code, _, err) = run_runbook(
        &format!(
            "restore files \"{}\" {{\n  into = \"{}\"\n}}\n",
            corrupt.display(),
            work.path().join("r").display()
        ),
        &["run"],
        &[],
    );
    assert_eq!(code, 1);
    // It says the verification failed (not that there was none).
    assert!(err.contains("failed its last verification"), "{err}");
    // The untouched original still verifies.
    assert_eq!(verify(&original).0, 0);
}

#[test]
fn prune_keeps_the_newest_verified_backup_and_the_plan_lists_deletions() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    let into = work.path().join("backups");
    tree(&src);
    for _ in 0..4 {
        assert_eq!(files_backup(&src, &into).0, 0);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let all = backups(&into);
    assert_eq!(all.len(), 4);
    // Only the oldest is verified.
    assert_eq!(verify(&all[0]).0, 0);
    let prune = format!(
        "backup prune \"{}\" {{\n  set = \"conf\"\n  keep_last = 1\n}}\n",
        into.display()
    );
    let (code, out, _) = run_runbook(&prune, &["plan"], &[]);
    assert_eq!(code, 0, "{out}");
    let name = |p: &PathBuf| p.file_name().expect("name").to_string_lossy().into_owned();
    assert!(
        out.contains(&format!(
            "would: deletes 2 in {}: {}, {}",
            into.display(),
            name(&all[1]),
            name(&all[2])
        )),
        "{out}"
    );
    assert_eq!(backups(&into).len(), 4, "the plan deleted nothing");
    let (code, out, err) = run_runbook(&prune, &["run"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(backups(&into), vec![all[0].clone(), all[3].clone()]);
    // An empty policy is refused before anything runs.
    let (code, out, _) = run_runbook(
        &format!("backup prune \"{}\"\n", into.display()),
        &["plan"],
        &[],
    );
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("a prune needs a policy"), "{out}");
}

#[test]
#[ignore = "services tier (PostgreSQL, Redis, OpenSSL): run scripts/test.sh"]
fn postgres_dr_drill_backup_verify_restore_probe_prune() {
    let pg = Postgres::start();
    let url = pg.url();
    let status = Command::new("pgbench")
        .args(["-i", "-s", "1", "-q"])
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", pg.port.to_string())
        .env("PGUSER", "ops")
        .env("PGDATABASE", "postgres")
        .output()
        .expect("pgbench");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let created = Command::new("createdb")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            "ops",
            "scratch",
        ])
        .output()
        .expect("createdb");
    assert!(created.status.success());
    let work = tempfile::tempdir().expect("tempdir");
    let scratch = format!("postgresql://ops@127.0.0.1:{}/scratch", pg.port);
    let drill = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/data/dr-drill.rb.ops"),
    )
    .expect("the DR drill runbook");
    let file = work.path().join("dr-drill.rb.ops");
    std::fs::write(&file, drill).expect("write");
    let into = work.path().join("pg");
    let out = Command::new(env!("CARGO_BIN_EXE_ops"))
        .arg("run")
        .arg(&file)
        .args(["--set", &format!("backup_dir={}", into.display()), "--yes"])
        .env("DATABASE_URL", &url)
        .env("SCRATCH_URL", &scratch)
        .env("NO_COLOR", "1")
        .output()
        .expect("ops runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("restored 100000 accounts"), "{stdout}");
    assert!(
        !stdout.contains(&url) && !stdout.contains("ops@127.0.0.1"),
        "connection strings are secrets: {stdout}"
    );
    // A deep check restores the newest backup into a scratch database and drops it.
    let deep = format!(
        "secret SCRATCH\nbackup verify \"{}\" {{\n  set = \"main\"\n  deep = true\n  scratch = SCRATCH\n}}\n",
        into.display()
    );
    let (code, out, err) = run_runbook(&deep, &["run"], &[("SCRATCH", &url)]);
    assert_eq!(code, 0, "{out}{err}");
    let newest = std::fs::read_dir(&into)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pgdump"))
        .max()
        .expect("a dump");
    let manifest =
        std::fs::read_to_string(stdlib::backup::manifest_path(&newest)).expect("manifest");
    assert!(
        manifest.contains("restored into a scratch database (4 tables), then dropped it"),
        "{manifest}"
    );
    let left = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            "ops",
            "-d",
            "postgres",
        ])
        .args([
            "-Atc",
            "select count(*) from pg_database where datname like 'ops_verify_%'",
        ])
        .output()
        .expect("psql");
    assert_eq!(
        String::from_utf8_lossy(&left.stdout).trim(),
        "0",
        "the scratch database is dropped"
    );
    // Without `scratch` the deep check says what it needs.
    let (code, _, err) = run_runbook(
        &deep.replace("  scratch = SCRATCH\n", ""),
        &["run"],
        &[("SCRATCH", &url)],
    );
    assert_eq!(code, 1);
    assert!(err.contains("needs `scratch = URL`"), "{err}");

    // The live preflight reads the source's size; an unreachable source fails it.
    let plan = format!(
        "secret DB\nbackup postgres DB {{\n  into = \"{}\"\n}}\n",
        into.display()
    );
    let (code, out, err) = run_runbook(&plan, &["plan", "--preflight"], &[("DB", &url)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("database `postgres` is") && out.contains("MiB on disk"),
        "{out}"
    );
    let (code, out, _) = run_runbook(
        &plan,
        &["plan", "--preflight"],
        &[(
            "DB",
            &format!("postgresql://ops@127.0.0.1:{}/postgres", free_port()),
        )],
    );
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("would fail: cannot connect to the source"),
        "{out}"
    );

    // A wrong port gives a clear error.
    let (code, _, err) = run_runbook(
        &format!(
            "secret DB\nbackup postgres DB {{\n  into = \"{}\"\n}}\n",
            into.display()
        ),
        &["run"],
        &[(
            "DB",
            &format!("postgresql://ops@127.0.0.1:{}/postgres", free_port()),
        )],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("pg_dump failed") && err.contains("connection"),
        "{err}"
    );
}

#[test]
#[ignore = "services tier (PostgreSQL, Redis, OpenSSL): run scripts/test.sh"]
fn redis_backup_and_verify() {
    let redis = Redis::start();
    let set = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "set", "greeting", "hello"])
        .output()
        .expect("redis-cli");
    assert!(set.status.success());
    let work = tempfile::tempdir().expect("tempdir");
    let into = work.path().join("redis");
    let (code, out, err) = run_runbook(
        &format!(
            "secret REDIS_URL\nbackup redis REDIS_URL as b {{\n  into = \"{}\"\n}}\nbackup verify b.path\n",
            into.display()
        ),
        &["run"],
        &[("REDIS_URL", &format!("redis://127.0.0.1:{}", redis.port))],
    );
    assert_eq!(code, 0, "{out}{err}");
    let rdb = std::fs::read_dir(&into)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "rdb"))
        .expect("an rdb file");
    let bytes = std::fs::read(&rdb).expect("read");
    assert!(bytes.starts_with(b"REDIS"));
    assert!(bytes.windows(5).any(|w| w == b"hello"));
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli");
    assert!(out.status.success(), "redis-cli {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
#[ignore = "services tier (PostgreSQL, Redis, OpenSSL): run scripts/test.sh"]
fn redis_backup_deep_verify_and_restore_into_a_fresh_server() {
    let source = Redis::start();
    let p = source.port;
    redis_cli(p, &["set", "greeting", "hello"]);
    redis_cli(p, &["set", "session", "s1", "EX", "3600"]);
    redis_cli(p, &["hset", "user:1", "name", "ada", "role", "admin"]);
    redis_cli(p, &["rpush", "queue", "a", "b", "c"]);
    redis_cli(p, &["-n", "2", "set", "other-db", "yes"]);
    for i in 0..1200 {
        redis_cli(p, &["set", &format!("k{i}"), &i.to_string()]);
    }
    let work = tempfile::tempdir().expect("tempdir");
    let into = work.path().join("redis");
    let src_url = format!("redis://127.0.0.1:{p}");
    // The live preflight asks the source for its size, read-only.
    let body = format!(
        "secret REDIS_URL\nbackup redis REDIS_URL as b {{\n  into = \"{}\"\n  set = \"cache\"\n}}\nbackup verify b.path {{\n  deep = true\n}}\n",
        into.display()
    );
    let (code, out, err) = run_runbook(&body, &["plan", "--preflight"], &[("REDIS_URL", &src_url)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1205 keys,"), "{out}");
    assert!(out.contains("free"), "{out}");
    assert!(!into.exists(), "a plan writes nothing");
    let (code, out, err) = run_runbook(&body, &["run"], &[("REDIS_URL", &src_url)]);
    assert_eq!(code, 0, "{out}{err}");
    let rdb = std::fs::read_dir(&into)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "rdb"))
        .expect("an rdb file");
    let manifest = std::fs::read_to_string(stdlib::backup::manifest_path(&rdb)).expect("manifest");
    assert!(
        manifest.contains("loaded by redis-server (1205 keys)"),
        "{manifest}"
    );

    // Restore into a fresh server: every key, type, TTL and database arrives.
    let target = Redis::start();
    let t = target.port;
    let restore = format!(
        "secret TARGET\nrestore redis \"{}\" as r {{\n  into = TARGET\n  set = \"cache\"\n}}\nnotify stdout \"restored ${{r.keys}} keys\"\n",
        into.display()
    );
    let target_url = format!("redis://127.0.0.1:{t}");
    let (code, out, err) = run_runbook(&restore, &["run"], &[("TARGET", &target_url)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("restored 1205 keys"), "{out}");
    assert_eq!(redis_cli(t, &["get", "greeting"]), "hello");
    assert_eq!(redis_cli(t, &["hget", "user:1", "role"]), "admin");
    assert_eq!(redis_cli(t, &["lrange", "queue", "0", "-1"]), "a\nb\nc");
    assert_eq!(redis_cli(t, &["get", "k1199"]), "1199");
    assert_eq!(redis_cli(t, &["-n", "2", "get", "other-db"]), "yes");
    let ttl: i64 = redis_cli(t, &["ttl", "session"]).parse().expect("ttl");
    assert!((3500..=3600).contains(&ttl), "the TTL travels: {ttl}");
    assert_eq!(redis_cli(t, &["ttl", "greeting"]), "-1");

    // A second restore into the now non-empty target is refused; `replace` overwrites.
    redis_cli(t, &["set", "greeting", "changed"]);
    let (code, _, err) = run_runbook(&restore, &["run"], &[("TARGET", &target_url)]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "the target is not empty (database 0 holds 1204 keys, database 2 holds 1 keys)"
        ),
        "{err}"
    );
    assert_eq!(
        redis_cli(t, &["get", "greeting"]),
        "changed",
        "nothing was touched"
    );
    let replace = restore.replace(
        "  set = \"cache\"\n",
        "  set = \"cache\"\n  replace = true\n",
    );
    let (code, out, err) = run_runbook(&replace, &["run"], &[("TARGET", &target_url)]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(redis_cli(t, &["get", "greeting"]), "hello");

    // A URL naming one database cannot take a snapshot of two.
    let (code, _, err) = run_runbook(
        &restore,
        &["run"],
        &[("TARGET", &format!("{target_url}/5"))],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("the snapshot holds 2 databases (db0, db2)"),
        "{err}"
    );
    assert!(!err.contains(&target_url) && !out.contains(&target_url));

    // A corrupt snapshot is never restored.
    let mut bytes = std::fs::read(&rdb).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&rdb, &bytes).expect("write");
    let (code, _, err) = run_runbook(&replace, &["run"], &[("TARGET", &target_url)]);
    assert_eq!(code, 1);
    assert!(
        err.contains("refusing to restore") && err.contains("corrupt"),
        "{err}"
    );
}

fn runbook_file(dir: &Path, body: &str) -> PathBuf {
    let file = dir.join("b.rb.ops");
    std::fs::write(
        &file,
        format!("runbook \"b\" {{\n  title = \"b\"\n  owner = \"qa\"\n}}\n\n{body}"),
    )
    .expect("write");
    file
}

#[test]
fn a_full_disk_leaves_no_backup_behind() {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).expect("dir");
    // Incompressible data, so the archive outgrows the file-size limit below.
    let mut seed = 1u64;
    let noise: Vec<u8> = (0..2_000_000)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u8
        })
        .collect();
    std::fs::write(src.join("noise.bin"), noise).expect("write");
    let into = work.path().join("backups");
    let file = runbook_file(
        work.path(),
        &format!(
            "backup files \"{}\" {{\n  into = \"{}\"\n}}\n",
            src.display(),
            into.display()
        ),
    );
    // RLIMIT_FSIZE (with SIGXFSZ ignored) makes writes fail like a full disk: EFBIG.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 512; exec {} run {}",
            env!("CARGO_BIN_EXE_ops"),
            file.display()
        ))
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).replace("\n  │ ", " ");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("File too large") || stderr.contains("too large"),
        "{stderr}"
    );
    let left: Vec<String> = std::fs::read_dir(&into)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "a failed backup left {left:?}");
}

#[test]
#[ignore = "services tier (PostgreSQL, Redis, OpenSSL): run scripts/test.sh"]
fn a_killed_backup_never_leaves_a_file_under_a_final_name() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().expect("tempdir");
    // A pg_dump that starts writing and then hangs, so the backup is surely in flight.
    let fakebin = work.path().join("bin");
    std::fs::create_dir_all(&fakebin).expect("dir");
    let fake = fakebin.join("pg_dump");
    std::fs::write(
        &fake,
        "#!/bin/sh\nprintf 'PGDMP-partial-dump'\nexec sleep 5\n",
    )
    .expect("write");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let into = work.path().join("backups");
    let file = runbook_file(
        work.path(),
        &format!(
            "secret DB\nbackup postgres DB {{\n  into = \"{}\"\n}}\n",
            into.display()
        ),
    );
    let path = format!(
        "{}:{}",
        fakebin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_ops"))
        .arg("run")
        .arg(&file)
        .env("PATH", path)
        .env("DB", "postgresql://ops@127.0.0.1:1/db")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ops starts");
    let partial_written = || {
        std::fs::read_dir(&into).is_ok_and(|d| {
            d.flatten().any(|e| {
                e.file_name().to_string_lossy().contains(".partial-")
                    && e.metadata().is_ok_and(|m| m.len() > 0)
            })
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline && !partial_written() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(partial_written(), "the backup had started writing");
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let names: Vec<String> = std::fs::read_dir(&into)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.starts_with('.') && n.contains(".partial-")),
        "{names:?}"
    );
    // Nothing there counts as a backup.
    let (code, _, err) = run_runbook(
        &format!("backup verify \"{}\"\n", into.display()),
        &["run"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("holds no backup"), "{err}");
}
