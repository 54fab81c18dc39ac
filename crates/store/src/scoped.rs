//! Reads narrowed to what a party may see, and shipments.
//!
//! The server's policy decides *which* scope a principal gets; this module only knows what each
//! scope means in SQL. A scope is a relation ("exported by", "on voyages of", "at facilities
//! of"), never a party kind, so the rules of who-sees-what live in one place, the policy.
//! Single-object reads take the same scope as listings: an object outside it reads as absent.

use chrono::Utc;
use jianghai_core::{
    Facility, FacilityKind, Ident, Organisation, Position, Shipment, UnNumber, Vessel, VesselKind,
    Vin, Voyage, ledger::format_time,
};

use crate::access::page;
use crate::registry::{OrgRow, exists_error, ident, organisation};
use crate::{Page, Store, StoreError, VehicleRecord, on_backend};

/// Which vehicles a reader may see.
#[derive(Debug, Clone, PartialEq)]
pub enum VehicleScope {
    All,
    /// Registered by this exporter (`vehicles.exporter`).
    ExportedBy(Ident),
    /// Named by an event on a voyage of one of this carrier's vessels, or on a shipment booked
    /// on one.
    OnVoyagesOf(Ident),
    /// Named by an event at a facility this organisation operates, or on (or booked on) a
    /// voyage from or to one.
    AtFacilitiesOf(Ident),
}

/// Which voyages (and vessels) a reader may see.
#[derive(Debug, Clone, PartialEq)]
pub enum VoyageScope {
    All,
    /// Voyages of this carrier's vessels.
    CarriedBy(Ident),
    /// Voyages from or to a facility this organisation operates.
    Touching(Ident),
    /// Voyages this exporter has cars on: a shipment of its booked on one, or one of its
    /// vehicles tied to it by the ledger.
    BookedBy(Ident),
}

/// Which shipments a reader may see.
#[derive(Debug, Clone, PartialEq)]
pub enum ShipmentScope {
    All,
    ExportedBy(Ident),
    /// No shipment at all (commercial data of exporters).
    Nothing,
}

/// Which organisations a reader may see.
#[derive(Debug, Clone, PartialEq)]
pub enum OrgScope {
    All,
    Only(Ident),
}

/// The voyages of carrier `$2`'s vessels.
const VOYAGES_OF_CARRIER: &str =
    "SELECT vo.id FROM voyages vo JOIN vessels ve ON ve.id = vo.vessel WHERE ve.carrier = $2";
/// The voyages from or to a facility that `$2` operates.
const VOYAGES_TOUCHING: &str = "SELECT vo.id FROM voyages vo JOIN facilities f \
     ON f.id = vo.origin OR f.id = vo.destination WHERE f.operator = $2";

/// The voyages exporter `$2` has cars on: booked shipments, and vehicles tied by the ledger.
pub(crate) const VOYAGES_BOOKED_BY: &str = "SELECT s.voyage FROM shipments s \
     WHERE s.exporter = $2 AND s.voyage IS NOT NULL UNION SELECT k.ref FROM vehicle_links k \
     JOIN vehicles v ON v.vin = k.vin WHERE k.kind = 'voyage' AND v.exporter = $2";

/// `v.vin` is tied by the ledger to a `kind` (voyage, facility) in `set`.
fn tied(kind: &str, set: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM vehicle_links k WHERE k.vin = v.vin \
         AND k.kind = '{kind}' AND k.ref IN ({set}))"
    )
}

/// `v.vin` is on a shipment booked on a voyage in `set`.
fn booked(set: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM shipment_vins sv JOIN shipments s ON s.id = sv.shipment \
         WHERE sv.vin = v.vin AND s.voyage IN ({set}))"
    )
}

impl VehicleScope {
    /// A predicate over `v` (the vehicles table) whose one parameter is `$2`.
    pub(crate) fn predicate(&self) -> String {
        match self {
            VehicleScope::All => "$2 = ''".into(),
            VehicleScope::ExportedBy(_) => "v.exporter = $2".into(),
            VehicleScope::OnVoyagesOf(_) => format!(
                "({} OR {})",
                tied("voyage", VOYAGES_OF_CARRIER),
                booked(VOYAGES_OF_CARRIER)
            ),
            VehicleScope::AtFacilitiesOf(_) => format!(
                "({} OR {} OR {})",
                tied("facility", "SELECT id FROM facilities WHERE operator = $2"),
                tied("voyage", VOYAGES_TOUCHING),
                booked(VOYAGES_TOUCHING)
            ),
        }
    }

    fn param(&self) -> &str {
        match self {
            VehicleScope::All => "",
            VehicleScope::ExportedBy(o)
            | VehicleScope::OnVoyagesOf(o)
            | VehicleScope::AtFacilitiesOf(o) => o.as_str(),
        }
    }
}

impl VoyageScope {
    /// A predicate over `vo` (the voyages table) whose one parameter is `$2`.
    pub(crate) fn predicate(&self) -> String {
        match self {
            VoyageScope::All => "$2 = ''".into(),
            VoyageScope::CarriedBy(_) => {
                "vo.vessel IN (SELECT id FROM vessels WHERE carrier = $2)".into()
            }
            VoyageScope::Touching(_) => {
                "(vo.origin IN (SELECT id FROM facilities WHERE operator = $2) \
                 OR vo.destination IN (SELECT id FROM facilities WHERE operator = $2))"
                    .into()
            }
            VoyageScope::BookedBy(_) => format!("vo.id IN ({VOYAGES_BOOKED_BY})"),
        }
    }

    pub(crate) fn param(&self) -> &str {
        match self {
            VoyageScope::All => "",
            VoyageScope::CarriedBy(o) | VoyageScope::Touching(o) | VoyageScope::BookedBy(o) => {
                o.as_str()
            }
        }
    }

    /// A predicate over `ve` (the vessels table) whose one parameter is `$2`: the vessels of the
    /// carriers in scope, or (`Touching`) those sailing from or to the organisation's facilities.
    pub(crate) fn vessel_predicate(&self) -> String {
        match self {
            VoyageScope::All => "$2 = ''".into(),
            VoyageScope::CarriedBy(_) => "ve.carrier = $2".into(),
            VoyageScope::Touching(_) => {
                "ve.id IN (SELECT vo.vessel FROM voyages vo JOIN facilities f \
                 ON f.id = vo.origin OR f.id = vo.destination WHERE f.operator = $2)"
                    .into()
            }
            VoyageScope::BookedBy(_) => format!(
                "ve.id IN (SELECT vo.vessel FROM voyages vo WHERE vo.id IN ({VOYAGES_BOOKED_BY}))"
            ),
        }
    }
}

type VehicleRow = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<i32>,
    i64,
    String,
);
const VEHICLE_COLUMNS: &str = "v.vin, v.state, v.held_from, v.exporter, v.manufacturer, \
                               v.model_year, v.last_seq, v.updated_at";

fn vehicle(r: VehicleRow) -> Result<VehicleRecord, StoreError> {
    let vin = Vin::parse(&r.0).map_err(|e| StoreError::Corrupt(format!("VIN {:?}: {e}", r.0)))?;
    let state = |s: &str| {
        jianghai_core::VehicleState::parse(s)
            .ok_or_else(|| StoreError::Corrupt(format!("vehicle state {s:?}")))
    };
    Ok(VehicleRecord {
        vin,
        status: jianghai_core::Status {
            state: state(&r.1)?,
            held_from: r.2.as_deref().map(state).transpose()?,
        },
        exporter: ident(r.3)?,
        manufacturer: r.4,
        model_year: r.5,
        last_seq: r.6,
        updated_at: r.7,
    })
}

type VoyageRow = (String, String, String, String);

fn voyage(r: VoyageRow) -> Result<Voyage, StoreError> {
    Ok(Voyage {
        id: ident(r.0)?,
        vessel: ident(r.1)?,
        origin: ident(r.2)?,
        destination: ident(r.3)?,
    })
}

pub(crate) type VesselRow = (String, String, String, String, Option<i64>, Option<i64>);
pub(crate) const VESSEL_COLUMNS: &str = "ve.id, ve.name, ve.kind, ve.carrier, ve.mmsi, ve.imo";

pub(crate) fn vessel_from_row(r: VesselRow) -> Result<Vessel, StoreError> {
    let kind = match r.2.as_str() {
        "river_ro_ro" => VesselKind::RiverRoRo,
        "ocean_pctc" => VesselKind::OceanPctc,
        k => return Err(StoreError::Corrupt(format!("vessel kind {k:?}"))),
    };
    let small = |n: Option<i64>| n.and_then(|n| u32::try_from(n).ok());
    Ok(Vessel {
        id: ident(r.0)?,
        name: r.1,
        kind,
        carrier: ident(r.3)?,
        mmsi: small(r.4),
        imo: small(r.5),
    })
}

impl Store {
    /// Vehicles in `scope`, by VIN, after the cursor `after`.
    pub async fn vehicles(
        &self,
        scope: &VehicleScope,
        after: &str,
        limit: i64,
    ) -> Result<Page<VehicleRecord>, StoreError> {
        let sql = format!(
            "SELECT {VEHICLE_COLUMNS} FROM vehicles v WHERE v.vin > $1 AND {} \
             ORDER BY v.vin LIMIT $3",
            scope.predicate()
        );
        self.scoped_page::<VehicleRow, _>(sql, after, scope.param(), limit, vehicle, |v| {
            v.vin.to_string()
        })
        .await
    }

    /// Which of `vins` are in `scope`, in one query per 500: absent and out-of-scope VINs
    /// alike are missing from the answer.
    pub async fn vehicles_visible(
        &self,
        vins: &[Vin],
        scope: &VehicleScope,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        // The predicate's scope parameter becomes $1 so the VINs can follow it.
        let predicate = scope.predicate().replace("$2", "$1");
        let mut found = std::collections::HashSet::new();
        for chunk in vins.chunks(500) {
            let list: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT v.vin FROM vehicles v WHERE {predicate} AND v.vin IN ({})",
                list.join(", ")
            );
            let rows: Vec<(String,)> = on_backend!(&self.backend, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(scope.param());
                for v in chunk {
                    q = q.bind(v.as_str());
                }
                q.fetch_all(pool).await?
            });
            found.extend(rows.into_iter().map(|(v,)| v));
        }
        Ok(found)
    }

    /// The vehicle `vin` if it is in `scope`; `None` whether it is absent or out of scope.
    pub async fn vehicle_in(
        &self,
        vin: &Vin,
        scope: &VehicleScope,
    ) -> Result<Option<VehicleRecord>, StoreError> {
        let sql = format!(
            "SELECT {VEHICLE_COLUMNS} FROM vehicles v WHERE v.vin = $1 AND {}",
            scope.predicate()
        );
        let row: Option<VehicleRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(vin.as_str())
        .bind(scope.param())
        .fetch_optional(pool)
        .await?);
        row.map(vehicle).transpose()
    }

    /// Voyages in `scope`, by id.
    pub async fn voyages(
        &self,
        scope: &VoyageScope,
        after: &str,
        limit: i64,
    ) -> Result<Page<Voyage>, StoreError> {
        let sql = format!(
            "SELECT vo.id, vo.vessel, vo.origin, vo.destination FROM voyages vo \
             WHERE vo.id > $1 AND {} ORDER BY vo.id LIMIT $3",
            scope.predicate()
        );
        self.scoped_page::<VoyageRow, _>(sql, after, scope.param(), limit, voyage, |v| {
            v.id.to_string()
        })
        .await
    }

    /// The voyage `id` if it is in `scope`.
    pub async fn voyage_in(
        &self,
        id: &str,
        scope: &VoyageScope,
    ) -> Result<Option<Voyage>, StoreError> {
        let sql = format!(
            "SELECT vo.id, vo.vessel, vo.origin, vo.destination FROM voyages vo \
             WHERE vo.id = $1 AND {}",
            scope.predicate()
        );
        let row: Option<VoyageRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(id)
        .bind(scope.param())
        .fetch_optional(pool)
        .await?);
        row.map(voyage).transpose()
    }

    /// The vessel `id`, if any.
    pub async fn vessel(&self, id: &str) -> Result<Option<Vessel>, StoreError> {
        let row: Option<VesselRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT id, name, kind, carrier, mmsi, imo FROM vessels WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await?);
        row.map(vessel_from_row).transpose()
    }

    /// Vessels of the carriers `scope` allows (`Touching` reads as vessels sailing from or to
    /// the organisation's facilities).
    pub async fn vessels(
        &self,
        scope: &VoyageScope,
        after: &str,
        limit: i64,
    ) -> Result<Page<Vessel>, StoreError> {
        let filter = scope.vessel_predicate();
        let sql = format!(
            "SELECT {VESSEL_COLUMNS} FROM vessels ve WHERE ve.id > $1 AND {filter} \
             ORDER BY ve.id LIMIT $3"
        );
        self.scoped_page::<VesselRow, _>(sql, after, scope.param(), limit, vessel_from_row, |v| {
            v.id.to_string()
        })
        .await
    }

    /// Facilities, by id: corridor reference data every party may read.
    pub async fn facilities(&self, after: &str, limit: i64) -> Result<Page<Facility>, StoreError> {
        type Row = (String, String, String, String, Option<f64>, Option<f64>);
        let rows: Vec<Row> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT id, name, kind, operator, lat, lon FROM facilities WHERE id > $1 \
             ORDER BY id LIMIT $2"
        )
        .bind(after)
        .bind(limit + 1)
        .fetch_all(pool)
        .await?);
        let items = rows
            .into_iter()
            .map(|(id, name, kind, operator, lat, lon)| {
                Ok(Facility {
                    id: ident(id)?,
                    name,
                    kind: FacilityKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("facility kind {kind:?}")))?,
                    operator: ident(operator)?,
                    position: lat.zip(lon).map(|(lat, lon)| Position { lat, lon }),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(page(items, limit, |f| f.id.to_string()))
    }

    /// Organisations in `scope`, by id.
    pub async fn organisations_in(
        &self,
        scope: &OrgScope,
        after: &str,
        limit: i64,
    ) -> Result<Page<Organisation>, StoreError> {
        let (filter, param) = match scope {
            OrgScope::All => ("$2 = ''", ""),
            OrgScope::Only(o) => ("id = $2", o.as_str()),
        };
        let sql = format!(
            "SELECT id, name, kind FROM organisations WHERE id > $1 AND {filter} \
             ORDER BY id LIMIT $3"
        );
        self.scoped_page::<OrgRow, _>(sql, after, param, limit, organisation, |o| o.id.to_string())
            .await
    }

    /// Records a shipment and its VINs in one transaction. Every VIN must be a registered
    /// vehicle of the shipment's exporter; otherwise nothing is written and the first
    /// offending VIN is named.
    pub async fn create_shipment(&self, s: &Shipment) -> Result<(), ShipmentError> {
        let now = format_time(Utc::now());
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin().await.map_err(StoreError::from)?;
            for vin in &s.vins {
                let owner: Option<(String,)> =
                    sqlx::query_as("SELECT exporter FROM vehicles WHERE vin = $1")
                        .bind(vin.as_str())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(StoreError::from)?;
                if owner.is_none_or(|(o,)| o != s.exporter.as_str()) {
                    return Err(ShipmentError::UnknownVin(*vin));
                }
            }
            sqlx::query(
                "INSERT INTO shipments (id, exporter, destination_country, created_at, voyage, \
                 dangerous_goods) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(s.id.as_str())
            .bind(s.exporter.as_str())
            .bind(&s.destination_country)
            .bind(&now)
            .bind(s.voyage.as_ref().map(|v| v.as_str()))
            .bind(
                s.dangerous_goods
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            )
            .execute(&mut *tx)
            .await
            .map_err(|e| exists_error(e, "shipment", s.id.as_str()))?;
            for vin in &s.vins {
                sqlx::query("INSERT INTO shipment_vins (shipment, vin) VALUES ($1, $2)")
                    .bind(s.id.as_str())
                    .bind(vin.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
            }
            tx.commit().await.map_err(StoreError::from)?;
        });
        Ok(())
    }

    /// Books the shipment `id` of `exporter` on `voyage`. `Ok(false)` when the exporter has no
    /// such shipment; an unknown voyage is refused by the database's reference.
    pub async fn book_shipment(
        &self,
        id: &str,
        exporter: &Ident,
        voyage: &Ident,
    ) -> Result<bool, StoreError> {
        let known: Option<(String,)> = on_backend!(&self.backend, |pool| {
            sqlx::query_as("SELECT id FROM voyages WHERE id = $1")
                .bind(voyage.as_str())
                .fetch_optional(pool)
                .await?
        });
        if known.is_none() {
            return Err(StoreError::Missing {
                what: "voyage",
                id: voyage.to_string(),
            });
        }
        let done = on_backend!(&self.backend, |pool| {
            sqlx::query("UPDATE shipments SET voyage = $1 WHERE id = $2 AND exporter = $3")
                .bind(voyage.as_str())
                .bind(id)
                .bind(exporter.as_str())
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// The shipment `id` with its VINs, if it is in `scope`.
    pub async fn shipment_in(
        &self,
        id: &str,
        scope: &ShipmentScope,
    ) -> Result<Option<Shipment>, StoreError> {
        let mut page = self.shipments_where(scope, Some(id), "", 1).await?;
        Ok(page.items.pop())
    }

    /// Shipments in `scope`, by id, with their VINs.
    pub async fn shipments(
        &self,
        scope: &ShipmentScope,
        after: &str,
        limit: i64,
    ) -> Result<Page<Shipment>, StoreError> {
        self.shipments_where(scope, None, after, limit).await
    }

    async fn shipments_where(
        &self,
        scope: &ShipmentScope,
        only: Option<&str>,
        after: &str,
        limit: i64,
    ) -> Result<Page<Shipment>, StoreError> {
        let (filter, param) = match scope {
            ShipmentScope::All => ("$2 = ''", ""),
            ShipmentScope::ExportedBy(o) => ("s.exporter = $2", o.as_str()),
            ShipmentScope::Nothing => return Ok(Page::default()),
        };
        let only_filter = if only.is_some() {
            "s.id = $4"
        } else {
            "$4 = ''"
        };
        let sql = format!(
            "SELECT s.id, s.exporter, s.destination_country, s.voyage, s.dangerous_goods \
             FROM shipments s \
             WHERE s.id > $1 AND {filter} AND {only_filter} ORDER BY s.id LIMIT $3"
        );
        let rows: Vec<(String, String, String, Option<String>, String)> = on_backend!(
            &self.backend,
            |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(after)
                .bind(param)
                .bind(limit + 1)
                .bind(only.unwrap_or(""))
                .fetch_all(pool)
                .await?
        );
        let mut items = Vec::with_capacity(rows.len());
        for (id, exporter, destination_country, voyage, dangerous_goods) in rows {
            let dangerous_goods = dangerous_goods
                .split(',')
                .filter(|u| !u.is_empty())
                .map(|u| {
                    UnNumber::parse(u)
                        .map_err(|e| StoreError::Corrupt(format!("shipment {id}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let vins: Vec<(String,)> = on_backend!(&self.backend, |pool| sqlx::query_as(
                "SELECT vin FROM shipment_vins WHERE shipment = $1 ORDER BY vin"
            )
            .bind(&id)
            .fetch_all(pool)
            .await?);
            let vins = vins
                .into_iter()
                .map(|(v,)| {
                    Vin::parse(&v).map_err(|e| StoreError::Corrupt(format!("VIN {v:?}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            items.push(Shipment {
                id: ident(id)?,
                exporter: ident(exporter)?,
                destination_country,
                vins,
                voyage: voyage.map(ident).transpose()?,
                dangerous_goods,
            });
        }
        Ok(page(items, limit, |s| s.id.to_string()))
    }
}

/// Recording a shipment. Nothing is written when this is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShipmentError {
    #[error("VIN {0} is not a registered vehicle of this exporter")]
    UnknownVin(Vin),
    #[error(transparent)]
    Store(#[from] StoreError),
}
