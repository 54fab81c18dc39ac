//! Sensors on the scenario's river voyage and what they report: a deck climate station on D3
//! (air temperature and humidity), a battery logger in one electric car and a door contact on
//! another, three hours of readings a day into the voyage, with three anomalies the corridor's
//! default rules catch:
//!
//! - **EV battery temperature rise**: the battery climbs 3 °C a minute for 12 minutes
//!   (`ev-battery-runaway`, critical; then `ev-battery-hot`);
//! - **condensation**: the deck air stays at 28 °C while the humidity rises to 97 %, so the air
//!   is within 2 °C of its dew point for half an hour (`condensation`);
//! - **door opened in transit**: the car's door opens for two minutes under way
//!   (`door-open-in-transit`, critical: the ledger says the ship had departed).
//!
//! The transit's e-seal (a customs device, [`eseal_number`]) reports its state (sealed) and
//! battery every half hour from departure to arrival: the river leg under seal.
//!
//! Pure: the same scenario gives the same readings.

use chrono::{DateTime, Duration, Utc};
use jianghai_core::reading::{InputValue, ReadingInput};
use jianghai_core::{Ident, Step};

use crate::Scenario;
use crate::world::ids;

/// A sensor to register: on `device` of `organisation`, watching `subject`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedSensor {
    pub device: String,
    pub organisation: &'static str,
    pub sensor: &'static str,
    pub measurement: &'static str,
    pub subject: String,
}

/// The sensors and, per device, its readings in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorPlan {
    pub sensors: Vec<PlannedSensor>,
    pub readings: Vec<(String, Vec<ReadingInput>)>,
    /// (rule, subject) of each anomaly the readings hold.
    pub anomalies: Vec<(&'static str, String)>,
}

fn reading(
    device: &str,
    sensor: &str,
    m: &str,
    value: InputValue,
    unit: Option<&str>,
    t: DateTime<Utc>,
) -> ReadingInput {
    ReadingInput {
        device: device.to_string(),
        sensor: sensor.to_string(),
        measurement: m.to_string(),
        value,
        unit: unit.map(str::to_string),
        time: t,
        position: None,
    }
}

/// The number of the run's electronic seal on the river vessel's deck D3 (ISO 18185 style).
pub fn eseal_number(run: u32) -> String {
    format!("ES-{run:04}-D3")
}

/// The device reporting the run's e-seal.
pub fn eseal_device(run: u32) -> String {
    format!("eseal-r{run}")
}

/// The plan for `scenario`'s river voyage; device ids carry the run number (`r1`), so the demo
/// can run again on one store. `None` when the scenario has no departure or no electric car.
pub fn voyage_sensors(s: &Scenario, run: u32) -> Option<SensorPlan> {
    let depart = s
        .steps
        .iter()
        .find(|x| x.event.step == Some(Step::Depart))?
        .event
        .event_time
        .with_timezone(&Utc);
    let arrive = s
        .steps
        .iter()
        .find(|x| x.event.step == Some(Step::Arrive))?
        .event
        .event_time
        .with_timezone(&Utc);
    let voyage = s.world.voyages.first()?;
    let deck = format!("deck:{}/D3", voyage.vessel);
    let ev = s.cars.iter().find(|c| c.model.powertrain.is_electric())?;
    let other = s.cars.iter().find(|c| c.vin != ev.vin)?;
    let (station, logger, door) = (
        format!("deck-climate-r{run}"),
        format!("ev-logger-r{run}"),
        format!("door-contact-r{run}"),
    );
    // Device ids must be identifiers.
    let eseal = eseal_device(run);
    let seal_subject = format!("seal:{}/{}", voyage.vessel, eseal_number(run));
    for d in [&station, &logger, &door, &eseal] {
        Ident::parse(d).ok()?;
    }
    let sensors = vec![
        PlannedSensor {
            device: station.clone(),
            organisation: ids::RIVER_CARRIER,
            sensor: "air",
            measurement: "Temperature",
            subject: deck.clone(),
        },
        PlannedSensor {
            device: station.clone(),
            organisation: ids::RIVER_CARRIER,
            sensor: "rh",
            measurement: "RelativeHumidity",
            subject: deck.clone(),
        },
        PlannedSensor {
            device: logger.clone(),
            organisation: ids::EXPORTER,
            sensor: "battery",
            measurement: "Temperature",
            subject: format!("vehicle:{}", ev.vin),
        },
        PlannedSensor {
            device: door.clone(),
            organisation: ids::EXPORTER,
            sensor: "door",
            measurement: "DoorOpen",
            subject: format!("vehicle:{}", other.vin),
        },
        PlannedSensor {
            device: eseal.clone(),
            organisation: ids::DEPARTURE_CUSTOMS,
            sensor: "state",
            measurement: "SealBroken",
            subject: seal_subject.clone(),
        },
        PlannedSensor {
            device: eseal.clone(),
            organisation: ids::DEPARTURE_CUSTOMS,
            sensor: "battery",
            measurement: "Voltage",
            subject: seal_subject,
        },
    ];
    // A day after departure, three hours, a reading every 30 s.
    let start = depart + Duration::days(1);
    let at = |i: i64| start + Duration::seconds(30 * i);
    let n = 360;
    let mut deck_readings = Vec::new();
    let mut battery = Vec::new();
    for i in 0..n {
        let minute = i as f64 / 2.0;
        // Condensation from minute 60 to 100: the humidity climbs to 97 % and back.
        let rh = match minute {
            m if (60.0..70.0).contains(&m) => 70.0 + (m - 60.0) * 2.7,
            m if (70.0..100.0).contains(&m) => 97.0,
            m if (100.0..110.0).contains(&m) => 97.0 - (m - 100.0) * 2.7,
            _ => 70.0 + (i % 7) as f64 * 0.3,
        };
        let air = 28.0 + (i % 5) as f64 * 0.05;
        deck_readings.push(reading(
            &station,
            "air",
            "Temperature",
            InputValue::Number(air),
            Some("CEL"),
            at(i),
        ));
        deck_readings.push(reading(
            &station,
            "rh",
            "RelativeHumidity",
            InputValue::Number(rh),
            Some("P1"),
            at(i),
        ));
        // The battery from minute 120: +3 °C a minute for 12 minutes, then it stays hot.
        let temp = match minute {
            m if m < 120.0 => 25.0 + (i % 3) as f64 * 0.1,
            m if m < 132.0 => 25.0 + (m - 120.0) * 3.0,
            _ => 61.0,
        };
        battery.push(reading(
            &logger,
            "battery",
            "Temperature",
            InputValue::Number(temp),
            Some("CEL"),
            at(i),
        ));
    }
    // The door: closed, open at minute 150 for two minutes, closed again.
    let doors = vec![
        reading(
            &door,
            "door",
            "DoorOpen",
            InputValue::State(false),
            None,
            at(0),
        ),
        reading(
            &door,
            "door",
            "DoorOpen",
            InputValue::State(true),
            None,
            at(300),
        ),
        reading(
            &door,
            "door",
            "DoorOpen",
            InputValue::State(false),
            None,
            at(304),
        ),
    ];
    // The e-seal: sealed, its battery slowly draining, from departure until arrival.
    let mut seal_readings = Vec::new();
    let mut t = depart + Duration::minutes(10);
    let mut k = 0;
    while t < arrive {
        seal_readings.push(reading(
            &eseal,
            "state",
            "SealBroken",
            InputValue::State(false),
            None,
            t,
        ));
        seal_readings.push(reading(
            &eseal,
            "battery",
            "Voltage",
            InputValue::Number(3.65 - f64::from(k) * 0.0002),
            Some("VLT"),
            t,
        ));
        t += Duration::minutes(30);
        k += 1;
    }
    Some(SensorPlan {
        anomalies: vec![
            ("condensation", deck),
            ("ev-battery-runaway", sensors[2].subject.clone()),
            ("door-open-in-transit", sensors[3].subject.clone()),
        ],
        sensors,
        readings: vec![
            (station, deck_readings),
            (logger, battery),
            (door, doors),
            (eseal, seal_readings),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_is_valid_and_deterministic() {
        let start = "2025-07-01T00:00:00Z".parse().expect("time");
        let s = crate::consignment_108(start, 1, 2025);
        let plan = voyage_sensors(&s, 1).expect("plan");
        assert_eq!(plan, voyage_sensors(&s, 1).expect("plan"));
        assert_eq!(plan.sensors.len(), 6);
        let now = start + Duration::days(30);
        for (_, readings) in &plan.readings {
            for r in readings {
                r.validate(now).expect("valid reading");
            }
        }
        assert_eq!(plan.readings[0].1.len(), 720);
        assert_eq!(plan.anomalies.len(), 3);
        // The e-seal reports sealed across the whole river leg, within it.
        let (_, seal) = &plan.readings[3];
        assert!(seal.len() > 400, "{}", seal.len());
        assert!(seal.iter().all(|r| r.time > s.steps[0].event.event_time));
        assert!(
            seal.iter()
                .filter(|r| r.sensor == "state")
                .all(|r| r.value == InputValue::State(false))
        );
    }
}
