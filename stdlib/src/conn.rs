//! Database connection URLs, parsed once for every step: `probe postgres|redis`,
//! `backup`, `verify deep`, `restore` and the size look of a plan all read a URL here,
//! with one decoding rule: user, password and database are percent-decoded (RFC 3986;
//! `+` is a plus sign, `%2B` too). What a tool is given is built from the parts, never
//! from the user's text: libpq tools get the connection in `PG*` variables and the
//! database as a quoted `dbname='…'` conninfo (so no name can turn into a connection
//! string that redirects the restore), redis-cli gets `-h`/`-p`/`-n` and the password in
//! `REDISCLI_AUTH`; inherited `PG*` and `REDISCLI_*` variables are removed.

use interpreter::step::StepError;
use percent_encoding::percent_decode_str;

/// Which server a URL is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `redis://`.
    Redis,
}

/// A parsed connection URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnUrl {
    /// Which server.
    pub flavor: Flavor,
    /// Host name or address (no brackets around IPv6), or a Unix socket directory.
    pub host: String,
    /// Port (5432 / 6379 when not given).
    pub port: u16,
    /// User name.
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// PostgreSQL: the database name. Redis: the database number as text.
    pub database: Option<String>,
    /// PostgreSQL `sslmode`.
    pub sslmode: Option<String>,
    /// PostgreSQL `application_name`.
    pub application_name: Option<String>,
    /// PostgreSQL `connect_timeout` (seconds).
    pub connect_timeout: Option<u64>,
}

fn invalid(what: &str, why: impl std::fmt::Display) -> StepError {
    StepError::fatal(format!("the {what} connection URL is not valid: {why}"))
}

fn decode(text: &str, what: &str, part: &str) -> Result<String, StepError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| invalid(what, format!("its {part} is not UTF-8 once decoded")))
}

impl ConnUrl {
    /// Parses `postgresql://user:password@host:port/db?sslmode=...`.
    pub fn postgres(url: &str) -> Result<ConnUrl, StepError> {
        ConnUrl::parse(url, Flavor::Postgres)
    }

    /// Parses `redis://user:password@host:port/N`.
    pub fn redis(url: &str) -> Result<ConnUrl, StepError> {
        ConnUrl::parse(url, Flavor::Redis)
    }

    fn parse(text: &str, flavor: Flavor) -> Result<ConnUrl, StepError> {
        let what = match flavor {
            Flavor::Postgres => "PostgreSQL",
            Flavor::Redis => "Redis",
        };
        let u = url::Url::parse(text).map_err(|e| invalid(what, e))?;
        match (flavor, u.scheme()) {
            (Flavor::Postgres, "postgres" | "postgresql") | (Flavor::Redis, "redis") => {}
            (Flavor::Redis, "rediss") => {
                return Err(StepError::fatal(
                    "TLS connections to Redis (`rediss://`) are not supported yet: use redis:// on a trusted network",
                ));
            }
            (Flavor::Postgres, other) => {
                return Err(invalid(
                    what,
                    format!("it starts with `{other}://`, not `postgresql://`"),
                ));
            }
            (Flavor::Redis, other) => {
                return Err(invalid(
                    what,
                    format!("it starts with `{other}://`, not `redis://`"),
                ));
            }
        }
        let mut conn = ConnUrl {
            flavor,
            host: u
                .host_str()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
                .unwrap_or_default(),
            port: u.port().unwrap_or(match flavor {
                Flavor::Postgres => 5432,
                Flavor::Redis => 6379,
            }),
            user: None,
            password: None,
            database: None,
            sslmode: None,
            application_name: None,
            connect_timeout: None,
        };
        if !u.username().is_empty() {
            conn.user = Some(decode(u.username(), what, "user name")?);
        }
        if let Some(p) = u.password() {
            conn.password = Some(decode(p, what, "password")?);
        }
        let path = u.path().trim_start_matches('/');
        if !path.is_empty() {
            let db = decode(path, what, "database name")?;
            if flavor == Flavor::Redis && db.parse::<u32>().is_err() {
                return Err(invalid(
                    what,
                    format!("the database `{db}` is not a number (redis://host:port/N)"),
                ));
            }
            conn.database = Some(db);
        }
        for (key, value) in u.query_pairs() {
            let value = value.into_owned();
            match (flavor, key.as_ref()) {
                (Flavor::Postgres, "host") => conn.host = value,
                (Flavor::Postgres, "sslmode") => conn.sslmode = Some(value),
                (Flavor::Postgres, "application_name") => conn.application_name = Some(value),
                (Flavor::Postgres, "connect_timeout") => {
                    conn.connect_timeout = Some(value.parse().map_err(|_| {
                        invalid(what, format!("connect_timeout `{value}` is not a number"))
                    })?);
                }
                (_, other) => {
                    let known = match flavor {
                        Flavor::Postgres => "host, sslmode, application_name, connect_timeout",
                        Flavor::Redis => "none",
                    };
                    return Err(invalid(
                        what,
                        format!("unknown parameter `{other}` (ops reads: {known})"),
                    ));
                }
            }
        }
        if conn.host.is_empty() {
            return Err(invalid(what, "it names no host"));
        }
        Ok(conn)
    }

    /// True when the host is a Unix socket directory.
    pub fn is_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// The URL as messages and manifests show it: no password.
    pub fn shown(&self) -> String {
        let scheme = match self.flavor {
            Flavor::Postgres => "postgresql",
            Flavor::Redis => "redis",
        };
        let user = self
            .user
            .as_deref()
            .map(|u| format!("{}@", percent_encoding::utf8_percent_encode(u, USERINFO)))
            .unwrap_or_default();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else if self.is_socket() {
            String::new()
        } else {
            self.host.clone()
        };
        let db = self
            .database
            .as_deref()
            .map(|d| format!("/{}", percent_encoding::utf8_percent_encode(d, USERINFO)))
            .unwrap_or_default();
        let socket = if self.is_socket() {
            format!("?host={}", self.host)
        } else {
            String::new()
        };
        format!("{scheme}://{user}{host}:{}{db}{socket}", self.port)
    }

    /// The libpq environment for a PostgreSQL tool (no database: see [`dbname_arg`]).
    pub fn pg_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("PGHOST", self.host.clone()),
            ("PGPORT", self.port.to_string()),
        ];
        if let Some(user) = &self.user {
            env.push(("PGUSER", user.clone()));
        }
        if let Some(password) = &self.password {
            env.push(("PGPASSWORD", password.clone()));
        }
        if let Some(mode) = &self.sslmode {
            env.push(("PGSSLMODE", mode.clone()));
        }
        if let Some(name) = &self.application_name {
            env.push(("PGAPPNAME", name.clone()));
        }
        if let Some(secs) = self.connect_timeout {
            env.push(("PGCONNECT_TIMEOUT", secs.to_string()));
        }
        env
    }

    /// The database as `--dbname` for a libpq tool, or the URL's database.
    pub fn pg_dbname(&self) -> Option<String> {
        self.database.as_deref().map(dbname_arg)
    }

    /// The connection as tokio-postgres's configuration.
    pub fn pg_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config.host(&self.host).port(self.port);
        if let Some(user) = &self.user {
            config.user(user);
        }
        if let Some(password) = &self.password {
            config.password(password);
        }
        if let Some(db) = &self.database {
            config.dbname(db);
        }
        if let Some(name) = &self.application_name {
            config.application_name(name);
        }
        config
    }

    /// The Redis database number (0 when not given).
    pub fn redis_db(&self) -> u32 {
        self.database
            .as_deref()
            .and_then(|d| d.parse().ok())
            .unwrap_or(0)
    }

    /// The handshake settings of the redis crate.
    pub fn redis_settings(&self) -> ::redis::RedisConnectionInfo {
        let mut info = ::redis::RedisConnectionInfo::default().set_db(i64::from(self.redis_db()));
        if let Some(user) = &self.user {
            info = info.set_username(user);
        }
        if let Some(password) = &self.password {
            info = info.set_password(password);
        }
        info
    }

    /// `redis-cli` arguments and environment (the password never on the command line).
    pub fn redis_cli(&self) -> (Vec<String>, Vec<(&'static str, String)>) {
        let mut args = vec![
            "-h".to_string(),
            self.host.clone(),
            "-p".to_string(),
            self.port.to_string(),
        ];
        if self.database.is_some() {
            args.extend(["-n".to_string(), self.redis_db().to_string()]);
        }
        if let Some(user) = &self.user {
            args.extend(["--user".to_string(), user.clone()]);
        }
        let env = self
            .password
            .iter()
            .map(|p| ("REDISCLI_AUTH", p.clone()))
            .collect();
        (args, env)
    }
}

/// Characters escaped in the user and database of a shown URL.
const USERINFO: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A database name as a libpq conninfo string, `dbname='…'` with `\` and `'` escaped:
/// libpq treats a `--dbname` holding `=` or a URI prefix as a whole connection string,
/// so the name is always given in this form, never as written.
pub fn dbname_arg(name: &str) -> String {
    let escaped = name.replace('\\', "\\\\").replace('\'', "\\'");
    format!("dbname='{escaped}'")
}

/// Environment variables a child tool must not inherit: they would point libpq or
/// redis-cli at another server or credentials than the runbook's URL.
pub fn is_inherited_connection_var(name: &str) -> bool {
    name.starts_with("PG") || name.starts_with("REDISCLI_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_decoding_rule_for_every_part() {
        let c = ConnUrl::postgres("postgresql://us%40er:p%2Bw+d%20x@127.0.0.1:5433/my%20db")
            .expect("valid");
        assert_eq!(c.user.as_deref(), Some("us@er"));
        assert_eq!(c.password.as_deref(), Some("p+w+d x"));
        assert_eq!(c.database.as_deref(), Some("my db"));
        assert_eq!(c.port, 5433);
        let r = ConnUrl::redis("redis://:pa%24%24@[::1]:7000/3").expect("valid");
        assert_eq!(r.password.as_deref(), Some("pa$$"));
        assert_eq!(r.host, "::1");
        assert_eq!(r.redis_db(), 3);
        assert_eq!(r.shown(), "redis://[::1]:7000/3");
    }

    #[test]
    fn a_database_name_cannot_become_a_connection_string() {
        assert_eq!(
            dbname_arg("x host=evil.example port=1"),
            "dbname='x host=evil.example port=1'"
        );
        assert_eq!(dbname_arg("a'b\\c"), "dbname='a\\'b\\\\c'");
        assert!(ConnUrl::postgres("postgresql://h/db?service=evil").is_err());
        assert!(ConnUrl::redis("redis://h/not-a-number").is_err());
        assert!(ConnUrl::redis("rediss://h").is_err());
        assert!(ConnUrl::postgres("postgresql:///db").is_err());
        let socket = ConnUrl::postgres("postgresql:///db?host=/run/postgresql").expect("ok");
        assert!(socket.is_socket());
        assert!(is_inherited_connection_var("PGSERVICE"));
    }
}
