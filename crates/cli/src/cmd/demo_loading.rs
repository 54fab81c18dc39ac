//! The demo's loading (精准装船): the river vessel's deck plan (the Yangtze fixture), a stowage
//! plan for the 108 cars from their models' dimensions, powertrains and states of charge, ramp
//! scans in plan order at the scenario's load times — one car driven to the wrong lane is
//! refused with an alert, then rescanned in its planned lane — and load-complete, which the
//! departure waits for.

use anyhow::Context;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use jianghai_core::{Ident, Powertrain as CorePowertrain, Vin};
use jianghai_sim::{Scenario, ids};
use jianghai_store::{AlertScope, By, NewRampScan, Store};
use jianghai_stowage::{self as stowage, Car, Discharge, LaneRef, PlanConfig, Powertrain};
use uuid::Uuid;

/// The position in the load sequence of the car first driven to the wrong lane.
const MISDIRECTED: usize = 40;

fn id(s: &str) -> anyhow::Result<Ident> {
    Ident::parse(s).map_err(|e| anyhow::anyhow!("{s}: {e}"))
}

fn powertrain(p: CorePowertrain) -> Powertrain {
    match p {
        CorePowertrain::Bev => Powertrain::Bev,
        CorePowertrain::Phev => Powertrain::Phev,
        CorePowertrain::Erev => Powertrain::Erev,
        CorePowertrain::Hev => Powertrain::Hev,
        CorePowertrain::Ice => Powertrain::Ice,
    }
}

/// The scenario's cars as the planner sees them. Weights come from the stowage crate's model
/// table (same dimensions), else a round figure per powertrain.
fn cars(s: &Scenario) -> Vec<Car> {
    let specs = stowage::vehicle_models();
    s.cars
        .iter()
        .map(|c| {
            let m = c.model;
            let (l, w, h) = (
                i64::from(m.length_mm),
                i64::from(m.width_mm),
                i64::from(m.height_mm),
            );
            let weight_kg = specs
                .iter()
                .find(|x| x.length_mm == l && x.width_mm == w && x.height_mm == h)
                .map(|x| x.weight_kg)
                .unwrap_or(if m.powertrain.is_electric() {
                    2_000
                } else {
                    1_600
                });
            Car {
                vin: c.vin.to_string(),
                model: format!("{} {}", m.maker, m.model),
                length_mm: l,
                width_mm: w,
                height_mm: h,
                weight_kg,
                powertrain: powertrain(m.powertrain),
                soc_pct: c.soc_pct,
                discharge: Discharge {
                    seq: 1,
                    label: "Shanghai Haitong".into(),
                },
            }
        })
        .collect()
}

/// Plans and loads the river voyage. `load_times` are the scenario's load times, in order;
/// the k-th car of the plan's load sequence is scanned at the k-th. Returns the report lines.
pub async fn run(
    store: &Store,
    s: &Scenario,
    load_times: &[DateTime<FixedOffset>],
) -> anyhow::Result<Vec<String>> {
    let voyage = s.world.voyages[0].id.clone();
    let vessel = s.world.voyages[0].vessel.clone();
    let carrier = By {
        organisation: id(ids::RIVER_CARRIER)?,
        username: "stowage-planner".into(),
    };
    let ramp = By {
        organisation: id(ids::YARD_PORT)?,
        username: "ramp-checker".into(),
    };
    let first = load_times
        .first()
        .context("the scenario loads no car")?
        .with_timezone(&Utc);
    let deck_plan = stowage::Vessel::from_json(stowage::fixtures::YANGTZE_CAR_CARRIER)?;
    store
        .put_deck_plan(&vessel, &deck_plan, &carrier, first - Duration::hours(3))
        .await?;
    let plan = store
        .create_stowage_plan(
            &voyage,
            cars(s),
            &PlanConfig::default(),
            &carrier,
            first - Duration::hours(2),
        )
        .await?;
    anyhow::ensure!(
        plan.plan.unplaced.is_empty(),
        "the planner left cars ashore: {:?}",
        plan.plan.unplaced
    );
    let q = stowage::quality(&plan.plan, &plan.deck_plan, &plan.cars);
    let mut lines = vec![format!(
        "stowage plan for {voyage} on {}: {} cars in {} of {} lanes, {:.1}% of the lane-metre bound",
        deck_plan.name,
        q.placed,
        q.lanes_used,
        q.lanes_total,
        q.pct_of_bound()
    )];

    let mut order: Vec<_> = plan.plan.placements.iter().collect();
    order.sort_by_key(|p| p.load_seq);
    anyhow::ensure!(
        order.len() == load_times.len(),
        "the plan places {} cars, the scenario loads {}",
        order.len(),
        load_times.len()
    );
    let lanes: Vec<LaneRef> = deck_plan
        .lanes()
        .map(|(_, d, l)| LaneRef {
            deck: d.id.clone(),
            lane: l.id.clone(),
        })
        .collect();
    for (k, (p, at)) in order.iter().zip(load_times).enumerate() {
        let vin = Vin::parse(&p.vin).map_err(|e| anyhow::anyhow!("{}: {e}", p.vin))?;
        let at = at.with_timezone(&Utc);
        if k == MISDIRECTED {
            let wrong = lanes
                .iter()
                .find(|l| l.deck == p.slot.deck && **l != p.slot)
                .or_else(|| lanes.iter().find(|l| **l != p.slot))
                .context("a vessel with one lane")?;
            let r = store
                .load_scan(
                    &voyage,
                    &NewRampScan {
                        id: Uuid::new_v4(),
                        vin,
                        slot: wrong.clone(),
                        at: at - Duration::minutes(1),
                    },
                    &ramp,
                )
                .await?;
            anyhow::ensure!(
                !r.accepted && r.planned() == Some(&p.slot),
                "a wrong-slot scan was not refused: {r:?}"
            );
            let alert = r.alert.context("the wrong-slot scan raised no alert")?;
            lines.push(format!(
                "ramp scan {vin}: driven to {wrong}, planned for {} → refused, alert raised; rescanned in {}",
                p.slot, p.slot
            ));
            store
                .resolve_alert(
                    alert,
                    &AlertScope::All,
                    "ramp-checker",
                    Some("driven back and loaded in its planned lane"),
                    at,
                )
                .await
                .map_err(|e| anyhow::anyhow!("resolving the wrong-slot alert: {e}"))?;
        }
        let r = store
            .load_scan(
                &voyage,
                &NewRampScan {
                    id: Uuid::new_v4(),
                    vin,
                    slot: p.slot.clone(),
                    at,
                },
                &ramp,
            )
            .await?;
        anyhow::ensure!(r.accepted, "{vin} was not loaded: {r:?}");
    }
    lines.push(format!(
        "ramp: {} cars scanned in plan order and loaded",
        order.len()
    ));
    Ok(lines)
}

/// Load-complete before the river departure: the departure is held until it allows it.
pub async fn complete(
    store: &Store,
    s: &Scenario,
    depart_at: DateTime<FixedOffset>,
) -> anyhow::Result<String> {
    let voyage = s.world.voyages[0].id.clone();
    anyhow::ensure!(
        store.departure_blocker(voyage.as_str()).await?.is_some(),
        "departure was not held before load-complete"
    );
    let c = store
        .load_complete(
            &voyage,
            &By {
                organisation: id(ids::RIVER_CARRIER)?,
                username: "chief-officer".into(),
            },
            depart_at.with_timezone(&Utc) - Duration::minutes(30),
        )
        .await?;
    let r = &c.reconciliation;
    if let Some(why) = store.departure_blocker(voyage.as_str()).await? {
        anyhow::bail!("departure still blocked after load-complete: {why}");
    }
    Ok(format!(
        "load-complete: {} loaded as planned, {} left behind, {} extra, {} misplaced → departure allowed",
        r.loaded_ok,
        r.left_behind.len(),
        r.extra.len(),
        r.wrong_slot.len()
    ))
}
