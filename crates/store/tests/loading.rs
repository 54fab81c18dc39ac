//! Precise loading on both engines: deck plans, stowage plans and their edits on the ledger,
//! ramp scans judged against the plan (a wrong slot refused with an alert, the car not
//! aboard), load-complete and the departure gate, bad input that changes nothing, scopes.

mod common;

use common::*;
use jianghai_core::{Step, VehicleState, Vin};
use jianghai_store::{
    AlertFilter, AlertScope, By, LoadingError, LoadingScope, NewRampScan, Store, StowagePlanRecord,
};
use jianghai_stowage::{
    Car, Discharge, Edit, LaneRef, PlanConfig, Powertrain, ScanOutcome, UnplacedReason, Vessel,
    fixtures,
};
use uuid::Uuid;

macro_rules! both {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test]
                async fn sqlite() {
                    let fresh = super::common::sqlite().await;
                    super::$case(&fresh.store).await;
                }
                #[tokio::test]
                async fn postgres() {
                    let fresh = super::common::postgres().await;
                    super::$case(&fresh.store).await;
                }
            }
        )*
    };
}

both!(
    cars_load_by_plan_and_departure_waits_for_load_complete,
    edits_are_rechecked_and_refusals_change_nothing,
    bad_deck_plans_and_car_lists_are_refused,
    scopes_keep_parties_apart,
);

fn carrier() -> By {
    By {
        organisation: id("minsheng-shipping"),
        username: "planner".into(),
    }
}

fn port() -> By {
    By {
        organisation: id("guoyuan-port"),
        username: "ramp".into(),
    }
}

fn car(vin: &str, length_mm: i64) -> Car {
    Car {
        vin: vin.into(),
        model: "Changan UNI-T".into(),
        length_mm,
        width_mm: 1_860,
        height_mm: 1_540,
        weight_kg: 1_550,
        powertrain: Powertrain::Ice,
        soc_pct: None,
        discharge: Discharge {
            seq: 1,
            label: "Haitong".into(),
        },
    }
}

fn voyage() -> jianghai_core::Ident {
    id("v2025-001")
}

/// The seeded corridor with the Yangtze deck plan on minsheng-8; VINs 1–4 declared, VIN 5
/// only registered (never tallied).
async fn ready(store: &Store) -> Vec<Vin> {
    seed(store).await;
    let vins: Vec<Vin> = (1..=5).map(vin).collect();
    drive(store, &vins[4..], &[Step::Register], 100).await;
    drive(store, &vins[..4], &CHAIN[..4], 1).await;
    let vessel = Vessel::from_json(fixtures::YANGTZE_CAR_CARRIER).expect("fixture");
    store
        .put_deck_plan(&id("minsheng-8"), &vessel, &carrier(), now())
        .await
        .expect("deck plan");
    vins
}

/// Plans VINs 1–5, a duplicate of VIN 1 and a car longer than any lane.
async fn planned(store: &Store, vins: &[Vin]) -> StowagePlanRecord {
    let mut cars: Vec<Car> = vins.iter().map(|v| car(v.as_str(), 4_700)).collect();
    cars.push(car(vins[0].as_str(), 4_500));
    cars.push(car("LTOOLONG000000001", 99_000));
    store
        .create_stowage_plan(&voyage(), cars, &PlanConfig::default(), &carrier(), now())
        .await
        .expect("plan")
}

fn scan(v: Vin, slot: &LaneRef) -> NewRampScan {
    NewRampScan {
        id: Uuid::new_v4(),
        vin: v,
        slot: slot.clone(),
        at: now(),
    }
}

fn slot_of(p: &StowagePlanRecord, v: Vin) -> LaneRef {
    p.plan.placement(v.as_str()).expect("placed").slot.clone()
}

fn other_lane(p: &StowagePlanRecord, not: &LaneRef) -> LaneRef {
    p.deck_plan
        .decks
        .iter()
        .flat_map(|d| {
            d.lanes.iter().map(|l| LaneRef {
                deck: d.id.clone(),
                lane: l.id.clone(),
            })
        })
        .find(|l| l != not)
        .expect("another lane")
}

async fn state(store: &Store, v: Vin) -> VehicleState {
    store
        .vehicle(&v)
        .await
        .expect("read")
        .expect("vehicle")
        .status
        .state
}

async fn cars_load_by_plan_and_departure_waits_for_load_complete(store: &Store) {
    let vins = ready(store).await;
    let p = planned(store, &vins).await;
    assert_eq!(p.version, 1);
    assert_eq!(p.plan.placements.len(), 5, "{:?}", p.plan.unplaced);
    let reasons: Vec<&UnplacedReason> = p.plan.unplaced.iter().map(|u| &u.reason).collect();
    assert!(
        matches!(
            reasons[..],
            [
                UnplacedReason::DuplicateVin { first_index: 0 },
                UnplacedReason::TooLongForEveryLane { .. }
            ]
        ),
        "{reasons:?}"
    );
    let blocker = store
        .departure_blocker("v2025-001")
        .await
        .expect("read")
        .expect("blocked");
    assert!(blocker.contains("load-complete"), "{blocker}");

    // A wrong-slot scan is refused: an alert on the car, and the car stays ashore.
    let (head, _) = store.head().await.expect("head");
    let planned_slot = slot_of(&p, vins[0]);
    let wrong = other_lane(&p, &planned_slot);
    let r = store
        .load_scan(&voyage(), &scan(vins[0], &wrong), &port())
        .await
        .expect("judged");
    assert!(!r.accepted);
    assert_eq!(
        r.outcome,
        ScanOutcome::WrongSlot {
            planned: planned_slot.clone(),
            scanned: wrong.clone()
        }
    );
    assert_eq!(store.head().await.expect("head").0, head, "no ledger entry");
    assert_eq!(state(store, vins[0]).await, VehicleState::Declared);
    let alert = r.alert.expect("alert raised");
    let alerts = store
        .alerts(
            &AlertScope::All,
            &AlertFilter {
                subject: Some(("vehicle".into(), vins[0].to_string())),
                ..AlertFilter::default()
            },
            "",
            10,
        )
        .await
        .expect("alerts");
    let a = alerts
        .items
        .iter()
        .find(|a| a.id == alert)
        .expect("the alert");
    assert_eq!(a.rule, "loading-wrong-slot");
    assert_eq!(a.evidence["planned"], planned_slot.to_string());
    assert_eq!(a.evidence["scanned"], wrong.to_string());

    // An untallied car and an unknown lane.
    let r = store
        .load_scan(&voyage(), &scan(vins[4], &slot_of(&p, vins[4])), &port())
        .await
        .expect("judged");
    assert_eq!(
        (r.outcome.clone(), r.accepted),
        (ScanOutcome::NotTallied, false)
    );
    let nowhere = LaneRef {
        deck: "D9".into(),
        lane: "D9-L01".into(),
    };
    assert!(matches!(
        store
            .load_scan(&voyage(), &scan(vins[1], &nowhere), &port())
            .await,
        Err(LoadingError::Invalid(m)) if m.contains("D9")
    ));
    assert_eq!(store.ramp_scans("v2025-001").await.expect("scans").len(), 2);

    // Load-complete before anything is aboard: everything is left behind, departure waits.
    let c = store
        .load_complete(&voyage(), &carrier(), now())
        .await
        .expect("complete");
    assert_eq!(c.reconciliation.loaded_ok, 0);
    assert_eq!(c.reconciliation.left_behind.len(), 5);
    assert!(!c.reconciliation.departure_allowed);
    let blocker = store
        .departure_blocker("v2025-001")
        .await
        .expect("read")
        .expect("blocked");
    assert!(
        blocker.contains("left behind: 5") && blocker.contains(vins[4].as_str()),
        "{blocker}"
    );

    // The untallied car is left behind by an edit: a ledger event, version 2.
    let (count, _) = store.head().await.expect("head");
    let p = store
        .edit_stowage_plan(
            &voyage(),
            &Edit::LeaveBehind {
                vin: vins[4].to_string(),
            },
            Some(1),
            &carrier(),
            now(),
        )
        .await
        .expect("edit");
    assert_eq!(p.version, 2);
    assert_eq!(store.head().await.expect("head").0, count + 1);
    let edits = store.stowage_edits("v2025-001").await.expect("edits");
    assert_eq!(edits.len(), 1);
    let entry = store
        .event(edits[0].4)
        .await
        .expect("read")
        .expect("on the ledger");
    assert!(entry.event.biz_step.0.ends_with("bizStep-stowage_planning"));
    assert_eq!(entry.event.subjects.voyage, Some(voyage()));
    assert_eq!(
        entry.event.extensions["jh:stowage"]["edit"]["kind"],
        "leave_behind"
    );

    // Scans in plan order load the cars; a retried scan changes nothing.
    let mut order: Vec<_> = p.plan.placements.iter().collect();
    order.sort_by_key(|pl| pl.load_seq);
    assert_eq!(order.len(), 4);
    for pl in order {
        let v = Vin::parse(&pl.vin).expect("vin");
        let s = scan(v, &pl.slot);
        let r = store
            .load_scan(&voyage(), &s, &port())
            .await
            .expect("judged");
        assert_eq!(
            (r.outcome.clone(), r.accepted),
            (ScanOutcome::Ok, true),
            "{r:?}"
        );
        assert!(r.seq.is_some());
        let again = store
            .load_scan(&voyage(), &s, &port())
            .await
            .expect("retry");
        assert_eq!((again.n, again.seq), (r.n, r.seq));
        assert_eq!(state(store, v).await, VehicleState::Loaded);
    }
    let r = store
        .load_scan(&voyage(), &scan(vins[0], &planned_slot), &port())
        .await
        .expect("judged");
    assert_eq!(r.outcome, ScanOutcome::Duplicate);
    assert!(r.alert.is_none());

    // Replacing the plan once loading started is refused.
    assert!(matches!(
        store
            .create_stowage_plan(
                &voyage(),
                vec![car(vins[0].as_str(), 4_700)],
                &PlanConfig::default(),
                &carrier(),
                now()
            )
            .await,
        Err(LoadingError::Conflict(_))
    ));

    // Loading since the last load-complete: departure waits for a new one, which allows it.
    assert!(
        store
            .departure_blocker("v2025-001")
            .await
            .expect("read")
            .is_some_and(|b| b.contains("no load-complete"))
    );
    let c = store
        .load_complete(&voyage(), &carrier(), now())
        .await
        .expect("complete");
    assert_eq!(c.reconciliation.loaded_ok, 4);
    assert!(c.reconciliation.departure_allowed, "{:?}", c.reconciliation);
    assert_eq!(
        store.departure_blocker("v2025-001").await.expect("read"),
        None
    );
    store.verify().await.expect("ledger verifies");
}

async fn edits_are_rechecked_and_refusals_change_nothing(store: &Store) {
    let vins = ready(store).await;
    let p = planned(store, &vins).await;
    let (count, _) = store.head().await.expect("head");
    let a = p.plan.placement(vins[0].as_str()).expect("placed").clone();
    let b = p.plan.placement(vins[1].as_str()).expect("placed").clone();
    // Onto another car's spot: the re-check finds the overlap.
    let overlap = store
        .edit_stowage_plan(
            &voyage(),
            &Edit::MoveCar {
                vin: a.vin.clone(),
                to: b.slot.clone(),
                position_mm: Some(b.position_mm),
            },
            None,
            &carrier(),
            now(),
        )
        .await;
    assert!(
        matches!(&overlap, Err(LoadingError::Violations(v)) if !v.is_empty()),
        "{overlap:?}"
    );
    // Unknown lane, unknown car, stale version.
    let unknown_lane = store
        .edit_stowage_plan(
            &voyage(),
            &Edit::LockLane {
                lane: LaneRef {
                    deck: "D1".into(),
                    lane: "D1-L99".into(),
                },
            },
            None,
            &carrier(),
            now(),
        )
        .await;
    assert!(matches!(unknown_lane, Err(LoadingError::Invalid(m)) if m.contains("D1-L99")));
    let unknown_car = store
        .edit_stowage_plan(
            &voyage(),
            &Edit::LeaveBehind {
                vin: "LNOBODY0000000000".into(),
            },
            None,
            &carrier(),
            now(),
        )
        .await;
    assert!(matches!(unknown_car, Err(LoadingError::Invalid(_))));
    let stale = store
        .edit_stowage_plan(
            &voyage(),
            &Edit::LockLane {
                lane: a.slot.clone(),
            },
            Some(7),
            &carrier(),
            now(),
        )
        .await;
    assert!(matches!(stale, Err(LoadingError::Conflict(_))));
    let now_plan = store
        .stowage_plan_in("v2025-001", &LoadingScope::All)
        .await
        .expect("read")
        .expect("plan");
    assert_eq!(now_plan.version, 1);
    assert_eq!(now_plan.plan, p.plan);
    assert_eq!(store.head().await.expect("head").0, count);
    assert!(
        store
            .stowage_edits("v2025-001")
            .await
            .expect("edits")
            .is_empty()
    );

    // Moving a car into a free lane is accepted and re-checked clean.
    let free = p
        .deck_plan
        .decks
        .iter()
        .flat_map(|d| {
            d.lanes.iter().map(|l| LaneRef {
                deck: d.id.clone(),
                lane: l.id.clone(),
            })
        })
        .find(|l| p.plan.placements.iter().all(|pl| pl.slot != *l))
        .expect("a free lane");
    let moved = store
        .edit_stowage_plan(
            &voyage(),
            &Edit::MoveCar {
                vin: a.vin.clone(),
                to: free.clone(),
                position_mm: None,
            },
            Some(1),
            &carrier(),
            now(),
        )
        .await
        .expect("move");
    assert_eq!(moved.version, 2);
    assert_eq!(moved.plan.placement(&a.vin).expect("placed").slot, free);
    assert!(jianghai_stowage::check(&moved.plan, &moved.deck_plan, &moved.cars).is_empty());
}

async fn bad_deck_plans_and_car_lists_are_refused(store: &Store) {
    seed(store).await;
    let good = Vessel::from_json(fixtures::YANGTZE_CAR_CARRIER).expect("fixture");
    // A plan before the vessel has a deck plan.
    assert!(matches!(
        store
            .create_stowage_plan(
                &voyage(),
                vec![car(vin(1).as_str(), 4_700)],
                &PlanConfig::default(),
                &carrier(),
                now()
            )
            .await,
        Err(LoadingError::Missing { what, .. }) if what.contains("deck plan")
    ));
    let mut bad = good.clone();
    bad.decks[0].lanes[0].length_mm = 0;
    assert!(matches!(
        store.put_deck_plan(&id("minsheng-8"), &bad, &carrier(), now()).await,
        Err(LoadingError::Invalid(m)) if m.contains("length")
    ));
    assert!(matches!(
        store
            .put_deck_plan(&id("no-such-ship"), &good, &carrier(), now())
            .await,
        Err(LoadingError::Missing { what: "vessel", .. })
    ));
    assert!(
        store
            .deck_plan_in("minsheng-8", &jianghai_store::VoyageScope::All)
            .await
            .expect("read")
            .is_none()
    );
    store
        .put_deck_plan(&id("minsheng-8"), &good, &carrier(), now())
        .await
        .expect("deck plan");
    assert!(matches!(
        store
            .create_stowage_plan(&voyage(), vec![], &PlanConfig::default(), &carrier(), now())
            .await,
        Err(LoadingError::Invalid(_))
    ));
    assert!(matches!(
        store
            .create_stowage_plan(
                &id("v1999-404"),
                vec![car(vin(1).as_str(), 4_700)],
                &PlanConfig::default(),
                &carrier(),
                now()
            )
            .await,
        Err(LoadingError::Missing { what: "voyage", .. })
    ));
    // Zero and negative dimensions are explained, not planned.
    let mut zero = car(vin(2).as_str(), 0);
    zero.weight_kg = -5;
    let p = store
        .create_stowage_plan(
            &voyage(),
            vec![car(vin(1).as_str(), 4_700), zero],
            &PlanConfig::default(),
            &carrier(),
            now(),
        )
        .await
        .expect("plan");
    assert_eq!(p.plan.placements.len(), 1);
    assert!(matches!(
        p.plan.unplaced[0].reason,
        UnplacedReason::InvalidDimensions { .. }
    ));
    // No scans yet: the plan may be replaced, as version 2.
    let again = store
        .create_stowage_plan(
            &voyage(),
            vec![car(vin(1).as_str(), 4_700)],
            &PlanConfig::default(),
            &carrier(),
            now(),
        )
        .await
        .expect("replace");
    assert_eq!(again.version, 2);
    assert_eq!(again.cars.len(), 1);
}

async fn scopes_keep_parties_apart(store: &Store) {
    let vins = ready(store).await;
    planned(store, &vins).await;
    let read = |scope: LoadingScope| async move {
        store
            .stowage_plan_in("v2025-001", &scope)
            .await
            .expect("read")
    };
    let all = read(LoadingScope::All).await.expect("plan");
    assert!(!all.narrowed);
    assert!(
        read(LoadingScope::CarriedBy(id("minsheng-shipping")))
            .await
            .is_some()
    );
    assert!(
        read(LoadingScope::CarriedBy(id("changan-export")))
            .await
            .is_none()
    );
    assert!(
        read(LoadingScope::Touching(id("guoyuan-port")))
            .await
            .is_some()
    );
    assert!(
        read(LoadingScope::Touching(id("minsheng-shipping")))
            .await
            .is_none()
    );
    assert!(
        read(LoadingScope::ExportedBy(id("guoyuan-port")))
            .await
            .is_none()
    );
    // The exporter sees its own cars only: the two unregistered entries are left out.
    let own = read(LoadingScope::ExportedBy(id("changan-export")))
        .await
        .expect("plan");
    assert!(own.narrowed);
    assert_eq!(own.plan.placements.len(), 5);
    assert!(own.cars.iter().all(|c| c.vin != "LTOOLONG000000001"));
    assert!(
        own.plan
            .unplaced
            .iter()
            .all(|u| own.cars[u.car_index].vin == u.vin)
    );
    assert!(
        store
            .deck_plan_in(
                "minsheng-8",
                &jianghai_store::VoyageScope::CarriedBy(id("changan-export"))
            )
            .await
            .expect("read")
            .is_none()
    );
}
