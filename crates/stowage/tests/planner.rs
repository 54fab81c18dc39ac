//! Planner behaviour on good and bad input, plan edits and load verification, end to end
//! through the public API.

use jianghai_stowage::{
    self as stowage, Car, Discharge, Edit, EditError, LaneRef, LoadVerifier, Plan, PlanConfig,
    Powertrain, Scan, ScanOutcome, UnplacedReason, Vessel, Violation,
};

fn yangtze() -> Vessel {
    Vessel::from_json(stowage::fixtures::YANGTZE_CAR_CARRIER).expect("fixture")
}

fn car(vin: &str, len: i64, w: i64, h: i64, kg: i64, pt: Powertrain, soc: Option<u8>) -> Car {
    Car {
        vin: vin.into(),
        model: "test".into(),
        length_mm: len,
        width_mm: w,
        height_mm: h,
        weight_kg: kg,
        powertrain: pt,
        soc_pct: soc,
        discharge: Discharge {
            seq: 1,
            label: "BL1".into(),
        },
    }
}

fn ice(vin: &str) -> Car {
    car(vin, 4_500, 1_850, 1_650, 1_500, Powertrain::Ice, None)
}

fn bev(vin: &str, soc: u8) -> Car {
    car(vin, 4_800, 1_875, 1_460, 2_050, Powertrain::Bev, Some(soc))
}

fn plan_ok(vessel: &Vessel, cars: &[Car]) -> Plan {
    let plan = stowage::plan(vessel, cars, &PlanConfig::default()).expect("plan");
    let v = stowage::check(&plan, vessel, cars);
    assert!(v.is_empty(), "violations: {v:?}");
    assert_eq!(plan.placements.len() + plan.unplaced.len(), cars.len());
    plan
}

fn reason(plan: &Plan, vin: &str) -> UnplacedReason {
    plan.unplaced
        .iter()
        .find(|u| u.vin == vin)
        .map(|u| u.reason.clone())
        .unwrap_or_else(|| panic!("{vin} not unplaced"))
}

#[test]
fn bad_cars_are_explained_not_fatal() {
    let v = yangtze();
    let cars = vec![
        ice("A1"),
        ice("A1"),                                                // duplicate
        car("Z0", 0, 1_800, 1_500, 1_500, Powertrain::Ice, None), // zero length
        car("NEG", 4_500, -1, 1_500, 1_500, Powertrain::Ice, None),
        car("TALL", 5_000, 1_900, 2_600, 2_500, Powertrain::Ice, None),
        car("WIDE", 5_000, 2_400, 1_600, 2_000, Powertrain::Ice, None),
        car("LONG", 99_000, 1_900, 1_600, 2_000, Powertrain::Ice, None),
        car("HEAVY", 5_000, 1_900, 1_600, 30_000, Powertrain::Ice, None),
        bev("SOCHI", 80),
        car("NOSOC", 4_800, 1_875, 1_460, 2_050, Powertrain::Bev, None),
        car("", 4_500, 1_850, 1_650, 1_500, Powertrain::Ice, None),
        bev("EVOK", 35),
    ];
    let plan = plan_ok(&v, &cars);
    assert_eq!(
        reason(&plan, "A1"),
        UnplacedReason::DuplicateVin { first_index: 0 }
    );
    assert!(
        matches!(reason(&plan, "Z0"), UnplacedReason::InvalidDimensions { field, value: 0 } if field == "length_mm")
    );
    assert!(
        matches!(reason(&plan, "NEG"), UnplacedReason::InvalidDimensions { field, .. } if field == "width_mm")
    );
    assert_eq!(
        reason(&plan, "TALL"),
        UnplacedReason::TooTallForEveryDeck {
            needed_mm: 2_700,
            highest_mm: 2_450
        }
    );
    assert!(matches!(
        reason(&plan, "WIDE"),
        UnplacedReason::TooWideForEveryLane { .. }
    ));
    assert!(matches!(
        reason(&plan, "LONG"),
        UnplacedReason::TooLongForEveryLane { .. }
    ));
    assert!(matches!(
        reason(&plan, "HEAVY"),
        UnplacedReason::TooHeavyForEveryDeck { .. }
    ));
    assert!(matches!(
        reason(&plan, "SOCHI"),
        UnplacedReason::EvSocOutOfRange {
            soc_pct: Some(80),
            min_pct: 20,
            max_pct: 50
        }
    ));
    assert!(matches!(
        reason(&plan, "NOSOC"),
        UnplacedReason::EvSocOutOfRange { soc_pct: None, .. }
    ));
    assert_eq!(reason(&plan, ""), UnplacedReason::InvalidVin);
    assert!(plan.placement("A1").is_some());
    assert!(plan.placement("EVOK").is_some());
    // The reasons read well.
    let text = reason(&plan, "TALL").to_string();
    assert!(
        text.contains("2700 mm") && text.contains("2450 mm"),
        "{text}"
    );
}

#[test]
fn evs_need_an_ev_zone_and_go_there() {
    let mut v = yangtze();
    let cars = vec![bev("E1", 30), bev("E2", 45), ice("I1")];
    let plan = plan_ok(&v, &cars);
    for vin in ["E1", "E2"] {
        let p = plan.placement(vin).expect("placed");
        let ix = v.lane_ix(&p.slot.deck, &p.slot.lane).expect("lane");
        assert!(v.is_ev_lane(ix), "{vin} in {}", p.slot);
    }
    let p = plan.placement("I1").expect("placed");
    let ix = v.lane_ix(&p.slot.deck, &p.slot.lane).expect("lane");
    assert!(!v.is_ev_lane(ix), "ICE prefers non-EV lanes");

    v.ev_zones.clear();
    let plan = plan_ok(&v, &cars);
    assert_eq!(reason(&plan, "E1"), UnplacedReason::NoEvZone);
    assert_eq!(reason(&plan, "E2"), UnplacedReason::NoEvZone);
    assert!(plan.placement("I1").is_some());
}

#[test]
fn lifo_and_evs_last_within_a_lane() {
    let mut v = yangtze();
    // One lane only, so every car shares it.
    v.decks.truncate(2);
    v.decks[1].lanes.truncate(1);
    v.decks.remove(0);
    v.decks[0].lanes[0].y_mm = 0;
    v.ev_zones = vec![stowage::EvZone {
        id: "EV".into(),
        deck: "D2".into(),
        fire_zone: "D2-FZ1".into(),
        lanes: vec!["D2-L01".into()],
    }];
    v.validate().expect("valid");
    let mut cars = Vec::new();
    for (i, seq) in [2u32, 1, 3, 1, 2, 3].iter().enumerate() {
        let mut c = if i % 2 == 0 {
            bev(&format!("E{i}"), 30)
        } else {
            ice(&format!("I{i}"))
        };
        c.discharge.seq = *seq;
        cars.push(c);
    }
    let plan = plan_ok(&v, &cars);
    assert_eq!(plan.placements.len(), 6);
    // Load order: group 3 first, then 2, then 1; within a group the ICE before the EV.
    let order: Vec<(u32, bool)> = plan
        .placements
        .iter()
        .map(|p| {
            let c = cars.iter().find(|c| c.vin == p.vin).expect("car");
            (c.discharge.seq, c.powertrain == Powertrain::Bev)
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort_by_key(|&(seq, ev)| (std::cmp::Reverse(seq), ev));
    assert_eq!(order, sorted);
    // Ramp is aft: earlier-discharged cars sit further aft (larger position).
    let mut by_pos = plan.placements.clone();
    by_pos.sort_by_key(|p| p.position_mm);
    let seqs: Vec<u32> = by_pos
        .iter()
        .map(|p| {
            cars.iter()
                .find(|c| c.vin == p.vin)
                .expect("car")
                .discharge
                .seq
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] >= w[1]), "{seqs:?}");
}

#[test]
fn impossible_balance_leaves_cars_with_reason_and_a_valid_plan() {
    let v = yangtze();
    let cars = stowage::generate_cars(60, 3, &stowage::GenConfig::default());
    let config = PlanConfig {
        balance: Some(stowage::BalanceLimits {
            max_heel_moment_tm: 0.0,
            max_trim_moment_tm: 0.0,
            trim_reference_x_mm: 0,
        }),
        ..PlanConfig::default()
    };
    let plan = stowage::plan(&v, &cars, &config).expect("plan");
    assert!(stowage::check(&plan, &v, &cars).is_empty());
    assert!(
        plan.unplaced
            .iter()
            .any(|u| u.reason == UnplacedReason::BalanceLimit),
        "some cars must be refused for balance"
    );
    assert_eq!(plan.placements.len() + plan.unplaced.len(), cars.len());
}

#[test]
fn overbooking_reports_no_capacity() {
    let v = yangtze();
    let cars = stowage::generate_cars(1_000, 5, &stowage::GenConfig::default());
    let plan = plan_ok(&v, &cars);
    assert!(plan.placements.len() > 600);
    assert!(
        plan.unplaced
            .iter()
            .all(|u| u.reason == UnplacedReason::NoCapacityLeft
                || u.reason == UnplacedReason::BalanceLimit)
    );
    let q = stowage::quality(&plan, &v, &cars);
    assert!(q.pct_of_bound() >= 95.0, "{}", q.pct_of_bound());
    assert!(q.placed_lane_mm <= q.bound_lane_mm);
}

#[test]
fn invalid_vessel_or_config_is_an_error() {
    let mut v = yangtze();
    v.decks[0].clear_height_mm = 0;
    let err = stowage::plan(&v, &[ice("A")], &PlanConfig::default()).unwrap_err();
    assert!(err.to_string().contains("clear_height_mm"), "{err}");
    let config = PlanConfig {
        soc_min_pct: 60,
        soc_max_pct: 40,
        ..PlanConfig::default()
    };
    let err = stowage::plan(&yangtze(), &[ice("A")], &config).unwrap_err();
    assert!(err.to_string().contains("SoC"), "{err}");
}

#[test]
fn planning_is_deterministic() {
    let v = yangtze();
    let cars = stowage::generate_cars(600, 11, &stowage::GenConfig::default());
    let a = stowage::plan(&v, &cars, &PlanConfig::default()).expect("plan");
    let b = stowage::plan(&v, &cars, &PlanConfig::default()).expect("plan");
    assert_eq!(a, b);
}

#[test]
fn check_catches_tampering() {
    let v = yangtze();
    let cars = stowage::generate_cars(100, 9, &stowage::GenConfig::default());
    let plan = plan_ok(&v, &cars);
    // Overlap two cars.
    let mut bad = plan.clone();
    let (a, b) = {
        let first = &bad.placements[0];
        let other = bad
            .placements
            .iter()
            .position(|p| p.slot == first.slot && p.vin != first.vin)
            .expect("two cars in a lane");
        (0, other)
    };
    bad.placements[b].position_mm = bad.placements[a].position_mm;
    let v1 = stowage::check(&bad, &v, &cars);
    assert!(
        v1.iter().any(|x| matches!(x, Violation::TooClose { .. })),
        "{v1:?}"
    );
    // Drop a car entirely.
    let mut bad = plan.clone();
    let gone = bad.placements.remove(0).vin;
    let v2 = stowage::check(&bad, &v, &cars);
    assert!(
        v2.iter()
            .any(|x| matches!(x, Violation::Unaccounted { vin, .. } if *vin == gone))
    );
    // Put an EV outside the EV zone.
    let mut bad = plan.clone();
    let ev = bad
        .placements
        .iter()
        .position(|p| cars.iter().any(|c| c.vin == p.vin && c.soc_pct.is_some()))
        .expect("an EV");
    bad.placements[ev].slot = LaneRef {
        deck: "D3".into(),
        lane: "D3-L01".into(),
    };
    let v3 = stowage::check(&bad, &v, &cars);
    assert!(
        v3.iter()
            .any(|x| matches!(x, Violation::EvOutsideEvZone { .. })),
        "{v3:?}"
    );
}

#[test]
fn edits_move_lock_and_recheck() {
    let v = yangtze();
    let cars = stowage::generate_cars(40, 4, &stowage::GenConfig::default());
    let plan = plan_ok(&v, &cars);
    let ice_car = cars
        .iter()
        .find(|c| c.soc_pct.is_none() && c.height_mm + 100 <= 1_800)
        .expect("a low ICE car");
    let empty_lane = LaneRef {
        deck: "D4".into(),
        lane: "D4-L04".into(),
    };
    assert!(plan.placements.iter().all(|p| p.slot != empty_lane));

    // Lock the lane: moving into it is refused.
    let locked = stowage::apply_edit(
        &plan,
        &v,
        &cars,
        &Edit::LockLane {
            lane: empty_lane.clone(),
        },
    )
    .expect("lock");
    assert!(locked.violations.is_empty());
    let err = stowage::apply_edit(
        &locked.plan,
        &v,
        &cars,
        &Edit::MoveCar {
            vin: ice_car.vin.clone(),
            to: empty_lane.clone(),
            position_mm: None,
        },
    )
    .unwrap_err();
    assert_eq!(err, EditError::LaneLocked(empty_lane.clone()));

    // Unlocked, the move works and the plan stays valid.
    let moved = stowage::apply_edit(
        &plan,
        &v,
        &cars,
        &Edit::MoveCar {
            vin: ice_car.vin.clone(),
            to: empty_lane.clone(),
            position_mm: None,
        },
    )
    .expect("move");
    assert_eq!(
        moved.plan.placement(&ice_car.vin).expect("placed").slot,
        empty_lane
    );
    assert!(
        moved
            .violations
            .iter()
            .all(|x| matches!(x, Violation::Heel { .. } | Violation::Trim { .. })),
        "{:?}",
        moved.violations
    );

    // A move that breaks a rule is applied but reported.
    let tall = cars
        .iter()
        .find(|c| c.height_mm + 100 > 1_800)
        .expect("a tall car");
    let bad = stowage::apply_edit(
        &plan,
        &v,
        &cars,
        &Edit::MoveCar {
            vin: tall.vin.clone(),
            to: empty_lane.clone(),
            position_mm: Some(0),
        },
    )
    .expect("applied");
    assert!(
        bad.violations
            .iter()
            .any(|x| matches!(x, Violation::TooTall { .. }))
    );

    // Leave behind, and move back in.
    let left = stowage::apply_edit(
        &plan,
        &v,
        &cars,
        &Edit::LeaveBehind {
            vin: ice_car.vin.clone(),
        },
    )
    .expect("leave");
    assert!(left.violations.is_empty(), "{:?}", left.violations);
    assert_eq!(
        reason(&left.plan, &ice_car.vin),
        UnplacedReason::LeftBehindByEdit
    );
    let unknown = stowage::apply_edit(
        &plan,
        &v,
        &cars,
        &Edit::LockLane {
            lane: LaneRef {
                deck: "D9".into(),
                lane: "X".into(),
            },
        },
    );
    assert!(matches!(unknown, Err(EditError::UnknownLane(_))));
}

#[test]
fn load_verification_catches_wrong_slot_and_reconciles() {
    let v = yangtze();
    let cars = stowage::generate_cars(30, 8, &stowage::GenConfig::default());
    let plan = plan_ok(&v, &cars);
    let mut lv = LoadVerifier::new(&plan, &v, &cars);
    let mut t = 1_750_000_000_000i64;
    let mut scan = |vin: &str, slot: &LaneRef| {
        t += 60_000;
        Scan {
            vin: vin.into(),
            slot: slot.clone(),
            at_ms: t,
        }
    };
    let ps = plan.placements.clone();
    // The first car, loaded in plan order, is fine.
    assert_eq!(
        lv.handle_scan(&scan(&ps[0].vin, &ps[0].slot), true),
        ScanOutcome::Ok
    );
    assert_eq!(
        lv.handle_scan(&scan(&ps[0].vin, &ps[0].slot), true),
        ScanOutcome::Duplicate
    );
    // Wrong lane.
    let other = LaneRef {
        deck: "D4".into(),
        lane: "D4-L05".into(),
    };
    assert_eq!(
        lv.handle_scan(&scan(&ps[1].vin, &other), true),
        ScanOutcome::WrongSlot {
            planned: ps[1].slot.clone(),
            scanned: other.clone()
        }
    );
    // Unknown car, untallied car.
    assert_eq!(
        lv.handle_scan(&scan("LXXXXXXXXXXXXXXXX", &other), true),
        ScanOutcome::Unplanned
    );
    assert_eq!(
        lv.handle_scan(&scan(&ps[2].vin, &ps[2].slot), false),
        ScanOutcome::NotTallied
    );
    let r = lv.complete();
    assert!(!r.departure_allowed);
    assert_eq!(r.extra, vec!["LXXXXXXXXXXXXXXXX".to_owned()]);
    assert_eq!(r.wrong_slot.len(), 1);
    assert_eq!(r.not_tallied, vec![ps[2].vin.clone()]);
    assert_eq!(r.left_behind.len(), ps.len() - 3);

    // Drive the wrong ones off and load everything properly.
    assert!(lv.handle_removal("LXXXXXXXXXXXXXXXX"));
    assert!(lv.handle_removal(&ps[1].vin));
    assert!(lv.handle_removal(&ps[2].vin));
    for p in &ps[1..] {
        assert_eq!(
            lv.handle_scan(&scan(&p.vin, &p.slot), true),
            ScanOutcome::Ok,
            "{}",
            p.vin
        );
    }
    let r = lv.complete();
    assert!(r.departure_allowed, "{r:?}");
    assert_eq!(r.loaded_ok, ps.len());
}

#[test]
fn load_verification_flags_out_of_sequence() {
    let v = yangtze();
    let cars = stowage::generate_cars(60, 8, &stowage::GenConfig::default());
    let plan = plan_ok(&v, &cars);
    let mut lv = LoadVerifier::new(&plan, &v, &cars);
    // The last car of a lane with several cars, scanned first.
    let slot = plan.placements[0].slot.clone();
    let last = plan
        .placements
        .iter()
        .rev()
        .find(|p| p.slot == slot)
        .expect("car");
    assert_ne!(last.vin, plan.placements[0].vin);
    assert_eq!(
        lv.next_in_lane(&slot),
        Some(plan.placements[0].vin.as_str())
    );
    let out = lv.handle_scan(
        &Scan {
            vin: last.vin.clone(),
            slot: slot.clone(),
            at_ms: 0,
        },
        true,
    );
    assert!(
        matches!(out, ScanOutcome::OutOfSequence { ref waiting_for } if waiting_for[0] == plan.placements[0].vin),
        "{out:?}"
    );
}

#[test]
fn csv_to_rendered_plan() {
    let v = yangtze();
    let cars = stowage::generate_cars(25, 2, &stowage::GenConfig::default());
    let text = stowage::cars_to_csv(&cars);
    let (parsed, errors) = stowage::parse_cars_csv(&text).expect("csv");
    assert!(errors.is_empty());
    let plan = plan_ok(&v, &parsed);
    let ff = stowage::plan_first_fit(&v, &parsed, &PlanConfig::default()).expect("ff");
    let q = stowage::quality(&plan, &v, &parsed);
    let qf = stowage::quality(&ff, &v, &parsed);
    let out = stowage::render_plan(
        &plan,
        &v,
        &parsed,
        &q,
        Some(&qf),
        stowage::RenderOptions { list_cars: true },
    );
    assert!(out.contains("placed 25"), "{out}");
    assert!(out.contains("first-fit baseline"));
    assert!(out.contains(&parsed[0].vin));
    assert!(out.contains("D3-L01"));
}

#[test]
fn absurd_numbers_are_refused_or_reported_without_panicking() {
    let mut v = yangtze();
    v.decks[0].lanes[0].fore_x_mm = i64::MIN;
    v.decks[0].lanes[1].y_mm = i64::MAX;
    v.balance.trim_reference_x_mm = i64::MAX;
    let err = v.validate().unwrap_err().to_string();
    assert!(err.contains("fore_x_mm") && err.contains("y_mm"), "{err}");

    let v = yangtze();
    let cars = stowage::generate_cars(20, 1, &stowage::GenConfig::default());
    let mut plan = plan_ok(&v, &cars);
    plan.placements[0].position_mm = i64::MAX;
    plan.placements[1].position_mm = i64::MIN;
    let violations = stowage::check(&plan, &v, &cars);
    assert!(
        violations
            .iter()
            .any(|x| matches!(x, Violation::OutsideLane { .. }))
    );
    let _ = stowage::quality(&plan, &v, &cars);
    let mut lv = LoadVerifier::new(&plan, &v, &cars);
    let p = plan.placements[0].clone();
    let _ = lv.handle_scan(
        &Scan {
            vin: p.vin,
            slot: p.slot,
            at_ms: i64::MIN,
        },
        true,
    );
}
