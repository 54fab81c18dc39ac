//! Accuracy checks of the built-in Yangtze centre line against the domain brief's waypoints.

use std::sync::OnceLock;

use jianghai_waterway::{Datum, DatumKm, Datums, PlaceKind, Position, Waterway};
use proptest::prelude::*;

/// (id, lat, lon, datum, km) — domain brief §1.1, rows 1–32 (row 33, the mouth, has no km).
const WAYPOINTS: &[(&str, f64, f64, Datum, f64)] = &[
    ("chaotianmen", 29.566, 106.588, Datum::Upper, 660.0),
    ("cuntan", 29.615, 106.615, Datum::Upper, 652.0),
    ("guoyuan", 29.64, 106.80, Datum::Upper, 630.0),
    ("changshou", 29.82, 107.07, Datum::Upper, 590.0),
    ("fuling", 29.72, 107.39, Datum::Upper, 544.0),
    ("fengdu-bridge", 29.87, 107.73, Datum::Upper, 489.0),
    ("zhongxian-xinsheng", 30.33, 108.10, Datum::Upper, 437.0),
    ("wanzhou-fuma-bridge", 30.78, 108.38, Datum::Upper, 323.0),
    ("yunyang-bridge", 30.93, 108.69, Datum::Upper, 291.0),
    ("fengjie-kuimen", 31.02, 109.53, Datum::Upper, 205.0),
    ("wushan", 31.07, 109.88, Datum::Upper, 160.0),
    ("badong", 31.04, 110.34, Datum::Upper, 105.0),
    ("miaohe", 30.85, 110.93, Datum::Upper, 59.0),
    ("three-gorges-dam", 30.83, 111.01, Datum::Upper, 45.0),
    ("gezhouba", 30.74, 111.27, Datum::Upper, 6.0),
    ("yichang-zhongshuimen", 30.69, 111.29, Datum::Upper, 0.0),
    ("jingzhou-shashi", 30.30, 112.25, Datum::Middle, 478.0),
    ("shishou-bridge", 29.73, 112.42, Datum::Middle, 374.0),
    ("chenglingji", 29.43, 113.14, Datum::Middle, 230.0),
    ("wuhan-bridge", 30.55, 114.29, Datum::Middle, 0.0),
    ("yangluo", 30.65, 114.55, Datum::Lower, 1005.0),
    ("jiujiang", 29.73, 116.00, Datum::Lower, 810.0),
    ("anqing-jiyangji", 30.50, 116.95, Datum::Lower, 663.0),
    ("wuhu-bridge", 31.40, 118.33, Datum::Lower, 432.0),
    ("nanjing-bridge", 32.11, 118.74, Datum::Lower, 345.0),
    ("longtan", 32.20, 119.05, Datum::Lower, 310.0),
    ("zhenjiang", 32.22, 119.44, Datum::Lower, 265.0),
    ("jiangyin-bridge", 31.95, 120.27, Datum::Lower, 155.0),
    ("nantong", 31.99, 120.85, Datum::Lower, 110.0),
    ("taicang", 31.65, 121.20, Datum::Lower, 50.0),
    ("wusongkou", 31.40, 121.51, Datum::Lower, 0.0),
    ("waigaoqiao", 31.36, 121.60, Datum::Lower, -7.0),
];

fn yangtze() -> &'static Waterway {
    static W: OnceLock<Waterway> = OnceLock::new();
    W.get_or_init(|| Waterway::yangtze(Datums::default()).expect("built-in line parses"))
}

#[test]
fn every_anchor_vertex_carries_its_published_km_exactly() {
    let w = yangtze();
    let d = Datums::default();
    for &(id, _, _, datum, km) in WAYPOINTS {
        let a = w
            .centreline()
            .anchor(id)
            .unwrap_or_else(|| panic!("anchor {id} missing"));
        assert_eq!(a.published, Some(DatumKm::new(datum, km)), "{id}");
        assert_eq!(a.km, d.to_unified(DatumKm::new(datum, km)), "{id}");
        assert_eq!(w.centreline().vertices()[a.vertex].km, a.km, "{id}");
    }
    assert_eq!(w.centreline().anchors().len(), WAYPOINTS.len());
}

#[test]
fn every_waypoint_projects_to_its_published_km() {
    // The brief's coordinates are good to ±1–3 km; anchors were snapped to the channel, so a
    // waypoint projects within a few km of its published km and within a few km of the line.
    let w = yangtze();
    let d = Datums::default();
    let mut worst = (0.0_f64, "");
    for &(id, lat, lon, datum, km) in WAYPOINTS {
        let p = w.project(Position::new(lon, lat)).unwrap();
        let want = d.to_unified(DatumKm::new(datum, km));
        let err = (p.km - want).abs();
        if err > worst.0 {
            worst = (err, id);
        }
        assert!(err < 5.0, "{id}: projected {:.2}, published {want}", p.km);
        assert!(
            p.offset_m.abs() < 7_000.0,
            "{id}: offset {:.0} m",
            p.offset_m
        );
        assert_eq!(p.datum_km, d.to_datum(p.km), "{id}");
        eprintln!(
            "{id:>22}: published {want:7.1}  projected {:7.2}  error {err:5.2} km  offset {:6.0} m",
            p.km, p.offset_m
        );
    }
    eprintln!("worst waypoint km error: {:.2} km at {}", worst.0, worst.1);
}

#[test]
fn anchor_vertices_project_onto_themselves() {
    let w = yangtze();
    for a in w.centreline().anchors() {
        let v = w.centreline().vertices()[a.vertex];
        let p = w.project(v.position).unwrap();
        assert!((p.km - a.km).abs() < 1e-6, "{}: {} vs {}", a.id, p.km, a.km);
        assert!(p.offset_m.abs() < 1e-3, "{}", a.id);
    }
}

#[test]
fn chainage_spans_the_corridor() {
    let w = yangtze();
    let c = w.centreline();
    assert_eq!(c.upstream_km(), 2326.0); // Chaotianmen U 660
    assert!(
        c.downstream_km() < -40.0 && c.downstream_km() > -60.0,
        "{}",
        c.downstream_km()
    );
    assert!(
        c.vertices().len() > 1_000,
        "densified: {}",
        c.vertices().len()
    );
    // Geodesic length of the line vs the published span: same order, within 20 %.
    let span = c.upstream_km() - c.downstream_km();
    let ratio = c.length_km() / span;
    assert!(
        (0.8..1.2).contains(&ratio),
        "length {:.0} km for {span:.0} km of chainage",
        c.length_km()
    );
}

#[test]
fn points_offset_across_the_line_report_the_offset() {
    // Take the midpoints of long segments (so a bend does not bring another segment closer)
    // and step off at right angles.
    let w = yangtze();
    let c = w.centreline();
    let vs = c.vertices();
    let mut checked = 0;
    for i in (0..vs.len() - 1).step_by(7) {
        let (a, b) = (vs[i].position, vs[i + 1].position);
        if a.geodesic_m(b) < 2_000.0 {
            continue;
        }
        let mid = Position::new((a.lon + b.lon) / 2.0, (a.lat + b.lat) / 2.0);
        let km = (vs[i].km + vs[i + 1].km) / 2.0;
        let kx = 111_194.93 * mid.lat.to_radians().cos();
        let (dx, dy) = ((b.lon - a.lon) * kx, (b.lat - a.lat) * 111_194.93);
        let n = dx.hypot(dy);
        // Unit normal to the right of the downstream direction.
        let (rx, ry) = (dy / n, -dx / n);
        for off in [-200.0, 80.0, 200.0] {
            let p = Position::new(mid.lon + rx * off / kx, mid.lat + ry * off / 111_194.93);
            let got = w.project(p).unwrap();
            if got.segment != i {
                continue; // another stretch of river is nearer (a tight bend); not this test's case
            }
            assert!(
                (got.offset_m - off).abs() < 0.5,
                "segment {i}: offset {off} gave {}",
                got.offset_m
            );
            assert!(
                (got.km - km).abs() < 0.01,
                "segment {i}: km {km} gave {}",
                got.km
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} points checked");
}

#[test]
fn right_bank_is_south_on_the_east_flowing_lower_river() {
    let w = yangtze();
    // Nanjing bridge area: the river flows north-east; Nanjing city is on the right (south) bank.
    let on = w.centreline().position_at(345.0).unwrap();
    let south = w.project(Position::new(on.lon, on.lat - 0.005)).unwrap();
    let north = w.project(Position::new(on.lon, on.lat + 0.005)).unwrap();
    assert!(
        south.offset_m > 0.0 && north.offset_m < 0.0,
        "{} {}",
        south.offset_m,
        north.offset_m
    );
}

#[test]
fn lock_areas_are_found_by_position() {
    let w = yangtze();
    let c = w.centreline();
    let at_lift = c.position_at(1711.0).unwrap();
    assert_eq!(w.place_at(at_lift).unwrap().1.kind, PlaceKind::ShipLift);
    let in_locks = c.position_at(1713.5).unwrap();
    assert_eq!(w.place_at(in_locks).unwrap().1.id, "three-gorges-locks");
    let gezhouba = c.position_at(1672.0).unwrap();
    assert_eq!(w.place_at(gezhouba).unwrap().1.id, "gezhouba-locks");
    // Open river below Wuhan: no place.
    let open = c.position_at(900.0).unwrap();
    assert!(w.place_at(open).is_none());
    assert!(w.place_at_km(900.0).is_none());
}

#[test]
fn custom_datum_offsets_shift_the_upper_reach_only() {
    let d = Datums::new(1670.0, 1040.0).unwrap();
    let w = Waterway::yangtze(d).unwrap();
    assert_eq!(w.centreline().upstream_km(), 2330.0);
    assert_eq!(w.centreline().anchor("wuhan-bridge").unwrap().km, 1040.0);
    let p = w.project(Position::new(106.588, 29.566)).unwrap();
    assert_eq!(p.datum_km.datum, Datum::Upper);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Points sampled along the line, in order, project to decreasing km (the chainage
    /// invariant seen from outside), and each lands within 1 m of where it was sampled.
    #[test]
    fn points_along_the_line_project_monotonically(fs in prop::collection::vec(0.0f64..=1.0, 2..40)) {
        let w = yangtze();
        let c = w.centreline();
        let (lo, hi) = (c.downstream_km(), c.upstream_km());
        let mut kms: Vec<f64> = fs.iter().map(|f| lo + f * (hi - lo)).collect();
        kms.sort_by(|a, b| b.total_cmp(a));
        kms.dedup_by(|a, b| (*a - *b).abs() < 0.01);
        let mut last = f64::INFINITY;
        for km in kms {
            let p = c.position_at(km).unwrap();
            let got = w.project(p).unwrap();
            prop_assert!((got.km - km).abs() < 0.01, "km {} projected to {}", km, got.km);
            prop_assert!(got.km < last);
            prop_assert!(got.offset_m.abs() < 1.0);
            last = got.km;
        }
    }

    /// Any position in the corridor's box projects to a km on the line, with a finite offset
    /// and a nearest place.
    #[test]
    fn projections_stay_in_range(lon in 106.0f64..122.5, lat in 29.0f64..32.8) {
        let w = yangtze();
        let p = w.project(Position::new(lon, lat)).unwrap();
        prop_assert!(p.km <= w.centreline().upstream_km() && p.km >= w.centreline().downstream_km());
        prop_assert!(p.offset_m.is_finite());
        prop_assert!(p.nearest_place.is_some());
    }
}
