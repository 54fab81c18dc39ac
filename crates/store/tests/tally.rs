//! Tally on both engines: gate-in, identifications, condition reports with photos, a session
//! closed into matched / missing / extra / damaged / unconfirmed, idempotent closing, scopes.

mod common;

use common::*;
use jianghai_core::{Shipment, Step, VehicleState};
use jianghai_store::{
    AlertFilter, AlertScope, By, ConditionReport, DamageEntry, NewGateIn, NewIdentification,
    SessionState, Store, TallyError, TallyScope,
};
use jianghai_tally::{CodeTable, Identification, Outcome, Source};
use uuid::Uuid;

macro_rules! both {
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

both!(
    a_session_closes_into_every_outcome_and_only_matches_are_tallied,
    gate_in_of_a_car_on_no_manifest_touches_no_ledger,
    closed_sessions_refuse_more_and_a_second_close_changes_nothing,
    photos_are_content_addressed_and_type_checked,
    scopes_keep_parties_apart,
);

fn port() -> By {
    By {
        organisation: id("guoyuan-port"),
        username: "tallyman".into(),
    }
}

fn ident(v: &str, source: Source, confidence: Option<f64>) -> NewIdentification {
    NewIdentification {
        identification: Identification::new(v, source, confidence, None),
        image: None,
        at: now(),
    }
}

/// Six cars registered by changan-export on shipment sh-1, five of them gated in.
async fn yard(store: &Store) -> Vec<jianghai_core::Vin> {
    seed(store).await;
    let vins: Vec<_> = (1..=6).map(vin).collect();
    drive(store, &vins, &[Step::Register], 1).await;
    for v in &vins[..5] {
        store
            .gate_in(
                &NewGateIn {
                    id: Uuid::new_v4(),
                    facility: id("guoyuan-yard"),
                    vin: *v,
                    at: now() - chrono::Duration::hours(2),
                    truck: Some("渝A12345".into()),
                    driver: None,
                },
                &port(),
            )
            .await
            .expect("gate in");
    }
    store
        .create_shipment(&Shipment {
            id: id("sh-1"),
            exporter: id("changan-export"),
            destination_country: "MX".into(),
            vins: vins.clone(),
            voyage: None,
            dangerous_goods: Vec::new(),
        })
        .await
        .expect("shipment");
    vins
}

async fn a_session_closes_into_every_outcome_and_only_matches_are_tallied(store: &Store) {
    let vins = yard(store).await;
    let s = store
        .open_tally_session(
            Uuid::new_v4(),
            &id("guoyuan-yard"),
            &id("sh-1"),
            0.9,
            now(),
            &port(),
        )
        .await
        .expect("open");
    assert!(matches!(
        store
            .open_tally_session(
                Uuid::new_v4(),
                &id("guoyuan-yard"),
                &id("sh-1"),
                0.9,
                now(),
                &port()
            )
            .await,
        Err(TallyError::AlreadyOpen { .. })
    ));
    let stranger = vin(99);
    let mut bad = vins[2].to_string();
    bad.replace_range(8..9, if &bad[8..9] == "7" { "8" } else { "7" });
    for n in [
        ident(vins[0].as_str(), Source::Scanner, None),
        ident(&format!("I{}", vins[1]), Source::Image, None),
        ident(&bad, Source::Typed, None),
        ident(vins[3].as_str(), Source::External, Some(0.95)),
        ident(vins[4].as_str(), Source::External, Some(0.5)),
        ident(stranger.as_str(), Source::Scanner, None),
        ident(vins[0].as_str(), Source::Scanner, None),
    ] {
        store.identify(s.id, &n, &port()).await.expect("identify");
    }
    // Car 2 is scratched.
    store
        .set_damage_codes(
            &CodeTable::sample(),
            include_str!("../../tally/data/damage-codes.sample.csv"),
            &port(),
        )
        .await
        .expect("codes");
    let table = store.damage_codes().await.expect("read").expect("table");
    store
        .add_condition_report(&ConditionReport {
            id: Uuid::new_v4(),
            facility: id("guoyuan-yard"),
            vin: vins[1],
            session: Some(s.id),
            at: jianghai_core::ledger::format_time(now()),
            organisation: id("guoyuan-port"),
            username: "tallyman".into(),
            note: Some("左前门划伤".into()),
            entries: vec![DamageEntry {
                code: table.parse("04122").expect("code"),
                note: None,
            }],
            photos: vec![],
        })
        .await
        .expect("report");

    let closed = store.close_tally_session(s.id, now()).await.expect("close");
    assert_eq!(closed.session.state, SessionState::Closed);
    // Expected lines are numbered in VIN order; compare by VIN.
    let by_vin: std::collections::HashMap<_, _> = closed
        .results
        .iter()
        .take(6)
        .map(|r| (r.line.expected.expect("an expected line"), r.line.outcome))
        .collect();
    let want = [
        Outcome::Matched,
        Outcome::Damaged,
        Outcome::Missing,
        Outcome::Matched,
        Outcome::Missing,
        Outcome::Missing,
    ];
    for (v, o) in vins.iter().zip(want) {
        assert_eq!(by_vin.get(v), Some(&o), "{v}");
    }
    let rest: Vec<(Option<String>, Outcome)> = closed.results[6..]
        .iter()
        .map(|r| (r.line.expected.map(|v| v.to_string()), r.line.outcome))
        .collect();
    assert_eq!(
        rest,
        vec![
            (None, Outcome::Unconfirmed),
            (None, Outcome::Unconfirmed),
            (None, Outcome::Extra),
            (Some(vins[0].to_string()), Outcome::Duplicate),
        ]
    );
    let receipt = closed.receipt.expect("a tally event");
    let tallied = |v| async move {
        store
            .vehicle(&v)
            .await
            .expect("read")
            .expect("car")
            .status
            .state
    };
    assert_eq!(tallied(vins[0]).await, VehicleState::Tallied);
    assert_eq!(tallied(vins[3]).await, VehicleState::Tallied);
    for v in [vins[1], vins[2], vins[4]] {
        assert_eq!(tallied(v).await, VehicleState::GatedIn, "{v}");
    }
    let e = store
        .event(receipt.event_id)
        .await
        .expect("read")
        .expect("event");
    assert_eq!(e.event.step, Some(Step::Tally));
    let mut want = vec![vins[0], vins[3]];
    want.sort();
    assert_eq!(e.event.subjects.vins, want);
    store.verify().await.expect("ledger verifies");
    // Every discrepancy raised an alert, from the tally.
    let alerts = store
        .alerts(&AlertScope::All, &AlertFilter::default(), "", 100)
        .await
        .expect("alerts");
    let rules: Vec<&str> = alerts.items.iter().map(|a| a.rule.as_str()).collect();
    for rule in [
        "tally-missing",
        "tally-damaged",
        "tally-extra",
        "tally-unconfirmed",
        "tally-duplicate",
    ] {
        assert!(rules.contains(&rule), "{rule} in {rules:?}");
    }
    assert_eq!(
        alerts.items.iter().filter(|a| a.source == "tally").count(),
        closed
            .results
            .iter()
            .filter(|r| r.line.outcome != Outcome::Matched)
            .count(),
        "one alert per discrepancy"
    );
}

async fn gate_in_of_a_car_on_no_manifest_touches_no_ledger(store: &Store) {
    seed(store).await;
    let before = store.head().await.expect("head");
    let g = store
        .gate_in(
            &NewGateIn {
                id: Uuid::new_v4(),
                facility: id("guoyuan-yard"),
                vin: vin(50),
                at: now(),
                truck: None,
                driver: Some("张三".into()),
            },
            &port(),
        )
        .await
        .expect("recorded");
    assert_eq!(g.seq, None);
    assert_eq!(store.head().await.expect("head"), before);
    // A car whose state forbids a gate-in is refused and nothing is recorded.
    drive(store, &[vin(51)], &[Step::Register, Step::GateIn], 10).await;
    let refused = store
        .gate_in(
            &NewGateIn {
                id: Uuid::new_v4(),
                facility: id("guoyuan-yard"),
                vin: vin(51),
                at: now(),
                truck: None,
                driver: None,
            },
            &port(),
        )
        .await;
    assert!(matches!(refused, Err(TallyError::Append(_))), "{refused:?}");
    let page = store
        .gate_ins(&TallyScope::All, "", 10)
        .await
        .expect("list");
    assert_eq!(page.items.len(), 1);
}

async fn closed_sessions_refuse_more_and_a_second_close_changes_nothing(store: &Store) {
    let vins = yard(store).await;
    let s = store
        .open_tally_session(
            Uuid::new_v4(),
            &id("guoyuan-yard"),
            &id("sh-1"),
            0.9,
            now(),
            &port(),
        )
        .await
        .expect("open");
    store
        .identify(s.id, &ident(vins[0].as_str(), Source::Typed, None), &port())
        .await
        .expect("identify");
    let first = store.close_tally_session(s.id, now()).await.expect("close");
    let head = store.head().await.expect("head");
    let again = store
        .close_tally_session(s.id, now() + chrono::Duration::minutes(5))
        .await
        .expect("again");
    assert_eq!(first.results, again.results);
    assert_eq!(
        store.head().await.expect("head"),
        head,
        "nothing new on the ledger"
    );
    assert!(matches!(
        store
            .identify(s.id, &ident(vins[1].as_str(), Source::Typed, None), &port())
            .await,
        Err(TallyError::Closed(_))
    ));
    assert!(matches!(
        store
            .identify(
                Uuid::new_v4(),
                &ident(vins[1].as_str(), Source::Typed, None),
                &port()
            )
            .await,
        Err(TallyError::Missing { .. })
    ));
    // A new session may be opened once the last one closed.
    store
        .open_tally_session(
            Uuid::new_v4(),
            &id("guoyuan-yard"),
            &id("sh-1"),
            0.9,
            now(),
            &port(),
        )
        .await
        .expect("reopen");
}

async fn photos_are_content_addressed_and_type_checked(store: &Store) {
    seed(store).await;
    let png = b"\x89PNG\r\n\x1a\nnot really, but the magic is right".to_vec();
    let a = store.put_photo(&png, &port()).await.expect("png");
    let b = store.put_photo(&png, &port()).await.expect("again");
    assert_eq!(a, b);
    assert_eq!(a.len(), 64);
    assert!(matches!(
        store.put_photo(b"GIF89a", &port()).await,
        Err(TallyError::Invalid(_))
    ));
    let (media, bytes) = store
        .photo_in(&a, &id("guoyuan-port"), &TallyScope::Nothing)
        .await
        .expect("read")
        .expect("the uploader sees it");
    assert_eq!((media.as_str(), bytes), ("image/png", png));
    assert!(
        store
            .photo_in(
                &a,
                &id("changan-export"),
                &TallyScope::ExportedBy(id("changan-export"))
            )
            .await
            .expect("read")
            .is_none()
    );
    // A report naming a photo that was never stored is refused whole.
    let r = store
        .add_condition_report(&ConditionReport {
            id: Uuid::new_v4(),
            facility: id("guoyuan-yard"),
            vin: vin(1),
            session: None,
            at: jianghai_core::ledger::format_time(now()),
            organisation: id("guoyuan-port"),
            username: "t".into(),
            note: None,
            entries: vec![],
            photos: vec!["0".repeat(64)],
        })
        .await;
    assert!(matches!(r, Err(TallyError::Missing { what: "photo", .. })));
    let page = store
        .condition_reports(&TallyScope::All, None, "", 10)
        .await
        .expect("list");
    assert!(page.items.is_empty());
}

async fn scopes_keep_parties_apart(store: &Store) {
    yard(store).await;
    let s = store
        .open_tally_session(
            Uuid::new_v4(),
            &id("guoyuan-yard"),
            &id("sh-1"),
            0.9,
            now(),
            &port(),
        )
        .await
        .expect("open");
    let sees = |scope: TallyScope| async move {
        store
            .tally_session_in(s.id, &scope)
            .await
            .expect("read")
            .is_some()
    };
    assert!(sees(TallyScope::All).await);
    assert!(sees(TallyScope::AtFacilitiesOf(id("guoyuan-port"))).await);
    assert!(sees(TallyScope::ExportedBy(id("changan-export"))).await);
    assert!(!sees(TallyScope::AtFacilitiesOf(id("minsheng-shipping"))).await);
    assert!(!sees(TallyScope::ExportedBy(id("minsheng-shipping"))).await);
    assert!(!sees(TallyScope::Nothing).await);
    let gate = store
        .gate_ins(&TallyScope::ExportedBy(id("chongqing-customs")), "", 10)
        .await
        .expect("list");
    assert!(gate.items.is_empty());
    let gate = store
        .gate_ins(&TallyScope::ExportedBy(id("changan-export")), "", 10)
        .await
        .expect("list");
    assert_eq!(gate.items.len(), 5);
}
