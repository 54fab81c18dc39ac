//! Alerts: what the watch engine, tally and loading raise, and what people do about them.
//!
//! One alert is *open* (not yet resolved) per (rule, subject) at any time, and the database
//! enforces it: a partial unique index over open alerts, written to by a single upsert, so two
//! raises at the same instant on different connections or nodes update one row instead of
//! creating two. A repeat raises the count, moves `last_seen`, keeps the evidence that opened
//! the alert and records the latest as `last_evidence`.
//!
//! Every change people or machines make (raised, severity raised, acknowledged, assigned,
//! commented, escalated, resolved) appends one row to the alert log in the same transaction.
//! Its sequence numbers come from a one-row head that each writer updates, so they commit in
//! order on both engines: a reader that has seen `seq` N never later finds a smaller one. The
//! live stream, `Last-Event-ID` resumption and webhooks all read this log.
//!
//! Lifecycle: `open → acknowledged → resolved`, or `open → resolved`; [`AlertState::check`]
//! is the one place that says which actions each state allows.

use chrono::{DateTime, Utc};
use jianghai_core::{Ident, ledger::format_time};
use serde_json::Value;
use uuid::Uuid;

use crate::access::page;
use crate::scoped::VehicleScope;
use crate::{Engine, Page, Store, StoreError, on_backend};

/// How serious an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertState {
    Open,
    Acknowledged,
    Resolved,
}

/// What someone does to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertAction {
    Acknowledge,
    Resolve,
    Assign,
    Comment,
}

impl AlertAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertAction::Acknowledge => "acknowledge",
            AlertAction::Resolve => "resolve",
            AlertAction::Assign => "assign",
            AlertAction::Comment => "comment",
        }
    }
}

impl AlertState {
    pub const ALL: [AlertState; 3] = [
        AlertState::Open,
        AlertState::Acknowledged,
        AlertState::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<AlertState> {
        AlertState::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The states `action` may start from. Comments are welcome at any time (a resolved alert
    /// gets its post-mortem); the rest need an alert that is still open.
    fn allows(action: AlertAction) -> &'static [AlertState] {
        match action {
            AlertAction::Acknowledge => &[AlertState::Open],
            AlertAction::Resolve | AlertAction::Assign => {
                &[AlertState::Open, AlertState::Acknowledged]
            }
            AlertAction::Comment => &AlertState::ALL,
        }
    }

    /// Whether `action` is allowed in this state; the error names the state.
    pub fn check(self, action: AlertAction) -> Result<(), AlertError> {
        if AlertState::allows(action).contains(&self) {
            Ok(())
        } else {
            Err(AlertError::State {
                state: self,
                action,
            })
        }
    }
}

/// What a subject is: the kinds sensors watch, plus shipments (tally and loading raise on them).
pub const SUBJECT_KINDS: [&str; 8] = [
    "vessel", "deck", "zone", "vehicle", "seal", "facility", "voyage", "shipment",
];

/// What the subject belongs to, for scoping: a deck, zone or seal is named
/// `owner/part` (`minsheng-1/D3`), everything else is its own owner.
fn owner_of(kind: &str, id: &str) -> String {
    match kind {
        "deck" | "zone" | "seal" => id.split_once('/').map_or(id, |(o, _)| o).to_string(),
        _ => id.to_string(),
    }
}

/// A new raise, as the watch engine, tally or loading hand it over.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertDraft {
    /// The rule that fired (`deck-heat`, `tally-missing-vehicle`, …).
    pub rule: String,
    /// One of [`SUBJECT_KINDS`].
    pub subject_kind: String,
    /// `minsheng-1/D3`, a VIN, a facility id, …
    pub subject_id: String,
    pub severity: Severity,
    pub title: String,
    pub detail: String,
    /// The readings (or scans) that raised it.
    pub evidence: Value,
    /// When the condition was observed (event time).
    pub at: DateTime<Utc>,
    /// `watch`, `tally`, `loading`, …
    pub source: String,
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: Uuid,
    pub rule: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub source: String,
    pub severity: Severity,
    pub state: AlertState,
    pub title: String,
    pub detail: String,
    /// The evidence of the raise that opened the alert.
    pub evidence: Value,
    /// The evidence of the latest repeat (the opening evidence until one comes).
    pub last_evidence: Value,
    pub opened_at: String,
    pub last_seen: String,
    /// How many raises this alert has absorbed (1 when new).
    pub count: i64,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<String>,
    /// The user who resolved it; `None` when the condition cleared by itself.
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
    /// The username it is assigned to.
    pub assignee: Option<String>,
    /// How many times it has been escalated for want of an acknowledgement.
    pub escalation: i32,
    pub escalated_at: Option<String>,
}

/// What [`Store::raise_alert`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct RaisedAlert {
    pub alert: Alert,
    /// True when this raise opened a new alert; false when it updated the open one.
    pub created: bool,
}

/// A comment on an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertComment {
    pub id: Uuid,
    pub alert: Uuid,
    pub at: String,
    pub author: String,
    pub body: String,
}

/// One entry of the alert log: what happened, and the alert as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    pub seq: i64,
    pub at: String,
    /// raised, updated, acknowledged, assigned, commented, escalated or resolved.
    pub kind: String,
    /// `user:NAME`, or the source (`watch`, `escalation`, …) for machines.
    pub actor: String,
    pub detail: String,
    pub alert: Alert,
}

/// Which alerts a reader may see. Like the other scopes, a relation, never a party kind: the
/// server's policy picks one.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertScope {
    All,
    /// Alerts on vehicles and shipments this exporter registered, on the voyages it has cars
    /// on, and on the seals of the customs transits naming its cars.
    ExportedBy(Ident),
    /// Alerts on this carrier's vessels (their decks, zones and seals), its voyages, and the
    /// vehicles it may see (those on its voyages).
    CarriedBy(Ident),
    /// Alerts on facilities this organisation operates (their zones and seals), and the
    /// vehicles it may see (those at or bound for its facilities).
    OperatedBy(Ident),
}

impl AlertScope {
    /// A predicate over `a` (the alerts table) whose one parameter is `$2`.
    pub(crate) fn predicate(&self) -> String {
        let vehicles = |scope: VehicleScope| {
            format!(
                "(a.subject_kind = 'vehicle' AND EXISTS (SELECT 1 FROM vehicles v \
                 WHERE v.vin = a.subject_id AND {}))",
                scope.predicate()
            )
        };
        match self {
            AlertScope::All => "$2 = ''".into(),
            AlertScope::ExportedBy(o) => format!(
                "({} OR (a.subject_kind = 'shipment' AND a.owner IN \
                 (SELECT id FROM shipments WHERE exporter = $2)) \
                 OR (a.subject_kind = 'voyage' AND a.owner IN ({})) \
                 OR (a.subject_kind = 'seal' AND a.subject_id IN (SELECT ts.subject \
                 FROM transit_seals ts JOIN transit_vins tv ON tv.number = ts.number \
                 JOIN vehicles v ON v.vin = tv.vin WHERE v.exporter = $2)))",
                vehicles(VehicleScope::ExportedBy(o.clone())),
                crate::scoped::VOYAGES_BOOKED_BY
            ),
            AlertScope::CarriedBy(o) => format!(
                "((a.subject_kind IN ('vessel', 'deck', 'zone', 'seal') AND a.owner IN \
                 (SELECT id FROM vessels WHERE carrier = $2)) \
                 OR (a.subject_kind = 'voyage' AND a.owner IN (SELECT vo.id FROM voyages vo \
                 JOIN vessels ve ON ve.id = vo.vessel WHERE ve.carrier = $2)) OR {})",
                vehicles(VehicleScope::OnVoyagesOf(o.clone()))
            ),
            AlertScope::OperatedBy(o) => format!(
                "((a.subject_kind IN ('facility', 'zone', 'seal') AND a.owner IN \
                 (SELECT id FROM facilities WHERE operator = $2)) OR {})",
                vehicles(VehicleScope::AtFacilitiesOf(o.clone()))
            ),
        }
    }

    pub(crate) fn param(&self) -> &str {
        match self {
            AlertScope::All => "",
            AlertScope::ExportedBy(o) | AlertScope::CarriedBy(o) | AlertScope::OperatedBy(o) => {
                o.as_str()
            }
        }
    }
}

/// Filters of an alert listing; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertFilter {
    pub state: Option<AlertState>,
    pub severity: Option<Severity>,
    /// (kind, id) of the subject.
    pub subject: Option<(String, String)>,
}

/// Acting on an alert.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AlertError {
    /// Absent, or outside the caller's scope: the same answer either way.
    #[error("there is no alert {0}")]
    NotFound(Uuid),
    #[error("the alert is {}; it cannot be {}d", state.as_str(), action.as_str())]
    State {
        state: AlertState,
        action: AlertAction,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AlertError {
    fn from(e: sqlx::Error) -> Self {
        AlertError::Store(StoreError::Database(e))
    }
}

const ALERT_COLUMNS: &str = "a.id, a.rule, a.subject_kind, a.subject_id, a.source, a.severity, \
     a.state, a.title, a.detail, a.evidence, a.last_evidence, a.opened_at, a.last_seen, a.count, \
     a.acknowledged_at, a.acknowledged_by, a.resolved_at, a.resolved_by, a.resolution, \
     a.assignee, a.escalation, a.escalated_at, a.severity_before";

/// [`ALERT_COLUMNS`] unqualified, for RETURNING clauses (SQLite refuses qualified names there).
fn returning() -> String {
    ALERT_COLUMNS.replace("a.", "")
}

/// The columns of [`ALERT_COLUMNS`], as text and numbers.
struct AlertRow {
    text: [String; 13],
    opt: [Option<String>; 8],
    count: i64,
    escalation: i32,
}

/// Decodes the alert columns starting at `$at` from a row of either engine.
macro_rules! alert_row {
    ($row:expr, $at:expr) => {{
        use sqlx::Row;
        let r = &$row;
        let at: usize = $at;
        let t = |i: usize| r.try_get::<String, _>(at + i);
        let o = |i: usize| r.try_get::<Option<String>, _>(at + i);
        AlertRow {
            text: [
                t(0)?,
                t(1)?,
                t(2)?,
                t(3)?,
                t(4)?,
                t(5)?,
                t(6)?,
                t(7)?,
                t(8)?,
                t(9)?,
                t(10)?,
                t(11)?,
                t(12)?,
            ],
            count: r.try_get::<i64, _>(at + 13)?,
            opt: [
                o(14)?,
                o(15)?,
                o(16)?,
                o(17)?,
                o(18)?,
                o(19)?,
                o(21)?,
                o(22)?,
            ],
            escalation: r.try_get::<i32, _>(at + 20)?,
        }
    }};
}

fn alert(r: AlertRow) -> Result<Alert, StoreError> {
    let [
        id,
        rule,
        subject_kind,
        subject_id,
        source,
        severity,
        state,
        title,
        detail,
        evidence,
        last_evidence,
        opened_at,
        last_seen,
    ] = r.text;
    let [
        acknowledged_at,
        acknowledged_by,
        resolved_at,
        resolved_by,
        resolution,
        assignee,
        escalated_at,
        _severity_before,
    ] = r.opt;
    let json = |s: &str| {
        serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("alert evidence: {e}")))
    };
    Ok(Alert {
        id: uuid(&id)?,
        severity: Severity::parse(&severity)
            .ok_or_else(|| StoreError::Corrupt(format!("alert severity {severity:?}")))?,
        state: AlertState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("alert state {state:?}")))?,
        evidence: json(&evidence)?,
        last_evidence: json(&last_evidence)?,
        rule,
        subject_kind,
        subject_id,
        source,
        title,
        detail,
        opened_at,
        last_seen,
        count: r.count,
        acknowledged_at,
        acknowledged_by,
        resolved_at,
        resolved_by,
        resolution,
        assignee,
        escalation: r.escalation,
        escalated_at,
    })
}

/// Refuses text that is empty or longer than `max` characters.
fn bounded(what: &str, s: &str, max: usize) -> Result<(), StoreError> {
    let n = s.chars().count();
    if s.trim().is_empty() || n > max {
        return Err(StoreError::Invalid(format!(
            "{what} must be 1 to {max} characters (got {n})"
        )));
    }
    Ok(())
}

impl AlertDraft {
    fn validate(&self) -> Result<(), StoreError> {
        bounded("the rule", &self.rule, 128)?;
        bounded("the subject id", &self.subject_id, 128)?;
        bounded("the source", &self.source, 32)?;
        bounded("the title", &self.title, 200)?;
        if self.detail.chars().count() > 4_000 {
            return Err(StoreError::Invalid(
                "the detail must be at most 4,000 characters".into(),
            ));
        }
        if !SUBJECT_KINDS.contains(&self.subject_kind.as_str()) {
            return Err(StoreError::Invalid(format!(
                "subject kind {:?} is not one of {}",
                self.subject_kind,
                SUBJECT_KINDS.join(", ")
            )));
        }
        Ok(())
    }
}

/// Most evidence, as JSON text, one raise may carry.
pub const MAX_EVIDENCE_BYTES: usize = 64 * 1024;

/// A log entry to append in the same transaction as the change it records.
struct LogEntry {
    alert: Uuid,
    kind: &'static str,
    actor: String,
    detail: String,
}

/// A bind parameter of a change.
enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

/// One statement that changes alerts (and returns the changed rows with [`ALERT_COLUMNS`], or
/// nothing), run by [`Store::alert_write`].
struct Change {
    sql: String,
    args: Vec<Arg>,
}

/// An alert with the severity it had before the statement (repeats of a raise only).
type Changed = (Alert, Option<Severity>);

/// The log entries a change makes of the alerts it changed.
type LogFn<'a> = Box<dyn FnOnce(&[Changed]) -> Vec<LogEntry> + Send + 'a>;

impl Store {
    /// How to begin a write transaction on this engine, and the in-process writer lock that
    /// SQLite (one writer at a time) takes so writers queue here instead of retrying on busy.
    pub(crate) async fn writer(&self) -> (&'static str, Option<tokio::sync::MutexGuard<'_, ()>>) {
        match self.engine() {
            Engine::Sqlite => ("BEGIN IMMEDIATE", Some(self.write_lock.lock().await)),
            Engine::Postgres => ("BEGIN", None),
        }
    }

    /// The highest alert-log sequence number committed so far.
    pub async fn alert_log_head(&self) -> Result<i64, StoreError> {
        let (seq,): (i64,) = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT seq FROM alert_log_head WHERE id = 1"
        )
        .fetch_one(pool)
        .await?);
        Ok(seq)
    }

    /// Wakes up whenever this process commits to the alert log, carrying the head it reached.
    /// Writers in other processes are not seen here: readers also poll.
    pub fn alert_log_changes(&self) -> tokio::sync::watch::Receiver<i64> {
        self.alert_log.subscribe()
    }

    /// Tells this process's live streams that another node has committed the alert log up to
    /// `head` (a notification over the bus), so they read it now instead of at their next poll.
    pub fn alert_log_seen(&self, head: i64) {
        self.alert_log.send_if_modified(|h| {
            let moved = head > *h;
            *h = (*h).max(head);
            moved
        });
    }

    /// Runs `change` and appends the log entries `log` makes of the changed alerts, in one
    /// write transaction; returns the changed alerts.
    async fn alert_write(
        &self,
        change: Change,
        log: impl FnOnce(&[Changed]) -> Vec<LogEntry> + Send,
    ) -> Result<Vec<Alert>, StoreError> {
        Ok(self
            .alert_writes(vec![(change, Box::new(log))])
            .await?
            .into_iter()
            .next()
            .unwrap_or_default())
    }

    /// Runs each change in turn and appends the log entries each makes, all in one write
    /// transaction (one wait for the writer, one commit); returns each change's alerts.
    async fn alert_writes(
        &self,
        changes: Vec<(Change, LogFn<'_>)>,
    ) -> Result<Vec<Vec<Alert>>, StoreError> {
        let (begin, _writer) = self.writer().await;
        let (all, head) = crate::write_tx!(self, begin, |tx| {
            use sqlx::Row;
            let mut all: Vec<Vec<Alert>> = Vec::with_capacity(changes.len());
            let mut entries: Vec<LogEntry> = Vec::new();
            for (change, log) in changes {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(change.sql));
                for a in change.args {
                    q = match a {
                        Arg::Text(s) => q.bind(s),
                        Arg::OptText(s) => q.bind(s),
                        Arg::Int(n) => q.bind(n),
                    };
                }
                let rows = q.fetch_all(&mut *tx).await?;
                let mut changed: Vec<Changed> = Vec::with_capacity(rows.len());
                for r in rows {
                    let before: Option<String> = r.try_get(22)?;
                    changed.push((
                        alert(alert_row!(r, 0))?,
                        before.as_deref().and_then(Severity::parse),
                    ));
                }
                entries.extend(log(&changed));
                all.push(changed.into_iter().map(|(a, _)| a).collect());
            }
            let mut head = None;
            if !entries.is_empty() {
                let n = i64::try_from(entries.len()).unwrap_or(i64::MAX);
                let (last,): (i64,) = sqlx::query_as(
                    "UPDATE alert_log_head SET seq = seq + $1 WHERE id = 1 RETURNING seq",
                )
                .bind(n)
                .fetch_one(&mut *tx)
                .await?;
                let now = format_time(Utc::now());
                for (seq, e) in (last - n + 1..).zip(&entries) {
                    sqlx::query(
                        "INSERT INTO alert_events (seq, alert, at, kind, actor, detail) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(seq)
                    .bind(e.alert.to_string())
                    .bind(&now)
                    .bind(e.kind)
                    .bind(&e.actor)
                    .bind(&e.detail)
                    .execute(&mut *tx)
                    .await?;
                }
                head = Some(last);
            }
            tx.commit().await?;
            Ok::<_, StoreError>((all, head))
        })
        .await?;
        if let Some(head) = head {
            self.alert_log.send_if_modified(|h| {
                let moved = head > *h;
                *h = (*h).max(head);
                moved
            });
        }
        Ok(all)
    }

    /// Raises an alert: opens one, or, when one is already open for the same rule and
    /// subject, counts the repeat on it (latest evidence, last seen, the higher severity).
    /// Safe against concurrent raises on any number of connections and nodes.
    pub async fn raise_alert(&self, d: &AlertDraft) -> Result<RaisedAlert, StoreError> {
        self.raise_alerts(std::slice::from_ref(d))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("the alert upsert returned no row".into()))
    }

    /// [`Store::raise_alert`] for each draft in turn, all in one write transaction: one wait
    /// for the writer and one commit for the lot (the watch engine's decisions queue up behind
    /// the readings' group commits under load). Refuses the whole call, writing nothing, if a
    /// draft is invalid.
    pub async fn raise_alerts(
        &self,
        drafts: &[AlertDraft],
    ) -> Result<Vec<RaisedAlert>, StoreError> {
        let changes = drafts
            .iter()
            .map(raise_change)
            .collect::<Result<Vec<_>, _>>()?;
        self.alert_writes(changes)
            .await?
            .into_iter()
            .map(|changed| {
                let alert = changed.into_iter().next().ok_or_else(|| {
                    StoreError::Corrupt("the alert upsert returned no row".into())
                })?;
                Ok(RaisedAlert {
                    created: alert.count == 1,
                    alert,
                })
            })
            .collect()
    }

    /// Resolves the open alert of `rule` on the subject, if any, because its condition has
    /// cleared (the watch engine decides when, with its hysteresis).
    pub async fn clear_alert(
        &self,
        rule: &str,
        subject_kind: &str,
        subject_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Alert>, StoreError> {
        let returning = returning();
        let change = Change {
            sql: format!(
                "UPDATE alerts AS a SET state = 'resolved', resolution = 'cleared', \
                 resolved_at = CASE WHEN $4 < a.opened_at THEN a.opened_at ELSE $4 END \
                 WHERE a.rule = $1 AND a.subject_kind = $2 AND a.subject_id = $3 \
                 AND a.resolved_at IS NULL RETURNING {returning}"
            ),
            args: vec![
                Arg::Text(rule.into()),
                Arg::Text(subject_kind.into()),
                Arg::Text(subject_id.into()),
                Arg::Text(format_time(at)),
            ],
        };
        let cleared = self
            .alert_write(change, |changed| {
                log_each(changed, "resolved", "watch", |_| {
                    "the condition cleared".into()
                })
            })
            .await?;
        Ok(cleared.into_iter().next())
    }

    /// The alert `id` if it is in `scope`; `None` whether it is absent or out of scope.
    pub async fn alert_in(
        &self,
        id: Uuid,
        scope: &AlertScope,
    ) -> Result<Option<Alert>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.id = $1 AND {}",
            scope.predicate()
        );
        let row = on_backend!(&self.backend, |pool| {
            match sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.to_string())
                .bind(scope.param())
                .fetch_optional(pool)
                .await?
            {
                Some(r) => Some(alert_row!(r, 0)),
                None => None,
            }
        });
        row.map(alert).transpose()
    }

    /// Alerts in `scope` matching `filter`, newest first, after the cursor `after`.
    pub async fn alerts(
        &self,
        scope: &AlertScope,
        filter: &AlertFilter,
        after: &str,
        limit: i64,
    ) -> Result<Page<Alert>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts a WHERE ($1 = '' OR a.id < $1) AND {} \
             AND ($4 = '' OR a.state = $4) AND ($5 = '' OR a.severity = $5) \
             AND ($6 = '' OR (a.subject_kind = $6 AND a.subject_id = $7)) \
             ORDER BY a.id DESC LIMIT $3",
            scope.predicate()
        );
        let (kind, id) = filter
            .subject
            .as_ref()
            .map_or(("", ""), |(k, i)| (k.as_str(), i.as_str()));
        let rows = on_backend!(&self.backend, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(after)
                .bind(scope.param())
                .bind(limit + 1)
                .bind(filter.state.map_or("", AlertState::as_str))
                .bind(filter.severity.map_or("", Severity::as_str))
                .bind(kind)
                .bind(id)
                .fetch_all(pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(alert_row!(r, 0));
            }
            out
        });
        let items = rows.into_iter().map(alert).collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, limit, |a| a.id.to_string()))
    }

    /// Runs one guarded transition on alert `id` (in `scope`): `set` is the SQL assignment
    /// list over `a` whose parameters start at `$2`, applied only while the alert is in a
    /// state that allows `action`. The error says whether the alert is missing (or outside
    /// the scope) or in the wrong state.
    async fn transition(
        &self,
        id: Uuid,
        scope: &AlertScope,
        action: AlertAction,
        set: &str,
        args: Vec<Arg>,
        entry: (&'static str, &str, String),
    ) -> Result<Alert, AlertError> {
        let current = self
            .alert_in(id, scope)
            .await?
            .ok_or(AlertError::NotFound(id))?;
        current.state.check(action)?;
        let returning = returning();
        let states = AlertState::allows(action)
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut all = vec![Arg::Text(id.to_string())];
        all.extend(args);
        let change = Change {
            sql: format!(
                "UPDATE alerts AS a SET {set} WHERE a.id = $1 AND a.state IN ({states}) \
                 RETURNING {returning}"
            ),
            args: all,
        };
        let (kind, actor, detail) = entry;
        let changed = self
            .alert_write(change, |changed| {
                log_each(changed, kind, actor, |_| detail.clone())
            })
            .await?;
        match changed.into_iter().next() {
            Some(a) => Ok(a),
            // Someone else moved it between the read and the update: say where it is now.
            None => match self.alert_in(id, scope).await? {
                Some(now) => Err(AlertError::State {
                    state: now.state,
                    action,
                }),
                None => Err(AlertError::NotFound(id)),
            },
        }
    }

    /// Acknowledges an open alert: someone is on it, and escalation stops.
    pub async fn acknowledge_alert(
        &self,
        id: Uuid,
        scope: &AlertScope,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Alert, AlertError> {
        self.transition(
            id,
            scope,
            AlertAction::Acknowledge,
            "state = 'acknowledged', acknowledged_at = $2, acknowledged_by = $3",
            vec![Arg::Text(format_time(at)), Arg::Text(by.into())],
            ("acknowledged", by, format!("acknowledged by {by}")),
        )
        .await
    }

    /// Resolves an alert by hand, with an optional note.
    pub async fn resolve_alert(
        &self,
        id: Uuid,
        scope: &AlertScope,
        by: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Alert, AlertError> {
        if let Some(n) = note {
            bounded("the resolution note", n, 2_000).map_err(store_to_alert)?;
        }
        self.transition(
            id,
            scope,
            AlertAction::Resolve,
            "state = 'resolved', \
             resolved_at = CASE WHEN $2 < a.opened_at THEN a.opened_at ELSE $2 END, \
             resolved_by = $3, resolution = $4",
            vec![
                Arg::Text(format_time(at)),
                Arg::Text(by.into()),
                Arg::Text(note.unwrap_or("resolved by hand").into()),
            ],
            (
                "resolved",
                by,
                note.map_or_else(|| format!("resolved by {by}"), str::to_string),
            ),
        )
        .await
    }

    /// Assigns an alert to a username (`None` unassigns). The caller checks the username.
    pub async fn assign_alert(
        &self,
        id: Uuid,
        scope: &AlertScope,
        assignee: Option<&str>,
        by: &str,
    ) -> Result<Alert, AlertError> {
        self.transition(
            id,
            scope,
            AlertAction::Assign,
            "assignee = $2",
            vec![Arg::OptText(assignee.map(str::to_string))],
            (
                "assigned",
                by,
                assignee.map_or_else(|| "unassigned".into(), |u| format!("assigned to {u}")),
            ),
        )
        .await
    }

    /// Adds a comment to an alert in `scope`.
    pub async fn comment_alert(
        &self,
        id: Uuid,
        scope: &AlertScope,
        author: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<AlertComment, AlertError> {
        bounded("a comment", body, 4_000).map_err(store_to_alert)?;
        let a = self
            .alert_in(id, scope)
            .await?
            .ok_or(AlertError::NotFound(id))?;
        a.state.check(AlertAction::Comment)?;
        let c = AlertComment {
            id: Uuid::now_v7(),
            alert: id,
            at: format_time(at),
            author: author.to_string(),
            body: body.to_string(),
        };
        let change = Change {
            sql: "INSERT INTO alert_comments (id, alert, at, author, body) \
                  VALUES ($1, $2, $3, $4, $5)"
                .into(),
            args: vec![
                Arg::Text(c.id.to_string()),
                Arg::Text(id.to_string()),
                Arg::Text(c.at.clone()),
                Arg::Text(c.author.clone()),
                Arg::Text(c.body.clone()),
            ],
        };
        self.alert_write(change, |_| {
            vec![LogEntry {
                alert: id,
                kind: "commented",
                actor: author.to_string(),
                detail: body.chars().take(200).collect(),
            }]
        })
        .await?;
        Ok(c)
    }

    /// The comments of alert `id`, oldest first (the caller has checked its scope).
    pub async fn alert_comments(&self, id: Uuid) -> Result<Vec<AlertComment>, StoreError> {
        let rows: Vec<(String, String, String, String, String)> =
            on_backend!(&self.backend, |pool| sqlx::query_as(
                "SELECT id, alert, at, author, body FROM alert_comments WHERE alert = $1 \
                 ORDER BY id"
            )
            .bind(id.to_string())
            .fetch_all(pool)
            .await?);
        rows.into_iter()
            .map(|(cid, alert, at, author, body)| {
                Ok(AlertComment {
                    id: uuid(&cid)?,
                    alert: uuid(&alert)?,
                    at,
                    author,
                    body,
                })
            })
            .collect()
    }

    /// Escalates every open (unacknowledged) alert of `severity` that has waited `after` since
    /// it opened or was last escalated, up to `max_level`; returns the escalated alerts.
    pub async fn escalate_alerts(
        &self,
        severity: Severity,
        after: chrono::Duration,
        max_level: i32,
        now: DateTime<Utc>,
    ) -> Result<Vec<Alert>, StoreError> {
        let returning = returning();
        let change = Change {
            sql: format!(
                "UPDATE alerts AS a SET escalation = a.escalation + 1, escalated_at = $1 \
                 WHERE a.state = 'open' AND a.severity = $2 AND a.escalation < $3 \
                 AND COALESCE(a.escalated_at, a.opened_at) <= $4 RETURNING {returning}"
            ),
            args: vec![
                Arg::Text(format_time(now)),
                Arg::Text(severity.as_str().into()),
                Arg::Int(i64::from(max_level)),
                Arg::Text(format_time(now - after)),
            ],
        };
        self.alert_write(change, |changed| {
            log_each(changed, "escalated", "escalation", |a| {
                format!("not acknowledged: escalated to level {}", a.escalation)
            })
        })
        .await
    }

    /// Entries of the alert log after `after` (a sequence number) whose alert is in `scope`,
    /// oldest first: at most `limit`, and none past `upto`.
    pub async fn alert_events_after(
        &self,
        scope: &AlertScope,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<AlertEvent>, StoreError> {
        let sql = format!(
            "SELECT e.seq, e.at, e.kind, e.actor, e.detail, {ALERT_COLUMNS} \
             FROM alert_events e JOIN alerts a ON a.id = e.alert \
             WHERE e.seq > $1 AND e.seq <= $4 AND {} ORDER BY e.seq LIMIT $3",
            scope.predicate()
        );
        type Head = (i64, String, String, String, String);
        let rows: Vec<(Head, AlertRow)> = on_backend!(&self.backend, |pool| {
            use sqlx::Row;
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(after)
                .bind(scope.param())
                .bind(limit)
                .bind(upto)
                .fetch_all(pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let head: Head = (
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                );
                out.push((head, alert_row!(r, 5)));
            }
            out
        });
        rows.into_iter()
            .map(|((seq, at, kind, actor, detail), row)| {
                Ok(AlertEvent {
                    seq,
                    at,
                    kind,
                    actor,
                    detail,
                    alert: alert(row)?,
                })
            })
            .collect()
    }
}

/// One log entry per changed alert.
fn log_each(
    changed: &[Changed],
    kind: &'static str,
    actor: &str,
    detail: impl Fn(&Alert) -> String,
) -> Vec<LogEntry> {
    changed
        .iter()
        .map(|(a, _)| LogEntry {
            alert: a.id,
            kind,
            actor: actor.to_string(),
            detail: detail(a),
        })
        .collect()
}

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("id {s:?}: {e}")))
}

fn store_to_alert(e: StoreError) -> AlertError {
    match e {
        StoreError::Invalid(m) => AlertError::Invalid(m),
        other => AlertError::Store(other),
    }
}

/// The upsert that raises `d`, and the log entries it makes.
fn raise_change(d: &AlertDraft) -> Result<(Change, LogFn<'static>), StoreError> {
    d.validate()?;
    let evidence = serde_json::to_string(&d.evidence)
        .map_err(|e| StoreError::Invalid(format!("evidence: {e}")))?;
    if evidence.len() > MAX_EVIDENCE_BYTES {
        return Err(StoreError::Invalid(format!(
            "the evidence is {} bytes of JSON; at most {MAX_EVIDENCE_BYTES} are kept",
            evidence.len()
        )));
    }
    let at = format_time(d.at);
    let returning = returning();
    let rank =
        |c: &str| format!("(CASE {c} WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END)");
    let sql = format!(
        "INSERT INTO alerts AS a (id, rule, subject_kind, subject_id, owner, source, \
         severity, state, title, detail, evidence, last_evidence, opened_at, last_seen, \
         count, escalation) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $10, $11, $11, 1, 0) \
         ON CONFLICT (rule, subject_kind, subject_id) WHERE resolved_at IS NULL DO UPDATE SET \
         count = a.count + 1, \
         last_seen = CASE WHEN excluded.last_seen > a.last_seen \
                          THEN excluded.last_seen ELSE a.last_seen END, \
         last_evidence = excluded.last_evidence, title = excluded.title, \
         detail = excluded.detail, severity_before = a.severity, \
         severity = CASE WHEN {} > {} THEN excluded.severity ELSE a.severity END \
         RETURNING {returning}",
        rank("excluded.severity"),
        rank("a.severity"),
    );
    let change = Change {
        sql,
        args: vec![
            Arg::Text(Uuid::now_v7().to_string()),
            Arg::Text(d.rule.clone()),
            Arg::Text(d.subject_kind.clone()),
            Arg::Text(d.subject_id.clone()),
            Arg::Text(owner_of(&d.subject_kind, &d.subject_id)),
            Arg::Text(d.source.clone()),
            Arg::Text(d.severity.as_str().into()),
            Arg::Text(d.title.clone()),
            Arg::Text(d.detail.clone()),
            Arg::Text(evidence),
            Arg::Text(at),
        ],
    };
    let actor = d.source.clone();
    let log: LogFn<'static> = Box::new(move |changed: &[Changed]| {
        changed
            .iter()
            .filter_map(|(a, before)| {
                let (kind, detail) = if a.count == 1 {
                    ("raised", a.title.clone())
                } else if before.is_some_and(|b| a.severity > b) {
                    (
                        "updated",
                        format!("severity raised to {}", a.severity.as_str()),
                    )
                } else {
                    return None;
                };
                Some(LogEntry {
                    alert: a.id,
                    kind,
                    actor: actor.clone(),
                    detail,
                })
            })
            .collect()
    });
    Ok((change, log))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_allows_only_forward_moves() {
        use AlertAction::*;
        use AlertState::*;
        assert!(Open.check(Acknowledge).is_ok());
        assert!(Acknowledged.check(Acknowledge).is_err());
        assert!(Resolved.check(Acknowledge).is_err());
        assert!(Open.check(Resolve).is_ok());
        assert!(Acknowledged.check(Resolve).is_ok());
        assert!(Resolved.check(Resolve).is_err());
        assert!(Resolved.check(Assign).is_err());
        assert!(Resolved.check(Comment).is_ok());
        let e = Resolved.check(Acknowledge).unwrap_err().to_string();
        assert_eq!(e, "the alert is resolved; it cannot be acknowledged");
    }

    #[test]
    fn parts_of_a_vessel_or_facility_belong_to_it() {
        assert_eq!(owner_of("deck", "minsheng-1/D3"), "minsheng-1");
        assert_eq!(owner_of("zone", "guoyuan-yard/Z1"), "guoyuan-yard");
        assert_eq!(owner_of("seal", "lonely-seal"), "lonely-seal");
        assert_eq!(
            owner_of("vehicle", "LS5A3ABE0RB000011"),
            "LS5A3ABE0RB000011"
        );
    }
}
