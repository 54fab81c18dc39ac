//! Jianghai's storage: one interface ([`Store`]) over two engines, SQLite (the embedded
//! default, WAL, fsync on commit) and PostgreSQL, with the hash-chained ledger.
//!
//! Every query is written once and compiled for both engines by `on_backend!`; the one
//! conformance suite in `tests/` runs against both. An event is acknowledged (the append
//! returns) only after its transaction has committed durably.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let store = jianghai_store::Store::open("sqlite://jianghai.db").await?;
//! let summary = store.verify().await?;
//! println!("{} entries, head {}", summary.count, summary.head);
//! # Ok(()) }
//! ```

mod access;
mod alerts;
mod audit;
mod customs;
mod error;
pub mod ingest;
mod ledger;
mod loading;
mod migrations;
mod monitoring;
mod registry;
mod scoped;
mod tally;
mod transship;
mod vessels;
pub mod volume;
mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use access::{
    AuditEntry, Bearer, DeviceKind, DeviceRecord, MemberScope, Role, Throttle, TokenOwner,
    TokenRecord, TokenUnusable, UserRecord,
};
pub use alerts::{
    Alert, AlertAction, AlertComment, AlertDraft, AlertError, AlertEvent, AlertFilter, AlertScope,
    AlertState, MAX_EVIDENCE_BYTES, RaisedAlert, SUBJECT_KINDS, Severity,
};
pub use customs::{
    CreditRecord, CustomsError, HOLD_KINDS, TransitLogEntry, TransitRecord, VehicleHold,
};
pub use error::{AppendError, OpenError, StoreError, VerifyError};
pub use ingest::{Committed, IngestConfig, IngestError, Ingestor, WatchHold};
pub use ledger::{MAX_BATCH, Receipt, Recorded, VehicleRecord};
pub use loading::{
    DeckPlanRecord, LoadCompletion, LoadingError, LoadingScope, MAX_PLAN_CARS, NewRampScan,
    RampScanRecord, StowagePlanRecord,
};
pub use monitoring::{
    DEFAULT_RETENTION_DAYS, IngestRow, Outcome, ROLLUP_RESOLUTIONS, Rollup, SensorRecord,
    SensorScope, StoredReading, bucket, transit_vessel,
};
pub use scoped::{OrgScope, ShipmentError, ShipmentScope, VehicleScope, VoyageScope};
pub use tally::{
    By, Closed, ConditionReport, DamageEntry, GateInRecord, IdentificationRecord, MAX_PHOTO_BYTES,
    NewGateIn, NewIdentification, ResultRecord, SessionRecord, SessionState, TallyError,
    TallyScope, photo_type,
};
pub use transship::{TransshipError, Transshipment};
pub use vessels::{
    LockPassageRecord, PositionRecord, ProgressRecord, SectionTransitRecord, StateChangeRecord,
    StaticRecord, TrackSnapshot, TrackingRecord, VoyagePlan, VoyageWindow,
};
pub use webhooks::{
    AttemptOutcome, Delivery, DeliveryAttempt, DeliveryState, DueDelivery, WebhookRecord,
};

/// One page of a listing, and the cursor of the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Page {
            items: Vec::new(),
            next: None,
        }
    }
}

/// The engine behind a [`Store`].
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the engine's pool; the body is compiled once per engine,
/// so the same SQL (with `$n` placeholders, which both accept) serves both.
macro_rules! on_backend {
    ($backend:expr, |$pool:ident| $body:expr) => {
        match $backend {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Evaluates to a future running `$body` with `$tx` bound to a write transaction begun with
/// `$begin` (from [`Store::writer`], whose guard the caller holds); the body commits and
/// evaluates to a `Result<_, StoreError>`. A SQLite file store writes on its one dedicated
/// connection ([`Store::ingest_conn`]): SQLite empties a connection's page cache whenever
/// another connection has committed, so a write on any other connection (an audit entry, an
/// alert) sent the next group commit of readings back to reading its b-tree pages.
macro_rules! write_tx {
    ($store:expr, $begin:expr, |$tx:ident| $body:expr) => {
        async {
            match (&$store.backend, &$store.ingest_conn) {
                ($crate::Backend::Sqlite(pool), Some(slot)) => {
                    use sqlx::{ConnectOptions, Connection};
                    let mut slot = slot.lock().await;
                    let written = async {
                        let conn = match slot.as_mut() {
                            Some(c) => c,
                            None => slot.insert(pool.connect_options().connect().await?),
                        };
                        #[allow(unused_mut)]
                        let mut $tx = conn.begin_with($begin).await?;
                        $body
                    }
                    .await;
                    if written.is_err() {
                        // Whatever went wrong, the next write starts on a fresh connection.
                        *slot = None;
                    }
                    written
                }
                ($crate::Backend::Sqlite(pool), None) => {
                    #[allow(unused_mut)]
                    let mut $tx = pool.begin_with($begin).await?;
                    $body
                }
                ($crate::Backend::Postgres(pool), _) => {
                    #[allow(unused_mut)]
                    let mut $tx = pool.begin_with($begin).await?;
                    $body
                }
            }
        }
    };
}
pub(crate) use write_tx;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The storage interface.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    /// SQLite has one writer; serialising appends in-process avoids busy retries.
    pub(crate) write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The alert-log head this process last committed; wakes the live streams.
    pub(crate) alert_log: std::sync::Arc<tokio::sync::watch::Sender<i64>>,
    /// SQLite file stores: the connection readings are written on (opened on first use, taken
    /// after `write_lock`). Always the same one, because SQLite drops a connection's whole page
    /// cache when another connection has committed since its last transaction: from the pool's
    /// round robin, each batch of readings found a cold cache and read its b-tree pages again.
    pub(crate) ingest_conn: Option<IngestConn>,
    /// The audit log's group commit ([`audit`]).
    pub(crate) audit_queue: audit::AuditQueue,
}

/// The dedicated ingestion connection of a SQLite store; `None` until opened (and again after
/// an error, so the next batch reconnects).
pub(crate) type IngestConn =
    std::sync::Arc<tokio::sync::Mutex<Option<sqlx::sqlite::SqliteConnection>>>;

impl Store {
    /// Opens (creating if needed) the store at `url` and brings its schema up to date.
    ///
    /// `sqlite://PATH` (a file, created if missing; `sqlite::memory:` for a throwaway store) or
    /// `postgres://…`. A PostgreSQL URL may carry `schema=NAME` to use (and create) a schema
    /// other than `public`, which lets several stores share one database.
    pub async fn open(url: &str) -> Result<Store, OpenError> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or(url.strip_prefix("sqlite:"))
        {
            return Store::open_sqlite(path).await;
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Store::open_postgres(url).await;
        }
        Err(OpenError::BadUrl(url.to_string()))
    }

    async fn open_sqlite(path: &str) -> Result<Store, OpenError> {
        if path.is_empty() {
            return Err(OpenError::BadUrl("sqlite://".into()));
        }
        let memory = path == ":memory:";
        let mut opts = SqliteConnectOptions::new()
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .synchronous(SqliteSynchronous::Full)
            // 32 MiB of page cache per connection (the default is 2 MiB): a batch of readings
            // with its rollups dirties more pages than that, and spilling them mid-transaction
            // showed up as a tenth of the ingestion profile.
            .pragma("cache_size", "-32768")
            // Checkpoints are the background task's ([`checkpoints`]); a connection copies the
            // WAL into the database after its own commit only past this many pages (SQLite's
            // default is 1,000), should that task fall behind.
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string());
        opts = if memory {
            opts.in_memory(true).shared_cache(true)
        } else {
            opts.filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory { 1 } else { 4 })
            .connect_with(opts)
            .await
            .map_err(OpenError::Connect)?;
        migrations::sqlite()
            .run(&pool)
            .await
            .map_err(OpenError::Migrate)?;
        let store = Store {
            backend: Backend::Sqlite(pool.clone()),
            write_lock: Default::default(),
            alert_log: Default::default(),
            // An in-memory store is one connection's (the pool's only one): nothing to gain.
            ingest_conn: (!memory).then(Default::default),
            audit_queue: Default::default(),
        };
        if !memory {
            tokio::spawn(checkpoints(
                pool,
                std::sync::Arc::downgrade(&store.write_lock),
            ));
        }
        Ok(store)
    }

    async fn open_postgres(url: &str) -> Result<Store, OpenError> {
        let (base, schema) = split_schema(url);
        let mut opts =
            PgConnectOptions::from_str(&base).map_err(|_| OpenError::BadUrl(url.to_string()))?;
        if let Some(schema) = &schema {
            if !schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                || schema.is_empty()
            {
                return Err(OpenError::BadUrl(url.to_string()));
            }
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone())
                .await
                .map_err(OpenError::Connect)?;
            let ddl = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
            sqlx::raw_sql(sqlx::AssertSqlSafe(ddl))
                .execute(&admin)
                .await
                .map_err(OpenError::Connect)?;
            admin.close().await;
            opts = opts.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(OpenError::Connect)?;
        migrations::postgres()
            .run(&pool)
            .await
            .map_err(OpenError::Migrate)?;
        let store = Store {
            backend: Backend::Postgres(pool),
            write_lock: Default::default(),
            alert_log: Default::default(),
            ingest_conn: None,
            audit_queue: Default::default(),
        };
        store
            .create_reading_partitions(chrono::Utc::now())
            .await
            .map_err(OpenError::Partitions)?;
        Ok(store)
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        match self.backend {
            Backend::Sqlite(_) => Engine::Sqlite,
            Backend::Postgres(_) => Engine::Postgres,
        }
    }

    /// Runs raw SQL against the store, bypassing every rule of the platform. Only for tests and
    /// benchmarks that must act behind the platform's back (tampering, baselines).
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        Ok(on_backend!(&self.backend, |pool| sqlx::raw_sql(sql)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    /// Closes the connections, waiting for them to finish.
    pub async fn close(&self) {
        on_backend!(&self.backend, |pool| pool.close().await)
    }
}

/// WAL pages past which a SQLite connection checkpoints by itself after its commit.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 128_000;
/// How often [`checkpoints`] runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// WAL pages past which [`checkpoints`] holds this process's writers back to finish (256 MiB of
/// WAL at 4 KiB pages). With thousands of sensors a group commit writes a page per sensor, so
/// at 8,000 pages the hold came every few commits and stalled the readings behind a checkpoint
/// and its fsync of the database file (reading → alert p99 at 50,000/s: 445–464 ms, against
/// 347–366 ms with this bound, same machine, interleaved runs).
const WAL_RESTART_PAGES: i64 = 64_000;

/// A SQLite file store's checkpoints: every [`CHECKPOINT_EVERY`] the committed WAL pages are
/// copied into the database file (`PASSIVE`: beside the writers, never holding them up).
///
/// SQLite's default is that the connection whose commit takes the WAL past 1,000 pages
/// checkpoints it there and then: under a stream of readings that put a checkpoint and its
/// fsync into every few group commits (and into alerts' commits), all while holding the one
/// write lock. Once every half second instead, a page changed by many commits in between (the
/// b-tree leaf a busy sensor appends to) is copied once rather than once per 1,000-page span.
///
/// A passive checkpoint does not finish while writers keep appending, and the WAL starts over
/// only after one has: past [`WAL_RESTART_PAGES`] the task takes the in-process write lock for
/// the remainder (the pages committed since it started), so the WAL stays bounded. Durability is
/// untouched: every commit is in the fsynced WAL before it is acknowledged, checkpointed or not.
/// Ends when the store is dropped or closed.
async fn checkpoints(pool: SqlitePool, store: std::sync::Weak<tokio::sync::Mutex<()>>) {
    async fn passive(pool: &SqlitePool) -> Result<(i64, i64, i64), sqlx::Error> {
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(pool)
            .await
    }
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(write_lock) = store.upgrade() else {
            return;
        };
        if pool.is_closed() {
            return;
        }
        let done = match passive(&pool).await {
            Ok((_, log, copied)) if log > WAL_RESTART_PAGES && copied < log => {
                let _writers = write_lock.lock().await;
                passive(&pool).await
            }
            other => other,
        };
        if let Err(e) = done
            && !pool.is_closed()
        {
            tracing::warn!(error = %e, "WAL checkpoint failed; retrying.");
        }
    }
}

/// Splits a `schema=NAME` query parameter off a PostgreSQL URL.
fn split_schema(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut schema = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("schema=") {
            Some(s) => {
                schema = Some(s.to_string());
                false
            }
            None => !kv.is_empty(),
        })
        .collect();
    let base = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (base, schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_parameter_is_split_off() {
        assert_eq!(
            split_schema("postgres://u@h/db?schema=t1&sslmode=disable"),
            (
                "postgres://u@h/db?sslmode=disable".to_string(),
                Some("t1".to_string())
            )
        );
        assert_eq!(
            split_schema("postgres://u@h/db"),
            ("postgres://u@h/db".to_string(), None)
        );
    }

    #[tokio::test]
    async fn unknown_url_schemes_are_refused() {
        assert!(matches!(
            Store::open("mysql://x").await,
            Err(OpenError::BadUrl(_))
        ));
        assert!(matches!(
            Store::open("sqlite://").await,
            Err(OpenError::BadUrl(_))
        ));
    }
}
