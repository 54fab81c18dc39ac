//! Fuzz the GeoJSON centre-line reader. Invariant, not just "no panic": any accepted line
//! has at least two vertices, strictly decreasing finite km, valid coordinates, and each
//! vertex projects back onto itself.
#![no_main]

use jianghai_waterway::{Datums, parse_centreline};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(line) = parse_centreline(text, Datums::default()) else { return };
    let vs = line.vertices();
    assert!(vs.len() >= 2);
    for w in vs.windows(2) {
        assert!(w[0].km.is_finite() && w[1].km.is_finite());
        assert!(w[1].km < w[0].km, "chainage not monotone: {} then {}", w[0].km, w[1].km);
    }
    for v in vs {
        assert!(v.position.is_valid());
        let p = line.project(v.position).expect("a vertex is a valid position");
        assert!(p.km.is_finite() && p.offset_m.is_finite());
        assert!(p.km <= line.upstream_km() && p.km >= line.downstream_km());
    }
});
