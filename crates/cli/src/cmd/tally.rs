//! `jianghai tally scan`: the VIN labels in image files, read as the platform reads uploads.

use std::path::PathBuf;

use jianghai_tally::label::{self, ImageLimits, LabelReading};

use super::Outcome;

/// Prints what each image holds; `Findings` when any image yields no VIN (or cannot be read).
pub fn scan(images: &[PathBuf], json: bool) -> anyhow::Result<Outcome> {
    let limits = ImageLimits::default();
    let mut without = 0usize;
    for path in images {
        let name = path.display();
        let result = read_file(path, &limits)
            .and_then(|bytes| label::read(&bytes, &limits).map_err(|e| e.to_string()));
        if !matches!(&result, Ok(r) if !r.vins.is_empty()) {
            without += 1;
        }
        if json {
            println!("{}", json_line(&name.to_string(), &result));
        } else {
            print_text(&name.to_string(), &result);
        }
    }
    Ok(if without == 0 {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

/// The file's bytes, refusing one larger than an upload may be before reading it.
fn read_file(path: &std::path::Path, limits: &ImageLimits) -> Result<Vec<u8>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the file: {e}"))?
        .len();
    if size > limits.max_bytes as u64 {
        return Err(label::ImageError::TooManyBytes {
            bytes: usize::try_from(size).unwrap_or(usize::MAX),
            max: limits.max_bytes,
        }
        .to_string());
    }
    std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))
}

fn print_text(name: &str, result: &Result<LabelReading, String>) {
    match result {
        Err(e) => println!("{name}: error: {e}"),
        Ok(r) if r.vins.is_empty() => {
            println!(
                "{name}: no VIN found ({}×{} px, {} barcode(s) without a valid VIN)",
                r.width,
                r.height,
                r.rejected.len()
            );
            for x in &r.rejected {
                println!(
                    "  {} {:?}: {} (at {},{} {}×{})",
                    x.symbology.as_str(),
                    x.text,
                    x.reason,
                    x.region.x,
                    x.region.y,
                    x.region.width,
                    x.region.height
                );
            }
        }
        Ok(r) => {
            for f in &r.vins {
                println!(
                    "{name}: {} ({}, at {},{} {}×{})",
                    f.vin,
                    f.symbology.as_str(),
                    f.region.x,
                    f.region.y,
                    f.region.width,
                    f.region.height
                );
            }
        }
    }
}

fn json_line(name: &str, result: &Result<LabelReading, String>) -> serde_json::Value {
    match result {
        Ok(r) => serde_json::json!({"image": name, "vins": r.vins, "rejected": r.rejected,
            "width": r.width, "height": r.height}),
        Err(e) => serde_json::json!({"image": name, "error": e}),
    }
}
