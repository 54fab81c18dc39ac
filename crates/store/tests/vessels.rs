//! Vessels at sea (migration 7) on both engines: positions stored once, the MMSI link, the
//! voyage a position belongs to, tracking records, static data, plans and scoped reads.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use jianghai_core::{Action, BizStep, Event, Ident, OrgKind, Organisation, Vessel, VesselKind};
use jianghai_core::{Subjects, Voyage};
use jianghai_store::{
    LockPassageRecord, PositionRecord, SectionTransitRecord, StateChangeRecord, StaticRecord,
    Store, StoreError, TrackSnapshot, TrackingRecord, VoyagePlan, VoyageScope,
};
use uuid::Uuid;

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
    positions_are_stored_once_and_found_by_mmsi,
    the_ledger_says_which_voyage_a_position_is_on,
    tracking_is_recorded_with_its_fix,
    static_data_keeps_what_was_not_resent,
    vessel_reads_are_scoped,
    plans_round_trip,
    an_exporter_sees_the_voyages_it_has_cars_on,
);

const MMSI: u32 = 413_800_001;

fn t(minutes: i64) -> DateTime<Utc> {
    now() - Duration::hours(48) + Duration::minutes(minutes)
}

fn pos(minutes: i64, voyage: Option<&str>) -> PositionRecord {
    PositionRecord {
        mmsi: MMSI,
        at: t(minutes),
        vessel: id("minsheng-8"),
        voyage: voyage.map(id),
        lat: 30.8,
        lon: 111.0 + minutes as f64 / 1000.0,
        sog_kn: Some(9.5),
        cog_deg: Some(95.0),
        heading: Some(94),
        nav_status: Some(0),
        received_at: t(minutes) + Duration::seconds(2),
    }
}

async fn positions_are_stored_once_and_found_by_mmsi(store: &Store) {
    seed(store).await;
    let v = store
        .vessel_by_mmsi(MMSI)
        .await
        .expect("read")
        .expect("linked");
    assert_eq!(v.id.as_str(), "minsheng-8");
    assert!(
        store
            .vessel_by_mmsi(999_999_999)
            .await
            .expect("read")
            .is_none()
    );
    assert!(store.record_fix(&pos(0, None), None).await.expect("first"));
    assert!(!store.record_fix(&pos(0, None), None).await.expect("again"));
    assert!(store.record_fix(&pos(1, None), None).await.expect("next"));
    let page = store
        .vessel_positions("minsheng-8", t(-10), t(10), "", 10)
        .await
        .expect("track");
    assert_eq!(page.items, vec![pos(0, None), pos(1, None)]);
    // Paged by time.
    let first = store
        .vessel_positions("minsheng-8", t(-10), t(10), "", 1)
        .await
        .expect("page");
    assert_eq!(first.items.len(), 1);
    let next = store
        .vessel_positions("minsheng-8", t(-10), t(10), &first.next.expect("cursor"), 1)
        .await
        .expect("page");
    assert_eq!(next.items, vec![pos(1, None)]);
    // A position of an unregistered vessel is refused by the schema, not stored.
    let mut stray = pos(2, None);
    stray.vessel = id("no-such-vessel");
    assert!(store.record_fix(&stray, None).await.is_err());
}

fn voyage_event(n: u128, biz_step: &str, minutes: i64, voyage: &str) -> Event {
    Event {
        event_id: Uuid::from_u128(n),
        action: Action::Observe,
        event_time: t(minutes).with_timezone(&cst()),
        biz_step: BizStep(biz_step.into()),
        disposition: None,
        step: None,
        subjects: Subjects {
            voyage: Some(id(voyage)),
            ..Subjects::default()
        },
        read_point: None,
        biz_location: None,
        position: None,
        actor: actor("minsheng-shipping"),
        extensions: Default::default(),
    }
}

async fn the_ledger_says_which_voyage_a_position_is_on(store: &Store) {
    seed(store).await;
    store
        .create_voyage(&Voyage {
            id: id("v2025-002"),
            vessel: id("minsheng-8"),
            origin: id("haitong-terminal"),
            destination: id("guoyuan-ro-ro"),
        })
        .await
        .expect("voyage");
    for e in [
        voyage_event(1, "departing", 100, "v2025-001"),
        voyage_event(2, "arriving", 200, "v2025-001"),
        voyage_event(3, "departing", 300, "v2025-002"),
    ] {
        store.append_batch_at(vec![e], now()).await.expect("append");
    }
    let on = |m| async move { store.voyage_window("minsheng-8", t(m)).await.expect("read") };
    assert_eq!(on(50).await, None, "before the first departure");
    let w = on(150).await.expect("on the first voyage");
    assert_eq!(
        (w.voyage.as_str(), w.departed, w.arrived),
        ("v2025-001", t(100), Some(t(200)))
    );
    assert_eq!(on(200).await.map(|w| w.voyage), Some(id("v2025-001")));
    assert_eq!(on(250).await, None, "between voyages");
    let w = on(400).await.expect("on the second voyage");
    assert_eq!((w.voyage.as_str(), w.arrived), ("v2025-002", None));
    assert_eq!(
        store
            .voyage_window("other-vessel", t(400))
            .await
            .expect("read"),
        None
    );
}

fn snapshot(minutes: i64, state: &str) -> TrackSnapshot {
    TrackSnapshot {
        voyage: id("v2025-001"),
        vessel: id("minsheng-8"),
        at: t(minutes),
        state: state.into(),
        state_since: t(0),
        lat: 30.8,
        lon: 111.0,
        km: 1712.0,
        offset_m: -120.0,
        sog_kn: 1.5,
        total_km: 2303.0,
        done_km: 584.0,
        to_go_km: 1719.0,
        percent: 25.36,
        next_place: Some("gezhouba-locks".into()),
        next_p50: Some(t(minutes + 180)),
        next_p90: Some(t(minutes + 240)),
        arrival_p50: Some(t(minutes + 4000)),
        arrival_p90: None,
    }
}

fn passage() -> LockPassageRecord {
    LockPassageRecord {
        voyage: id("v2025-001"),
        lock: "three-gorges-locks".into(),
        direction: "downstream".into(),
        waiting_since: Some(t(-600)),
        entered: t(-30),
        left: t(10),
        inferred: false,
        wait_h: 9.5,
        passage_h: 40.0 / 60.0,
        event_id: Uuid::from_u128(77),
    }
}

async fn tracking_is_recorded_with_its_fix(store: &Store) {
    seed(store).await;
    let tracking = TrackingRecord {
        snapshot: snapshot(10, "in_lock"),
        states: vec![StateChangeRecord {
            at: t(10),
            state: "in_lock".into(),
            km: 1712.0,
        }],
        passages: vec![passage()],
        transits: vec![SectionTransitRecord {
            voyage: id("v2025-001"),
            section: "chongqing-reservoir".into(),
            direction: "downstream".into(),
            entered: t(-3000),
            left: t(-700),
            hours: 31.5,
        }],
        keep_progress: true,
    };
    assert!(
        store
            .record_fix(&pos(10, Some("v2025-001")), Some(&tracking))
            .await
            .expect("fix")
    );
    // The same fix again writes nothing, tracking included.
    let mut changed = tracking.clone();
    changed.snapshot.state = "under_way".into();
    assert!(
        !store
            .record_fix(&pos(10, Some("v2025-001")), Some(&changed))
            .await
            .expect("again")
    );
    assert_eq!(
        store.voyage_track("v2025-001").await.expect("read"),
        Some(snapshot(10, "in_lock"))
    );
    // A later fix replaces the snapshot; derived facts already recorded are not duplicated.
    let later = TrackingRecord {
        snapshot: snapshot(20, "under_way"),
        keep_progress: false,
        ..tracking.clone()
    };
    assert!(
        store
            .record_fix(&pos(20, Some("v2025-001")), Some(&later))
            .await
            .expect("later")
    );
    // An older snapshot (a late fix) does not overwrite a newer one.
    let late = TrackingRecord {
        snapshot: snapshot(15, "stopped"),
        keep_progress: false,
        states: vec![],
        passages: vec![],
        transits: vec![],
    };
    assert!(
        store
            .record_fix(&pos(15, Some("v2025-001")), Some(&late))
            .await
            .expect("late")
    );
    let track = store
        .voyage_track("v2025-001")
        .await
        .expect("read")
        .expect("track");
    assert_eq!((track.state.as_str(), track.at), ("under_way", t(20)));
    assert_eq!(
        store.voyage_states("v2025-001").await.expect("states"),
        tracking.states
    );
    assert_eq!(
        store
            .voyage_lock_passages("v2025-001")
            .await
            .expect("locks"),
        vec![passage()]
    );
    let progress = store
        .voyage_progress("v2025-001", 10)
        .await
        .expect("progress");
    assert_eq!(progress.len(), 1);
    assert_eq!((progress[0].at, progress[0].percent), (t(10), 25.36));
    let (transits, waits) = store.eta_history(100).await.expect("history");
    assert_eq!(transits, tracking.transits);
    assert_eq!(waits, vec![passage()]);
    assert_eq!(
        store
            .voyage_positions("v2025-001")
            .await
            .expect("positions")
            .iter()
            .map(|p| p.at)
            .collect::<Vec<_>>(),
        vec![t(10), t(15), t(20)]
    );
    assert_eq!(store.voyage_track("v2025-999").await.expect("read"), None);
}

async fn static_data_keeps_what_was_not_resent(store: &Store) {
    seed(store).await;
    let first = StaticRecord {
        mmsi: MMSI,
        vessel: Some(id("minsheng-8")),
        name: Some("MINSHENG 8".into()),
        imo: Some(9_100_001),
        length_m: Some(110),
        beam_m: Some(18),
        draught_m: Some(3.4),
        destination: Some("SHANGHAI".into()),
        updated_at: Some(t(0)),
        ..StaticRecord::default()
    };
    store.record_static(&first).await.expect("static");
    // A type 24 part B: callsign and type only.
    let second = StaticRecord {
        mmsi: MMSI,
        vessel: Some(id("minsheng-8")),
        callsign: Some("BXYZ8".into()),
        ship_type: Some(70),
        updated_at: Some(t(5)),
        ..StaticRecord::default()
    };
    store.record_static(&second).await.expect("static");
    let got = store.ais_static(MMSI).await.expect("read").expect("some");
    assert_eq!(
        got,
        StaticRecord {
            callsign: Some("BXYZ8".into()),
            ship_type: Some(70),
            updated_at: Some(t(5)),
            ..first
        }
    );
    let unlinked = StaticRecord {
        mmsi: 1,
        ..StaticRecord::default()
    };
    assert!(matches!(
        store.record_static(&unlinked).await,
        Err(StoreError::Missing { .. })
    ));
}

async fn vessel_reads_are_scoped(store: &Store) {
    seed(store).await;
    store
        .create_organisation(&Organisation {
            id: id("cosco-car-carriers"),
            name: "COSCO".into(),
            kind: OrgKind::Carrier,
        })
        .await
        .expect("org");
    store
        .create_vessel(&Vessel {
            id: id("cosco-pctc-1"),
            name: "COSCO PCTC 1".into(),
            kind: VesselKind::OceanPctc,
            carrier: id("cosco-car-carriers"),
            mmsi: Some(477_100_001),
            imo: Some(9_800_001),
        })
        .await
        .expect("vessel");
    store.record_fix(&pos(0, None), None).await.expect("fix");
    store.record_fix(&pos(5, None), None).await.expect("fix");
    let mut other = pos(3, None);
    other.mmsi = 477_100_001;
    other.vessel = id("cosco-pctc-1");
    store.record_fix(&other, None).await.expect("fix");

    let carrier = |s: &str| VoyageScope::CarriedBy(Ident::parse(s).expect("id"));
    assert!(
        store
            .vessel_in("minsheng-8", &carrier("minsheng-shipping"))
            .await
            .expect("read")
            .is_some()
    );
    assert!(
        store
            .vessel_in("cosco-pctc-1", &carrier("minsheng-shipping"))
            .await
            .expect("read")
            .is_none()
    );
    // The port operating the voyage's facilities sees the vessel sailing from them only.
    let port = VoyageScope::Touching(id("guoyuan-port"));
    assert!(
        store
            .vessel_in("minsheng-8", &port)
            .await
            .expect("read")
            .is_some()
    );
    assert!(
        store
            .vessel_in("cosco-pctc-1", &port)
            .await
            .expect("read")
            .is_none()
    );

    let all = store
        .latest_positions(&VoyageScope::All)
        .await
        .expect("latest");
    let seen: Vec<(&str, DateTime<Utc>)> = all.iter().map(|(v, p)| (v.id.as_str(), p.at)).collect();
    assert_eq!(seen, vec![("cosco-pctc-1", t(3)), ("minsheng-8", t(5))]);
    assert_eq!(all[0].0.imo, Some(9_800_001));
    let mine = store
        .latest_positions(&carrier("cosco-car-carriers"))
        .await
        .expect("latest");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].0.id.as_str(), "cosco-pctc-1");
    assert!(store.latest_positions(&port).await.expect("latest").len() == 1);
}

async fn plans_round_trip(store: &Store) {
    seed(store).await;
    let plan = VoyagePlan {
        voyage: id("v2025-001"),
        planned_arrival: Some(t(6000)),
        transit_deadline: Some(t(9000)),
    };
    store.set_voyage_plan(&plan).await.expect("plan");
    assert_eq!(
        store.voyage_plan("v2025-001").await.expect("read"),
        Some(plan.clone())
    );
    let moved = VoyagePlan {
        planned_arrival: Some(t(7000)),
        transit_deadline: None,
        ..plan
    };
    store.set_voyage_plan(&moved).await.expect("plan");
    assert_eq!(
        store.voyage_plan("v2025-001").await.expect("read"),
        Some(moved)
    );
    let unknown = VoyagePlan {
        voyage: id("v2025-404"),
        planned_arrival: None,
        transit_deadline: None,
    };
    assert!(matches!(
        store.set_voyage_plan(&unknown).await,
        Err(StoreError::Missing { .. })
    ));
    assert_eq!(store.voyage_plan("v2025-404").await.expect("read"), None);
}

/// `BookedBy`: a voyage an exporter's shipment is booked on, or one the ledger ties its car to.
async fn an_exporter_sees_the_voyages_it_has_cars_on(store: &Store) {
    seed(store).await;
    store
        .create_voyage(&Voyage {
            id: id("v2025-002"),
            vessel: id("minsheng-8"),
            origin: id("haitong-terminal"),
            destination: id("guoyuan-ro-ro"),
        })
        .await
        .expect("voyage");
    let booked = VoyageScope::BookedBy(id("changan-export"));
    let sees = async |voyage: &str| {
        store
            .voyage_in(voyage, &booked)
            .await
            .expect("read")
            .is_some()
    };
    assert!(!sees("v2025-001").await && !sees("v2025-002").await);
    assert!(
        store
            .vessel_in("minsheng-8", &booked)
            .await
            .expect("read")
            .is_none()
    );
    // A car of its loaded on v2025-001 (a ledger tie).
    drive(
        store,
        &[vin(5)],
        &[
            jianghai_core::Step::Register,
            jianghai_core::Step::GateIn,
            jianghai_core::Step::Tally,
            jianghai_core::Step::Declare,
            jianghai_core::Step::Load,
        ],
        500,
    )
    .await;
    assert!(sees("v2025-001").await && !sees("v2025-002").await);
    assert!(
        store
            .vessel_in("minsheng-8", &booked)
            .await
            .expect("read")
            .is_some()
    );
    // A shipment booked on v2025-002.
    drive(store, &[vin(6)], &[jianghai_core::Step::Register], 600).await;
    store
        .create_shipment(&jianghai_core::Shipment {
            id: id("sh-9"),
            exporter: id("changan-export"),
            destination_country: "MX".into(),
            vins: vec![vin(6)],
            voyage: Some(id("v2025-002")),
            dangerous_goods: Vec::new(),
        })
        .await
        .expect("shipment");
    assert!(sees("v2025-002").await);
    // Another exporter sees neither.
    let other = VoyageScope::BookedBy(id("chongqing-customs"));
    assert!(
        store
            .voyage_in("v2025-001", &other)
            .await
            .expect("read")
            .is_none()
    );
}
