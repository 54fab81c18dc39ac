//! Positions projected per second onto the built-in Yangtze centre line.
//!
//! The same million points are written to `$WATERWAY_BENCH_DIR` (default
//! `/tmp/waterway-bench`) as `points.f64` (lon, lat pairs, little-endian f64) together with the
//! km this crate projects them to (`km.f64`), so `benches/shapely_peer.py` times shapely's
//! `LineString.project` / `line_locate_point` on exactly the same input and cross-checks the km.
//! Points: seeded (fastrand, seed 42), uniform in km along the line, up to ±1.5 km off it.

use std::hint::black_box;
use std::io::Write;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jianghai_waterway::{Datums, Position, Waterway};

const N: usize = 1_000_000;

fn points(w: &Waterway) -> Vec<Position> {
    let c = w.centreline();
    let (lo, hi) = (c.downstream_km(), c.upstream_km());
    let mut rng = fastrand::Rng::with_seed(42);
    let mut out = Vec::with_capacity(N);
    while out.len() < N {
        let km = lo + rng.f64() * (hi - lo);
        let Some(on) = c.position_at(km) else {
            continue;
        };
        let off_lat = (rng.f64() - 0.5) * 3.0 / 111.19;
        let off_lon = (rng.f64() - 0.5) * 3.0 / (111.19 * on.lat.to_radians().cos());
        out.push(Position::new(on.lon + off_lon, on.lat + off_lat));
    }
    out
}

fn export(w: &Waterway, pts: &[Position]) -> std::io::Result<()> {
    let dir = std::env::var("WATERWAY_BENCH_DIR").unwrap_or_else(|_| "/tmp/waterway-bench".into());
    std::fs::create_dir_all(&dir)?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(format!("{dir}/points.f64"))?);
    for p in pts {
        f.write_all(&p.lon.to_le_bytes())?;
        f.write_all(&p.lat.to_le_bytes())?;
    }
    f.flush()?;
    let mut k = std::io::BufWriter::new(std::fs::File::create(format!("{dir}/km.f64"))?);
    for p in pts {
        let km = w.project(*p).map_or(f64::NAN, |x| x.km);
        k.write_all(&km.to_le_bytes())?;
    }
    k.flush()
}

fn bench(c: &mut Criterion) {
    let w = match Waterway::yangtze(Datums::default()) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("built-in line failed to load: {e}");
            return;
        }
    };
    let pts = points(&w);
    if let Err(e) = export(&w, &pts) {
        eprintln!("could not export the bench points: {e}");
    }
    let mut g = c.benchmark_group("waterway");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("centreline_project_1m", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for p in &pts {
                if let Some(x) = w.centreline().project(black_box(*p)) {
                    acc += x.km;
                }
            }
            acc
        })
    });
    g.bench_function("waterway_project_1m", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for p in &pts {
                if let Some(x) = w.project(black_box(*p)) {
                    acc += x.km + x.offset_m;
                }
            }
            acc
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
