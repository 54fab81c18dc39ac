//! Customs transit on both engines: a declaration refused for each kind of problem (and the
//! refusal logged), declared cars moved to `declared`, holds and releases, and a close that
//! needs every seal intact before the cars move to `transit_closed`.

mod common;

use common::*;
use jianghai_core::{Step, VehicleState};
use jianghai_customs::{
    FiledShip, Seal, SealClass, SealKind, SealObservation, SealState, TransitAction,
    TransitDeclaration, TransitProblem, TransitState,
};
use jianghai_store::{CustomsError, Store};

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
    a_transit_from_declaration_to_close,
    bad_declarations_are_refused_and_logged,
);

fn declaration(number: &str, vins: Vec<jianghai_core::Vin>) -> TransitDeclaration {
    TransitDeclaration {
        number: number.into(),
        departure_customs: "chongqing-customs".into(),
        exit_customs: "shanghai-customs".into(),
        carrier: "minsheng-shipping".into(),
        vessel: "minsheng-8".into(),
        voyage: "v2025-001".into(),
        route: "Yangtze: Guoyuan → Waigaoqiao".into(),
        declared_at: now() - chrono::Duration::hours(1),
        deadline: now() + chrono::Duration::days(12),
        vins,
        seals: vec![
            Seal {
                number: "CQ-000001".into(),
                kind: SealKind::Mechanical {
                    class: SealClass::H,
                },
                on: "deck:minsheng-8/D1".into(),
            },
            Seal {
                number: "ES-7000001".into(),
                kind: SealKind::Electronic {
                    device: "eseal-1".into(),
                },
                on: "deck:minsheng-8/D2".into(),
            },
        ],
    }
}

fn filed() -> FiledShip {
    FiledShip {
        vessel: "minsheng-8".into(),
        carrier: "minsheng-shipping".into(),
        positioning: true,
        video: true,
    }
}

fn found(n: &str, on: &str, state: SealState) -> SealObservation {
    SealObservation {
        number: n.into(),
        on: on.into(),
        state,
    }
}

async fn state_of(store: &Store, v: &jianghai_core::Vin) -> VehicleState {
    store
        .vehicle(v)
        .await
        .expect("read")
        .expect("vehicle")
        .status
        .state
}

async fn a_transit_from_declaration_to_close(store: &Store) {
    seed(store).await;
    let vins: Vec<_> = (1..=3).map(vin).collect();
    drive(
        store,
        &vins,
        &[Step::Register, Step::GateIn, Step::Tally],
        1,
    )
    .await;
    store.file_ship(&filed()).await.expect("file");
    let customs = id("chongqing-customs");
    let d = declaration("800020250000123", vins.clone());
    let t = store
        .declare_transit(&d, &customs, now())
        .await
        .expect("declared");
    assert_eq!(t.state, TransitState::Declared);
    assert_eq!(state_of(store, &vins[0]).await, VehicleState::Declared);

    let act = |a: TransitAction| async move {
        store
            .act_on_transit("800020250000123", &a, &id("chongqing-customs"), now())
            .await
    };
    assert!(
        act(TransitAction::Arrive).await.is_err(),
        "not released yet"
    );
    act(TransitAction::Release).await.expect("release");
    let held = act(TransitAction::Hold {
        reason: "x-ray of deck D2".into(),
    })
    .await
    .expect("hold");
    assert_eq!(held.state, TransitState::Held);
    assert_eq!(held.hold_reason.as_deref(), Some("x-ray of deck D2"));
    let back = act(TransitAction::Release).await.expect("release");
    assert_eq!(
        back.state,
        TransitState::Released,
        "back to where it was held"
    );
    // The ship sails: the cars' own steps go on the ledger as they happen.
    drive(store, &vins, &[Step::Load, Step::Depart, Step::Arrive], 10).await;
    act(TransitAction::Arrive).await.expect("arrive");

    // One e-seal opened on the way: the close is refused, naming it, and nothing moves.
    let opened = act(TransitAction::Close {
        found: vec![
            found("CQ-000001", "deck:minsheng-8/D1", SealState::Sealed),
            found("ES-7000001", "deck:minsheng-8/D2", SealState::Opened),
        ],
    })
    .await
    .expect_err("refused");
    assert!(
        opened
            .to_string()
            .contains("seal ES-7000001 on deck:minsheng-8/D2 is opened"),
        "{opened}"
    );
    let missing = act(TransitAction::Close {
        found: vec![found("CQ-000001", "deck:minsheng-8/D1", SealState::Sealed)],
    })
    .await
    .expect_err("refused");
    assert!(missing.to_string().contains("is missing"), "{missing}");
    assert_eq!(state_of(store, &vins[0]).await, VehicleState::Arrived);

    let closed = act(TransitAction::Close {
        found: vec![
            found("CQ-000001", "deck:minsheng-8/D1", SealState::Sealed),
            found("ES-7000001", "deck:minsheng-8/D2", SealState::Sealed),
        ],
    })
    .await
    .expect("closed");
    assert_eq!(closed.state, TransitState::Closed);
    for v in &vins {
        assert_eq!(state_of(store, v).await, VehicleState::TransitClosed);
    }
    let log = store.transit_log("800020250000123").await.expect("log");
    let outcomes: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("declare", "done"),
            ("arrive", "refused"),
            ("release", "done"),
            ("hold", "done"),
            ("release", "done"),
            ("arrive", "done"),
            ("close", "refused"),
            ("close", "refused"),
            ("close", "done"),
        ]
    );
    assert_eq!(
        store.transits(Some(&vins[..1])).await.expect("list").len(),
        1
    );
    assert!(
        store
            .transits(Some(&[vin(99)]))
            .await
            .expect("list")
            .is_empty()
    );
    store.verify().await.expect("the ledger verifies");
}

async fn bad_declarations_are_refused_and_logged(store: &Store) {
    seed(store).await;
    let vins: Vec<_> = (1..=2).map(vin).collect();
    drive(
        store,
        &vins,
        &[Step::Register, Step::GateIn, Step::Tally],
        1,
    )
    .await;
    let customs = id("chongqing-customs");
    // The ship is not filed with customs yet.
    let d = declaration("800020250000200", vins.clone());
    match store.declare_transit(&d, &customs, now()).await {
        Err(CustomsError::Problems(p)) => assert!(
            p.iter()
                .any(|x| matches!(x, TransitProblem::ShipNotFiled { .. })),
            "{p:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(state_of(store, &vins[0]).await, VehicleState::Tallied);
    store.file_ship(&filed()).await.expect("file");
    store
        .declare_transit(&d, &customs, now())
        .await
        .expect("declared once filed");
    // The same car on a second open declaration, and a duplicate number.
    let again = declaration("800020250000201", vec![vins[1]]);
    match store.declare_transit(&again, &customs, now()).await {
        Err(CustomsError::Problems(p)) => assert!(
            p.contains(&TransitProblem::Overlap {
                vin: vins[1].to_string(),
                other: "800020250000200".into()
            }),
            "{p:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.declare_transit(&d, &customs, now()).await,
        Err(CustomsError::Problems(_))
    ));
    // A car the lifecycle will not declare (not tallied) refuses the whole declaration.
    drive(store, &[vin(3)], &[Step::Register], 50).await;
    let early = declaration("800020250000202", vec![vin(3)]);
    assert!(matches!(
        store.declare_transit(&early, &customs, now()).await,
        Err(CustomsError::Append(_))
    ));
    assert!(
        store
            .transit("800020250000202")
            .await
            .expect("read")
            .is_none()
    );
    let log = store.transit_log("800020250000201").await.expect("log");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, "refused");
    assert!(
        log[0]
            .detail
            .contains("already on open transit declaration")
    );
    assert!(matches!(
        store
            .act_on_transit("nope-000000", &TransitAction::Release, &customs, now())
            .await,
        Err(CustomsError::Missing { .. })
    ));
}
