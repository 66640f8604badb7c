//! `ops init FILE`: writes a commented starter runbook that checks clean, and refuses to
//! overwrite anything.

use std::io::Write;
use std::path::Path;

use crate::cli::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, InitArgs};

/// The runbook id a file name suggests: `Restart API.rb.ops` → `restart-api`.
fn id_from(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(crate::files::EXTENSION).unwrap_or(&name);
    let mut id = String::new();
    for c in stem.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    let id = id
        .trim_end_matches('-')
        .chars()
        .take(64)
        .collect::<String>();
    if id.is_empty() {
        String::from("my-runbook")
    } else {
        id
    }
}

/// The starter runbook: every section an operator needs, commented.
pub fn starter(id: &str, owner: &str, today: &str) -> String {
    format!(
        r#"# {id}: what this procedure is for, in one or two sentences.
# Check it with `ops check`, see what it would do with `ops plan`, run it with `ops run`.
runbook "{id}" {{
  title       = "Describe the procedure in a few words"
  description = "When to run it, and what it leaves behind."
  owner       = "{owner}"
  category    = "maintenance" # groups it in `ops catalog`
  complexity  = beginner      # beginner | intermediate | advanced
  tags        = ["example"]
  validated   = "{today}"  # when it last ran for real; `ops check` warns after max_age
  max_age     = 90d
  budget      = 15m           # the plan warns when its worst case is longer
}}

# Inputs: `--set service=...`, `--vars-file`, or OPS_VAR_service in the environment.
param service: url = "http://127.0.0.1:8080"

# Secrets come from the environment and are never printed.
# secret OPS_WEBHOOK

stage "before" {{
  probe http "${{service}}/healthz" as before {{
    expect status == 200
    retry 3 every 2s
    timeout 5s
  }}
  confirm "Start the change on ${{service}}?"
}}

stage "change" {{
  # Each step says what it changes in the plan; replace this one with the real work.
  exec ["echo", "the change goes here"] {{
    timeout 1m
  }}
}}

stage "after" {{
  probe http "${{service}}/healthz" {{
    expect status == 200
    retry 5 every 3s backoff exponential
    timeout 5s
  }}
  notify stdout "done: ${{service}} answered in ${{before.latency}} before the change"
}}

# Runs when any step fails (after its retries).
on failure {{
  notify stdout "failed at ${{failure.step}}: ${{failure.message}}"
  # notify slack OPS_WEBHOOK {{ text = "{id} failed at ${{failure.step}}" }}
}}
"#
    )
}

/// Runs `ops init`.
pub fn run(args: &InitArgs) -> i32 {
    let path = &args.file;
    if !path.to_string_lossy().ends_with(crate::files::EXTENSION) {
        eprintln!(
            "ops init: {} does not end in `{}`; `ops check` looks for that extension",
            path.display(),
            crate::files::EXTENSION
        );
        return EXIT_USAGE;
    }
    let id = args.id.clone().unwrap_or_else(|| id_from(path));
    let today = match crate::check::options() {
        Ok(o) => o.today.map(|d| d.to_string()).unwrap_or_default(),
        Err(e) => {
            eprintln!("ops init: {e}");
            return EXIT_USAGE;
        }
    };
    let text = starter(&id, &args.owner, &today);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(parent)
    {
        eprintln!("ops init: cannot create {}: {e}", parent.display());
        return EXIT_FAILED;
    }
    // `create_new`: an existing file (even one created a moment ago) is never overwritten.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "ops init: {} already exists; nothing was written (pick another name)",
                path.display()
            );
            return EXIT_FAILED;
        }
        Err(e) => {
            eprintln!("ops init: cannot create {}: {e}", path.display());
            return EXIT_FAILED;
        }
    };
    if let Err(e) = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
    {
        eprintln!("ops init: cannot write {}: {e}", path.display());
        // The file is the one created just now: remove the partial write.
        let _ = std::fs::remove_file(path);
        return EXIT_FAILED;
    }
    println!(
        "wrote {} (runbook \"{id}\"); next: ops check {0}, ops plan {0}",
        path.display()
    );
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::id_from;
    use std::path::Path;

    #[test]
    fn ids_come_from_file_names() {
        assert_eq!(id_from(Path::new("a/Restart API.rb.ops")), "restart-api");
        assert_eq!(id_from(Path::new("db_failover.rb.ops")), "db-failover");
        assert_eq!(id_from(Path::new("__.rb.ops")), "my-runbook");
    }
}
