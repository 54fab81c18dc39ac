//! jianghai-waterway.
pub mod centreline;
pub mod datum;
pub mod geojson;
