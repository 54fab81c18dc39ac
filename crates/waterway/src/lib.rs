//! `jianghai-waterway`: the Yangtze route as data — centre line, chainage, places — and the pure
//! arithmetic on top of it: projection of positions, voyage progress and ETA.
//!
//! # Overview
//!
//! - [`datum`]: the corridor's three river-km datums (upper U above Yichang, middle M above
//!   Wuhan, lower L above Wusongkou) and the **unified km** (km above Wusongkou) everything else
//!   uses; [`Datums`] holds the configurable offsets (Yichang L 1,666, Wuhan L 1,040).
//! - [`centreline`]: [`Centreline`], a downstream polyline whose vertices carry unified km
//!   (monotone by construction), with an R*-tree over its segments for [`Centreline::project`].
//! - [`geojson`]: reads a user's centre line from GeoJSON ([`parse_centreline`]); the built-in
//!   line Chongqing Chaotianmen → Yangtze mouth is `data/yangtze-centreline.geojson`.
//! - [`place`]: ports, anchorages, locks, the ship lift, bridges, control lines ([`Places`]).
//! - [`waterway`]: [`Waterway`] joins a centre line and places; [`Waterway::project`] gives km,
//!   datum km, signed offset and the nearest place.
//! - [`voyage`]: [`voyage::progress`] (km done, km to go, percent).
//! - [`eta`]: [`EtaModel`], section transit-time and lock-wait histories → P50/P90 ETAs.
//! - [`track`]: [`VoyageTracker`], the voyage state machine over position fixes: state
//!   (berthed, under way, at anchor, waiting for a lock, in a lock, moored, stopped), lock
//!   passages, section transits for the ETA model, progress, speed history and ETAs.
//!
//! # Design
//!
//! The crate is pure: no I/O, no clock, no async. Time comes in as an argument
//! ([`eta::Estimate::arrival`]), data come in as `&str` or values, and bad input is an error
//! value, never a panic. Chainage is interpolated between published km by geodesic length, so
//! a published km is honoured exactly at its anchor and the line may be an approximation of the
//! channel without distorting the km the ship's crew and the MSA use.
//!
//! # Example
//!
//! ```
//! use jianghai_waterway::{Datum, Datums, Position, Waterway};
//!
//! let yangtze = Waterway::yangtze(Datums::default()).unwrap();
//! // A ship just off Nanjing Longtan, where a shipboard record read "距吴淞口310".
//! let p = yangtze.project(Position::new(119.0461, 32.1998)).unwrap();
//! assert_eq!(p.datum_km.datum, Datum::Lower);
//! assert!((p.km - 310.0).abs() < 3.0);
//! let near = yangtze.places().get(p.nearest_place.unwrap().place).unwrap();
//! assert_eq!(near.id, "longtan-port");
//!
//! // Progress of a Guoyuan → Waigaoqiao voyage at that point.
//! let guoyuan = yangtze.centreline().anchor("guoyuan").unwrap().km;
//! let prog = jianghai_waterway::voyage::progress(guoyuan, -7.0, p.km).unwrap();
//! assert!(prog.percent > 85.0 && prog.percent < 87.0);
//! ```

pub mod centreline;
pub mod datum;
pub mod eta;
pub mod geojson;
pub mod place;
pub mod track;
pub mod voyage;
pub mod waterway;

pub use centreline::{Anchor, Centreline, CentrelineError, LineProjection, Position, Vertex};
pub use datum::{Datum, DatumKm, Datums};
pub use eta::{Estimate, EtaError, EtaModel};
pub use geojson::parse_centreline;
pub use place::{NearestPlace, Place, PlaceId, PlaceKind, Places};
pub use track::{Fix, NavHint, TrackConfig, TrackEvent, VoyageState, VoyageTracker};
pub use voyage::{Direction, Progress};
pub use waterway::{Projection, Waterway};
