//! Organisations, facilities, vessels and voyages: the things events refer to.

use chrono::Utc;
use jianghai_core::{
    Facility, FacilityKind, Ident, OrgKind, Organisation, Position, Vessel, VesselKind, Voyage,
    ledger::format_time,
};

use crate::{Store, StoreError, on_backend};

pub(crate) fn ident(s: String) -> Result<Ident, StoreError> {
    Ident::parse(&s).map_err(|e| StoreError::Corrupt(format!("identifier {s:?}: {e}")))
}

/// An organisations row: id, name, kind.
pub(crate) type OrgRow = (String, String, String);

pub(crate) fn organisation((id, name, kind): OrgRow) -> Result<Organisation, StoreError> {
    Ok(Organisation {
        id: ident(id)?,
        kind: OrgKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("organisation kind {kind:?}")))?,
        name,
    })
}

pub(crate) fn exists_error(e: sqlx::Error, what: &'static str, id: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Exists {
            what,
            id: id.to_string(),
        },
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::Missing {
            what: "referenced organisation, vessel or facility",
            id: id.to_string(),
        },
        _ => StoreError::Database(e),
    }
}

impl Store {
    /// Registers an organisation; its id must be new.
    pub async fn create_organisation(&self, org: &Organisation) -> Result<(), StoreError> {
        let now = format_time(Utc::now());
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO organisations (id, name, kind, created_at) VALUES ($1, $2, $3, $4)"
        )
        .bind(org.id.as_str())
        .bind(&org.name)
        .bind(org.kind.as_str())
        .bind(&now)
        .execute(pool)
        .await
        .map_err(|e| exists_error(e, "organisation", org.id.as_str()))
        .map(drop)?);
        Ok(())
    }

    /// The organisation with `id`, if any.
    pub async fn organisation(&self, id: &str) -> Result<Option<Organisation>, StoreError> {
        let row: Option<OrgRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT id, name, kind FROM organisations WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await?);
        row.map(organisation).transpose()
    }

    /// Every organisation, by id.
    pub async fn organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        let rows: Vec<OrgRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT id, name, kind FROM organisations ORDER BY id"
        )
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(organisation).collect()
    }

    /// Registers a facility operated by an existing organisation.
    pub async fn create_facility(&self, f: &Facility) -> Result<(), StoreError> {
        on_backend!(&self.backend, |pool| {
            sqlx::query(
            "INSERT INTO facilities (id, name, kind, operator, lat, lon) VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(f.id.as_str())
        .bind(&f.name)
        .bind(f.kind.as_str())
        .bind(f.operator.as_str())
        .bind(f.position.map(|p| p.lat))
        .bind(f.position.map(|p| p.lon))
        .execute(pool)
        .await
        .map_err(|e| exists_error(e, "facility", f.id.as_str())).map(drop)?
        });
        Ok(())
    }

    /// The facility with `id`, if any.
    pub async fn facility(&self, id: &str) -> Result<Option<Facility>, StoreError> {
        type Row = (String, String, String, String, Option<f64>, Option<f64>);
        let row: Option<Row> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT id, name, kind, operator, lat, lon FROM facilities WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await?);
        row.map(|(id, name, kind, operator, lat, lon)| {
            Ok(Facility {
                id: ident(id)?,
                name,
                kind: FacilityKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("facility kind {kind:?}")))?,
                operator: ident(operator)?,
                position: lat.zip(lon).map(|(lat, lon)| Position { lat, lon }),
            })
        })
        .transpose()
    }

    /// Registers a vessel of an existing carrier.
    pub async fn create_vessel(&self, v: &Vessel) -> Result<(), StoreError> {
        let kind = match v.kind {
            VesselKind::RiverRoRo => "river_ro_ro",
            VesselKind::OceanPctc => "ocean_pctc",
        };
        on_backend!(&self.backend, |pool| {
            sqlx::query(
            "INSERT INTO vessels (id, name, kind, carrier, mmsi, imo) VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(v.id.as_str())
        .bind(&v.name)
        .bind(kind)
        .bind(v.carrier.as_str())
        .bind(v.mmsi.map(i64::from))
        .bind(v.imo.map(i64::from))
        .execute(pool)
        .await
        .map_err(|e| exists_error(e, "vessel", v.id.as_str())).map(drop)?
        });
        Ok(())
    }

    /// Registers a voyage of an existing vessel between existing facilities.
    pub async fn create_voyage(&self, v: &Voyage) -> Result<(), StoreError> {
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO voyages (id, vessel, origin, destination) VALUES ($1, $2, $3, $4)"
        )
        .bind(v.id.as_str())
        .bind(v.vessel.as_str())
        .bind(v.origin.as_str())
        .bind(v.destination.as_str())
        .execute(pool)
        .await
        .map_err(|e| exists_error(e, "voyage", v.id.as_str()))
        .map(drop)?);
        Ok(())
    }

    /// The voyage with `id`, if any.
    pub async fn voyage(&self, id: &str) -> Result<Option<Voyage>, StoreError> {
        let row: Option<(String, String, String, String)> = on_backend!(&self.backend, |pool| {
            sqlx::query_as("SELECT id, vessel, origin, destination FROM voyages WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(|(id, vessel, origin, destination)| {
            Ok(Voyage {
                id: ident(id)?,
                vessel: ident(vessel)?,
                origin: ident(origin)?,
                destination: ident(destination)?,
            })
        })
        .transpose()
    }
}
