//! Plain-text rendering of a plan and its quality, for `jianghai stowage plan`.

use crate::car::Car;
use crate::plan::{Plan, car_index};
use crate::quality::Quality;
use crate::rules;
use crate::vessel::Vessel;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How much to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RenderOptions {
    /// List every car in every lane (otherwise one line per lane).
    pub list_cars: bool,
}

/// Renders a plan: header, quality, a table of decks and lanes, optionally every car, and
/// every car left behind with its reason. Pass `baseline` to add a first-fit comparison.
pub fn render_plan(
    plan: &Plan,
    vessel: &Vessel,
    cars: &[Car],
    quality: &Quality,
    baseline: Option<&Quality>,
    options: RenderOptions,
) -> String {
    let mut s = String::new();
    let q = quality;
    let _ = writeln!(s, "Stowage plan for {}", vessel.name);
    let _ = writeln!(
        s,
        "  cars {}  placed {}  left behind {}",
        q.cars, q.placed, q.unplaced
    );
    let _ = writeln!(
        s,
        "  lane metres placed {:.1} of bound {:.1} ({:.1}%); utilisation {:.1}% of {:.1} m; \
         {} of {} lanes used, {:.1} m free in used lanes",
        m(q.placed_lane_mm),
        m(q.bound_lane_mm),
        q.pct_of_bound(),
        q.utilisation_pct(),
        m(q.capacity_lane_mm),
        q.lanes_used,
        q.lanes_total,
        m(q.wasted_lane_mm)
    );
    let limits = plan.config.balance_for(vessel);
    let _ = writeln!(
        s,
        "  heel moment {:+.1} t·m (limit ±{:.0}), trim moment {:+.1} t·m (limit ±{:.0})",
        q.heel_moment_tm, limits.max_heel_moment_tm, q.trim_moment_tm, limits.max_trim_moment_tm
    );
    if let Some(b) = baseline {
        let _ = writeln!(
            s,
            "  first-fit baseline: placed {} cars, {:.1} m ({:.1}% of bound), {:.1} m free in {} used lanes",
            b.placed,
            m(b.placed_lane_mm),
            b.pct_of_bound(),
            m(b.wasted_lane_mm),
            b.lanes_used
        );
    }
    let idx = car_index(cars);
    let mut by_lane: BTreeMap<(&str, &str), Vec<&crate::plan::Placement>> = BTreeMap::new();
    for p in &plan.placements {
        by_lane
            .entry((p.slot.deck.as_str(), p.slot.lane.as_str()))
            .or_default()
            .push(p);
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<6} {:<8} {:>6} {:>5} {:>9} {:>6} {:>4} {:>4}  groups",
        "deck", "lane", "len m", "cars", "used m", "fill%", "EVs", "lock"
    );
    for d in &vessel.decks {
        for l in &d.lanes {
            let ps = by_lane
                .get(&(d.id.as_str(), l.id.as_str()))
                .cloned()
                .unwrap_or_default();
            let mut used = 0;
            let mut evs = 0;
            let mut groups: Vec<u32> = Vec::new();
            for p in &ps {
                if let Some(&ci) = idx.get(p.vin.as_str()) {
                    let c = &cars[ci];
                    used += c.length_mm + vessel.spacing.bumper_gap_mm;
                    evs += usize::from(rules::is_ev(c, &plan.config));
                    if !groups.contains(&c.discharge.seq) {
                        groups.push(c.discharge.seq);
                    }
                }
            }
            groups.sort_unstable();
            let used = (used - vessel.spacing.bumper_gap_mm).max(0);
            let locked = plan
                .locked_lanes
                .iter()
                .any(|r| r.deck == d.id && r.lane == l.id);
            let ev_mark = if vessel
                .ev_zones
                .iter()
                .any(|z| z.deck == d.id && z.lanes.contains(&l.id))
            {
                format!("{evs}*")
            } else {
                evs.to_string()
            };
            let _ = writeln!(
                s,
                "{:<6} {:<8} {:>6.1} {:>5} {:>9.1} {:>6.1} {:>4} {:>4}  {}",
                d.id,
                l.id,
                m(l.length_mm),
                ps.len(),
                m(used),
                100.0 * used as f64 / l.length_mm.max(1) as f64,
                ev_mark,
                if locked { "yes" } else { "" },
                groups
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            );
            if options.list_cars {
                let mut ps = ps;
                ps.sort_by_key(|p| p.position_mm);
                for p in ps {
                    let Some(&ci) = idx.get(p.vin.as_str()) else {
                        continue;
                    };
                    let c = &cars[ci];
                    let _ = writeln!(
                        s,
                        "         #{:<5} {:>7.2} m  {}  {} {} {}×{}×{} mm {} kg  discharge {} {}",
                        p.load_seq,
                        p.position_m(),
                        p.vin,
                        c.powertrain,
                        c.soc_pct.map(|v| format!("{v}%")).unwrap_or_default(),
                        c.length_mm,
                        c.width_mm,
                        c.height_mm,
                        c.weight_kg,
                        c.discharge.seq,
                        c.discharge.label
                    );
                }
            }
        }
    }
    let _ = writeln!(s, "(* = EV zone lane)");
    if !plan.unplaced.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "Left behind ({}):", plan.unplaced.len());
        for u in &plan.unplaced {
            let _ = writeln!(
                s,
                "  car #{:<5} {:<17}  {}",
                u.car_index + 1,
                u.vin,
                u.reason
            );
        }
    }
    s
}

fn m(mm: i64) -> f64 {
    mm as f64 / 1000.0
}
