//! Consolidation and tally (migration 5): gate-ins, identifications, condition reports with
//! content-addressed photos, the damage-code table, and tally sessions with their results.
//!
//! Closing a session reconciles (pure, `jianghai_tally::reconcile`) the shipment's VINs
//! against the session's identifications, records the result, and moves only the matched
//! cars to `tallied` with one ledger event through the ordinary append. The close is
//! restartable: the result and a deterministic event id are committed first (`closing`), the
//! append is idempotent by that id, and the session is marked `closed` last, so a close
//! interrupted anywhere finishes the same way when it is repeated.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use jianghai_core::lifecycle::{self, Status, Step};
use jianghai_core::{Actor, Event, Ident, Vin, ledger::format_time};
use jianghai_tally::{
    CodeTable, DamageCode, Expected, Identification, Outcome, Reconciliation, Rules, Source,
    TallyLine,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::page;
use crate::registry::{exists_error, ident};
use crate::{AlertDraft, AppendError, Page, Receipt, Severity, Store, StoreError, on_backend};

/// Which tally records (sessions, gate-ins, identifications, condition reports, photos) a
/// reader may see.
#[derive(Debug, Clone, PartialEq)]
pub enum TallyScope {
    All,
    /// At facilities this organisation operates.
    AtFacilitiesOf(Ident),
    /// About this exporter's vehicles and shipments.
    ExportedBy(Ident),
    /// Nothing.
    Nothing,
}

impl TallyScope {
    /// A predicate over a row with a `facility` and a `vin` (or a `shipment`) column, `$2`.
    fn predicate(&self, subject: &str) -> String {
        match self {
            TallyScope::All => "$2 = ''".into(),
            TallyScope::AtFacilitiesOf(_) => {
                "t.facility IN (SELECT id FROM facilities WHERE operator = $2)".into()
            }
            TallyScope::ExportedBy(_) if subject == "shipment" => {
                "t.shipment IN (SELECT id FROM shipments WHERE exporter = $2)".into()
            }
            TallyScope::ExportedBy(_) => {
                format!("t.{subject} IN (SELECT vin FROM vehicles WHERE exporter = $2)")
            }
            TallyScope::Nothing => "1 = 0 AND $2 = ''".into(),
        }
    }

    fn param(&self) -> &str {
        match self {
            TallyScope::All | TallyScope::Nothing => "",
            TallyScope::AtFacilitiesOf(o) | TallyScope::ExportedBy(o) => o.as_str(),
        }
    }
}

/// Tally operations that cannot proceed. Nothing was written when one is returned (a close
/// that failed in its append may be repeated).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TallyError {
    #[error("{what} {id:?} does not exist")]
    Missing { what: &'static str, id: String },
    #[error("tally session {0} is closed; open a new one")]
    Closed(String),
    #[error("a tally session for shipment {shipment} at {facility} is already open ({session})")]
    AlreadyOpen {
        facility: String,
        shipment: String,
        session: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TallyError {
    fn from(e: sqlx::Error) -> Self {
        TallyError::Store(StoreError::Database(e))
    }
}

/// Who records something: an organisation and the user acting for it.
#[derive(Debug, Clone, PartialEq)]
pub struct By {
    pub organisation: Ident,
    pub username: String,
}

impl By {
    fn actor(&self) -> Actor {
        Actor {
            organisation: self.organisation.clone(),
            user: Some(self.username.clone()),
            device: None,
        }
    }
}

/// A gate-in to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGateIn {
    /// Chosen by the client so a retry is recognised; also the ledger event's id.
    pub id: Uuid,
    pub facility: Ident,
    pub vin: Vin,
    pub at: DateTime<Utc>,
    pub truck: Option<String>,
    pub driver: Option<String>,
}

/// A recorded gate-in.
#[derive(Debug, Clone, PartialEq)]
pub struct GateInRecord {
    pub id: Uuid,
    pub facility: Ident,
    pub vin: Vin,
    pub at: String,
    pub truck: Option<String>,
    pub driver: Option<String>,
    pub organisation: Ident,
    pub username: String,
    /// The ledger entry that moved the car to `gated_in`; `None` when the VIN is on no
    /// manifest (the car is recorded, the ledger knows nothing of it).
    pub seq: Option<i64>,
}

/// A tally session's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Open,
    /// The result is recorded; the ledger event and the alerts may still be pending.
    Closing,
    Closed,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Open => "open",
            SessionState::Closing => "closing",
            SessionState::Closed => "closed",
        }
    }

    fn parse(s: &str) -> Result<SessionState, StoreError> {
        match s {
            "open" => Ok(SessionState::Open),
            "closing" => Ok(SessionState::Closing),
            "closed" => Ok(SessionState::Closed),
            _ => Err(StoreError::Corrupt(format!("tally session state {s:?}"))),
        }
    }
}

/// A tally session: one facility, one shipment.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: Uuid,
    pub facility: Ident,
    pub shipment: Ident,
    pub organisation: Ident,
    pub tallyman: String,
    pub opened_at: String,
    pub state: SessionState,
    pub min_confidence: f64,
    pub closed_at: Option<String>,
    /// The id of the ledger event that tallied the matched cars (set when closing).
    pub event_id: Option<Uuid>,
    /// Identifications recorded so far.
    pub identifications: i64,
}

/// An identification as recorded in a session.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentificationRecord {
    pub id: Uuid,
    pub session: Uuid,
    pub seq: i64,
    pub identification: Identification,
    /// A stored photo (sha256) or an external system's image reference.
    pub image: Option<String>,
    pub at: String,
    pub username: String,
}

/// An identification to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIdentification {
    pub identification: Identification,
    pub image: Option<String>,
    pub at: DateTime<Utc>,
}

/// One damage entry of a condition report.
#[derive(Debug, Clone, PartialEq)]
pub struct DamageEntry {
    pub code: DamageCode,
    pub note: Option<String>,
}

/// A condition report: a car's damage at a facility, with photos.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionReport {
    pub id: Uuid,
    pub facility: Ident,
    pub vin: Vin,
    /// The tally session it belongs to, whose reconciliation it feeds.
    pub session: Option<Uuid>,
    pub at: String,
    pub organisation: Ident,
    pub username: String,
    pub note: Option<String>,
    pub entries: Vec<DamageEntry>,
    /// SHA-256 of the photos (content addresses).
    pub photos: Vec<String>,
}

/// A session's result line as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord {
    pub n: i64,
    pub line: TallyLine,
}

/// What closing a session produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub session: SessionRecord,
    pub results: Vec<ResultRecord>,
    /// The ledger receipt of the tally event, when at least one car matched.
    pub receipt: Option<Receipt>,
}

/// Largest photo stored.
pub const MAX_PHOTO_BYTES: usize = 8 * 1024 * 1024;

/// A photo's media type, from its magic bytes (never from what the client claims).
pub fn photo_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

type SessionRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    f64,
    Option<String>,
    Option<String>,
    i64,
);
const SESSION_COLUMNS: &str = "t.id, t.facility, t.shipment, t.organisation, t.tallyman, \
    t.opened_at, t.state, t.min_confidence, t.closed_at, t.event_id, t.next_seq";

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("id {s:?}: {e}")))
}

fn vin(s: &str) -> Result<Vin, StoreError> {
    Vin::parse(s).map_err(|e| StoreError::Corrupt(format!("VIN {s:?}: {e}")))
}

fn session(r: SessionRow) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: uuid(&r.0)?,
        facility: ident(r.1)?,
        shipment: ident(r.2)?,
        organisation: ident(r.3)?,
        tallyman: r.4,
        opened_at: r.5,
        state: SessionState::parse(&r.6)?,
        min_confidence: r.7,
        closed_at: r.8,
        event_id: r.9.as_deref().map(uuid).transpose()?,
        identifications: r.10,
    })
}

type GateInRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<i64>,
);

fn gate_in(r: GateInRow) -> Result<GateInRecord, StoreError> {
    Ok(GateInRecord {
        id: uuid(&r.0)?,
        facility: ident(r.1)?,
        vin: vin(&r.2)?,
        at: r.3,
        truck: r.4,
        driver: r.5,
        organisation: ident(r.6)?,
        username: r.7,
        seq: r.8,
    })
}

type IdentRow = (
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<f64>,
    Option<String>,
    Option<i64>,
    String,
    String,
);

fn identification(r: IdentRow) -> Result<IdentificationRecord, StoreError> {
    Ok(IdentificationRecord {
        id: uuid(&r.0)?,
        session: uuid(&r.1)?,
        seq: r.2,
        identification: Identification {
            source: Source::parse(&r.3)
                .ok_or_else(|| StoreError::Corrupt(format!("source {:?}", r.3)))?,
            text: r.4,
            vin: r.5.as_deref().map(vin).transpose()?,
            confidence: r.6,
            for_line: r.8.and_then(|l| u32::try_from(l).ok()),
        },
        image: r.7,
        at: r.9,
        username: r.10,
    })
}

type ResultRow = (
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
);

fn result(r: ResultRow) -> Result<ResultRecord, StoreError> {
    Ok(ResultRecord {
        n: r.0,
        line: TallyLine {
            outcome: Outcome::parse(&r.1)
                .ok_or_else(|| StoreError::Corrupt(format!("outcome {:?}", r.1)))?,
            line: r.2.and_then(|l| u32::try_from(l).ok()),
            expected: r.3.as_deref().map(vin).transpose()?,
            observed: r.4,
            identification: r.5.and_then(|i| usize::try_from(i).ok()),
            detail: r.6,
        },
    })
}

/// The id of the ledger event that tallies a session's matched cars: derived from the
/// session, so a repeated close appends (idempotently) the same event.
fn tally_event_id(session: Uuid) -> Uuid {
    let h = Sha256::digest(format!("jianghai tally session {session}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

impl Store {
    /// Records a gate-in. A registered car moves to `gated_in` with a ledger event (whose id is
    /// the gate-in's id, so a retry is recognised); a VIN on no manifest is recorded without
    /// one, for the tally to report. A car whose state forbids a gate-in is refused.
    pub async fn gate_in(&self, g: &NewGateIn, by: &By) -> Result<GateInRecord, TallyError> {
        if self.facility(g.facility.as_str()).await?.is_none() {
            return Err(TallyError::Missing {
                what: "facility",
                id: g.facility.to_string(),
            });
        }
        let registered = self.vehicle(&g.vin).await?.is_some();
        let seq = if registered {
            let mut e = Event::lifecycle(
                g.id,
                Step::GateIn,
                g.at.fixed_offset(),
                vec![g.vin],
                by.actor(),
            );
            e.read_point = Some(g.facility.clone());
            e.biz_location = Some(g.facility.clone());
            let mut ext = serde_json::Map::new();
            if let Some(t) = &g.truck {
                ext.insert("jh:truck".into(), t.clone().into());
            }
            if let Some(d) = &g.driver {
                ext.insert("jh:driver".into(), d.clone().into());
            }
            e.extensions = ext.into_iter().collect();
            Some(self.append(e).await?.seq)
        } else {
            None
        };
        let at = format_time(g.at);
        on_backend!(&self.backend, |pool| {
            sqlx::query(
            "INSERT INTO gate_ins (id, facility, vin, at, truck, driver, organisation, username, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING"
        )
        .bind(g.id.to_string())
        .bind(g.facility.as_str())
        .bind(g.vin.as_str())
        .bind(&at)
        .bind(&g.truck)
        .bind(&g.driver)
        .bind(by.organisation.as_str())
        .bind(&by.username)
        .bind(seq)
        .execute(pool)
        .await
        .map(drop)?
        });
        self.gate_in_in(g.id, &TallyScope::All)
            .await?
            .ok_or_else(|| TallyError::Store(StoreError::Corrupt("gate-in vanished".into())))
    }

    /// One gate-in, if in `scope`.
    pub async fn gate_in_in(
        &self,
        id: Uuid,
        scope: &TallyScope,
    ) -> Result<Option<GateInRecord>, StoreError> {
        let sql = format!(
            "SELECT t.id, t.facility, t.vin, t.at, t.truck, t.driver, t.organisation, t.username, \
             t.seq FROM gate_ins t WHERE t.id = $1 AND {}",
            scope.predicate("vin")
        );
        let row: Option<GateInRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(id.to_string())
        .bind(scope.param())
        .fetch_optional(pool)
        .await?);
        row.map(gate_in).transpose()
    }

    /// Gate-ins in `scope`, by id.
    pub async fn gate_ins(
        &self,
        scope: &TallyScope,
        after: &str,
        limit: i64,
    ) -> Result<Page<GateInRecord>, StoreError> {
        let sql = format!(
            "SELECT t.id, t.facility, t.vin, t.at, t.truck, t.driver, t.organisation, t.username, \
             t.seq FROM gate_ins t WHERE t.id > $1 AND {} ORDER BY t.id LIMIT $3",
            scope.predicate("vin")
        );
        self.scoped_page::<GateInRow, _>(sql, after, scope.param(), limit, gate_in, |g| {
            g.id.to_string()
        })
        .await
    }

    /// Opens a tally session for `shipment` at `facility`; one may be open per pair.
    pub async fn open_tally_session(
        &self,
        id: Uuid,
        facility: &Ident,
        shipment: &Ident,
        min_confidence: f64,
        at: DateTime<Utc>,
        by: &By,
    ) -> Result<SessionRecord, TallyError> {
        if !(0.0..=1.0).contains(&min_confidence) {
            return Err(TallyError::Invalid(format!(
                "minimum confidence {min_confidence} is not between 0 and 1"
            )));
        }
        if self.facility(facility.as_str()).await?.is_none() {
            return Err(TallyError::Missing {
                what: "facility",
                id: facility.to_string(),
            });
        }
        if self
            .shipment_in(shipment.as_str(), &crate::ShipmentScope::All)
            .await?
            .is_none()
        {
            return Err(TallyError::Missing {
                what: "shipment",
                id: shipment.to_string(),
            });
        }
        let open: Option<(String,)> = on_backend!(&self.backend, |pool| {
            sqlx::query_as(
            "SELECT id FROM tally_sessions WHERE facility = $1 AND shipment = $2 AND state <> 'closed'"
        )
        .bind(facility.as_str())
        .bind(shipment.as_str())
        .fetch_optional(pool)
        .await?
        });
        if let Some((session,)) = open {
            return Err(TallyError::AlreadyOpen {
                facility: facility.to_string(),
                shipment: shipment.to_string(),
                session,
            });
        }
        let at = format_time(at);
        on_backend!(&self.backend, |pool| {
            sqlx::query(
            "INSERT INTO tally_sessions (id, facility, shipment, organisation, tallyman, opened_at, \
             state, min_confidence, next_seq) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, 0)"
        )
        .bind(id.to_string())
        .bind(facility.as_str())
        .bind(shipment.as_str())
        .bind(by.organisation.as_str())
        .bind(&by.username)
        .bind(&at)
        .bind(min_confidence)
        .execute(pool)
        .await
        .map(drop)
        .map_err(|e| exists_error(e, "tally session", &id.to_string()))?
        });
        self.tally_session_in(id, &TallyScope::All)
            .await?
            .ok_or_else(|| TallyError::Store(StoreError::Corrupt("session vanished".into())))
    }

    /// One session, if in `scope`.
    pub async fn tally_session_in(
        &self,
        id: Uuid,
        scope: &TallyScope,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM tally_sessions t WHERE t.id = $1 AND {}",
            scope.predicate("shipment")
        );
        let row: Option<SessionRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(id.to_string())
        .bind(scope.param())
        .fetch_optional(pool)
        .await?);
        row.map(session).transpose()
    }

    /// Sessions in `scope`, by id.
    pub async fn tally_sessions(
        &self,
        scope: &TallyScope,
        after: &str,
        limit: i64,
    ) -> Result<Page<SessionRecord>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM tally_sessions t WHERE t.id > $1 AND {} \
             ORDER BY t.id LIMIT $3",
            scope.predicate("shipment")
        );
        self.scoped_page::<SessionRow, _>(sql, after, scope.param(), limit, session, |s| {
            s.id.to_string()
        })
        .await
    }

    /// What a session expects: its shipment's VINs, numbered 1… in VIN order.
    pub async fn tally_expected(&self, s: &SessionRecord) -> Result<Vec<Expected>, StoreError> {
        let rows: Vec<(String,)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT vin FROM shipment_vins WHERE shipment = $1 ORDER BY vin"
        )
        .bind(s.shipment.as_str())
        .fetch_all(pool)
        .await?);
        rows.into_iter()
            .enumerate()
            .map(|(i, (v,))| {
                Ok(Expected {
                    line: i as u32 + 1,
                    vin: vin(&v)?,
                })
            })
            .collect()
    }

    /// Records an identification in an open session, after the ones before it.
    pub async fn identify(
        &self,
        session: Uuid,
        n: &NewIdentification,
        by: &By,
    ) -> Result<IdentificationRecord, TallyError> {
        let id = Uuid::new_v4();
        let at = format_time(n.at);
        let i = &n.identification;
        let _writer = self.write_lock.lock().await;
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let seq: Option<(i64,)> = sqlx::query_as(
                "UPDATE tally_sessions SET next_seq = next_seq + 1 WHERE id = $1 AND state = 'open' \
                 RETURNING next_seq",
            )
            .bind(session.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            let Some((seq,)) = seq else {
                drop(tx);
                return Err(self.closed_or_missing(session).await);
            };
            sqlx::query(
                "INSERT INTO identifications (id, session, seq, source, text, vin, confidence, \
                 image, for_line, at, organisation, username) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(id.to_string())
            .bind(session.to_string())
            .bind(seq)
            .bind(i.source.as_str())
            .bind(&i.text)
            .bind(i.vin.map(|v| v.to_string()))
            .bind(i.confidence)
            .bind(&n.image)
            .bind(i.for_line.map(i64::from))
            .bind(&at)
            .bind(by.organisation.as_str())
            .bind(&by.username)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(IdentificationRecord {
                id,
                session,
                seq,
                identification: i.clone(),
                image: n.image.clone(),
                at,
                username: by.username.clone(),
            })
        })
    }

    async fn closed_or_missing(&self, session: Uuid) -> TallyError {
        match self.tally_session_in(session, &TallyScope::All).await {
            Ok(Some(_)) => TallyError::Closed(session.to_string()),
            Ok(None) => TallyError::Missing {
                what: "tally session",
                id: session.to_string(),
            },
            Err(e) => e.into(),
        }
    }

    /// A session's identifications in the order they were made.
    pub async fn identifications(
        &self,
        session: Uuid,
    ) -> Result<Vec<IdentificationRecord>, StoreError> {
        let rows: Vec<IdentRow> = on_backend!(&self.backend, |pool| {
            sqlx::query_as(
            "SELECT id, session, seq, source, text, vin, confidence, image, for_line, at, username \
             FROM identifications WHERE session = $1 ORDER BY seq"
        )
        .bind(session.to_string())
        .fetch_all(pool)
        .await?
        });
        rows.into_iter().map(identification).collect()
    }

    /// Stores a photo under its SHA-256 (idempotent: the same bytes are stored once) and notes
    /// that `by` uploaded it. Only PNG and JPEG, by their magic bytes, up to
    /// [`MAX_PHOTO_BYTES`].
    pub async fn put_photo(&self, bytes: &[u8], by: &By) -> Result<String, TallyError> {
        if bytes.len() > MAX_PHOTO_BYTES {
            return Err(TallyError::Invalid(format!(
                "the photo has {} bytes; at most {MAX_PHOTO_BYTES} are accepted",
                bytes.len()
            )));
        }
        let media = photo_type(bytes).ok_or_else(|| {
            TallyError::Invalid("a photo must be a PNG or JPEG image (by its content)".into())
        })?;
        let sha = hex(&Sha256::digest(bytes));
        let now = format_time(Utc::now());
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO photos (sha256, media_type, size, bytes, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&sha)
            .bind(media)
            .bind(bytes.len() as i64)
            .bind(bytes)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO photo_uploads (sha256, organisation) VALUES ($1, $2) \
                 ON CONFLICT (sha256, organisation) DO NOTHING",
            )
            .bind(&sha)
            .bind(by.organisation.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(sha)
    }

    /// A photo (media type, bytes), if `org` uploaded it or it belongs to a condition report
    /// or identification in `scope`.
    pub async fn photo_in(
        &self,
        sha256: &str,
        org: &Ident,
        scope: &TallyScope,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let reports = scope.predicate("vin");
        let sessions = scope.predicate("shipment");
        let sql = format!(
            "SELECT p.media_type, p.bytes FROM photos p WHERE p.sha256 = $1 AND ( \
             EXISTS (SELECT 1 FROM photo_uploads u WHERE u.sha256 = p.sha256 AND u.organisation = $3) \
             OR EXISTS (SELECT 1 FROM report_photos rp JOIN condition_reports t ON t.id = rp.report \
                WHERE rp.sha256 = p.sha256 AND {reports}) \
             OR EXISTS (SELECT 1 FROM identifications i JOIN tally_sessions t ON t.id = i.session \
                WHERE i.image = p.sha256 AND {sessions}))"
        );
        let row: Option<(String, Vec<u8>)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(sha256)
        .bind(scope.param())
        .bind(org.as_str())
        .fetch_optional(pool)
        .await?);
        Ok(row)
    }

    /// Replaces the damage-code table (validated by the caller's parse) with `csv`.
    pub async fn set_damage_codes(
        &self,
        table: &CodeTable,
        csv: &str,
        by: &By,
    ) -> Result<(), StoreError> {
        let now = format_time(Utc::now());
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO damage_code_table (id, edition, csv, loaded_at, loaded_by) \
             VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET edition = excluded.edition, \
             csv = excluded.csv, loaded_at = excluded.loaded_at, loaded_by = excluded.loaded_by"
        )
        .bind(&table.edition)
        .bind(csv)
        .bind(&now)
        .bind(by.organisation.as_str())
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    /// The damage-code table in force, if one was loaded.
    pub async fn damage_codes(&self) -> Result<Option<CodeTable>, StoreError> {
        let row: Option<(String, String)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT edition, csv FROM damage_code_table WHERE id = 1"
        )
        .fetch_optional(pool)
        .await?);
        row.map(|(edition, csv)| {
            CodeTable::from_csv(&edition, &csv)
                .map_err(|e| StoreError::Corrupt(format!("damage code table: {e}")))
        })
        .transpose()
    }

    /// Records a condition report; its photos must have been stored, and its session, if any,
    /// must be open at the report's facility.
    pub async fn add_condition_report(&self, r: &ConditionReport) -> Result<(), TallyError> {
        if let Some(s) = r.session {
            match self.tally_session_in(s, &TallyScope::All).await? {
                None => {
                    return Err(TallyError::Missing {
                        what: "tally session",
                        id: s.to_string(),
                    });
                }
                Some(s) if s.state != SessionState::Open => {
                    return Err(TallyError::Closed(s.id.to_string()));
                }
                Some(s) if s.facility != r.facility => {
                    return Err(TallyError::Invalid(format!(
                        "tally session {} is at {}, not {}",
                        s.id, s.facility, r.facility
                    )));
                }
                Some(_) => {}
            }
        }
        if self.facility(r.facility.as_str()).await?.is_none() {
            return Err(TallyError::Missing {
                what: "facility",
                id: r.facility.to_string(),
            });
        }
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin().await?;
            for sha in &r.photos {
                let found: Option<(String,)> =
                    sqlx::query_as("SELECT sha256 FROM photos WHERE sha256 = $1")
                        .bind(sha)
                        .fetch_optional(&mut *tx)
                        .await?;
                if found.is_none() {
                    return Err(TallyError::Missing {
                        what: "photo",
                        id: sha.clone(),
                    });
                }
            }
            sqlx::query(
                "INSERT INTO condition_reports (id, facility, vin, session, at, organisation, \
                 username, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(r.id.to_string())
            .bind(r.facility.as_str())
            .bind(r.vin.as_str())
            .bind(r.session.map(|s| s.to_string()))
            .bind(&r.at)
            .bind(r.organisation.as_str())
            .bind(&r.username)
            .bind(&r.note)
            .execute(&mut *tx)
            .await
            .map_err(|e| exists_error(e, "condition report", &r.id.to_string()))?;
            for (n, e) in r.entries.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO damage_entries (report, n, code, area, kind, severity, note) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(r.id.to_string())
                .bind(n as i64)
                .bind(e.code.to_string())
                .bind(i64::from(e.code.area))
                .bind(i64::from(e.code.kind))
                .bind(i64::from(e.code.severity))
                .bind(&e.note)
                .execute(&mut *tx)
                .await?;
            }
            for sha in &r.photos {
                sqlx::query(
                    "INSERT INTO report_photos (report, sha256) VALUES ($1, $2) \
                     ON CONFLICT (report, sha256) DO NOTHING",
                )
                .bind(r.id.to_string())
                .bind(sha)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Condition reports in `scope`, by id, optionally of one VIN.
    pub async fn condition_reports(
        &self,
        scope: &TallyScope,
        vin_filter: Option<&Vin>,
        after: &str,
        limit: i64,
    ) -> Result<Page<ConditionReport>, StoreError> {
        type Row = (
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            String,
            Option<String>,
        );
        let filter = if vin_filter.is_some() {
            "t.vin = $4"
        } else {
            "$4 = ''"
        };
        let sql = format!(
            "SELECT t.id, t.facility, t.vin, t.session, t.at, t.organisation, t.username, t.note \
             FROM condition_reports t WHERE t.id > $1 AND {} AND {filter} ORDER BY t.id LIMIT $3",
            scope.predicate("vin")
        );
        let rows: Vec<Row> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(after)
        .bind(scope.param())
        .bind(limit + 1)
        .bind(vin_filter.map(|v| v.to_string()).unwrap_or_default())
        .fetch_all(pool)
        .await?);
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            let (entries, photos) = self.report_parts(&r.0).await?;
            items.push(ConditionReport {
                id: uuid(&r.0)?,
                facility: ident(r.1)?,
                vin: vin(&r.2)?,
                session: r.3.as_deref().map(uuid).transpose()?,
                at: r.4,
                organisation: ident(r.5)?,
                username: r.6,
                note: r.7,
                entries,
                photos,
            });
        }
        Ok(page(items, limit, |r| r.id.to_string()))
    }

    async fn report_parts(&self, id: &str) -> Result<(Vec<DamageEntry>, Vec<String>), StoreError> {
        let entries: Vec<(i64, i64, i64, Option<String>)> =
            on_backend!(&self.backend, |pool| sqlx::query_as(
                "SELECT area, kind, severity, note FROM damage_entries WHERE report = $1 ORDER BY n"
            )
            .bind(id)
            .fetch_all(pool)
            .await?);
        let photos: Vec<(String,)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT sha256 FROM report_photos WHERE report = $1 ORDER BY sha256"
        )
        .bind(id)
        .fetch_all(pool)
        .await?);
        let small = |n: i64| u8::try_from(n).map_err(|_| StoreError::Corrupt(format!("code {n}")));
        let entries = entries
            .into_iter()
            .map(|(a, k, s, note)| {
                Ok(DamageEntry {
                    code: DamageCode {
                        area: small(a)?,
                        kind: small(k)?,
                        severity: small(s)?,
                    },
                    note,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((entries, photos.into_iter().map(|(s,)| s).collect()))
    }

    /// Damage per VIN recorded in a session's condition reports.
    async fn session_damage(
        &self,
        session: Uuid,
    ) -> Result<HashMap<Vin, Vec<DamageCode>>, StoreError> {
        let rows: Vec<(String, i64, i64, i64)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT r.vin, d.area, d.kind, d.severity FROM damage_entries d \
             JOIN condition_reports r ON r.id = d.report WHERE r.session = $1"
        )
        .bind(session.to_string())
        .fetch_all(pool)
        .await?);
        let mut out: HashMap<Vin, Vec<DamageCode>> = HashMap::new();
        for (v, a, k, s) in rows {
            out.entry(vin(&v)?).or_default().push(DamageCode {
                area: a as u8,
                kind: k as u8,
                severity: s as u8,
            });
        }
        Ok(out)
    }

    /// A session's result lines, in sheet order.
    pub async fn tally_results(&self, session: Uuid) -> Result<Vec<ResultRecord>, StoreError> {
        let rows: Vec<ResultRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT n, outcome, line, expected, observed, identification, detail \
             FROM tally_results WHERE session = $1 ORDER BY n"
        )
        .bind(session.to_string())
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(result).collect()
    }

    /// Closes a session: reconcile, record the result, tally the matched cars on the ledger,
    /// mark it closed. Repeating a close that was interrupted finishes it; repeating a
    /// finished close returns its result unchanged.
    pub async fn close_tally_session(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Closed, TallyError> {
        let s = self
            .tally_session_in(id, &TallyScope::All)
            .await?
            .ok_or_else(|| TallyError::Missing {
                what: "tally session",
                id: id.to_string(),
            })?;
        if s.state == SessionState::Open {
            self.record_result(&s, now).await?;
        }
        let s = self
            .tally_session_in(id, &TallyScope::All)
            .await?
            .ok_or_else(|| TallyError::Missing {
                what: "tally session",
                id: id.to_string(),
            })?;
        let closed_at = s.closed_at.clone().unwrap_or_else(|| format_time(now));
        let event_time = DateTime::parse_from_rfc3339(&closed_at)
            .map_err(|e| StoreError::Corrupt(format!("closed_at {closed_at:?}: {e}")))?;
        let mut receipt = None;
        loop {
            let results = self.tally_results(id).await?;
            let matched: Vec<Vin> = results
                .iter()
                .filter(|r| r.line.outcome == Outcome::Matched)
                .filter_map(|r| r.line.expected)
                .collect();
            if matched.is_empty() {
                break;
            }
            let mut e = Event::lifecycle(
                tally_event_id(id),
                Step::Tally,
                event_time,
                matched,
                Actor {
                    organisation: s.organisation.clone(),
                    user: Some(s.tallyman.clone()),
                    device: None,
                },
            );
            e.read_point = Some(s.facility.clone());
            e.biz_location = Some(s.facility.clone());
            e.extensions
                .insert("jh:tallySession".into(), id.to_string().into());
            match self.append_batch_at(vec![e], now).await {
                Ok(mut r) => {
                    receipt = r.pop();
                    break;
                }
                // The car changed state since the result was recorded (a hold, say): it is
                // no longer a match; record why and tally the others.
                Err(AppendError::Lifecycle { vin, error, .. }) => {
                    self.demote(
                        id,
                        &vin,
                        &format!("identified, but cannot be tallied: {error}"),
                    )
                    .await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if s.state != SessionState::Closed {
            // Every discrepancy raises an alert; one open alert per (rule, subject), so a
            // repeated close updates rather than duplicates them.
            for r in self.tally_results(id).await? {
                if let Some(draft) = discrepancy_alert(&s, &r.line, now) {
                    self.raise_alert(&draft).await?;
                }
            }
            on_backend!(&self.backend, |pool| sqlx::query(
                "UPDATE tally_sessions SET state = 'closed' WHERE id = $1"
            )
            .bind(id.to_string())
            .execute(pool)
            .await
            .map(drop)?);
        }
        let session = self
            .tally_session_in(id, &TallyScope::All)
            .await?
            .ok_or_else(|| TallyError::Missing {
                what: "tally session",
                id: id.to_string(),
            })?;
        if receipt.is_none()
            && let Some(eid) = session.event_id
            && let Some(r) = self.event(eid).await?
        {
            receipt = Some(Receipt {
                event_id: eid,
                seq: r.seq,
                record_time: r.record_time,
                hash: r.hash,
                duplicate: true,
            });
        }
        Ok(Closed {
            results: self.tally_results(id).await?,
            session,
            receipt,
        })
    }

    async fn demote(&self, session: Uuid, v: &Vin, detail: &str) -> Result<(), StoreError> {
        on_backend!(&self.backend, |pool| sqlx::query(
            "UPDATE tally_results SET outcome = 'unconfirmed', detail = $3 \
             WHERE session = $1 AND expected = $2 AND outcome = 'matched'"
        )
        .bind(session.to_string())
        .bind(v.as_str())
        .bind(detail)
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    /// Reconciles an open session and records its result and `closing` in one transaction.
    async fn record_result(&self, s: &SessionRecord, now: DateTime<Utc>) -> Result<(), TallyError> {
        let expected = self.tally_expected(s).await?;
        let ids = self.identifications(s.id).await?;
        let damage = self.session_damage(s.id).await?;
        let rules = Rules {
            min_confidence: s.min_confidence,
            ..Rules::default()
        };
        let plain: Vec<Identification> = ids.iter().map(|r| r.identification.clone()).collect();
        let mut rec: Reconciliation = jianghai_tally::reconcile(&expected, &plain, &damage, &rules);
        // A match only counts if the car may be tallied now (it was gated in).
        for l in &mut rec.lines {
            if l.outcome != Outcome::Matched {
                continue;
            }
            let Some(v) = l.expected else { continue };
            let status: Option<Status> = self.vehicle(&v).await?.map(|r| r.status);
            if let Err(e) = lifecycle::next(status, Step::Tally) {
                l.outcome = Outcome::Unconfirmed;
                l.detail = format!("identified, but cannot be tallied: {e}");
            }
        }
        let closed_at = format_time(now);
        let event_id = tally_event_id(s.id);
        let _writer = self.write_lock.lock().await;
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE tally_sessions SET state = 'closing', closed_at = $2, event_id = $3 \
                 WHERE id = $1 AND state = 'open'",
            )
            .bind(s.id.to_string())
            .bind(&closed_at)
            .bind(event_id.to_string())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                for (n, l) in rec.lines.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO tally_results (session, n, outcome, line, expected, observed, \
                         identification, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(s.id.to_string())
                    .bind(n as i64)
                    .bind(l.outcome.as_str())
                    .bind(l.line.map(i64::from))
                    .bind(l.expected.map(|v| v.to_string()))
                    .bind(&l.observed)
                    .bind(l.identification.map(|i| i as i64))
                    .bind(&l.detail)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

/// The alert a discrepancy raises (none for a match). The subject is the car when the line
/// names a VIN, else the facility.
fn discrepancy_alert(s: &SessionRecord, l: &TallyLine, at: DateTime<Utc>) -> Option<AlertDraft> {
    let severity = match l.outcome {
        Outcome::Matched => return None,
        Outcome::Duplicate => Severity::Info,
        Outcome::Missing
        | Outcome::Extra
        | Outcome::Mismatched
        | Outcome::Damaged
        | Outcome::Unconfirmed => Severity::Warning,
    };
    let vin = l
        .expected
        .or_else(|| l.observed.as_deref().and_then(|o| Vin::parse(o).ok()));
    let (subject_kind, subject_id) = match vin {
        Some(v) => ("vehicle", v.to_string()),
        None => ("facility", s.facility.to_string()),
    };
    let what = match l.outcome {
        Outcome::Missing => "missing at tally",
        Outcome::Extra => "on no manifest (extra)",
        Outcome::Duplicate => "identified twice",
        Outcome::Mismatched => "read differs from its manifest line",
        Outcome::Damaged => "damaged at tally",
        _ => "identification cannot be confirmed",
    };
    Some(AlertDraft {
        rule: format!("tally-{}", l.outcome.as_str()),
        subject_kind: subject_kind.into(),
        subject_id: subject_id.clone(),
        severity,
        title: format!("{subject_id}: {what} at {}", s.facility),
        detail: l.detail.clone(),
        evidence: serde_json::json!({
            "session": s.id,
            "facility": s.facility.as_str(),
            "shipment": s.shipment.as_str(),
            "line": l.line,
            "expected": l.expected.map(|v| v.to_string()),
            "observed": l.observed,
            "outcome": l.outcome.as_str(),
        }),
        at,
        source: "tally".into(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
