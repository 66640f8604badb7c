//! Real services for integration tests, started by the test itself on 127.0.0.1 and
//! stopped (by PID) when dropped: a throwaway PostgreSQL cluster, a Redis server, a
//! TLS server with a test CA, and small HTTP servers written here.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for_port(port: u16, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port} after {limit:?}");
}

/// The directory holding PostgreSQL's server binaries.
fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return PathBuf::from(dir);
    }
    for v in ["17", "16", "15"] {
        let dir = PathBuf::from(format!("/usr/lib/postgresql/{v}/bin"));
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    panic!(
        "PostgreSQL server binaries not found: install `postgresql` (see .ci/run) or set PG_BIN"
    );
}

/// A throwaway PostgreSQL cluster (trust auth, user `ops`), stopped on drop.
pub struct Postgres {
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Postgres {
    pub fn start() -> Postgres {
        Postgres::start_with(None)
    }

    /// A cluster whose user `ops` logs in with `password` (scram-sha-256, also on the
    /// Unix socket), so a wrongly decoded password fails.
    pub fn with_password(password: &str) -> Postgres {
        Postgres::start_with(Some(password))
    }

    fn start_with(password: Option<&str>) -> Postgres {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let bin = pg_bin();
        let as_root = rustix::process::geteuid().is_root();
        let run = |program: &Path, args: &[&str]| {
            let mut cmd = if as_root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(program);
                c
            } else {
                Command::new(program)
            };
            let out = cmd.args(args).output().expect("runs");
            assert!(
                out.status.success(),
                "{} failed: {}",
                program.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        if as_root {
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
        }
        let data_s = data.to_str().expect("utf-8");
        let pwfile = dir.path().join("pwfile");
        match password {
            None => run(
                &bin.join("initdb"),
                &["-D", data_s, "-A", "trust", "-U", "ops", "--no-sync"],
            ),
            Some(pw) => {
                std::fs::write(&pwfile, format!("{pw}\n")).expect("pwfile");
                if as_root {
                    Command::new("chown")
                        .args(["postgres:postgres"])
                        .arg(&pwfile)
                        .status()
                        .expect("chown");
                }
                let pwarg = format!("--pwfile={}", pwfile.display());
                run(
                    &bin.join("initdb"),
                    &[
                        "-D",
                        data_s,
                        "-A",
                        "scram-sha-256",
                        "-U",
                        "ops",
                        "--no-sync",
                        &pwarg,
                    ],
                );
            }
        }
        let port = free_port();
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.path().display()
        );
        let log = dir.path().join("log");
        run(
            &bin.join("pg_ctl"),
            &[
                "-D",
                data_s,
                "-o",
                &opts,
                "-l",
                log.to_str().expect("utf-8"),
                "-w",
                "start",
            ],
        );
        wait_for_port(port, Duration::from_secs(20));
        Postgres { dir, port }
    }

    pub fn url(&self) -> String {
        format!("postgresql://ops@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // The postmaster's PID is the first line of postmaster.pid.
        if let Ok(text) = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid"))
            && let Some(pid) = text
                .lines()
                .next()
                .and_then(|l| l.trim().parse::<i32>().ok())
        {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::QUIT);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A Redis server, killed on drop.
pub struct Redis {
    child: Child,
    _dir: tempfile::TempDir,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Redis {
        Redis::start_with(&[])
    }

    /// A server that requires `password` (`requirepass`).
    pub fn with_password(password: &str) -> Redis {
        Redis::start_with(&["--requirepass", password])
    }

    fn start_with(extra: &[&str]) -> Redis {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--daemonize",
                "no",
                // `redis-cli --rdb` would wait 5 s for more replicas to join.
                "--repl-diskless-sync-delay",
                "0",
            ])
            .args(extra)
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (install `redis-server`, see .ci/run)");
        wait_for_port(port, Duration::from_secs(10));
        Redis {
            child,
            _dir: dir,
            port,
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request as an HTTP server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What a test server answers: status line, extra headers, body.
pub type Answer = (String, Vec<(String, String)>, Vec<u8>);

/// A JSON answer with this status line.
pub fn ok(status: &str, body: &str) -> Option<Answer> {
    Some((
        status.to_string(),
        vec![("content-type".into(), "application/json".into())],
        body.as_bytes().to_vec(),
    ))
}

/// An HTTP/1.1 server on 127.0.0.1 answering with `handler` (request number from 0);
/// it records every request.
pub struct HttpServer {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl HttpServer {
    pub fn start(
        handler: impl Fn(usize, &Seen) -> Option<Answer> + Send + Sync + 'static,
    ) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let handler = handler.clone();
                let record = record.clone();
                std::thread::spawn(move || serve(stream, &*handler, &record));
            }
        });
        HttpServer { port, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }
}

fn serve(
    mut stream: std::net::TcpStream,
    handler: &(dyn Fn(usize, &Seen) -> Option<Answer> + Send + Sync),
    record: &Mutex<Vec<Seen>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = stream.read(&mut chunk) else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let Ok(n) = stream.read(&mut chunk) else {
            break;
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
    let request = Seen {
        method,
        path,
        headers,
        body,
    };
    let number = {
        let mut r = record.lock().expect("record");
        r.push(request.clone());
        r.len() - 1
    };
    let Some((status, extra, body)) = handler(number, &request) else {
        // Accept and never answer.
        std::thread::sleep(Duration::from_secs(120));
        return;
    };
    let mut head = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
    for (k, v) in &extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !extra.iter().any(|(k, _)| k == "content-length") {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

/// A test CA and a leaf certificate for 127.0.0.1 / localhost (openssl).
pub struct TestCa {
    pub dir: tempfile::TempDir,
}

impl TestCa {
    pub fn create() -> TestCa {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let sh = format!(
            "set -e; cd {}; \
             openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ops-test-ca 2>/dev/null; \
             openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=localhost 2>/dev/null; \
             printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext; \
             openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -days 2 -extfile ext 2>/dev/null",
            d.display()
        );
        let status = Command::new("sh")
            .args(["-c", &sh])
            .status()
            .expect("openssl");
        assert!(status.success(), "creating the test CA failed");
        TestCa { dir }
    }

    pub fn ca(&self) -> String {
        self.dir.path().join("ca.pem").display().to_string()
    }
}

/// `openssl s_server -www` with the leaf certificate: a real TLS server.
pub struct TlsServer {
    child: Child,
    pub port: u16,
}

impl TlsServer {
    pub fn start(ca: &TestCa) -> TlsServer {
        let port = free_port();
        let d = ca.dir.path();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(port.to_string())
            .arg("-cert")
            .arg(d.join("leaf.pem"))
            .arg("-key")
            .arg(d.join("leaf.key"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        wait_for_port(port, Duration::from_secs(10));
        TlsServer { child, port }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `ops ARGS` in `dir` with `env` (no colour, no step summary, no stdin); returns
/// (exit code, stdout, stderr).
pub fn ops_in(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ops"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("ops runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes a runbook (metadata added) to a temporary file and runs `ops ARGS FILE`;
/// returns (exit code, stdout, stderr).
pub fn run_runbook(body: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("t.rb.ops");
    std::fs::write(
        &file,
        format!("runbook \"t\" {{\n  title = \"t\"\n  owner = \"qa\"\n}}\n\n{body}"),
    )
    .expect("write runbook");
    let mut all = args.to_vec();
    all.push(file.to_str().expect("utf-8 path"));
    let here = std::env::current_dir().expect("cwd");
    let (code, out, err) = ops_in(&all, &here, env);
    // Diagnostics wrap long messages at 100 columns with "\n  │ ": unwrap them.
    (code, out, err.replace("\n  │ ", " "))
}

/// What a hostile server does once a client has said its first words.
#[derive(Clone, Copy, Debug)]
pub enum Hostility {
    /// Claims a PostgreSQL message of 2 GiB and streams it forever.
    EndlessPostgres,
    /// Claims a Redis bulk string of 2 GB and streams it forever.
    EndlessRedis,
    /// Answers `+OK` to every Redis command, except `INFO`, which it never answers.
    SilentRedisInfo,
}

/// A TCP server on 127.0.0.1 that misbehaves; counts the connections it accepted.
pub struct Hostile {
    pub port: u16,
    pub connections: Arc<Mutex<usize>>,
}

impl Hostile {
    pub fn start(how: Hostility) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(Mutex::new(0usize));
        let count = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                *count.lock().expect("count") += 1;
                std::thread::spawn(move || misbehave(stream, how));
            }
        });
        Hostile { port, connections }
    }

    pub fn connections(&self) -> usize {
        *self.connections.lock().expect("count")
    }
}

fn misbehave(mut stream: std::net::TcpStream, how: Hostility) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let mut buf = [0u8; 8192];
    let Ok(n) = stream.read(&mut buf) else {
        return;
    };
    let junk = vec![b'x'; 64 * 1024];
    let endless = |stream: &mut std::net::TcpStream, head: &[u8]| {
        if stream.write_all(head).is_err() {
            return;
        }
        // At most 4 GiB, so a test that fails never fills the machine.
        for _ in 0..(1 << 16) {
            if stream.write_all(&junk).is_err() {
                return;
            }
        }
    };
    match how {
        Hostility::EndlessPostgres => {
            // An authentication request ('R') whose length says 2 GiB.
            endless(&mut stream, &[b'R', 0x7f, 0xff, 0xff, 0xf0]);
        }
        Hostility::EndlessRedis => endless(&mut stream, b"$2000000000\r\n"),
        Hostility::SilentRedisInfo => {
            let mut seen = buf[..n].to_vec();
            loop {
                let text = String::from_utf8_lossy(&seen).to_ascii_uppercase();
                let commands = text.matches('*').count();
                // The command `INFO` (not `CLIENT SETINFO`).
                if text.contains("$4\r\nINFO\r\n") {
                    std::thread::sleep(Duration::from_secs(120));
                    return;
                }
                for _ in 0..commands {
                    if stream.write_all(b"+OK\r\n").is_err() {
                        return;
                    }
                }
                seen.clear();
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
        }
    }
}

/// The largest resident set of any child this test process waited for, in KiB.
#[allow(unsafe_code)] // rustix has no getrusage.
pub fn children_max_rss_kib() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the buffer it is given; it is read only after that.
    unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init().ru_maxrss
    }
}

/// Starts `ops ARGS` in the background (no colour, no inherited state directory or
/// step summary), its output piped.
pub fn spawn_ops(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ops"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("OPS_STATE_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ops starts")
}
