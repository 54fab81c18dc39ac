//! Plan quality, measured against an upper bound rather than assumed.
//!
//! # The bound
//!
//! Measure cargo in *lane-millimetres*: a car takes `length + bumper gap`, a lane offers
//! `length + bumper gap` (n cars fit a lane iff `Σ length + (n−1)·gap ≤ lane length`, i.e. iff
//! `Σ (length + gap) ≤ lane length + gap`).
//!
//! Group lanes into classes (same deck, width, length and EV-zone status: every per-car rule
//! treats them alike) and cars into types (same set of classes they fit, by
//! the very predicates the planner and [`crate::check`] use). Build a flow network
//! source → car type (capacity: Σ of its cars' lane-mm) → lane class (unbounded, when the type
//! fits the class) → sink (capacity: Σ of the class's lane capacities).
//!
//! **Claim.** For any plan that passes [`crate::check`], the lane-mm it places is at most the
//! maximum flow of this network.
//!
//! **Proof.** Given a valid plan, send from each car type to each lane class the lane-mm of
//! that type's cars placed in that class. A car is only placed in a lane it fits, so every
//! edge used exists; a type sends at most the lane-mm of its cars (each car is placed at
//! most once); a class receives at most Σ over its lanes of (lane length + gap), because each
//! valid lane holds cars with `Σ (length + gap) ≤ length + gap` (no overlap, bumper gaps).
//! So the plan induces a feasible flow whose value is the plan's placed lane-mm, and the
//! maximum flow is at least that. ∎
//!
//! The bound relaxes integrality (cars may be split across lanes), balance, and deck weight
//! totals, so it is optimistic; a plan at 100 % of it is optimal. Cars that no valid plan may
//! place (duplicates after the first, bad SoC, invalid or oversize) contribute nothing.

use crate::car::Car;
use crate::check::moments_tm;
use crate::plan::{Plan, PlanConfig, car_index};
use crate::planner::{flat_lanes, screen};
use crate::vessel::Vessel;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Measured quality of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Cars given.
    pub cars: usize,
    /// Cars placed.
    pub placed: usize,
    /// Cars left behind.
    pub unplaced: usize,
    /// Σ (length + gap) of placed cars, mm.
    pub placed_lane_mm: i64,
    /// Upper bound on placeable lane-mm for this vessel and these cars (see module docs).
    pub bound_lane_mm: i64,
    /// Σ (length + gap) of all cars that could be placed on their own, mm.
    pub demand_lane_mm: i64,
    /// Σ (lane length + gap) of the vessel, mm.
    pub capacity_lane_mm: i64,
    /// Lanes with at least one car.
    pub lanes_used: usize,
    /// Lanes on the vessel.
    pub lanes_total: usize,
    /// Free lane length in lanes with at least one car, mm (lane-metres opened but unused).
    pub wasted_lane_mm: i64,
    /// Heeling moment of the cargo, t·m (+ = to starboard).
    pub heel_moment_tm: f64,
    /// Trimming moment of the cargo about the reference, t·m (+ = by the head).
    pub trim_moment_tm: f64,
}

impl Quality {
    /// Placed lane-mm as a percentage of the bound (100 when the bound is 0).
    pub fn pct_of_bound(&self) -> f64 {
        pct(self.placed_lane_mm, self.bound_lane_mm)
    }

    /// Placed lane-mm as a percentage of the vessel's lane capacity.
    pub fn utilisation_pct(&self) -> f64 {
        pct(self.placed_lane_mm, self.capacity_lane_mm)
    }
}

fn pct(a: i64, b: i64) -> f64 {
    if b <= 0 {
        100.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

/// The upper bound on placeable lane-mm (see module docs). Returns 0 for an invalid vessel.
pub fn upper_bound_lane_mm(vessel: &Vessel, cars: &[Car], config: &PlanConfig) -> i64 {
    if vessel.validate().is_err() || !config.problems().is_empty() {
        return 0;
    }
    let lanes = flat_lanes(vessel);
    let gap = vessel.spacing.bumper_gap_mm;
    // Lane classes.
    let mut class_of = Vec::with_capacity(lanes.len());
    let mut classes: BTreeMap<(usize, bool, i64, i64), usize> = BTreeMap::new();
    let mut class_cap: Vec<i64> = Vec::new();
    for fl in &lanes {
        let lane = &vessel.decks[fl.ix.deck].lanes[fl.ix.lane];
        let key = (fl.ix.deck, fl.ev, lane.width_mm, lane.length_mm);
        let next = classes.len();
        let c = *classes.entry(key).or_insert(next);
        if c == class_cap.len() {
            class_cap.push(0);
        }
        class_cap[c] += lane.length_mm + gap;
        class_of.push(c);
    }
    // Car types.
    let mut types: BTreeMap<Vec<usize>, i64> = BTreeMap::new();
    for (ci, s) in screen(vessel, cars, config, &lanes).into_iter().enumerate() {
        if let Ok(fits) = s {
            let set: BTreeSet<usize> = fits.iter().map(|&li| class_of[li]).collect();
            *types.entry(set.into_iter().collect()).or_default() += cars[ci].length_mm + gap;
        }
    }
    // Network: 0 = source, 1 = sink, then types, then classes.
    let n_types = types.len();
    let mut g = FlowGraph::new(2 + n_types + class_cap.len());
    for (ti, (set, demand)) in types.iter().enumerate() {
        g.add_edge(0, 2 + ti, *demand);
        for &c in set {
            g.add_edge(2 + ti, 2 + n_types + c, i64::MAX / 4);
        }
    }
    for (c, cap) in class_cap.iter().enumerate() {
        g.add_edge(2 + n_types + c, 1, *cap);
    }
    g.max_flow(0, 1)
}

/// Measures a plan.
pub fn quality(plan: &Plan, vessel: &Vessel, cars: &[Car]) -> Quality {
    let gap = vessel.spacing.bumper_gap_mm;
    let idx = car_index(cars);
    let mut placed_lane_mm = 0;
    let mut lane_used: BTreeMap<(String, String), i64> = BTreeMap::new();
    for p in &plan.placements {
        if let Some(&ci) = idx.get(p.vin.as_str()) {
            let item = cars[ci].length_mm + gap;
            placed_lane_mm += item;
            *lane_used
                .entry((p.slot.deck.clone(), p.slot.lane.clone()))
                .or_default() += item;
        }
    }
    let mut wasted = 0;
    for ((d, l), used) in &lane_used {
        if let Some(lane) = vessel.lane_ix(d, l).and_then(|ix| vessel.lane(ix)) {
            wasted += (lane.length_mm + gap - used).max(0);
        }
    }
    let demand_lane_mm = if vessel.validate().is_ok() {
        screen(vessel, cars, &plan.config, &flat_lanes(vessel))
            .iter()
            .zip(cars)
            .filter(|(s, _)| s.is_ok())
            .map(|(_, c)| c.length_mm + gap)
            .sum()
    } else {
        0
    };
    let (heel, trim) = moments_tm(plan, vessel, cars);
    Quality {
        cars: cars.len(),
        placed: plan.placements.len(),
        unplaced: plan.unplaced.len(),
        placed_lane_mm,
        bound_lane_mm: upper_bound_lane_mm(vessel, cars, &plan.config),
        demand_lane_mm,
        capacity_lane_mm: vessel.lanes().map(|(_, _, l)| l.length_mm + gap).sum(),
        lanes_used: lane_used.len(),
        lanes_total: vessel.lanes().count(),
        wasted_lane_mm: wasted,
        heel_moment_tm: heel,
        trim_moment_tm: trim,
    }
}

/// A small Dinic max-flow on integer capacities.
struct FlowGraph {
    adj: Vec<Vec<usize>>,
    to: Vec<usize>,
    cap: Vec<i64>,
}

impl FlowGraph {
    fn new(n: usize) -> Self {
        FlowGraph {
            adj: vec![Vec::new(); n],
            to: Vec::new(),
            cap: Vec::new(),
        }
    }

    fn add_edge(&mut self, a: usize, b: usize, c: i64) {
        self.adj[a].push(self.to.len());
        self.to.push(b);
        self.cap.push(c);
        self.adj[b].push(self.to.len());
        self.to.push(a);
        self.cap.push(0);
    }

    fn max_flow(&mut self, s: usize, t: usize) -> i64 {
        let n = self.adj.len();
        let mut total = 0i64;
        loop {
            // BFS levels.
            let mut level = vec![usize::MAX; n];
            level[s] = 0;
            let mut queue = std::collections::VecDeque::from([s]);
            while let Some(u) = queue.pop_front() {
                for &e in &self.adj[u] {
                    let v = self.to[e];
                    if self.cap[e] > 0 && level[v] == usize::MAX {
                        level[v] = level[u] + 1;
                        queue.push_back(v);
                    }
                }
            }
            if level[t] == usize::MAX {
                return total;
            }
            let mut it = vec![0usize; n];
            loop {
                let f = self.dfs(s, t, i64::MAX, &level, &mut it);
                if f == 0 {
                    break;
                }
                total = total.saturating_add(f);
            }
        }
    }

    fn dfs(&mut self, u: usize, t: usize, f: i64, level: &[usize], it: &mut [usize]) -> i64 {
        if u == t {
            return f;
        }
        while it[u] < self.adj[u].len() {
            let e = self.adj[u][it[u]];
            let v = self.to[e];
            if self.cap[e] > 0 && level[v] == level[u].wrapping_add(1) {
                let d = self.dfs(v, t, f.min(self.cap[e]), level, it);
                if d > 0 {
                    self.cap[e] -= d;
                    self.cap[e ^ 1] += d;
                    return d;
                }
            }
            it[u] += 1;
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_flow_small_network() {
        // s→a 3, s→b 2, a→t 2, b→t 3, a→b 1: max flow 5.
        let mut g = FlowGraph::new(4);
        g.add_edge(0, 2, 3);
        g.add_edge(0, 3, 2);
        g.add_edge(2, 1, 2);
        g.add_edge(3, 1, 3);
        g.add_edge(2, 3, 1);
        assert_eq!(g.max_flow(0, 1), 5);
    }
}
