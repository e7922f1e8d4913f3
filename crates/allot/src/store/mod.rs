//! Storage: one handle over the two backends.
//!
//! allot runs on an embedded SQLite file with zero setup, and on PostgreSQL in
//! production. Rather than a trait with two copies of every query, a module's
//! store is written once against [`Db`] and the [`with_pool!`] / [`in_tx!`]
//! macros compile the same body for each backend; where the dialects differ
//! (row locks, batch statements) the body branches on [`Db::backend`]. Column
//! types that differ ([`DbTime`], [`DbId`]) decode from either database.
//!
//! SQLite is single-process: [`Db::connect`] takes an exclusive lock file
//! beside the database and refuses to open a file another process is using.

mod lock;
pub mod types;

use std::str::FromStr;
use std::time::Duration;

use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use lock::FileLock;
pub use types::{DbId, DbStrings, DbTime};

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The clause that locks selected rows until commit: `FOR UPDATE` on
    /// PostgreSQL; nothing on SQLite, where a write transaction
    /// (`BEGIN IMMEDIATE`) already excludes every other writer.
    pub fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }
}

/// A connection pool to either backend.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool, std::sync::Arc<SqliteShared>),
    Postgres(PgPool, std::sync::Arc<PgShared>),
}

/// What a PostgreSQL handle has besides its main pool.
#[derive(Debug)]
pub struct PgShared {
    /// Connections for the group-commit batches ([`Db::begin_batch`]).
    ///
    /// A batch is a short transaction of a few statements, and on a busy
    /// machine each round trip costs most of a millisecond. The main pool
    /// adds round trips of its own: a ping when a connection is taken and
    /// a statement for the plan settings below. These connections skip
    /// the ping (a dead one fails its batch: each request of it gets the
    /// database error, and the connection is dropped by the pool's check
    /// on release) and carry [`BATCH_PLAN_SETTINGS`] from their startup
    /// packet:
    ///
    /// - `plan_cache_mode = force_generic_plan`: the array joins of the
    ///   batch statements were re-planned on every execution (custom
    ///   plans), and planning cost more than running them (1.3 ms of
    ///   planning against 0.4 ms of execution for a calendar search). Their
    ///   generic plan (index lookups per array element) suits any input.
    /// - `enable_seqscan = off`: a connection keeps its generic plan until
    ///   the table is analyzed again, and one planned while the entries
    ///   table was nearly empty scanned all of it once per array element.
    ///   Every statement a batch runs has an index to use.
    pub batch_pool: PgPool,
    /// The same for batch loops that run on a thread and runtime of their
    /// own (calendar placements, see `group_commit`), apart from
    /// [`PgShared::batch_pool`]: a connection belongs to the runtime that
    /// opened it, and one opened there and then taken by a booking batch
    /// would be driven from the other thread, and dead once that runtime
    /// ended.
    pub own_thread_pool: PgPool,
}

/// Most connections of each batch pool: one per batch loop of the module
/// that uses it (booking runs two, calendar three).
const BATCH_CONNECTIONS: u32 = 2;
const OWN_THREAD_BATCH_CONNECTIONS: u32 = 3;

/// The plan settings of batch statements, explained at
/// [`PgShared::batch_pool`]; one list for the batch connections' startup
/// packet and for [`Tx::prefer_generic_plans`].
const BATCH_PLAN_SETTINGS: [(&str, &str); 2] = [
    ("plan_cache_mode", "force_generic_plan"),
    ("enable_seqscan", "off"),
];

/// What a SQLite pool needs besides its connections.
#[derive(Debug)]
pub struct SqliteShared {
    _lock: FileLock,
    /// SQLite has one writer at a time. Writers that race for its lock are
    /// put to sleep by its busy handler in steps of 10-20 ms, which showed up
    /// as firing lateness; queueing writers here instead hands the lock over
    /// in microseconds.
    pub writer: tokio::sync::Mutex<()>,
    /// The one connection write transactions use. In WAL mode a connection
    /// drops its whole page cache when another connection has written since
    /// its last transaction; with writes spread over the pool every write
    /// began cold and re-read its index pages through system calls. One
    /// writer connection keeps its cache warm (it made every change itself).
    pub write_pool: SqlitePool,
}

impl SqliteShared {
    /// Queues for the writer, then begins `BEGIN IMMEDIATE` on the writer
    /// connection. Hold the guard until the transaction ends.
    pub async fn begin_write(
        &self,
    ) -> Result<
        (
            tokio::sync::MutexGuard<'_, ()>,
            sqlx::Transaction<'static, sqlx::Sqlite>,
        ),
        sqlx::Error,
    > {
        let guard = self.writer.lock().await;
        let tx = self.write_pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok((guard, tx))
    }
}

/// Pool settings; the defaults suit one service process.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL {0:?}: use sqlite://FILE or postgres://...")]
    UnsupportedUrl(String),
    #[error("{0}")]
    Locked(String),
    #[error("cannot open database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    /// Opens a pool for `url`: `sqlite://PATH` (created if missing; `sqlite::memory:` for a
    /// private in-memory database) or `postgres://...`.
    pub async fn connect(url: &str, options: &DbOptions) -> Result<Db, ConnectError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // No JIT compilation: allot's statements are short, and the
            // server's default compiles any statement whose estimated cost
            // passes a threshold. The batches' plan settings (below) put
            // the estimate of every plan with a sequential scan far past
            // it, and compiling took 100 ms.
            let connect = PgConnectOptions::from_str(url)?
                .application_name("allot")
                .options([("jit", "off")]);
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone())
                .await?;
            let batch_pool = |connections| {
                PgPoolOptions::new()
                    .max_connections(connections)
                    .acquire_timeout(options.acquire_timeout)
                    .test_before_acquire(false)
                    .connect_lazy_with(connect.clone().options(BATCH_PLAN_SETTINGS))
            };
            let shared = std::sync::Arc::new(PgShared {
                batch_pool: batch_pool(BATCH_CONNECTIONS),
                own_thread_pool: batch_pool(OWN_THREAD_BATCH_CONNECTIONS),
            });
            return Ok(Db::Postgres(pool, shared));
        }
        if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // WAL with NORMAL is durable across process crashes (the
                // claims that matter); only an OS crash can lose the last commits.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Checkpoints run from a background task (below) rather than in
                // whichever writer crosses the threshold: a checkpoint's fsync
                // inside the scheduler's commit added 15 ms to a claim.
                .pragma("wal_autocheckpoint", "0")
                // 64 MiB of page cache per connection: the claim path reads
                // the tasks index and writes executions; misses cost more
                // than the memory.
                .pragma("cache_size", "-65536")
                // After a restart, a log file that grew past 64 MiB under a
                // burst is cut back rather than kept at its peak size.
                .pragma("journal_size_limit", "67108864")
                // Statement journals (every multi-row statement inside a
                // transaction keeps one, to undo itself alone on error) and
                // sort spills stay in memory: as temporary files they cost a
                // tenth of a batched insert's time in write system calls.
                .pragma("temp_store", "memory");
            let in_memory = connect.get_filename().as_os_str().is_empty()
                || url.contains(":memory:")
                || url.contains("mode=memory");
            let lock = if in_memory {
                FileLock::none()
            } else {
                FileLock::acquire(connect.get_filename()).map_err(ConnectError::Locked)?
            };
            // An in-memory database lives in one connection; more would each see an
            // empty database of their own.
            let max = if in_memory {
                1
            } else {
                options.max_connections.clamp(1, 8)
            };
            let pool = SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone())
                .await?;
            let write_pool = if in_memory {
                pool.clone()
            } else {
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await?
            };
            let shared = std::sync::Arc::new(SqliteShared {
                _lock: lock,
                writer: tokio::sync::Mutex::new(()),
                write_pool,
            });
            if !in_memory {
                tokio::spawn(checkpoint_wal(
                    pool.clone(),
                    std::sync::Arc::downgrade(&shared),
                ));
            }
            return Ok(Db::Sqlite(pool, shared));
        }
        Err(ConnectError::UnsupportedUrl(url.to_string()))
    }

    /// Applies every pending migration of every module.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        match self {
            Db::Sqlite(pool, _) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Db::Postgres(pool, _) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(..) => Backend::Sqlite,
            Db::Postgres(..) => Backend::Postgres,
        }
    }

    /// A trivial round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        crate::with_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes every connection (and, for SQLite, releases the file lock when
    /// the last clone is dropped).
    pub async fn close(&self) {
        match self {
            Db::Sqlite(_, shared) => shared.write_pool.close().await,
            Db::Postgres(_, shared) => {
                shared.batch_pool.close().await;
                shared.own_thread_pool.close().await;
            }
        }
        crate::with_pool!(self, pool => pool.close().await)
    }
}

/// Runs `$body` with `$pool` bound to the concrete pool of either backend.
/// The body is compiled once per backend, so it must type-check for both.
#[macro_export]
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool, _) => $body,
            $crate::store::Db::Postgres($pool, _) => $body,
        }
    };
}

/// Runs `$body` (an expression of type `Result<T, E>` where `E: From<sqlx::Error>`)
/// inside a transaction bound to `$tx`, committing on `Ok` and rolling back on
/// `Err` (or early return). SQLite transactions start with `BEGIN IMMEDIATE` so
/// that writers queue for the lock up front instead of failing on upgrade.
#[macro_export]
macro_rules! in_tx {
    ($db:expr, $tx:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite(_, shared) => {
                #[allow(unused_mut)]
                let (_writer, mut $tx) = shared.begin_write().await?;
                let out = $body;
                if out.is_ok() {
                    $tx.commit().await?;
                }
                out
            }
            $crate::store::Db::Postgres(pool, _) => {
                #[allow(unused_mut)]
                let mut $tx = pool.begin().await?;
                let out = $body;
                if out.is_ok() {
                    $tx.commit().await?;
                }
                out
            }
        }
    };
}

/// An open write transaction on either backend, for operations whose rules
/// run between their reads and writes (booking checks capacity under a lock,
/// then writes). Dropping it without [`Tx::commit`] rolls back. On SQLite it
/// holds the writer queue (see [`SqliteShared::writer`]) until it ends.
pub enum Tx<'a> {
    // Field order matters: the transaction is rolled back before the writer
    // slot is released.
    Sqlite {
        tx: sqlx::Transaction<'static, sqlx::Sqlite>,
        _writer: tokio::sync::MutexGuard<'a, ()>,
    },
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Db {
    /// Begins a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(&self) -> Result<Tx<'_>, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(_, shared) => {
                let (writer, tx) = shared.begin_write().await?;
                Tx::Sqlite {
                    tx,
                    _writer: writer,
                }
            }
            Db::Postgres(pool, _) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Begins a group-commit batch's write transaction: as [`Db::begin`],
    /// but on PostgreSQL on a connection of [`PgShared::batch_pool`].
    /// Nothing else may be taken from that pool while the transaction is
    /// open (a batch holding one connection and waiting for another could
    /// wait forever).
    pub async fn begin_batch(&self) -> Result<Tx<'_>, sqlx::Error> {
        match self {
            Db::Sqlite(..) => self.begin().await,
            Db::Postgres(_, shared) => Ok(Tx::Postgres(shared.batch_pool.begin().await?)),
        }
    }

    /// [`Db::begin_batch`] for batch loops on a thread of their own: on
    /// PostgreSQL on a connection of [`PgShared::own_thread_pool`].
    pub async fn begin_own_thread_batch(&self) -> Result<Tx<'_>, sqlx::Error> {
        match self {
            Db::Sqlite(..) => self.begin().await,
            Db::Postgres(_, shared) => Ok(Tx::Postgres(shared.own_thread_pool.begin().await?)),
        }
    }
}

impl Tx<'_> {
    /// On PostgreSQL, the plan settings of [`PgShared::batch_pool`] for
    /// this transaction only, for a transaction on the main pool that runs
    /// the batches' statements (a calendar placement decided alone). One
    /// more round trip; nothing on SQLite.
    pub async fn prefer_generic_plans(&mut self) -> Result<(), sqlx::Error> {
        if let Tx::Postgres(t) = self {
            let calls: Vec<String> = BATCH_PLAN_SETTINGS
                .iter()
                .map(|(name, value)| format!("set_config('{name}', '{value}', true)"))
                .collect();
            sqlx::query(AssertSqlSafe(format!("SELECT {}", calls.join(", "))))
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite { .. } => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite { tx, .. } => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
}

/// Runs `$body` with `$conn` bound to the connection of a [`Tx`] of either
/// backend; like [`with_pool!`], the body is compiled once per backend.
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite { tx, .. } => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

/// Write-ahead log frames (4 KiB pages) past which the log is restarted.
const WAL_RESTART_FRAMES: i64 = 4096;

/// Copies the SQLite write-ahead log back into the database file every
/// second, and keeps the log from growing without bound; stops when the
/// pool is closed.
///
/// A PASSIVE checkpoint never waits for, nor blocks, readers and writers,
/// so it does most of the copying. But under sustained writes it never
/// catches up with the end of the log, and SQLite only starts the log over
/// once a checkpoint has caught up: the log grew to 1.3 GB in a 20-second
/// insert benchmark, and every write then paid for extending the file.
/// So when the log is past [`WAL_RESTART_FRAMES`], the checkpointer takes
/// its place in the writer queue and runs a RESTART checkpoint, which
/// copies the few frames the passive one missed and lets the next write
/// begin at the start of the log.
async fn checkpoint_wal(pool: SqlitePool, shared: std::sync::Weak<SqliteShared>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if pool.is_closed() {
            return;
        }
        let frames = match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
        {
            Ok((_busy, frames, _copied)) => frames,
            Err(e) => {
                if pool.is_closed() {
                    return;
                }
                tracing::debug!(error = %e, "WAL checkpoint failed; will retry");
                continue;
            }
        };
        if frames < WAL_RESTART_FRAMES {
            continue;
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let _writer = shared.writer.lock().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .execute(&shared.write_pool)
            .await
        {
            tracing::debug!(error = %e, "WAL restart checkpoint failed; will retry");
        }
    }
}

/// True when the error is a unique-constraint violation (either backend).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}
