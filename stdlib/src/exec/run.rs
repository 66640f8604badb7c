//! Running a program: argv without a shell, its own process group (killed as a whole
//! when the step times out or is cancelled), output captured up to a cap and streamed.

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use interpreter::redact::LineBuffer;
use interpreter::step::{Outputs, StepContext, StepError, StepInput};
use interpreter::value::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// Lines of output streamed to the terminal at most per stream (all are captured up to
/// `max_output`).
const MAX_STREAMED_LINES: usize = 10;

/// Process groups of commands still running, for [`kill_all`].
use rustix::process::{Pid, Signal};

fn live_groups() -> &'static Mutex<HashSet<i32>> {
    static LIVE: OnceLock<Mutex<HashSet<i32>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(HashSet::new()))
}

fn kill_group(pgid: i32, signal: Signal) {
    // The group may be gone already: nothing left to signal.
    if let Some(pgid) = Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pgid, signal);
    }
}

/// Kills every command's process group still running: for an immediate exit (a second
/// Ctrl-C), which skips the destructors that would otherwise do it.
pub fn kill_all() {
    if let Ok(groups) = live_groups().lock() {
        for pgid in groups.iter() {
            kill_group(*pgid, Signal::KILL);
        }
    }
}

/// Kills the whole process group when dropped (timeout, Ctrl-C, or normal exit).
struct GroupGuard(Option<i32>);

impl GroupGuard {
    fn new(pgid: Option<i32>) -> GroupGuard {
        if let (Some(pgid), Ok(mut groups)) = (pgid, live_groups().lock()) {
            groups.insert(pgid);
        }
        GroupGuard(pgid)
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            kill_group(pgid, Signal::KILL);
            if let Ok(mut groups) = live_groups().lock() {
                groups.remove(&pgid);
            }
        }
    }
}

/// Runs the argv of `input` and returns `exit`, `stdout`, `stderr`, `duration`.
pub async fn run(input: &StepInput, ctx: &StepContext) -> Result<Outputs, StepError> {
    let argv: Vec<String> = input
        .target
        .as_ref()
        .and_then(Value::as_list)
        .map(|items| items.iter().map(Value::interpolated).collect())
        .unwrap_or_default();
    let Some((program, args)) = argv.split_first() else {
        return Err(StepError::fatal("the argv list is empty"));
    };
    let max = input
        .attr("max_output")
        .and_then(Value::as_size)
        .unwrap_or(1 << 20) as usize;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if input.attr("stdin").is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // A `kill -9` of ops takes the command with it: it must not go on unrecorded while
    // a resume runs the step again.
    crate::backup::tools::die_with_parent(&mut cmd);
    if let Some(cwd) = input.str("cwd") {
        cmd.current_dir(cwd);
    }
    if let Some(env) = input.attr("env").and_then(Value::as_map) {
        for (k, v) in env {
            cmd.env(k, v.interpolated());
        }
    }
    let started = tokio::time::Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound => " (is it installed and on PATH?)",
            std::io::ErrorKind::PermissionDenied => " (is it executable?)",
            _ => "",
        };
        StepError::fatal(format!("cannot start `{program}`: {e}{hint}"))
    })?;
    let guard = GroupGuard::new(child.id().and_then(|id| i32::try_from(id).ok()));
    if let (Some(text), Some(mut stdin)) = (input.attr("stdin"), child.stdin.take()) {
        let bytes = text.interpolated().into_bytes();
        tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
        });
    }
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let pgid = guard.0;
    // On Ctrl-C the group gets SIGTERM at once; the executor's grace period bounds how
    // long it may take to exit, and the guard's SIGKILL ends whatever is left.
    let wait = async {
        let status = tokio::select! {
            status = child.wait() => status,
            _ = ctx.cancel.cancelled() => {
                if let Some(pgid) = pgid {
                    kill_group(pgid, Signal::TERM);
                }
                child.wait().await
            }
        };
        // Whatever the command left running in its group would hold the output pipes
        // open and the step with them: it ends with the command (use `setsid` to detach
        // a daemon on purpose).
        if let Some(pgid) = pgid {
            kill_group(pgid, Signal::KILL);
        }
        status
    };
    let (out, err, status) = tokio::join!(
        capture(stdout, max, ctx, "stdout"),
        capture(stderr, max, ctx, "stderr"),
        wait
    );
    let status =
        status.map_err(|e| StepError::new(format!("waiting for `{program}` failed: {e}")))?;
    let code = status.code().map_or(-1, i64::from);
    let mut outputs = Outputs::new();
    outputs.insert("exit".into(), Value::Int(code));
    outputs.insert("stdout".into(), Value::str(out.clone()));
    outputs.insert("stderr".into(), Value::str(err.clone()));
    outputs.insert(
        "duration".into(),
        Value::Duration(Duration::from_millis(started.elapsed().as_millis() as u64)),
    );
    if code != 0 && !input.expected.iter().any(|s| s == "exit") {
        let how = match status.code() {
            Some(c) => format!("exited with {c}"),
            None => String::from("was killed by a signal"),
        };
        let tail: String = output_tail(err.as_bytes(), ctx)
            .or_else(|| output_tail(out.as_bytes(), ctx))
            .map(|l| format!("; last output: {l}"))
            .unwrap_or_default();
        return Err(StepError::new(format!("`{program}` {how}{tail}")));
    }
    Ok(outputs)
}

/// The last non-empty line of a program's output, redacted before it is shortened to 200
/// bytes (a cut secret would no longer be recognised).
pub(crate) fn output_tail(bytes: &[u8], ctx: &StepContext) -> Option<String> {
    let text = ctx.secrets.redact(&String::from_utf8_lossy(bytes));
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let mut line = line.trim().to_string();
    if line.len() > 200 {
        let mut cut = 200;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    Some(line)
}

/// Whether the next line goes to the line buffer: within the shown lines, or while the
/// buffer holds one back.
fn feeds(fed: usize, lines: &LineBuffer) -> bool {
    fed < MAX_STREAMED_LINES || lines.is_holding()
}

/// A held-back line (its end may begin a secret continued on the next line) is shown
/// after this much quiet on the stream.
const QUIET: Duration = Duration::from_millis(250);

/// Reads a stream to its end, keeping `max` bytes and streaming complete lines, redacted
/// across line breaks ([`LineBuffer`]).
async fn capture<R: AsyncRead + Unpin>(
    stream: Option<R>,
    max: usize,
    ctx: &StepContext,
    name: &str,
) -> String {
    let Some(mut stream) = stream else {
        return String::new();
    };
    let mut kept: Vec<u8> = Vec::new();
    let mut dropped = 0usize;
    let mut pending: Vec<u8> = Vec::new();
    // Lines given to the buffer, and lines shown: past the cap, lines are still given to
    // the buffer while it holds one back (a secret may continue on them), never shown.
    let mut fed = 0usize;
    let mut shown = 0usize;
    let mut hidden = false;
    let mut lines = LineBuffer::default();
    let mut emit = |out: Vec<String>, hidden: &mut bool| {
        for line in out {
            if shown < MAX_STREAMED_LINES {
                ctx.log(format!("{name}: {}", line.trim_end()));
                shown += 1;
            } else {
                *hidden = true;
            }
        }
    };
    let mut chunk = [0u8; 8192];
    loop {
        // `read` is cancel-safe: a quiet period loses nothing.
        let read = if lines.is_holding() {
            match tokio::time::timeout(QUIET, stream.read(&mut chunk)).await {
                Ok(read) => read,
                Err(_) => {
                    emit(lines.flush(&ctx.secrets), &mut hidden);
                    continue;
                }
            }
        } else {
            stream.read(&mut chunk).await
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let room = max.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..n.min(room)]);
        dropped += n.saturating_sub(room);
        if feeds(fed, &lines) && pending.len() < 64 * 1024 {
            pending.extend_from_slice(&chunk[..n]);
            while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=pos).collect();
                if feeds(fed, &lines) {
                    let text = String::from_utf8_lossy(&line[..pos]).into_owned();
                    emit(lines.push(text, &ctx.secrets), &mut hidden);
                    fed += 1;
                } else {
                    hidden = true;
                }
            }
        } else {
            hidden = true;
        }
    }
    if !pending.is_empty() && feeds(fed, &lines) && !hidden {
        let text = String::from_utf8_lossy(&pending).into_owned();
        emit(lines.push(text, &ctx.secrets), &mut hidden);
        emit(lines.flush(&ctx.secrets), &mut hidden);
    } else {
        emit(lines.flush(&ctx.secrets), &mut hidden);
        hidden = hidden || !pending.is_empty();
    }
    if hidden {
        ctx.log(format!(
            "{name}: … more not shown here (kept in the step's `{name}` output)"
        ));
    }
    let mut text = String::from_utf8_lossy(&kept).into_owned();
    if dropped > 0 {
        // Cut at max_output: no first part of a secret is left at the end.
        text = ctx.secrets.hide_tail(&text);
        text.push_str(&format!(
            "\n[… {dropped} more bytes not kept: max_output is {max}]"
        ));
    }
    text
}
