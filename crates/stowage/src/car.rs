//! Cars to be stowed, and the car manifest CSV parser.
//!
//! # CSV format
//!
//! A header row names the columns; order is free and unknown columns are ignored.
//!
//! | column          | required | meaning |
//! |-----------------|----------|---------|
//! | `vin`           | yes      | VIN (trimmed, upper-cased; check-digit validation is the caller's job) |
//! | `model`         | yes      | model name, free text |
//! | `length_mm`     | yes      | overall length, integer mm, > 0 |
//! | `width_mm`      | yes      | width without mirrors, integer mm, > 0 |
//! | `height_mm`     | yes      | height, integer mm, > 0 |
//! | `weight_kg`     | yes      | weight as shipped, integer kg, > 0 |
//! | `powertrain`    | yes      | `BEV`, `PHEV`, `HEV`, `EREV` or `ICE` (case-insensitive) |
//! | `soc_pct`       | no       | state of charge 0–100 (integer); empty for ICE/HEV |
//! | `discharge_seq` | no       | discharge order, 1 = discharged first; default 1 |
//! | `discharge`     | no       | discharge group label: port, ocean vessel or bill of lading |
//!
//! ```text
//! vin,model,length_mm,width_mm,height_mm,weight_kg,powertrain,soc_pct,discharge_seq,discharge
//! LS5A3DKE0RA000001,Changan UNI-K,4865,1948,1700,1720,ICE,,1,WGQ/ANJI SINCERITY/BL001
//! LGXCE4CB0RA000002,BYD Seal,4800,1875,1460,2055,BEV,38,2,WGQ/ANJI SINCERITY/BL002
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

/// One car to be stowed. Dimensions are signed so that bad input (zero or negative) can be
/// carried to the planner and explained as [`crate::UnplacedReason::InvalidDimensions`]
/// rather than being lost at the boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Car {
    /// Vehicle identification number.
    pub vin: String,
    /// Model, free text.
    pub model: String,
    /// Overall length, mm.
    pub length_mm: i64,
    /// Width without mirrors, mm.
    pub width_mm: i64,
    /// Height, mm.
    pub height_mm: i64,
    /// Weight as shipped, kg.
    pub weight_kg: i64,
    /// Powertrain category.
    pub powertrain: Powertrain,
    /// State of charge of the traction battery, percent (EVs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soc_pct: Option<u8>,
    /// Where the car leaves the ship.
    pub discharge: Discharge,
}

/// Powertrain categories used by carriers (WWL AFV instructions) plus China's EREV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Powertrain {
    /// Battery electric.
    Bev,
    /// Plug-in hybrid.
    Phev,
    /// Hybrid (not externally charged).
    Hev,
    /// Extended-range electric (增程式).
    Erev,
    /// Internal combustion only.
    Ice,
}

impl Powertrain {
    /// Parses `BEV`, `PHEV`, `HEV`, `EREV`, `ICE` (case-insensitive).
    pub fn parse(s: &str) -> Option<Powertrain> {
        match s.trim().to_ascii_uppercase().as_str() {
            "BEV" => Some(Powertrain::Bev),
            "PHEV" => Some(Powertrain::Phev),
            "HEV" => Some(Powertrain::Hev),
            "EREV" => Some(Powertrain::Erev),
            "ICE" => Some(Powertrain::Ice),
            _ => None,
        }
    }

    /// Upper-case code.
    pub fn code(self) -> &'static str {
        match self {
            Powertrain::Bev => "BEV",
            Powertrain::Phev => "PHEV",
            Powertrain::Hev => "HEV",
            Powertrain::Erev => "EREV",
            Powertrain::Ice => "ICE",
        }
    }
}

impl fmt::Display for Powertrain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A discharge group. Cars with a lower `seq` leave the ship first, so they are loaded last
/// and stowed nearest the ramp (LIFO). Cars with equal `seq` may be mixed freely.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Discharge {
    /// 1 = discharged first.
    pub seq: u32,
    /// Port, ocean vessel or bill of lading, e.g. "WGQ/ANJI SINCERITY/BL001".
    #[serde(default)]
    pub label: String,
}

/// One bad row of a car CSV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RowError {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// What is wrong, naming the column and the value.
    pub message: String,
}

/// The CSV could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// The header lacks a required column.
    #[error("car CSV header lacks required column {0:?}")]
    MissingColumn(&'static str),
    /// The header row could not be read.
    #[error("car CSV header: {0}")]
    Header(String),
}

const REQUIRED: [&str; 7] = [
    "vin",
    "model",
    "length_mm",
    "width_mm",
    "height_mm",
    "weight_kg",
    "powertrain",
];

/// Parses a car manifest. Good rows come back as cars; each bad row as a [`RowError`] with
/// its line number, so one typo does not reject the whole manifest. Duplicate VINs are not
/// rejected here: the planner reports them ([`crate::UnplacedReason::DuplicateVin`]).
///
/// # Errors
/// [`CsvError`] when the header is unreadable or lacks a required column.
pub fn parse_cars_csv(text: &str) -> Result<(Vec<Car>, Vec<RowError>), CsvError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| CsvError::Header(e.to_string()))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let mut idx = [0usize; 7];
    for (i, name) in REQUIRED.iter().enumerate() {
        idx[i] = col(name).ok_or(CsvError::MissingColumn(name))?;
    }
    let soc_ix = col("soc_pct");
    let seq_ix = col("discharge_seq");
    let label_ix = col("discharge");

    let mut cars = Vec::new();
    let mut errors = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(RowError {
                    line,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let get = |i: usize| rec.get(i).unwrap_or("");
        let mut problems: Vec<String> = Vec::new();
        let vin = get(idx[0]).to_ascii_uppercase();
        if vin.is_empty() {
            problems.push("vin is empty".into());
        } else if vin.len() > 32 || !vin.chars().all(|c| c.is_ascii_alphanumeric()) {
            problems.push(format!("vin {vin:?} is not 1–32 letters and digits"));
        }
        let model = get(idx[1]).to_owned();
        let mut dim = |name: &str, i: usize| -> i64 {
            let raw = get(i);
            match raw.parse::<i64>() {
                Ok(v) if v > 0 && v <= 100_000 => v,
                Ok(v) => {
                    problems.push(format!("{name} must be within 1..=100000, got {v}"));
                    0
                }
                Err(_) => {
                    problems.push(format!("{name} {raw:?} is not a whole number"));
                    0
                }
            }
        };
        let length_mm = dim("length_mm", idx[2]);
        let width_mm = dim("width_mm", idx[3]);
        let height_mm = dim("height_mm", idx[4]);
        let weight_kg = dim("weight_kg", idx[5]);
        let pt_raw = get(idx[6]);
        let powertrain = Powertrain::parse(pt_raw);
        if powertrain.is_none() {
            problems.push(format!(
                "powertrain {pt_raw:?} is not one of BEV, PHEV, HEV, EREV, ICE"
            ));
        }
        let soc_pct = match soc_ix.map(get).unwrap_or("") {
            "" => None,
            raw => match raw.parse::<u8>() {
                Ok(v) if v <= 100 => Some(v),
                _ => {
                    problems.push(format!("soc_pct {raw:?} is not a whole number 0–100"));
                    None
                }
            },
        };
        let seq = match seq_ix.map(get).unwrap_or("") {
            "" => 1,
            raw => match raw.parse::<u32>() {
                Ok(v) if v >= 1 => v,
                _ => {
                    problems.push(format!("discharge_seq {raw:?} is not a whole number ≥ 1"));
                    1
                }
            },
        };
        let label = label_ix.map(get).unwrap_or("").to_owned();
        match (problems.is_empty(), powertrain) {
            (true, Some(powertrain)) => cars.push(Car {
                vin,
                model,
                length_mm,
                width_mm,
                height_mm,
                weight_kg,
                powertrain,
                soc_pct,
                discharge: Discharge { seq, label },
            }),
            _ => errors.push(RowError {
                line,
                message: problems.join("; "),
            }),
        }
    }
    Ok((cars, errors))
}

/// Writes cars as CSV in the format [`parse_cars_csv`] reads.
pub fn cars_to_csv(cars: &[Car]) -> String {
    let mut out = String::from(
        "vin,model,length_mm,width_mm,height_mm,weight_kg,powertrain,soc_pct,discharge_seq,discharge\n",
    );
    for c in cars {
        let soc = c.soc_pct.map(|s| s.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            c.vin,
            csv_field(&c.model),
            c.length_mm,
            c.width_mm,
            c.height_mm,
            c.weight_kg,
            c.powertrain,
            soc,
            c.discharge.seq,
            csv_field(&c.discharge.label)
        ));
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_good_rows_and_reports_bad_ones_with_line_numbers() {
        let text = "vin,model,length_mm,width_mm,height_mm,weight_kg,powertrain,soc_pct,discharge_seq,discharge\n\
LS5A3DKE0RA000001,UNI-K,4865,1948,1700,1720,ICE,,1,BL1\n\
LGXCE4CB0RA000002,\"Seal, RWD\",4800,1875,1460,2055,bev,38,2,BL2\n\
BAD1,X,0,1800,1500,1500,ICE,,1,BL1\n\
BAD2,X,4500,1800,1500,1500,DIESEL,,1,BL1\n\
BAD3,X,4500,-3,1500,1500,BEV,120,0,BL1\n";
        let (cars, errors) = parse_cars_csv(text).expect("header ok");
        assert_eq!(cars.len(), 2);
        assert_eq!(cars[1].model, "Seal, RWD");
        assert_eq!(cars[1].powertrain, Powertrain::Bev);
        assert_eq!(cars[1].soc_pct, Some(38));
        assert_eq!(cars[1].discharge.seq, 2);
        assert_eq!(errors.len(), 3);
        assert_eq!(errors[0].line, 4);
        assert!(errors[0].message.contains("length_mm"), "{}", errors[0]);
        assert_eq!(errors[1].line, 5);
        assert!(errors[1].message.contains("DIESEL"));
        assert_eq!(errors[2].line, 6);
        assert!(errors[2].message.contains("width_mm"));
        assert!(errors[2].message.contains("soc_pct"));
        assert!(errors[2].message.contains("discharge_seq"));
    }

    #[test]
    fn missing_column_is_a_file_error() {
        let err = parse_cars_csv("vin,model,length_mm\nA,B,1\n").unwrap_err();
        assert_eq!(err, CsvError::MissingColumn("width_mm"));
    }

    #[test]
    fn optional_columns_default() {
        let (cars, errors) = parse_cars_csv(
            "powertrain,vin,model,length_mm,width_mm,height_mm,weight_kg\nICE,abc123,M,4000,1700,1500,1200\n",
        )
        .expect("ok");
        assert!(errors.is_empty());
        assert_eq!(cars[0].vin, "ABC123");
        assert_eq!(cars[0].discharge.seq, 1);
        assert_eq!(cars[0].soc_pct, None);
    }

    #[test]
    fn csv_round_trips() {
        let cars = crate::generate::generate_cars(50, 7, &crate::generate::GenConfig::default());
        let (back, errors) = parse_cars_csv(&cars_to_csv(&cars)).expect("ok");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(back, cars);
    }
}
