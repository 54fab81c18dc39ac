//! [`check`]: the single source of truth for whether a plan is valid. The planner's output,
//! every plan edit and the property tests all go through it.

use crate::car::Car;
use crate::plan::{LaneRef, Plan, car_index, car_moments, depth_mm};
use crate::rules;
use crate::vessel::{LaneIx, Vessel};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One broken constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Violation {
    /// The plan was made for another vessel.
    WrongVessel {
        /// Vessel named in the plan.
        plan: String,
        /// Vessel given.
        vessel: String,
    },
    /// The plan's configuration is unusable.
    InvalidConfig {
        /// What is wrong.
        what: String,
    },
    /// A placement names a VIN that is not among the cars.
    UnknownVin {
        /// VIN.
        vin: String,
    },
    /// A VIN is placed more than once.
    PlacedTwice {
        /// VIN.
        vin: String,
    },
    /// A car is neither placed nor listed as unplaced.
    Unaccounted {
        /// VIN.
        vin: String,
        /// Index in the car list.
        car_index: usize,
    },
    /// A car is both placed and listed as unplaced.
    PlacedAndUnplaced {
        /// VIN.
        vin: String,
    },
    /// A placement or locked lane names a deck/lane pair the vessel does not have.
    UnknownLane {
        /// The pair.
        slot: LaneRef,
    },
    /// A placed car has an empty VIN or invalid dimensions.
    InvalidCar {
        /// VIN.
        vin: String,
        /// Field.
        field: String,
    },
    /// A placed EV's state of charge is unknown or out of limits.
    EvSocOutOfRange {
        /// VIN.
        vin: String,
        /// SoC, if known.
        soc_pct: Option<u8>,
    },
    /// An EV outside every EV zone.
    EvOutsideEvZone {
        /// VIN.
        vin: String,
        /// Where it is.
        slot: LaneRef,
    },
    /// A non-EV in an EV zone while the configuration forbids it.
    NonEvInEvZone {
        /// VIN.
        vin: String,
        /// Where it is.
        slot: LaneRef,
    },
    /// Car (with head clearance) higher than the deck's clear height.
    TooTall {
        /// VIN.
        vin: String,
        /// Deck id.
        deck: String,
        /// Needed, mm.
        needed_mm: i64,
        /// Clear height, mm.
        clear_mm: i64,
    },
    /// Car (with mirrors and side gap) wider than the lane.
    TooWide {
        /// VIN.
        vin: String,
        /// Lane.
        slot: LaneRef,
        /// Needed, mm.
        needed_mm: i64,
        /// Lane width, mm.
        width_mm: i64,
    },
    /// Car sticks out of the lane's ends.
    OutsideLane {
        /// VIN.
        vin: String,
        /// Lane.
        slot: LaneRef,
        /// Position, mm from fore end.
        position_mm: i64,
    },
    /// Two cars in a lane overlap or stand closer than the bumper gap.
    TooClose {
        /// Lane.
        slot: LaneRef,
        /// Fore car.
        fore_vin: String,
        /// Aft car.
        aft_vin: String,
        /// Gap between them, mm (negative = overlap).
        gap_mm: i64,
        /// Required gap, mm.
        min_mm: i64,
    },
    /// Weight over occupied lane area exceeds the deck rating.
    AreaLoad {
        /// VIN.
        vin: String,
        /// Deck id.
        deck: String,
    },
    /// Heaviest axle exceeds the deck rating.
    AxleLoad {
        /// VIN.
        vin: String,
        /// Deck id.
        deck: String,
        /// Axle load, kg.
        axle_kg: i64,
        /// Rating, kg.
        max_kg: i64,
    },
    /// Total weight on a deck exceeds its rating.
    DeckOverweight {
        /// Deck id.
        deck: String,
        /// Total, kg.
        total_kg: i64,
        /// Rating, kg.
        max_kg: i64,
    },
    /// A car that is discharged later stands between the ramp and a car discharged earlier.
    DischargeOrder {
        /// Lane.
        slot: LaneRef,
        /// The car nearer the ramp, discharged later.
        blocking_vin: String,
        /// The deeper car, discharged earlier.
        blocked_vin: String,
    },
    /// Within one discharge group, a non-EV stands between the ramp and an EV (EVs go last).
    EvNotLast {
        /// Lane.
        slot: LaneRef,
        /// The non-EV nearer the ramp.
        non_ev_vin: String,
        /// The deeper EV.
        ev_vin: String,
    },
    /// Loading sequence numbers are not 1..n, or a deeper car is loaded after a nearer one.
    LoadSequence {
        /// What is wrong.
        what: String,
    },
    /// |Σ w·y| over the limit.
    Heel {
        /// Moment, t·m.
        moment_tm: String,
        /// Limit, t·m.
        max_tm: String,
    },
    /// |Σ w·(x − ref)| over the limit.
    Trim {
        /// Moment, t·m.
        moment_tm: String,
        /// Limit, t·m.
        max_tm: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Violation as V;
        match self {
            V::WrongVessel { plan, vessel } => {
                write!(f, "plan is for vessel {plan:?}, not {vessel:?}")
            }
            V::InvalidConfig { what } => write!(f, "invalid plan configuration: {what}"),
            V::UnknownVin { vin } => write!(f, "{vin}: placed but not in the car list"),
            V::PlacedTwice { vin } => write!(f, "{vin}: placed more than once"),
            V::Unaccounted { vin, car_index } => write!(
                f,
                "{vin} (car #{}): neither placed nor left behind with a reason",
                car_index + 1
            ),
            V::PlacedAndUnplaced { vin } => write!(f, "{vin}: both placed and left behind"),
            V::UnknownLane { slot } => write!(f, "{slot}: no such deck/lane"),
            V::InvalidCar { vin, field } => write!(f, "{vin}: placed with invalid {field}"),
            V::EvSocOutOfRange { vin, soc_pct } => {
                write!(f, "{vin}: EV placed with state of charge {soc_pct:?}")
            }
            V::EvOutsideEvZone { vin, slot } => write!(f, "{vin}: EV in {slot}, not an EV zone"),
            V::NonEvInEvZone { vin, slot } => write!(f, "{vin}: non-EV in EV zone {slot}"),
            V::TooTall {
                vin,
                deck,
                needed_mm,
                clear_mm,
            } => write!(
                f,
                "{vin}: needs {needed_mm} mm, deck {deck} has {clear_mm} mm clear"
            ),
            V::TooWide {
                vin,
                slot,
                needed_mm,
                width_mm,
            } => write!(
                f,
                "{vin}: needs {needed_mm} mm, lane {slot} is {width_mm} mm"
            ),
            V::OutsideLane {
                vin,
                slot,
                position_mm,
            } => write!(f, "{vin}: at {position_mm} mm sticks out of lane {slot}"),
            V::TooClose {
                slot,
                fore_vin,
                aft_vin,
                gap_mm,
                min_mm,
            } => write!(
                f,
                "{slot}: {fore_vin} and {aft_vin} are {gap_mm} mm apart, need {min_mm} mm"
            ),
            V::AreaLoad { vin, deck } => write!(f, "{vin}: exceeds deck {deck} load per m²"),
            V::AxleLoad {
                vin,
                deck,
                axle_kg,
                max_kg,
            } => write!(
                f,
                "{vin}: axle {axle_kg} kg exceeds deck {deck} rating {max_kg} kg"
            ),
            V::DeckOverweight {
                deck,
                total_kg,
                max_kg,
            } => write!(f, "deck {deck}: {total_kg} kg exceeds rating {max_kg} kg"),
            V::DischargeOrder {
                slot,
                blocking_vin,
                blocked_vin,
            } => write!(
                f,
                "{slot}: {blocking_vin} (discharged later) blocks {blocked_vin} from the ramp"
            ),
            V::EvNotLast {
                slot,
                non_ev_vin,
                ev_vin,
            } => write!(
                f,
                "{slot}: non-EV {non_ev_vin} nearer the ramp than EV {ev_vin} of the same group"
            ),
            V::LoadSequence { what } => write!(f, "load sequence: {what}"),
            V::Heel { moment_tm, max_tm } => {
                write!(f, "heeling moment {moment_tm} t·m exceeds {max_tm} t·m")
            }
            V::Trim { moment_tm, max_tm } => {
                write!(f, "trimming moment {moment_tm} t·m exceeds {max_tm} t·m")
            }
        }
    }
}

struct Placed<'a> {
    vin: &'a str,
    car: &'a Car,
    ev: bool,
    position_mm: i64,
    depth_mm: i64,
    load_seq: u32,
}

/// Checks every constraint of a plan against the vessel and the car list it was made from.
/// An empty result means the plan is valid: every car accounted for exactly once; every
/// placed car valid, fitting its deck and lane, spaced, within load ratings, EV rules and
/// discharge order respected, load sequence consistent, and moments within limits.
pub fn check(plan: &Plan, vessel: &Vessel, cars: &[Car]) -> Vec<Violation> {
    let mut out = Vec::new();
    if plan.vessel != vessel.name {
        out.push(Violation::WrongVessel {
            plan: plan.vessel.clone(),
            vessel: vessel.name.clone(),
        });
    }
    for what in plan.config.problems() {
        out.push(Violation::InvalidConfig { what });
    }
    let config = &plan.config;
    let limits = config.balance_for(vessel);
    let idx = car_index(cars);
    let s = &vessel.spacing;

    // Accounting.
    let mut placed_vins = BTreeSet::new();
    for p in &plan.placements {
        if !placed_vins.insert(p.vin.as_str()) {
            out.push(Violation::PlacedTwice { vin: p.vin.clone() });
        }
    }
    let mut unplaced_ix = BTreeSet::new();
    for u in &plan.unplaced {
        unplaced_ix.insert(u.car_index);
        if placed_vins.contains(u.vin.as_str()) && idx.get(u.vin.as_str()) == Some(&u.car_index) {
            out.push(Violation::PlacedAndUnplaced { vin: u.vin.clone() });
        }
    }
    for (i, c) in cars.iter().enumerate() {
        let is_first = idx.get(c.vin.as_str()) == Some(&i);
        let placed = is_first && placed_vins.contains(c.vin.as_str());
        if !placed && !unplaced_ix.contains(&i) {
            out.push(Violation::Unaccounted {
                vin: c.vin.clone(),
                car_index: i,
            });
        }
    }
    for l in &plan.locked_lanes {
        if vessel.lane_ix(&l.deck, &l.lane).is_none() {
            out.push(Violation::UnknownLane { slot: l.clone() });
        }
    }

    // Per car.
    let mut by_lane: BTreeMap<LaneIx, Vec<Placed>> = BTreeMap::new();
    let mut deck_kg: BTreeMap<usize, i64> = BTreeMap::new();
    let (mut heel, mut trim) = (0i64, 0i64);
    for p in &plan.placements {
        let Some(&ci) = idx.get(p.vin.as_str()) else {
            out.push(Violation::UnknownVin { vin: p.vin.clone() });
            continue;
        };
        let car = &cars[ci];
        let Some(ix) = vessel.lane_ix(&p.slot.deck, &p.slot.lane) else {
            out.push(Violation::UnknownLane {
                slot: p.slot.clone(),
            });
            continue;
        };
        let (deck, lane) = (
            &vessel.decks[ix.deck],
            &vessel.decks[ix.deck].lanes[ix.lane],
        );
        let vin = p.vin.clone();
        if car.vin.trim().is_empty() {
            out.push(Violation::InvalidCar {
                vin: vin.clone(),
                field: "vin".into(),
            });
        }
        if let Some(field) = rules::invalid_dimension(car) {
            out.push(Violation::InvalidCar {
                vin,
                field: field.into(),
            });
            continue;
        }
        let ev = rules::is_ev(car, config);
        let ev_lane = vessel.is_ev_lane(ix);
        if ev && !rules::soc_ok(car, config) {
            out.push(Violation::EvSocOutOfRange {
                vin: vin.clone(),
                soc_pct: car.soc_pct,
            });
        }
        if ev && !ev_lane {
            out.push(Violation::EvOutsideEvZone {
                vin: vin.clone(),
                slot: p.slot.clone(),
            });
        }
        if !ev && ev_lane && !config.allow_non_ev_in_ev_zones {
            out.push(Violation::NonEvInEvZone {
                vin: vin.clone(),
                slot: p.slot.clone(),
            });
        }
        let needed_h = rules::needed_height(car, s);
        if needed_h > deck.clear_height_mm {
            out.push(Violation::TooTall {
                vin: vin.clone(),
                deck: deck.id.clone(),
                needed_mm: needed_h,
                clear_mm: deck.clear_height_mm,
            });
        }
        let needed_w = rules::needed_width(car, s);
        if needed_w > lane.width_mm {
            out.push(Violation::TooWide {
                vin: vin.clone(),
                slot: p.slot.clone(),
                needed_mm: needed_w,
                width_mm: lane.width_mm,
            });
        }
        if p.position_mm < 0 || p.position_mm.saturating_add(car.length_mm) > lane.length_mm {
            out.push(Violation::OutsideLane {
                vin: vin.clone(),
                slot: p.slot.clone(),
                position_mm: p.position_mm,
            });
        }
        if !rules::area_load_ok(car, deck, lane) {
            out.push(Violation::AreaLoad {
                vin: vin.clone(),
                deck: deck.id.clone(),
            });
        }
        if !rules::axle_ok(car, deck, config) {
            out.push(Violation::AxleLoad {
                vin: vin.clone(),
                deck: deck.id.clone(),
                axle_kg: rules::axle_kg(car, config),
                max_kg: deck.max_axle_kg.unwrap_or(0),
            });
        }
        *deck_kg.entry(ix.deck).or_default() += car.weight_kg;
        let (h, t) = car_moments(vessel, &limits, ix, p.position_mm, car);
        heel = heel.saturating_add(h);
        trim = trim.saturating_add(t);
        by_lane.entry(ix).or_default().push(Placed {
            vin: &p.vin,
            car,
            ev,
            position_mm: p.position_mm,
            depth_mm: depth_mm(deck.ramp, lane.length_mm, p.position_mm, car.length_mm),
            load_seq: p.load_seq,
        });
    }

    for (di, kg) in &deck_kg {
        let deck = &vessel.decks[*di];
        if let Some(max) = deck.max_total_kg
            && *kg > max
        {
            out.push(Violation::DeckOverweight {
                deck: deck.id.clone(),
                total_kg: *kg,
                max_kg: max,
            });
        }
    }

    // Between cars of a lane.
    for (ix, mut cars_in) in by_lane {
        let (deck, lane) = (
            &vessel.decks[ix.deck],
            &vessel.decks[ix.deck].lanes[ix.lane],
        );
        let slot = LaneRef {
            deck: deck.id.clone(),
            lane: lane.id.clone(),
        };
        cars_in.sort_by_key(|c| (c.position_mm, c.vin));
        for w in cars_in.windows(2) {
            let gap = w[1]
                .position_mm
                .saturating_sub(w[0].position_mm.saturating_add(w[0].car.length_mm));
            if gap < s.bumper_gap_mm {
                out.push(Violation::TooClose {
                    slot: slot.clone(),
                    fore_vin: w[0].vin.to_owned(),
                    aft_vin: w[1].vin.to_owned(),
                    gap_mm: gap,
                    min_mm: s.bumper_gap_mm,
                });
            }
        }
        // Deepest first: each car must not block any deeper car.
        cars_in.sort_by_key(|c| (std::cmp::Reverse(c.depth_mm), c.vin));
        // Track, over the deeper cars, the earliest discharge seq, and for each seq whether
        // an EV is deeper.
        let mut deeper: Vec<&Placed> = Vec::new();
        for c in &cars_in {
            if let Some(d) = deeper
                .iter()
                .find(|d| d.car.discharge.seq < c.car.discharge.seq)
            {
                out.push(Violation::DischargeOrder {
                    slot: slot.clone(),
                    blocking_vin: c.vin.to_owned(),
                    blocked_vin: d.vin.to_owned(),
                });
            }
            if !c.ev
                && let Some(d) = deeper
                    .iter()
                    .find(|d| d.ev && d.car.discharge.seq == c.car.discharge.seq)
            {
                out.push(Violation::EvNotLast {
                    slot: slot.clone(),
                    non_ev_vin: c.vin.to_owned(),
                    ev_vin: d.vin.to_owned(),
                });
            }
            if let Some(d) = deeper.iter().find(|d| d.load_seq > c.load_seq) {
                out.push(Violation::LoadSequence {
                    what: format!(
                        "{slot}: {} (seq {}) is deeper than {} (seq {}) but loaded after it",
                        d.vin, d.load_seq, c.vin, c.load_seq
                    ),
                });
            }
            deeper.push(c);
        }
    }

    // Sequence numbers 1..n, unique.
    let mut seqs: Vec<u32> = plan.placements.iter().map(|p| p.load_seq).collect();
    seqs.sort_unstable();
    let expected = (1..).take(seqs.len());
    if !seqs.iter().copied().eq(expected) {
        out.push(Violation::LoadSequence {
            what: "load_seq values are not exactly 1..n".into(),
        });
    }

    let (max_heel, max_trim) = (
        rules::tm_to_kgmm(limits.max_heel_moment_tm),
        rules::tm_to_kgmm(limits.max_trim_moment_tm),
    );
    if heel.abs() > max_heel {
        out.push(Violation::Heel {
            moment_tm: format!("{:.1}", rules::kgmm_to_tm(heel)),
            max_tm: format!("{:.1}", limits.max_heel_moment_tm),
        });
    }
    if trim.abs() > max_trim {
        out.push(Violation::Trim {
            moment_tm: format!("{:.1}", rules::kgmm_to_tm(trim)),
            max_tm: format!("{:.1}", limits.max_trim_moment_tm),
        });
    }
    out
}

/// Heel and trim moments of a plan, t·m (placements that cannot be resolved are skipped).
pub fn moments_tm(plan: &Plan, vessel: &Vessel, cars: &[Car]) -> (f64, f64) {
    let idx = car_index(cars);
    let limits = plan.config.balance_for(vessel);
    let (mut h, mut t) = (0i64, 0i64);
    for p in &plan.placements {
        let (Some(&ci), Some(ix)) = (
            idx.get(p.vin.as_str()),
            vessel.lane_ix(&p.slot.deck, &p.slot.lane),
        ) else {
            continue;
        };
        let (dh, dt) = car_moments(vessel, &limits, ix, p.position_mm, &cars[ci]);
        h = h.saturating_add(dh);
        t = t.saturating_add(dt);
    }
    (rules::kgmm_to_tm(h), rules::kgmm_to_tm(t))
}
