//! Property tests: every plan the planner returns passes `check` with zero violations, for
//! random instances including bad cars, tight or impossible balance limits and vessels
//! without EV zones; and the bound really bounds.

use jianghai_stowage::{
    self as stowage, BalanceLimits, Car, Discharge, PlanConfig, Powertrain, Vessel,
};
use proptest::prelude::*;

fn powertrain() -> impl Strategy<Value = Powertrain> {
    prop_oneof![
        Just(Powertrain::Bev),
        Just(Powertrain::Phev),
        Just(Powertrain::Hev),
        Just(Powertrain::Erev),
        Just(Powertrain::Ice),
    ]
}

prop_compose! {
    fn any_car()(
        vin in prop_oneof![8 => "[A-HJ-NPR-Z0-9]{3}", 1 => Just(String::new())],
        len in prop_oneof![10 => 3_500i64..5_500, 1 => -100i64..200_000],
        width in prop_oneof![10 => 1_600i64..2_050, 1 => -10i64..3_000],
        height in prop_oneof![10 => 1_400i64..2_000, 1 => -10i64..3_000],
        weight in prop_oneof![10 => 1_100i64..2_700, 1 => -10i64..40_000],
        pt in powertrain(),
        soc in proptest::option::weighted(0.9, 0u8..=100),
        seq in 1u32..4,
    ) -> Car {
        Car {
            vin,
            model: "prop".into(),
            length_mm: len,
            width_mm: width,
            height_mm: height,
            weight_kg: weight,
            powertrain: pt,
            soc_pct: soc,
            discharge: Discharge { seq, label: format!("G{seq}") },
        }
    }
}

fn vessel(which: u8, no_ev_zone: bool) -> Vessel {
    let text = if which == 0 {
        stowage::fixtures::YANGTZE_CAR_CARRIER
    } else {
        stowage::fixtures::OCEAN_PCTC
    };
    let mut v = Vessel::from_json(text).expect("fixture");
    if no_ev_zone {
        v.ev_zones.clear();
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn planner_output_always_passes_check(
        cars in proptest::collection::vec(any_car(), 0..250),
        which in 0u8..2,
        no_ev_zone in proptest::bool::weighted(0.2),
        heel in prop_oneof![3 => Just(None), 1 => (0.0f64..300.0).prop_map(Some)],
        trim in 0.0f64..5_000.0,
        first_fit in proptest::bool::ANY,
        allow_non_ev in proptest::bool::ANY,
    ) {
        let v = vessel(which, no_ev_zone);
        let mut config = PlanConfig { allow_non_ev_in_ev_zones: allow_non_ev, ..PlanConfig::default() };
        if let Some(h) = heel {
            config.balance = Some(BalanceLimits { max_heel_moment_tm: h, max_trim_moment_tm: trim, trim_reference_x_mm: 0 });
        }
        let strategy = if first_fit { stowage::Strategy::FirstFit } else { stowage::Strategy::BestFit };
        let plan = stowage::plan_with(&v, &cars, &config, strategy).expect("valid vessel and config");
        let violations = stowage::check(&plan, &v, &cars);
        prop_assert!(violations.is_empty(), "{:?}", violations);
        prop_assert_eq!(plan.placements.len() + plan.unplaced.len(), cars.len());
        let q = stowage::quality(&plan, &v, &cars);
        prop_assert!(q.placed_lane_mm <= q.bound_lane_mm, "{} > {}", q.placed_lane_mm, q.bound_lane_mm);
    }

    #[test]
    fn generated_instances_plan_cleanly(n in 0usize..1_200, seed in any::<u64>(), which in 0u8..2) {
        let v = vessel(which, false);
        let cars = stowage::generate_cars(n, seed, &stowage::GenConfig { bad_soc_share: 0.05, ..Default::default() });
        let plan = stowage::plan(&v, &cars, &PlanConfig::default()).expect("plan");
        prop_assert!(stowage::check(&plan, &v, &cars).is_empty());
        let q = stowage::quality(&plan, &v, &cars);
        prop_assert!(q.placed_lane_mm <= q.bound_lane_mm);
    }

    #[test]
    fn csv_parser_never_panics(text in "[a-z0-9_,\"\\n -]{0,400}") {
        let _ = stowage::parse_cars_csv(&text);
    }

    #[test]
    fn vessel_json_parser_never_panics(text in "[{}\\[\\]a-z0-9_,:\" -]{0,300}") {
        let _ = Vessel::from_json(&text);
    }
}
