//! The one conformance suite, run against SQLite and PostgreSQL: both engines must behave the
//! same for every case.

mod common;

use common::*;
use jianghai_core::{Event, EventError, LifecycleError, Step, VehicleState};
use jianghai_store::{AppendError, Store, VerifyError};

/// Declares each case once and runs it on both engines.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test]
                async fn sqlite() {
                    let fresh = super::common::sqlite().await;
                    super::$case(&fresh.store).await;
                }
                #[tokio::test]
                async fn postgres() {
                    let fresh = super::common::postgres().await;
                    super::$case(&fresh.store).await;
                }
            }
        )*
    };
}

conformance!(
    registers_and_reads_back,
    full_lifecycle_verifies,
    illegal_transition_records_nothing,
    retries_are_idempotent_and_reuse_is_refused,
    bad_references_and_times_are_refused,
    a_batch_is_all_or_nothing,
    late_events_fall_into_place,
    hold_and_release,
    ledger_refuses_update_and_delete,
    tampering_is_caught,
    users_tokens_and_devices,
    login_throttle_locks_and_resets,
    audit_log_pages,
    concurrent_audit_entries_are_each_written_once,
    scopes_narrow_reads,
    shipments_are_all_or_nothing,
    bookings_widen_carrier_and_port_scopes,
);

async fn registers_and_reads_back(store: &Store) {
    seed(store).await;
    let vins = [vin(1), vin(2), vin(3)];
    let r = store
        .append_batch_at(
            vec![step_event(1, Step::Register, 0, &vins, "changan-export")],
            now(),
        )
        .await
        .expect("append");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].seq, 1);
    assert!(!r[0].duplicate);
    assert_eq!(r[0].hash.len(), 64);
    let v = store
        .vehicle(&vins[1])
        .await
        .expect("read")
        .expect("present");
    assert_eq!(v.status.state, VehicleState::Registered);
    assert_eq!(v.exporter.as_str(), "changan-export");
    assert_eq!(v.manufacturer.as_deref(), Some("Changan"));
    assert_eq!(v.model_year, Some(2024));
    let t = store.timeline(&vins[2]).await.expect("timeline");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].event.step, Some(Step::Register));
    assert_eq!(t[0].event.event_time.offset().local_minus_utc(), 8 * 3600);
    let got = store
        .event(t[0].event.event_id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(got, t[0]);
    assert_eq!(store.head().await.expect("head").0, 1);
}

async fn full_lifecycle_verifies(store: &Store) {
    seed(store).await;
    let vins: Vec<_> = (10..20).map(vin).collect();
    drive(store, &vins, &CHAIN, 100).await;
    for v in &vins {
        let rec = store.vehicle(v).await.expect("read").expect("present");
        assert_eq!(rec.status.state, VehicleState::Exported);
        assert_eq!(store.timeline(v).await.expect("timeline").len(), 10);
    }
    let s = store.verify().await.expect("verifies");
    assert_eq!(s.count, 10);
    assert_eq!(
        store.vehicle_counts().await.expect("counts"),
        vec![(VehicleState::Exported, 10)]
    );
}

async fn illegal_transition_records_nothing(store: &Store) {
    seed(store).await;
    let v = [vin(30)];
    drive(store, &v, &CHAIN[..2], 1).await;
    let before = store.head().await.expect("head");
    let err = store
        .append_batch_at(
            vec![step_event(50, Step::Load, 30, &v, "minsheng-shipping")],
            now(),
        )
        .await
        .unwrap_err();
    match &err {
        AppendError::Lifecycle { vin, error, .. } => {
            assert_eq!(*vin, v[0]);
            assert_eq!(
                *error,
                LifecycleError::Illegal {
                    step: Step::Load,
                    current: VehicleState::GatedIn,
                    allowed: vec![Step::Tally, Step::Hold, Step::Return],
                }
            );
        }
        other => panic!("expected a lifecycle error, got {other}"),
    }
    assert!(
        err.to_string()
            .contains("vehicle is gated_in; allowed next steps: tally, hold, return")
    );
    assert_eq!(store.head().await.expect("head"), before);
    assert!(
        store
            .event(uuid::Uuid::from_u128(50))
            .await
            .expect("read")
            .is_none()
    );
    let unregistered = store
        .append_batch_at(
            vec![step_event(51, Step::GateIn, 30, &[vin(31)], "guoyuan-port")],
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        unregistered,
        AppendError::Lifecycle {
            error: LifecycleError::NotRegistered { .. },
            ..
        }
    ));
    store.verify().await.expect("still verifies");
}

async fn retries_are_idempotent_and_reuse_is_refused(store: &Store) {
    seed(store).await;
    let e = step_event(7, Step::Register, 0, &[vin(40)], "changan-export");
    let first = store
        .append_batch_at(vec![e.clone()], now())
        .await
        .expect("first");
    // A retry, later, returns the original receipt and records nothing.
    let later = now() + chrono::Duration::minutes(3);
    let retry = store
        .append_batch_at(vec![e.clone()], later)
        .await
        .expect("retry");
    assert!(retry[0].duplicate);
    assert_eq!(retry[0].seq, first[0].seq);
    assert_eq!(retry[0].hash, first[0].hash);
    assert_eq!(retry[0].record_time, first[0].record_time);
    assert_eq!(store.head().await.expect("head").0, 1);
    // The same id with different content is refused.
    let mut other = e.clone();
    other.subjects.vins = vec![vin(41)];
    let err = store.append_batch_at(vec![other], now()).await.unwrap_err();
    assert!(matches!(err, AppendError::Conflict { event_id } if event_id == e.event_id));
    // Within one batch too.
    let mut twin = step_event(8, Step::Register, 0, &[vin(42)], "changan-export");
    let batch = store
        .append_batch_at(vec![twin.clone(), twin.clone()], now())
        .await
        .expect("batch with a repeated event");
    assert_eq!(batch[0].seq, batch[1].seq);
    assert!(batch[1].duplicate);
    twin.subjects.vins = vec![vin(43)];
    let before = store.head().await.expect("head");
    let err = store
        .append_batch_at(
            vec![
                step_event(9, Step::Register, 0, &[vin(44)], "changan-export"),
                twin,
            ],
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AppendError::Conflict { .. }));
    assert_eq!(store.head().await.expect("head"), before);
    store.verify().await.expect("verifies");
}

async fn bad_references_and_times_are_refused(store: &Store) {
    seed(store).await;
    let v = [vin(60)];
    let mut future = step_event(1, Step::Register, 0, &v, "changan-export");
    future.event_time = (now() + chrono::Duration::minutes(6)).with_timezone(&cst());
    assert!(matches!(
        store.append_batch_at(vec![future], now()).await,
        Err(AppendError::Invalid {
            index: 0,
            error: EventError::FromTheFuture { .. }
        })
    ));
    let unknown_org = step_event(2, Step::Register, 0, &v, "nobody-ltd");
    let err = store
        .append_batch_at(vec![unknown_org], now())
        .await
        .unwrap_err();
    assert!(matches!(&err, AppendError::UnknownOrganisation { id, .. } if id == "nobody-ltd"));
    let mut unknown_fac = step_event(3, Step::Register, 0, &v, "changan-export");
    unknown_fac.read_point = Some(id("atlantis-yard"));
    let err = store
        .append_batch_at(vec![unknown_fac], now())
        .await
        .unwrap_err();
    assert!(matches!(&err, AppendError::UnknownFacility { id, .. } if id == "atlantis-yard"));
    let mut unknown_voyage = step_event(4, Step::Register, 0, &v, "changan-export");
    unknown_voyage.subjects.voyage = Some(id("v1999-404"));
    let err = store
        .append_batch_at(vec![unknown_voyage], now())
        .await
        .unwrap_err();
    assert!(matches!(&err, AppendError::UnknownVoyage { .. }));
    let mut big = step_event(5, Step::Register, 0, &v, "changan-export");
    big.actor.user = Some("u".repeat(1000));
    assert!(matches!(
        store.append_batch_at(vec![big], now()).await,
        Err(AppendError::Invalid {
            error: EventError::TooLong { .. },
            ..
        })
    ));
    let too_many: Vec<Event> = (0..10_001)
        .map(|i| step_event(1000 + i, Step::Register, 0, &v, "changan-export"))
        .collect();
    assert!(matches!(
        store.append_batch_at(too_many, now()).await,
        Err(AppendError::BatchTooLarge { count: 10_001, .. })
    ));
    assert_eq!(store.head().await.expect("head").0, 0);
    // A known facility and voyage are accepted.
    let mut good = step_event(6, Step::Register, 0, &v, "changan-export");
    good.read_point = Some(id("guoyuan-yard"));
    good.subjects.voyage = Some(id("v2025-001"));
    store
        .append_batch_at(vec![good], now())
        .await
        .expect("accepted");
}

async fn a_batch_is_all_or_nothing(store: &Store) {
    seed(store).await;
    let good = step_event(1, Step::Register, 0, &[vin(70)], "changan-export");
    let bad = step_event(2, Step::Tally, 1, &[vin(71)], "guoyuan-port");
    assert!(
        store
            .append_batch_at(vec![good.clone(), bad], now())
            .await
            .is_err()
    );
    assert_eq!(store.head().await.expect("head").0, 0);
    assert!(store.vehicle(&vin(70)).await.expect("read").is_none());
    // Steps within one batch see each other.
    let batch = vec![
        good,
        step_event(3, Step::GateIn, 1, &[vin(70)], "guoyuan-port"),
        step_event(4, Step::Tally, 2, &[vin(70)], "guoyuan-port"),
    ];
    let r = store.append_batch_at(batch, now()).await.expect("batch");
    assert_eq!(r.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(
        store
            .vehicle(&vin(70))
            .await
            .expect("read")
            .expect("present")
            .status
            .state,
        VehicleState::Tallied
    );
    store.verify().await.expect("verifies");
}

async fn late_events_fall_into_place(store: &Store) {
    seed(store).await;
    let v = [vin(80)];
    store
        .append_batch_at(
            vec![step_event(1, Step::Register, 0, &v, "changan-export")],
            now(),
        )
        .await
        .expect("register");
    // A sensor-style observation recorded late but timed before registration's successor.
    let mut obs = step_event(2, Step::Register, 60, &v, "guoyuan-port");
    obs.step = None;
    obs.biz_step = jianghai_core::BizStep("inspecting".into());
    let mut early = obs.clone();
    early.event_id = uuid::Uuid::from_u128(3);
    early.event_time = at_minutes(-30);
    store.append_batch_at(vec![obs], now()).await.expect("obs");
    store
        .append_batch_at(vec![early], now())
        .await
        .expect("early");
    let t = store.timeline(&v[0]).await.expect("timeline");
    let seqs: Vec<i64> = t.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![3, 1, 2]);
}

async fn hold_and_release(store: &Store) {
    seed(store).await;
    let v = [vin(90)];
    drive(store, &v, &CHAIN[..6], 1).await;
    drive(store, &v, &[Step::Hold], 20).await;
    let rec = store.vehicle(&v[0]).await.expect("read").expect("present");
    assert_eq!(rec.status.state, VehicleState::Held);
    assert_eq!(rec.status.held_from, Some(VehicleState::Departed));
    let err = store
        .append_batch_at(
            vec![step_event(30, Step::Arrive, 100, &v, "minsheng-shipping")],
            now(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("vehicle is held; allowed next steps: release, return")
    );
    drive(store, &v, &[Step::Release], 40).await;
    assert_eq!(
        store
            .vehicle(&v[0])
            .await
            .expect("read")
            .expect("present")
            .status
            .state,
        VehicleState::Departed
    );
    store.verify().await.expect("verifies");
}

async fn ledger_refuses_update_and_delete(store: &Store) {
    seed(store).await;
    drive(store, &[vin(95)], &CHAIN[..2], 1).await;
    assert!(
        store
            .execute_raw("UPDATE ledger SET biz_step = 'x' WHERE seq = 1")
            .await
            .is_err()
    );
    assert!(
        store
            .execute_raw("DELETE FROM ledger WHERE seq = 2")
            .await
            .is_err()
    );
    store.verify().await.expect("untouched");
}

/// Each way of changing the tables behind the platform's back is caught by `verify`.
async fn tampering_is_caught(store: &Store) {
    let unguard = match store.engine() {
        jianghai_store::Engine::Sqlite => {
            "DROP TRIGGER ledger_no_update; DROP TRIGGER ledger_no_delete;"
        }
        jianghai_store::Engine::Postgres => "ALTER TABLE ledger DISABLE TRIGGER USER;",
    };
    type Check = fn(&VerifyError) -> bool;
    let cases: Vec<(&str, &str, Check)> = vec![
        (
            "change an event's body",
            "UPDATE ledger SET body = REPLACE(body, 'arriving', 'departing') WHERE seq = 2",
            |e| e.to_string().contains("entry 2") && e.to_string().contains("hash does not match"),
        ),
        (
            "change an indexed column",
            "UPDATE ledger SET biz_step = 'shipping' WHERE seq = 3",
            |e| e.to_string().contains("entry 3") && e.to_string().contains("biz_step"),
        ),
        (
            "change a record time",
            "UPDATE ledger SET record_time = '2020-01-01T00:00:00.000000Z' WHERE seq = 1",
            |e| e.to_string().contains("entry 1") && e.to_string().contains("hash"),
        ),
        (
            "delete an entry in the middle",
            "DELETE FROM event_vins WHERE seq = 2; DELETE FROM ledger WHERE seq = 2",
            |e| e.to_string().contains("entry 3 follows entry 1"),
        ),
        (
            "delete the last entry",
            "DELETE FROM event_vins WHERE seq = 4; DELETE FROM ledger WHERE seq = 4",
            |e| e.to_string().contains("ledger head says 4 entries"),
        ),
        (
            "delete the last entry and rewrite the head",
            "DELETE FROM event_vins WHERE seq = 4; DELETE FROM ledger WHERE seq = 4; \
             UPDATE ledger_head SET count = 3",
            |e| e.to_string().contains("ledger head"),
        ),
        (
            "drop a VIN from the timeline index",
            "DELETE FROM event_vins WHERE seq = 3 AND vin = (SELECT MIN(vin) FROM event_vins)",
            |e| e.to_string().contains("event_vins") && e.to_string().contains("entry 3"),
        ),
        (
            "move a vehicle forward in the projection",
            "UPDATE vehicles SET state = 'exported'",
            |e| e.to_string().contains("vehicles") && e.to_string().contains("exported"),
        ),
        (
            "forge a tie of a car to a voyage",
            "INSERT INTO vehicle_links (vin, kind, ref) \
             SELECT MIN(vin), 'voyage', 'someone-elses-voyage' FROM vehicles",
            |e| {
                e.to_string().contains("vehicle_links")
                    && e.to_string().contains("someone-elses-voyage")
            },
        ),
        (
            "drop a car's tie to its yard",
            "DELETE FROM vehicle_links WHERE kind = 'facility'",
            |e| e.to_string().contains("vehicle_links") && e.to_string().contains("ties stored"),
        ),
        (
            "re-chain a forged entry",
            "UPDATE ledger SET hash = 'aaaa' || SUBSTR(hash, 5) WHERE seq = 2",
            |e| e.to_string().contains("entry 2"),
        ),
    ];
    for (i, (what, sql, check)) in cases.into_iter().enumerate() {
        // Each case on its own fresh world.
        let fresh = match store.engine() {
            jianghai_store::Engine::Sqlite => common::sqlite().await,
            jianghai_store::Engine::Postgres => common::postgres().await,
        };
        let s = &fresh.store;
        seed(s).await;
        drive(
            s,
            &[vin(200 + i as u32), vin(300 + i as u32)],
            &CHAIN[..4],
            1,
        )
        .await;
        s.verify()
            .await
            .unwrap_or_else(|e| panic!("{what}: clean store fails: {e}"));
        s.execute_raw(unguard).await.expect("unguard");
        let n = s
            .execute_raw(sql)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(n > 0, "{what}: the tampering changed nothing");
        let err = s.verify().await.expect_err(what);
        assert!(check(&err), "{what}: unexpected verdict: {err}");
    }
}

fn user_record(name: &str, org: &str) -> jianghai_store::UserRecord {
    jianghai_store::UserRecord {
        id: uuid::Uuid::now_v7(),
        organisation: id(org),
        username: name.into(),
        password_hash: "$argon2id$stub".into(),
        role: jianghai_store::Role::Admin,
        created_at: jianghai_core::ledger::format_time(now()),
        disabled_at: None,
    }
}

fn token_record(owner: jianghai_store::TokenOwner, hash: &str) -> jianghai_store::TokenRecord {
    jianghai_store::TokenRecord {
        id: uuid::Uuid::now_v7(),
        secret_hash: hash.into(),
        owner,
        name: "t".into(),
        created_at: jianghai_core::ledger::format_time(now()),
        expires_at: Some(jianghai_core::ledger::format_time(
            now() + chrono::Duration::hours(1),
        )),
        revoked_at: None,
    }
}

async fn users_tokens_and_devices(store: &Store) {
    use jianghai_store::{
        Bearer, DeviceKind, DeviceRecord, MemberScope, StoreError, TokenOwner, TokenUnusable,
    };
    seed(store).await;
    let alice = user_record("alice", "changan-export");
    store.create_user(&alice).await.expect("user");
    assert!(matches!(
        store
            .create_user(&user_record("alice", "guoyuan-port"))
            .await,
        Err(StoreError::Exists { .. })
    ));
    let bob = user_record("bob", "guoyuan-port");
    store.create_user(&bob).await.expect("user");
    assert_eq!(
        store.user_by_username("alice").await.expect("read"),
        Some(alice.clone())
    );
    let mine = store
        .users(&MemberScope::Of(id("guoyuan-port")), "", 10)
        .await
        .expect("list");
    assert_eq!(mine.items, vec![bob.clone()]);
    let all = store.users(&MemberScope::All, "", 1).await.expect("list");
    assert_eq!(all.items.len(), 1);
    let rest = store
        .users(&MemberScope::All, all.next.as_deref().expect("next"), 1)
        .await
        .expect("list");
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next, None);

    let t = token_record(TokenOwner::User(alice.id), "hash-a");
    store.create_token(&t).await.expect("token");
    match store.bearer("hash-a").await.expect("bearer") {
        Some(Bearer::User {
            token,
            user,
            organisation,
        }) => {
            assert_eq!(token, t);
            assert_eq!(user, alice);
            assert_eq!(organisation.id.as_str(), "changan-export");
            assert_eq!(token.usable_at(now()), Ok(()));
            assert_eq!(
                token.usable_at(now() + chrono::Duration::hours(2)),
                Err(TokenUnusable::Expired)
            );
        }
        other => panic!("expected a user bearer, got {other:?}"),
    }
    assert_eq!(store.bearer("nope").await.expect("bearer"), None);
    // Only the owner revokes; revocation shows on the next read.
    assert!(
        !store
            .revoke_token(t.id, bob.id, now())
            .await
            .expect("revoke")
    );
    assert!(
        store
            .revoke_token(t.id, alice.id, now())
            .await
            .expect("revoke")
    );
    match store.bearer("hash-a").await.expect("bearer") {
        Some(Bearer::User { token, .. }) => {
            assert_eq!(token.usable_at(now()), Err(TokenUnusable::Revoked))
        }
        other => panic!("expected a user bearer, got {other:?}"),
    }
    assert_eq!(
        store
            .tokens_of(alice.id, "", 10)
            .await
            .expect("tokens")
            .items
            .len(),
        1
    );
    assert!(store.disable_user(alice.id, now()).await.expect("disable"));
    assert!(
        store
            .user(alice.id)
            .await
            .expect("read")
            .expect("user")
            .disabled_at
            .is_some()
    );

    let d = DeviceRecord {
        id: id("yard-cam-1"),
        organisation: id("guoyuan-port"),
        kind: DeviceKind::Camera,
        name: "Gate camera".into(),
        created_at: jianghai_core::ledger::format_time(now()),
        disabled_at: None,
    };
    let cred = token_record(TokenOwner::Device(d.id.clone()), "hash-d");
    store.create_device(&d, &cred).await.expect("device");
    // A second device with the same id leaves no credential behind.
    let dup = token_record(TokenOwner::Device(d.id.clone()), "hash-d2");
    assert!(store.create_device(&d, &dup).await.is_err());
    assert_eq!(store.bearer("hash-d2").await.expect("bearer"), None);
    match store.bearer("hash-d").await.expect("bearer") {
        Some(Bearer::Device {
            device,
            organisation,
            ..
        }) => {
            assert_eq!(device, d);
            assert_eq!(organisation.kind, jianghai_core::OrgKind::Port);
        }
        other => panic!("expected a device bearer, got {other:?}"),
    }
    let devices = store
        .devices(&MemberScope::Of(id("changan-export")), "", 10)
        .await
        .expect("devices");
    assert!(devices.items.is_empty());
}

async fn login_throttle_locks_and_resets(store: &Store) {
    let w = chrono::Duration::minutes(15);
    for n in 1..=2 {
        let t = store
            .record_login_failure("user:alice", now(), w, 3, w)
            .await
            .expect("fail");
        assert_eq!((t.failures, t.locked_until.is_some()), (n, false));
    }
    let t = store
        .record_login_failure("user:alice", now(), w, 3, w)
        .await
        .expect("fail");
    assert_eq!(t.failures, 3);
    assert_eq!(
        t.locked_until,
        Some(jianghai_core::ledger::format_time(now() + w))
    );
    assert_eq!(
        store.login_throttle("user:alice").await.expect("read"),
        Some(t)
    );
    // Failures older than the window start a new count.
    let later = now() + chrono::Duration::hours(1);
    let t = store
        .record_login_failure("user:alice", later, w, 3, w)
        .await
        .expect("fail");
    assert_eq!(t.failures, 1);
    store
        .clear_login_failures("user:alice")
        .await
        .expect("clear");
    assert_eq!(
        store.login_throttle("user:alice").await.expect("read"),
        None
    );
}

async fn audit_log_pages(store: &Store) {
    let mut ids = Vec::new();
    for i in 0..3 {
        let e = jianghai_store::AuditEntry {
            id: uuid::Uuid::now_v7(),
            at: jianghai_core::ledger::format_time(now()),
            organisation: Some("changan-export".into()),
            principal: Some("user:alice".into()),
            method: "GET".into(),
            route: "/api/v1/vehicles/{vin}".into(),
            object: format!("/api/v1/vehicles/{i}"),
            status: 200,
            request_id: None,
        };
        store.audit(&e).await.expect("audit");
        ids.push(e.id);
    }
    let first = store.audit_log("", 2).await.expect("page");
    assert_eq!(
        first.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids[..2]
    );
    let second = store
        .audit_log(first.next.as_deref().expect("next"), 2)
        .await
        .expect("page");
    assert_eq!(
        second.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids[2..]
    );
    assert_eq!(second.next, None);
}

/// Requests record their entries at the same time; the audit log's group commit writes each
/// one once, answers each caller after the commit, and an entry the database refuses (here a
/// reused id) fails alone.
async fn concurrent_audit_entries_are_each_written_once(store: &Store) {
    let entry = |i: usize| jianghai_store::AuditEntry {
        id: uuid::Uuid::now_v7(),
        at: jianghai_core::ledger::format_time(now()),
        organisation: Some("changan-export".into()),
        principal: Some(format!("device:sensor-{i}")),
        method: "POST".into(),
        route: "/api/v1/readings".into(),
        object: format!("/api/v1/readings/{i}"),
        status: 200,
        request_id: Some(format!("req-{i}")),
    };
    let entries: Vec<_> = (0..200).map(entry).collect();
    let mut reused = entry(999);
    reused.id = entries[17].id;
    let mut tasks = Vec::new();
    for e in entries.iter().cloned().chain([reused]) {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.audit(&e).await.is_ok() }));
    }
    let mut written = 0;
    for t in tasks {
        written += usize::from(t.await.expect("task"));
    }
    // The reused id and the original race; exactly one of the two is written.
    assert_eq!(written, 200);
    let page = store.audit_log("", 500).await.expect("log");
    assert_eq!(page.items.len(), 200);
    let mut ids: Vec<_> = page.items.iter().map(|e| e.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 200);
    for e in &entries[..17] {
        assert!(page.items.contains(e), "{e:?} missing");
    }
}

async fn scopes_narrow_reads(store: &Store) {
    use jianghai_store::{VehicleScope, VoyageScope};
    seed(store).await;
    let on_voyage = [vin(1)];
    let at_yard = [vin(2)];
    drive(store, &on_voyage, &CHAIN[..1], 100).await;
    drive(store, &at_yard, &CHAIN[..1], 200).await;
    let mut load = step_event(300, Step::GateIn, 30, &at_yard, "guoyuan-port");
    load.read_point = Some(id("guoyuan-yard"));
    store
        .append_batch_at(vec![load], now())
        .await
        .expect("gate in");
    let mut e = jianghai_core::Event::lifecycle(
        uuid::Uuid::from_u128(301),
        Step::GateIn,
        at_minutes(31),
        on_voyage.to_vec(),
        actor("minsheng-shipping"),
    );
    e.subjects.voyage = Some(id("v2025-001"));
    store
        .append_batch_at(vec![e], now())
        .await
        .expect("voyage event");

    let vins = |p: jianghai_store::Page<jianghai_store::VehicleRecord>| {
        p.items.into_iter().map(|v| v.vin).collect::<Vec<_>>()
    };
    let mut both = vec![vin(1), vin(2)];
    both.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let all = store
        .vehicles(&VehicleScope::All, "", 10)
        .await
        .expect("all");
    assert_eq!(vins(all), both);
    let carrier = VehicleScope::OnVoyagesOf(id("minsheng-shipping"));
    assert_eq!(
        vins(store.vehicles(&carrier, "", 10).await.expect("carrier")),
        vec![vin(1)]
    );
    assert!(
        store
            .vehicle_in(&vin(2), &carrier)
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        store
            .vehicle_in(&vin(1), &carrier)
            .await
            .expect("read")
            .is_some()
    );
    // The port operates the yard and both ends of the voyage.
    let port = VehicleScope::AtFacilitiesOf(id("guoyuan-port"));
    assert_eq!(
        vins(store.vehicles(&port, "", 10).await.expect("port")),
        both
    );
    let exporter = VehicleScope::ExportedBy(id("chongqing-customs"));
    assert!(
        store
            .vehicles(&exporter, "", 10)
            .await
            .expect("x")
            .items
            .is_empty()
    );

    let theirs = VoyageScope::CarriedBy(id("minsheng-shipping"));
    assert_eq!(
        store.voyages(&theirs, "", 10).await.expect("v").items.len(),
        1
    );
    let others = VoyageScope::CarriedBy(id("changan-export"));
    assert!(
        store
            .voyage_in("v2025-001", &others)
            .await
            .expect("v")
            .is_none()
    );
    let touching = VoyageScope::Touching(id("guoyuan-port"));
    assert!(
        store
            .voyage_in("v2025-001", &touching)
            .await
            .expect("v")
            .is_some()
    );
    assert_eq!(
        store.vessels(&theirs, "", 10).await.expect("v").items.len(),
        1
    );
    assert_eq!(store.facilities("", 2).await.expect("f").items.len(), 2);
}

async fn shipments_are_all_or_nothing(store: &Store) {
    use jianghai_store::{ShipmentError, ShipmentScope};
    seed(store).await;
    drive(store, &[vin(1), vin(2)], &CHAIN[..1], 100).await;
    let mut s = jianghai_core::Shipment {
        id: id("sh-1"),
        exporter: id("changan-export"),
        destination_country: "MX".into(),
        vins: vec![vin(1), vin(3)],
        voyage: None,
        dangerous_goods: Vec::new(),
    };
    assert!(matches!(
        store.create_shipment(&s).await,
        Err(ShipmentError::UnknownVin(v)) if v == vin(3)
    ));
    assert!(
        store
            .shipment_in("sh-1", &ShipmentScope::All)
            .await
            .expect("read")
            .is_none()
    );
    s.vins = vec![vin(1), vin(2)];
    s.vins.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    store.create_shipment(&s).await.expect("shipment");
    let own = ShipmentScope::ExportedBy(id("changan-export"));
    assert_eq!(
        store.shipment_in("sh-1", &own).await.expect("read"),
        Some(s.clone())
    );
    let other = ShipmentScope::ExportedBy(id("guoyuan-port"));
    assert_eq!(store.shipment_in("sh-1", &other).await.expect("read"), None);
    assert_eq!(
        store
            .shipment_in("sh-1", &ShipmentScope::Nothing)
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store.shipments(&own, "", 10).await.expect("list").items,
        vec![s]
    );
}

async fn bookings_widen_carrier_and_port_scopes(store: &Store) {
    use jianghai_store::{ShipmentScope, VehicleScope};
    seed(store).await;
    let (booked, other) = (vin(1), vin(2));
    drive(store, &[booked, other], &CHAIN[..1], 100).await;
    let carrier = VehicleScope::OnVoyagesOf(id("minsheng-shipping"));
    let port = VehicleScope::AtFacilitiesOf(id("guoyuan-port"));
    let stranger = VehicleScope::OnVoyagesOf(id("changan-export"));
    let both = [booked, other];
    for scope in [&carrier, &port] {
        assert!(
            store
                .vehicles_visible(&both, scope)
                .await
                .expect("read")
                .is_empty()
        );
    }
    store
        .create_shipment(&jianghai_core::Shipment {
            id: id("sh-1"),
            exporter: id("changan-export"),
            destination_country: "MX".into(),
            vins: vec![booked],
            voyage: None,
            dangerous_goods: Vec::new(),
        })
        .await
        .expect("shipment");
    // Someone else's shipment cannot be booked; an unknown voyage is refused.
    assert!(
        !store
            .book_shipment("sh-1", &id("guoyuan-port"), &id("v2025-001"))
            .await
            .expect("book")
    );
    assert!(
        store
            .book_shipment("sh-1", &id("changan-export"), &id("nowhere"))
            .await
            .is_err()
    );
    assert!(
        store
            .book_shipment("sh-1", &id("changan-export"), &id("v2025-001"))
            .await
            .expect("book")
    );
    let read = store
        .shipment_in("sh-1", &ShipmentScope::All)
        .await
        .expect("read")
        .expect("sh-1");
    assert_eq!(read.voyage, Some(id("v2025-001")));
    for scope in [&carrier, &port] {
        let seen = store.vehicles_visible(&both, scope).await.expect("read");
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            vec![booked.to_string()]
        );
        assert!(
            store
                .vehicle_in(&booked, scope)
                .await
                .expect("read")
                .is_some()
        );
        assert!(
            store
                .vehicle_in(&other, scope)
                .await
                .expect("read")
                .is_none()
        );
    }
    assert!(
        store
            .vehicles_visible(&both, &stranger)
            .await
            .expect("read")
            .is_empty()
    );
    // Everything the ledger ties is still consistent.
    drive(store, &[booked], &CHAIN[1..5], 200).await;
    store.verify().await.expect("verifies");
}
