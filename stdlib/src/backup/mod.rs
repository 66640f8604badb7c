//! `backup` and `restore`: verified backups with safe retention.

use std::time::Duration;

use lang::schema::{
    Attribute, Effect, Output, SchemaType as T, StepSchema, Subject, Target, Variant,
};

const BACKUP_OUTPUTS: &[Output] = &[
    Output::new("path", T::Path, "the backup file"),
    Output::new("size", T::Size, "its size"),
    Output::new("sha256", T::String, "its SHA-256"),
    Output::new("duration", T::Duration, "time taken"),
];

const INTO: Attribute =
    Attribute::new("into", T::Path, "directory the backup is written into").required();
const SET: Attribute = Attribute::new(
    "set",
    T::String,
    "backup set name, at most 100 characters (default: derived from the source)",
)
.max_len(MAX_SET_LEN);

/// The longest set name: the file names a set leads to (`SET-TIMESTAMP.EXT.manifest.json`,
/// hidden temporary names) stay far below the 255 bytes a file name may have.
pub const MAX_SET_LEN: usize = 100;

/// The `backup` step kind.
pub static SCHEMA: StepSchema = StepSchema {
    kind: "backup",
    doc: "writes verified backups atomically, verifies them, prunes old ones safely",
    variants: &[&POSTGRES, &REDIS, &FILES, &VERIFY, &PRUNE],
};

/// `backup postgres`.
pub static POSTGRES: Variant = Variant {
    name: Some("postgres"),
    doc: "pg_dump (custom format) streamed into a new backup file",
    target: Some(Target {
        name: "url",
        ty: T::String,
        sensitive: true,
        required: true,
        doc: "connection string, usually from a secret",
    }),
    attributes: &[
        INTO,
        SET,
        Attribute::new("schemas", T::ListOf(&T::String), "dump only these schemas"),
        Attribute::new("tables", T::ListOf(&T::String), "dump only these tables"),
        Attribute::new("exclude_tables", T::ListOf(&T::String), "skip these tables"),
        Attribute::new("compression", T::Int, "pg_dump compression level 0-9")
            .default("6")
            .range(0, 9),
    ],
    outputs: BACKUP_OUTPUTS,
    effect: Effect::Mutating,
    default_timeout: Some(Duration::from_secs(3600)),
    ..Variant::BASE
};

/// `backup redis`.
pub static REDIS: Variant = Variant {
    name: Some("redis"),
    doc: "a consistent RDB snapshot taken over the network",
    target: Some(Target {
        name: "url",
        ty: T::String,
        sensitive: true,
        required: true,
        doc: "`redis://` URL, usually from a secret",
    }),
    attributes: &[INTO, SET],
    outputs: BACKUP_OUTPUTS,
    effect: Effect::Mutating,
    default_timeout: Some(Duration::from_secs(1800)),
    ..Variant::BASE
};

/// `backup files`.
pub static FILES: Variant = Variant {
    name: Some("files"),
    doc: "a zstd-compressed tar archive of a directory",
    target: Some(Target {
        name: "path",
        ty: T::Path,
        sensitive: false,
        required: true,
        doc: "the directory to archive",
    }),
    attributes: &[
        INTO,
        SET,
        Attribute::new(
            "include",
            T::ListOf(&T::String),
            "glob patterns to include (default: everything)",
        ),
        Attribute::new(
            "exclude",
            T::ListOf(&T::String),
            "glob patterns to leave out",
        ),
        Attribute::new("level", T::Int, "zstd compression level 1-19")
            .default("3")
            .range(1, 19),
    ],
    outputs: BACKUP_OUTPUTS,
    effect: Effect::Mutating,
    default_timeout: Some(Duration::from_secs(3600)),
    ..Variant::BASE
};

/// `backup verify`.
pub static VERIFY: Variant = Variant {
    name: Some("verify"),
    doc: "re-reads backups against their SHA-256 and checks them per kind; `max_age` checks freshness",
    target: Some(Target {
        name: "path",
        ty: T::Path,
        sensitive: false,
        required: true,
        doc: "a backup file, or a directory (its newest backup of `set`)",
    }),
    attributes: &[
        SET,
        Attribute::new(
            "deep",
            T::Bool,
            "also restore it into a throwaway target: a scratch database on `scratch` (postgres), a private redis-server (redis), a temporary directory (files)",
        )
        .default("false"),
        Attribute::new(
            "scratch",
            T::String,
            "connection string of a PostgreSQL server where a deep check may create and drop a database",
        )
        .sensitive(),
        Attribute::new(
            "max_age",
            T::Duration,
            "fail when the newest verified backup is older",
        ),
    ],
    outputs: &[
        Output::new("path", T::Path, "the backup verified"),
        Output::new("age", T::Duration, "its age"),
        Output::new("sha256", T::String, "its SHA-256"),
    ],
    subjects: &[Subject::new(
        "age",
        T::Duration,
        "age of the newest verified backup",
    )],
    effect: Effect::Mutating,
    idempotent: true,
    default_timeout: Some(Duration::from_secs(3600)),
    ..Variant::BASE
};

/// `backup prune`.
pub static PRUNE: Variant = Variant {
    name: Some("prune"),
    doc: "deletes old backups by policy; never the newest verified one",
    target: Some(Target {
        name: "path",
        ty: T::Path,
        sensitive: false,
        required: true,
        doc: "the backup directory",
    }),
    attributes: &[
        SET,
        Attribute::new("keep_last", T::Int, "keep the N newest backups (N >= 1)")
            .range(1, i64::MAX),
        Attribute::new("keep_within", T::Duration, "keep backups younger than this"),
        Attribute::new(
            "keep_daily",
            T::Int,
            "keep the newest backup of each of the last N days (N >= 1)",
        )
        .range(1, i64::MAX),
    ],
    outputs: &[
        Output::new("deleted", T::Int, "backups deleted"),
        Output::new("kept", T::Int, "backups kept"),
    ],
    effect: Effect::Mutating,
    idempotent: true,
    default_timeout: Some(Duration::from_secs(600)),
    ..Variant::BASE
};

const FROM: Target = Target {
    name: "from",
    ty: T::Path,
    sensitive: false,
    required: true,
    doc: "a verified backup file, or a directory (its newest verified backup of `set`)",
};

/// The `restore` step kind.
pub static RESTORE_SCHEMA: StepSchema = StepSchema {
    kind: "restore",
    doc: "restores a verified backup; refuses unverified or corrupt ones",
    variants: &[&RESTORE_POSTGRES, &RESTORE_REDIS, &RESTORE_FILES],
};

/// `restore postgres`.
pub static RESTORE_POSTGRES: Variant = Variant {
    name: Some("postgres"),
    doc: "pg_restore into the database named by `into`",
    target: Some(FROM),
    attributes: &[
        Attribute::new(
            "into",
            T::String,
            "connection string of the target database",
        )
        .required()
        .sensitive(),
        SET,
        Attribute::new("clean", T::Bool, "drop objects before recreating them").default("false"),
    ],
    outputs: &[Output::new("duration", T::Duration, "time taken")],
    effect: Effect::Mutating,
    default_timeout: Some(Duration::from_secs(3600)),
    ..Variant::BASE
};

/// `restore redis`.
pub static RESTORE_REDIS: Variant = Variant {
    name: Some("redis"),
    doc: "loads an RDB snapshot into the Redis server named by `into`",
    target: Some(FROM),
    attributes: &[
        Attribute::new("into", T::String, "`redis://` URL of the target server")
            .required()
            .sensitive(),
        SET,
        Attribute::new(
            "replace",
            T::Bool,
            "overwrite keys of the same name (otherwise a non-empty target database is refused)",
        )
        .default("false"),
    ],
    outputs: &[
        Output::new("keys", T::Int, "keys restored"),
        Output::new("duration", T::Duration, "time taken"),
    ],
    effect: Effect::Mutating,
    default_timeout: Some(Duration::from_secs(1800)),
    ..Variant::BASE
};

/// `restore files`.
pub static RESTORE_FILES: Variant = Variant {
    name: Some("files"),
    doc: "extracts a files backup into the directory named by `into`",
    target: Some(FROM),
    attributes: &[
        Attribute::new(
            "into",
            T::Path,
            "target directory (must be empty or absent)",
        )
        .required(),
        SET,
    ],
    outputs: &[Output::new("duration", T::Duration, "time taken")],
    effect: Effect::Mutating,
    default_timeout: Some(Duration::from_secs(3600)),
    ..Variant::BASE
};

mod deep;
mod files;
mod inspect;
mod postgres;
mod prune;
mod redis;
mod redis_restore;
mod retention;
mod run;
mod scratch;
mod store;
pub(crate) mod tools;
mod verify;
mod world;

pub use prune::{Entry, Policy, select};
pub use store::{Manifest, hash_file, list, manifest_path};

use futures_util::future::BoxFuture;
use interpreter::step::{
    InputView, Outputs, StepContext, StepError, StepInput, StepKind, StepPlan,
};

/// One variant of `backup` or `restore`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backup {
    /// `backup postgres`.
    Postgres,
    /// `backup redis`.
    Redis,
    /// `backup files`.
    Files,
    /// `backup verify`.
    Verify,
    /// `backup prune`.
    Prune,
    /// `restore postgres`.
    RestorePostgres,
    /// `restore redis`.
    RestoreRedis,
    /// `restore files`.
    RestoreFiles,
}

impl Backup {
    /// Every variant of `backup` and `restore`.
    pub const ALL: [Backup; 8] = [
        Backup::Postgres,
        Backup::Redis,
        Backup::Files,
        Backup::Verify,
        Backup::Prune,
        Backup::RestorePostgres,
        Backup::RestoreRedis,
        Backup::RestoreFiles,
    ];

    /// The tool a variant runs, which must be on PATH.
    fn tool(self) -> Option<&'static str> {
        match self {
            Backup::Postgres => Some("pg_dump"),
            Backup::Redis => Some("redis-cli"),
            Backup::RestorePostgres => Some("pg_restore"),
            Backup::RestoreRedis => Some("redis-server"),
            Backup::Files | Backup::Verify | Backup::Prune | Backup::RestoreFiles => None,
        }
    }

    fn change(self, view: &InputView) -> String {
        let restore = |kind: &str| world::describe_restore(kind, view);
        let backup = |source: &str| {
            format!(
                "writes a {source} backup of {} into {} (atomically, with a manifest)",
                view.target(),
                view.attr("into")
            )
        };
        match self {
            Backup::Verify => format!(
                "re-reads {} against its SHA-256 and checks it{}",
                view.target(),
                view.value("max_age")
                    .map(|v| format!(
                        "; fails if the newest verified backup is older than {}",
                        v.render()
                    ))
                    .unwrap_or_default()
            ),
            Backup::Prune => world::describe_prune(view),
            Backup::Postgres => backup("postgres"),
            Backup::Redis => backup("redis"),
            Backup::Files => backup("files"),
            Backup::RestorePostgres => restore("postgres"),
            Backup::RestoreRedis => restore("redis"),
            Backup::RestoreFiles => restore("files"),
        }
    }
}

impl StepKind for Backup {
    fn variant(&self) -> &'static Variant {
        match self {
            Backup::Postgres => &POSTGRES,
            Backup::Redis => &REDIS,
            Backup::Files => &FILES,
            Backup::Verify => &VERIFY,
            Backup::Prune => &PRUNE,
            Backup::RestorePostgres => &RESTORE_POSTGRES,
            Backup::RestoreRedis => &RESTORE_REDIS,
            Backup::RestoreFiles => &RESTORE_FILES,
        }
    }

    fn run<'a>(
        &'a self,
        input: &'a StepInput,
        ctx: &'a StepContext,
    ) -> BoxFuture<'a, Result<Outputs, StepError>> {
        Box::pin(async move {
            match self {
                Backup::Postgres => postgres::backup_postgres(input, ctx).await,
                Backup::Redis => redis::backup_redis(input, ctx).await,
                Backup::Files => files::backup_files(input, ctx).await,
                Backup::Verify => verify::verify(input, ctx).await,
                Backup::Prune => retention::prune(input, ctx).await,
                Backup::RestorePostgres => postgres::restore_postgres(input, ctx).await,
                Backup::RestoreRedis => {
                    let file = run::restorable(input, "redis", ctx).await?;
                    redis_restore::restore_redis(&file, input, ctx).await
                }
                Backup::RestoreFiles => files::restore_files(input, ctx).await,
            }
        })
    }

    fn plan(&self, view: &InputView) -> StepPlan {
        let mut problems = Vec::new();
        if let Some(tool) = self.tool()
            && !crate::exec::on_path(tool)
        {
            problems.push(format!("`{tool}` is not on PATH"));
        }
        if *self == Backup::Prune {
            match retention::policy(|n| view.value(n).cloned()) {
                Ok(policy) if policy.is_empty() => problems.push(String::from(
                    "a prune needs a policy: keep_last, keep_within or keep_daily",
                )),
                Ok(_) => {}
                Err(e) => problems.push(e.message),
            }
        }
        StepPlan {
            touches: world::touches(*self, view),
            ..StepPlan::new(self.change(view)).with_problems(problems)
        }
    }

    fn inspect<'a>(
        &'a self,
        input: &'a StepInput,
        _ctx: &'a StepContext,
    ) -> Option<BoxFuture<'a, Result<String, StepError>>> {
        match self {
            Backup::Postgres | Backup::Redis | Backup::Files => {
                Some(Box::pin(inspect::backup(*self, input)))
            }
            _ => None,
        }
    }
}
