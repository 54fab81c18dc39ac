//! VINs validated per second: `Vin::parse` (structure, check digit) and full decoding.
//! The Python peer (vininfo) is timed by `benches/vin_peer.py` on the same corpus.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jianghai_core::Vin;
use std::hint::black_box;

/// The same deterministic corpus `vin_peer.py` reads (written by `--write-corpus`).
pub fn corpus(n: usize) -> Vec<String> {
    const WMIS: [&str; 8] = ["LS5", "LVS", "LLV", "LGX", "LVV", "LRW", "LSJ", "L6T"];
    const LEGAL: &[u8] = b"0123456789ABCDEFGHJKLMNPRSTUVWXYZ";
    let mut rng = fastrand::Rng::with_seed(42);
    (0..n)
        .map(|i| {
            let mut s = String::from(WMIS[i % WMIS.len()]);
            for _ in 3..17 {
                s.push(LEGAL[rng.usize(..LEGAL.len())] as char);
            }
            let vin = Vin::with_check_digit(&s)
                .map(|v| v.to_string())
                .unwrap_or(s);
            // One in ten corrupted at position 9, so both paths are measured.
            if i % 10 == 0 {
                let mut b = vin.into_bytes();
                b[8] = if b[8] == b'1' { b'2' } else { b'1' };
                String::from_utf8(b).unwrap_or_default()
            } else {
                vin
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let vins = corpus(100_000);
    if let Ok(path) = std::env::var("JIANGHAI_VIN_CORPUS_OUT") {
        let _ = std::fs::write(path, vins.join("\n"));
    }
    // Printed so the peer's count can be compared: both must agree on which VINs are valid.
    let valid = vins.iter().filter(|v| Vin::parse(v).is_ok()).count();
    eprintln!("corpus: {} VINs, {valid} valid", vins.len());
    let mut g = c.benchmark_group("vin");
    g.throughput(Throughput::Elements(vins.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            vins.iter()
                .filter(|v| Vin::parse(black_box(v)).is_ok())
                .count()
        })
    });
    g.bench_function("parse+decode", |b| {
        b.iter(|| {
            vins.iter()
                .filter_map(|v| Vin::parse(black_box(v)).ok())
                .filter(|v| v.manufacturer().is_some() && v.model_year(2027).is_some())
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
