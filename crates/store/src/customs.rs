//! Customs transit (migration 9): ships filed with customs, transit declarations (转关) with
//! their vehicles and seals, and a log of every action on them — refusals included, so customs
//! sees what was attempted.
//!
//! The rules are the pure `jianghai_customs` crate's: a declaration's problems (unfiled ship,
//! overlapping declarations, bad seals…) and the guarded lifecycle whose close needs every seal
//! intact. Declaring moves the cars to `declared` and closing moves them to `transit_closed`,
//! each with one ledger event through the ordinary append (its id derives from the declaration
//! and the action, so a retried action is recognised, not doubled).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use jianghai_core::lifecycle::Step;
use jianghai_core::{Actor, Event, Ident, Vin, ledger::format_time};
use jianghai_customs::{
    FiledShip, TransitAction, TransitDeclaration, TransitError, TransitProblem, TransitState,
};
use uuid::Uuid;

use crate::{AppendError, Store, StoreError, on_backend};

/// Why a customs action did not happen. It is in the transit log all the same.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CustomsError {
    #[error("{what} {id:?} does not exist")]
    Missing { what: &'static str, id: String },
    #[error("the declaration has {} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Problems(Vec<TransitProblem>),
    #[error(transparent)]
    Refused(#[from] TransitError),
    /// Cars of the transit are under hold: the transit cannot move forward until released.
    #[error("the transit cannot be {action}: {}", .held.iter().map(|h| format!("vehicle {} is held ({}: {})", h.vin, h.kind, h.reason)).collect::<Vec<_>>().join("; "))]
    Held {
        action: &'static str,
        held: Vec<VehicleHold>,
    },
    /// A car hold that cannot be placed or released as asked.
    #[error("{0}")]
    Hold(String),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CustomsError {
    fn from(e: sqlx::Error) -> Self {
        CustomsError::Store(StoreError::Database(e))
    }
}

/// A declaration as stored, with where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitRecord {
    pub declaration: TransitDeclaration,
    pub state: TransitState,
    /// The state a held transit returns to on release.
    pub held_from: Option<TransitState>,
    pub hold_reason: Option<String>,
    pub declared_by: Ident,
}

/// A hold customs placed on one car of a transit, with its reason, and its release.
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleHold {
    pub number: String,
    pub vin: Vin,
    /// `customs` (inspection) or `damage`.
    pub kind: String,
    pub reason: String,
    pub held_at: String,
    pub held_by: String,
    pub released_at: Option<String>,
    pub released_by: Option<String>,
}

/// What customs records about an organisation's credit, for the tax-refund conditions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CreditRecord {
    /// Export-refund class (出口退税分类管理类别) 1 to 4, for exporters.
    pub refund_class: Option<u8>,
    pub customs_credit: Option<jianghai_customs::CreditClass>,
    pub tax_credit: Option<jianghai_customs::TaxCredit>,
}

/// One line of a transit's log.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitLogEntry {
    pub seq: i64,
    pub at: String,
    pub organisation: String,
    pub action: String,
    /// `done` or `refused`.
    pub outcome: String,
    pub detail: String,
}

fn state(s: &str) -> Result<TransitState, StoreError> {
    [
        TransitState::Declared,
        TransitState::Released,
        TransitState::Held,
        TransitState::Arrived,
        TransitState::Closed,
    ]
    .into_iter()
    .find(|x| x.as_str() == s)
    .ok_or_else(|| StoreError::Corrupt(format!("transit state {s:?}")))
}

fn action_name(a: &TransitAction) -> &'static str {
    match a {
        TransitAction::Amend => "amend",
        TransitAction::Release => "release",
        TransitAction::Hold { .. } => "hold",
        TransitAction::Arrive => "arrive",
        TransitAction::Close { .. } => "close",
    }
}

/// The id of the ledger event an action on a declaration appends: the same for a retry.
fn event_id(number: &str, action: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("jianghai transit {number} {action}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

type TransitRow = (String, String, Option<String>, Option<String>, String);

type HoldRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// The hold kinds customs uses.
pub const HOLD_KINDS: [&str; 2] = ["customs", "damage"];

/// Writes a declaration's vehicles and seal subjects in transaction `$tx`, replacing what it
/// had: declaring and amending keep them the same way. (A macro: the body runs on either
/// engine's transaction inside `on_backend!`.)
macro_rules! write_members {
    ($tx:ident, $d:expr) => {
        sqlx::query("DELETE FROM transit_vins WHERE number = $1")
            .bind(&$d.number)
            .execute(&mut *$tx)
            .await?;
        for v in &$d.vins {
            sqlx::query("INSERT INTO transit_vins (number, vin) VALUES ($1, $2)")
                .bind(&$d.number)
                .bind(v.as_str())
                .execute(&mut *$tx)
                .await?;
        }
        sqlx::query("DELETE FROM transit_seals WHERE number = $1")
            .bind(&$d.number)
            .execute(&mut *$tx)
            .await?;
        for subject in seal_subjects($d) {
            sqlx::query("INSERT INTO transit_seals (number, subject) VALUES ($1, $2)")
                .bind(&$d.number)
                .bind(subject)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

impl Store {
    /// Files (or re-files) a ship with customs for its carrier.
    pub async fn file_ship(&self, f: &FiledShip) -> Result<(), StoreError> {
        let now = format_time(Utc::now());
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO ship_filings (vessel, carrier, positioning, video, filed_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (vessel) DO UPDATE SET \
             carrier = excluded.carrier, positioning = excluded.positioning, \
             video = excluded.video, filed_at = excluded.filed_at"
        )
        .bind(&f.vessel)
        .bind(&f.carrier)
        .bind(f.positioning)
        .bind(f.video)
        .bind(&now)
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    /// The ships filed with customs.
    pub async fn filed_ships(&self) -> Result<Vec<FiledShip>, StoreError> {
        let rows: Vec<(String, String, bool, bool)> =
            on_backend!(&self.backend, |pool| sqlx::query_as(
                "SELECT vessel, carrier, positioning, video FROM ship_filings ORDER BY vessel"
            )
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(vessel, carrier, positioning, video)| FiledShip {
                vessel,
                carrier,
                positioning,
                video,
            })
            .collect())
    }

    /// The VINs of every declaration not yet closed, by number.
    async fn open_transit_vins(&self) -> Result<BTreeMap<String, Vec<Vin>>, StoreError> {
        let rows: Vec<(String, String)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT v.number, v.vin FROM transit_vins v JOIN transit_declarations d \
             ON d.number = v.number WHERE d.state <> 'closed' ORDER BY v.number, v.vin"
        )
        .fetch_all(pool)
        .await?);
        let mut out: BTreeMap<String, Vec<Vin>> = BTreeMap::new();
        for (n, v) in rows {
            let vin = Vin::parse(&v).map_err(|e| StoreError::Corrupt(format!("vin {v}: {e}")))?;
            out.entry(n).or_default().push(vin);
        }
        Ok(out)
    }

    async fn log_transit(
        &self,
        number: &str,
        by: &Ident,
        action: &str,
        outcome: &str,
        detail: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _writer = self.write_lock.lock().await;
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO transit_log (number, seq, at, organisation, action, outcome, detail) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6 FROM transit_log \
             WHERE number = $1"
        )
        .bind(number)
        .bind(format_time(at))
        .bind(by.as_str())
        .bind(action)
        .bind(outcome)
        .bind(detail)
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    /// Records a declaration and moves its cars to `declared`, or refuses it naming every
    /// problem (logged for customs; nothing else written).
    pub async fn declare_transit(
        &self,
        d: &TransitDeclaration,
        by: &Ident,
        now: DateTime<Utc>,
    ) -> Result<TransitRecord, CustomsError> {
        let mut problems = d.problems(&self.filed_ships().await?, &self.open_transit_vins().await?);
        if self.transit(&d.number).await?.is_some() {
            problems.push(TransitProblem::Number(format!(
                "{} (already declared)",
                d.number
            )));
        }
        if !problems.is_empty() {
            let detail = CustomsError::Problems(problems.clone()).to_string();
            self.log_transit(&d.number, by, "declare", "refused", &detail, now)
                .await?;
            return Err(CustomsError::Problems(problems));
        }
        let mut e = Event::lifecycle(
            event_id(&d.number, "declare"),
            Step::Declare,
            d.declared_at.fixed_offset(),
            d.vins.clone(),
            Actor {
                organisation: by.clone(),
                user: None,
                device: None,
            },
        );
        e.subjects.voyage = Ident::parse(&d.voyage).ok();
        e.extensions
            .insert("jh:transit".into(), d.number.clone().into());
        if let Err(err) = self.append_batch_at(vec![e], now).await {
            self.log_transit(&d.number, by, "declare", "refused", &err.to_string(), now)
                .await?;
            return Err(err.into());
        }
        let body = serde_json::to_string(d).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO transit_declarations (number, body, state, declared_by, voyage, \
                 updated_at) VALUES ($1, $2, 'declared', $3, $4, $5)",
            )
            .bind(&d.number)
            .bind(&body)
            .bind(by.as_str())
            .bind(&d.voyage)
            .bind(format_time(now))
            .execute(&mut *tx)
            .await?;
            write_members!(tx, d);
            tx.commit().await?;
        });
        self.log_transit(
            &d.number,
            by,
            "declare",
            "done",
            &format!("{} vehicles, {} seals", d.vins.len(), d.seals.len()),
            now,
        )
        .await?;
        self.existing_transit(&d.number).await
    }

    /// One declaration that must exist: a missing one is [`CustomsError::Missing`].
    async fn existing_transit(&self, number: &str) -> Result<TransitRecord, CustomsError> {
        self.transit(number)
            .await?
            .ok_or_else(|| CustomsError::Missing {
                what: "transit declaration",
                id: number.to_string(),
            })
    }

    /// One declaration.
    pub async fn transit(&self, number: &str) -> Result<Option<TransitRecord>, StoreError> {
        let row: Option<TransitRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT body, state, held_from, hold_reason, declared_by FROM transit_declarations \
             WHERE number = $1"
        )
        .bind(number)
        .fetch_optional(pool)
        .await?);
        row.map(record).transpose()
    }

    /// Declarations naming any of `vins` (an exporter's view), or all when `vins` is `None`.
    pub async fn transits(&self, vins: Option<&[Vin]>) -> Result<Vec<TransitRecord>, StoreError> {
        let rows: Vec<TransitRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT body, state, held_from, hold_reason, declared_by FROM transit_declarations \
             ORDER BY number"
        )
        .fetch_all(pool)
        .await?);
        let all = rows
            .into_iter()
            .map(record)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(match vins {
            None => all,
            Some(vs) => all
                .into_iter()
                .filter(|t| t.declaration.vins.iter().any(|v| vs.contains(v)))
                .collect(),
        })
    }

    /// A declaration's log, oldest first.
    pub async fn transit_log(&self, number: &str) -> Result<Vec<TransitLogEntry>, StoreError> {
        let rows: Vec<(i64, String, String, String, String, String)> =
            on_backend!(&self.backend, |pool| sqlx::query_as(
                "SELECT seq, at, organisation, action, outcome, detail FROM transit_log \
                 WHERE number = $1 ORDER BY seq"
            )
            .bind(number)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(
                |(seq, at, organisation, action, outcome, detail)| TransitLogEntry {
                    seq,
                    at,
                    organisation,
                    action,
                    outcome,
                    detail,
                },
            )
            .collect())
    }

    /// Applies a customs action. A refusal (wrong state, a hold without reason, seals that do
    /// not verify, cars the lifecycle will not close) is logged and returned; nothing changes.
    pub async fn act_on_transit(
        &self,
        number: &str,
        action: &TransitAction,
        by: &Ident,
        now: DateTime<Utc>,
    ) -> Result<TransitRecord, CustomsError> {
        let name = action_name(action);
        let t = self.existing_transit(number).await?;
        if matches!(
            action,
            TransitAction::Release | TransitAction::Arrive | TransitAction::Close { .. }
        ) {
            let held: Vec<VehicleHold> = self
                .vehicle_holds(number)
                .await?
                .into_iter()
                .filter(|h| h.released_at.is_none())
                .collect();
            if !held.is_empty() {
                let err = CustomsError::Held {
                    action: match action {
                        TransitAction::Release => "released",
                        TransitAction::Arrive => "marked arrived",
                        _ => "closed",
                    },
                    held,
                };
                self.log_transit(number, by, name, "refused", &err.to_string(), now)
                    .await?;
                return Err(err);
            }
        }
        let next = match jianghai_customs::transit::next(
            t.state,
            t.held_from,
            action,
            &t.declaration.seals,
        ) {
            Ok(s) => s,
            Err(e) => {
                self.log_transit(number, by, name, "refused", &e.to_string(), now)
                    .await?;
                return Err(e.into());
            }
        };
        if next == TransitState::Closed {
            let mut e = Event::lifecycle(
                event_id(number, "close"),
                Step::CloseTransit,
                now.fixed_offset(),
                t.declaration.vins.clone(),
                Actor {
                    organisation: by.clone(),
                    user: None,
                    device: None,
                },
            );
            e.subjects.voyage = Ident::parse(&t.declaration.voyage).ok();
            e.extensions
                .insert("jh:transit".into(), number.to_string().into());
            if let Err(err) = self.append_batch_at(vec![e], now).await {
                self.log_transit(number, by, name, "refused", &err.to_string(), now)
                    .await?;
                return Err(err.into());
            }
        }
        let (held_from, reason) = match action {
            TransitAction::Hold { reason } => (Some(t.state), Some(reason.clone())),
            TransitAction::Amend => (t.held_from, t.hold_reason.clone()),
            _ => (None, None),
        };
        on_backend!(&self.backend, |pool| sqlx::query(
            "UPDATE transit_declarations SET state = $2, held_from = $3, hold_reason = $4, \
             updated_at = $5 WHERE number = $1"
        )
        .bind(number)
        .bind(next.as_str())
        .bind(held_from.map(TransitState::as_str))
        .bind(&reason)
        .bind(format_time(now))
        .execute(pool)
        .await
        .map(drop)?);
        let detail = match action {
            TransitAction::Hold { reason } => format!("held: {reason}"),
            TransitAction::Close { found } => format!("{} seals verified intact", found.len()),
            _ => format!("{} → {next}", t.state),
        };
        self.log_transit(number, by, name, "done", &detail, now)
            .await?;
        self.existing_transit(number).await
    }
}

impl Store {
    /// Replaces a declaration's content (same number) while it is declared or held: the new
    /// content is checked like a new declaration (its own cars do not overlap with itself).
    /// Refusals are logged. The cars' lifecycle is not touched: cars added must already be
    /// declared by another step, so amending only narrows or corrects what is declared.
    pub async fn amend_transit(
        &self,
        d: &TransitDeclaration,
        by: &Ident,
        now: DateTime<Utc>,
    ) -> Result<TransitRecord, CustomsError> {
        let t = self.existing_transit(&d.number).await?;
        if let Err(e) = jianghai_customs::transit::next(
            t.state,
            t.held_from,
            &TransitAction::Amend,
            &t.declaration.seals,
        ) {
            self.log_transit(&d.number, by, "amend", "refused", &e.to_string(), now)
                .await?;
            return Err(e.into());
        }
        let mut problems = d.problems(&self.filed_ships().await?, &self.open_transit_vins().await?);
        for v in &d.vins {
            if !t.declaration.vins.contains(v) {
                problems.push(TransitProblem::Added(v.to_string()));
            }
        }
        if !problems.is_empty() {
            let detail = CustomsError::Problems(problems.clone()).to_string();
            self.log_transit(&d.number, by, "amend", "refused", &detail, now)
                .await?;
            return Err(CustomsError::Problems(problems));
        }
        let body = serde_json::to_string(d).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE transit_declarations SET body = $2, voyage = $3, updated_at = $4 \
                 WHERE number = $1",
            )
            .bind(&d.number)
            .bind(&body)
            .bind(&d.voyage)
            .bind(format_time(now))
            .execute(&mut *tx)
            .await?;
            write_members!(tx, d);
            tx.commit().await?;
        });
        self.log_transit(
            &d.number,
            by,
            "amend",
            "done",
            &format!(
                "{} vehicles, {} seals, time limit {}",
                d.vins.len(),
                d.seals.len(),
                format_time(d.deadline)
            ),
            now,
        )
        .await?;
        self.existing_transit(&d.number).await
    }

    /// The holds placed on cars of a transit, oldest first, released ones included.
    pub async fn vehicle_holds(&self, number: &str) -> Result<Vec<VehicleHold>, StoreError> {
        let rows: Vec<HoldRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT number, vin, kind, reason, held_at, held_by, released_at, released_by \
             FROM transit_holds WHERE number = $1 ORDER BY held_at, vin, n"
        )
        .bind(number)
        .fetch_all(pool)
        .await?);
        rows.into_iter()
            .map(
                |(number, vin, kind, reason, held_at, held_by, released_at, released_by)| {
                    Ok(VehicleHold {
                        number,
                        vin: Vin::parse(&vin)
                            .map_err(|e| StoreError::Corrupt(format!("vin {vin}: {e}")))?,
                        kind,
                        reason,
                        held_at,
                        held_by,
                        released_at,
                        released_by,
                    })
                },
            )
            .collect()
    }

    /// Places a hold (`kind`: customs or damage, with a reason) on one car of a transit: a
    /// `hold` ledger event, so the car cannot move forward in its lifecycle until released.
    pub async fn hold_vehicle(
        &self,
        number: &str,
        vin: &Vin,
        kind: &str,
        reason: &str,
        by: &Ident,
        now: DateTime<Utc>,
    ) -> Result<VehicleHold, CustomsError> {
        let t = self.car_of_transit(number, vin).await?;
        let action = "hold_vehicle";
        let refuse = |msg: String| CustomsError::Hold(msg);
        let err = if !HOLD_KINDS.contains(&kind) {
            Some(refuse(format!(
                "hold kind {kind:?} is not one of {}",
                HOLD_KINDS.join(", ")
            )))
        } else if reason.trim().is_empty() {
            Some(refuse("a hold needs a reason".into()))
        } else if t.state == TransitState::Closed {
            Some(refuse(format!("transit {number} is closed")))
        } else {
            None
        };
        if let Some(err) = err {
            self.log_transit(number, by, action, "refused", &format!("{vin}: {err}"), now)
                .await?;
            return Err(err);
        }
        let holds = self.vehicle_holds(number).await?;
        let n = holds.iter().filter(|h| h.vin == *vin).count() as i64 + 1;
        let mut e = Event::lifecycle(
            event_id(number, &format!("hold {vin} {n}")),
            Step::Hold,
            now.fixed_offset(),
            vec![*vin],
            Actor {
                organisation: by.clone(),
                user: None,
                device: None,
            },
        );
        e.extensions
            .insert("jh:transit".into(), number.to_string().into());
        e.extensions.insert("jh:holdKind".into(), kind.into());
        e.extensions.insert("jh:reason".into(), reason.into());
        if let Err(err) = self.append_batch_at(vec![e], now).await {
            self.log_transit(number, by, action, "refused", &format!("{vin}: {err}"), now)
                .await?;
            return Err(err.into());
        }
        let at = format_time(now);
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO transit_holds (number, vin, n, kind, reason, held_at, held_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        .bind(number)
        .bind(vin.as_str())
        .bind(n)
        .bind(kind)
        .bind(reason)
        .bind(&at)
        .bind(by.as_str())
        .execute(pool)
        .await
        .map(drop)?);
        self.log_transit(
            number,
            by,
            action,
            "done",
            &format!("{vin} held ({kind}): {reason}"),
            now,
        )
        .await?;
        Ok(VehicleHold {
            number: number.to_string(),
            vin: *vin,
            kind: kind.to_string(),
            reason: reason.to_string(),
            held_at: at,
            held_by: by.to_string(),
            released_at: None,
            released_by: None,
        })
    }

    /// Releases the open hold on one car of a transit: a `release` ledger event returning the
    /// car to where it was held. A car not under hold is refused (and logged).
    pub async fn release_vehicle(
        &self,
        number: &str,
        vin: &Vin,
        by: &Ident,
        now: DateTime<Utc>,
    ) -> Result<VehicleHold, CustomsError> {
        self.car_of_transit(number, vin).await?;
        let action = "release_vehicle";
        let holds = self.vehicle_holds(number).await?;
        let n = holds.iter().filter(|h| h.vin == *vin).count() as i64;
        let Some(open) = holds
            .into_iter()
            .find(|h| h.vin == *vin && h.released_at.is_none())
        else {
            let err = CustomsError::Hold(format!("vehicle {vin} is not under hold on {number}"));
            self.log_transit(number, by, action, "refused", &err.to_string(), now)
                .await?;
            return Err(err);
        };
        let mut e = Event::lifecycle(
            event_id(number, &format!("release {vin} {n}")),
            Step::Release,
            now.fixed_offset(),
            vec![*vin],
            Actor {
                organisation: by.clone(),
                user: None,
                device: None,
            },
        );
        e.extensions
            .insert("jh:transit".into(), number.to_string().into());
        if let Err(err) = self.append_batch_at(vec![e], now).await {
            self.log_transit(number, by, action, "refused", &format!("{vin}: {err}"), now)
                .await?;
            return Err(err.into());
        }
        let at = format_time(now);
        on_backend!(&self.backend, |pool| sqlx::query(
            "UPDATE transit_holds SET released_at = $3, released_by = $4 \
             WHERE number = $1 AND vin = $2 AND released_at IS NULL"
        )
        .bind(number)
        .bind(vin.as_str())
        .bind(&at)
        .bind(by.as_str())
        .execute(pool)
        .await
        .map(drop)?);
        self.log_transit(
            number,
            by,
            action,
            "done",
            &format!("{vin} released from hold ({}: {})", open.kind, open.reason),
            now,
        )
        .await?;
        Ok(VehicleHold {
            released_at: Some(at),
            released_by: Some(by.to_string()),
            ..open
        })
    }

    async fn car_of_transit(&self, number: &str, vin: &Vin) -> Result<TransitRecord, CustomsError> {
        let t = self.existing_transit(number).await?;
        if !t.declaration.vins.contains(vin) {
            return Err(CustomsError::Missing {
                what: "vehicle on this transit",
                id: vin.to_string(),
            });
        }
        Ok(t)
    }

    /// When the transit was released by departure customs (its first release), if it was.
    pub async fn transit_released_at(
        &self,
        number: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<(String,)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT at FROM transit_log WHERE number = $1 AND action = 'release' \
             AND outcome = 'done' ORDER BY seq LIMIT 1"
        )
        .bind(number)
        .fetch_optional(pool)
        .await?);
        at.map(|(s,)| {
            DateTime::parse_from_rfc3339(&s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| StoreError::Corrupt(format!("transit log time {s}: {e}")))
        })
        .transpose()
    }

    /// Records what customs knows of an organisation's credit.
    pub async fn record_credit(
        &self,
        org: &Ident,
        c: &CreditRecord,
        by: &Ident,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(c).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO credit_records (organisation, body, recorded_at, recorded_by) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (organisation) DO UPDATE SET \
             body = excluded.body, recorded_at = excluded.recorded_at, \
             recorded_by = excluded.recorded_by"
        )
        .bind(org.as_str())
        .bind(&body)
        .bind(format_time(now))
        .bind(by.as_str())
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    /// What customs recorded of an organisation's credit, if anything.
    pub async fn credit(&self, org: &str) -> Result<Option<CreditRecord>, StoreError> {
        let row: Option<(String,)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT body FROM credit_records WHERE organisation = $1"
        )
        .bind(org)
        .fetch_optional(pool)
        .await?);
        row.map(|(b,)| {
            serde_json::from_str(&b).map_err(|e| StoreError::Corrupt(format!("credit record: {e}")))
        })
        .transpose()
    }
}

/// The monitoring subjects of a declaration's seals: `<vessel>/<seal number>` (the `seal:` subject
/// an e-seal's sensor is attached to), once each.
pub fn seal_subjects(d: &TransitDeclaration) -> Vec<String> {
    let mut out: Vec<String> = d
        .seals
        .iter()
        .map(|s| format!("{}/{}", d.vessel, s.number))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn record(
    (body, s, held_from, hold_reason, declared_by): TransitRow,
) -> Result<TransitRecord, StoreError> {
    Ok(TransitRecord {
        declaration: serde_json::from_str(&body)
            .map_err(|e| StoreError::Corrupt(format!("transit declaration: {e}")))?,
        state: state(&s)?,
        held_from: held_from.as_deref().map(state).transpose()?,
        hold_reason,
        declared_by: Ident::parse(&declared_by)
            .map_err(|e| StoreError::Corrupt(format!("declared_by {declared_by}: {e}")))?,
    })
}
