//! PostgreSQL at volume, on the real PostgreSQL: large group commits go through COPY and still
//! tell stored from duplicate; readings land in month partitions created ahead (rows that
//! arrived first in the default partition move into their month); retention drops whole
//! months; SQLite is untouched by the maintenance.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use jianghai_core::reading::{MeasurementType, Reading, Subject, Unit};
use jianghai_store::{IngestRow, Outcome, Store};
use sqlx::Row;
use uuid::Uuid;

fn row(sensor: &str, at: DateTime<Utc>, value: f64) -> IngestRow {
    IngestRow {
        reading: Reading::new(
            id("deck-env-1"),
            sensor,
            MeasurementType::Temperature,
            value,
            Unit::Celsius,
            at,
            None,
            at + Duration::seconds(1),
        )
        .expect("reading"),
        organisation: id("minsheng-shipping"),
        subject: Subject::parse("deck:minsheng-8/D3").expect("subject"),
    }
}

async fn count(pool: &sqlx::PgPool, schema: &str, table: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {schema}.{table}"
    )))
    .fetch_one(pool)
    .await
    .map(|r| r.get::<i64, _>(0))
    .unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_copies_partitions_and_drops_months() {
    let schema = format!("t_{}", Uuid::new_v4().simple());
    let url = format!("{}?schema={schema}", postgres_url());
    let store = Store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required for this test: {e}"));
    let pool = sqlx::PgPool::connect(&postgres_url()).await.expect("pool");
    // Opening created the real current month and those ahead, before anything could be
    // written: a month attached while one of its readings is routed to the default partition
    // would fail that insert.
    let this_month = format!("readings_p{}", Utc::now().format("%Y%m"));
    assert_eq!(
        count(&pool, &schema, &this_month).await,
        0,
        "{this_month} exists"
    );
    // The rest runs ten years back, in months that opening did not create.
    let now = Utc
        .with_ymd_and_hms(2016, 12, 3, 10, 0, 0)
        .single()
        .expect("now");

    // Before any maintenance everything is in the default partition.
    let early: Vec<IngestRow> = (0..300)
        .map(|i| row("air", now - Duration::minutes(300 - i), 20.0))
        .collect();
    let out = store.store_readings(&early).await.expect("copy");
    assert!(out.iter().all(|o| *o == Outcome::Stored));
    assert_eq!(count(&pool, &schema, "readings_default").await, 300);

    // The pass creates this month and two ahead, moving this month's rows out of the default.
    let report = store
        .maintain_reading_partitions(now, 90)
        .await
        .expect("maintain");
    assert_eq!(
        report.created,
        ["readings_p201612", "readings_p201701", "readings_p201702"]
    );
    assert!(report.dropped.is_empty());
    assert_eq!(count(&pool, &schema, "readings_default").await, 0);
    assert_eq!(count(&pool, &schema, "readings_p201612").await, 300);
    // A second pass has nothing to do.
    let again = store
        .maintain_reading_partitions(now, 90)
        .await
        .expect("maintain again");
    assert!(again.created.is_empty() && again.dropped.is_empty());

    // A large batch through COPY: new rows, duplicates of stored rows and a duplicate inside
    // the batch are told apart, and January's rows go to January.
    let mut batch: Vec<IngestRow> = (0..500)
        .map(|i| row("air", now + Duration::seconds(i), 21.0))
        .collect();
    batch.extend(early[..10].iter().cloned());
    batch.push(row("air", now, 99.0));
    batch.extend((0..5).map(|i| {
        row(
            "air",
            Utc.with_ymd_and_hms(2017, 1, 2, 0, 0, i)
                .single()
                .expect("t"),
            22.0,
        )
    }));
    let out = store.store_readings(&batch).await.expect("copy");
    let stored = out.iter().filter(|o| **o == Outcome::Stored).count();
    let dup = out.iter().filter(|o| **o == Outcome::Duplicate).count();
    assert_eq!((stored, dup), (505, 11));
    assert_eq!(out[500], Outcome::Duplicate);
    assert_eq!(
        out[510],
        Outcome::Duplicate,
        "same key earlier in the batch"
    );
    assert_eq!(count(&pool, &schema, "readings_p201612").await, 800);
    assert_eq!(count(&pool, &schema, "readings_p201701").await, 5);
    // Read back through the normal query, value of the first write kept.
    let page = store
        .readings("deck-env-1", "air", now, now + Duration::seconds(1), "", 10)
        .await
        .expect("read");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].value, 21.0);

    // A year later, with 90 days' retention: December 2016 to February 2017 are past it and
    // dropped whole; the months around the new now are created.
    let later = now + Duration::days(365);
    let report = store
        .maintain_reading_partitions(later, 90)
        .await
        .expect("maintain later");
    assert_eq!(
        report.dropped,
        ["readings_p201612", "readings_p201701", "readings_p201702"]
    );
    assert_eq!(report.created.len(), 3);
    assert_eq!(count(&pool, &schema, "readings").await, 0);
    // No organisation set its own retention: the default is the longest.
    assert_eq!(store.longest_retention_days().await.expect("days"), 90);

    store.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await
        .expect("drop schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_has_no_partitions_to_maintain() {
    let fresh = sqlite().await;
    let report = fresh
        .store
        .maintain_reading_partitions(Utc::now(), 90)
        .await
        .expect("maintain");
    assert!(report.created.is_empty() && report.dropped.is_empty());
    let rows: Vec<IngestRow> = (0..300)
        .map(|i| row("air", Utc::now() - Duration::minutes(300 - i), 20.0))
        .collect();
    let out = fresh.store.store_readings(&rows).await.expect("store");
    assert!(out.iter().all(|o| *o == Outcome::Stored));
}
