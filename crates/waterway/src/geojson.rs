//! Reading a centre line from GeoJSON.
//!
//! # Accepted format
//!
//! The input is a GeoJSON **`LineString` geometry**, or a **`Feature`** whose geometry is one
//! (a `FeatureCollection` is refused: say which line you mean). Coordinates are WGS 84
//! `[lon, lat]` or `[lon, lat, km]`. The vertices may run downstream or upstream; the line is
//! stored downstream. Chainage is unified km (km above Wusongkou), taken from the first of
//! these that is present:
//!
//! 1. `properties.km`: an array of numbers, one per vertex (unified km);
//! 2. `properties.anchors`: an array of objects `{"vertex": <index>, "km": <number>}` with optional
//!    `"datum": "U" | "M" | "L"` (then `km` is in that datum and converted with the [`Datums`]),
//!    `"id"` and `"name"`. The km of the other vertices is interpolated between anchors by geodesic
//!    length (and extrapolated at unit scale beyond the outer anchors), so anchors are exact;
//! 3. a third coordinate on **every** vertex, read as unified km (a Z or M value).
//!
//! Whatever the source, the km must change strictly in one direction along the line. Example:
//!
//! ```json
//! {"type": "Feature",
//!  "properties": {"anchors": [{"vertex": 0, "datum": "U", "km": 660, "id": "chaotianmen"},
//!                             {"vertex": 2, "datum": "U", "km": 630}]},
//!  "geometry": {"type": "LineString",
//!               "coordinates": [[106.588, 29.566], [106.615, 29.615], [106.80, 29.64]]}}
//! ```

use geojson::{GeoJson, GeometryValue, JsonObject};
use serde_json::Value;

use crate::centreline::{Anchor, Centreline, CentrelineError, Position, Vertex};
use crate::datum::{Datum, DatumKm, Datums};

/// The built-in Chongqing → Yangtze mouth centre line (see `data/yangtze-centreline.geojson`).
pub(crate) const YANGTZE_GEOJSON: &str = include_str!("../data/yangtze-centreline.geojson");

/// Parses a centre line from GeoJSON text in the format described in the module docs.
pub fn parse_centreline(text: &str, datums: Datums) -> Result<Centreline, CentrelineError> {
    let gj: GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| CentrelineError::NotGeoJson(e.to_string()))?;
    let (geometry, properties) = match gj {
        GeoJson::Geometry(g) => (g, None),
        GeoJson::Feature(f) => match f.geometry {
            Some(g) => (g, f.properties),
            None => {
                return Err(CentrelineError::NotALineString {
                    found: "a Feature without geometry".into(),
                });
            }
        },
        GeoJson::FeatureCollection(_) => {
            return Err(CentrelineError::NotALineString {
                found: "a FeatureCollection".into(),
            });
        }
    };
    let coords = match geometry.value {
        GeometryValue::LineString { coordinates } => coordinates,
        other => {
            return Err(CentrelineError::NotALineString {
                found: other.type_name().to_string(),
            });
        }
    };
    let mut positions = Vec::with_capacity(coords.len());
    let mut z = Vec::with_capacity(coords.len());
    for (i, c) in coords.iter().enumerate() {
        let s = c.as_slice();
        let (lon, lat) = match s {
            [lon, lat, ..] => (*lon, *lat),
            _ => {
                return Err(CentrelineError::BadKm(format!(
                    "vertex {i} has {} coordinates, expected 2 or 3",
                    s.len()
                )));
            }
        };
        positions.push(Position::new(lon, lat));
        z.push(s.get(2).copied());
    }
    if positions.len() < 2 {
        return Err(CentrelineError::TooFewVertices {
            found: positions.len(),
        });
    }
    let props = properties.unwrap_or_default();
    if let Some(km) = props.get("km") {
        let km = km_array(km, positions.len())?;
        let vertices = positions
            .into_iter()
            .zip(km)
            .map(|(position, km)| Vertex { position, km })
            .collect();
        return Centreline::from_vertices(vertices, Vec::new(), datums);
    }
    if let Some(anchors) = props.get("anchors") {
        let anchors = anchor_list(anchors, &datums)?;
        return Centreline::from_anchors(positions, anchors, datums);
    }
    if z.iter().all(Option::is_some) {
        let vertices = positions
            .into_iter()
            .zip(z)
            .map(|(position, km)| Vertex {
                position,
                km: km.unwrap_or(f64::NAN),
            })
            .collect();
        return Centreline::from_vertices(vertices, Vec::new(), datums);
    }
    Err(CentrelineError::MissingKm)
}

/// The built-in Yangtze centre line with the given datum offsets.
pub(crate) fn builtin(datums: Datums) -> Result<Centreline, CentrelineError> {
    parse_centreline(YANGTZE_GEOJSON, datums)
}

fn km_array(v: &Value, n: usize) -> Result<Vec<f64>, CentrelineError> {
    let arr = v
        .as_array()
        .ok_or_else(|| CentrelineError::BadKm("`km` must be an array of numbers".into()))?;
    if arr.len() != n {
        return Err(CentrelineError::BadKm(format!(
            "`km` has {} values for {n} vertices",
            arr.len()
        )));
    }
    arr.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64()
                .ok_or_else(|| CentrelineError::BadKm(format!("`km[{i}]` is not a number")))
        })
        .collect()
}

fn anchor_list(v: &Value, datums: &Datums) -> Result<Vec<Anchor>, CentrelineError> {
    let arr = v
        .as_array()
        .ok_or_else(|| CentrelineError::BadKm("`anchors` must be an array".into()))?;
    let mut out = Vec::with_capacity(arr.len());
    for (j, a) in arr.iter().enumerate() {
        let obj: &JsonObject = a
            .as_object()
            .ok_or_else(|| CentrelineError::BadKm(format!("anchor {j} is not an object")))?;
        let vertex = obj
            .get("vertex")
            .and_then(Value::as_u64)
            .and_then(|x| usize::try_from(x).ok())
            .ok_or_else(|| {
                CentrelineError::BadKm(format!(
                    "anchor {j}: `vertex` must be a non-negative integer"
                ))
            })?;
        let text = |key: &str| {
            obj.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (km, published) = match obj.get("km") {
            None | Some(Value::Null) => continue, // a named point without a km: not an anchor
            Some(k) => {
                let km = k.as_f64().ok_or_else(|| {
                    CentrelineError::BadKm(format!("anchor {j}: `km` is not a number"))
                })?;
                match obj.get("datum").and_then(Value::as_str) {
                    None => (km, None),
                    Some(d) => {
                        let datum = Datum::parse(d).ok_or_else(|| {
                            CentrelineError::BadKm(format!("anchor {j}: unknown datum {d:?}"))
                        })?;
                        let dk = DatumKm::new(datum, km);
                        (datums.to_unified(dk), Some(dk))
                    }
                }
            }
        };
        out.push(Anchor {
            vertex,
            km,
            published,
            id: text("id"),
            name: text("name"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Centreline, CentrelineError> {
        parse_centreline(s, Datums::default())
    }

    #[test]
    fn accepts_a_km_array() {
        let c = parse(
            r#"{"type":"Feature","properties":{"km":[10,5,0]},
            "geometry":{"type":"LineString","coordinates":[[110,30],[110.05,30],[110.1,30]]}}"#,
        )
        .unwrap();
        assert_eq!(
            c.vertices().iter().map(|v| v.km).collect::<Vec<_>>(),
            vec![10.0, 5.0, 0.0]
        );
    }

    #[test]
    fn accepts_anchors_in_any_datum() {
        let c = parse(r#"{"type":"Feature","properties":{"anchors":[
              {"vertex":0,"datum":"U","km":660,"id":"chaotianmen"},{"vertex":2,"datum":"U","km":630}]},
            "geometry":{"type":"LineString","coordinates":[[106.588,29.566],[106.615,29.615],[106.80,29.64]]}}"#)
        .unwrap();
        assert_eq!(c.upstream_km(), 2326.0);
        assert_eq!(c.downstream_km(), 2296.0);
        assert_eq!(
            c.anchor("chaotianmen").unwrap().published,
            Some(DatumKm::new(Datum::Upper, 660.0))
        );
    }

    #[test]
    fn accepts_km_as_third_coordinate_and_upstream_order() {
        let c = parse(
            r#"{"type":"LineString","coordinates":[[110.1,30,0],[110.05,30,5],[110,30,10]]}"#,
        )
        .unwrap();
        assert_eq!(c.upstream_km(), 10.0);
        assert_eq!(c.vertices()[0].position, Position::new(110.0, 30.0));
    }

    #[test]
    fn bad_inputs_give_clear_errors() {
        let cases: &[(&str, &str)] = &[
            ("not json", "not GeoJSON"),
            (r#"{"type":"Point","coordinates":[110,30]}"#, "found Point"),
            (
                r#"{"type":"FeatureCollection","features":[]}"#,
                "found a FeatureCollection",
            ),
            (
                r#"{"type":"Feature","properties":{},"geometry":null}"#,
                "without geometry",
            ),
            (
                r#"{"type":"LineString","coordinates":[[110,30,1]]}"#,
                "at least 2 vertices, found 1",
            ),
            (
                r#"{"type":"LineString","coordinates":[[110,30],[111,30]]}"#,
                "no chainage",
            ),
            (
                r#"{"type":"LineString","coordinates":[[110,30,1],[111,30,2],[112,30,1.5]]}"#,
                "not monotone at vertex 2",
            ),
            (
                r#"{"type":"LineString","coordinates":[[110,30,1],[200,30,2]]}"#,
                "vertex 1: coordinate (200, 30)",
            ),
            (
                r#"{"type":"LineString","coordinates":[[110,95,1],[111,30,2]]}"#,
                "vertex 0: coordinate",
            ),
            (
                r#"{"type":"Feature","properties":{"km":[1,2,3]},"geometry":{"type":"LineString","coordinates":[[110,30],[111,30]]}}"#,
                "3 values for 2 vertices",
            ),
            (
                r#"{"type":"Feature","properties":{"km":[1,"x"]},"geometry":{"type":"LineString","coordinates":[[110,30],[111,30]]}}"#,
                "`km[1]` is not a number",
            ),
            (
                r#"{"type":"Feature","properties":{"anchors":[{"vertex":0,"km":5,"datum":"Q"}]},"geometry":{"type":"LineString","coordinates":[[110,30],[111,30]]}}"#,
                "unknown datum",
            ),
            (
                r#"{"type":"Feature","properties":{"anchors":[{"vertex":7,"km":5}]},"geometry":{"type":"LineString","coordinates":[[110,30],[111,30]]}}"#,
                "points at vertex 7",
            ),
            (
                r#"{"type":"Feature","properties":{"anchors":[{"vertex":1,"km":5},{"vertex":0,"km":9}]},"geometry":{"type":"LineString","coordinates":[[110,30],[111,30]]}}"#,
                "is not after anchor 0",
            ),
            (
                r#"{"type":"Feature","properties":{"anchors":[{"vertex":0,"km":5},{"vertex":1,"km":9},{"vertex":2,"km":7}]},"geometry":{"type":"LineString","coordinates":[[110,30],[111,30],[112,30]]}}"#,
                "not monotone",
            ),
            (
                r#"{"type":"Feature","properties":{"anchors":[]},"geometry":{"type":"LineString","coordinates":[[110,30],[111,30]]}}"#,
                "no chainage",
            ),
            (
                r#"{"type":"LineString","coordinates":[[110,30,1],[110,30,2]]}"#,
                "repeats the previous vertex",
            ),
            (
                r#"{"type":"LineString","coordinates":[[110],[111,30,2]]}"#,
                "vertex 0 has 1 coordinates",
            ),
        ];
        for (input, want) in cases {
            let err = parse(input).expect_err(input).to_string();
            assert!(
                err.contains(want),
                "{input}\n  gave {err:?}\n  want {want:?}"
            );
        }
    }

    #[test]
    fn nan_km_is_rejected() {
        // JSON has no NaN literal; a NaN can only come through the Rust API.
        let v = |lon: f64, km: f64| Vertex {
            position: Position::new(lon, 30.0),
            km,
        };
        let e = Centreline::from_vertices(
            vec![v(110.0, f64::NAN), v(111.0, 1.0)],
            vec![],
            Datums::default(),
        );
        assert!(matches!(
            e,
            Err(CentrelineError::NonFiniteKm { vertex: 0, .. })
        ));
    }
}
