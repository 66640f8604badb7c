//! Answering `confirm` and `manual`: a terminal prompt, `--yes`, or a clear refusal
//! when there is no one to ask (no terminal on standard input and no `--yes`).

use std::io::{BufRead, Write};

use futures_util::future::BoxFuture;
use interpreter::step::{Answer, PromptKind, Prompter};

/// `--yes`: every question is answered yes.
pub struct AssumeYes;

impl Prompter for AssumeYes {
    fn ask<'a>(&'a self, _: PromptKind, _: &'a str) -> BoxFuture<'a, Result<Answer, String>> {
        Box::pin(async { Ok(Answer::Yes("--yes")) })
    }
}

/// No terminal and no `--yes`: fail with what to do.
pub struct NoOperator;

impl Prompter for NoOperator {
    fn ask<'a>(&'a self, kind: PromptKind, _: &'a str) -> BoxFuture<'a, Result<Answer, String>> {
        let what = match kind {
            PromptKind::Confirm => "`confirm`",
            PromptKind::Manual => "`manual`",
        };
        Box::pin(async move {
            Err(format!(
                "{what} needs an operator, but standard input is not a terminal; run it from a terminal, or pass --yes to answer in automation"
            ))
        })
    }
}

/// Asks on the terminal, one question at a time (parallel branches queue up).
#[derive(Default)]
pub struct TerminalPrompt {
    lock: tokio::sync::Mutex<()>,
}

impl Prompter for TerminalPrompt {
    fn ask<'a>(&'a self, kind: PromptKind, text: &'a str) -> BoxFuture<'a, Result<Answer, String>> {
        Box::pin(async move {
            let _turn = self.lock.lock().await;
            let question = match kind {
                PromptKind::Confirm => format!("? {text} [y/N] "),
                PromptKind::Manual => format!("☐ {text}\n  Done? [y/N] "),
            };
            let line = tokio::task::spawn_blocking(move || {
                let mut err = std::io::stderr();
                let _ = write!(err, "{question}");
                let _ = err.flush();
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map(|n| (n, line))
            })
            .await
            .map_err(|e| format!("the prompt failed: {e}"))?
            .map_err(|e| format!("cannot read the answer: {e}"))?;
            match line {
                (0, _) => Err(String::from("standard input closed before an answer")),
                (_, answer)
                    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") =>
                {
                    Ok(Answer::Yes("operator"))
                }
                _ => Ok(Answer::No),
            }
        })
    }
}
