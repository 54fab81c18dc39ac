//! The 108-car consignment of the source article, as an ordered list of events.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use jianghai_core::{Actor, Event, Ident, Step, Vin};

use crate::fleet::{CarModel, MODELS};
use crate::world::{World, corridor_world, ids};

/// One generated car.
#[derive(Debug, Clone, PartialEq)]
pub struct Car {
    pub vin: Vin,
    pub model: &'static CarModel,
    /// Battery state of charge at hand-over, for cars with a traction battery.
    pub soc_pct: Option<u8>,
}

/// One step of a scenario: the event to submit and whether the platform must refuse it.
#[derive(Debug, Clone)]
pub struct ScenarioStep {
    pub label: String,
    pub event: Event,
    pub expect_refusal: bool,
}

/// A complete scenario: the world, the cars and the steps in submission order.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub world: World,
    pub cars: Vec<Car>,
    pub steps: Vec<ScenarioStep>,
}

/// China Standard Time, where every step of this corridor happens.
fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

fn org(s: &str) -> Ident {
    Ident::parse(s).expect("scenario identifiers are valid")
}

fn pick_model(rng: &mut fastrand::Rng) -> &'static CarModel {
    let total: u32 = MODELS.iter().map(|m| m.weight).sum();
    let mut x = rng.u32(..total);
    for m in MODELS {
        if x < m.weight {
            return m;
        }
        x -= m.weight;
    }
    &MODELS[0]
}

fn make_vin(model: &CarModel, serial: u32) -> Vin {
    let pt = match model.powertrain {
        jianghai_core::Powertrain::Bev => 'E',
        jianghai_core::Powertrain::Phev => 'P',
        jianghai_core::Powertrain::Erev => 'R',
        jianghai_core::Powertrain::Hev => 'H',
        jianghai_core::Powertrain::Ice => 'G',
    };
    // WMI, model line, powertrain, restraint, body, check digit, 2025, Chongqing plant, serial.
    let body = format!(
        "{}{}{pt}CA0SC{:06}",
        model.wmi,
        model.line,
        serial % 1_000_000
    );
    Vin::with_check_digit(&body).expect("generated VINs use legal characters")
}

/// The cars of one consignment: `n` cars, seeded, with serials unique per `run`.
pub fn cars(n: usize, seed: u64, run: u32) -> Vec<Car> {
    let mut rng = fastrand::Rng::with_seed(seed ^ u64::from(run).rotate_left(32));
    (0..n)
        .map(|i| {
            let model = pick_model(&mut rng);
            let soc_pct = model.powertrain.is_electric().then(|| rng.u8(30..=50));
            Car {
                vin: make_vin(model, run * 1_000 + i as u32 + 1),
                model,
                soc_pct,
            }
        })
        .collect()
}

/// The source article's run: 108 Chongqing cars, Guoyuan → Shanghai Haitong → Mexico.
///
/// Event times start `start` and span sixteen days, as the real test did (platform test from
/// 27 June, ocean departure 13 July 2025); pass a start at least seventeen days before now so
/// no event lies in the future. Car 18 is offered for loading before customs declaration (the
/// platform must refuse it) and car 43 is held by customs for inspection, then released.
pub fn consignment_108(start: DateTime<Utc>, run: u32, seed: u64) -> Scenario {
    let world = corridor_world(run);
    let cars = cars(108, seed, run);
    let mut ids_rng = fastrand::Rng::with_seed(seed.wrapping_mul(31) ^ u64::from(run));
    let river_voyage = world.voyages[0].id.clone();
    let ocean_voyage = world.voyages[1].id.clone();
    let t0 = start.with_timezone(&cst());
    let mut steps = Vec::new();

    let mut push = |label: String,
                    step: Step,
                    at: DateTime<FixedOffset>,
                    vins: Vec<Vin>,
                    by: &str,
                    place: Option<&str>,
                    voyage: Option<&Ident>,
                    refuse: bool| {
        let mut bytes = [0u8; 16];
        for b in &mut bytes {
            *b = ids_rng.u8(..);
        }
        let mut e = Event::lifecycle(
            uuid::Builder::from_random_bytes(bytes).into_uuid(),
            step,
            at,
            vins,
            Actor {
                organisation: org(by),
                user: None,
                device: None,
            },
        );
        e.read_point = place.map(org);
        e.biz_location = place.map(org);
        e.subjects.voyage = voyage.cloned();
        steps.push(ScenarioStep {
            label,
            event: e,
            expect_refusal: refuse,
        });
    };
    let all: Vec<Vin> = cars.iter().map(|c| c.vin).collect();
    let day =
        |d: i64, h: i64, m: i64| t0 + Duration::days(d) + Duration::hours(h) + Duration::minutes(m);

    push(
        "manifest: 108 cars registered".into(),
        Step::Register,
        day(0, 1, 0),
        all.clone(),
        ids::EXPORTER,
        None,
        None,
        false,
    );
    for (i, c) in cars.iter().enumerate() {
        let at = day(0, 2, 20 * i as i64);
        push(
            format!("gate-in {}", c.vin),
            Step::GateIn,
            at,
            vec![c.vin],
            ids::YARD_PORT,
            Some(ids::YARD),
            None,
            false,
        );
    }
    for (i, c) in cars.iter().enumerate() {
        let at = day(1, 14, 15 * i as i64);
        push(
            format!("tally {}", c.vin),
            Step::Tally,
            at,
            vec![c.vin],
            ids::YARD_PORT,
            Some(ids::YARD),
            None,
            false,
        );
    }
    let early = cars[17].vin;
    push(
        format!("loading {early} before declaration (must be refused)"),
        Step::Load,
        day(3, 9, 0),
        vec![early],
        ids::RIVER_CARRIER,
        Some(ids::RIVER_BERTH),
        Some(&river_voyage),
        true,
    );
    push(
        "export declaration and transit (转关) declared".into(),
        Step::Declare,
        day(4, 2, 0),
        all.clone(),
        ids::DEPARTURE_CUSTOMS,
        None,
        Some(&river_voyage),
        false,
    );
    let inspected = cars[42].vin;
    push(
        format!("customs hold {inspected} for inspection"),
        Step::Hold,
        day(4, 3, 0),
        vec![inspected],
        ids::DEPARTURE_CUSTOMS,
        Some(ids::YARD),
        None,
        false,
    );
    push(
        format!("customs release {inspected}"),
        Step::Release,
        day(4, 7, 0),
        vec![inspected],
        ids::DEPARTURE_CUSTOMS,
        Some(ids::YARD),
        None,
        false,
    );
    for (i, c) in cars.iter().enumerate() {
        let at = day(5, 1, 3 * i as i64);
        push(
            format!("load {}", c.vin),
            Step::Load,
            at,
            vec![c.vin],
            ids::RIVER_CARRIER,
            Some(ids::RIVER_BERTH),
            Some(&river_voyage),
            false,
        );
    }
    push(
        "departure from Guoyuan".into(),
        Step::Depart,
        day(5, 12, 0),
        all.clone(),
        ids::RIVER_CARRIER,
        Some(ids::RIVER_BERTH),
        Some(&river_voyage),
        false,
    );
    push(
        "arrival at Shanghai Haitong".into(),
        Step::Arrive,
        day(11, 0, 0),
        all.clone(),
        ids::RIVER_CARRIER,
        Some(ids::SEA_TERMINAL),
        Some(&river_voyage),
        false,
    );
    push(
        "transit closed (转关核销)".into(),
        Step::CloseTransit,
        day(11, 6, 0),
        all.clone(),
        ids::EXIT_CUSTOMS,
        Some(ids::SEA_TERMINAL),
        Some(&river_voyage),
        false,
    );
    for (i, c) in cars.iter().enumerate() {
        let at = day(13, 0, 2 * i as i64);
        push(
            format!("transship {}", c.vin),
            Step::Transship,
            at,
            vec![c.vin],
            ids::OCEAN_CARRIER,
            Some(ids::SEA_TERMINAL),
            Some(&ocean_voyage),
            false,
        );
    }
    push(
        "ocean departure for Mexico: exported".into(),
        Step::Export,
        day(16, 2, 0),
        all,
        ids::OCEAN_CARRIER,
        Some(ids::SEA_TERMINAL),
        Some(&ocean_voyage),
        false,
    );

    Scenario { world, cars, steps }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jianghai_core::lifecycle::{self, Status};
    use std::collections::HashMap;

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-27T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn the_consignment_matches_the_article() {
        let s = consignment_108(start(), 1, 42);
        assert_eq!(s.cars.len(), 108);
        let mut vins: Vec<_> = s.cars.iter().map(|c| c.vin).collect();
        vins.sort();
        vins.dedup();
        assert_eq!(vins.len(), 108, "VINs are unique");
        assert!(s.cars.iter().all(|c| matches!(c.vin.wmi(), "LS5" | "LM8")));
        assert!(s.cars.iter().all(|c| c.vin.manufacturer().is_some()));
        let electric = s
            .cars
            .iter()
            .filter(|c| c.model.powertrain.is_electric())
            .count();
        assert!(
            (10..98).contains(&electric),
            "a mix of petrol and electric: {electric}"
        );
        assert!(
            s.cars
                .iter()
                .all(|c| c.soc_pct.is_some() == c.model.powertrain.is_electric())
        );
    }

    #[test]
    fn every_step_is_legal_except_the_one_that_must_be_refused_and_all_end_exported() {
        let s = consignment_108(start(), 1, 42);
        let mut status: HashMap<Vin, Status> = HashMap::new();
        let now = start() + Duration::days(17);
        let mut refused = 0;
        let mut last_time = None;
        for step in &s.steps {
            assert!(step.event.validate(now).is_ok(), "{}", step.label);
            let st = step.event.step.expect("lifecycle events");
            let outcome: Result<Vec<_>, _> = step
                .event
                .subjects
                .vins
                .iter()
                .map(|v| lifecycle::next(status.get(v).copied(), st).map(|n| (*v, n)))
                .collect();
            match (outcome, step.expect_refusal) {
                (Ok(next), false) => status.extend(next),
                (Err(_), true) => refused += 1,
                (o, _) => panic!("{}: unexpected {o:?}", step.label),
            }
            if !step.expect_refusal {
                assert!(last_time <= Some(step.event.event_time), "{}", step.label);
                last_time = Some(step.event.event_time);
            }
        }
        assert_eq!(refused, 1);
        assert_eq!(status.len(), 108);
        assert!(
            status
                .values()
                .all(|s| *s == Status::at(jianghai_core::VehicleState::Exported))
        );
    }

    #[test]
    fn runs_differ_and_seeds_repeat() {
        let a = consignment_108(start(), 1, 42);
        let b = consignment_108(start(), 1, 42);
        let c = consignment_108(start(), 2, 42);
        assert_eq!(a.cars, b.cars);
        assert_eq!(a.steps[0].event.event_id, b.steps[0].event.event_id);
        assert!(a.cars.iter().all(|x| c.cars.iter().all(|y| x.vin != y.vin)));
        assert_ne!(a.steps[0].event.event_id, c.steps[0].event.event_id);
    }
}
