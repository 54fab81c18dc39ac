//! Signed webhooks: the dispatcher that turns the alert log into deliveries and sends them.
//!
//! Each delivery is an HTTP `POST` of one [`crate::api::alerts::AlertEventDto`] as JSON with
//! these headers:
//!
//! - `Jianghai-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`: the HMAC is keyed with the
//!   webhook's secret over `<t>.<body>` (the decimal timestamp, a full stop, the raw body).
//!   Receivers recompute it, compare in constant time, and refuse a `t` more than five
//!   minutes from their clock, so a captured delivery cannot be replayed later.
//! - `Jianghai-Delivery`: the delivery id (the same on every retry, for deduplication).
//! - `Jianghai-Sequence`: the alert-log sequence number.
//!
//! A 2xx answer delivers. Anything else (another status, a refused connection, a timeout)
//! is recorded as an attempt and retried after `base × 2^(attempt−1)`, capped, until
//! `max_attempts`, after which the delivery is marked failed. Every attempt is kept.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use jianghai_core::ledger::format_time;
use jianghai_store::{AttemptOutcome, DeliveryAttempt, DueDelivery, Store, StoreError};

use crate::api::alerts::event_dto;
use crate::policy;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Retry and timing knobs of the dispatcher.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Wait before the first retry; doubles with each further one.
    pub base_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
    /// Attempts before a delivery is marked failed.
    pub max_attempts: i32,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// How often the dispatcher looks for due deliveries without a wake-up.
    pub tick: Duration,
}

impl Default for WebhookConfig {
    fn default() -> WebhookConfig {
        WebhookConfig {
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(3600),
            max_attempts: 12,
            timeout: Duration::from_secs(10),
            tick: Duration::from_secs(1),
        }
    }
}

/// The `Jianghai-Signature` header value for `body` sent at unix time `t`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Accepts an `http://` URL with a host. (This build sends without TLS: put a TLS-terminating
/// forward proxy in front for `https` receivers.)
pub fn check_url(url: &str) -> Result<String, String> {
    let parsed =
        reqwest::Url::parse(url.trim()).map_err(|e| format!("not an absolute URL: {e}"))?;
    if parsed.scheme() != "http" {
        return Err(format!(
            "the {} scheme is not supported; use http:// (TLS is for a forwarding proxy)",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if url.len() > 2_000 {
        return Err("at most 2,000 characters".into());
    }
    Ok(parsed.to_string())
}

/// The wait before retry number `attempt + 1`, after `attempt` failures.
pub fn backoff(cfg: &WebhookConfig, attempt: i32) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    cfg.base_backoff
        .saturating_mul(1u32 << doublings)
        .min(cfg.max_backoff)
}

/// Sends webhooks until aborted: wakes on alert-log commits and every `tick`.
pub async fn dispatch(store: Store, cfg: WebhookConfig) {
    let client = match reqwest::Client::builder()
        .timeout(cfg.timeout)
        .user_agent(concat!("jianghai-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "Cannot build the webhook HTTP client; webhooks are off.");
            return;
        }
    };
    let mut changes = store.alert_log_changes();
    loop {
        // Before reading the log, so that a commit during the read still wakes the wait.
        changes.mark_unchanged();
        if let Err(e) = enqueue(&store).await {
            tracing::warn!(error = %e, "Webhook dispatcher cannot read the alert log.");
        }
        if let Err(e) = send_due(&store, &client, &cfg, Utc::now()).await {
            tracing::warn!(error = %e, "Webhook dispatcher cannot record deliveries.");
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(cfg.tick) => {}
        }
    }
}

/// Turns new log entries into deliveries for every active webhook, in its organisation's scope.
pub async fn enqueue(store: &Store) -> Result<(), StoreError> {
    const BATCH: i64 = 500;
    let head = store.alert_log_head().await?;
    for w in store.active_webhooks().await? {
        if w.cursor >= head {
            continue;
        }
        let Some(org) = store.organisation(w.organisation.as_str()).await? else {
            continue;
        };
        let batch = store
            .alert_events_after(&policy::alerts_of(&org), w.cursor, head, BATCH)
            .await?;
        let to = match batch.last() {
            Some(last) if batch.len() as i64 == BATCH => last.seq,
            _ => head,
        };
        let bodies: Vec<(i64, String)> = batch
            .into_iter()
            .map(|e| {
                let seq = e.seq;
                (
                    seq,
                    serde_json::to_string(&event_dto(e)).unwrap_or_default(),
                )
            })
            .collect();
        store
            .enqueue_deliveries(w.id, w.cursor, to, &bodies, Utc::now())
            .await?;
    }
    Ok(())
}

/// A claimed delivery's attempt has this long beyond its timeout to be recorded.
const CLAIM_MARGIN: Duration = Duration::from_secs(30);

/// Sends the deliveries due at `now`, concurrently, and records each attempt.
pub async fn send_due(
    store: &Store,
    client: &reqwest::Client,
    cfg: &WebhookConfig,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    // Claimed for longer than the attempts can take, so with several nodes on one store each
    // delivery is sent by one of them; a node that dies holding a claim delays the delivery
    // by the claim, not more.
    let claim = chrono::Duration::from_std(cfg.timeout + CLAIM_MARGIN)
        .unwrap_or_else(|_| chrono::Duration::minutes(5));
    let due = store.claim_due_deliveries(now, 64, now + claim).await?;
    let n = due.len();
    let sends = due.into_iter().map(|d| async move {
        let (attempt, outcome) = send_one(client, cfg, &d).await;
        store
            .record_attempt(d.delivery.id, &attempt, &outcome)
            .await
    });
    for r in futures_util::future::join_all(sends).await {
        r?;
    }
    Ok(n)
}

async fn send_one(
    client: &reqwest::Client,
    cfg: &WebhookConfig,
    d: &DueDelivery,
) -> (DeliveryAttempt, AttemptOutcome) {
    let now = Utc::now();
    let body = d.delivery.body.clone().into_bytes();
    let signature = sign(&d.secret, now.timestamp(), &body);
    let started = Instant::now();
    let res = client
        .post(&d.url)
        .header("content-type", "application/json")
        .header("jianghai-signature", signature)
        .header("jianghai-delivery", d.delivery.id.to_string())
        .header("jianghai-sequence", d.delivery.event_seq.to_string())
        .body(body)
        .send()
        .await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let number = d.delivery.attempts + 1;
    let (status, error) = match &res {
        Ok(r) => (Some(i32::from(r.status().as_u16())), None),
        Err(e) => (None, Some(error_chain(e))),
    };
    let delivered = res.as_ref().is_ok_and(|r| r.status().is_success());
    let outcome = if delivered {
        AttemptOutcome::Delivered
    } else if number >= cfg.max_attempts {
        AttemptOutcome::GiveUp
    } else {
        let wait = chrono::Duration::from_std(backoff(cfg, number))
            .unwrap_or_else(|_| chrono::Duration::hours(1));
        AttemptOutcome::RetryAt(now + wait)
    };
    (
        DeliveryAttempt {
            attempt: number,
            at: format_time(now),
            status,
            error,
            duration_ms,
        },
        outcome,
    )
}

/// An error with its causes, for the attempt log ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_an_independent_hmac() {
        // Computed with Python's hmac module over b'1719800000.{"seq":1}'.
        assert_eq!(
            sign(
                "whsec_test-secret-0123456789",
                1_719_800_000,
                br#"{"seq":1}"#
            ),
            "t=1719800000,v1=7dcd5a5b22dd8f43fc33a98d8984dc5d31454882c622060e6210f363c15af149"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cfg = WebhookConfig {
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            ..WebhookConfig::default()
        };
        let waits: Vec<u64> = (1..=7).map(|a| backoff(&cfg, a).as_secs()).collect();
        assert_eq!(waits, vec![2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(&cfg, i32::MAX).as_secs(), 60);
    }

    #[test]
    fn only_plain_http_urls_with_a_host() {
        assert_eq!(
            check_url("http://127.0.0.1:8080/hook").as_deref(),
            Ok("http://127.0.0.1:8080/hook")
        );
        assert!(check_url("https://example.org/hook").is_err());
        assert!(check_url("ftp://example.org/").is_err());
        assert!(check_url("/relative").is_err());
        assert!(check_url("http://").is_err());
    }
}
