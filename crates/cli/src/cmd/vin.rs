//! `jianghai vin check`.

use chrono::Datelike;
use jianghai_core::Vin;
use serde_json::json;

use super::Outcome;

pub fn check(inputs: &[String], as_json: bool) -> Outcome {
    // Makers sell next year's models from mid-year on.
    let latest_year = chrono::Utc::now().year() + 1;
    let mut all_valid = true;
    for input in inputs {
        match Vin::parse(input) {
            Ok(vin) => {
                let maker = vin.manufacturer();
                let year = vin.model_year(latest_year);
                if as_json {
                    println!(
                        "{}",
                        json!({
                            "input": input, "valid": true, "vin": vin.as_str(),
                            "wmi": vin.wmi(), "manufacturer": maker.map(|m| m.name),
                            "country": maker.map(|m| m.country),
                            "manufacturerVerified": maker.map(|m| m.verified),
                            "modelYear": year, "plant": vin.plant().to_string(),
                            "serial": vin.serial(),
                        })
                    );
                } else {
                    let maker_text = match maker {
                        Some(m) if m.verified => format!("{} ({})", m.name, m.country),
                        Some(m) => format!("{} ({}, unverified WMI)", m.name, m.country),
                        None => format!("unknown maker (WMI {})", vin.wmi()),
                    };
                    let year_text = year.map_or("model year unknown".to_string(), |y| {
                        format!("model year {y}")
                    });
                    println!("{vin}  valid    {maker_text}, {year_text}");
                }
            }
            Err(e) => {
                all_valid = false;
                if as_json {
                    println!(
                        "{}",
                        json!({ "input": input, "valid": false, "error": e.to_string() })
                    );
                } else {
                    println!("{}  invalid  {e}", input.trim());
                }
            }
        }
    }
    if all_valid {
        Outcome::Ok
    } else {
        Outcome::Findings
    }
}
