//! The MQTT adapter: subscribes (QoS 1, persistent session, manual acknowledgements) to
//! `{root}/+/+/readings` and stores what devices publish there.
//!
//! A message is `{"credential": "jhd_…", "readings": [ … ]}` (readings as over HTTP; each may
//! leave out `device`). Its topic names the organisation and device, which must be the
//! credential's. The PUBACK is sent only after the readings are durable; while the ingestion
//! queue is full the adapter waits, withholding the PUBACK, so the broker stops sending once
//! its in-flight window is full and keeps the rest. A refused message (unknown device, wrong
//! credential, unreadable payload) and refused readings are logged with the reason and
//! published on `{root}/{org}/{device}/errors`; the message is then acknowledged, since
//! sending it again cannot change the answer. When the store fails the message is not
//! acknowledged, and the broker sends it again after the next reconnect.

mod config;

pub use config::MqttConfig;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::{Intake, MAX_READINGS_PER_BATCH, Rejection};

/// An MQTT message's payload.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    credential: String,
    readings: Vec<Box<RawValue>>,
}

/// What happened to one message.
#[derive(Debug, PartialEq)]
pub enum Handled {
    /// Stored (some readings may have been refused or duplicates): acknowledge.
    Stored {
        stored: usize,
        duplicates: usize,
        rejected: Vec<Rejection>,
    },
    /// Refused whole, with the reason: acknowledge (resending cannot help).
    Refused(String),
    /// Not stored for a passing reason (the store failed): do not acknowledge.
    Failed(String),
}

/// Connects, subscribes and runs until aborted; reconnects after a second when the broker
/// goes away.
pub fn spawn(config: MqttConfig, intake: Intake) -> JoinHandle<()> {
    let mut options = MqttOptions::new(config.client_id.clone(), config.host.clone(), config.port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(config.keep_alive)
        .set_max_packet_size(16 * 1024 * 1024, 256 * 1024);
    let (client, events) = AsyncClient::new(options, 1_024);
    tokio::spawn(run(config, intake, client, events))
}

async fn run(config: MqttConfig, intake: Intake, client: AsyncClient, mut events: EventLoop) {
    let config = Arc::new(config);
    let in_flight = Arc::new(Semaphore::new(config.in_flight.max(1)));
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                tracing::info!(broker = %format!("{}:{}", config.host, config.port),
                    session_present = ack.session_present, "Connected to the MQTT broker.");
                // Also with a present session: subscribing again is harmless.
                if let Err(e) = client.subscribe(config.filter(), QoS::AtLeastOnce).await {
                    tracing::error!(error = %e, "Cannot subscribe to the readings topics.");
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                // Holding a permit per message bounds the work in progress; the event loop
                // itself keeps polling (pings, acks) while messages wait.
                let permit = match in_flight.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => return,
                };
                let (config, intake, client) = (config.clone(), intake.clone(), client.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    let outcome = handle(&config, &intake, &p.topic, &p.payload).await;
                    finish(&config, &client, &p, outcome).await;
                });
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "MQTT connection lost; reconnecting in 1 s.");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Acknowledges (or not) and reports refusals.
async fn finish(config: &MqttConfig, client: &AsyncClient, p: &Publish, outcome: Handled) {
    let (org, device) = config.parse_topic(&p.topic).unwrap_or(("-", "-"));
    let report = match &outcome {
        Handled::Stored { rejected, .. } if rejected.is_empty() => None,
        Handled::Stored {
            rejected,
            stored,
            duplicates,
        } => {
            tracing::warn!(topic = %p.topic, refused = rejected.len(), "MQTT readings refused.");
            Some(json!({
                "reason": format!("{} of the message's readings were refused", rejected.len()),
                "stored": stored,
                "duplicates": duplicates,
                "rejected": rejected.iter().map(|r| json!({
                    "index": r.index, "field": r.field, "reason": r.reason,
                })).collect::<Vec<_>>(),
            }))
        }
        Handled::Refused(reason) => {
            tracing::warn!(topic = %p.topic, reason = %reason, "MQTT message refused.");
            Some(json!({ "reason": reason }))
        }
        Handled::Failed(reason) => {
            tracing::error!(topic = %p.topic, reason = %reason,
                "MQTT readings not stored; not acknowledged, the broker will send them again.");
            return;
        }
    };
    if let Some(mut report) = report {
        report["topic"] = Value::String(p.topic.clone());
        let topic = config.error_topic(org, device);
        if let Err(e) = client
            .publish(topic, QoS::AtLeastOnce, false, report.to_string())
            .await
        {
            tracing::warn!(error = %e, "Cannot publish an MQTT refusal.");
        }
    }
    if let Err(e) = client.ack(p).await {
        tracing::warn!(error = %e, topic = %p.topic, "Cannot acknowledge an MQTT message.");
    }
}

/// Authenticates, checks and stores one message; returns once it is durable (or refused).
pub async fn handle(config: &MqttConfig, intake: &Intake, topic: &str, payload: &[u8]) -> Handled {
    let Some((org, device)) = config.parse_topic(topic) else {
        return Handled::Refused(format!(
            "topic {topic:?} is not {}/ORGANISATION/DEVICE/readings",
            config.root
        ));
    };
    let message: Message = match serde_json::from_slice(payload) {
        Ok(m) => m,
        Err(e) => {
            return Handled::Refused(format!(
                "the payload is not {{\"credential\": …, \"readings\": […]}}: {e}"
            ));
        }
    };
    if message.readings.is_empty() {
        return Handled::Refused("the message holds no readings".into());
    }
    if message.readings.len() > MAX_READINGS_PER_BATCH {
        return Handled::Refused(format!(
            "the message holds {} readings; at most {MAX_READINGS_PER_BATCH} are accepted",
            message.readings.len()
        ));
    }
    let dev = match intake.device(&message.credential).await {
        Ok(Ok(d)) => d,
        Ok(Err(refusal)) => return Handled::Refused(refusal.reason().into()),
        Err(e) => return Handled::Failed(e.to_string()),
    };
    if dev.device.id.as_str() != device || dev.organisation.id.as_str() != org {
        return Handled::Refused(format!(
            "the credential is device {} of {}, not device {device:?} of {org:?}",
            dev.device.id, dev.organisation.id
        ));
    }
    let checked = match intake.check(&dev, message.readings, Utc::now()).await {
        Ok(c) => c,
        Err(e) => return Handled::Failed(e.to_string()),
    };
    if checked.rows.is_empty() {
        return Handled::Stored {
            stored: 0,
            duplicates: 0,
            rejected: checked.rejected,
        };
    }
    match intake.store(checked, true).await {
        Ok(r) => Handled::Stored {
            stored: r.stored,
            duplicates: r.duplicates.len(),
            rejected: r.rejected,
        },
        Err(e) => Handled::Failed(e.to_string()),
    }
}
