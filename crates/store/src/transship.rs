//! Transshipment at Shanghai (migration 10): the ocean leg of an ocean voyage, each car's
//! transfer onto it (direct or through the yard, with the dwell measured from its river
//! arrival) and its export confirmation.
//!
//! A transfer is the car's `transship` ledger event and an export its `export` event, one per
//! car, with ids derived from the ocean voyage and the VIN, so a retry is recognised.

use chrono::{DateTime, Utc};
use jianghai_core::lifecycle::Step;
use jianghai_core::{Actor, Event, Ident, Vin, ledger::format_time};
use jianghai_customs::transship::{self, LegProblem, OceanLeg, Transfer};
use uuid::Uuid;

use crate::{AppendError, Store, StoreError, on_backend};

/// Why a transshipment step did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransshipError {
    #[error("{what} {id:?} does not exist")]
    Missing { what: &'static str, id: String },
    #[error("the ocean leg has {} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Problems(Vec<LegProblem>),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TransshipError {
    fn from(e: sqlx::Error) -> Self {
        TransshipError::Store(StoreError::Database(e))
    }
}

/// One car's transfer onto an ocean leg.
#[derive(Debug, Clone, PartialEq)]
pub struct Transshipment {
    pub vin: Vin,
    pub voyage: String,
    pub transfer: Transfer,
    pub arrived_at: String,
    pub transshipped_at: String,
    /// Seconds in the yard (0 for a direct transfer).
    pub dwell_seconds: i64,
    pub exported_at: Option<String>,
}

fn event_id(voyage: &str, vin: &Vin, what: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("jianghai ocean {voyage} {vin} {what}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

fn transfer_name(t: Transfer) -> &'static str {
    match t {
        Transfer::Direct => "direct",
        Transfer::Yard => "yard",
    }
}

type TransshipRow = (String, String, String, String, String, i64, Option<String>);

impl Store {
    /// Sets (or replaces) the ocean leg of an existing voyage, refusing one with problems.
    pub async fn set_ocean_leg(&self, leg: &OceanLeg, by: &Ident) -> Result<(), TransshipError> {
        let problems = leg.problems();
        if !problems.is_empty() {
            return Err(TransshipError::Problems(problems));
        }
        if self.voyage(&leg.voyage).await?.is_none() {
            return Err(TransshipError::Missing {
                what: "voyage",
                id: leg.voyage.clone(),
            });
        }
        let body = serde_json::to_string(leg).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO ocean_legs (voyage, body, set_at, set_by, feeder) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (voyage) DO UPDATE SET \
             body = excluded.body, set_at = excluded.set_at, set_by = excluded.set_by, \
             feeder = excluded.feeder"
        )
        .bind(&leg.voyage)
        .bind(&body)
        .bind(format_time(Utc::now()))
        .bind(by.as_str())
        .bind(&leg.feeder)
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    /// The ocean legs fed by the river voyage `feeder`.
    pub async fn ocean_legs_fed_by(&self, feeder: &str) -> Result<Vec<OceanLeg>, StoreError> {
        let rows: Vec<(String,)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT body FROM ocean_legs WHERE feeder = $1 ORDER BY voyage"
        )
        .bind(feeder)
        .fetch_all(pool)
        .await?);
        rows.into_iter()
            .map(|(b,)| {
                serde_json::from_str(&b).map_err(|e| StoreError::Corrupt(format!("ocean leg: {e}")))
            })
            .collect()
    }

    /// The ocean leg of a voyage, if set.
    pub async fn ocean_leg(&self, voyage: &str) -> Result<Option<OceanLeg>, StoreError> {
        let row: Option<(String,)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT body FROM ocean_legs WHERE voyage = $1"
        )
        .bind(voyage)
        .fetch_optional(pool)
        .await?);
        row.map(|(b,)| {
            serde_json::from_str(&b).map_err(|e| StoreError::Corrupt(format!("ocean leg: {e}")))
        })
        .transpose()
    }

    /// The cars transferred onto an ocean voyage, by VIN.
    pub async fn transshipments(&self, voyage: &str) -> Result<Vec<Transshipment>, StoreError> {
        let rows: Vec<TransshipRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT vin, voyage, transfer, arrived_at, transshipped_at, dwell_seconds, \
             exported_at FROM transshipments WHERE voyage = $1 ORDER BY vin"
        )
        .bind(voyage)
        .fetch_all(pool)
        .await?);
        rows.into_iter()
            .map(
                |(
                    vin,
                    voyage,
                    transfer,
                    arrived_at,
                    transshipped_at,
                    dwell_seconds,
                    exported_at,
                )| {
                    Ok(Transshipment {
                        vin: Vin::parse(&vin)
                            .map_err(|e| StoreError::Corrupt(format!("vin {vin}: {e}")))?,
                        voyage,
                        transfer: if transfer == "yard" {
                            Transfer::Yard
                        } else {
                            Transfer::Direct
                        },
                        arrived_at,
                        transshipped_at,
                        dwell_seconds,
                        exported_at,
                    })
                },
            )
            .collect()
    }

    /// When `vin` arrived at the exit port: its latest `arrive` event.
    async fn arrived_at(&self, vin: &Vin) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .timeline(vin)
            .await?
            .into_iter()
            .filter(|r| r.event.step == Some(Step::Arrive))
            .map(|r| r.event.event_time.with_timezone(&Utc))
            .max())
    }

    /// Transfers `vins` onto the ocean voyage's leg: one `transship` event per car (the
    /// lifecycle refuses a car whose transit is not closed, or a held one), with the dwell in
    /// the yard measured from its river arrival. All or nothing.
    pub async fn transship(
        &self,
        voyage: &str,
        vins: &[Vin],
        transfer: Transfer,
        by: &Ident,
        now: DateTime<Utc>,
    ) -> Result<Vec<Transshipment>, TransshipError> {
        let leg = self
            .ocean_leg(voyage)
            .await?
            .ok_or_else(|| TransshipError::Missing {
                what: "ocean leg of voyage",
                id: voyage.to_string(),
            })?;
        if vins.is_empty() {
            return Err(TransshipError::Refused("no vehicles to transship".into()));
        }
        let mut events = Vec::with_capacity(vins.len());
        let mut rows = Vec::with_capacity(vins.len());
        for vin in vins {
            let arrived = self.arrived_at(vin).await?.ok_or_else(|| {
                TransshipError::Refused(format!("vehicle {vin} has not arrived at the exit port"))
            })?;
            let dwell = transship::dwell(transfer, arrived, now).ok_or_else(|| {
                TransshipError::Refused(format!("vehicle {vin} arrived after {now}"))
            })?;
            let mut e = Event::lifecycle(
                event_id(voyage, vin, "transship"),
                Step::Transship,
                now.fixed_offset(),
                vec![*vin],
                Actor {
                    organisation: by.clone(),
                    user: None,
                    device: None,
                },
            );
            e.subjects.voyage = Ident::parse(voyage).ok();
            e.read_point = Ident::parse(&leg.terminal).ok();
            e.extensions
                .insert("jh:transfer".into(), transfer_name(transfer).into());
            e.extensions
                .insert("jh:dwellSeconds".into(), dwell.num_seconds().into());
            events.push(e);
            rows.push(Transshipment {
                vin: *vin,
                voyage: voyage.to_string(),
                transfer,
                arrived_at: format_time(arrived),
                transshipped_at: format_time(now),
                dwell_seconds: dwell.num_seconds(),
                exported_at: None,
            });
        }
        self.append_batch_at(events, now).await?;
        for r in &rows {
            on_backend!(&self.backend, |pool| sqlx::query(
                "INSERT INTO transshipments (vin, voyage, transfer, arrived_at, \
                 transshipped_at, dwell_seconds) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (vin, voyage) DO NOTHING"
            )
            .bind(r.vin.as_str())
            .bind(&r.voyage)
            .bind(transfer_name(r.transfer))
            .bind(&r.arrived_at)
            .bind(&r.transshipped_at)
            .bind(r.dwell_seconds)
            .execute(pool)
            .await
            .map(drop)?);
        }
        Ok(rows)
    }

    /// Confirms the export of `vins` on the ocean voyage: one `export` event per car (the
    /// lifecycle refuses a car not transshipped). All or nothing.
    pub async fn confirm_export(
        &self,
        voyage: &str,
        vins: &[Vin],
        by: &Ident,
        now: DateTime<Utc>,
    ) -> Result<usize, TransshipError> {
        let on: Vec<Vin> = self
            .transshipments(voyage)
            .await?
            .into_iter()
            .map(|t| t.vin)
            .collect();
        if vins.is_empty() {
            return Err(TransshipError::Refused("no vehicles to export".into()));
        }
        if let Some(v) = vins.iter().find(|v| !on.contains(v)) {
            return Err(TransshipError::Refused(format!(
                "vehicle {v} was not transshipped onto {voyage}"
            )));
        }
        let events = vins
            .iter()
            .map(|vin| {
                let mut e = Event::lifecycle(
                    event_id(voyage, vin, "export"),
                    Step::Export,
                    now.fixed_offset(),
                    vec![*vin],
                    Actor {
                        organisation: by.clone(),
                        user: None,
                        device: None,
                    },
                );
                e.subjects.voyage = Ident::parse(voyage).ok();
                e
            })
            .collect();
        self.append_batch_at(events, now).await?;
        let at = format_time(now);
        for vin in vins {
            on_backend!(&self.backend, |pool| sqlx::query(
                "UPDATE transshipments SET exported_at = $3 WHERE vin = $1 AND voyage = $2 \
                 AND exported_at IS NULL"
            )
            .bind(vin.as_str())
            .bind(voyage)
            .bind(&at)
            .execute(pool)
            .await
            .map(drop)?);
        }
        Ok(vins.len())
    }
}
