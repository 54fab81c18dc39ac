//! The append-only, hash-chained ledger and the vehicle projection it drives.
//!
//! An append runs in one write transaction: validate, resolve duplicates by event id, check
//! references and the lifecycle, chain and insert the entries, update the projection and the
//! head, commit. The caller gets its [`Receipt`]s only after the commit, so an acknowledged
//! event is durable.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Utc};
use jianghai_core::ledger::{self, StoredEntry, Summary, Verifier, entry_hash, format_time};
use jianghai_core::lifecycle::{self, Status, Step, VehicleState};
use jianghai_core::{Event, Ident, Vin};
use uuid::Uuid;

use crate::{AppendError, Engine, Store, StoreError, VerifyError, on_backend};

/// Most events one append may carry.
pub const MAX_BATCH: usize = 10_000;

/// What an append acknowledges for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub event_id: Uuid,
    pub seq: i64,
    pub record_time: String,
    pub hash: String,
    /// True when the event id was already recorded with the same content: nothing new was
    /// written and this is the original receipt.
    pub duplicate: bool,
}

/// An event as the ledger holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub seq: i64,
    pub record_time: String,
    pub hash: String,
    pub event: Event,
}

/// A vehicle's row in the current-state projection.
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleRecord {
    pub vin: Vin,
    pub status: Status,
    pub exporter: Ident,
    pub manufacturer: Option<String>,
    pub model_year: Option<i32>,
    pub last_seq: i64,
    pub updated_at: String,
}

/// Projection state of a vehicle while a batch is being applied.
#[derive(Debug, Clone)]
struct Projected {
    status: Status,
    exporter: String,
    manufacturer: Option<String>,
    model_year: Option<i32>,
}

type HeadRow = (i64, String);
type StoredVehicleRow = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<i32>,
);
type EntryRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

const ENTRY_COLUMNS: &str =
    "seq, record_time, prev_hash, hash, body, event_id, event_time, biz_step, organisation";
const VERIFY_PAGE: i64 = 5_000;

fn state(s: &str) -> Result<VehicleState, StoreError> {
    VehicleState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("vehicle state {s:?}")))
}

fn status_of(state_s: &str, held: Option<&str>) -> Result<Status, StoreError> {
    Ok(Status {
        state: state(state_s)?,
        held_from: held.map(state).transpose()?,
    })
}

fn entry(r: EntryRow) -> StoredEntry {
    StoredEntry {
        seq: r.0,
        record_time: r.1,
        prev_hash: r.2,
        hash: r.3,
        body: r.4,
        event_id: r.5,
        event_time: r.6,
        biz_step: r.7,
        organisation: r.8,
    }
}

fn recorded(
    seq: i64,
    record_time: String,
    hash: String,
    body: &str,
) -> Result<Recorded, StoreError> {
    let event = serde_json::from_str(body)
        .map_err(|e| StoreError::Corrupt(format!("ledger entry {seq}: {e}")))?;
    Ok(Recorded {
        seq,
        record_time,
        hash,
        event,
    })
}

impl Store {
    /// Appends one event. See [`Store::append_batch_at`].
    pub async fn append(&self, event: Event) -> Result<Receipt, AppendError> {
        let mut receipts = self.append_batch_at(vec![event], Utc::now()).await?;
        receipts
            .pop()
            .ok_or_else(|| AppendError::Store(StoreError::Corrupt("no receipt".into())))
    }

    /// Appends events atomically with the current time as record time.
    pub async fn append_batch(&self, events: Vec<Event>) -> Result<Vec<Receipt>, AppendError> {
        self.append_batch_at(events, Utc::now()).await
    }

    /// Appends `events` in order, all or nothing, with `now` as record time and as the clock
    /// event times are checked against. An event id already recorded with the same content
    /// returns its original receipt; with different content the whole batch is refused.
    ///
    /// The transaction reads what it needs in a few set queries, decides everything in memory
    /// (duplicates, references, lifecycle, chain), then writes in multi-row statements, so a
    /// batch costs a handful of round trips rather than several per event.
    pub async fn append_batch_at(
        &self,
        events: Vec<Event>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Receipt>, AppendError> {
        if events.len() > MAX_BATCH {
            return Err(AppendError::BatchTooLarge {
                count: events.len(),
                max: MAX_BATCH,
            });
        }
        for (index, e) in events.iter().enumerate() {
            e.validate(now)
                .map_err(|error| AppendError::Invalid { index, error })?;
        }
        let record_time = format_time(now);
        let (begin, head_sql) = match self.engine() {
            Engine::Sqlite => (
                "BEGIN IMMEDIATE",
                "SELECT count, hash FROM ledger_head WHERE id = 1",
            ),
            // The row lock serialises appends across nodes sharing one database.
            Engine::Postgres => (
                "BEGIN",
                "SELECT count, hash FROM ledger_head WHERE id = 1 FOR UPDATE",
            ),
        };
        let ids: Vec<String> = events.iter().map(|e| e.event_id.to_string()).collect();
        let orgs = distinct(events.iter().map(|e| e.actor.organisation.as_str()));
        let facilities = distinct(
            events
                .iter()
                .flat_map(|e| [&e.read_point, &e.biz_location])
                .flatten()
                .map(|f| f.as_str()),
        );
        let voyages = distinct(
            events
                .iter()
                .filter_map(|e| e.subjects.voyage.as_ref())
                .map(|v| v.as_str()),
        );
        let stepped = distinct(
            events
                .iter()
                .filter(|e| e.step.is_some())
                .flat_map(|e| e.subjects.vins.iter().map(|v| v.as_str())),
        );

        let _writer = self.write_lock.lock().await;
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let (count, head): HeadRow = sqlx::query_as(head_sql).fetch_one(&mut *tx).await?;

            let mut existing: HashMap<String, (i64, String, String, String)> = HashMap::new();
            for chunk in ids.chunks(IN_CHUNK) {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT event_id, seq, record_time, hash, content_hash FROM ledger WHERE event_id IN (",
                );
                let mut sep = q.separated(", ");
                for id in chunk {
                    sep.push_bind(id.as_str());
                }
                q.push(")");
                let rows: Vec<(String, i64, String, String, String)> =
                    q.build_query_as().fetch_all(&mut *tx).await?;
                existing.extend(rows.into_iter().map(|(id, a, b, c, d)| (id, (a, b, c, d))));
            }
            let mut known: HashSet<(u8, String)> = HashSet::new();
            for (kind, table, wanted) in [
                (0u8, "organisations", &orgs),
                (1, "facilities", &facilities),
                (2, "voyages", &voyages),
            ] {
                for chunk in wanted.chunks(IN_CHUNK) {
                    let mut q =
                        sqlx::QueryBuilder::new(format!("SELECT id FROM {table} WHERE id IN ("));
                    let mut sep = q.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    q.push(")");
                    let rows: Vec<(String,)> = q.build_query_as().fetch_all(&mut *tx).await?;
                    known.extend(rows.into_iter().map(|(id,)| (kind, id)));
                }
            }
            let mut stored: HashMap<String, Projected> = HashMap::new();
            for chunk in stepped.chunks(IN_CHUNK) {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT vin, state, held_from, exporter, manufacturer, model_year FROM vehicles WHERE vin IN (",
                );
                let mut sep = q.separated(", ");
                for v in chunk {
                    sep.push_bind(*v);
                }
                q.push(")");
                let rows: Vec<StoredVehicleRow> = q.build_query_as().fetch_all(&mut *tx).await?;
                for (vin, st, held, exporter, manufacturer, model_year) in rows {
                    let status = status_of(&st, held.as_deref())?;
                    stored.insert(
                        vin,
                        Projected {
                            status,
                            exporter,
                            manufacturer,
                            model_year,
                        },
                    );
                }
            }

            let plan = plan_batch(
                &events,
                &existing,
                &known,
                stored,
                count,
                head,
                &record_time,
                now,
            )?;

            for chunk in plan.entries.chunks(ROW_CHUNK) {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO ledger (seq, event_id, event_time, record_time, biz_step, \
                     organisation, content_hash, prev_hash, hash, body) ",
                );
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(r.seq)
                        .push_bind(&r.event_id)
                        .push_bind(&r.event_time)
                        .push_bind(&record_time)
                        .push_bind(&r.biz_step)
                        .push_bind(&r.organisation)
                        .push_bind(&r.content_hash)
                        .push_bind(&r.prev_hash)
                        .push_bind(&r.hash)
                        .push_bind(&r.body);
                });
                q.build().execute(&mut *tx).await?;
            }
            for chunk in plan.index.chunks(ROW_CHUNK * 3) {
                let mut q =
                    sqlx::QueryBuilder::new("INSERT INTO event_vins (vin, event_time, seq) ");
                q.push_values(chunk, |mut b, (vin, event_time, seq)| {
                    b.push_bind(vin.as_str())
                        .push_bind(event_time.as_str())
                        .push_bind(*seq);
                });
                q.build().execute(&mut *tx).await?;
            }
            let links: Vec<&Link> = plan.links.iter().collect();
            for chunk in links.chunks(ROW_CHUNK * 3) {
                let mut q = sqlx::QueryBuilder::new("INSERT INTO vehicle_links (vin, kind, ref) ");
                q.push_values(chunk, |mut b, (vin, kind, r)| {
                    b.push_bind(vin.as_str())
                        .push_bind(*kind)
                        .push_bind(r.as_str());
                });
                q.push(" ON CONFLICT DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }
            for chunk in plan.vehicles.chunks(ROW_CHUNK) {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO vehicles (vin, state, held_from, exporter, manufacturer, \
                     model_year, last_seq, updated_at) ",
                );
                q.push_values(chunk, |mut b, (vin, p, seq)| {
                    b.push_bind(vin.as_str())
                        .push_bind(p.status.state.as_str())
                        .push_bind(p.status.held_from.map(|s| s.as_str()))
                        .push_bind(&p.exporter)
                        .push_bind(&p.manufacturer)
                        .push_bind(p.model_year)
                        .push_bind(*seq)
                        .push_bind(&record_time);
                });
                q.push(
                    " ON CONFLICT (vin) DO UPDATE SET state = excluded.state, \
                     held_from = excluded.held_from, exporter = excluded.exporter, \
                     manufacturer = excluded.manufacturer, model_year = excluded.model_year, \
                     last_seq = excluded.last_seq, updated_at = excluded.updated_at",
                );
                q.build().execute(&mut *tx).await?;
            }
            if !plan.entries.is_empty() {
                sqlx::query("UPDATE ledger_head SET count = $1, hash = $2 WHERE id = 1")
                    .bind(plan.count)
                    .bind(&plan.head)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(plan.receipts)
        })
    }

    /// The recorded event with `event_id`.
    pub async fn event(&self, event_id: Uuid) -> Result<Option<Recorded>, StoreError> {
        let row: Option<(i64, String, String, String)> = on_backend!(&self.backend, |pool| {
            sqlx::query_as("SELECT seq, record_time, hash, body FROM ledger WHERE event_id = $1")
                .bind(event_id.to_string())
                .fetch_optional(pool)
                .await?
        });
        row.map(|(seq, rt, hash, body)| recorded(seq, rt, hash, &body))
            .transpose()
    }

    /// Every event naming `vin`, in event-time order (late events fall into place).
    pub async fn timeline(&self, vin: &Vin) -> Result<Vec<Recorded>, StoreError> {
        let rows: Vec<(i64, String, String, String)> = on_backend!(&self.backend, |pool| {
            sqlx::query_as(
                "SELECT l.seq, l.record_time, l.hash, l.body FROM event_vins v \
                 JOIN ledger l ON l.seq = v.seq WHERE v.vin = $1 ORDER BY v.event_time, v.seq",
            )
            .bind(vin.as_str())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(seq, rt, hash, body)| recorded(seq, rt, hash, &body))
            .collect()
    }

    /// Events with sequence numbers after `after_seq`, oldest first, at most `limit`.
    pub async fn events_after(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<Recorded>, StoreError> {
        let rows: Vec<(i64, String, String, String)> = on_backend!(&self.backend, |pool| {
            sqlx::query_as(
                "SELECT seq, record_time, hash, body FROM ledger WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after_seq)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(seq, rt, hash, body)| recorded(seq, rt, hash, &body))
            .collect()
    }

    /// The projection row of `vin`.
    pub async fn vehicle(&self, vin: &Vin) -> Result<Option<VehicleRecord>, StoreError> {
        type Row = (
            String,
            Option<String>,
            String,
            Option<String>,
            Option<i32>,
            i64,
            String,
        );
        let row: Option<Row> = on_backend!(&self.backend, |pool| {
            sqlx::query_as(
                "SELECT state, held_from, exporter, manufacturer, model_year, last_seq, updated_at \
                 FROM vehicles WHERE vin = $1",
            )
            .bind(vin.as_str())
            .fetch_optional(pool)
            .await?
        });
        row.map(
            |(s, held, exporter, manufacturer, model_year, last_seq, updated_at)| {
                Ok(VehicleRecord {
                    vin: *vin,
                    status: status_of(&s, held.as_deref())?,
                    exporter: Ident::parse(&exporter)
                        .map_err(|e| StoreError::Corrupt(format!("exporter {exporter:?}: {e}")))?,
                    manufacturer,
                    model_year,
                    last_seq,
                    updated_at,
                })
            },
        )
        .transpose()
    }

    /// How many vehicles are in each state.
    pub async fn vehicle_counts(&self) -> Result<Vec<(VehicleState, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = on_backend!(&self.backend, |pool| {
            sqlx::query_as("SELECT state, COUNT(*) FROM vehicles GROUP BY state ORDER BY state")
                .fetch_all(pool)
                .await?
        });
        let mut out = rows
            .into_iter()
            .map(|(s, n)| Ok((state(&s)?, n)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort_by_key(|(s, _)| *s);
        Ok(out)
    }

    /// The ledger head: how many entries and the last hash.
    pub async fn head(&self) -> Result<(i64, String), StoreError> {
        Ok(on_backend!(&self.backend, |pool| {
            sqlx::query_as("SELECT count, hash FROM ledger_head WHERE id = 1")
                .fetch_one(pool)
                .await?
        }))
    }

    /// Recomputes the whole chain, then checks the VIN index and the vehicle projection
    /// against a replay of the ledger. Names the first entry that does not match.
    pub async fn verify(&self) -> Result<Summary, VerifyError> {
        let mut verifier = Verifier::new();
        let mut replay: HashMap<Vin, (Status, String, i64)> = HashMap::new();
        let mut expected_links: HashSet<Link> = HashSet::new();
        let mut last = 0i64;
        loop {
            let sql = format!(
                "SELECT {ENTRY_COLUMNS} FROM ledger WHERE seq > $1 ORDER BY seq LIMIT {VERIFY_PAGE}"
            );
            let rows: Vec<EntryRow> = on_backend!(&self.backend, |pool| {
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(last)
                    .fetch_all(pool)
                    .await?
            });
            let Some(page_end) = rows.last().map(|r| r.0) else {
                break;
            };
            let mut expected_index: Vec<(String, i64)> = Vec::new();
            for row in rows {
                let e = entry(row);
                let event = verifier.push(&e)?;
                expected_links.extend(links(&event));
                for vin in &event.subjects.vins {
                    expected_index.push((vin.to_string(), e.seq));
                }
                if let Some(step) = event.step {
                    for vin in &event.subjects.vins {
                        let cur = replay.get(vin).map(|(s, _, _)| *s);
                        let next =
                            lifecycle::next(cur, step).map_err(|err| VerifyError::Projection {
                                table: "ledger",
                                detail: format!(
                                    "entry {} applies an illegal step to {vin}: {err}",
                                    e.seq
                                ),
                            })?;
                        let exporter = match (step, replay.get(vin)) {
                            (Step::Register, _) | (_, None) => e.organisation.clone(),
                            (_, Some((_, exp, _))) => exp.clone(),
                        };
                        replay.insert(*vin, (next, exporter, e.seq));
                    }
                }
            }
            let mut stored_index: Vec<(String, i64)> = on_backend!(&self.backend, |pool| {
                sqlx::query_as("SELECT vin, seq FROM event_vins WHERE seq > $1 AND seq <= $2")
                    .bind(last)
                    .bind(page_end)
                    .fetch_all(pool)
                    .await?
            });
            stored_index.sort();
            expected_index.sort();
            if stored_index != expected_index {
                let missing = expected_index
                    .iter()
                    .find(|x| stored_index.binary_search(x).is_err());
                let extra = stored_index
                    .iter()
                    .find(|x| expected_index.binary_search(x).is_err());
                return Err(VerifyError::Projection {
                    table: "event_vins",
                    detail: match (missing, extra) {
                        (Some((v, s)), _) => format!("VIN {v} of entry {s} is missing"),
                        (_, Some((v, s))) => {
                            format!("VIN {v} is listed for entry {s}, which does not name it")
                        }
                        _ => "rows differ".into(),
                    },
                });
            }
            last = page_end;
        }
        let (count, hash) = self.head().await?;
        let summary = verifier.finish(count, &hash)?;
        self.verify_links(&expected_links).await?;

        let rows: Vec<(String, String, Option<String>, String, i64)> =
            on_backend!(&self.backend, |pool| {
                sqlx::query_as("SELECT vin, state, held_from, exporter, last_seq FROM vehicles")
                    .fetch_all(pool)
                    .await?
            });
        if rows.len() != replay.len() {
            return Err(VerifyError::Projection {
                table: "vehicles",
                detail: format!(
                    "{} vehicles stored, the ledger registers {}",
                    rows.len(),
                    replay.len()
                ),
            });
        }
        for (vin_s, st, held, exporter, last_seq) in rows {
            let vin = Vin::parse(&vin_s).map_err(|e| VerifyError::Projection {
                table: "vehicles",
                detail: format!("stored VIN {vin_s:?} is invalid: {e}"),
            })?;
            let stored = status_of(&st, held.as_deref())?;
            match replay.get(&vin) {
                Some((s, exp, seq)) if *s == stored && *exp == exporter && *seq == last_seq => {}
                Some((s, _, seq)) => {
                    return Err(VerifyError::Projection {
                        table: "vehicles",
                        detail: format!(
                            "{vin} is stored as {} (entry {last_seq}), the ledger says {} (entry {seq})",
                            stored.state, s.state
                        ),
                    });
                }
                None => {
                    return Err(VerifyError::Projection {
                        table: "vehicles",
                        detail: format!("{vin} is stored but never registered in the ledger"),
                    });
                }
            }
        }
        Ok(summary)
    }
}

impl Store {
    /// The stored vehicle ties must be exactly those the ledger states: a forged tie would
    /// widen what a carrier or port may read.
    async fn verify_links(&self, expected: &HashSet<Link>) -> Result<(), VerifyError> {
        let stored: Vec<(String, String, String)> = on_backend!(&self.backend, |pool| {
            sqlx::query_as("SELECT vin, kind, ref FROM vehicle_links")
                .fetch_all(pool)
                .await?
        });
        let wrong = |detail: String| VerifyError::Projection {
            table: "vehicle_links",
            detail,
        };
        let mut seen = 0usize;
        for (vin, kind, r) in stored {
            let key = match kind.as_str() {
                "voyage" => (vin, "voyage", r),
                "facility" => (vin, "facility", r),
                _ => return Err(wrong(format!("{vin} has a tie of unknown kind {kind:?}"))),
            };
            if !expected.contains(&key) {
                let (vin, kind, r) = key;
                return Err(wrong(format!(
                    "{vin} is tied to {kind} {r}, but no ledger entry says so"
                )));
            }
            seen += 1;
        }
        if seen != expected.len() {
            return Err(wrong(format!(
                "{} ties stored, the ledger states {}",
                seen,
                expected.len()
            )));
        }
        Ok(())
    }
}

/// Bind parameters per `IN (...)` list: well under SQLite's and PostgreSQL's limits.
const IN_CHUNK: usize = 500;
/// Rows per multi-row INSERT (at most 10 parameters a row).
const ROW_CHUNK: usize = 500;

fn distinct<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    it.filter(|s| seen.insert(*s)).collect()
}

/// A vehicle's tie to a voyage or facility, as the ledger states it: `(vin, kind, ref)`.
/// The policy layer decides carriers' and ports' reads by these ties, so they are a
/// projection of the ledger like `event_vins`, written in the append and checked by `verify`.
pub(crate) type Link = (String, &'static str, String);

/// The ties one event states: every VIN it names to its voyage, read point and business
/// location.
fn links(e: &Event) -> impl Iterator<Item = Link> + '_ {
    let refs = e
        .subjects
        .voyage
        .iter()
        .map(|v| ("voyage", v))
        .chain(e.read_point.iter().map(|f| ("facility", f)))
        .chain(e.biz_location.iter().map(|f| ("facility", f)));
    let refs: Vec<(&'static str, &Ident)> = refs.collect();
    e.subjects.vins.iter().flat_map(move |vin| {
        refs.clone()
            .into_iter()
            .map(move |(kind, r)| (vin.to_string(), kind, r.to_string()))
    })
}

/// A ledger row ready to insert.
struct NewEntry {
    seq: i64,
    event_id: String,
    event_time: String,
    biz_step: String,
    organisation: String,
    content_hash: String,
    prev_hash: String,
    hash: String,
    body: String,
}

/// Everything one batch writes, decided before any write.
struct BatchPlan {
    entries: Vec<NewEntry>,
    index: Vec<(String, String, i64)>,
    links: HashSet<Link>,
    vehicles: Vec<(String, Projected, i64)>,
    receipts: Vec<Receipt>,
    count: i64,
    head: String,
}

/// Decides a batch in memory: duplicates and conflicts, references, the lifecycle of every VIN
/// (later events in the batch see earlier ones), and the chain. The first failing event, in
/// order, refuses the whole batch.
#[allow(clippy::too_many_arguments)]
fn plan_batch(
    events: &[Event],
    existing: &HashMap<String, (i64, String, String, String)>,
    known: &HashSet<(u8, String)>,
    mut projection: HashMap<String, Projected>,
    mut count: i64,
    mut head: String,
    record_time: &str,
    now: DateTime<Utc>,
) -> Result<BatchPlan, AppendError> {
    let mut plan = BatchPlan {
        entries: Vec::new(),
        index: Vec::new(),
        links: HashSet::new(),
        vehicles: Vec::new(),
        receipts: Vec::with_capacity(events.len()),
        count,
        head: head.clone(),
    };
    let mut in_batch: HashMap<Uuid, (String, usize)> = HashMap::new();
    let mut touched: HashMap<String, i64> = HashMap::new();
    for (index, e) in events.iter().enumerate() {
        let content_hash = e.content_hash();
        let id = e.event_id.to_string();
        if let Some((earlier_hash, at)) = in_batch.get(&e.event_id) {
            if *earlier_hash != content_hash {
                return Err(AppendError::Conflict {
                    event_id: e.event_id,
                });
            }
            if let Some(mut dup) = plan.receipts.get(*at).cloned() {
                dup.duplicate = true;
                plan.receipts.push(dup);
            }
            continue;
        }
        if let Some((seq, rt, hash, stored_content)) = existing.get(&id) {
            if *stored_content != content_hash {
                return Err(AppendError::Conflict {
                    event_id: e.event_id,
                });
            }
            plan.receipts.push(Receipt {
                event_id: e.event_id,
                seq: *seq,
                record_time: rt.clone(),
                hash: hash.clone(),
                duplicate: true,
            });
            continue;
        }
        let org = e.actor.organisation.as_str();
        if !known.contains(&(0, org.to_string())) {
            return Err(AppendError::UnknownOrganisation {
                index,
                id: org.to_string(),
            });
        }
        for fac in [&e.read_point, &e.biz_location].into_iter().flatten() {
            if !known.contains(&(1, fac.to_string())) {
                return Err(AppendError::UnknownFacility {
                    index,
                    id: fac.to_string(),
                });
            }
        }
        if let Some(v) = &e.subjects.voyage
            && !known.contains(&(2, v.to_string()))
        {
            return Err(AppendError::UnknownVoyage {
                index,
                id: v.to_string(),
            });
        }
        let seq = count + 1;
        if let Some(step) = e.step {
            for vin in &e.subjects.vins {
                let current = projection.get(vin.as_str()).cloned();
                let next = project(current, step, vin, org, now).map_err(|error| {
                    AppendError::Lifecycle {
                        index,
                        vin: *vin,
                        error,
                    }
                })?;
                projection.insert(vin.to_string(), next);
                touched.insert(vin.to_string(), seq);
            }
        }
        let body = e.canonical();
        let hash = entry_hash(seq, record_time, &head, &body);
        let event_time = format_time(e.event_time.with_timezone(&Utc));
        for vin in &e.subjects.vins {
            plan.index.push((vin.to_string(), event_time.clone(), seq));
        }
        plan.links.extend(links(e));
        in_batch.insert(e.event_id, (content_hash.clone(), plan.receipts.len()));
        plan.receipts.push(Receipt {
            event_id: e.event_id,
            seq,
            record_time: record_time.to_string(),
            hash: hash.clone(),
            duplicate: false,
        });
        plan.entries.push(NewEntry {
            seq,
            event_id: id,
            event_time,
            biz_step: e.biz_step.0.clone(),
            organisation: org.to_string(),
            content_hash,
            prev_hash: head,
            hash: hash.clone(),
            body,
        });
        count = seq;
        head = hash;
    }
    let mut vehicles: Vec<(String, Projected, i64)> = touched
        .into_iter()
        .filter_map(|(vin, seq)| projection.remove(&vin).map(|p| (vin, p, seq)))
        .collect();
    vehicles.sort_by(|a, b| a.0.cmp(&b.0));
    plan.vehicles = vehicles;
    plan.count = count;
    plan.head = head;
    Ok(plan)
}

/// Applies `step` to a vehicle's projection.
fn project(
    current: Option<Projected>,
    step: Step,
    vin: &Vin,
    actor_org: &str,
    now: DateTime<Utc>,
) -> Result<Projected, jianghai_core::LifecycleError> {
    let status = lifecycle::next(current.as_ref().map(|p| p.status), step)?;
    Ok(match (step, current) {
        (Step::Register, _) | (_, None) => Projected {
            status,
            exporter: actor_org.to_string(),
            manufacturer: vin.manufacturer().map(|m| m.name.to_string()),
            model_year: vin.model_year(now.year() + 1),
        },
        (_, Some(p)) => Projected { status, ..p },
    })
}

// Keep the genesis constant and the migration's literal in step.
const _: () = assert!(ledger::GENESIS_HASH.len() == 64);
