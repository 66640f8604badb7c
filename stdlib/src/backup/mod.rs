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
    "backup set name (default: derived from the source)",
);

/// The `backup` step kind.
pub const SCHEMA: StepSchema = StepSchema {
    kind: "backup",
    doc: "writes verified backups atomically, verifies them, prunes old ones safely",
    variants: &[
        Variant {
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
                Attribute::new("compression", T::Int, "pg_dump compression level 0-9").default("6"),
            ],
            outputs: BACKUP_OUTPUTS,
            effect: Effect::Mutating,
            default_timeout: Some(Duration::from_secs(3600)),
            ..Variant::BASE
        },
        Variant {
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
        },
        Variant {
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
                Attribute::new("level", T::Int, "zstd compression level 1-19").default("3"),
            ],
            outputs: BACKUP_OUTPUTS,
            effect: Effect::Mutating,
            default_timeout: Some(Duration::from_secs(3600)),
            ..Variant::BASE
        },
        Variant {
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
                    "also restore into a scratch target (postgres)",
                )
                .default("false"),
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
            default_timeout: Some(Duration::from_secs(3600)),
            ..Variant::BASE
        },
        Variant {
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
                Attribute::new("keep_last", T::Int, "keep the N newest backups"),
                Attribute::new("keep_within", T::Duration, "keep backups younger than this"),
                Attribute::new(
                    "keep_daily",
                    T::Int,
                    "keep the newest backup of each of the last N days",
                ),
            ],
            outputs: &[
                Output::new("deleted", T::Int, "backups deleted"),
                Output::new("kept", T::Int, "backups kept"),
            ],
            effect: Effect::Mutating,
            default_timeout: Some(Duration::from_secs(600)),
            ..Variant::BASE
        },
    ],
};

const FROM: Target = Target {
    name: "from",
    ty: T::Path,
    sensitive: false,
    required: true,
    doc: "a verified backup file, or a directory (its newest verified backup of `set`)",
};

/// The `restore` step kind.
pub const RESTORE_SCHEMA: StepSchema = StepSchema {
    kind: "restore",
    doc: "restores a verified backup; refuses unverified or corrupt ones",
    variants: &[
        Variant {
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
                Attribute::new("clean", T::Bool, "drop objects before recreating them")
                    .default("false"),
            ],
            outputs: &[Output::new("duration", T::Duration, "time taken")],
            effect: Effect::Mutating,
            default_timeout: Some(Duration::from_secs(3600)),
            ..Variant::BASE
        },
        Variant {
            name: Some("redis"),
            doc: "loads an RDB snapshot into the Redis server named by `into`",
            target: Some(FROM),
            attributes: &[
                Attribute::new("into", T::String, "`redis://` URL of the target server")
                    .required()
                    .sensitive(),
                SET,
            ],
            outputs: &[Output::new("duration", T::Duration, "time taken")],
            effect: Effect::Mutating,
            default_timeout: Some(Duration::from_secs(1800)),
            ..Variant::BASE
        },
        Variant {
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
        },
    ],
};
