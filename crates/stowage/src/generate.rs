//! Seeded generator of realistic car lists, for benchmarks, tests and the simulator.
//!
//! Sizes come from `fixtures/vehicle-models.csv` (public figures for 31 export models, copied
//! from the project's shared data set and compiled in). Rows lacking length, width or height
//! are skipped rather than guessed. Where the page gave no curb weight, the weight is
//! **estimated** from the bounding box: 105 kg/m³ for ICE/HEV, 135 kg/m³ for PHEV/EREV and
//! 140 kg/m³ for BEV (inferred from the rows that do give a weight: AITO M5 EV 149, Avatr 12
//! 149, AITO M7 EREV 135, Model Y 135 kg/m³).
//!
//! VINs are synthetic but well formed (17 characters, ISO 3779 check digit): the WMI comes
//! from the model row when it names one, `LS5` for Changan-group brands (domain brief §4),
//! otherwise the placeholder `L00`.

use crate::car::{Car, Discharge, Powertrain};

const MODELS_CSV: &str = include_str!("../fixtures/vehicle-models.csv");

/// One model from the data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// Maker.
    pub maker: String,
    /// Model (trim) name.
    pub model: String,
    /// Powertrain.
    pub powertrain: Powertrain,
    /// Length, mm.
    pub length_mm: i64,
    /// Width, mm.
    pub width_mm: i64,
    /// Height, mm.
    pub height_mm: i64,
    /// Weight, kg (published curb weight, or estimated: see module docs).
    pub weight_kg: i64,
    /// Whether `weight_kg` is an estimate.
    pub weight_estimated: bool,
    /// World manufacturer identifier used for generated VINs.
    pub wmi: String,
}

/// The models with complete dimensions, in file order.
pub fn vehicle_models() -> Vec<ModelSpec> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(MODELS_CSV.as_bytes());
    let mut out = Vec::new();
    for rec in rdr.records().flatten() {
        let get = |i: usize| rec.get(i).unwrap_or("");
        let num = |i: usize| get(i).parse::<i64>().ok().filter(|v| *v > 0);
        let (Some(length_mm), Some(width_mm), Some(height_mm), Some(powertrain)) =
            (num(4), num(5), num(6), Powertrain::parse(get(3)))
        else {
            continue;
        };
        let maker = get(0).to_owned();
        let (weight_kg, weight_estimated) = match num(8) {
            Some(w) => (w, false),
            None => {
                let density = match powertrain {
                    Powertrain::Ice | Powertrain::Hev => 105,
                    Powertrain::Phev | Powertrain::Erev => 135,
                    Powertrain::Bev => 140,
                };
                // mm³ → m³ is 1e-9.
                let kg = (length_mm * width_mm * height_mm * density) / 1_000_000_000;
                (kg, true)
            }
        };
        let wmi = match get(10) {
            "" if ["Changan", "Deepal", "Avatr"].contains(&maker.as_str()) => "LS5".to_owned(),
            "" => "L00".to_owned(),
            w => w.to_owned(),
        };
        out.push(ModelSpec {
            maker,
            model: get(1).to_owned(),
            powertrain,
            length_mm,
            width_mm,
            height_mm,
            weight_kg,
            weight_estimated,
            wmi,
        });
    }
    out
}

/// Generator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Share of plug-in cars (BEV/PHEV/EREV), 0–1. China's 2025 exports were ~37 % NEV by
    /// count and Shanghai's >60 %; 0.45 is the default.
    pub ev_share: f64,
    /// Number of discharge groups (ocean vessels / bills of lading), ≥ 1.
    pub discharge_groups: u32,
    /// EV state of charge is drawn uniformly from this range, percent.
    pub soc_range: (u8, u8),
    /// Share of EVs given an out-of-range SoC (60–90 %), to exercise refusals.
    pub bad_soc_share: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            ev_share: 0.45,
            discharge_groups: 3,
            soc_range: (25, 45),
            bad_soc_share: 0.0,
        }
    }
}

/// `n` cars drawn with a seeded RNG: same `(n, seed, config)`, same cars.
pub fn generate_cars(n: usize, seed: u64, config: &GenConfig) -> Vec<Car> {
    let models = vehicle_models();
    let (evs, ices): (Vec<&ModelSpec>, Vec<&ModelSpec>) = models.iter().partition(|m| {
        matches!(
            m.powertrain,
            Powertrain::Bev | Powertrain::Phev | Powertrain::Erev
        )
    });
    if models.is_empty() {
        return Vec::new();
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let groups = config.discharge_groups.max(1);
    let (lo, hi) = (
        config.soc_range.0.min(config.soc_range.1),
        config.soc_range.0.max(config.soc_range.1),
    );
    (0..n)
        .map(|i| {
            let want_ev = rng.f64() < config.ev_share;
            let pool = if (want_ev && !evs.is_empty()) || ices.is_empty() {
                &evs
            } else {
                &ices
            };
            let m = pool[rng.usize(..pool.len())];
            let is_ev = !matches!(m.powertrain, Powertrain::Ice | Powertrain::Hev);
            let soc_pct = is_ev.then(|| {
                if rng.f64() < config.bad_soc_share {
                    rng.u8(60..=90)
                } else {
                    rng.u8(lo..=hi)
                }
            });
            let seq = rng.u32(1..=groups);
            Car {
                vin: synthetic_vin(&m.wmi, i as u64, seed),
                model: format!("{} {}", m.maker, m.model),
                length_mm: m.length_mm,
                width_mm: m.width_mm,
                height_mm: m.height_mm,
                weight_kg: m.weight_kg,
                powertrain: m.powertrain,
                soc_pct,
                discharge: Discharge {
                    seq,
                    label: format!("WGQ/OCEAN-{seq}/BL{seq:03}"),
                },
            }
        })
        .collect()
}

/// A well-formed VIN: WMI + VDS derived from the seed + check digit + year S (2025) +
/// plant A + 6-digit serial.
fn synthetic_vin(wmi: &str, serial: u64, seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
    let mut v: Vec<u8> = wmi.bytes().take(3).collect();
    while v.len() < 3 {
        v.push(b'0');
    }
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (serial / 1_000_000);
    for _ in 0..5 {
        v.push(ALPHABET[(x % ALPHABET.len() as u64) as usize]);
        x /= ALPHABET.len() as u64;
    }
    v.push(b'0'); // check digit placeholder
    v.push(b'S');
    v.push(b'A');
    v.extend(format!("{:06}", serial % 1_000_000).bytes());
    v[8] = check_digit(&v);
    String::from_utf8(v).unwrap_or_default()
}

/// ISO 3779 / 49 CFR 565 check digit for a 17-character VIN.
fn check_digit(v: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let value = |c: u8| -> u32 {
        match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'H' => u32::from(c - b'A') + 1,
            b'J'..=b'N' => u32::from(c - b'J') + 1,
            b'P' => 7,
            b'R'..=b'Z' => u32::from(c - b'R') + 2,
            _ => 0,
        }
    };
    let sum: u32 = v.iter().zip(WEIGHTS).map(|(&c, w)| value(c) * w).sum();
    match sum % 11 {
        10 => b'X',
        r => b'0' + r as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_load_with_complete_dimensions() {
        let m = vehicle_models();
        assert!(m.len() >= 25, "{}", m.len());
        assert!(m.iter().all(|m| m.length_mm > 3_000 && m.width_mm > 1_500));
        let seal = m
            .iter()
            .find(|m| m.model.starts_with("Seal"))
            .expect("Seal");
        assert_eq!((seal.length_mm, seal.wmi.as_str()), (4_800, "LGX"));
        let m5 = m.iter().find(|m| m.model.starts_with("M5 EV")).expect("M5");
        assert_eq!((m5.weight_kg, m5.weight_estimated), (2_235, false));
    }

    #[test]
    fn generation_is_seeded_and_realistic() {
        let a = generate_cars(600, 42, &GenConfig::default());
        let b = generate_cars(600, 42, &GenConfig::default());
        let c = generate_cars(600, 43, &GenConfig::default());
        assert_eq!(a, b);
        assert_ne!(a, c);
        let evs = a.iter().filter(|c| c.soc_pct.is_some()).count();
        assert!((200..=340).contains(&evs), "{evs} EVs");
        let mut vins: Vec<_> = a.iter().map(|c| c.vin.clone()).collect();
        vins.sort();
        vins.dedup();
        assert_eq!(vins.len(), 600);
    }

    #[test]
    fn vins_have_valid_check_digits() {
        // Known-good example VIN from 49 CFR 565 literature: 1M8GDM9AXKP042788.
        assert_eq!(check_digit(b"1M8GDM9A0KP042788"), b'X');
        for car in generate_cars(20, 1, &GenConfig::default()) {
            let v = car.vin.as_bytes();
            assert_eq!(v.len(), 17);
            assert_eq!(check_digit(v), v[8], "{}", car.vin);
        }
    }
}
