//! The server's alert workers: escalation of unacknowledged alerts and the webhook dispatcher,
//! started by [`crate::Application::run_until`] and stopped with it.

use std::time::Duration;

use chrono::Utc;
use jianghai_store::{Severity, Store};
use tokio::task::JoinHandle;

use crate::webhooks::WebhookConfig;

/// When and how far unacknowledged alerts escalate, and the webhook knobs.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// An open alert of this severity not acknowledged within this long is escalated one
    /// level, and again after each further period. Severities not listed never escalate.
    pub escalate_after: Vec<(Severity, chrono::Duration)>,
    /// The highest escalation level.
    pub max_escalation: i32,
    /// How often escalation is checked.
    pub escalation_tick: Duration,
    /// How often an idle live stream sends a keep-alive comment.
    pub keep_alive: Duration,
    pub webhooks: WebhookConfig,
}

impl Default for AlertsConfig {
    fn default() -> AlertsConfig {
        AlertsConfig {
            escalate_after: vec![
                (Severity::Critical, chrono::Duration::minutes(5)),
                (Severity::Warning, chrono::Duration::minutes(15)),
            ],
            max_escalation: 3,
            escalation_tick: Duration::from_secs(30),
            keep_alive: Duration::from_secs(15),
            webhooks: WebhookConfig::default(),
        }
    }
}

/// One escalation pass at `now`: every severity's due alerts go up a level (and onto the log,
/// hence the streams and webhooks). Returns how many were escalated.
pub async fn escalate(
    store: &Store,
    cfg: &AlertsConfig,
    now: chrono::DateTime<Utc>,
) -> Result<usize, jianghai_store::StoreError> {
    let mut n = 0;
    for (severity, after) in &cfg.escalate_after {
        let up = store
            .escalate_alerts(*severity, *after, cfg.max_escalation, now)
            .await?;
        for a in &up {
            tracing::warn!(alert = %a.id, rule = %a.rule, subject = %format!("{}:{}", a.subject_kind, a.subject_id),
                level = a.escalation, "Alert escalated: not acknowledged in time.");
        }
        n += up.len();
    }
    Ok(n)
}

/// Starts the workers; abort the handles to stop them.
pub fn spawn(store: &Store, cfg: &AlertsConfig) -> Vec<JoinHandle<()>> {
    let escalation = {
        let store = store.clone();
        let cfg = cfg.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(cfg.escalation_tick);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = escalate(&store, &cfg, Utc::now()).await {
                    tracing::warn!(error = %e, "Escalation pass failed; retrying next tick.");
                }
            }
        })
    };
    let webhooks = tokio::spawn(crate::webhooks::dispatch(
        store.clone(),
        cfg.webhooks.clone(),
    ));
    vec![escalation, webhooks]
}
