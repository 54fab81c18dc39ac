//! The plan: where each car goes, which cars stay behind and why, and the configuration the
//! plan was made under (so [`crate::check`] can re-check it without extra arguments).

use crate::car::{Car, Powertrain};
use crate::rules;
use crate::vessel::{BalanceLimits, LaneIx, RampEnd, Vessel};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Planner settings. Defaults follow EMSA's AFV guidance (SoC 20–50 %).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanConfig {
    /// Lowest state of charge accepted for an EV, percent.
    pub soc_min_pct: u8,
    /// Highest state of charge accepted for an EV, percent.
    pub soc_max_pct: u8,
    /// Powertrains the EV rules apply to (SoC limit, EV zones, loaded last).
    pub ev_powertrains: Vec<Powertrain>,
    /// Whether non-EVs may use EV-zone lanes when other lanes are full or too low.
    pub allow_non_ev_in_ev_zones: bool,
    /// Share of a car's weight on its heaviest axle, percent (for axle-load ratings).
    pub axle_share_pct: u8,
    /// Overrides the vessel's balance limits when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<BalanceLimits>,
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            soc_min_pct: 20,
            soc_max_pct: 50,
            ev_powertrains: vec![Powertrain::Bev, Powertrain::Phev, Powertrain::Erev],
            allow_non_ev_in_ev_zones: true,
            axle_share_pct: 60,
            balance: None,
        }
    }
}

impl PlanConfig {
    /// Problems with the configuration; empty when usable.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.soc_min_pct > self.soc_max_pct || self.soc_max_pct > 100 {
            out.push(format!(
                "SoC limits must satisfy 0 <= min <= max <= 100, got {}..{}",
                self.soc_min_pct, self.soc_max_pct
            ));
        }
        if !(1..=100).contains(&self.axle_share_pct) {
            out.push(format!(
                "axle_share_pct must be within 1..=100, got {}",
                self.axle_share_pct
            ));
        }
        if let Some(b) = &self.balance {
            for (name, v) in [
                ("max_heel_moment_tm", b.max_heel_moment_tm),
                ("max_trim_moment_tm", b.max_trim_moment_tm),
            ] {
                if !v.is_finite() || !(0.0..=1.0e9).contains(&v) {
                    out.push(format!(
                        "balance.{name} must be within 0..=1e9 t·m, got {v}"
                    ));
                }
            }
        }
        out
    }

    /// The balance limits in force: the override, else the vessel's.
    pub fn balance_for(&self, vessel: &Vessel) -> BalanceLimits {
        self.balance.unwrap_or(vessel.balance)
    }
}

/// A lane named by ids, as in plans, scans and edits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LaneRef {
    /// Deck id.
    pub deck: String,
    /// Lane id.
    pub lane: String,
}

impl fmt::Display for LaneRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.deck, self.lane)
    }
}

/// Where one car goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The car.
    pub vin: String,
    /// Deck and lane.
    pub slot: LaneRef,
    /// Distance from the lane's fore end to the car's front bumper, mm.
    pub position_mm: i64,
    /// Loading order, 1 = first car up the ramp. Unique within a plan.
    pub load_seq: u32,
}

impl Placement {
    /// Position in metres from the lane's fore end.
    pub fn position_m(&self) -> f64 {
        self.position_mm as f64 / 1000.0
    }
}

/// A car that is not in the plan, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unplaced {
    /// The car's VIN (as given).
    pub vin: String,
    /// Index of the car in the input list (VINs may repeat).
    pub car_index: usize,
    /// Why it stays behind.
    pub reason: UnplacedReason,
}

/// Why a car could not be placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnplacedReason {
    /// The VIN is empty.
    InvalidVin,
    /// Another car earlier in the list has the same VIN.
    DuplicateVin {
        /// Index of the first car with this VIN.
        first_index: usize,
    },
    /// A dimension or the weight is zero, negative or absurd.
    InvalidDimensions {
        /// The offending field.
        field: String,
        /// Its value.
        value: i64,
    },
    /// An EV whose state of charge is unknown or outside the configured limits.
    EvSocOutOfRange {
        /// SoC reported, if any.
        soc_pct: Option<u8>,
        /// Accepted minimum.
        min_pct: u8,
        /// Accepted maximum.
        max_pct: u8,
    },
    /// An EV, and the vessel has no EV zone.
    NoEvZone,
    /// Higher (with head clearance) than every deck it may use.
    TooTallForEveryDeck {
        /// Height needed incl. head clearance, mm.
        needed_mm: i64,
        /// Highest clear height among the decks it may use, mm.
        highest_mm: i64,
    },
    /// Wider (with mirrors and side gap) than every lane it may use.
    TooWideForEveryLane {
        /// Width needed, mm.
        needed_mm: i64,
        /// Widest lane it may use, mm.
        widest_mm: i64,
    },
    /// Longer than every lane it may use.
    TooLongForEveryLane {
        /// Car length, mm.
        length_mm: i64,
        /// Longest lane it may use, mm.
        longest_mm: i64,
    },
    /// Too heavy (area or axle load) for every deck where it would otherwise fit.
    TooHeavyForEveryDeck {
        /// Car weight, kg.
        weight_kg: i64,
    },
    /// It fits somewhere in principle, but every such lane (or deck weight rating) is full.
    NoCapacityLeft,
    /// Placing it would break the heel or trim moment limit; it was taken off.
    BalanceLimit,
    /// A person removed it from the plan.
    LeftBehindByEdit,
}

impl fmt::Display for UnplacedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnplacedReason::InvalidVin => write!(f, "VIN is empty"),
            UnplacedReason::DuplicateVin { first_index } => {
                write!(f, "duplicate VIN (first given as car #{})", first_index + 1)
            }
            UnplacedReason::InvalidDimensions { field, value } => {
                write!(f, "invalid {field}: {value}")
            }
            UnplacedReason::EvSocOutOfRange {
                soc_pct,
                min_pct,
                max_pct,
            } => match soc_pct {
                Some(s) => write!(f, "EV state of charge {s}% outside {min_pct}–{max_pct}%"),
                None => write!(
                    f,
                    "EV state of charge unknown (must be {min_pct}–{max_pct}%)"
                ),
            },
            UnplacedReason::NoEvZone => write!(f, "EV, and the vessel has no EV zone"),
            UnplacedReason::TooTallForEveryDeck {
                needed_mm,
                highest_mm,
            } => write!(
                f,
                "too tall: needs {needed_mm} mm clear height, highest usable deck has {highest_mm} mm"
            ),
            UnplacedReason::TooWideForEveryLane {
                needed_mm,
                widest_mm,
            } => write!(
                f,
                "too wide: needs a {needed_mm} mm lane, widest usable lane is {widest_mm} mm"
            ),
            UnplacedReason::TooLongForEveryLane {
                length_mm,
                longest_mm,
            } => write!(
                f,
                "too long: {length_mm} mm, longest usable lane is {longest_mm} mm"
            ),
            UnplacedReason::TooHeavyForEveryDeck { weight_kg } => write!(
                f,
                "too heavy: {weight_kg} kg exceeds the area or axle rating of every deck it fits"
            ),
            UnplacedReason::NoCapacityLeft => write!(f, "no capacity left in any lane it fits"),
            UnplacedReason::BalanceLimit => {
                write!(f, "would break the heel or trim moment limit")
            }
            UnplacedReason::LeftBehindByEdit => write!(f, "left behind by a plan edit"),
        }
    }
}

/// A stowage plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Name of the vessel planned for.
    pub vessel: String,
    /// Settings the plan was made (and is checked) under.
    pub config: PlanConfig,
    /// Placed cars, in loading order (`load_seq` ascending).
    pub placements: Vec<Placement>,
    /// Cars left behind, with reasons, in input order.
    pub unplaced: Vec<Unplaced>,
    /// Lanes closed to further cars (existing cars stay).
    #[serde(default)]
    pub locked_lanes: Vec<LaneRef>,
}

impl Plan {
    /// The placement of a VIN.
    pub fn placement(&self, vin: &str) -> Option<&Placement> {
        self.placements.iter().find(|p| p.vin == vin)
    }

    /// Whether a lane is locked.
    pub fn is_locked(&self, slot: &LaneRef) -> bool {
        self.locked_lanes.contains(slot)
    }
}

/// Index of cars by VIN (first occurrence wins, as in the planner).
pub(crate) fn car_index(cars: &[Car]) -> BTreeMap<&str, usize> {
    let mut m = BTreeMap::new();
    for (i, c) in cars.iter().enumerate() {
        m.entry(c.vin.as_str()).or_insert(i);
    }
    m
}

/// Distance from the lane's ramp end to the car's nearer bumper, mm. Larger = deeper = must
/// be loaded earlier and discharged later.
pub(crate) fn depth_mm(ramp: RampEnd, lane_len: i64, position_mm: i64, car_len: i64) -> i64 {
    match ramp {
        RampEnd::Aft => lane_len.saturating_sub(position_mm).saturating_sub(car_len),
        RampEnd::Fore => position_mm,
    }
}

/// Heel (Σ w·y) and trim (Σ w·(x − ref)) moments of a car at a position, kg·mm.
pub(crate) fn car_moments(
    vessel: &Vessel,
    limits: &BalanceLimits,
    ix: LaneIx,
    position_mm: i64,
    car: &Car,
) -> (i64, i64) {
    let Some(lane) = vessel.lane(ix) else {
        return (0, 0);
    };
    // 2·x, exact; saturating so that absurd positions from outside cannot overflow.
    let x_centre_2 = lane
        .fore_x_mm
        .saturating_sub(position_mm)
        .saturating_mul(2)
        .saturating_sub(car.length_mm);
    let heel = car.weight_kg.saturating_mul(lane.y_mm);
    let trim = car
        .weight_kg
        .saturating_mul(x_centre_2.saturating_sub(limits.trim_reference_x_mm.saturating_mul(2)))
        / 2;
    (heel, trim)
}

/// Sort key for loading order: later-discharged groups first, within a group non-EVs before
/// EVs (EVs loaded last), then deeper cars first, then by deck, lane and VIN for determinism.
pub(crate) fn load_order_key(
    car: &Car,
    ev: bool,
    depth: i64,
    ix: LaneIx,
) -> (
    std::cmp::Reverse<u32>,
    bool,
    LaneIx,
    std::cmp::Reverse<i64>,
    String,
) {
    (
        std::cmp::Reverse(car.discharge.seq),
        ev,
        ix,
        std::cmp::Reverse(depth),
        car.vin.clone(),
    )
}

/// Renumbers `load_seq` 1..n in loading order and sorts placements by it. Placements whose
/// car or lane cannot be resolved keep their relative order at the end.
pub(crate) fn resequence(plan: &mut Plan, vessel: &Vessel, cars: &[Car]) {
    let idx = car_index(cars);
    let config = plan.config.clone();
    let mut keyed: Vec<(Option<_>, usize, Placement)> = plan
        .placements
        .drain(..)
        .enumerate()
        .map(|(i, p)| {
            let key = idx.get(p.vin.as_str()).and_then(|&ci| {
                let car = &cars[ci];
                let ix = vessel.lane_ix(&p.slot.deck, &p.slot.lane)?;
                let lane = vessel.lane(ix)?;
                let deck = vessel.decks.get(ix.deck)?;
                let depth = depth_mm(deck.ramp, lane.length_mm, p.position_mm, car.length_mm);
                Some(load_order_key(car, rules::is_ev(car, &config), depth, ix))
            });
            (key, i, p)
        })
        .collect();
    keyed.sort_by(|a, b| match (&a.0, &b.0) {
        (Some(x), Some(y)) => x.cmp(y).then(a.1.cmp(&b.1)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.cmp(&b.1),
    });
    plan.placements = keyed
        .into_iter()
        .enumerate()
        .map(|(i, (_, _, mut p))| {
            p.load_seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
            p
        })
        .collect();
}
