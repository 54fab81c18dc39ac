//! Load verification at the ramp: a pure state machine fed with scans, in the quinn style
//! (`handle_*` takes inputs, getters read state; time is always an argument).
//!
//! Every scan is taken as a physical fact: the car is going up the ramp to the scanned deck
//! and lane. The outcome says whether that matches the plan; the caller (server) turns
//! anything but [`ScanOutcome::Ok`] into a refusal or an alert. A car driven back off is
//! reported with [`LoadVerifier::handle_removal`]. [`LoadVerifier::complete`] reconciles plan
//! against what is aboard and says whether departure may be allowed.
//!
//! "In sequence" means: every car planned deeper in the same lane is already aboard (a car
//! cannot be parked behind a gap that a later car would have to drive through).

use crate::car::Car;
use crate::plan::{LaneRef, Plan, car_index, depth_mm};
use crate::vessel::Vessel;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One scan at the ramp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    /// VIN read.
    pub vin: String,
    /// Deck and lane the car is directed to.
    pub slot: LaneRef,
    /// When, milliseconds since the Unix epoch (supplied by the caller).
    pub at_ms: i64,
}

/// The verdict on one scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScanOutcome {
    /// Right car, right deck and lane, in sequence.
    Ok,
    /// Planned for another deck/lane.
    WrongSlot {
        /// Where the plan puts it.
        planned: LaneRef,
        /// Where it is going.
        scanned: LaneRef,
    },
    /// Not in the plan (left behind by the planner, or unknown).
    Unplanned,
    /// In the plan but not tallied at the yard (the caller says so).
    NotTallied,
    /// Right slot, but cars planned deeper in that lane are not aboard yet.
    OutOfSequence {
        /// Deeper cars in that lane not yet aboard, deepest first.
        waiting_for: Vec<String>,
    },
    /// Already aboard; the scan changes nothing.
    Duplicate,
}

/// A car aboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aboard {
    /// Where it went.
    pub slot: LaneRef,
    /// When it was scanned.
    pub at_ms: i64,
    /// The verdict at the time.
    pub outcome: ScanOutcome,
}

/// The state of loading one plan.
#[derive(Debug, Clone)]
pub struct LoadVerifier {
    /// VIN → (planned slot, depth in lane).
    planned: BTreeMap<String, (LaneRef, i64)>,
    /// Slot → VINs deepest first.
    lane_order: BTreeMap<LaneRef, Vec<String>>,
    aboard: BTreeMap<String, Aboard>,
}

/// Plan against what is aboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// Cars planned and aboard in their planned lane.
    pub loaded_ok: usize,
    /// Planned but not aboard.
    pub left_behind: Vec<String>,
    /// Aboard but not planned.
    pub extra: Vec<String>,
    /// Aboard in another lane than planned.
    pub wrong_slot: Vec<(String, LaneRef, LaneRef)>,
    /// Aboard although the scan said not tallied.
    pub not_tallied: Vec<String>,
    /// Whether departure may be allowed: nothing left behind, extra, misplaced or untallied.
    pub departure_allowed: bool,
}

impl LoadVerifier {
    /// Starts verification of a plan. Placements whose car or lane cannot be resolved are
    /// treated as depth 0 (they still count as planned).
    pub fn new(plan: &Plan, vessel: &Vessel, cars: &[Car]) -> Self {
        let idx = car_index(cars);
        let mut planned = BTreeMap::new();
        let mut lane_order: BTreeMap<LaneRef, Vec<(i64, String)>> = BTreeMap::new();
        for p in &plan.placements {
            let depth = idx
                .get(p.vin.as_str())
                .zip(vessel.lane_ix(&p.slot.deck, &p.slot.lane))
                .and_then(|(&ci, ix)| {
                    let lane = vessel.lane(ix)?;
                    let deck = vessel.decks.get(ix.deck)?;
                    Some(depth_mm(
                        deck.ramp,
                        lane.length_mm,
                        p.position_mm,
                        cars[ci].length_mm,
                    ))
                })
                .unwrap_or(0);
            planned.insert(p.vin.clone(), (p.slot.clone(), depth));
            lane_order
                .entry(p.slot.clone())
                .or_default()
                .push((depth, p.vin.clone()));
        }
        let lane_order = lane_order
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
                (k, v.into_iter().map(|(_, vin)| vin).collect())
            })
            .collect();
        LoadVerifier {
            planned,
            lane_order,
            aboard: BTreeMap::new(),
        }
    }

    /// Handles one ramp scan. `tallied` is whether the yard tally has this car.
    pub fn handle_scan(&mut self, scan: &Scan, tallied: bool) -> ScanOutcome {
        if self.aboard.contains_key(&scan.vin) {
            return ScanOutcome::Duplicate;
        }
        let outcome = match self.planned.get(&scan.vin) {
            None => ScanOutcome::Unplanned,
            Some(_) if !tallied => ScanOutcome::NotTallied,
            Some((slot, _)) if *slot != scan.slot => ScanOutcome::WrongSlot {
                planned: slot.clone(),
                scanned: scan.slot.clone(),
            },
            Some((slot, depth)) => {
                let waiting_for: Vec<String> = self
                    .lane_order
                    .get(slot)
                    .into_iter()
                    .flatten()
                    .filter(|v| {
                        *v != &scan.vin
                            && self.planned.get(*v).is_some_and(|(_, d)| d > depth)
                            && !self.aboard.contains_key(*v)
                    })
                    .cloned()
                    .collect();
                if waiting_for.is_empty() {
                    ScanOutcome::Ok
                } else {
                    ScanOutcome::OutOfSequence { waiting_for }
                }
            }
        };
        self.aboard.insert(
            scan.vin.clone(),
            Aboard {
                slot: scan.slot.clone(),
                at_ms: scan.at_ms,
                outcome: outcome.clone(),
            },
        );
        outcome
    }

    /// A car was driven back off (e.g. after a refusal). Returns whether it was aboard.
    pub fn handle_removal(&mut self, vin: &str) -> bool {
        self.aboard.remove(vin).is_some()
    }

    /// What is aboard, by VIN.
    pub fn aboard(&self) -> &BTreeMap<String, Aboard> {
        &self.aboard
    }

    /// The next car the plan expects in a lane (deepest not yet aboard).
    pub fn next_in_lane(&self, slot: &LaneRef) -> Option<&str> {
        self.lane_order
            .get(slot)?
            .iter()
            .find(|v| !self.aboard.contains_key(*v))
            .map(String::as_str)
    }

    /// Reconciles plan against what is aboard.
    pub fn complete(&self) -> Reconciliation {
        let mut r = Reconciliation {
            loaded_ok: 0,
            left_behind: Vec::new(),
            extra: Vec::new(),
            wrong_slot: Vec::new(),
            not_tallied: Vec::new(),
            departure_allowed: false,
        };
        for (vin, (slot, _)) in &self.planned {
            match self.aboard.get(vin) {
                None => r.left_behind.push(vin.clone()),
                Some(a) if a.slot != *slot => {
                    r.wrong_slot
                        .push((vin.clone(), slot.clone(), a.slot.clone()));
                }
                Some(_) => r.loaded_ok += 1,
            }
        }
        for (vin, a) in &self.aboard {
            if !self.planned.contains_key(vin) {
                r.extra.push(vin.clone());
            }
            if a.outcome == ScanOutcome::NotTallied {
                r.not_tallied.push(vin.clone());
            }
        }
        r.departure_allowed = r.left_behind.is_empty()
            && r.extra.is_empty()
            && r.wrong_slot.is_empty()
            && r.not_tallied.is_empty();
        r
    }
}
