//! Precise loading (精准装船, migration 6): deck plans per vessel, one stowage plan per voyage
//! with its edits, ramp scans and load completions.
//!
//! The judgement is the pure `jianghai_stowage` crate's; this module keeps its inputs and
//! outputs and ties them to the ledger, as `tally.rs` does for the tally:
//!
//! - a plan (made or replaced) and every accepted edit is a ledger event (an EPCIS
//!   ObjectEvent on the voyage, bizStep `…/bizStep-stowage_planning`, the edit in
//!   `jh:stowage`); an edit whose re-check finds violations is refused with them and changes
//!   nothing;
//! - a ramp scan rebuilds the [`LoadVerifier`] from the plan and the accepted scans and judges
//!   the new one; a scan judged `ok` appends the car's `load` step (whose id is the scan's),
//!   anything else is recorded as refused and raises an alert on the car;
//! - load-complete reconciles plan against the accepted scans, is a ledger event
//!   (`…/bizStep-load_reconciling`), and is what [`Store::departure_blocker`] reads: a voyage
//!   with a stowage plan may depart only after a load-complete that allowed it, with no car
//!   loaded since.
//!
//! Limitation: two scans for one voyage at the same instant are judged against the same state
//! (the store serialises the writes, not the judgement); the ramp scans one car at a time.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use jianghai_core::event::URI_BASE;
use jianghai_core::{
    Action, Actor, BizStep, Event, Ident, Step, Subjects, VehicleState, Vin, ledger::format_time,
};
use jianghai_stowage::{
    self as stowage, Car, Edit, LaneRef, LoadVerifier, Plan, PlanConfig, Reconciliation, Scan,
    ScanOutcome, Violation,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::registry::ident;
use crate::tally::By;
use crate::{AlertDraft, AppendError, Severity, Store, StoreError, VoyageScope, on_backend};

/// Most cars one stowage plan takes.
pub const MAX_PLAN_CARS: usize = 5_000;

/// Which stowage plans (and their scans and completions) a reader may see.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadingScope {
    All,
    /// Plans of voyages this carrier's vessels sail.
    CarriedBy(Ident),
    /// Plans of voyages from or to a facility this organisation operates.
    Touching(Ident),
    /// Plans holding cars this exporter registered, narrowed to those cars.
    ExportedBy(Ident),
}

/// Loading operations that cannot proceed. Nothing was written when one is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadingError {
    #[error("{what} {id:?} does not exist")]
    Missing { what: &'static str, id: String },
    #[error("{0}")]
    Invalid(String),
    /// The edit would leave the plan invalid; the plan is unchanged.
    #[error("the edit leaves the plan invalid: {}", join(.0))]
    Violations(Vec<Violation>),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn join(v: &[Violation]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<sqlx::Error> for LoadingError {
    fn from(e: sqlx::Error) -> Self {
        LoadingError::Store(StoreError::Database(e))
    }
}

/// A vessel's deck plan (the stowage crate's vessel model).
#[derive(Debug, Clone, PartialEq)]
pub struct DeckPlanRecord {
    pub vessel: Ident,
    pub deck_plan: stowage::Vessel,
    pub updated_at: String,
    pub organisation: Ident,
    pub username: String,
}

/// A voyage's stowage plan.
#[derive(Debug, Clone, PartialEq)]
pub struct StowagePlanRecord {
    pub voyage: Ident,
    pub vessel: Ident,
    /// The deck plan the plan was made for (a copy: later deck-plan changes do not move it).
    pub deck_plan: stowage::Vessel,
    pub cars: Vec<Car>,
    pub plan: Plan,
    /// 1 for a new plan; +1 for each accepted edit or replacement.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub organisation: Ident,
    pub username: String,
    /// Narrowed to one exporter's cars: the others are left out of `cars` and `plan`.
    pub narrowed: bool,
}

/// A scan to judge.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRampScan {
    /// Chosen by the client so a retry is recognised; also the `load` event's id.
    pub id: Uuid,
    pub vin: Vin,
    pub slot: LaneRef,
    pub at: DateTime<Utc>,
}

/// A judged scan.
#[derive(Debug, Clone, PartialEq)]
pub struct RampScanRecord {
    pub id: Uuid,
    pub voyage: Ident,
    /// Order of the scan in its voyage, from 1.
    pub n: i64,
    pub vin: Vin,
    pub slot: LaneRef,
    pub at: String,
    /// The verifier's verdict.
    pub outcome: ScanOutcome,
    /// Why the ledger refused the `load` step of a scan the plan accepted (a hold, say).
    pub refusal: Option<String>,
    /// The car is aboard: verdict `ok` and the `load` step on the ledger.
    pub accepted: bool,
    pub organisation: Ident,
    pub username: String,
    /// The ledger entry of the `load` step.
    pub seq: Option<i64>,
    /// The alert a refused scan raised (only when the scan was just judged).
    pub alert: Option<Uuid>,
}

impl RampScanRecord {
    /// The planned slot of a wrong-slot scan.
    pub fn planned(&self) -> Option<&LaneRef> {
        match &self.outcome {
            ScanOutcome::WrongSlot { planned, .. } => Some(planned),
            _ => None,
        }
    }
}

/// A recorded load-complete.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadCompletion {
    pub voyage: Ident,
    pub at: String,
    pub reconciliation: Reconciliation,
    pub organisation: Ident,
    pub username: String,
    pub event_id: Uuid,
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("encoding: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("id {s:?}: {e}")))
}

/// A deterministic event id, so a repeated write appends (idempotently) the same event.
fn derived_id(what: &str) -> Uuid {
    let h = Sha256::digest(format!("jianghai {what}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

/// A non-lifecycle business event on a voyage: an EPCIS ObjectEvent (OBSERVE) whose bizStep is
/// a platform URI, with what happened in the `jh:stowage` extension.
fn voyage_event(
    id: Uuid,
    voyage: &Ident,
    at: DateTime<Utc>,
    by: &By,
    biz_step: &str,
    what: serde_json::Value,
) -> Event {
    Event {
        event_id: id,
        action: Action::Observe,
        event_time: at.fixed_offset(),
        biz_step: BizStep(format!("{URI_BASE}/voc/bizStep-{biz_step}")),
        disposition: None,
        step: None,
        subjects: Subjects {
            voyage: Some(voyage.clone()),
            ..Subjects::default()
        },
        read_point: None,
        biz_location: None,
        position: None,
        actor: Actor {
            organisation: by.organisation.clone(),
            user: Some(by.username.clone()),
            device: None,
        },
        extensions: [("jh:stowage".to_string(), what)].into_iter().collect(),
    }
}

fn plan_sha256(plan: &Plan) -> Result<String, StoreError> {
    let h = Sha256::digest(json(plan)?.as_bytes());
    Ok(h.iter().map(|b| format!("{b:02x}")).collect())
}

type PlanRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
);

type ScanRow = (
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    String,
    String,
    Option<i64>,
);

const SCAN_COLUMNS: &str = "id, voyage, n, vin, deck, lane, at, outcome, accepted, refusal, \
    organisation, username, seq";

fn scan_record(r: ScanRow) -> Result<RampScanRecord, StoreError> {
    Ok(RampScanRecord {
        id: uuid(&r.0)?,
        voyage: ident(r.1)?,
        n: r.2,
        vin: Vin::parse(&r.3).map_err(|e| StoreError::Corrupt(format!("VIN {:?}: {e}", r.3)))?,
        slot: LaneRef {
            deck: r.4,
            lane: r.5,
        },
        at: r.6,
        outcome: parse("scan outcome", &r.7)?,
        accepted: r.8 == 1,
        refusal: r.9,
        organisation: ident(r.10)?,
        username: r.11,
        seq: r.12,
        alert: None,
    })
}

/// Whether a car in this state has passed the yard tally (and not been returned).
fn tallied(state: VehicleState, held_from: Option<VehicleState>) -> bool {
    let s = held_from.unwrap_or(state);
    (VehicleState::Tallied..=VehicleState::Exported).contains(&s)
}

impl Store {
    /// Stores (replacing) a vessel's deck plan, after validating it.
    pub async fn put_deck_plan(
        &self,
        vessel: &Ident,
        deck_plan: &stowage::Vessel,
        by: &By,
        at: DateTime<Utc>,
    ) -> Result<DeckPlanRecord, LoadingError> {
        if self.vessel(vessel.as_str()).await?.is_none() {
            return Err(LoadingError::Missing {
                what: "vessel",
                id: vessel.to_string(),
            });
        }
        deck_plan
            .validate()
            .map_err(|e| LoadingError::Invalid(e.to_string()))?;
        let body = json(deck_plan)?;
        let at = format_time(at);
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO deck_plans (vessel, body, updated_at, organisation, username) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (vessel) DO UPDATE SET body = excluded.body, \
             updated_at = excluded.updated_at, organisation = excluded.organisation, \
             username = excluded.username"
        )
        .bind(vessel.as_str())
        .bind(&body)
        .bind(&at)
        .bind(by.organisation.as_str())
        .bind(&by.username)
        .execute(pool)
        .await
        .map(drop)?);
        Ok(DeckPlanRecord {
            vessel: vessel.clone(),
            deck_plan: deck_plan.clone(),
            updated_at: at,
            organisation: by.organisation.clone(),
            username: by.username.clone(),
        })
    }

    /// Whether the vessel exists and is in `scope`.
    pub async fn vessel_visible(
        &self,
        vessel: &str,
        scope: &VoyageScope,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "SELECT ve.id FROM vessels ve WHERE ve.id = $1 AND {}",
            scope.vessel_predicate()
        );
        let row: Option<(String,)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(vessel)
        .bind(scope.param())
        .fetch_optional(pool)
        .await?);
        Ok(row.is_some())
    }

    /// A vessel's deck plan, if it has one and the vessel is in `scope`.
    pub async fn deck_plan_in(
        &self,
        vessel: &str,
        scope: &VoyageScope,
    ) -> Result<Option<DeckPlanRecord>, StoreError> {
        let sql = format!(
            "SELECT d.vessel, d.body, d.updated_at, d.organisation, d.username FROM deck_plans d \
             JOIN vessels ve ON ve.id = d.vessel WHERE d.vessel = $1 AND {}",
            scope.vessel_predicate()
        );
        let row: Option<(String, String, String, String, String)> = on_backend!(
            &self.backend,
            |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(vessel)
                .bind(scope.param())
                .fetch_optional(pool)
                .await?
        );
        row.map(|r| {
            Ok(DeckPlanRecord {
                vessel: ident(r.0)?,
                deck_plan: parse("deck plan", &r.1)?,
                updated_at: r.2,
                organisation: ident(r.3)?,
                username: r.4,
            })
        })
        .transpose()
    }

    /// Plans the voyage's cars on its vessel's deck plan and stores the plan (version 1, or
    /// the next version when it replaces one before loading started), with a ledger event.
    /// Cars the planner cannot place come back in the plan's `unplaced` with their reason.
    pub async fn create_stowage_plan(
        &self,
        voyage: &Ident,
        cars: Vec<Car>,
        config: &PlanConfig,
        by: &By,
        at: DateTime<Utc>,
    ) -> Result<StowagePlanRecord, LoadingError> {
        if cars.is_empty() || cars.len() > MAX_PLAN_CARS {
            return Err(LoadingError::Invalid(format!(
                "a stowage plan takes 1 to {MAX_PLAN_CARS} cars; {} given",
                cars.len()
            )));
        }
        let vo = self
            .voyage(voyage.as_str())
            .await?
            .ok_or_else(|| LoadingError::Missing {
                what: "voyage",
                id: voyage.to_string(),
            })?;
        let deck = self
            .deck_plan_in(vo.vessel.as_str(), &VoyageScope::All)
            .await?
            .ok_or_else(|| LoadingError::Missing {
                what: "deck plan of vessel",
                id: vo.vessel.to_string(),
            })?;
        let loaded: Option<(i64,)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT COUNT(*) FROM ramp_scans WHERE voyage = $1 AND accepted = 1"
        )
        .bind(voyage.as_str())
        .fetch_optional(pool)
        .await?);
        if loaded.is_some_and(|(n,)| n > 0) {
            return Err(LoadingError::Conflict(format!(
                "loading of voyage {voyage} has started; edit the plan instead of replacing it"
            )));
        }
        let plan = stowage::plan(&deck.deck_plan, &cars, config)
            .map_err(|e| LoadingError::Invalid(e.to_string()))?;
        let violations = stowage::check(&plan, &deck.deck_plan, &cars);
        if !violations.is_empty() {
            return Err(LoadingError::Store(StoreError::Corrupt(format!(
                "the planner returned an invalid plan: {}",
                join(&violations)
            ))));
        }
        let previous: Option<(i64,)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT version FROM stowage_plans WHERE voyage = $1"
        )
        .bind(voyage.as_str())
        .fetch_optional(pool)
        .await?);
        let version = previous.map_or(1, |(v,)| v + 1);
        let e = voyage_event(
            derived_id(&format!("stowage plan {voyage} v{version}")),
            voyage,
            at,
            by,
            "stowage_planning",
            serde_json::json!({
                "kind": "plan",
                "version": version,
                "vessel": vo.vessel.as_str(),
                "cars": cars.len(),
                "placed": plan.placements.len(),
                "unplaced": plan.unplaced.len(),
                "planSha256": plan_sha256(&plan)?,
            }),
        );
        self.append_batch_at(vec![e], Utc::now()).await?;
        let at = format_time(at);
        let (deck_json, cars_json, plan_json) =
            (json(&deck.deck_plan)?, json(&cars)?, json(&plan)?);
        let vins: BTreeSet<&str> = cars
            .iter()
            .map(|c| c.vin.trim())
            .filter(|v| !v.is_empty())
            .collect();
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM stowage_plan_vins WHERE voyage = $1")
                .bind(voyage.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM load_completions WHERE voyage = $1")
                .bind(voyage.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO stowage_plans (voyage, vessel, deck_plan, cars, plan, version, \
                 created_at, updated_at, organisation, username) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9) ON CONFLICT (voyage) DO UPDATE \
                 SET vessel = excluded.vessel, deck_plan = excluded.deck_plan, cars = excluded.cars, \
                 plan = excluded.plan, version = excluded.version, created_at = excluded.created_at, \
                 updated_at = excluded.updated_at, organisation = excluded.organisation, \
                 username = excluded.username",
            )
            .bind(voyage.as_str())
            .bind(vo.vessel.as_str())
            .bind(&deck_json)
            .bind(&cars_json)
            .bind(&plan_json)
            .bind(version)
            .bind(&at)
            .bind(by.organisation.as_str())
            .bind(&by.username)
            .execute(&mut *tx)
            .await?;
            let vins: Vec<&str> = vins.iter().copied().collect();
            for chunk in vins.chunks(500) {
                let mut q = sqlx::QueryBuilder::new("INSERT INTO stowage_plan_vins (voyage, vin) ");
                q.push_values(chunk, |mut b, v| {
                    b.push_bind(voyage.as_str()).push_bind(*v);
                });
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        self.stowage_plan_in(voyage.as_str(), &LoadingScope::All)
            .await?
            .ok_or_else(|| LoadingError::Store(StoreError::Corrupt("plan vanished".into())))
    }

    /// The voyage's stowage plan, if it has one in `scope` (narrowed for an exporter).
    pub async fn stowage_plan_in(
        &self,
        voyage: &str,
        scope: &LoadingScope,
    ) -> Result<Option<StowagePlanRecord>, StoreError> {
        let visible = match scope {
            LoadingScope::All | LoadingScope::ExportedBy(_) => true,
            LoadingScope::CarriedBy(o) => self
                .voyage_in(voyage, &VoyageScope::CarriedBy(o.clone()))
                .await?
                .is_some(),
            LoadingScope::Touching(o) => self
                .voyage_in(voyage, &VoyageScope::Touching(o.clone()))
                .await?
                .is_some(),
        };
        if !visible {
            return Ok(None);
        }
        let row: Option<PlanRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT voyage, vessel, deck_plan, cars, plan, version, created_at, updated_at, \
             organisation, username FROM stowage_plans WHERE voyage = $1"
        )
        .bind(voyage)
        .fetch_optional(pool)
        .await?);
        let Some(r) = row else { return Ok(None) };
        let mut rec = StowagePlanRecord {
            voyage: ident(r.0)?,
            vessel: ident(r.1)?,
            deck_plan: parse("deck plan", &r.2)?,
            cars: parse("car list", &r.3)?,
            plan: parse("stowage plan", &r.4)?,
            version: r.5,
            created_at: r.6,
            updated_at: r.7,
            organisation: ident(r.8)?,
            username: r.9,
            narrowed: false,
        };
        if let LoadingScope::ExportedBy(o) = scope {
            let own: Vec<(String,)> = on_backend!(&self.backend, |pool| sqlx::query_as(
                "SELECT pv.vin FROM stowage_plan_vins pv JOIN vehicles v ON v.vin = pv.vin \
                 WHERE pv.voyage = $1 AND v.exporter = $2"
            )
            .bind(voyage)
            .bind(o.as_str())
            .fetch_all(pool)
            .await?);
            if own.is_empty() {
                return Ok(None);
            }
            let own: BTreeSet<String> = own.into_iter().map(|(v,)| v).collect();
            narrow(&mut rec, &own);
        }
        Ok(Some(rec))
    }

    /// Applies a person's edit to the voyage's plan. The plan is re-checked; an edit that
    /// cannot be applied or leaves violations is refused and changes nothing. An accepted
    /// edit is a ledger event and bumps the version. `expected_version`, when given, must be
    /// the current one (an edit made on a stale view is refused).
    pub async fn edit_stowage_plan(
        &self,
        voyage: &Ident,
        edit: &Edit,
        expected_version: Option<i64>,
        by: &By,
        at: DateTime<Utc>,
    ) -> Result<StowagePlanRecord, LoadingError> {
        let rec = self
            .stowage_plan_in(voyage.as_str(), &LoadingScope::All)
            .await?
            .ok_or_else(|| LoadingError::Missing {
                what: "stowage plan of voyage",
                id: voyage.to_string(),
            })?;
        if let Some(v) = expected_version
            && v != rec.version
        {
            return Err(LoadingError::Conflict(format!(
                "the plan is at version {}, not {v}; reload it and edit again",
                rec.version
            )));
        }
        let edited = stowage::apply_edit(&rec.plan, &rec.deck_plan, &rec.cars, edit)
            .map_err(|e| LoadingError::Invalid(e.to_string()))?;
        if !edited.violations.is_empty() {
            return Err(LoadingError::Violations(edited.violations));
        }
        let version = rec.version + 1;
        let event_id = derived_id(&format!("stowage plan {voyage} v{version}"));
        let e = voyage_event(
            event_id,
            voyage,
            at,
            by,
            "stowage_planning",
            serde_json::json!({
                "kind": "edit",
                "version": version,
                "edit": edit,
                "planSha256": plan_sha256(&edited.plan)?,
            }),
        );
        self.append_batch_at(vec![e], Utc::now()).await?;
        let at = format_time(at);
        let (plan_json, edit_json) = (json(&edited.plan)?, json(edit)?);
        let changed = on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE stowage_plans SET plan = $2, version = $3, updated_at = $4 \
                 WHERE voyage = $1 AND version = $5",
            )
            .bind(voyage.as_str())
            .bind(&plan_json)
            .bind(version)
            .bind(&at)
            .bind(rec.version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                sqlx::query(
                    "INSERT INTO stowage_edits (voyage, version, edit, at, organisation, \
                     username, event_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(voyage.as_str())
                .bind(version)
                .bind(&edit_json)
                .bind(&at)
                .bind(by.organisation.as_str())
                .bind(&by.username)
                .bind(event_id.to_string())
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM load_completions WHERE voyage = $1")
                    .bind(voyage.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            done.rows_affected() == 1
        });
        if !changed {
            return Err(LoadingError::Conflict(
                "the plan changed while the edit was being applied; edit again".into(),
            ));
        }
        self.stowage_plan_in(voyage.as_str(), &LoadingScope::All)
            .await?
            .ok_or_else(|| LoadingError::Store(StoreError::Corrupt("plan vanished".into())))
    }

    /// The accepted edits of a voyage's plan: (version, edit, at, username, ledger event id).
    pub async fn stowage_edits(
        &self,
        voyage: &str,
    ) -> Result<Vec<(i64, Edit, String, String, Uuid)>, StoreError> {
        let rows: Vec<(i64, String, String, String, String)> =
            on_backend!(&self.backend, |pool| sqlx::query_as(
                "SELECT version, edit, at, username, event_id FROM stowage_edits \
                 WHERE voyage = $1 ORDER BY version"
            )
            .bind(voyage)
            .fetch_all(pool)
            .await?);
        rows.into_iter()
            .map(|r| Ok((r.0, parse("edit", &r.1)?, r.2, r.3, uuid(&r.4)?)))
            .collect()
    }

    /// A voyage's ramp scans in order.
    pub async fn ramp_scans(&self, voyage: &str) -> Result<Vec<RampScanRecord>, StoreError> {
        let sql = format!("SELECT {SCAN_COLUMNS} FROM ramp_scans WHERE voyage = $1 ORDER BY n");
        let rows: Vec<ScanRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(voyage)
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(scan_record).collect()
    }

    async fn ramp_scan(&self, id: Uuid) -> Result<Option<RampScanRecord>, StoreError> {
        let sql = format!("SELECT {SCAN_COLUMNS} FROM ramp_scans WHERE id = $1");
        let row: Option<ScanRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?);
        row.map(scan_record).transpose()
    }

    /// The verifier of a plan with its accepted scans aboard.
    async fn verifier(&self, rec: &StowagePlanRecord) -> Result<LoadVerifier, StoreError> {
        let mut v = LoadVerifier::new(&rec.plan, &rec.deck_plan, &rec.cars);
        for s in self.ramp_scans(rec.voyage.as_str()).await? {
            if s.accepted {
                v.handle_scan(
                    &Scan {
                        vin: s.vin.to_string(),
                        slot: s.slot,
                        at_ms: 0,
                    },
                    true,
                );
            }
        }
        Ok(v)
    }

    /// Judges a scan at the ramp against the voyage's plan. A scan judged `ok` loads the car
    /// (its `load` step on the ledger, the scan's id as event id); any other verdict is
    /// recorded as refused, and (but for a duplicate) raises an alert on the car. A retried
    /// scan id returns the first judgement.
    pub async fn load_scan(
        &self,
        voyage: &Ident,
        s: &NewRampScan,
        by: &By,
    ) -> Result<RampScanRecord, LoadingError> {
        if let Some(done) = self.ramp_scan(s.id).await? {
            return Ok(done);
        }
        let rec = self
            .stowage_plan_in(voyage.as_str(), &LoadingScope::All)
            .await?
            .ok_or_else(|| LoadingError::Missing {
                what: "stowage plan of voyage",
                id: voyage.to_string(),
            })?;
        if rec.deck_plan.lane_ix(&s.slot.deck, &s.slot.lane).is_none() {
            return Err(LoadingError::Invalid(format!(
                "there is no lane {} on the deck plan of {}",
                s.slot, rec.vessel
            )));
        }
        let vo = self
            .voyage(voyage.as_str())
            .await?
            .ok_or_else(|| LoadingError::Missing {
                what: "voyage",
                id: voyage.to_string(),
            })?;
        let mut verifier = self.verifier(&rec).await?;
        let is_tallied = self
            .vehicle(&s.vin)
            .await?
            .is_some_and(|v| tallied(v.status.state, v.status.held_from));
        let outcome = verifier.handle_scan(
            &Scan {
                vin: s.vin.to_string(),
                slot: s.slot.clone(),
                at_ms: s.at.timestamp_millis(),
            },
            is_tallied,
        );
        let (mut accepted, mut refusal, mut seq) = (false, None, None);
        if outcome == ScanOutcome::Ok {
            let mut e = Event::lifecycle(
                s.id,
                Step::Load,
                s.at.fixed_offset(),
                vec![s.vin],
                Actor {
                    organisation: by.organisation.clone(),
                    user: Some(by.username.clone()),
                    device: None,
                },
            );
            e.subjects.voyage = Some(voyage.clone());
            e.read_point = Some(vo.origin.clone());
            e.biz_location = Some(vo.origin.clone());
            e.extensions.insert(
                "jh:slot".into(),
                serde_json::json!({"deck": s.slot.deck, "lane": s.slot.lane}),
            );
            match self.append_batch_at(vec![e], Utc::now()).await {
                Ok(mut r) => {
                    accepted = true;
                    seq = r.pop().map(|r| r.seq);
                }
                Err(AppendError::Lifecycle { error, .. }) => refusal = Some(error.to_string()),
                Err(e) => return Err(e.into()),
            }
        }
        let at = format_time(s.at);
        let outcome_json = json(&outcome)?;
        let inserted = {
            let _writer = self.write_lock.lock().await;
            on_backend!(&self.backend, |pool| {
                let mut tx = pool.begin().await?;
                let (n,): (i64,) = sqlx::query_as(
                    "SELECT COALESCE(MAX(n), 0) + 1 FROM ramp_scans WHERE voyage = $1",
                )
                .bind(voyage.as_str())
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO ramp_scans (id, voyage, n, vin, deck, lane, at, outcome, \
                     accepted, refusal, organisation, username, seq) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(s.id.to_string())
                .bind(voyage.as_str())
                .bind(n)
                .bind(s.vin.as_str())
                .bind(&s.slot.deck)
                .bind(&s.slot.lane)
                .bind(&at)
                .bind(&outcome_json)
                .bind(i64::from(accepted))
                .bind(&refusal)
                .bind(by.organisation.as_str())
                .bind(&by.username)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
                if accepted {
                    sqlx::query("DELETE FROM load_completions WHERE voyage = $1")
                        .bind(voyage.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                n
            })
        };
        let n = inserted;
        let mut record = RampScanRecord {
            id: s.id,
            voyage: voyage.clone(),
            n,
            vin: s.vin,
            slot: s.slot.clone(),
            at,
            outcome,
            refusal,
            accepted,
            organisation: by.organisation.clone(),
            username: by.username.clone(),
            seq,
            alert: None,
        };
        if let Some(d) = scan_alert(&record, &verifier, s.at) {
            record.alert = Some(self.raise_alert(&d).await?.alert.id);
        }
        Ok(record)
    }

    /// Reconciles the voyage's plan against what is aboard (the accepted scans) and records
    /// it, with a ledger event; when departure is not allowed, an alert on the voyage too.
    pub async fn load_complete(
        &self,
        voyage: &Ident,
        by: &By,
        at: DateTime<Utc>,
    ) -> Result<LoadCompletion, LoadingError> {
        let rec = self
            .stowage_plan_in(voyage.as_str(), &LoadingScope::All)
            .await?
            .ok_or_else(|| LoadingError::Missing {
                what: "stowage plan of voyage",
                id: voyage.to_string(),
            })?;
        let r = self.verifier(&rec).await?.complete();
        let event_id = Uuid::new_v4();
        let e = voyage_event(
            event_id,
            voyage,
            at,
            by,
            "load_reconciling",
            serde_json::json!({
                "kind": "load_complete",
                "version": rec.version,
                "loadedOk": r.loaded_ok,
                "leftBehind": r.left_behind.len(),
                "extra": r.extra.len(),
                "wrongSlot": r.wrong_slot.len(),
                "notTallied": r.not_tallied.len(),
                "departureAllowed": r.departure_allowed,
            }),
        );
        self.append_batch_at(vec![e], Utc::now()).await?;
        let at_text = format_time(at);
        let body = json(&r)?;
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO load_completions (voyage, at, reconciliation, departure_allowed, \
             organisation, username, event_id) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (voyage) DO UPDATE SET at = excluded.at, \
             reconciliation = excluded.reconciliation, \
             departure_allowed = excluded.departure_allowed, \
             organisation = excluded.organisation, username = excluded.username, \
             event_id = excluded.event_id"
        )
        .bind(voyage.as_str())
        .bind(&at_text)
        .bind(&body)
        .bind(i64::from(r.departure_allowed))
        .bind(by.organisation.as_str())
        .bind(&by.username)
        .bind(event_id.to_string())
        .execute(pool)
        .await
        .map(drop)?);
        if !r.departure_allowed {
            self.raise_alert(&AlertDraft {
                rule: "loading-incomplete".into(),
                subject_kind: "voyage".into(),
                subject_id: voyage.to_string(),
                severity: Severity::Warning,
                title: format!("{voyage}: loading does not match the stowage plan"),
                detail: blocker_text(voyage, &r),
                evidence: serde_json::json!({
                    "voyage": voyage.as_str(),
                    "leftBehind": first(&r.left_behind),
                    "extra": first(&r.extra),
                    "wrongSlot": r.wrong_slot.iter().take(50).map(|(v, p, s)| serde_json::json!(
                        {"vin": v, "planned": p.to_string(), "scanned": s.to_string()})).collect::<Vec<_>>(),
                    "notTallied": first(&r.not_tallied),
                }),
                at,
                source: "loading".into(),
            })
            .await?;
        }
        Ok(LoadCompletion {
            voyage: voyage.clone(),
            at: at_text,
            reconciliation: r,
            organisation: by.organisation.clone(),
            username: by.username.clone(),
            event_id,
        })
    }

    /// The voyage's last load-complete, if one stands (a car loaded or an edit since clears it).
    pub async fn load_completion(
        &self,
        voyage: &str,
    ) -> Result<Option<LoadCompletion>, StoreError> {
        let row: Option<(String, String, String, String, String, String)> =
            on_backend!(&self.backend, |pool| sqlx::query_as(
                "SELECT voyage, at, reconciliation, organisation, username, event_id \
                 FROM load_completions WHERE voyage = $1"
            )
            .bind(voyage)
            .fetch_optional(pool)
            .await?);
        row.map(|r| {
            Ok(LoadCompletion {
                voyage: ident(r.0)?,
                at: r.1,
                reconciliation: parse("reconciliation", &r.2)?,
                organisation: ident(r.3)?,
                username: r.4,
                event_id: uuid(&r.5)?,
            })
        })
        .transpose()
    }

    /// Why the voyage may not depart yet, if it may not: it has a stowage plan and no
    /// standing load-complete that allowed departure. `None` for a voyage without a plan.
    pub async fn departure_blocker(&self, voyage: &str) -> Result<Option<String>, StoreError> {
        let planned: Option<(i64,)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT version FROM stowage_plans WHERE voyage = $1"
        )
        .bind(voyage)
        .fetch_optional(pool)
        .await?);
        if planned.is_none() {
            return Ok(None);
        }
        Ok(match self.load_completion(voyage).await? {
            None => Some(format!(
                "voyage {voyage} has a stowage plan and no load-complete since its last load or \
                 edit; record load-complete first"
            )),
            Some(c) if !c.reconciliation.departure_allowed => {
                Some(blocker_text(&c.voyage, &c.reconciliation))
            }
            Some(_) => None,
        })
    }
}

fn first(v: &[String]) -> Vec<&String> {
    v.iter().take(50).collect()
}

/// "left behind: 2 (A, B); extra: …", naming up to five cars of each kind.
fn blocker_text(voyage: &Ident, r: &Reconciliation) -> String {
    fn some(v: &[String]) -> String {
        let mut s = v.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        if v.len() > 5 {
            s.push_str(", …");
        }
        s
    }
    let misplaced: Vec<String> = r
        .wrong_slot
        .iter()
        .map(|(v, p, s)| format!("{v} in {s}, planned {p}"))
        .collect();
    let parts: Vec<String> = [
        ("left behind", &r.left_behind),
        ("extra", &r.extra),
        ("misplaced", &misplaced),
        ("not tallied", &r.not_tallied),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(what, v)| format!("{what}: {} ({})", v.len(), some(v)))
    .collect();
    format!(
        "load-complete of voyage {voyage} does not allow departure: {}",
        parts.join("; ")
    )
}

/// Keeps only `own` cars in a plan record (re-indexing the unplaced cars).
fn narrow(rec: &mut StowagePlanRecord, own: &BTreeSet<String>) {
    let mut index = HashMap::new();
    let mut cars = Vec::new();
    for (i, c) in rec.cars.iter().enumerate() {
        if own.contains(c.vin.trim()) {
            index.insert(i, cars.len());
            cars.push(c.clone());
        }
    }
    rec.cars = cars;
    rec.plan.placements.retain(|p| own.contains(&p.vin));
    rec.plan
        .unplaced
        .retain_mut(|u| match index.get(&u.car_index) {
            Some(&n) => {
                u.car_index = n;
                true
            }
            None => false,
        });
    rec.narrowed = true;
}

/// The alert a refused scan raises (none for an accepted or duplicate scan).
fn scan_alert(
    s: &RampScanRecord,
    verifier: &LoadVerifier,
    at: DateTime<Utc>,
) -> Option<AlertDraft> {
    if s.accepted {
        return None;
    }
    let (rule, title, detail) = match (&s.outcome, &s.refusal) {
        (ScanOutcome::Duplicate, _) => return None,
        (ScanOutcome::Ok, Some(why)) => (
            "loading-refused",
            format!("{}: load refused on voyage {}", s.vin, s.voyage),
            format!("the plan accepts the car in {}, but {why}", s.slot),
        ),
        (ScanOutcome::Ok, None) => return None,
        (ScanOutcome::WrongSlot { planned, scanned }, _) => (
            "loading-wrong-slot",
            format!("{}: driven to {scanned}, planned for {planned}", s.vin),
            format!(
                "scanned at the ramp of voyage {} into {scanned}; the stowage plan puts it in \
                 {planned}; not loaded",
                s.voyage
            ),
        ),
        (ScanOutcome::Unplanned, _) => (
            "loading-unplanned",
            format!("{}: not in the stowage plan of {}", s.vin, s.voyage),
            "scanned at the ramp, but the plan has no place for it; not loaded".to_string(),
        ),
        (ScanOutcome::NotTallied, _) => (
            "loading-not-tallied",
            format!("{}: offered for loading without a yard tally", s.vin),
            format!(
                "scanned at the ramp of voyage {} but not tallied; not loaded",
                s.voyage
            ),
        ),
        (ScanOutcome::OutOfSequence { waiting_for }, _) => (
            "loading-out-of-sequence",
            format!("{}: out of sequence in {}", s.vin, s.slot),
            format!(
                "cars planned deeper in {} are not aboard yet: {}",
                s.slot,
                waiting_for.join(", ")
            ),
        ),
    };
    let planned = s.planned().map(ToString::to_string);
    Some(AlertDraft {
        rule: rule.into(),
        subject_kind: "vehicle".into(),
        subject_id: s.vin.to_string(),
        severity: Severity::Warning,
        title,
        detail,
        evidence: serde_json::json!({
            "voyage": s.voyage.as_str(),
            "scan": s.id,
            "scanned": s.slot.to_string(),
            "planned": planned,
            "outcome": s.outcome,
            "refusal": s.refusal,
            "nextInLane": verifier.next_in_lane(&s.slot),
        }),
        at,
        source: "loading".into(),
    })
}
