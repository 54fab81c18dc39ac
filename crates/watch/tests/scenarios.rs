//! The corridor defaults against exact scenarios: which alarm is raised and cleared, by which
//! reading, at which minute. Readings go in through the same validating constructor the shell
//! uses.

use chrono::{DateTime, Duration, Utc};
use jianghai_core::Ident;
use jianghai_core::reading::{MeasurementType, Reading, Subject, Unit};
use jianghai_watch::{Context, Decision, Engine, Observation, RuleSet, Severity};
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    "2025-07-01T00:00:00Z".parse().expect("time")
}

fn at(minute: f64) -> DateTime<Utc> {
    t0() + Duration::milliseconds((minute * 60_000.0).round() as i64)
}

fn obs(subject: &str, sensor: &str, m: MeasurementType, value: f64, minute: f64) -> Observation {
    let time = at(minute);
    Observation {
        subject: Subject::parse(subject).expect("subject"),
        reading: Reading::new(
            Ident::parse("dev-1").expect("device"),
            sensor,
            m,
            value,
            m.canonical_unit(),
            time,
            None,
            time,
        )
        .expect("valid reading"),
        context: Context::default(),
    }
}

/// Feeds observations in order (the receiver's clock = event time) and flushes at the end.
fn run(engine: &mut Engine, observations: &[Observation]) -> Vec<Decision> {
    let mut out = Vec::new();
    for o in observations {
        out.extend(engine.observe(o, o.reading.time));
    }
    out.extend(engine.flush());
    out
}

/// (rule, "raise"/"clear", minute) for a compact comparison.
fn summary(decisions: &[Decision]) -> Vec<(String, &'static str, f64)> {
    decisions
        .iter()
        .map(|d| {
            let kind = match d {
                Decision::Raise(_) => "raise",
                Decision::Clear { .. } => "clear",
            };
            let minute = (d.at() - t0()).num_milliseconds() as f64 / 60_000.0;
            (d.rule().to_string(), kind, minute)
        })
        .collect()
}

fn only<'a>(decisions: &'a [Decision], rule: &str) -> Vec<&'a Decision> {
    decisions
        .iter()
        .filter(|d| d.rule().as_str() == rule)
        .collect()
}

fn raised<'a>(decisions: &'a [Decision], rule: &str) -> &'a jianghai_watch::Alarm {
    decisions
        .iter()
        .find_map(|d| match d {
            Decision::Raise(a) if a.rule.as_str() == rule => Some(a),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{rule} was not raised: {:?}", summary(decisions)))
}

/// 25 °C until minute 10, +0.5 °C/min to minute 20 (30 °C), then +3 °C/min to minute 30
/// (60 °C), then steady.
fn ev_climb(minute: u32) -> f64 {
    match minute {
        0..=10 => 25.0,
        11..=20 => 25.0 + 0.5 * f64::from(minute - 10),
        21..=30 => 30.0 + 3.0 * f64::from(minute - 20),
        _ => 60.0,
    }
}

#[test]
fn ev_battery_climb_raises_rate_of_rise_at_minute_22() {
    let mut engine = Engine::new(RuleSet::corridor_defaults());
    let readings: Vec<Observation> = (0..=40)
        .map(|m| {
            obs(
                "vehicle:LRW3E7FS5PC695355",
                "battery",
                MeasurementType::Temperature,
                ev_climb(m),
                f64::from(m),
            )
        })
        .collect();
    let d = run(&mut engine, &readings);
    // Over the 3-minute window: minute 21 rose (33 − 29) / 3 = 1.33 °C/min, minute 22 rose
    // (36 − 29.5) / 3 = 2.17 °C/min ≥ 2. It holds while the rise is ≥ 2 − 1: minute 32 is
    // (60 − 57) / 3 = 1, minute 33 is 0.
    assert_eq!(
        summary(
            &only(&d, "ev-battery-runaway")
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        ),
        [
            ("ev-battery-runaway".to_string(), "raise", 22.0),
            ("ev-battery-runaway".to_string(), "clear", 33.0)
        ]
    );
    let alarm = raised(&d, "ev-battery-runaway");
    assert_eq!(alarm.severity, Severity::Critical);
    assert_eq!(alarm.subject.to_string(), "vehicle:LRW3E7FS5PC695355");
    assert_eq!(alarm.evidence.len(), 2);
    assert_eq!(
        (alarm.evidence[0].time, alarm.evidence[0].value),
        (at(19.0), 29.5)
    );
    assert_eq!(
        (alarm.evidence[1].time, alarm.evidence[1].value),
        (at(22.0), 36.0)
    );
    assert!(
        alarm.detail.contains("rose 2.17 °C/min"),
        "{}",
        alarm.detail
    );
    // Above 50 °C from minute 27 (51 °C); held for the rule's 60 s at minute 28.
    assert_eq!(raised(&d, "ev-battery-hot").at, at(28.0));
}

#[test]
fn condensation_episode_raises_and_clears() {
    let mut engine = Engine::new(RuleSet::corridor_defaults());
    let deck = "deck:minsheng-1/D3";
    let mut readings = Vec::new();
    for m in 0..=40 {
        let rh = if (10..30).contains(&m) { 92.0 } else { 60.0 };
        let minute = f64::from(m);
        readings.push(obs(
            deck,
            "air-t",
            MeasurementType::Temperature,
            20.0,
            minute,
        ));
        readings.push(obs(
            deck,
            "air-rh",
            MeasurementType::RelativeHumidity,
            rh,
            minute,
        ));
    }
    let d = run(&mut engine, &readings);
    // 92 % at 20 °C: dew point 18.66 °C, margin 1.34 °C < 2 from minute 10; held 5 minutes.
    // 60 % at minute 30: margin 7.9 °C > 2 + 1.
    assert_eq!(
        summary(&d),
        [
            ("condensation".to_string(), "raise", 15.0),
            ("condensation".to_string(), "clear", 30.0)
        ],
        "and nothing else: humidity-high needs an hour above 85 %"
    );
    let alarm = raised(&d, "condensation");
    assert_eq!(alarm.severity, Severity::Warning);
    let sensors: Vec<&str> = alarm.evidence.iter().map(|e| e.sensor.as_str()).collect();
    assert_eq!(sensors, ["air-t", "air-rh"]);
    assert!(
        alarm.detail.contains("dew point at 18.7 °C"),
        "{}",
        alarm.detail
    );
}

#[test]
fn door_opened_in_transit_is_critical_and_alongside_is_not() {
    let mut engine = Engine::new(RuleSet::corridor_defaults());
    let door = |open: bool, minute: f64, in_transit: bool| {
        let mut o = obs(
            "vehicle:LVSHCAMB1CE012345",
            "door-fl",
            MeasurementType::DoorOpen,
            if open { 1.0 } else { 0.0 },
            minute,
        );
        o.context = Context { in_transit };
        o
    };
    let d = run(
        &mut engine,
        &[
            door(true, 0.0, false), // loading alongside: fine
            door(false, 1.0, false),
            door(false, 10.0, true), // departed
            door(true, 30.0, true),  // opened under way
            door(true, 31.0, true),  // still open: no second alarm
            door(false, 35.0, true),
            door(true, 50.0, false), // arrived: opening is fine again
        ],
    );
    assert_eq!(
        summary(&d),
        [
            ("door-open-in-transit".to_string(), "raise", 30.0),
            ("door-open-in-transit".to_string(), "clear", 35.0)
        ]
    );
    let alarm = raised(&d, "door-open-in-transit");
    assert_eq!(alarm.severity, Severity::Critical);
    assert_eq!(
        alarm.detail,
        "door-fl of dev-1 reports DoorOpen = yes in transit"
    );
}

#[test]
fn an_open_door_clears_when_the_transit_ends() {
    let mut engine = Engine::new(RuleSet::corridor_defaults());
    let mut open = obs(
        "seal:CN-SH-0001",
        "seal",
        MeasurementType::SealBroken,
        1.0,
        0.0,
    );
    open.context.in_transit = true;
    let mut arrived = obs(
        "seal:CN-SH-0001",
        "seal",
        MeasurementType::SealBroken,
        1.0,
        5.0,
    );
    arrived.context.in_transit = false;
    let d = run(&mut engine, &[open, arrived]);
    assert_eq!(
        summary(&d),
        [
            ("seal-broken-in-transit".to_string(), "raise", 0.0),
            ("seal-broken-in-transit".to_string(), "clear", 5.0)
        ]
    );
}

#[test]
fn deck_heat_needs_five_minutes_and_clears_past_the_band() {
    let mut engine = Engine::new(RuleSet::corridor_defaults());
    let temps = [
        44.0, 45.5, 46.0, 46.5, 46.2, 46.0, 45.5, 44.0, 43.5, 42.9, 42.0,
    ];
    let readings: Vec<Observation> = temps
        .iter()
        .enumerate()
        .map(|(m, &t)| {
            obs(
                "deck:minsheng-1/D2",
                "air",
                MeasurementType::Temperature,
                t,
                m as f64,
            )
        })
        .collect();
    let d = run(&mut engine, &readings);
    // Above 45 from minute 1; 5 minutes held at minute 6; 44 and 43.5 are inside the 2 °C band.
    assert_eq!(
        summary(&d),
        [
            ("deck-heat-warning".to_string(), "raise", 6.0),
            ("deck-heat-warning".to_string(), "clear", 9.0)
        ]
    );
    let alarm = raised(&d, "deck-heat-warning");
    assert_eq!(
        alarm.evidence[0].time,
        at(1.0),
        "the excursion's first reading"
    );
    assert_eq!(alarm.evidence[1].time, at(6.0));
}

#[test]
fn one_alarm_per_rule_and_subject_while_any_sensor_meets_it() {
    let mut engine = Engine::new(RuleSet::corridor_defaults());
    let deck = "deck:minsheng-1/D1";
    let t = MeasurementType::Temperature;
    let mut readings = Vec::new();
    for m in 0..=3 {
        readings.push(obs(deck, "air-fore", t, 60.0, f64::from(m)));
        readings.push(obs(deck, "air-aft", t, 60.0, f64::from(m)));
    }
    readings.push(obs(deck, "air-fore", t, 30.0, 4.0));
    readings.push(obs(deck, "air-aft", t, 60.0, 4.0));
    readings.push(obs(deck, "air-aft", t, 30.0, 5.0));
    // The same condition on another deck is another episode.
    readings.push(obs("deck:minsheng-1/D2", "air", t, 60.0, 5.0));
    readings.push(obs("deck:minsheng-1/D2", "air", t, 60.0, 6.0));
    let d = run(&mut engine, &readings);
    let critical: Vec<(String, String, &str, f64)> = d
        .iter()
        .filter(|d| d.rule().as_str() == "deck-heat-critical")
        .map(|d| {
            let s = summary(std::slice::from_ref(d)).remove(0);
            (s.0, d.subject().to_string(), s.1, s.2)
        })
        .collect();
    assert_eq!(
        critical,
        [
            ("deck-heat-critical".into(), deck.into(), "raise", 1.0),
            ("deck-heat-critical".into(), deck.into(), "clear", 5.0),
            (
                "deck-heat-critical".into(),
                "deck:minsheng-1/D2".into(),
                "raise",
                6.0
            ),
        ]
    );
}

#[test]
fn smoke_and_rising_temperature_is_fire() {
    let mut engine = Engine::new(RuleSet::corridor_defaults());
    let deck = "deck:minsheng-1/D4";
    let mut readings = Vec::new();
    for m in 0..=12 {
        // Flat at 30 °C, then +1.5 °C/min from minute 5.
        let temp = 30.0 + 1.5 * f64::from(m.max(5) - 5);
        readings.push(obs(
            deck,
            "air",
            MeasurementType::Temperature,
            temp,
            f64::from(m),
        ));
    }
    readings.push(obs(deck, "smoke-1", MeasurementType::Smoke, 1.0, 2.0));
    readings.push(obs(deck, "smoke-1", MeasurementType::Smoke, 0.0, 15.0));
    readings.sort_by_key(|o| o.reading.time);
    let d = run(&mut engine, &readings);
    // Smoke alone at minute 2 is a warning (exhaust during loading); the 5-minute window sees
    // ≥ 1 °C/min from minute 8 ((34.5 − 30) / 5 = 0.9 at minute 8, 1.2 at minute 9).
    assert_eq!(
        summary(&d),
        [
            ("smoke".to_string(), "raise", 2.0),
            ("deck-temperature-rise".to_string(), "raise", 9.0),
            ("fire".to_string(), "raise", 9.0),
            ("smoke".to_string(), "clear", 15.0),
            ("fire".to_string(), "clear", 15.0),
        ]
    );
    let fire = raised(&d, "fire");
    assert_eq!(fire.severity, Severity::Critical);
    let sensors: Vec<&str> = fire.evidence.iter().map(|e| e.sensor.as_str()).collect();
    assert_eq!(sensors, ["smoke-1", "air", "air"]);
}

#[test]
fn silence_raises_on_tick_and_clears_when_heard() {
    let mut engine = Engine::new(RuleSet::corridor_defaults().with_reorder_window_ms(0));
    let first = obs(
        "zone:yard-cq/A",
        "air",
        MeasurementType::Temperature,
        25.0,
        0.0,
    );
    assert!(engine.observe(&first, at(0.0)).is_empty());
    assert!(engine.tick(at(9.9)).is_empty());
    let d = engine.tick(at(10.0));
    assert_eq!(
        summary(&d),
        [("temperature-silent".to_string(), "raise", 10.0)]
    );
    assert!(engine.tick(at(20.0)).is_empty(), "raised once");
    let again = obs(
        "zone:yard-cq/A",
        "air",
        MeasurementType::Temperature,
        25.0,
        21.0,
    );
    let d = engine.observe(&again, at(21.0));
    assert_eq!(
        summary(&d),
        [("temperature-silent".to_string(), "clear", 21.0)]
    );
    // Door contacts report on change: no silence rule covers them.
    let door = obs(
        "zone:yard-cq/A",
        "gate",
        MeasurementType::DoorOpen,
        0.0,
        21.0,
    );
    let _ = engine.observe(&door, at(21.0));
    assert!(engine.tick(at(25.0)).is_empty());
}

#[test]
fn gas_far_above_its_baseline_is_flagged() {
    let mut engine = Engine::new(RuleSet::corridor_defaults());
    let deck = "deck:minsheng-1/D5";
    let mut readings: Vec<Observation> = (0..40)
        .map(|i| {
            let ppm = 5.0 + if i % 2 == 0 { 0.3 } else { -0.3 };
            obs(
                deck,
                "voc",
                MeasurementType::Concentration,
                ppm,
                f64::from(i),
            )
        })
        .collect();
    readings.push(obs(deck, "voc", MeasurementType::Concentration, 9.0, 40.0));
    readings.push(obs(deck, "voc", MeasurementType::Concentration, 25.0, 41.0));
    let d = run(&mut engine, &readings);
    // σ is floored at 1 ppm: 9 ppm is 4 σ (under 6), 25 ppm is far beyond.
    assert_eq!(summary(&d), [("gas-rising".to_string(), "raise", 41.0)]);
}

#[test]
fn shock_in_g_is_converted_and_needs_10_ms() {
    let mut engine = Engine::new(RuleSet::corridor_defaults());
    let car = "vehicle:LGXCE4CB0P0000001";
    let g = |v: f64, ms: f64| {
        let mut o = obs(
            car,
            "imu-z",
            MeasurementType::Acceleration,
            0.0,
            ms / 60_000.0,
        );
        o.reading = Reading::new(
            o.reading.device.clone(),
            "imu-z",
            MeasurementType::Acceleration,
            v,
            Unit::StandardGravity,
            o.reading.time,
            None,
            o.reading.time,
        )
        .expect("reading");
        o
    };
    // A 5 ms spike of 3 g, then a 12 ms one of −2.5 g.
    let d = run(
        &mut engine,
        &[
            g(0.1, 0.0),
            g(3.0, 100.0),
            g(3.0, 105.0),
            g(0.2, 110.0),
            g(-2.5, 200.0),
            g(-2.6, 212.0),
            g(0.0, 220.0),
        ],
    );
    let shock: Vec<_> = only(&d, "shock");
    assert_eq!(shock.len(), 2, "{:?}", summary(&d));
    let Decision::Raise(alarm) = shock[0] else {
        panic!("raise first")
    };
    assert_eq!(alarm.at, t0() + Duration::milliseconds(212));
    assert!(
        (alarm.evidence[1].value + 2.6 * 9.80665).abs() < 1e-9,
        "m/s²"
    );
}

#[test]
fn late_readings_within_the_window_are_reordered_and_older_ones_counted() {
    let rules = RuleSet::corridor_defaults().with_reorder_window_ms(120_000);
    let deck = "deck:minsheng-1/D6";
    let t = MeasurementType::Temperature;
    let sorted = [
        obs(deck, "air", t, 60.0, 0.0),
        obs(deck, "air", t, 60.0, 1.0),
        obs(deck, "air", t, 30.0, 2.0),
        obs(deck, "air", t, 60.0, 3.0),
    ];
    let mut in_order = Engine::new(rules.clone());
    let expected = run(&mut in_order, &sorted);
    let mut shuffled = Engine::new(rules);
    let arrival = [&sorted[1], &sorted[0], &sorted[3], &sorted[2]];
    let mut got = Vec::new();
    for o in arrival {
        got.extend(shuffled.observe(o, o.reading.time));
    }
    got.extend(shuffled.flush());
    assert_eq!(got, expected);
    assert_eq!(shuffled.stats().late, 0);
    // A duplicate and a reading older than its sensor's last evaluated one are not evaluated.
    let _ = shuffled.observe(&sorted[3], at(10.0));
    let _ = shuffled.observe(&obs(deck, "air", t, 99.0, 2.5), at(10.0));
    assert!(shuffled.flush().is_empty());
    assert_eq!(shuffled.stats().late, 2);
    // A reading hours late for the subject, but new for its own sensor, is still evaluated.
    let other = obs(deck, "air-2", t, 60.0, 1.5);
    let _ = shuffled.observe(&other, at(10.0));
    let _ = shuffled.flush();
    assert_eq!(shuffled.stats().evaluated, 5);
}

#[test]
fn observation_decisions_are_the_same_with_the_window_at_zero_when_in_order() {
    let deck = "deck:minsheng-1/D7";
    let readings: Vec<Observation> = (0..=20)
        .map(|m| {
            obs(
                deck,
                "air",
                MeasurementType::Temperature,
                40.0 + f64::from(m),
                f64::from(m),
            )
        })
        .collect();
    let mut buffered = Engine::new(RuleSet::corridor_defaults());
    let mut immediate = Engine::new(RuleSet::corridor_defaults().with_reorder_window_ms(0));
    let a = run(&mut buffered, &readings);
    let mut b = Vec::new();
    for o in &readings {
        let now = immediate.observe(o, o.reading.time);
        // With no window each decision comes back from the call that delivered its reading.
        assert!(now.iter().all(|d| d.at() == o.reading.time));
        b.extend(now);
    }
    assert_eq!(a, b);
    assert!(!a.is_empty());
}

// ---- out-of-order input gives the same decisions as sorted input ---------------------------------

const SUBJECTS: [&str; 2] = ["deck:minsheng-1/D3", "vehicle:LRW3E7FS5PC695355"];
const SENSORS: [(&str, MeasurementType); 5] = [
    ("air-t", MeasurementType::Temperature),
    ("air-t2", MeasurementType::Temperature),
    ("air-rh", MeasurementType::RelativeHumidity),
    ("smoke", MeasurementType::Smoke),
    ("door", MeasurementType::DoorOpen),
];

fn value_for(m: MeasurementType, x: f64) -> f64 {
    match m {
        MeasurementType::Temperature => 15.0 + 50.0 * x,
        MeasurementType::RelativeHumidity => 50.0 + 50.0 * x,
        _ => (x > 0.6) as u8 as f64,
    }
}

prop_compose! {
    /// Readings at distinct times per sensor (whole seconds, so ties across sensors happen), each
    /// with an arrival delay shorter than the reorder window.
    fn stream_input()(
        raw in proptest::collection::vec(
            (0usize..2, 0usize..5, 0i64..3, 0.0f64..=1.0, 0i64..60, any::<bool>()), 1..160)
    ) -> Vec<(Observation, i64)> {
        let mut clock = [[0i64; 5]; 2];
        raw.into_iter().map(|(s, k, step, x, delay_s, in_transit)| {
            clock[s][k] += 1 + step * 20;
            let (sensor, m) = SENSORS[k];
            let mut o = obs(SUBJECTS[s], sensor, m, value_for(m, x), clock[s][k] as f64 / 60.0);
            o.context.in_transit = in_transit;
            (o, delay_s)
        }).collect()
    }
}

proptest! {
    #[test]
    fn out_of_order_within_the_window_decides_as_sorted(input in stream_input()) {
        let rules = RuleSet::corridor_defaults().with_reorder_window_ms(60_000);
        let mut sorted: Vec<&Observation> = input.iter().map(|(o, _)| o).collect();
        sorted.sort_by(|a, b| (a.reading.time, &a.reading.sensor).cmp(&(b.reading.time, &b.reading.sensor)));
        let mut arrival: Vec<&(Observation, i64)> = input.iter().collect();
        arrival.sort_by_key(|(o, delay)| o.reading.time + Duration::seconds(*delay));

        let mut a = Engine::new(rules.clone());
        let mut expected = Vec::new();
        for o in &sorted {
            expected.extend(a.observe(o, t0()));
        }
        expected.extend(a.flush());
        let mut b = Engine::new(rules);
        let mut got = Vec::new();
        for (o, _) in &arrival {
            got.extend(b.observe(o, t0()));
        }
        got.extend(b.flush());
        prop_assert_eq!(b.stats().late, 0);
        for s in SUBJECTS {
            let of = |d: &Vec<Decision>| -> Vec<Decision> {
                d.iter().filter(|d| d.subject().to_string() == s).cloned().collect()
            };
            prop_assert_eq!(of(&got), of(&expected));
        }
        // Episodes alternate raise/clear per rule and subject.
        let mut open = std::collections::HashSet::new();
        for d in &got {
            let key = (d.rule().clone(), d.subject().clone());
            match d {
                Decision::Raise(_) => prop_assert!(open.insert(key), "raised twice"),
                Decision::Clear { .. } => prop_assert!(open.remove(&key), "cleared unopened"),
            }
        }
    }
}
