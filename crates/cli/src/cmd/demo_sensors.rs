//! The demo's sensors: devices with their own credentials, sensors attached to the river
//! vessel's deck D3 and to two cars, and their readings posted to the running platform over
//! HTTP like any device's, so they go through ingestion, the store and the watch engine. The
//! alerts raised are read back from the store.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use jianghai_core::Ident;
use jianghai_core::ledger::format_time;
use jianghai_core::reading::{MeasurementType, Subject};
use jianghai_server::auth::{DEVICE_TOKEN_PREFIX, new_secret, secret_hash};
use jianghai_sim::Scenario;
use jianghai_store::{
    Alert, AlertFilter, AlertScope, DeviceKind, DeviceRecord, SensorRecord, Store, TokenOwner,
    TokenRecord,
};

/// What the sensors did: lines to print, and the alerts raised on their subjects.
pub struct SensorReport {
    pub lines: Vec<String>,
    pub alerts: Vec<Alert>,
}

fn ident(s: &str) -> anyhow::Result<Ident> {
    Ident::parse(s).with_context(|| format!("identifier {s:?}"))
}

pub async fn run(
    store: &Store,
    s: &Scenario,
    run: u32,
    base: &str,
) -> anyhow::Result<SensorReport> {
    let plan = jianghai_sim::sensors::voyage_sensors(s, run)
        .context("the scenario has no river departure or no electric car")?;
    let now = format_time(Utc::now());
    let mut credentials = std::collections::HashMap::new();
    for p in &plan.sensors {
        if !credentials.contains_key(&p.device) {
            let secret = new_secret(DEVICE_TOKEN_PREFIX).map_err(|e| anyhow::anyhow!(e.detail))?;
            let device = DeviceRecord {
                id: ident(&p.device)?,
                organisation: ident(p.organisation)?,
                kind: DeviceKind::Sensor,
                name: p.device.clone(),
                created_at: now.clone(),
                disabled_at: None,
            };
            let token = TokenRecord {
                id: uuid::Uuid::new_v4(),
                secret_hash: secret_hash(&secret),
                owner: TokenOwner::Device(device.id.clone()),
                name: "demo credential".into(),
                created_at: now.clone(),
                expires_at: None,
                revoked_at: None,
            };
            store.create_device(&device, &token).await?;
            credentials.insert(p.device.clone(), secret);
        }
        let measurement = MeasurementType::parse(p.measurement)?;
        store
            .register_sensor(&SensorRecord {
                device: ident(&p.device)?,
                sensor: p.sensor.to_string(),
                organisation: ident(p.organisation)?,
                measurement,
                unit: measurement.canonical_unit(),
                subject: Subject::parse(&p.subject)?,
                name: format!("{} {}", p.device, p.sensor),
                created_at: now.clone(),
                updated_at: now.clone(),
            })
            .await?;
    }
    let client = reqwest::Client::new();
    let mut sent = 0;
    for (device, readings) in &plan.readings {
        let secret = credentials
            .get(device)
            .context("a device without credential")?;
        let body = serde_json::to_vec(&serde_json::json!({ "readings": readings }))?;
        let res = client
            .post(format!("{base}/api/v1/readings"))
            .bearer_auth(secret)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("posting the readings of {device}"))?;
        let status = res.status();
        let answer: serde_json::Value = serde_json::from_slice(&res.bytes().await?)?;
        anyhow::ensure!(
            status.is_success() && answer["rejected"] == serde_json::json!([]),
            "the platform refused readings of {device}: {status} {answer}"
        );
        sent += readings.len();
    }
    let mut lines = vec![format!(
        "sensors: deck climate on {}, a battery logger in {}, a door contact on {}, the transit's e-seal {} (sealed, battery); {sent} readings posted over HTTP",
        plan.sensors[0].subject,
        plan.sensors[2].subject,
        plan.sensors[3].subject,
        plan.sensors[4].subject
    )];
    // The watch engine works behind the ingestion queue: wait for the anomalies' alerts.
    for _ in 0..150 {
        let alerts = raised(store, &plan.anomalies).await?;
        if plan.anomalies.iter().all(|(rule, subject)| {
            alerts
                .iter()
                .any(|a| a.rule == *rule && subject_of(a) == *subject)
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the engine finish the readings after the anomalies (a door closing clears its alert).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let alerts = raised(store, &plan.anomalies).await?;
    for (rule, subject) in &plan.anomalies {
        if !alerts
            .iter()
            .any(|a| a.rule == *rule && subject_of(a) == *subject)
        {
            lines.push(format!(
                "  expected alert {rule} on {subject} was not raised"
            ));
        }
    }
    Ok(SensorReport { lines, alerts })
}

fn subject_of(a: &Alert) -> String {
    format!("{}:{}", a.subject_kind, a.subject_id)
}

/// Every watch alert on the anomalies' subjects, oldest first.
async fn raised(store: &Store, anomalies: &[(&str, String)]) -> anyhow::Result<Vec<Alert>> {
    let mut out = Vec::new();
    let mut subjects: Vec<&String> = anomalies.iter().map(|(_, s)| s).collect();
    subjects.dedup();
    for subject in subjects {
        let (kind, id) = subject.split_once(':').context("subject")?;
        let filter = AlertFilter {
            subject: Some((kind.to_string(), id.to_string())),
            ..AlertFilter::default()
        };
        let page = store.alerts(&AlertScope::All, &filter, "", 100).await?;
        out.extend(page.items.into_iter().filter(|a| a.source == "watch"));
    }
    out.sort_by(|a, b| a.opened_at.cmp(&b.opened_at).then(a.rule.cmp(&b.rule)));
    Ok(out)
}
