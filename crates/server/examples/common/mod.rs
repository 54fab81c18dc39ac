//! Seeding shared by the benches (`mod common;` in each): an organisation with its vessels, one
//! device with its credential, and the device's temperature sensors. Not every bench uses
//! every item.
#![allow(dead_code)]

/// The binary's allocator (crates/cli/src/main.rs), so the benches measure what is shipped.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::Utc;
use jianghai_core::ledger::format_time;
use jianghai_core::reading::{MeasurementType, Subject, Unit};
use jianghai_core::{Ident, OrgKind, Organisation, Vessel, VesselKind};
use jianghai_store::{DeviceKind, DeviceRecord, SensorRecord, Store, TokenOwner, TokenRecord};

/// A carrier, its vessels and one sensor device whose credential is `secret`.
pub struct BenchDevice<'a> {
    pub carrier: &'a str,
    pub vessels: &'a [&'a str],
    pub device: &'a str,
    pub secret: &'a str,
}

impl BenchDevice<'_> {
    /// Creates the carrier, its vessels, the device and its credential, and registers
    /// `sensors` (key, subject such as `deck:minsheng-8/D1`), all measuring temperature in °C.
    pub async fn seed(
        &self,
        store: &Store,
        sensors: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<()> {
        let carrier = Ident::parse(self.carrier)?;
        store
            .create_organisation(&Organisation {
                id: carrier.clone(),
                name: self.carrier.into(),
                kind: OrgKind::Carrier,
            })
            .await?;
        for ship in self.vessels {
            store
                .create_vessel(&Vessel {
                    id: Ident::parse(ship)?,
                    name: (*ship).into(),
                    kind: VesselKind::RiverRoRo,
                    carrier: carrier.clone(),
                    mmsi: None,
                    imo: None,
                })
                .await?;
        }
        let now = format_time(Utc::now());
        let device = DeviceRecord {
            id: Ident::parse(self.device)?,
            organisation: carrier.clone(),
            kind: DeviceKind::Sensor,
            name: self.device.into(),
            created_at: now.clone(),
            disabled_at: None,
        };
        let token = TokenRecord {
            id: uuid::Uuid::new_v4(),
            secret_hash: jianghai_server::auth::secret_hash(self.secret),
            owner: TokenOwner::Device(device.id.clone()),
            name: "bench".into(),
            created_at: now.clone(),
            expires_at: None,
            revoked_at: None,
        };
        store.create_device(&device, &token).await?;
        for (key, subject) in sensors {
            store
                .register_sensor(&SensorRecord {
                    device: device.id.clone(),
                    sensor: key.clone(),
                    organisation: carrier.clone(),
                    measurement: MeasurementType::Temperature,
                    unit: Unit::Celsius,
                    subject: Subject::parse(&subject)?,
                    name: key,
                    created_at: now.clone(),
                    updated_at: now.clone(),
                })
                .await?;
        }
        Ok(())
    }
}

/// Appends one temperature reading in °C as a device sends it (the JSON written directly, so
/// that building request bodies costs little and can be done before a measurement starts).
pub fn push_reading(out: &mut String, sensor: &str, value: f64, time: chrono::DateTime<Utc>) {
    use std::fmt::Write;
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{{\"sensor\":\"{sensor}\",\"measurement\":\"Temperature\",\"value\":{value:?},\"unit\":\"CEL\",\"time\":\"{}\"}}",
        format_time(time)
    );
}

/// A `POST /api/v1/readings` body of `readings` (sensor, value, time).
pub fn readings_body<'a>(
    readings: impl IntoIterator<Item = (&'a str, f64, chrono::DateTime<Utc>)>,
) -> String {
    let mut s = String::from("{\"readings\":[");
    for (n, (sensor, value, time)) in readings.into_iter().enumerate() {
        if n > 0 {
            s.push(',');
        }
        push_reading(&mut s, sensor, value, time);
    }
    s.push_str("]}");
    s
}
