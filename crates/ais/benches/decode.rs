//! Sentences decoded per second per core, on one in-memory corpus.
//!
//! Corpus: `JIANGHAI_AIS_BENCH_CORPUS` (a file of AIVDM lines, e.g. the
//! 1,000,000-sentence file from `benches/gen_corpus.py`); without it, a
//! 200,000-sentence mix made with this crate's encoder (seeded), so
//! `cargo bench` always runs. Peers (pyais, gpsdecode) are timed on the same
//! file by `benches/peers/run_peers.sh`; see BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jianghai_ais::message::{
    ClassBPositionReport, Dimensions, Eta, NavigationStatus, PositionReport, StaticVoyageData,
};
use jianghai_ais::nmea::WriteOptions;
use jianghai_ais::{AisText, Decoder, Message, encode, gpsd};

fn corpus() -> String {
    if let Some(path) = std::env::var_os("JIANGHAI_AIS_BENCH_CORPUS") {
        match std::fs::read_to_string(&path) {
            Ok(s) => return s,
            Err(e) => eprintln!("cannot read {path:?}: {e}; using the built-in corpus"),
        }
    }
    let mut state: u64 = 42;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let mut out = String::new();
    let mut count = 0;
    while count < 200_000 {
        let mmsi = 413_000_000 + next(999_999) as u32;
        let lon = Some(106.5 + next(154_000) as f64 / 10_000.0);
        let lat = Some(29.5 + next(27_000) as f64 / 10_000.0);
        let msg = match next(10) {
            0..=4 => Message::Position(PositionReport {
                msg_type: 1,
                repeat: 0,
                mmsi,
                status: NavigationStatus::from_raw(next(9) as u8),
                turn: Some(next(200) as i8 - 100),
                speed: Some(next(150) as f64 / 10.0),
                accuracy: next(2) == 1,
                lon,
                lat,
                course: Some(next(3600) as f64 / 10.0),
                heading: Some(next(360) as u16),
                second: Some(next(60) as u8),
                maneuver: None,
                raim: false,
                radio: next(1 << 19) as u32,
            }),
            5..=7 => Message::ClassBPosition(ClassBPositionReport {
                repeat: 0,
                mmsi,
                reserved: 0,
                speed: Some(next(120) as f64 / 10.0),
                accuracy: false,
                lon,
                lat,
                course: Some(next(3600) as f64 / 10.0),
                heading: None,
                second: Some(next(60) as u8),
                regional: 0,
                cs: true,
                display: false,
                dsc: true,
                band: true,
                msg22: true,
                assigned: false,
                raim: false,
                radio: next(1 << 20) as u32,
            }),
            _ => Message::StaticVoyage(StaticVoyageData {
                repeat: 0,
                mmsi,
                ais_version: 0,
                imo: Some(9_000_000 + next(999_999) as u32),
                callsign: AisText::new("BXYZ").unwrap_or_default(),
                shipname: AisText::new("CHANG AN 7").unwrap_or_default(),
                ship_type: Some(70),
                dimensions: Dimensions {
                    to_bow: 80,
                    to_stern: 20,
                    to_port: 8,
                    to_starboard: 8,
                },
                epfd: 1,
                eta: Eta::default(),
                draught: Some(4.5),
                destination: AisText::new("SHANGHAI").unwrap_or_default(),
                dte: false,
            }),
        };
        let opts = WriteOptions {
            channel: Some(if next(2) == 0 { b'A' } else { b'B' }),
            sequence_id: next(10) as u8,
            ..WriteOptions::default()
        };
        for line in encode(&msg, &opts).unwrap_or_default() {
            out.push_str(&line);
            out.push('\n');
            count += 1;
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let text = corpus();
    let lines: Vec<&str> = text.lines().collect();
    let mut group = c.benchmark_group("ais");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));

    group.bench_function("jianghai_decode", |b| {
        b.iter(|| {
            let mut decoder = Decoder::default();
            let mut n = 0usize;
            for line in &lines {
                if let Ok(Some(d)) = decoder.handle_line(line, Duration::ZERO) {
                    n += usize::from(d.message.mmsi() > 0);
                }
            }
            black_box(n)
        })
    });

    group.bench_function("jianghai_decode_gpsd_json", |b| {
        let mut buf = String::with_capacity(512);
        b.iter(|| {
            let mut decoder = Decoder::default();
            let mut bytes = 0usize;
            for line in &lines {
                if let Ok(Some(d)) = decoder.handle_line(line, Duration::ZERO) {
                    buf.clear();
                    gpsd::write_json(&mut buf, &d.message, Some("stdin"));
                    bytes += buf.len();
                }
            }
            black_box(bytes)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
