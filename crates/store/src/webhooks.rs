//! Webhooks: an organisation's URLs that receive its alert log, signed, with every delivery and
//! every attempt recorded.
//!
//! Each webhook keeps a cursor into the alert log. The dispatcher turns log entries past the
//! cursor into deliveries (one per entry, with the body fixed once so every retry sends the
//! same bytes) and moves the cursor in the same transaction; then it sends due deliveries and
//! records each attempt and the next try. The secret is kept as given: the server needs it to
//! sign, so it cannot be stored as a hash.

use chrono::{DateTime, Utc};
use jianghai_core::{Ident, ledger::format_time};
use uuid::Uuid;

use crate::registry::ident;
use crate::{Page, Store, StoreError, on_backend};

/// A registered webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: Uuid,
    pub organisation: Ident,
    pub url: String,
    pub secret: String,
    pub created_at: String,
    pub disabled_at: Option<String>,
    /// The last alert-log sequence number turned into deliveries.
    pub cursor: i64,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<DeliveryState, StoreError> {
        match s {
            "pending" => Ok(DeliveryState::Pending),
            "delivered" => Ok(DeliveryState::Delivered),
            "failed" => Ok(DeliveryState::Failed),
            _ => Err(StoreError::Corrupt(format!("delivery state {s:?}"))),
        }
    }
}

/// One try at sending a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    pub attempt: i32,
    pub at: String,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<i32>,
    /// Why it failed without an answer (connection refused, timeout, …).
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A delivery of one alert-log entry to one webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook: Uuid,
    pub event_seq: i64,
    pub body: String,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_at: String,
    pub created_at: String,
    pub delivered_at: Option<String>,
    /// Filled by [`Store::deliveries`]; empty from [`Store::claim_due_deliveries`].
    pub attempt_log: Vec<DeliveryAttempt>,
}

/// A delivery due now, with where and how to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub delivery: Delivery,
    pub url: String,
    pub secret: String,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    Delivered,
    RetryAt(DateTime<Utc>),
    GiveUp,
}

type WebhookRow = (String, String, String, String, String, Option<String>, i64);
const WEBHOOK_COLUMNS: &str = "w.id, w.organisation, w.url, w.secret, w.created_at, \
                               w.disabled_at, w.cursor";

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("id {s:?}: {e}")))
}

fn webhook(r: WebhookRow) -> Result<WebhookRecord, StoreError> {
    Ok(WebhookRecord {
        id: uuid(&r.0)?,
        organisation: ident(r.1)?,
        url: r.2,
        secret: r.3,
        created_at: r.4,
        disabled_at: r.5,
        cursor: r.6,
    })
}

type DeliveryRow = (
    String,
    String,
    i64,
    String,
    String,
    i32,
    String,
    String,
    Option<String>,
);
type AttemptRow = (i32, String, Option<i32>, Option<String>, i64);
const DELIVERY_COLUMNS: &str = "d.id, d.webhook, d.event_seq, d.body, d.state, d.attempts, \
                                d.next_at, d.created_at, d.delivered_at";

fn delivery(r: DeliveryRow) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: uuid(&r.0)?,
        webhook: uuid(&r.1)?,
        event_seq: r.2,
        body: r.3,
        state: DeliveryState::parse(&r.4)?,
        attempts: r.5,
        next_at: r.6,
        created_at: r.7,
        delivered_at: r.8,
        attempt_log: Vec::new(),
    })
}

impl Store {
    /// Registers a webhook; its cursor starts at the current end of the alert log, so it
    /// receives what happens from now on.
    pub async fn create_webhook(&self, w: &WebhookRecord) -> Result<(), StoreError> {
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO webhooks (id, organisation, url, secret, created_at, disabled_at, cursor) \
             VALUES ($1, $2, $3, $4, $5, $6, (SELECT seq FROM alert_log_head WHERE id = 1))"
        )
        .bind(w.id.to_string())
        .bind(w.organisation.as_str())
        .bind(&w.url)
        .bind(&w.secret)
        .bind(&w.created_at)
        .bind(&w.disabled_at)
        .execute(pool)
        .await
        .map_err(|e| crate::registry::exists_error(e, "webhook", &w.url))
        .map(drop)?);
        Ok(())
    }

    /// The webhook `id` of `organisation` (`None` for any other's).
    pub async fn webhook_of(
        &self,
        id: Uuid,
        organisation: &Ident,
    ) -> Result<Option<WebhookRecord>, StoreError> {
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.id = $1 AND w.organisation = $2"
        );
        let row: Option<WebhookRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(id.to_string())
        .bind(organisation.as_str())
        .fetch_optional(pool)
        .await?);
        row.map(webhook).transpose()
    }

    /// The webhooks of `organisation`, by id.
    pub async fn webhooks_of(
        &self,
        organisation: &Ident,
        after: &str,
        limit: i64,
    ) -> Result<Page<WebhookRecord>, StoreError> {
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.id > $1 AND w.organisation = $2 \
             ORDER BY w.id LIMIT $3"
        );
        self.scoped_page::<WebhookRow, _>(sql, after, organisation.as_str(), limit, webhook, |w| {
            w.id.to_string()
        })
        .await
    }

    /// Every webhook not disabled, for the dispatcher.
    pub async fn active_webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.disabled_at IS NULL ORDER BY w.id"
        );
        let rows: Vec<WebhookRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(webhook).collect()
    }

    /// Disables webhook `id` of `organisation`; pending deliveries stop. False when there is
    /// no such webhook of that organisation.
    pub async fn disable_webhook(
        &self,
        id: Uuid,
        organisation: &Ident,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now = format_time(now);
        let n = on_backend!(&self.backend, |pool| sqlx::query(
            "UPDATE webhooks SET disabled_at = COALESCE(disabled_at, $3) \
             WHERE id = $1 AND organisation = $2"
        )
        .bind(id.to_string())
        .bind(organisation.as_str())
        .bind(&now)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n > 0)
    }

    /// Turns log entries into deliveries for `webhook` and moves its cursor from `from` to
    /// `to`, in one transaction. Nothing happens (and `false` is returned) when the cursor is
    /// no longer at `from`: another dispatcher got there first.
    pub async fn enqueue_deliveries(
        &self,
        webhook: Uuid,
        from: i64,
        to: i64,
        entries: &[(i64, String)],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now = format_time(now);
        let (begin, _writer) = self.writer().await;
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let moved =
                sqlx::query("UPDATE webhooks SET cursor = $3 WHERE id = $1 AND cursor = $2")
                    .bind(webhook.to_string())
                    .bind(from)
                    .bind(to)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if moved == 0 {
                return Ok(false);
            }
            for (seq, body) in entries {
                sqlx::query(
                    "INSERT INTO webhook_deliveries (id, webhook, event_seq, body, state, \
                     attempts, next_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) \
                     ON CONFLICT (webhook, event_seq) DO NOTHING",
                )
                .bind(Uuid::now_v7().to_string())
                .bind(webhook.to_string())
                .bind(*seq)
                .bind(body)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Claims the pending deliveries of enabled webhooks due at `now` (at most `limit`, oldest
    /// due first) until `until`: their next try moves there, so no other dispatcher on the
    /// same store (another node) takes them meanwhile. The attempt recorded for each releases
    /// it; a claim whose holder died lapses at `until`, and the delivery is tried again.
    ///
    /// On PostgreSQL concurrent claims skip each other's rows (`FOR UPDATE SKIP LOCKED`);
    /// SQLite has one writer.
    pub async fn claim_due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        until: DateTime<Utc>,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let skip_locked = match self.engine() {
            crate::Engine::Postgres => " FOR UPDATE OF d SKIP LOCKED",
            crate::Engine::Sqlite => "",
        };
        // The outer conditions again, so a row another claim changed meanwhile is left alone.
        let claim = format!(
            "UPDATE webhook_deliveries SET next_at = $3 WHERE id IN (\
             SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook \
             WHERE d.state = 'pending' AND d.next_at <= $1 AND w.disabled_at IS NULL \
             ORDER BY d.next_at, d.event_seq LIMIT $2{skip_locked}) \
             AND state = 'pending' AND next_at <= $1 RETURNING id"
        );
        let read = format!(
            "SELECT {DELIVERY_COLUMNS}, w.url, w.secret FROM webhook_deliveries d \
             JOIN webhooks w ON w.id = d.webhook WHERE d.id = $1"
        );
        let (begin, _writer) = self.writer().await;
        let rows: Vec<(DeliveryRow, String, String)> = on_backend!(&self.backend, |pool| {
            use sqlx::Row;
            let mut tx = pool.begin_with(begin).await?;
            let ids: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(claim))
                .bind(format_time(now))
                .bind(limit)
                .bind(format_time(until))
                .fetch_all(&mut *tx)
                .await?;
            let mut out = Vec::with_capacity(ids.len());
            for (id,) in ids {
                let r = sqlx::query(sqlx::AssertSqlSafe(read.clone()))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                out.push((
                    <DeliveryRow as sqlx::FromRow<_>>::from_row(&r)?,
                    r.try_get(9)?,
                    r.try_get(10)?,
                ));
            }
            tx.commit().await?;
            out
        });
        let mut due = rows
            .into_iter()
            .map(|(d, url, secret)| {
                Ok(DueDelivery {
                    delivery: delivery(d)?,
                    url,
                    secret,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        due.sort_by_key(|d| (d.delivery.webhook, d.delivery.event_seq));
        Ok(due)
    }

    /// Records one attempt of `delivery` and what follows from it.
    pub async fn record_attempt(
        &self,
        delivery: Uuid,
        attempt: &DeliveryAttempt,
        outcome: &AttemptOutcome,
    ) -> Result<(), StoreError> {
        let (state, next_at, delivered_at) = match outcome {
            AttemptOutcome::Delivered => {
                ("delivered", attempt.at.clone(), Some(attempt.at.clone()))
            }
            AttemptOutcome::RetryAt(t) => ("pending", format_time(*t), None),
            AttemptOutcome::GiveUp => ("failed", attempt.at.clone(), None),
        };
        let (begin, _writer) = self.writer().await;
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery, attempt, at, status, error, duration_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(delivery.to_string())
            .bind(attempt.attempt)
            .bind(&attempt.at)
            .bind(attempt.status)
            .bind(&attempt.error)
            .bind(attempt.duration_ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE webhook_deliveries SET state = $2, attempts = $3, next_at = $4, \
                 delivered_at = $5 WHERE id = $1",
            )
            .bind(delivery.to_string())
            .bind(state)
            .bind(attempt.attempt)
            .bind(&next_at)
            .bind(&delivered_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deliveries of `webhook`, newest first, each with its attempts.
    pub async fn deliveries(
        &self,
        webhook: Uuid,
        after: &str,
        limit: i64,
    ) -> Result<Page<Delivery>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.webhook = $2 \
             AND ($1 = '' OR d.id < $1) ORDER BY d.id DESC LIMIT $3"
        );
        let mut p = self
            .scoped_page::<DeliveryRow, _>(sql, after, &webhook.to_string(), limit, delivery, |d| {
                d.id.to_string()
            })
            .await?;
        for d in &mut p.items {
            let rows: Vec<AttemptRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
                "SELECT attempt, at, status, error, duration_ms FROM webhook_attempts \
                     WHERE delivery = $1 ORDER BY attempt"
            )
            .bind(d.id.to_string())
            .fetch_all(pool)
            .await?);
            d.attempt_log = rows
                .into_iter()
                .map(
                    |(attempt, at, status, error, duration_ms)| DeliveryAttempt {
                        attempt,
                        at,
                        status,
                        error,
                        duration_ms,
                    },
                )
                .collect();
        }
        Ok(p)
    }
}
