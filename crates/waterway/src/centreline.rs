//! The centre line: vertices with chainage, and projection of positions onto it.
//!
//! A [`Centreline`] is a polyline in WGS 84 (lon, lat) running **downstream**, each vertex carrying
//! its unified km (km above Wusongkou, see [`crate::datum`]). It is built from a few *anchors*
//! (vertices whose km is published) by interpolating the km between anchors in proportion to
//! geodesic length, so an anchor's published km is honoured exactly and the scale may differ
//! from one stretch to the next (published km are channel km, the line is an approximation).
//!
//! Projection finds the nearest segment through an R*-tree (`rstar`) built in an equirectangular
//! frame, then measures the foot point and the offset in a local frame scaled at that segment's
//! latitude, which is accurate to well under a metre at the distances that matter (a few km).

use geo::{Distance, Geodesic, Point};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Line};

use crate::datum::{DatumKm, Datums};

/// Metres per degree of latitude on the mean Earth sphere (R = 6,371,008.8 m).
const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// A WGS 84 position in decimal degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Position {
    /// Longitude, degrees east, −180..=180.
    pub lon: f64,
    /// Latitude, degrees north, −90..=90.
    pub lat: f64,
}

impl Position {
    /// Shorthand constructor; note the GeoJSON order, longitude first.
    pub const fn new(lon: f64, lat: f64) -> Position {
        Position { lon, lat }
    }

    /// True when both coordinates are finite and within range.
    pub fn is_valid(&self) -> bool {
        self.lon.is_finite()
            && self.lat.is_finite()
            && (-180.0..=180.0).contains(&self.lon)
            && (-90.0..=90.0).contains(&self.lat)
    }

    /// Geodesic (WGS 84 ellipsoid, Karney) distance in metres.
    pub fn geodesic_m(&self, other: Position) -> f64 {
        Geodesic.distance(
            Point::new(self.lon, self.lat),
            Point::new(other.lon, other.lat),
        )
    }
}

/// One vertex of the centre line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Vertex {
    /// Where the vertex lies.
    pub position: Position,
    /// Unified km (km above Wusongkou) at this vertex.
    pub km: f64,
}

/// A vertex whose km is given rather than interpolated, with an optional name.
#[derive(Clone, Debug, PartialEq)]
pub struct Anchor {
    /// Index of the vertex in the centre line.
    pub vertex: usize,
    /// Unified km at that vertex.
    pub km: f64,
    /// The km as published, in its own datum, when the source gave one.
    pub published: Option<DatumKm>,
    /// Stable identifier, e.g. `wuhan-bridge` (may be empty).
    pub id: String,
    /// Human-readable name (may be empty).
    pub name: String,
}

/// Why a centre line could not be built. Each variant names the offending vertex or anchor.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CentrelineError {
    /// The text is not JSON, or not GeoJSON.
    #[error("not GeoJSON: {0}")]
    NotGeoJson(String),
    /// The GeoJSON is valid but is not a LineString (or a Feature holding one).
    #[error("expected a LineString or a Feature with a LineString geometry, found {found}")]
    NotALineString {
        /// What was found instead.
        found: String,
    },
    /// A centre line needs at least two vertices.
    #[error("a centre line needs at least 2 vertices, found {found}")]
    TooFewVertices {
        /// How many there were.
        found: usize,
    },
    /// A coordinate is NaN, infinite, or outside −180..180 / −90..90.
    #[error("vertex {vertex}: coordinate ({lon}, {lat}) is not a valid longitude/latitude")]
    BadCoordinate {
        /// Index of the vertex.
        vertex: usize,
        /// The longitude given.
        lon: f64,
        /// The latitude given.
        lat: f64,
    },
    /// Two consecutive vertices coincide, so the km between them is undefined.
    #[error("vertex {vertex} repeats the previous vertex")]
    RepeatedVertex {
        /// Index of the second of the two vertices.
        vertex: usize,
    },
    /// No km could be found: no `km` array, no `anchors`, no third coordinate.
    #[error(
        "no chainage: give a `km` array property, an `anchors` property, or a km as each vertex's third coordinate"
    )]
    MissingKm,
    /// A km property is malformed (wrong length, not a number, unknown datum, bad vertex index…).
    #[error("bad km property: {0}")]
    BadKm(String),
    /// A km is NaN or infinite.
    #[error("vertex {vertex}: km {km} is not finite")]
    NonFiniteKm {
        /// Index of the vertex (or anchor vertex).
        vertex: usize,
        /// The value found.
        km: f64,
    },
    /// The km do not change strictly in one direction along the line.
    #[error("km not monotone at vertex {vertex}: {previous} then {km}")]
    NotMonotone {
        /// Index of the vertex where the direction broke.
        vertex: usize,
        /// km at the previous vertex (or anchor).
        previous: f64,
        /// km at this vertex (or anchor).
        km: f64,
    },
}

/// Where a position falls on the centre line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineProjection {
    /// Unified km at the foot point.
    pub km: f64,
    /// Signed distance from the centre line in metres: **positive towards the right bank**
    /// (右岸, the bank on your right when facing downstream; south for the east-flowing Yangtze),
    /// negative towards the left bank (左岸). Beyond either end of the line it is the distance to
    /// the end vertex, signed by side.
    pub offset_m: f64,
    /// Index of the segment (vertex `segment` to `segment + 1`).
    pub segment: usize,
    /// Where along that segment the foot point lies, 0..=1.
    pub t: f64,
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    /// Metres per degree of longitude in the index frame.
    kx: f64,
}

impl Frame {
    fn xy(&self, p: Position) -> [f64; 2] {
        [p.lon * self.kx, p.lat * M_PER_DEG]
    }
}

type Segment = GeomWithData<Line<[f64; 2]>, u32>;

/// A river centre line with chainage.
///
/// **Invariant:** chainage is monotone along the centre line: vertices run downstream and their
/// unified km strictly decrease from the first vertex to the last. Every constructor checks it
/// (a line given upstream-first is reversed), so `km` can be binary-searched and a position
/// further downstream always projects to a smaller km.
#[derive(Clone, Debug)]
pub struct Centreline {
    vertices: Vec<Vertex>,
    /// Metres per degree of longitude at each segment's mid latitude.
    seg_kx: Vec<f64>,
    anchors: Vec<Anchor>,
    index: RTree<Segment>,
    frame: Frame,
    datums: Datums,
}

impl Centreline {
    /// Builds a centre line from vertices that already carry their km. The km must be strictly
    /// monotone (either direction; an increasing line is reversed to run downstream).
    pub fn from_vertices(
        vertices: Vec<Vertex>,
        anchors: Vec<Anchor>,
        datums: Datums,
    ) -> Result<Centreline, CentrelineError> {
        check_positions(vertices.iter().map(|v| v.position))?;
        for (i, v) in vertices.iter().enumerate() {
            if !v.km.is_finite() {
                return Err(CentrelineError::NonFiniteKm {
                    vertex: i,
                    km: v.km,
                });
            }
        }
        if let Some(a) = anchors.iter().find(|a| a.vertex >= vertices.len()) {
            return Err(CentrelineError::BadKm(format!(
                "anchor points at vertex {} but the line has {} vertices",
                a.vertex,
                vertices.len()
            )));
        }
        let increasing = vertices[1].km > vertices[0].km;
        for i in 1..vertices.len() {
            let (prev, km) = (vertices[i - 1].km, vertices[i].km);
            let ok = if increasing { km > prev } else { km < prev };
            if !ok {
                return Err(CentrelineError::NotMonotone {
                    vertex: i,
                    previous: prev,
                    km,
                });
            }
        }
        let mut vertices = vertices;
        let mut anchors = anchors;
        if increasing {
            let n = vertices.len();
            vertices.reverse();
            for a in &mut anchors {
                a.vertex = n - 1 - a.vertex.min(n - 1);
            }
            anchors.reverse();
        }
        Ok(Centreline::assemble(vertices, anchors, datums))
    }

    /// Builds a centre line from positions and anchors (vertices with a known km). The km of
    /// every other vertex is interpolated between the neighbouring anchors in proportion to
    /// geodesic length; before the first and after the last anchor it is extrapolated at one km
    /// per geodesic km. Anchors must be at strictly increasing vertex indices with strictly
    /// monotone km; there must be at least one.
    pub fn from_anchors(
        positions: Vec<Position>,
        anchors: Vec<Anchor>,
        datums: Datums,
    ) -> Result<Centreline, CentrelineError> {
        check_positions(positions.iter().copied())?;
        if anchors.is_empty() {
            return Err(CentrelineError::MissingKm);
        }
        let n = positions.len();
        for (j, a) in anchors.iter().enumerate() {
            if a.vertex >= n {
                return Err(CentrelineError::BadKm(format!(
                    "anchor {j} points at vertex {} but the line has {n} vertices",
                    a.vertex
                )));
            }
            if !a.km.is_finite() {
                return Err(CentrelineError::NonFiniteKm {
                    vertex: a.vertex,
                    km: a.km,
                });
            }
            if j > 0 && a.vertex <= anchors[j - 1].vertex {
                return Err(CentrelineError::BadKm(format!(
                    "anchor {j} (vertex {}) is not after anchor {} (vertex {})",
                    a.vertex,
                    j - 1,
                    anchors[j - 1].vertex
                )));
            }
        }
        // Cumulative geodesic length in km.
        let mut s = Vec::with_capacity(n);
        s.push(0.0);
        for w in positions.windows(2) {
            let last = s.last().copied().unwrap_or(0.0);
            s.push(last + w[0].geodesic_m(w[1]) / 1000.0);
        }
        // Direction: km decrease downstream unless the anchors say otherwise.
        let sign = match anchors.len() {
            1 => -1.0,
            _ => {
                if anchors[1].km > anchors[0].km {
                    1.0
                } else {
                    -1.0
                }
            }
        };
        for j in 1..anchors.len() {
            let (p, a) = (&anchors[j - 1], &anchors[j]);
            let ok = if sign > 0.0 { a.km > p.km } else { a.km < p.km };
            if !ok {
                return Err(CentrelineError::NotMonotone {
                    vertex: a.vertex,
                    previous: p.km,
                    km: a.km,
                });
            }
        }
        let mut km = vec![0.0; n];
        let first = &anchors[0];
        for i in 0..=first.vertex {
            km[i] = first.km - sign * (s[first.vertex] - s[i]);
        }
        for w in anchors.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let span = s[b.vertex] - s[a.vertex];
            for i in a.vertex..=b.vertex {
                let f = if span > 0.0 {
                    (s[i] - s[a.vertex]) / span
                } else {
                    0.0
                };
                km[i] = a.km + f * (b.km - a.km);
            }
            // Anchors are honoured exactly, free of rounding in the fraction.
            km[a.vertex] = a.km;
            km[b.vertex] = b.km;
        }
        let last = &anchors[anchors.len() - 1];
        for i in last.vertex..n {
            km[i] = last.km + sign * (s[i] - s[last.vertex]);
        }
        let vertices = positions
            .into_iter()
            .zip(km)
            .map(|(position, km)| Vertex { position, km })
            .collect();
        Centreline::from_vertices(vertices, anchors, datums)
    }

    fn assemble(vertices: Vec<Vertex>, anchors: Vec<Anchor>, datums: Datums) -> Centreline {
        let (lat_min, lat_max) = vertices.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| {
            (lo.min(v.position.lat), hi.max(v.position.lat))
        });
        let frame = Frame {
            kx: M_PER_DEG * ((lat_min + lat_max) / 2.0).to_radians().cos(),
        };
        let seg_kx = vertices
            .windows(2)
            .map(|w| {
                let lat = (w[0].position.lat + w[1].position.lat) / 2.0;
                M_PER_DEG * lat.to_radians().cos()
            })
            .collect();
        let segments = vertices
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let line = Line::new(frame.xy(w[0].position), frame.xy(w[1].position));
                // Lines are far shorter than u32::MAX vertices; saturate rather than wrap.
                GeomWithData::new(line, u32::try_from(i).unwrap_or(u32::MAX))
            })
            .collect();
        Centreline {
            vertices,
            seg_kx,
            anchors,
            index: RTree::bulk_load(segments),
            frame,
            datums,
        }
    }

    /// The vertices, downstream order, km strictly decreasing.
    pub fn vertices(&self) -> &[Vertex] {
        &self.vertices
    }

    /// The anchors (vertices with a given km), downstream order.
    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    /// The anchor with this id, if any.
    pub fn anchor(&self, id: &str) -> Option<&Anchor> {
        self.anchors.iter().find(|a| a.id == id)
    }

    /// The datum offsets this line converts with.
    pub fn datums(&self) -> &Datums {
        &self.datums
    }

    /// Unified km at the upstream end.
    pub fn upstream_km(&self) -> f64 {
        self.vertices.first().map_or(0.0, |v| v.km)
    }

    /// Unified km at the downstream end.
    pub fn downstream_km(&self) -> f64 {
        self.vertices.last().map_or(0.0, |v| v.km)
    }

    /// Geodesic length of the polyline in km (not the chainage span, which follows published km).
    pub fn length_km(&self) -> f64 {
        self.vertices
            .windows(2)
            .map(|w| w[0].position.geodesic_m(w[1].position) / 1000.0)
            .sum()
    }

    /// Converts a unified km to the datum of its reach.
    pub fn to_datum(&self, km: f64) -> DatumKm {
        self.datums.to_datum(km)
    }

    /// The point on the centre line at a unified km, or `None` outside the line's km range
    /// (or for a non-finite km). Linear in lon/lat within a segment.
    pub fn position_at(&self, km: f64) -> Option<Position> {
        if !km.is_finite() || km > self.upstream_km() || km < self.downstream_km() {
            return None;
        }
        // First vertex whose km is <= the target (km decrease along the line).
        let j = self.vertices.partition_point(|v| v.km > km);
        if j == 0 {
            return self.vertices.first().map(|v| v.position);
        }
        let (a, b) = (self.vertices[j - 1], *self.vertices.get(j)?);
        let t = (a.km - km) / (a.km - b.km);
        Some(Position::new(
            a.position.lon + t * (b.position.lon - a.position.lon),
            a.position.lat + t * (b.position.lat - a.position.lat),
        ))
    }

    /// Projects a position onto the centre line: km at the foot point and signed offset.
    /// Returns `None` for an invalid position (NaN, out of range). Allocation-free.
    pub fn project(&self, p: Position) -> Option<LineProjection> {
        if !p.is_valid() {
            return None;
        }
        let q = self.frame.xy(p);
        let seg = self.index.nearest_neighbor(&q)?;
        let i = seg.data as usize;
        let (a, b) = (self.vertices.get(i)?, self.vertices.get(i + 1)?);
        let kx = *self.seg_kx.get(i)?;
        // Local frame with the query point at the origin, metres.
        let ax = (a.position.lon - p.lon) * kx;
        let ay = (a.position.lat - p.lat) * M_PER_DEG;
        let dx = (b.position.lon - a.position.lon) * kx;
        let dy = (b.position.lat - a.position.lat) * M_PER_DEG;
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (cx, cy) = (ax + t * dx, ay + t * dy);
        let dist = cx.hypot(cy);
        // cross(ab, ap) > 0: the point is left of the downstream direction, i.e. the left bank.
        let cross = dx * (-ay) - dy * (-ax);
        let offset_m = if cross > 0.0 { -dist } else { dist };
        Some(LineProjection {
            km: a.km + t * (b.km - a.km),
            offset_m,
            segment: i,
            t,
        })
    }
}

fn check_positions(ps: impl Iterator<Item = Position>) -> Result<(), CentrelineError> {
    let mut n = 0;
    let mut prev: Option<Position> = None;
    for (i, p) in ps.enumerate() {
        if !p.is_valid() {
            return Err(CentrelineError::BadCoordinate {
                vertex: i,
                lon: p.lon,
                lat: p.lat,
            });
        }
        if prev == Some(p) {
            return Err(CentrelineError::RepeatedVertex { vertex: i });
        }
        prev = Some(p);
        n += 1;
    }
    if n < 2 {
        return Err(CentrelineError::TooFewVertices { found: n });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(vertex: usize, km: f64) -> Anchor {
        Anchor {
            vertex,
            km,
            published: None,
            id: String::new(),
            name: String::new(),
        }
    }

    /// A straight west→east line along 30°N, 0.1° per segment, anchored 100 → 0 km.
    fn straight() -> Centreline {
        let ps = (0..=10)
            .map(|i| Position::new(110.0 + 0.1 * f64::from(i), 30.0))
            .collect();
        Centreline::from_anchors(
            ps,
            vec![anchor(0, 100.0), anchor(10, 0.0)],
            Datums::default(),
        )
        .unwrap()
    }

    #[test]
    fn anchors_are_exact_and_interpolation_is_by_length() {
        let c = straight();
        assert_eq!(c.vertices()[0].km, 100.0);
        assert_eq!(c.vertices()[10].km, 0.0);
        // Equal segment lengths on a parallel: km fall in equal steps.
        for (i, v) in c.vertices().iter().enumerate() {
            assert!(
                (v.km - (100.0 - 10.0 * i as f64)).abs() < 1e-9,
                "{i}: {}",
                v.km
            );
        }
    }

    #[test]
    fn offsets_are_signed_right_bank_positive() {
        let c = straight();
        // Flowing east, the right bank is south.
        let south = c.project(Position::new(110.55, 29.99)).unwrap();
        let north = c.project(Position::new(110.55, 30.01)).unwrap();
        assert!(south.offset_m > 0.0 && north.offset_m < 0.0);
        // 0.01° of latitude ≈ 1,112 m.
        assert!((south.offset_m - 1111.9).abs() < 2.0, "{}", south.offset_m);
        assert!((south.km - 45.0).abs() < 0.01, "{}", south.km);
    }

    #[test]
    fn upstream_first_lines_are_reversed() {
        let ps: Vec<_> = (0..=10)
            .map(|i| Position::new(110.0 + 0.1 * f64::from(i), 30.0))
            .collect();
        let c = Centreline::from_anchors(
            ps,
            vec![anchor(0, 0.0), anchor(10, 100.0)],
            Datums::default(),
        )
        .unwrap();
        assert_eq!(c.upstream_km(), 100.0);
        assert_eq!(c.vertices()[0].position, Position::new(111.0, 30.0));
        assert_eq!(c.anchors()[0].vertex, 0);
        assert_eq!(c.anchors()[0].km, 100.0);
        // Flowing west now: south is the left bank.
        assert!(c.project(Position::new(110.55, 29.99)).unwrap().offset_m < 0.0);
    }

    #[test]
    fn extrapolates_beyond_the_outer_anchors_at_unit_scale() {
        let ps: Vec<_> = (0..=10)
            .map(|i| Position::new(110.0 + 0.1 * f64::from(i), 30.0))
            .collect();
        let seg_km = ps[0].geodesic_m(ps[1]) / 1000.0;
        let c = Centreline::from_anchors(
            ps,
            vec![anchor(2, 80.0), anchor(8, 20.0)],
            Datums::default(),
        )
        .unwrap();
        assert!((c.vertices()[0].km - (80.0 + 2.0 * seg_km)).abs() < 1e-9);
        assert!((c.vertices()[10].km - (20.0 - 2.0 * seg_km)).abs() < 1e-9);
    }

    #[test]
    fn position_at_inverts_projection_on_the_line() {
        let c = straight();
        let p = c.position_at(37.5).unwrap();
        assert!((c.project(p).unwrap().km - 37.5).abs() < 1e-6);
        assert!(c.position_at(100.1).is_none());
        assert!(c.position_at(f64::NAN).is_none());
        assert_eq!(c.position_at(100.0), Some(Position::new(110.0, 30.0)));
    }

    #[test]
    fn invalid_positions_do_not_project() {
        let c = straight();
        assert!(c.project(Position::new(f64::NAN, 30.0)).is_none());
        assert!(c.project(Position::new(181.0, 30.0)).is_none());
    }

    #[test]
    fn bad_vertices_are_rejected_with_their_index() {
        let d = Datums::default();
        let v = |lon: f64, km: f64| Vertex {
            position: Position::new(lon, 30.0),
            km,
        };
        assert_eq!(
            Centreline::from_vertices(vec![v(110.0, 5.0)], vec![], d).unwrap_err(),
            CentrelineError::TooFewVertices { found: 1 }
        );
        assert_eq!(
            Centreline::from_vertices(vec![v(110.0, 5.0), v(110.1, 4.0), v(110.2, 4.5)], vec![], d)
                .unwrap_err(),
            CentrelineError::NotMonotone {
                vertex: 2,
                previous: 4.0,
                km: 4.5
            }
        );
        assert_eq!(
            Centreline::from_vertices(vec![v(110.0, 5.0), v(110.0, 4.0)], vec![], d).unwrap_err(),
            CentrelineError::RepeatedVertex { vertex: 1 }
        );
        assert!(matches!(
            Centreline::from_vertices(vec![v(110.0, 5.0), v(110.1, f64::INFINITY)], vec![], d),
            Err(CentrelineError::NonFiniteKm { vertex: 1, .. })
        ));
    }
}
