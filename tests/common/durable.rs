//! The kill-and-resume harness: start a run, `kill -9` it at a random moment, resume it
//! (killing some resumes too) until an attempt ends ok; then read the journal to count
//! the mutating steps that ran more than once and were not confirmed cut-off re-runs.

use std::collections::HashMap;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

/// A small deterministic generator; the seed is printed so a failure can be replayed
/// (`OPS_TEST_SEED=N`).
pub struct Lcg(u64);

impl Lcg {
    /// Seeded from `OPS_TEST_SEED` or the clock.
    pub fn from_env() -> Lcg {
        let seed = std::env::var("OPS_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_secs())
            });
        eprintln!("OPS_TEST_SEED={seed}");
        Lcg(seed)
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// What one trial did.
#[derive(Debug, Default)]
pub struct Trial {
    /// `kill -9`s sent.
    pub kills: usize,
    /// Steps resume ran again because they were cut off (confirmed with `--yes`).
    pub cut_off_reruns: Vec<String>,
    /// Mutating steps that started in two attempts without being a confirmed re-run.
    pub recorded_twice: Vec<String>,
    /// The run id.
    pub run: String,
}

/// Runs `run` (an `ops` argv), kills it after a random moment below `span`, then `resume`
/// (an `ops resume --yes ...` argv) until an attempt ends ok; `spawn` starts `ops ARGS`.
pub fn trial(
    spawn: &dyn Fn(&[&str]) -> Child,
    run: &[&str],
    resume: &[&str],
    state: &Path,
    span: Duration,
    rng: &mut Lcg,
) -> Trial {
    let mut t = Trial::default();
    let mut attempt = 0;
    loop {
        let args = if attempt == 0 { run } else { resume };
        let mut child = spawn(args);
        let kill = attempt < 3 && (attempt == 0 || rng.next().is_multiple_of(2));
        if kill {
            let ms = 20 + rng.next() % span.as_millis().max(21) as u64;
            std::thread::sleep(Duration::from_millis(ms));
            let _ = child.kill();
            t.kills += 1;
        }
        let out = child.wait_with_output().expect("ops ends");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        attempt += 1;
        // A journal with its header: killed before that, nothing of the run exists.
        let journaled = std::fs::read_dir(state.join("runs"))
            .map(|d| d.flatten().any(|e| e.metadata().is_ok_and(|m| m.len() > 0)))
            .unwrap_or(false);
        if out.status.success() || err.contains("ended ok") {
            // Done (a kill that landed after the run recorded its end changes nothing).
            break;
        }
        if !journaled {
            // Killed before its journal had a header: nothing ran; start again (the empty
            // file of that run is not a run).
            for e in std::fs::read_dir(state.join("runs"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let _ = std::fs::remove_file(e.path());
            }
            attempt = 0;
            continue;
        }
        assert!(
            kill,
            "attempt {attempt} failed without being killed:\n{}{err}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(attempt < 20, "no attempt ended");
    }
    let runs: Vec<_> = std::fs::read_dir(state.join("runs"))
        .expect("runs")
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1, "one run per trial");
    let path = runs[0].path();
    t.run = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let text = std::fs::read_to_string(&path).expect("journal");
    let (reruns, twice) = twice(&text);
    t.cut_off_reruns = reruns;
    t.recorded_twice = twice;
    t
}

/// The confirmed cut-off re-runs, and the mutating steps whose first attempt started
/// more often than once plus their confirmed re-runs.
pub fn twice(journal: &str) -> (Vec<String>, Vec<String>) {
    let mut mutating = Vec::new();
    let mut started: HashMap<String, usize> = HashMap::new();
    let mut reruns = Vec::new();
    for line in journal.lines() {
        let Ok(j) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match j["event"].as_str().unwrap_or_default() {
            "journal_started" => {
                for s in j["shape"].as_array().cloned().unwrap_or_default() {
                    if s["effect"] == "mutating" {
                        mutating.push(s["id"].as_str().unwrap_or_default().to_string());
                    }
                }
            }
            "resumed" => {
                for id in j["rerun"].as_array().cloned().unwrap_or_default() {
                    reruns.push(id.as_str().unwrap_or_default().to_string());
                }
            }
            "step_started" if j["attempt"] == 1 => {
                *started
                    .entry(j["id"].as_str().unwrap_or_default().to_string())
                    .or_default() += 1;
            }
            _ => {}
        }
    }
    let mut twice: Vec<String> = started
        .into_iter()
        .filter(|(id, n)| {
            mutating.contains(id) && *n > 1 + reruns.iter().filter(|r| *r == id).count()
        })
        .map(|(id, n)| format!("{id} ({n}×)"))
        .collect();
    twice.sort();
    (reruns, twice)
}

/// Processes whose command line mentions `marker` (left behind by a killed run).
pub fn leftovers(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(marker) && !cmd.contains("cargo") {
                found.push(cmd);
            }
        }
    }
    found
}
