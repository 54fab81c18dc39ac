//! The per-car constraint predicates (height, width, length, deck loading, EV rules) shared
//! by the planner, the bound and [`crate::check`], so that all three agree on what "fits" means.

use crate::car::Car;
use crate::plan::PlanConfig;
use crate::vessel::{Deck, Lane, SpacingRules, Vessel};

/// Whether the planner treats this car as an electrified vehicle (EV rules apply).
pub(crate) fn is_ev(car: &Car, config: &PlanConfig) -> bool {
    config.ev_powertrains.contains(&car.powertrain)
}

/// What is wrong with a car on its own, before any vessel is considered.
pub(crate) fn invalid_dimension(car: &Car) -> Option<&'static str> {
    if car.length_mm <= 0 || car.length_mm > 100_000 {
        Some("length_mm")
    } else if car.width_mm <= 0 || car.width_mm > 100_000 {
        Some("width_mm")
    } else if car.height_mm <= 0 || car.height_mm > 100_000 {
        Some("height_mm")
    } else if car.weight_kg <= 0 || car.weight_kg > 1_000_000 {
        Some("weight_kg")
    } else {
        None
    }
}

/// Whether an EV's state of charge is within the configured limit (None = unknown = no).
pub(crate) fn soc_ok(car: &Car, config: &PlanConfig) -> bool {
    car.soc_pct
        .is_some_and(|s| s >= config.soc_min_pct && s <= config.soc_max_pct)
}

/// Height needed under the deckhead, mm.
pub(crate) fn needed_height(car: &Car, s: &SpacingRules) -> i64 {
    car.height_mm + s.head_clearance_mm
}

/// Width needed in a lane, mm.
pub(crate) fn needed_width(car: &Car, s: &SpacingRules) -> i64 {
    car.width_mm + s.mirror_allowance_mm + s.side_gap_mm
}

/// The heaviest axle, kg (rounded up).
pub(crate) fn axle_kg(car: &Car, config: &PlanConfig) -> i64 {
    (car.weight_kg * i64::from(config.axle_share_pct) + 99) / 100
}

/// Whether the car's weight over the lane area it occupies stays within the deck rating.
pub(crate) fn area_load_ok(car: &Car, deck: &Deck, lane: &Lane) -> bool {
    match deck.max_kg_per_m2 {
        None => true,
        // kg / (len_mm·width_mm / 1e6 m²) <= max  ⇔  kg·1e6 <= max·len·width
        Some(max) => {
            i128::from(car.weight_kg) * 1_000_000
                <= i128::from(max) * i128::from(car.length_mm) * i128::from(lane.width_mm)
        }
    }
}

/// Whether the car's heaviest axle stays within the deck rating.
pub(crate) fn axle_ok(car: &Car, deck: &Deck, config: &PlanConfig) -> bool {
    deck.max_axle_kg
        .is_none_or(|max| axle_kg(car, config) <= max)
}

/// Every per-car, per-lane constraint (not the ones between cars, nor balance).
pub(crate) fn fits_lane(
    vessel: &Vessel,
    config: &PlanConfig,
    car: &Car,
    ev: bool,
    deck: &Deck,
    lane: &Lane,
    ev_lane: bool,
) -> bool {
    let s = &vessel.spacing;
    needed_height(car, s) <= deck.clear_height_mm
        && needed_width(car, s) <= lane.width_mm
        && car.length_mm <= lane.length_mm
        && area_load_ok(car, deck, lane)
        && axle_ok(car, deck, config)
        && (if ev {
            ev_lane
        } else {
            !ev_lane || config.allow_non_ev_in_ev_zones
        })
}

/// Converts a t·m limit to kg·mm, the unit moments are summed in.
pub(crate) fn tm_to_kgmm(tm: f64) -> i64 {
    if tm.is_finite() && tm >= 0.0 {
        // Clamped to 1e9 t·m by validation, so this fits in i64.
        (tm.min(1.0e9) * 1.0e6).floor() as i64
    } else {
        0
    }
}

/// Converts kg·mm to t·m.
pub(crate) fn kgmm_to_tm(kgmm: i64) -> f64 {
    kgmm as f64 / 1.0e6
}
