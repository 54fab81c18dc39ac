//! Plan edits as pure operations: `(plan, edit) → (new plan, violations)`. The caller records
//! each accepted edit (a ledger event in the shell) and decides whether a plan with violations
//! may stand; [`crate::check`] is re-run on every edit.

use crate::car::Car;
use crate::check::{Violation, check};
use crate::plan::{LaneRef, Placement, Plan, Unplaced, UnplacedReason, car_index, resequence};
use crate::rules;
use crate::vessel::Vessel;
use serde::{Deserialize, Serialize};

/// A change a person makes to a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Edit {
    /// Move a car (placed or left behind) to a lane. With `position_mm: None` the car goes
    /// into the free gap that keeps discharge order, if any, else the first gap it fits.
    MoveCar {
        /// The car.
        vin: String,
        /// Target deck and lane.
        to: LaneRef,
        /// Position from the lane's fore end, mm; `None` = find one.
        position_mm: Option<i64>,
    },
    /// Take a car out of the plan (it stays ashore).
    LeaveBehind {
        /// The car.
        vin: String,
    },
    /// Close a lane to further cars; cars already there stay.
    LockLane {
        /// The lane.
        lane: LaneRef,
    },
    /// Reopen a lane.
    UnlockLane {
        /// The lane.
        lane: LaneRef,
    },
}

/// An edit that cannot be applied at all (as opposed to one that leaves violations).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// No car with this VIN in the car list.
    #[error("no car {0} in the car list")]
    UnknownVin(String),
    /// The deck/lane does not exist on the vessel.
    #[error("no lane {0} on the vessel")]
    UnknownLane(LaneRef),
    /// The target lane is locked.
    #[error("lane {0} is locked")]
    LaneLocked(LaneRef),
    /// No free gap in the target lane is long enough for the car.
    #[error("no room for {vin} in lane {lane}")]
    NoRoom {
        /// The car.
        vin: String,
        /// The lane.
        lane: LaneRef,
    },
    /// `LeaveBehind` for a car that is not placed.
    #[error("{0} is not placed")]
    NotPlaced(String),
    /// The car is a duplicate VIN or otherwise can never be placed; use the planner's reason.
    #[error("{vin} cannot be placed: {reason}")]
    Unplaceable {
        /// The car.
        vin: String,
        /// Why.
        reason: UnplacedReason,
    },
}

/// The result of an edit.
#[derive(Debug, Clone, PartialEq)]
pub struct Edited {
    /// The plan after the edit (load sequence renumbered).
    pub plan: Plan,
    /// `check` of the new plan; empty when still valid.
    pub violations: Vec<Violation>,
}

/// Applies an edit and re-checks the plan.
///
/// # Errors
/// [`EditError`] when the edit cannot be applied; the input plan is unchanged.
pub fn apply_edit(
    plan: &Plan,
    vessel: &Vessel,
    cars: &[Car],
    edit: &Edit,
) -> Result<Edited, EditError> {
    let mut next = plan.clone();
    match edit {
        Edit::LockLane { lane } => {
            lane_exists(vessel, lane)?;
            if !next.locked_lanes.contains(lane) {
                next.locked_lanes.push(lane.clone());
                next.locked_lanes.sort();
            }
        }
        Edit::UnlockLane { lane } => {
            lane_exists(vessel, lane)?;
            next.locked_lanes.retain(|l| l != lane);
        }
        Edit::LeaveBehind { vin } => {
            let ci = *car_index(cars)
                .get(vin.as_str())
                .ok_or_else(|| EditError::UnknownVin(vin.clone()))?;
            let before = next.placements.len();
            next.placements.retain(|p| p.vin != *vin);
            if next.placements.len() == before {
                return Err(EditError::NotPlaced(vin.clone()));
            }
            next.unplaced.push(Unplaced {
                vin: vin.clone(),
                car_index: ci,
                reason: UnplacedReason::LeftBehindByEdit,
            });
            next.unplaced.sort_by_key(|u| u.car_index);
        }
        Edit::MoveCar {
            vin,
            to,
            position_mm,
        } => {
            let ci = *car_index(cars)
                .get(vin.as_str())
                .ok_or_else(|| EditError::UnknownVin(vin.clone()))?;
            lane_exists(vessel, to)?;
            let already_there = next.placement(vin).is_some_and(|p| p.slot == *to);
            if next.is_locked(to) && !already_there {
                return Err(EditError::LaneLocked(to.clone()));
            }
            if let Some(u) = next.unplaced.iter().find(|u| u.car_index == ci) {
                let movable = matches!(
                    u.reason,
                    UnplacedReason::NoCapacityLeft
                        | UnplacedReason::BalanceLimit
                        | UnplacedReason::LeftBehindByEdit
                );
                if !movable {
                    return Err(EditError::Unplaceable {
                        vin: vin.clone(),
                        reason: u.reason.clone(),
                    });
                }
            }
            let car = &cars[ci];
            next.placements.retain(|p| p.vin != *vin);
            let pos = match position_mm {
                Some(p) => *p,
                None => {
                    find_gap(&next, vessel, cars, car, to).ok_or_else(|| EditError::NoRoom {
                        vin: vin.clone(),
                        lane: to.clone(),
                    })?
                }
            };
            next.unplaced.retain(|u| u.car_index != ci);
            next.placements.push(Placement {
                vin: vin.clone(),
                slot: to.clone(),
                position_mm: pos,
                load_seq: 0,
            });
        }
    }
    resequence(&mut next, vessel, cars);
    let violations = check(&next, vessel, cars);
    Ok(Edited {
        plan: next,
        violations,
    })
}

fn lane_exists(vessel: &Vessel, lane: &LaneRef) -> Result<(), EditError> {
    vessel
        .lane_ix(&lane.deck, &lane.lane)
        .map(|_| ())
        .ok_or_else(|| EditError::UnknownLane(lane.clone()))
}

/// A position in `to` where `car` fits between the cars already there with bumper gaps.
/// Prefers positions where no deeper car is discharged earlier and no shallower car later.
fn find_gap(plan: &Plan, vessel: &Vessel, cars: &[Car], car: &Car, to: &LaneRef) -> Option<i64> {
    let ix = vessel.lane_ix(&to.deck, &to.lane)?;
    let lane = vessel.lane(ix)?;
    let ramp = vessel.decks.get(ix.deck)?.ramp;
    let gap = vessel.spacing.bumper_gap_mm;
    let idx = car_index(cars);
    // (start, end, discharge seq, ev) of cars in the lane, by position.
    let mut occ: Vec<(i64, i64, u32, bool)> = plan
        .placements
        .iter()
        .filter(|p| p.slot == *to)
        .filter_map(|p| {
            let c = &cars[*idx.get(p.vin.as_str())?];
            Some((
                p.position_mm,
                p.position_mm.saturating_add(c.length_mm),
                c.discharge.seq,
                rules::is_ev(c, &plan.config),
            ))
        })
        .collect();
    occ.sort_unstable();
    let ev = rules::is_ev(car, &plan.config);
    let mut candidates: Vec<(usize, i64)> = Vec::new();
    let mut free_from = 0i64;
    let mut bounds: Vec<(i64, i64)> = Vec::new();
    for &(s, e, _, _) in &occ {
        bounds.push((free_from, s - gap));
        free_from = e + gap;
    }
    bounds.push((free_from, lane.length_mm));
    for (lo, hi) in bounds {
        if hi - lo < car.length_mm {
            continue;
        }
        // Deepest spot of the gap (nearest the far end from the ramp).
        let pos = match ramp {
            crate::vessel::RampEnd::Aft => lo,
            crate::vessel::RampEnd::Fore => hi - car.length_mm,
        };
        let bad = occ
            .iter()
            .filter(|&&(s, _, seq, oev)| {
                let deeper = match ramp {
                    crate::vessel::RampEnd::Aft => s < pos,
                    crate::vessel::RampEnd::Fore => s > pos,
                };
                if deeper {
                    seq < car.discharge.seq || (seq == car.discharge.seq && oev && !ev)
                } else {
                    seq > car.discharge.seq || (seq == car.discharge.seq && ev && !oev)
                }
            })
            .count();
        candidates.push((bad, pos));
    }
    candidates.into_iter().min().map(|(_, p)| p)
}
