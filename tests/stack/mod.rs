//! A compose project against the test engine: a private dockerd started by
//! `scripts/engine.sh` (socket, data and pidfile under /tmp/ops-engine; `.ci/run` stops it
//! by PID) and the offline test image `ops-test/busybox:1`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::services::run_runbook;

/// `compose up` of FILE as PROJECT, waiting for health; prints the counts.
pub const UP: &str = "compose up \"FILE\" as up {\n  project = \"PROJECT\"\n  wait = healthy\n  timeout 1m\n}\nnotify stdout \"created=${up.created} recreated=${up.recreated} kept=${up.kept}\"\n";

/// The offline test image.
pub const IMAGE: &str = "ops-test/busybox:1";

/// `DOCKER_HOST` of the test engine, started once per test binary.
pub fn engine() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let dir =
            std::env::var("OPS_ENGINE_DIR").unwrap_or_else(|_| String::from("/tmp/ops-engine"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/engine.sh");
        let out = Command::new(&script)
            .arg("start")
            .env("OPS_ENGINE_DIR", &dir)
            .output()
            .expect("scripts/engine.sh runs");
        assert!(
            out.status.success(),
            "the test engine did not start (needs docker.io and busybox-static):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        format!("unix://{dir}/docker.sock")
    })
}

/// Runs the docker CLI against the test engine; returns stdout (trimmed).
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", engine())
        .output()
        .expect("docker CLI");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A compose project in a temporary directory; removes its containers, networks and
/// volumes when dropped.
pub struct Stack {
    /// The project directory.
    pub dir: tempfile::TempDir,
    /// The project name.
    pub name: String,
}

impl Stack {
    pub fn new(name: &str, yaml: &str) -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("docker-compose.yml"), yaml).expect("write compose");
        let stack = Stack {
            dir,
            name: name.to_string(),
        };
        stack.cleanup();
        stack
    }

    pub fn file(&self) -> PathBuf {
        self.dir.path().join("docker-compose.yml")
    }

    pub fn write(&self, yaml: &str) {
        std::fs::write(self.file(), yaml).expect("rewrite compose");
    }

    /// Runs a runbook body with `FILE` replaced by the compose file and `PROJECT` by the name.
    pub fn run(&self, body: &str, args: &[&str]) -> (i32, String, String) {
        self.run_with(body, args, &[])
    }

    /// [`Stack::run`] with more environment variables.
    pub fn run_with(
        &self,
        body: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (i32, String, String) {
        let body = body
            .replace("FILE", &self.file().display().to_string())
            .replace("PROJECT", &self.name);
        let mut all = vec![("DOCKER_HOST", engine())];
        all.extend_from_slice(env);
        run_runbook(&body, args, &all)
    }

    pub fn containers(&self) -> Vec<String> {
        let out = docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.name),
            "--format",
            "{{.Names}}",
        ]);
        let mut names: Vec<String> = out.lines().map(str::to_string).collect();
        names.sort();
        names
    }

    pub fn id(&self, service: &str) -> String {
        docker(&[
            "inspect",
            "-f",
            "{{.Id}}",
            &format!("{}-{service}-1", self.name),
        ])
    }

    pub fn inspect(&self, service: &str, format: &str) -> String {
        docker(&[
            "inspect",
            "-f",
            format,
            &format!("{}-{service}-1", self.name),
        ])
    }

    /// Runs a shell command in a service's container; returns (exit code, stdout + stderr).
    pub fn exec(&self, service: &str, script: &str) -> (i32, String) {
        let out = Command::new("docker")
            .args([
                "exec",
                &format!("{}-{service}-1", self.name),
                "sh",
                "-c",
                script,
            ])
            .env("DOCKER_HOST", engine())
            .output()
            .expect("docker exec");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text.trim().to_string())
    }

    /// The soft and hard limits on open files of a service's main process, from
    /// `/proc/1/limits` (a shell started by `docker exec` may be given other limits).
    pub fn open_files(&self, service: &str) -> String {
        let (_, limits) = self.exec(service, "grep 'Max open files' /proc/1/limits");
        limits
            .split_whitespace()
            .skip(3)
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn networks(&self) -> String {
        docker(&[
            "network",
            "ls",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.name),
            "--format",
            "{{.Name}}",
        ])
    }

    pub fn volumes(&self) -> String {
        docker(&[
            "volume",
            "ls",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.name),
            "--format",
            "{{.Name}}",
        ])
    }

    pub fn cleanup(&self) {
        for c in self.containers() {
            docker(&["rm", "-f", &c]);
        }
        for n in self.networks().lines() {
            docker(&["network", "rm", n]);
        }
        for v in self.volumes().lines() {
            docker(&["volume", "rm", v]);
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.cleanup();
    }
}
