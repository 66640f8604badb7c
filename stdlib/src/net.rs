//! Connections to database servers with a cap on what one reply may hold: a hostile or
//! broken server that sends an endless reply gets an error instead of the memory of the
//! machine. [`Capped`] counts the bytes read since the last write (the reply, or the
//! replies of one pipelined batch) and fails the read past the cap. Connecting is
//! bounded too; every step's own timeout bounds the rest.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use interpreter::step::StepError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use crate::conn::ConnUrl;

/// The most a `probe postgres` reply may hold.
pub const PROBE_POSTGRES_REPLY: usize = 16 << 20;
/// The most a `probe redis` reply (`INFO`) may hold.
pub const PROBE_REDIS_REPLY: usize = 1 << 20;
/// The most a restore target or backup source may send in reply to one batch of
/// commands (`RESTORE` acknowledgements, `INFO keyspace`, a size query).
pub const TARGET_REPLY: usize = 4 << 20;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP or Unix stream.
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix socket.
    Unix(UnixStream),
}

/// A stream whose replies are capped.
pub struct Capped {
    inner: Stream,
    cap: usize,
    read: usize,
    what: &'static str,
}

impl Capped {
    /// Wraps `inner`: at most `cap` bytes may arrive between two writes.
    pub fn new(inner: Stream, cap: usize, what: &'static str) -> Capped {
        Capped {
            inner,
            cap,
            read: 0,
            what,
        }
    }
}

impl AsyncRead for Capped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.read > self.cap {
            return Poll::Ready(Err(io::Error::other(format!(
                "the {} sent more than {} in one reply; ops stopped reading",
                self.what,
                interpreter::value::size(self.cap as u64)
            ))));
        }
        let before = buf.filled().len();
        let this = &mut *self;
        let result = match &mut this.inner {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        };
        if let Poll::Ready(Ok(())) = &result {
            this.read += buf.filled().len() - before;
        }
        result
    }
}

impl AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = match &mut this.inner {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, data),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, data),
        };
        if let Poll::Ready(Ok(n)) = &result
            && *n > 0
        {
            this.read = 0;
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Connects to `host:port` (or the Unix socket `path`), within [`CONNECT_TIMEOUT`].
async fn connect(target: Target<'_>, what: &str) -> Result<Stream, StepError> {
    let attempt = async {
        match target {
            Target::Tcp(host, port) => TcpStream::connect((host, port)).await.map(|s| {
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }),
            Target::Unix(path) => UnixStream::connect(path).await.map(Stream::Unix),
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(StepError::new(format!("cannot connect to {what}: {e}"))),
        Err(_) => Err(StepError::new(format!(
            "cannot connect to {what}: no answer within {}",
            lang::fmt::duration(CONNECT_TIMEOUT)
        ))),
    }
}

enum Target<'a> {
    Tcp(&'a str, u16),
    Unix(&'a std::path::Path),
}

/// A PostgreSQL connection (its driver spawned on the runtime, aborted with the handle)
/// with replies capped at `cap`; `db` overrides the URL's database.
pub async fn postgres(
    url: &ConnUrl,
    db: Option<&str>,
    cap: usize,
    what: &'static str,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), StepError> {
    let mut config = url.pg_config();
    if let Some(db) = db {
        config.dbname(db);
    }
    let socket;
    let target = if url.is_socket() {
        socket = std::path::Path::new(&url.host).join(format!(".s.PGSQL.{}", url.port));
        Target::Unix(&socket)
    } else {
        Target::Tcp(&url.host, url.port)
    };
    let stream = connect(target, what).await?;
    let (client, connection) = config
        .connect_raw(Capped::new(stream, cap, what), tokio_postgres::NoTls)
        .await
        .map_err(|e| {
            StepError::new(format!(
                "cannot connect to {what}: {}",
                crate::probe::postgres::describe(&e)
            ))
        })?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, driver))
}

/// A Redis connection (TCP, or the Unix socket `socket`) with replies capped at `cap`.
pub async fn redis(
    url: Option<&ConnUrl>,
    socket: Option<&std::path::Path>,
    cap: usize,
    what: &'static str,
) -> Result<::redis::aio::MultiplexedConnection, StepError> {
    let (target, settings) = match (url, socket) {
        (_, Some(path)) => (Target::Unix(path), ::redis::RedisConnectionInfo::default()),
        (Some(url), None) => (Target::Tcp(&url.host, url.port), url.redis_settings()),
        (None, None) => return Err(StepError::fatal("no Redis server to connect to")),
    };
    let stream = connect(target, what).await?;
    let (conn, driver) = ::redis::aio::MultiplexedConnection::new_with_config(
        &settings,
        Capped::new(stream, cap, what),
        ::redis::AsyncConnectionConfig::default(),
    )
    .await
    .map_err(|e| {
        StepError::new(format!(
            "cannot connect to {what}: {}",
            crate::probe::redis::describe(&e)
        ))
    })?;
    tokio::spawn(driver);
    Ok(conn)
}
