//! The stowage planner: screening, lane assignment (best-fit with balance steering, or the
//! first-fit baseline), in-lane arrangement (discharge order, EVs last, trim), balance repair
//! and the loading sequence.
//!
//! # Algorithm
//!
//! 1. **Screen** each car: empty or duplicate VIN, invalid dimensions, EV state of charge, EV
//!    with no EV zone, and the set of lanes it fits on its own (height, width, length, area and
//!    axle load, EV zone). A car with no such lane gets the most specific reason.
//! 2. **Assign** cars to lanes. Best-fit: most restricted cars first (smallest total capacity
//!    of the lanes they fit), then longest first; each goes to the lowest deck it fits (keeping
//!    high decks for high cars, and EV lanes for EVs), into the open lane it fills best, else a
//!    new lane chosen to keep the heeling moment small. A first pass refuses lanes that would
//!    push the heeling moment past half its limit (unless they reduce it); a second pass does
//!    not. Lane capacity is `length + bumper gap` against `Σ (car length + bumper gap)`, so
//!    n cars fit iff `Σ length + (n−1)·gap ≤ lane length`.
//! 3. **Arrange** each lane: cars discharged later go deepest, EVs nearest the ramp within
//!    their group, packed at the bumper gap. The block is then slid along the lane to bring the
//!    lane's trimming moment towards zero, and slid further if the ship's total is over limit.
//! 4. **Repair balance**: while the heel or trim limit is broken, take off the car whose
//!    removal reduces the excess most ([`UnplacedReason::BalanceLimit`]). This always ends,
//!    because an empty plan has zero moments and limits are ≥ 0.
//! 5. **Sequence**: later-discharged groups first, non-EVs before EVs within a group, deeper
//!    cars first.
//!
//! The planner is deterministic: no randomness, no hash iteration, ties broken by index.

use crate::car::Car;
use crate::plan::{
    LaneRef, Placement, Plan, PlanConfig, Unplaced, UnplacedReason, car_moments, resequence,
};
use crate::rules;
use crate::vessel::{LaneIx, RampEnd, Vessel, VesselError};
use std::collections::BTreeMap;

/// Which lane-assignment heuristic to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Restricted-first, longest-first best fit with deck preference and heel steering.
    BestFit,
    /// Baseline: cars in input order, each into the first lane (vessel order) with room.
    FirstFit,
}

/// Planning could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The vessel fails validation; fix the vessel JSON.
    #[error(transparent)]
    InvalidVessel(#[from] VesselError),
    /// The configuration is unusable; every problem is listed.
    #[error("invalid plan configuration: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
}

/// Plans with the best-fit strategy. See the module docs for the algorithm.
///
/// # Errors
/// [`PlanError`] when the vessel or configuration is invalid. Bad cars never cause an
/// error: they come back in [`Plan::unplaced`] with a reason.
pub fn plan(vessel: &Vessel, cars: &[Car], config: &PlanConfig) -> Result<Plan, PlanError> {
    plan_with(vessel, cars, config, Strategy::BestFit)
}

/// Plans with the first-fit baseline (for comparison in the quality report).
///
/// # Errors
/// As [`plan`].
pub fn plan_first_fit(
    vessel: &Vessel,
    cars: &[Car],
    config: &PlanConfig,
) -> Result<Plan, PlanError> {
    plan_with(vessel, cars, config, Strategy::FirstFit)
}

/// Plans with a chosen strategy.
///
/// # Errors
/// As [`plan`].
pub fn plan_with(
    vessel: &Vessel,
    cars: &[Car],
    config: &PlanConfig,
    strategy: Strategy,
) -> Result<Plan, PlanError> {
    vessel.validate()?;
    let problems = config.problems();
    if !problems.is_empty() {
        return Err(PlanError::InvalidConfig(problems));
    }
    let lanes = flat_lanes(vessel);
    let screened = screen(vessel, cars, config, &lanes);
    let run = |variant: Variant| build(vessel, cars, config, &lanes, &screened, variant);
    let mut plan = match strategy {
        Strategy::FirstFit => run(Variant::FirstFit),
        Strategy::BestFit => {
            // A small portfolio: prefer the lowest deck a car fits (keeps high decks for
            // high cars when space is short), or prefer lanes already open (fewer part-filled
            // lanes when space is ample). Keep the one that places more lane-metres, then
            // leaves fewer metres free in the lanes it opens.
            let a = run(Variant::DeckFirst);
            let b = run(Variant::OpenFirst);
            let (sa, sb) = (score(&a, vessel, cars), score(&b, vessel, cars));
            if sb > sa { b } else { a }
        }
    };
    resequence(&mut plan, vessel, cars);
    Ok(plan)
}

/// Lane preference, smallest first: (non-EV in EV lane, new lane when open-first, deck
/// clear height, deck level, new lane, best-fit remainder or heel after).
type LaneKey = (bool, bool, i64, u32, bool, i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    FirstFit,
    DeckFirst,
    OpenFirst,
}

/// (placed lane-mm, −free mm in used lanes): larger is better.
fn score(plan: &Plan, vessel: &Vessel, cars: &[Car]) -> (i64, i64) {
    let gap = vessel.spacing.bumper_gap_mm;
    let idx = crate::plan::car_index(cars);
    let mut used: BTreeMap<&LaneRef, i64> = BTreeMap::new();
    for p in &plan.placements {
        if let Some(&ci) = idx.get(p.vin.as_str()) {
            *used.entry(&p.slot).or_default() += cars[ci].length_mm + gap;
        }
    }
    let placed: i64 = used.values().sum();
    let free: i64 = used
        .iter()
        .filter_map(|(slot, u)| {
            let lane = vessel.lane(vessel.lane_ix(&slot.deck, &slot.lane)?)?;
            Some(lane.length_mm + gap - u)
        })
        .sum();
    (placed, -free)
}

fn build(
    vessel: &Vessel,
    cars: &[Car],
    config: &PlanConfig,
    lanes: &[FlatLane],
    screened: &[Result<Vec<usize>, UnplacedReason>],
    variant: Variant,
) -> Plan {
    let mut st = State::new(vessel, config, lanes);
    match variant {
        Variant::FirstFit => st.assign_first_fit(cars, screened),
        Variant::DeckFirst => {
            st.assign_best_fit(cars, screened, false);
            st.improve_by_swaps(cars, screened);
        }
        Variant::OpenFirst => {
            st.assign_best_fit(cars, screened, true);
            st.improve_by_swaps(cars, screened);
        }
    }
    let mut positions = st.arrange(cars);
    let removed = st.repair_balance(cars, &mut positions);

    let mut placements = Vec::new();
    for (li, lane_cars) in st.lane_cars.iter().enumerate() {
        let ix = lanes[li].ix;
        let slot = LaneRef {
            deck: vessel.decks[ix.deck].id.clone(),
            lane: vessel.decks[ix.deck].lanes[ix.lane].id.clone(),
        };
        for &ci in lane_cars {
            if let Some(&pos) = positions.get(&ci) {
                placements.push(Placement {
                    vin: cars[ci].vin.clone(),
                    slot: slot.clone(),
                    position_mm: pos,
                    load_seq: 0,
                });
            }
        }
    }
    let mut unplaced = Vec::new();
    for (ci, s) in screened.iter().enumerate() {
        let reason = match s {
            Err(r) => Some(r.clone()),
            Ok(_) if removed.contains(&ci) => Some(UnplacedReason::BalanceLimit),
            Ok(_) if st.assigned[ci].is_none() => Some(UnplacedReason::NoCapacityLeft),
            Ok(_) => None,
        };
        if let Some(reason) = reason {
            unplaced.push(Unplaced {
                vin: cars[ci].vin.clone(),
                car_index: ci,
                reason,
            });
        }
    }
    Plan {
        vessel: vessel.name.clone(),
        config: config.clone(),
        placements,
        unplaced,
        locked_lanes: Vec::new(),
    }
}

/// A lane in the flat list the planner works on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlatLane {
    pub ix: LaneIx,
    pub ev: bool,
}

pub(crate) fn flat_lanes(vessel: &Vessel) -> Vec<FlatLane> {
    vessel
        .lanes()
        .map(|(ix, _, _)| FlatLane {
            ix,
            ev: vessel.is_ev_lane(ix),
        })
        .collect()
}

/// For each car: the flat indices of the lanes it fits on its own, or why it cannot go.
pub(crate) fn screen(
    vessel: &Vessel,
    cars: &[Car],
    config: &PlanConfig,
    lanes: &[FlatLane],
) -> Vec<Result<Vec<usize>, UnplacedReason>> {
    let has_ev_zone = lanes.iter().any(|l| l.ev);
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    cars.iter()
        .enumerate()
        .map(|(ci, car)| {
            if car.vin.trim().is_empty() {
                return Err(UnplacedReason::InvalidVin);
            }
            if let Some(&fi) = first.get(car.vin.as_str()) {
                return Err(UnplacedReason::DuplicateVin { first_index: fi });
            }
            first.insert(car.vin.as_str(), ci);
            if let Some(field) = rules::invalid_dimension(car) {
                let value = match field {
                    "length_mm" => car.length_mm,
                    "width_mm" => car.width_mm,
                    "height_mm" => car.height_mm,
                    _ => car.weight_kg,
                };
                return Err(UnplacedReason::InvalidDimensions {
                    field: field.to_owned(),
                    value,
                });
            }
            let ev = rules::is_ev(car, config);
            if ev && !rules::soc_ok(car, config) {
                return Err(UnplacedReason::EvSocOutOfRange {
                    soc_pct: car.soc_pct,
                    min_pct: config.soc_min_pct,
                    max_pct: config.soc_max_pct,
                });
            }
            if ev && !has_ev_zone {
                return Err(UnplacedReason::NoEvZone);
            }
            let fits: Vec<usize> = lanes
                .iter()
                .enumerate()
                .filter(|(_, fl)| {
                    let deck = &vessel.decks[fl.ix.deck];
                    let lane = &deck.lanes[fl.ix.lane];
                    rules::fits_lane(vessel, config, car, ev, deck, lane, fl.ev)
                })
                .map(|(i, _)| i)
                .collect();
            if fits.is_empty() {
                Err(why_not(vessel, config, car, ev, lanes))
            } else {
                Ok(fits)
            }
        })
        .collect()
}

/// The most specific reason a valid car fits no lane.
fn why_not(
    vessel: &Vessel,
    config: &PlanConfig,
    car: &Car,
    ev: bool,
    lanes: &[FlatLane],
) -> UnplacedReason {
    let s = &vessel.spacing;
    let usable: Vec<_> = lanes
        .iter()
        .filter(|fl| {
            if ev {
                fl.ev
            } else {
                !fl.ev || config.allow_non_ev_in_ev_zones
            }
        })
        .map(|fl| {
            let deck = &vessel.decks[fl.ix.deck];
            (deck, &deck.lanes[fl.ix.lane])
        })
        .collect();
    let needed_h = rules::needed_height(car, s);
    let highest = usable
        .iter()
        .map(|(d, _)| d.clear_height_mm)
        .max()
        .unwrap_or(0);
    if needed_h > highest {
        return UnplacedReason::TooTallForEveryDeck {
            needed_mm: needed_h,
            highest_mm: highest,
        };
    }
    let tall: Vec<_> = usable
        .into_iter()
        .filter(|(d, _)| needed_h <= d.clear_height_mm)
        .collect();
    let needed_w = rules::needed_width(car, s);
    let widest = tall.iter().map(|(_, l)| l.width_mm).max().unwrap_or(0);
    if needed_w > widest {
        return UnplacedReason::TooWideForEveryLane {
            needed_mm: needed_w,
            widest_mm: widest,
        };
    }
    let longest = tall
        .iter()
        .filter(|(_, l)| needed_w <= l.width_mm)
        .map(|(_, l)| l.length_mm)
        .max()
        .unwrap_or(0);
    if car.length_mm > longest {
        return UnplacedReason::TooLongForEveryLane {
            length_mm: car.length_mm,
            longest_mm: longest,
        };
    }
    UnplacedReason::TooHeavyForEveryDeck {
        weight_kg: car.weight_kg,
    }
}

struct State<'a> {
    vessel: &'a Vessel,
    config: &'a PlanConfig,
    lanes: &'a [FlatLane],
    /// Capacity per lane: length + bumper gap.
    cap: Vec<i64>,
    /// Used per lane: Σ (car length + bumper gap).
    used: Vec<i64>,
    lane_cars: Vec<Vec<usize>>,
    deck_kg: Vec<i64>,
    assigned: Vec<Option<usize>>,
    heel: i64,
}

impl<'a> State<'a> {
    fn new(vessel: &'a Vessel, config: &'a PlanConfig, lanes: &'a [FlatLane]) -> Self {
        let gap = vessel.spacing.bumper_gap_mm;
        State {
            vessel,
            config,
            lanes,
            cap: lanes
                .iter()
                .map(|fl| vessel.decks[fl.ix.deck].lanes[fl.ix.lane].length_mm + gap)
                .collect(),
            used: vec![0; lanes.len()],
            lane_cars: vec![Vec::new(); lanes.len()],
            deck_kg: vec![0; vessel.decks.len()],
            assigned: Vec::new(),
            heel: 0,
        }
    }

    fn item(&self, car: &Car) -> i64 {
        car.length_mm + self.vessel.spacing.bumper_gap_mm
    }

    fn room(&self, li: usize, car: &Car) -> bool {
        let deck = &self.vessel.decks[self.lanes[li].ix.deck];
        self.used[li] + self.item(car) <= self.cap[li]
            && deck
                .max_total_kg
                .is_none_or(|max| self.deck_kg[self.lanes[li].ix.deck] + car.weight_kg <= max)
    }

    fn put(&mut self, ci: usize, li: usize, car: &Car) {
        self.used[li] += self.item(car);
        self.lane_cars[li].push(ci);
        self.deck_kg[self.lanes[li].ix.deck] += car.weight_kg;
        self.heel += car.weight_kg * self.lane_y(li);
        self.assigned[ci] = Some(li);
    }

    fn lane_y(&self, li: usize) -> i64 {
        let ix = self.lanes[li].ix;
        self.vessel.decks[ix.deck].lanes[ix.lane].y_mm
    }

    fn assign_first_fit(&mut self, cars: &[Car], screened: &[Result<Vec<usize>, UnplacedReason>]) {
        self.assigned = vec![None; cars.len()];
        for (ci, s) in screened.iter().enumerate() {
            let Ok(fits) = s else { continue };
            if let Some(&li) = fits.iter().find(|&&li| self.room(li, &cars[ci])) {
                self.put(ci, li, &cars[ci]);
            }
        }
    }

    fn assign_best_fit(
        &mut self,
        cars: &[Car],
        screened: &[Result<Vec<usize>, UnplacedReason>],
        open_first: bool,
    ) {
        self.assigned = vec![None; cars.len()];
        let reach: Vec<i64> = screened
            .iter()
            .map(|s| match s {
                Ok(fits) => fits.iter().map(|&li| self.cap[li]).sum(),
                Err(_) => 0,
            })
            .collect();
        let mut order: Vec<usize> = (0..cars.len()).filter(|&ci| screened[ci].is_ok()).collect();
        order.sort_by_key(|&ci| (reach[ci], std::cmp::Reverse(cars[ci].length_mm), ci));
        let limits = self.config.balance_for(self.vessel);
        let soft = rules::tm_to_kgmm(limits.max_heel_moment_tm) / 2;
        for ci in order {
            let Ok(fits) = &screened[ci] else { continue };
            let car = &cars[ci];
            let ev = rules::is_ev(car, self.config);
            let mut chosen = None;
            for steer in [true, false] {
                let mut best: Option<(LaneKey, usize)> = None;
                for &li in fits {
                    if !self.room(li, car) {
                        continue;
                    }
                    let new_heel = self.heel + car.weight_kg * self.lane_y(li);
                    if steer && new_heel.abs() > soft && new_heel.abs() >= self.heel.abs() {
                        continue;
                    }
                    let deck = &self.vessel.decks[self.lanes[li].ix.deck];
                    let is_open = !self.lane_cars[li].is_empty();
                    let metric = if is_open {
                        self.cap[li] - self.used[li] - self.item(car)
                    } else {
                        new_heel.abs()
                    };
                    let key = (
                        !ev && self.lanes[li].ev,
                        open_first && !is_open,
                        deck.clear_height_mm,
                        deck.level,
                        !is_open,
                        metric,
                    );
                    if best.as_ref().is_none_or(|(k, _)| key < *k) {
                        best = Some((key, li));
                    }
                }
                if let Some((_, li)) = best {
                    chosen = Some(li);
                    break;
                }
            }
            if let Some(li) = chosen {
                self.put(ci, li, car);
            }
        }
    }

    /// When cars were left for lack of room, swaps a placed car for a longer unplaced one
    /// that still fits the lane's free length (same count, more lane-metres), lane by lane,
    /// until no swap gains. Keeps deck weight ratings and the soft heel limit.
    fn improve_by_swaps(&mut self, cars: &[Car], screened: &[Result<Vec<usize>, UnplacedReason>]) {
        let mut waiting: Vec<usize> = (0..cars.len())
            .filter(|&ci| screened[ci].is_ok() && self.assigned[ci].is_none())
            .collect();
        if waiting.is_empty() {
            return;
        }
        let limits = self.config.balance_for(self.vessel);
        let soft = rules::tm_to_kgmm(limits.max_heel_moment_tm) / 2;
        for li in 0..self.lanes.len() {
            let y = self.lane_y(li);
            let di = self.lanes[li].ix.deck;
            let max_kg = self.vessel.decks[di].max_total_kg;
            loop {
                let free = self.cap[li] - self.used[li];
                if free <= 0 {
                    break;
                }
                // Candidates: one waiting car per distinct (length, weight) fitting this lane.
                let mut reps: BTreeMap<(i64, i64), usize> = BTreeMap::new();
                for (wi, &ci) in waiting.iter().enumerate() {
                    if let Ok(fits) = &screened[ci]
                        && fits.binary_search(&li).is_ok()
                    {
                        reps.entry((cars[ci].length_mm, cars[ci].weight_kg))
                            .or_insert(wi);
                    }
                }
                let mut best: Option<(i64, usize, usize)> = None; // (gain, lane slot, waiting slot)
                for (k, &pi) in self.lane_cars[li].iter().enumerate() {
                    let p = &cars[pi];
                    for (&(len, kg), &wi) in &reps {
                        let gain = len - p.length_mm;
                        if gain <= 0 || gain > free {
                            continue;
                        }
                        let dkg = kg - p.weight_kg;
                        if max_kg.is_some_and(|m| self.deck_kg[di] + dkg > m) {
                            continue;
                        }
                        let new_heel = self.heel + dkg * y;
                        if new_heel.abs() > soft && new_heel.abs() > self.heel.abs() {
                            continue;
                        }
                        if best.is_none_or(|(g, _, _)| gain > g) {
                            best = Some((gain, k, wi));
                        }
                    }
                }
                let Some((gain, k, wi)) = best else { break };
                let out = self.lane_cars[li][k];
                let inn = waiting[wi];
                let dkg = cars[inn].weight_kg - cars[out].weight_kg;
                self.lane_cars[li][k] = inn;
                self.assigned[inn] = Some(li);
                self.assigned[out] = None;
                self.used[li] += gain;
                self.deck_kg[di] += dkg;
                self.heel += dkg * y;
                waiting[wi] = out;
            }
        }
    }

    /// Orders each lane (deepest first) and positions its cars; returns car → position.
    fn arrange(&mut self, cars: &[Car]) -> BTreeMap<usize, i64> {
        let gap = self.vessel.spacing.bumper_gap_mm;
        let limits = self.config.balance_for(self.vessel);
        let mut positions = BTreeMap::new();
        // Per lane: (flat index, direction of moment change per mm of slide, total weight,
        // free length, current slide).
        let mut slides: Vec<(usize, i64, i64, i64, i64)> = Vec::new();
        let mut trim_total: i64 = 0;
        for li in 0..self.lanes.len() {
            if self.lane_cars[li].is_empty() {
                continue;
            }
            let ix = self.lanes[li].ix;
            let deck = &self.vessel.decks[ix.deck];
            let lane = &deck.lanes[ix.lane];
            let config = self.config;
            self.lane_cars[li].sort_by_key(|&ci| {
                let c = &cars[ci];
                (
                    std::cmp::Reverse(c.discharge.seq),
                    rules::is_ev(c, config),
                    std::cmp::Reverse(c.length_mm),
                    c.vin.clone(),
                )
            });
            let block: i64 = self.lane_cars[li]
                .iter()
                .map(|&ci| cars[ci].length_mm + gap)
                .sum::<i64>()
                - gap;
            let free = (lane.length_mm - block).max(0);
            // Positions with the block against the far end (slide 0).
            let mut offset = 0;
            let mut placed = Vec::new();
            for &ci in &self.lane_cars[li] {
                let len = cars[ci].length_mm;
                let pos = match deck.ramp {
                    RampEnd::Aft => offset,
                    RampEnd::Fore => lane.length_mm - offset - len,
                };
                placed.push((ci, pos));
                offset += len + gap;
            }
            let weight: i64 = self.lane_cars[li]
                .iter()
                .map(|&ci| cars[ci].weight_kg)
                .sum();
            let m0: i64 = placed
                .iter()
                .map(|&(ci, pos)| car_moments(self.vessel, &limits, ix, pos, &cars[ci]).1)
                .sum();
            // Sliding towards the ramp by s mm moves cars aft (Aft ramp) or forward.
            let dir = match deck.ramp {
                RampEnd::Aft => -1,
                RampEnd::Fore => 1,
            };
            let s = if weight > 0 {
                clamp_div(-m0 * dir, weight, free)
            } else {
                0
            };
            for (ci, pos) in placed {
                positions.insert(ci, pos - dir * s);
            }
            trim_total += m0 + dir * weight * s;
            slides.push((li, dir, weight, free, s));
        }
        // If the ship as a whole is still over the trim limit, slide lanes further.
        let max_trim = rules::tm_to_kgmm(limits.max_trim_moment_tm);
        if trim_total.abs() > max_trim {
            for (li, dir, weight, free, s) in &mut slides {
                if trim_total.abs() <= max_trim / 2 {
                    break;
                }
                let delta = round_div(-trim_total * *dir, *weight).clamp(-*s, *free - *s);
                if delta == 0 {
                    continue;
                }
                *s += delta;
                trim_total += *dir * *weight * delta;
                let ix = self.lanes[*li].ix;
                let ramp = self.vessel.decks[ix.deck].ramp;
                for &ci in &self.lane_cars[*li] {
                    if let Some(p) = positions.get_mut(&ci) {
                        *p += match ramp {
                            RampEnd::Aft => delta,
                            RampEnd::Fore => -delta,
                        };
                    }
                }
            }
        }
        positions
    }

    /// Takes cars off until heel and trim are within limits; returns the cars taken off.
    fn repair_balance(&mut self, cars: &[Car], positions: &mut BTreeMap<usize, i64>) -> Vec<usize> {
        let limits = self.config.balance_for(self.vessel);
        let (lh, lt) = (
            rules::tm_to_kgmm(limits.max_heel_moment_tm),
            rules::tm_to_kgmm(limits.max_trim_moment_tm),
        );
        let mut contrib: Vec<(usize, i64, i64)> = Vec::new();
        for (li, lane_cars) in self.lane_cars.iter().enumerate() {
            for &ci in lane_cars {
                if let Some(&pos) = positions.get(&ci) {
                    let (h, t) =
                        car_moments(self.vessel, &limits, self.lanes[li].ix, pos, &cars[ci]);
                    contrib.push((ci, h, t));
                }
            }
        }
        let mut h: i64 = contrib.iter().map(|c| c.1).sum();
        let mut t: i64 = contrib.iter().map(|c| c.2).sum();
        let excess = |h: i64, t: i64| -> f64 {
            (h.abs() - lh).max(0) as f64 / (lh as f64 + 1.0e6)
                + (t.abs() - lt).max(0) as f64 / (lt as f64 + 1.0e6)
        };
        let mut removed = Vec::new();
        while excess(h, t) > 0.0 && !contrib.is_empty() {
            let mut best = 0;
            let mut best_e = f64::INFINITY;
            for (k, &(_, ch, ct)) in contrib.iter().enumerate() {
                let e = excess(h - ch, t - ct);
                if e < best_e {
                    best_e = e;
                    best = k;
                }
            }
            let (ci, ch, ct) = contrib.swap_remove(best);
            h -= ch;
            t -= ct;
            positions.remove(&ci);
            if let Some(li) = self.assigned[ci] {
                self.lane_cars[li].retain(|&c| c != ci);
            }
            removed.push(ci);
        }
        removed
    }
}

/// round(num / den) clamped to 0..=max (0 when den ≤ 0 or max ≤ 0).
fn clamp_div(num: i64, den: i64, max: i64) -> i64 {
    if den <= 0 || max <= 0 {
        return 0;
    }
    round_div(num, den).clamp(0, max)
}

/// round(num / den) for den > 0 (0 otherwise).
fn round_div(num: i64, den: i64) -> i64 {
    if den <= 0 {
        return 0;
    }
    (num + den / 2).div_euclid(den)
}
