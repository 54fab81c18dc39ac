//! Shared fixtures: fresh stores on both engines and a small seeded world.

#![allow(dead_code)]

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use jianghai_core::{
    Actor, Event, Facility, FacilityKind, Ident, OrgKind, Organisation, Step, Vessel, VesselKind,
    Vin, Voyage,
};
use jianghai_store::Store;
use uuid::Uuid;

/// The PostgreSQL the tests use; a missing server fails the tests, it never skips them.
pub fn postgres_url() -> String {
    std::env::var("JIANGHAI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

pub struct Fresh {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    Fresh {
        store: Store::open(&url).await.expect("open sqlite"),
        _dir: Some(dir),
    }
}

pub async fn postgres() -> Fresh {
    let schema = format!("t_{}", Uuid::new_v4().simple());
    let url = format!("{}?schema={schema}", postgres_url());
    let store = Store::open(&url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at {} is required for these tests: {e}",
            postgres_url()
        )
    });
    Fresh { store, _dir: None }
}

pub fn id(s: &str) -> Ident {
    Ident::parse(s).expect("ident")
}

pub fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("offset")
}

/// A fixed "now" for appends: 2025-07-01 10:00 +08:00.
pub fn now() -> DateTime<Utc> {
    cst()
        .with_ymd_and_hms(2025, 7, 1, 10, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc)
}

pub fn at_minutes(m: i64) -> DateTime<FixedOffset> {
    (now() - chrono::Duration::hours(48) + chrono::Duration::minutes(m)).with_timezone(&cst())
}

pub fn vin(n: u32) -> Vin {
    Vin::with_check_digit(&format!("LS5A3ABE0RB{n:06}")).expect("vin")
}

pub fn actor(org: &str) -> Actor {
    Actor {
        organisation: id(org),
        user: None,
        device: None,
    }
}

pub fn step_event(n: u128, step: Step, minute: i64, vins: &[Vin], org: &str) -> Event {
    Event::lifecycle(
        Uuid::from_u128(n),
        step,
        at_minutes(minute),
        vins.to_vec(),
        actor(org),
    )
}

/// Organisations, a yard and a voyage.
pub async fn seed(store: &Store) {
    for (i, name, kind) in [
        ("changan-export", "Changan Export", OrgKind::Exporter),
        ("minsheng-shipping", "Minsheng Shipping", OrgKind::Carrier),
        ("guoyuan-port", "Guoyuan Port", OrgKind::Port),
        ("chongqing-customs", "Chongqing Customs", OrgKind::Customs),
    ] {
        store
            .create_organisation(&Organisation {
                id: id(i),
                name: name.into(),
                kind,
            })
            .await
            .expect("organisation");
    }
    for (f, kind) in [
        ("guoyuan-yard", FacilityKind::ConsolidationYard),
        ("guoyuan-ro-ro", FacilityKind::RiverTerminal),
        ("haitong-terminal", FacilityKind::SeaTerminal),
    ] {
        store
            .create_facility(&Facility {
                id: id(f),
                name: f.into(),
                kind,
                operator: id("guoyuan-port"),
                position: None,
            })
            .await
            .expect("facility");
    }
    store
        .create_vessel(&Vessel {
            id: id("minsheng-8"),
            name: "Minsheng 8".into(),
            kind: VesselKind::RiverRoRo,
            carrier: id("minsheng-shipping"),
            mmsi: Some(413_800_001),
            imo: None,
        })
        .await
        .expect("vessel");
    store
        .create_voyage(&Voyage {
            id: id("v2025-001"),
            vessel: id("minsheng-8"),
            origin: id("guoyuan-ro-ro"),
            destination: id("haitong-terminal"),
        })
        .await
        .expect("voyage");
}

/// Runs a whole chain of lifecycle steps for `vins`.
pub async fn drive(store: &Store, vins: &[Vin], steps: &[Step], first_id: u128) {
    for (i, step) in steps.iter().enumerate() {
        let org = match step {
            Step::Register => "changan-export",
            Step::Declare | Step::CloseTransit | Step::Hold | Step::Release => "chongqing-customs",
            Step::Load | Step::Depart | Step::Arrive | Step::Transship | Step::Export => {
                "minsheng-shipping"
            }
            _ => "guoyuan-port",
        };
        let mut e = step_event(first_id + i as u128, *step, i as i64 * 10, vins, org);
        // Where the step happens: the ties that carriers' and ports' reads follow.
        match step {
            Step::GateIn | Step::Tally => e.read_point = Some(id("guoyuan-yard")),
            Step::Load | Step::Depart | Step::Arrive => e.subjects.voyage = Some(id("v2025-001")),
            _ => {}
        }
        store
            .append_batch_at(vec![e], now())
            .await
            .unwrap_or_else(|err| panic!("{step}: {err}"));
    }
}

pub const CHAIN: [Step; 10] = [
    Step::Register,
    Step::GateIn,
    Step::Tally,
    Step::Declare,
    Step::Load,
    Step::Depart,
    Step::Arrive,
    Step::CloseTransit,
    Step::Transship,
    Step::Export,
];
