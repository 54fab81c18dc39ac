//! Read rate and speed of VIN-label reading, per symbology and distortion.
//!
//! `cargo run --release -p jianghai-tally --features labels --example label_bench -- [N] [DIR]`
//! draws N labels (default 20) per symbology and distortion of `render::SUITE`, photographs
//! them, reads them back and prints the read rate and images per second as a Markdown table.
//! With DIR, it also writes every photo there as PNG plus `expected.csv` (file, VIN), the
//! corpus `benches/zxing_peer.py` reads with zxing-cpp for a ratio on the same images.

use std::time::Instant;

use jianghai_core::Vin;
use jianghai_tally::label;
use jianghai_tally::render::{self, SUITE, SYMBOLOGIES};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let dir = args.get(2).map(std::path::PathBuf::from);
    if let Some(d) = &dir {
        std::fs::create_dir_all(d).expect("corpus directory");
    }
    let mut expected = String::from("file,vin,symbology,distortion\n");
    println!("| symbology | distortion | read | wrong | images/s |");
    println!("|---|---|---|---|---|");
    let (mut total, mut total_ok, mut total_secs) = (0u32, 0u32, 0f64);
    for s in SYMBOLOGIES {
        for (di, d) in SUITE.iter().enumerate() {
            let mut photos = Vec::new();
            for i in 0..n {
                let vin = Vin::with_check_digit(&format!("LS5A3DKE0SC{:06}", 200_000 + i * 7919))
                    .expect("vin");
                let l =
                    render::vin_label(vin.as_str(), s, s == render::SYMBOLOGIES[0]).expect("label");
                let img = render::photograph(&l, *d, u64::from(i) + 1);
                if let Some(dir) = &dir {
                    let name = format!("{}-{di:02}-{i:03}.png", s.as_str());
                    std::fs::write(dir.join(&name), img.png()).expect("write png");
                    expected.push_str(&format!("{name},{vin},{},{}\n", s.as_str(), d.name()));
                }
                photos.push((vin, img));
            }
            let start = Instant::now();
            let (mut ok, mut wrong) = (0, 0);
            for (vin, img) in &photos {
                let r = label::read_luma(&img.pixels, img.width, img.height);
                for f in &r.vins {
                    if f.vin == *vin {
                        ok += 1;
                    } else {
                        wrong += 1;
                    }
                }
            }
            let secs = start.elapsed().as_secs_f64();
            total += n;
            total_ok += ok;
            total_secs += secs;
            println!(
                "| {} | {} | {ok}/{n} ({:.0}%) | {wrong} | {:.1} |",
                s.as_str(),
                d.name(),
                100.0 * f64::from(ok) / f64::from(n),
                f64::from(n) / secs
            );
        }
    }
    println!(
        "\nall: {total_ok}/{total} read ({:.1}%), {:.1} images/s on one thread",
        100.0 * f64::from(total_ok) / f64::from(total),
        f64::from(total) / total_secs
    );
    if let Some(d) = &dir {
        std::fs::write(d.join("expected.csv"), expected).expect("expected.csv");
    }
}
