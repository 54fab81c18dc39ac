//! Monitoring (migration 4) on both engines: sensors and their attachment, readings stored
//! once with rollups kept current, scoped sensor reads, retention, transit windows and the
//! group commit under concurrent submitters.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use jianghai_core::Step;
use jianghai_core::ledger::format_time;
use jianghai_core::reading::{MeasurementType, Reading, Subject, Unit};
use jianghai_store::{
    AlertScope, DeviceKind, DeviceRecord, IngestConfig, IngestRow, Ingestor, Outcome, SensorRecord,
    SensorScope, Store, StoreError, TokenOwner, TokenRecord,
};
use uuid::Uuid;

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let fresh = super::common::sqlite().await;
                    super::$case(&fresh.store).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let fresh = super::common::postgres().await;
                    super::$case(&fresh.store).await;
                }
            }
        )*
    };
}

conformance!(
    sensors_are_registered_attached_and_scoped,
    readings_are_stored_once_with_rollups,
    a_batch_of_several_statements_keeps_each_value_with_its_key,
    duplicates_in_a_later_statement_are_found_and_counted_once,
    readings_are_stored_on_the_writer_after_other_writes,
    retention_deletes_what_is_older_than_the_organisations_retention,
    transit_windows_follow_the_ledger,
    group_commit_answers_every_submitter_after_the_commit,
    writers_side_by_side_store_overlapping_batches_once,
);

async fn device(store: &Store, device: &str, org: &str) {
    let d = DeviceRecord {
        id: id(device),
        organisation: id(org),
        kind: DeviceKind::Sensor,
        name: device.into(),
        created_at: format_time(now()),
        disabled_at: None,
    };
    let cred = TokenRecord {
        id: Uuid::new_v4(),
        secret_hash: format!("hash-{device}"),
        owner: TokenOwner::Device(d.id.clone()),
        name: "credential".into(),
        created_at: format_time(now()),
        expires_at: None,
        revoked_at: None,
    };
    store.create_device(&d, &cred).await.expect("device");
}

fn sensor(device: &str, key: &str, org: &str, m: MeasurementType, subject: &str) -> SensorRecord {
    SensorRecord {
        device: id(device),
        sensor: key.into(),
        organisation: id(org),
        measurement: m,
        unit: m.canonical_unit(),
        subject: Subject::parse(subject).expect("subject"),
        name: key.into(),
        created_at: format_time(now()),
        updated_at: format_time(now()),
    }
}

fn t(minutes: f64) -> DateTime<Utc> {
    now() - Duration::hours(1) + Duration::milliseconds((minutes * 60_000.0) as i64)
}

fn row(device: &str, key: &str, minutes: f64, value: f64) -> IngestRow {
    IngestRow {
        reading: Reading::new(
            id(device),
            key,
            MeasurementType::Temperature,
            value,
            Unit::Celsius,
            t(minutes),
            None,
            now(),
        )
        .expect("reading"),
        organisation: id("minsheng-shipping"),
        subject: Subject::parse("deck:minsheng-8/D3").expect("subject"),
    }
}

fn scope(s: AlertScope) -> SensorScope {
    SensorScope(s)
}

async fn sensors_are_registered_attached_and_scoped(store: &Store) {
    seed(store).await;
    drive(store, &[vin(1)], &[Step::Register], 1).await;
    device(store, "deck-env-1", "minsheng-shipping").await;
    device(store, "yard-env-1", "guoyuan-port").await;
    let deck = sensor(
        "deck-env-1",
        "air",
        "minsheng-shipping",
        MeasurementType::Temperature,
        "deck:minsheng-8/D3",
    );
    store.register_sensor(&deck).await.expect("register");
    assert!(matches!(
        store.register_sensor(&deck).await,
        Err(StoreError::Exists { .. })
    ));
    // A subject that names nothing registered, and a device of another organisation.
    let ghost = sensor(
        "deck-env-1",
        "rh",
        "minsheng-shipping",
        MeasurementType::RelativeHumidity,
        "deck:no-such-ship/D1",
    );
    assert!(matches!(
        store.register_sensor(&ghost).await,
        Err(StoreError::Missing {
            what: "subject",
            ..
        })
    ));
    let foreign = sensor(
        "yard-env-1",
        "air",
        "minsheng-shipping",
        MeasurementType::Temperature,
        "deck:minsheng-8/D3",
    );
    assert!(matches!(
        store.register_sensor(&foreign).await,
        Err(StoreError::Missing { what: "device", .. })
    ));

    // Who sees the deck sensor: its carrier, customs; not the exporter, not the port.
    let carrier = scope(AlertScope::CarriedBy(id("minsheng-shipping")));
    let exporter = scope(AlertScope::ExportedBy(id("changan-export")));
    let port = scope(AlertScope::OperatedBy(id("guoyuan-port")));
    let all = scope(AlertScope::All);
    let sees = |s: SensorScope| async move {
        store
            .sensor_in(&s, "deck-env-1", "air")
            .await
            .expect("read")
            .is_some()
    };
    assert!(sees(carrier.clone()).await);
    assert!(sees(all.clone()).await);
    assert!(!sees(exporter.clone()).await);
    assert!(!sees(port.clone()).await);

    // Attached to the exporter's car, the exporter sees it too (and the carrier, its owner).
    let car = Subject::parse(&format!("vehicle:{}", vin(1))).expect("subject");
    assert!(
        store
            .attach_sensor(&id("deck-env-1"), "air", &car, now())
            .await
            .expect("attach")
    );
    assert!(sees(exporter.clone()).await);
    assert!(sees(carrier.clone()).await);
    assert!(!sees(port.clone()).await);
    assert!(
        !store
            .attach_sensor(&id("deck-env-1"), "nope", &car, now())
            .await
            .expect("attach")
    );
    // What a party may attach to: the exporter its cars, the carrier its decks.
    let d3 = Subject::parse("deck:minsheng-8/D3").expect("subject");
    let yard = Subject::parse("facility:guoyuan-yard").expect("subject");
    assert!(store.subject_in(&exporter.0, &car).await.expect("read"));
    assert!(!store.subject_in(&exporter.0, &d3).await.expect("read"));
    assert!(store.subject_in(&carrier.0, &d3).await.expect("read"));
    assert!(!store.subject_in(&carrier.0, &yard).await.expect("read"));
    assert!(store.subject_in(&port.0, &yard).await.expect("read"));
    assert!(store.subject_in(&all.0, &yard).await.expect("read"));

    // Listings: scoped, paged, filtered by subject.
    store
        .register_sensor(&sensor(
            "deck-env-1",
            "rh",
            "minsheng-shipping",
            MeasurementType::RelativeHumidity,
            "deck:minsheng-8/D3",
        ))
        .await
        .expect("register");
    store
        .register_sensor(&sensor(
            "yard-env-1",
            "air",
            "guoyuan-port",
            MeasurementType::Temperature,
            "facility:guoyuan-yard",
        ))
        .await
        .expect("register");
    let p1 = store.sensors(&all, None, "", 2).await.expect("list");
    assert_eq!(p1.items.len(), 2);
    let next = p1.next.expect("a second page");
    let p2 = store.sensors(&all, None, &next, 2).await.expect("list");
    let keys: Vec<String> = p1
        .items
        .iter()
        .chain(&p2.items)
        .map(|s| format!("{}/{}", s.device, s.sensor))
        .collect();
    assert_eq!(keys, ["deck-env-1/air", "deck-env-1/rh", "yard-env-1/air"]);
    let mine = store.sensors(&port, None, "", 50).await.expect("list");
    assert_eq!(mine.items.len(), 1);
    assert_eq!(mine.items[0].subject, yard);
    let on_d3 = store.sensors(&all, Some(&d3), "", 50).await.expect("list");
    assert_eq!(on_d3.items.len(), 1);
    assert_eq!(on_d3.items[0].sensor, "rh");
    assert_eq!(
        store
            .sensors_of_device("deck-env-1")
            .await
            .expect("read")
            .len(),
        2
    );
}

async fn readings_are_stored_once_with_rollups(store: &Store) {
    let rows = vec![
        row("deck-env-1", "air", 0.0, 30.0),
        row("deck-env-1", "air", 0.5, 34.0),
        // The same key twice in one batch: stored once.
        row("deck-env-1", "air", 0.5, 99.0),
        row("deck-env-1", "air", 1.25, 40.0),
        row("deck-env-1", "rh", 0.0, 50.0),
    ];
    let out = store.store_readings(&rows).await.expect("store");
    use Outcome::*;
    assert_eq!(out, vec![Stored, Stored, Duplicate, Stored, Stored]);
    // Again, plus one late reading in the first minute: only that one is new.
    let mut again = rows.clone();
    again.push(row("deck-env-1", "air", 0.75, 20.0));
    let out = store.store_readings(&again).await.expect("store");
    assert_eq!(
        out,
        vec![
            Duplicate, Duplicate, Duplicate, Duplicate, Duplicate, Stored
        ]
    );

    let page = store
        .readings("deck-env-1", "air", t(0.0), t(60.0), "", 2)
        .await
        .expect("read");
    let values: Vec<f64> = page.items.iter().map(|r| r.value).collect();
    assert_eq!(values, vec![30.0, 34.0], "the first of a duplicate stays");
    let rest = store
        .readings(
            "deck-env-1",
            "air",
            t(0.0),
            t(60.0),
            page.next.as_deref().expect("next"),
            10,
        )
        .await
        .expect("read");
    let values: Vec<f64> = rest.items.iter().map(|r| r.value).collect();
    assert_eq!(values, vec![20.0, 40.0]);
    assert_eq!(rest.next, None);

    let minutes = store
        .rollups("deck-env-1", "air", 60, t(0.0), t(60.0), 100)
        .await
        .expect("rollups");
    let got: Vec<(f64, f64, f64, i64)> = minutes
        .iter()
        .map(|r| (r.min, r.max, r.mean, r.count))
        .collect();
    // t(0) is a whole minute: [30, 34, 20] and [40].
    assert_eq!(got, vec![(20.0, 34.0, 28.0, 3), (40.0, 40.0, 40.0, 1)]);
    let hours = store
        .rollups("deck-env-1", "air", 3600, t(0.0), t(60.0), 100)
        .await
        .expect("rollups");
    let total: i64 = hours.iter().map(|r| r.count).sum();
    assert_eq!(total, 4);
    assert_eq!(hours.iter().map(|r| r.max).fold(f64::MIN, f64::max), 40.0);
}

async fn a_batch_of_several_statements_keeps_each_value_with_its_key(store: &Store) {
    // 2,500 rows span three INSERT statements; each value is its row's index / 10, so a row
    // bound against another's key would show up in the values read back.
    let rows: Vec<IngestRow> = (0..2_500)
        .map(|i| row("deck-env-1", "air", i as f64 / 100.0, i as f64 / 10.0))
        .collect();
    let out = store.store_readings(&rows).await.expect("store");
    assert!(out.iter().all(|o| *o == Outcome::Stored));
    let page = store
        .readings("deck-env-1", "air", t(0.0), t(30.0), "", 5_000)
        .await
        .expect("read");
    let values: Vec<f64> = page.items.iter().map(|r| r.value).collect();
    assert_eq!(
        values,
        (0..2_500).map(|i| i as f64 / 10.0).collect::<Vec<_>>()
    );
    let minutes = store
        .rollups("deck-env-1", "air", 60, t(0.0), t(30.0), 100)
        .await
        .expect("rollups");
    assert_eq!(minutes.len(), 25);
    assert!(minutes.iter().all(|m| m.count == 100));
    assert_eq!((minutes[7].min, minutes[7].max), (70.0, 79.9));
}

async fn duplicates_in_a_later_statement_are_found_and_counted_once(store: &Store) {
    // 1,700 rows first; then 3,000 rows (several statements) of which rows 2,000..2,500 and
    // 2,900.. repeat stored ones (with other values) and one row repeats an earlier row of the
    // same batch. Every outcome must be right, whichever statement its row is in, and the
    // rollups must count each stored reading once (none of a duplicate, none twice).
    let key = |i: usize| i as f64 / 100.0;
    let first: Vec<IngestRow> = (0..1_700)
        .map(|i| row("deck-env-1", "air", key(i + 1_000), 1.0))
        .collect();
    assert!(
        store
            .store_readings(&first)
            .await
            .expect("store")
            .iter()
            .all(|o| *o == Outcome::Stored)
    );
    let mut batch: Vec<IngestRow> = (0..3_000)
        .map(|i| row("deck-env-1", "air", key(i), 2.0))
        .collect();
    batch.push(row("deck-env-1", "air", key(17), 3.0));
    let out = store.store_readings(&batch).await.expect("store");
    for (i, o) in out.iter().enumerate() {
        let expected = if (1_000..2_700).contains(&i) || i == 3_000 {
            Outcome::Duplicate
        } else {
            Outcome::Stored
        };
        assert_eq!(*o, expected, "row {i}");
    }
    let page = store
        .readings("deck-env-1", "air", t(0.0), t(60.0), "", 10_000)
        .await
        .expect("read");
    assert_eq!(page.items.len(), 3_000);
    // The stored value is the first one of each key.
    let ones = page.items.iter().filter(|r| r.value == 1.0).count();
    assert_eq!(ones, 1_700);
    assert!(page.items.iter().all(|r| r.value != 3.0));
    let minutes = store
        .rollups("deck-env-1", "air", 60, t(0.0), t(60.0), 100)
        .await
        .expect("rollups");
    assert_eq!(minutes.iter().map(|m| m.count).sum::<i64>(), 3_000);
    let sum: f64 = minutes.iter().map(|m| m.mean * m.count as f64).sum();
    assert!((sum - (1_700.0 + 2.0 * 1_300.0)).abs() < 1e-6, "{sum}");
}

async fn readings_are_stored_on_the_writer_after_other_writes(store: &Store) {
    // Readings, then other writes through the store's other connections, then readings again
    // (SQLite: ingestion's own connection must see the others' commits and they its own).
    seed(store).await;
    let a: Vec<IngestRow> = (0..10)
        .map(|i| row("deck-env-1", "air", f64::from(i), 20.0))
        .collect();
    assert!(
        store
            .store_readings(&a)
            .await
            .expect("store")
            .iter()
            .all(|o| *o == Outcome::Stored)
    );
    store
        .set_retention(&id("minsheng-shipping"), 30)
        .await
        .expect("retention");
    store
        .execute_raw("DELETE FROM readings WHERE at = (SELECT MIN(at) FROM readings)")
        .await
        .expect("delete");
    // The deleted one is new again; the others are duplicates.
    let out = store.store_readings(&a).await.expect("store");
    assert_eq!(out[0], Outcome::Stored);
    assert!(out[1..].iter().all(|o| *o == Outcome::Duplicate));
    let page = store
        .readings("deck-env-1", "air", t(0.0), t(60.0), "", 100)
        .await
        .expect("read");
    assert_eq!(page.items.len(), 10);
}

async fn retention_deletes_what_is_older_than_the_organisations_retention(store: &Store) {
    seed(store).await;
    device(store, "deck-env-1", "minsheng-shipping").await;
    device(store, "yard-env-1", "guoyuan-port").await;
    store
        .register_sensor(&sensor(
            "deck-env-1",
            "air",
            "minsheng-shipping",
            MeasurementType::Temperature,
            "deck:minsheng-8/D3",
        ))
        .await
        .expect("register");
    store
        .register_sensor(&sensor(
            "yard-env-1",
            "air",
            "guoyuan-port",
            MeasurementType::Temperature,
            "facility:guoyuan-yard",
        ))
        .await
        .expect("register");
    assert_eq!(
        store
            .retention(&id("minsheng-shipping"))
            .await
            .expect("read"),
        jianghai_store::DEFAULT_RETENTION_DAYS
    );
    store
        .set_retention(&id("minsheng-shipping"), 7)
        .await
        .expect("set");
    assert_eq!(
        store
            .retention(&id("minsheng-shipping"))
            .await
            .expect("read"),
        7
    );
    assert!(matches!(
        store.set_retention(&id("minsheng-shipping"), 0).await,
        Err(StoreError::Invalid(_))
    ));
    let days = |d: i64| -(d as f64) * 24.0 * 60.0 + 60.0;
    let rows: Vec<IngestRow> = [10, 8, 6, 1]
        .into_iter()
        .flat_map(|d| {
            [
                row("deck-env-1", "air", days(d), 30.0),
                row("yard-env-1", "air", days(d), 30.0),
            ]
        })
        .collect();
    store.store_readings(&rows).await.expect("store");
    let deleted = store.prune_readings(now()).await.expect("prune");
    assert_eq!(deleted, 2, "the carrier's 10- and 8-day-old readings");
    let left = |device: &'static str| async move {
        store
            .readings(device, "air", t(days(30)), t(60.0), "", 100)
            .await
            .expect("read")
            .items
            .len()
    };
    assert_eq!(left("deck-env-1").await, 2);
    assert_eq!(left("yard-env-1").await, 4, "the port keeps 90 days");
    // Minute rollups go with the raw readings; hour rollups stay.
    let minutes = store
        .rollups("deck-env-1", "air", 60, t(days(30)), t(60.0), 100)
        .await
        .expect("rollups");
    assert_eq!(minutes.len(), 2);
    let hours = store
        .rollups("deck-env-1", "air", 3600, t(days(30)), t(60.0), 100)
        .await
        .expect("rollups");
    assert_eq!(hours.len(), 4);
    assert_eq!(store.prune_readings(now()).await.expect("prune"), 0);
}

async fn transit_windows_follow_the_ledger(store: &Store) {
    seed(store).await;
    let deck = Subject::parse("deck:minsheng-8/D3").expect("subject");
    let car = Subject::parse(&format!("vehicle:{}", vin(1))).expect("subject");
    let yard = Subject::parse("facility:guoyuan-yard").expect("subject");
    assert!(store.transit_windows(&deck).await.expect("read").is_empty());
    // Register … load, depart (minute 50), arrive (minute 60).
    drive(store, &[vin(1)], &jianghai_core_chain()[..7], 1).await;
    for s in [&deck, &car] {
        let w = store.transit_windows(s).await.expect("read");
        assert_eq!(w.len(), 1, "{s}");
        assert_eq!(w[0].voyage, id("v2025-001"));
        assert_eq!(w[0].departed, at_minutes(50).with_timezone(&Utc));
        assert_eq!(w[0].arrived, Some(at_minutes(60).with_timezone(&Utc)));
    }
    let voyage = Subject::parse("voyage:v2025-001").expect("subject");
    assert_eq!(store.transit_windows(&voyage).await.expect("read").len(), 1);
    assert!(store.transit_windows(&yard).await.expect("read").is_empty());
    let stranger = Subject::parse(&format!("vehicle:{}", vin(2))).expect("subject");
    assert!(
        store
            .transit_windows(&stranger)
            .await
            .expect("read")
            .is_empty()
    );
}

fn jianghai_core_chain() -> [Step; 10] {
    CHAIN
}

async fn group_commit_answers_every_submitter_after_the_commit(store: &Store) {
    let ingestor = Ingestor::start(
        store.clone(),
        IngestConfig {
            capacity: 10_000,
            max_batch: 500,
            broadcast: 64,
            postgres_writers: 2,
        },
    );
    let mut committed = ingestor.subscribe();
    // 20 submitters × 100 readings, every other one sending its first ten again.
    let mut tasks = Vec::new();
    for s in 0..20 {
        let ingestor = ingestor.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("s{s}");
            let mut rows: Vec<IngestRow> = (0..100)
                .map(|i| row("deck-env-1", &key, f64::from(i) / 10.0, 25.0))
                .collect();
            if s % 2 == 0 {
                rows.extend_from_within(..10);
            }
            ingestor.submit(rows).await
        }));
    }
    let mut stored = 0;
    let mut duplicates = 0;
    for t in tasks {
        let out = t.await.expect("join").expect("submit");
        stored += out.iter().filter(|o| **o == Outcome::Stored).count();
        duplicates += out.iter().filter(|o| **o == Outcome::Duplicate).count();
    }
    assert_eq!((stored, duplicates), (2_000, 100));
    // Everything acknowledged is there, and was published once.
    let mut n = 0;
    while n < 2_000 {
        let batch = tokio::time::timeout(std::time::Duration::from_secs(10), committed.recv())
            .await
            .expect("a committed batch")
            .expect("recv");
        n += batch.readings.len();
    }
    assert_eq!(n, 2_000);
    for s in 0..20 {
        let page = store
            .readings("deck-env-1", &format!("s{s}"), t(0.0), t(60.0), "", 500)
            .await
            .expect("read");
        assert_eq!(page.items.len(), 100);
    }
    // Resubmitting is answered "duplicate", and nothing is published.
    let out = ingestor
        .submit(vec![row("deck-env-1", "s0", 0.0, 25.0)])
        .await
        .expect("submit");
    assert_eq!(out, vec![Outcome::Duplicate]);
    // A submission larger than the whole queue is refused outright.
    let big: Vec<IngestRow> = (0..10_001)
        .map(|i| row("deck-env-1", "big", f64::from(i) / 1000.0, 1.0))
        .collect();
    assert!(matches!(
        ingestor.submit(big).await,
        Err(jianghai_store::IngestError::TooLarge { .. })
    ));
}

/// Writers side by side (PostgreSQL; SQLite has one): 24 submitters send the same 8 sensors'
/// readings, overlapping by half and in opposite orders, so batches written at the same time
/// meet each other's keys and rollup rows. Nothing deadlocks or fails, every reading is stored
/// once, rollups count each once, and batches are published numbered in order.
async fn writers_side_by_side_store_overlapping_batches_once(store: &Store) {
    let ingestor = Ingestor::start(
        store.clone(),
        IngestConfig {
            capacity: 100_000,
            max_batch: 300,
            broadcast: 1_024,
            postgres_writers: 3,
        },
    );
    let mut committed = ingestor.subscribe();
    let mut tasks = Vec::new();
    for s in 0..24u32 {
        let ingestor = ingestor.clone();
        tasks.push(tokio::spawn(async move {
            // Submitter s sends readings [50·s, 50·s + 100) of every sensor: half of them
            // are the next submitter's too.
            let mut rows: Vec<IngestRow> = (0..8)
                .flat_map(|k| {
                    (50 * s..50 * s + 100).map(move |i| {
                        row(
                            "deck-env-9",
                            &format!("p{k}"),
                            f64::from(i) / 60.0,
                            f64::from(i),
                        )
                    })
                })
                .collect();
            if s % 2 == 1 {
                rows.reverse();
            }
            ingestor.submit(rows).await
        }));
    }
    let mut stored = 0;
    for t in tasks {
        let out = t.await.expect("join").expect("no batch failed");
        stored += out.iter().filter(|o| **o == Outcome::Stored).count();
    }
    // 24 × 50 + 50 distinct readings per sensor.
    let distinct = 8 * (24 * 50 + 50);
    assert_eq!(stored, distinct);
    let (mut n, mut last) = (0, 0);
    while n < distinct {
        let batch = tokio::time::timeout(std::time::Duration::from_secs(10), committed.recv())
            .await
            .expect("a committed batch")
            .expect("recv");
        assert_eq!(batch.seq, last + 1, "published in order, numbered from 1");
        last = batch.seq;
        n += batch.readings.len();
    }
    assert_eq!(n, distinct);
    for k in 0..8 {
        let sensor = format!("p{k}");
        let minutes = store
            .rollups("deck-env-9", &sensor, 60, t(-1.0), t(60.0), 1_000)
            .await
            .expect("rollups");
        let count: i64 = minutes.iter().map(|r| r.count).sum();
        let sum: f64 = minutes.iter().map(|r| r.mean * r.count as f64).sum();
        assert_eq!(count, 1_250, "{sensor}");
        let want = f64::from((0..1_250).sum::<u32>());
        assert!(
            (sum - want).abs() < 1e-6 * want,
            "{sensor}: {sum} against {want}"
        );
        let raw = store
            .readings("deck-env-9", &sensor, t(-1.0), t(60.0), "", 2_000)
            .await
            .expect("read");
        assert_eq!(raw.items.len(), 1_250);
    }
}
