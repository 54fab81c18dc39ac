//! [`Waterway`]: a centre line and its places, and the full projection of a position.

use crate::centreline::{Centreline, CentrelineError, Position};
use crate::datum::{DatumKm, Datums};
use crate::geojson;
use crate::place::{NearestPlace, Place, PlaceId, Places};

/// A centre line with its places: what the rest of Jianghai projects ship positions onto.
#[derive(Clone, Debug)]
pub struct Waterway {
    centreline: Centreline,
    places: Places,
}

/// Where a position lies on the waterway.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Projection {
    /// Unified km (km above Wusongkou) at the foot point on the centre line.
    pub km: f64,
    /// The same km in the datum of its reach (U above Yichang, M down to Wuhan, L below).
    pub datum_km: DatumKm,
    /// Signed distance from the centre line, metres: positive towards the **right bank** (facing
    /// downstream; south for most of the corridor), negative towards the left bank.
    pub offset_m: f64,
    /// Segment of the centre line the foot point is on.
    pub segment: usize,
    /// The place nearest along the river (distance 0 when the km is inside its extent), or
    /// `None` when the waterway has no places.
    pub nearest_place: Option<NearestPlace>,
}

impl Waterway {
    /// A waterway from any centre line and place list.
    pub fn new(centreline: Centreline, places: Places) -> Waterway {
        Waterway { centreline, places }
    }

    /// The built-in Chongqing → Yangtze mouth centre line and places, with these datum offsets.
    /// The built-in data are checked by the crate's tests, so this fails only if they are broken.
    pub fn yangtze(datums: Datums) -> Result<Waterway, CentrelineError> {
        let centreline = geojson::builtin(datums)?;
        Ok(Waterway {
            centreline,
            places: Places::yangtze(&datums),
        })
    }

    /// A user-supplied centre line (GeoJSON, see [`crate::geojson`]) with the built-in places.
    pub fn from_geojson(text: &str, datums: Datums) -> Result<Waterway, CentrelineError> {
        let centreline = geojson::parse_centreline(text, datums)?;
        Ok(Waterway {
            centreline,
            places: Places::yangtze(&datums),
        })
    }

    /// Replaces the places.
    pub fn with_places(mut self, places: Places) -> Waterway {
        self.places = places;
        self
    }

    /// The centre line.
    pub fn centreline(&self) -> &Centreline {
        &self.centreline
    }

    /// The places.
    pub fn places(&self) -> &Places {
        &self.places
    }

    /// Projects a position: km (unified and datum), signed offset, nearest place.
    /// `None` for an invalid position. Allocation-free.
    pub fn project(&self, p: Position) -> Option<Projection> {
        let lp = self.centreline.project(p)?;
        Some(Projection {
            km: lp.km,
            datum_km: self.centreline.datums().to_datum(lp.km),
            offset_m: lp.offset_m,
            segment: lp.segment,
            nearest_place: self.places.nearest(lp.km),
        })
    }

    /// The place whose km extent contains `km` (most specific first), ignoring the lateral extent.
    pub fn place_at_km(&self, km: f64) -> Option<(PlaceId, &Place)> {
        self.places.at_km(km)
    }

    /// The place a position is in: inside its km extent and within its half-width of the
    /// centre line. This is the check behind "stopped outside ports, anchorages and locks".
    pub fn place_at(&self, p: Position) -> Option<(PlaceId, &Place)> {
        let lp = self.centreline.project(p)?;
        self.places.at(lp.km, lp.offset_m)
    }
}
