//! Customs transit over HTTP: the authorization rows of its routes, and a transit from
//! declaration to close (转关核销) with every refusal the issue names — a ship not filed, an
//! overlapping declaration, a transit released while one of its cars is held, a close with a
//! missing or mismatched seal — each answered with its reason and found in the customs log.

use chrono::{Duration, Utc};
use jianghai_core::{Actor, Event, OrgKind, Step, Vin};
use jianghai_customs::FiledShip;
use jianghai_customs::seal::{Seal, SealClass, SealKind};
use jianghai_store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Row, World, id, none, submit, vin};

const VESSEL: &str = "minsheng-ro-ro-8";
const CARRIER: &str = "minsheng-shipping";
/// The matrix's declarations: one to amend, hold and release; one arrived, to close.
const SEEDED: &str = "800020250000901";
const ARRIVED: &str = "800020250000902";

/// Appends `step` for `vins` as `org`, timed now (on rv-0001 for voyage steps, at the Guoyuan
/// yard for gate-in and tally).
async fn step(store: &Store, step: Step, vins: &[Vin], org: &str) {
    let mut e = Event::lifecycle(
        Uuid::new_v4(),
        step,
        (Utc::now() - Duration::seconds(1)).fixed_offset(),
        vins.to_vec(),
        Actor {
            organisation: id(org),
            user: None,
            device: None,
        },
    );
    match step {
        Step::GateIn | Step::Tally => e.read_point = Some(id("guoyuan-yard")),
        Step::Load | Step::Depart | Step::Arrive => e.subjects.voyage = Some(id("rv-0001")),
        _ => {}
    }
    store
        .append(e)
        .await
        .unwrap_or_else(|e| panic!("{step}: {e}"));
}

/// Registers (for changan-intl), gates in and tallies `vins`: ready to be declared.
async fn tallied(store: &Store, vins: &[Vin]) {
    step(store, Step::Register, vins, "changan-intl").await;
    step(store, Step::GateIn, vins, "guoyuan-port").await;
    step(store, Step::Tally, vins, "guoyuan-port").await;
}

fn seal(number: &str) -> Value {
    json!({"number": number, "kind": "mechanical", "class": "H", "on": "deck:minsheng-ro-ro-8/D1"})
}

fn declaration(number: &str, vins: &[Vin], seals: Value) -> Value {
    json!({
        "number": number,
        "departureCustoms": "chongqing-customs",
        "exitCustoms": "shanghai-customs",
        "carrier": CARRIER,
        "vessel": VESSEL,
        "voyage": "rv-0001",
        "route": "Yangtze: Guoyuan → Haitong",
        "deadline": (Utc::now() + Duration::days(12)).to_rfc3339(),
        "vins": vins.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "seals": seals,
    })
}

/// The ocean leg of ov-0001 for Manzanillo, fed by rv-0001, its cut-off `cut_off_h` hours from
/// now (negative: passed).
fn ocean_leg(cut_off_h: i64) -> Value {
    let h = |n: i64| (Utc::now() + Duration::hours(n)).to_rfc3339();
    json!({"terminal": "haitong-terminal", "berthFrom": h(-6), "berthTo": h(30),
           "cutOff": h(cut_off_h), "etd": h(24), "dischargePort": "MXZLO",
           "feeder": "rv-0001", "handlingMinutes": 360})
}

async fn file_ship(store: &Store) {
    store
        .file_ship(&FiledShip {
            vessel: VESSEL.into(),
            carrier: CARRIER.into(),
            positioning: true,
            video: true,
        })
        .await
        .expect("file ship");
}

fn store_declaration(number: &str, vins: Vec<Vin>) -> jianghai_customs::TransitDeclaration {
    jianghai_customs::TransitDeclaration {
        number: number.into(),
        departure_customs: "chongqing-customs".into(),
        exit_customs: "shanghai-customs".into(),
        carrier: CARRIER.into(),
        vessel: VESSEL.into(),
        voyage: "rv-0001".into(),
        route: "Yangtze".into(),
        declared_at: Utc::now() - Duration::seconds(1),
        deadline: Utc::now() + Duration::days(12),
        vins,
        seals: vec![Seal {
            number: "CQ-000902".into(),
            kind: SealKind::Mechanical {
                class: SealClass::H,
            },
            on: "deck:minsheng-ro-ro-8/D1".into(),
        }],
    }
}

/// Rows of the matrix. The exporter (changan-intl) registered every car here, so it reads the
/// declarations (read-only: 403 on acting); the carrier reads its ship's filing only; the port
/// nothing. Where customs acts first, the operator's same request meets the state customs left
/// (e.g. a second hold of a held car is 409): past the policy, refused by the lifecycle.
pub async fn rows(w: &World) -> Vec<Row> {
    file_ship(&w.store).await;
    let (a, b, c) = (vin(51), vin(54), vin(52));
    tallied(&w.store, &[a, b, c, vin(53)]).await;
    let customs = id("chongqing-customs");
    w.store
        .declare_transit(&store_declaration(SEEDED, vec![a]), &customs, Utc::now())
        .await
        .expect("seeded transit");
    w.store
        .declare_transit(&store_declaration(ARRIVED, vec![b]), &customs, Utc::now())
        .await
        .expect("arrived transit");
    for s in [Step::Load, Step::Depart, Step::Arrive] {
        step(&w.store, s, &[b], CARRIER).await;
    }
    for action in [
        jianghai_customs::TransitAction::Release,
        jianghai_customs::TransitAction::Arrive,
    ] {
        w.store
            .act_on_transit(ARRIVED, &action, &customs, Utc::now())
            .await
            .expect("act");
    }
    let row = |method: Method,
               route: &'static str,
               path: &str,
               body: fn(OrgKind) -> Option<Value>,
               expect: [u16; 6]| Row {
        method,
        route,
        path: path.to_string(),
        body,
        expect,
        fresh_token: false,
        raw: None,
    };
    let reads = [200, 404, 404, 200, 200, 200];
    let t = |rest: &str| format!("/api/v1/customs/transits/{SEEDED}{rest}");
    vec![
        row(
            Method::POST,
            "/api/v1/customs/ship-filings",
            "/api/v1/customs/ship-filings",
            |_| Some(json!({"vessel": VESSEL, "positioning": true, "video": true})),
            [403, 403, 403, 201, 403, 201],
        ),
        row(
            Method::GET,
            "/api/v1/customs/ship-filings",
            "/api/v1/customs/ship-filings",
            none,
            [200; 6],
        ),
        row(
            Method::GET,
            "/api/v1/customs/ship-filings/{vessel}",
            "/api/v1/customs/ship-filings/minsheng-ro-ro-8",
            none,
            [404, 200, 404, 200, 200, 200],
        ),
        row(
            Method::POST,
            "/api/v1/customs/transits",
            "/api/v1/customs/transits",
            |k| {
                let (n, v) = match k {
                    OrgKind::Operator => ("800020250000953", vin(53)),
                    _ => ("800020250000952", vin(52)),
                };
                Some(declaration(n, &[v], json!([seal("CQ-000952")])))
            },
            [403, 403, 403, 201, 403, 201],
        ),
        row(
            Method::GET,
            "/api/v1/customs/transits",
            "/api/v1/customs/transits",
            none,
            [200; 6],
        ),
        row(
            Method::GET,
            "/api/v1/customs/transits/{number}",
            &t(""),
            none,
            reads,
        ),
        row(
            Method::PUT,
            "/api/v1/customs/transits/{number}",
            &t(""),
            |_| Some(declaration(SEEDED, &[vin(51)], json!([seal("CQ-000901")]))),
            [403, 404, 404, 200, 403, 200],
        ),
        row(
            Method::POST,
            "/api/v1/customs/transits/{number}/vehicles/{vin}/hold",
            &t(&format!("/vehicles/{a}/hold")),
            |_| Some(json!({"kind": "damage", "reason": "scratched door"})),
            [403, 404, 404, 201, 403, 409],
        ),
        row(
            Method::POST,
            "/api/v1/customs/transits/{number}/vehicles/{vin}/release",
            &t(&format!("/vehicles/{a}/release")),
            none,
            [403, 404, 404, 200, 403, 422],
        ),
        row(
            Method::POST,
            "/api/v1/customs/transits/{number}/hold",
            &t("/hold"),
            |_| Some(json!({"reason": "documents to check"})),
            [403, 404, 404, 200, 403, 409],
        ),
        row(
            Method::POST,
            "/api/v1/customs/transits/{number}/release",
            &t("/release"),
            none,
            [403, 404, 404, 200, 403, 200],
        ),
        row(
            Method::POST,
            "/api/v1/customs/transits/{number}/arrive",
            &t("/arrive"),
            none,
            [403, 404, 404, 200, 403, 409],
        ),
        row(
            Method::POST,
            "/api/v1/customs/transits/{number}/close",
            &format!("/api/v1/customs/transits/{ARRIVED}/close"),
            |_| {
                Some(json!({"found": [{"number": "CQ-000902",
                    "on": "deck:minsheng-ro-ro-8/D1", "state": "sealed"}]}))
            },
            [403, 404, 404, 200, 403, 409],
        ),
        row(
            Method::GET,
            "/api/v1/customs/transits/{number}/log",
            &t("/log"),
            none,
            reads,
        ),
        row(
            Method::PUT,
            "/api/v1/customs/credit/{organisation}",
            "/api/v1/customs/credit/changan-intl",
            |_| Some(json!({"refundClass": 1, "customsCredit": "certified"})),
            [403, 403, 403, 200, 403, 200],
        ),
        row(
            Method::GET,
            "/api/v1/shipments/{id}/refund",
            "/api/v1/shipments/sh-v2/refund",
            none,
            reads,
        ),
        row(
            Method::GET,
            "/api/v1/shipments/{id}/savings",
            "/api/v1/shipments/sh-v2/savings?format=csv",
            none,
            reads,
        ),
        row(
            Method::PUT,
            "/api/v1/voyages/{id}/ocean-leg",
            "/api/v1/voyages/ov-0001/ocean-leg",
            |_| Some(ocean_leg(4)),
            [403, 404, 404, 403, 403, 200],
        ),
        row(
            Method::GET,
            "/api/v1/voyages/{id}/ocean-leg",
            "/api/v1/voyages/ov-0001/ocean-leg",
            none,
            [200, 404, 404, 200, 200, 200],
        ),
        row(
            Method::POST,
            "/api/v1/voyages/{id}/transshipments",
            "/api/v1/voyages/ov-0001/transshipments",
            |_| Some(json!({"vins": [vin(2).to_string()], "transfer": "direct"})),
            [403, 404, 404, 403, 403, 409],
        ),
        row(
            Method::POST,
            "/api/v1/voyages/{id}/exports",
            "/api/v1/voyages/ov-0001/exports",
            |_| Some(json!({"vins": [vin(2).to_string()]})),
            [403, 404, 404, 403, 403, 409],
        ),
        row(
            Method::GET,
            "/api/v1/customs/savings",
            "/api/v1/customs/savings?from=2020-01-01T00:00:00Z&to=2099-01-01T00:00:00Z",
            none,
            [200; 6],
        ),
    ]
}

async fn log_of(w: &World, token: &str, number: &str) -> Vec<Value> {
    let (s, b) = w
        .call(
            Method::GET,
            &format!("/api/v1/customs/transits/{number}/log"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b.as_array().expect("log").clone()
}

fn refused(log: &[Value], action: &str, needle: &str) -> bool {
    log.iter().any(|e| {
        e["action"] == action
            && e["outcome"] == "refused"
            && e["detail"].as_str().is_some_and(|d| d.contains(needle))
    })
}

/// A transit declared, held per car, released, arrived and closed over HTTP, with every
/// refusal of the issue answered with its reason and logged for customs; the exporter reads it
/// (and cannot act), the carrier cannot see it; refund and savings come from the stored facts.
pub async fn a_transit_over_http(w: &World) {
    let customs = w.token(OrgKind::Customs).await;
    let exporter = w.token(OrgKind::Exporter).await;
    let carrier = w.token(OrgKind::Carrier).await;
    // The operator moves the cars (it may submit any step and sees every car).
    let operator = w.token(OrgKind::Operator).await;
    let post = |path: String, token: &str, body: Option<Value>| {
        let token = token.to_string();
        async move { w.call(Method::POST, &path, Some(&token), body).await }
    };
    let (x, y) = (vin(71), vin(72));
    tallied(&w.store, &[x, y]).await;
    let number = "800020250000071";
    let seals = json!([seal("CQ-000071"), {"number": "ES-000071", "kind": "electronic",
        "device": "eseal-71", "on": format!("vehicle:{y}")}]);

    // A ship not filed with customs: refused, with the reason, and in the customs log.
    let (s, b) = post(
        "/api/v1/customs/transits".into(),
        &customs,
        Some(declaration(number, &[x, y], seals.clone())),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        b["type"],
        "https://jianghai.dev/problems/transit-declaration"
    );
    assert!(
        b["detail"]
            .as_str()
            .is_some_and(|d| d.contains("ship minsheng-ro-ro-8 is not filed with customs")),
        "{b}"
    );
    assert!(refused(
        &log_of(w, &customs, number).await,
        "declare",
        "not filed"
    ));
    // The carrier cannot file its own ship; customs does, with its equipment.
    let filing = json!({"vessel": VESSEL, "positioning": true, "video": true});
    let (s, _) = post(
        "/api/v1/customs/ship-filings".into(),
        &carrier,
        Some(filing.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = post(
        "/api/v1/customs/ship-filings".into(),
        &customs,
        Some(filing),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["carrier"], CARRIER);
    let (s, b) = w
        .call(
            Method::GET,
            "/api/v1/customs/ship-filings",
            Some(&carrier),
            None,
        )
        .await;
    assert_eq!((s, b[0]["vessel"].clone()), (StatusCode::OK, json!(VESSEL)));

    // Declared (the cars move to `declared` in the ledger).
    let (s, b) = post(
        "/api/v1/customs/transits".into(),
        &customs,
        Some(declaration(number, &[x, y], seals.clone())),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["state"], "declared");
    assert_eq!(
        w.store
            .vehicle(&x)
            .await
            .expect("read")
            .expect("x")
            .status
            .state,
        jianghai_core::VehicleState::Declared
    );

    // Overlapping: a second declaration naming car y.
    let other = "800020250000073";
    let (s, b) = post(
        "/api/v1/customs/transits".into(),
        &customs,
        Some(declaration(other, &[y], json!([seal("CQ-000073")]))),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b["detail"].as_str().is_some_and(|d| d.contains(&format!(
            "vehicle {y} is already on open transit declaration {number}"
        ))),
        "{b}"
    );
    assert!(refused(
        &log_of(w, &customs, other).await,
        "declare",
        "already on open transit declaration"
    ));

    // The exporter reads the declaration and its log, and cannot act; the carrier sees none.
    let path = |rest: &str| format!("/api/v1/customs/transits/{number}{rest}");
    let (s, b) = w.call(Method::GET, &path(""), Some(&exporter), None).await;
    assert_eq!((s, b["number"].clone()), (StatusCode::OK, json!(number)));
    let (s, _) = post(path("/release"), &exporter, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = w.call(Method::GET, &path(""), Some(&carrier), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = w
        .call(
            Method::GET,
            "/api/v1/customs/transits",
            Some(&carrier),
            None,
        )
        .await;
    assert_eq!(list, json!([]));

    // A car held for damage cannot move forward, and the transit cannot be released while it
    // is held; a hold without a reason or of an unknown kind is refused.
    let (s, b) = post(
        path(&format!("/vehicles/{x}/hold")),
        &customs,
        Some(json!({"kind": "damage", "reason": " "})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = post(
        path(&format!("/vehicles/{x}/hold")),
        &customs,
        Some(json!({"kind": "damage", "reason": "dented rear door"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = submit(w, &operator, "load", x.as_str()).await;
    assert_eq!(s, StatusCode::CONFLICT, "a held car is not loaded: {b}");
    let (s, b) = post(path("/release"), &customs, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["type"], "https://jianghai.dev/problems/vehicle-held");
    assert!(
        b["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("vehicle {x} is held (damage: dented rear door)"))),
        "{b}"
    );
    assert!(refused(
        &log_of(w, &customs, number).await,
        "release",
        "is held"
    ));
    let (_, b) = w.call(Method::GET, &path(""), Some(&exporter), None).await;
    assert_eq!(b["vehicleHolds"][0]["reason"], "dented rear door");
    // Releasing a car not under hold is refused; releasing the held one lets all move on.
    let (s, b) = post(path(&format!("/vehicles/{y}/release")), &customs, None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = post(path(&format!("/vehicles/{x}/release")), &customs, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["releasedAt"].is_string());
    let (s, b) = post(path("/release"), &customs, None).await;
    assert_eq!((s, b["state"].clone()), (StatusCode::OK, json!("released")));
    // Amending a released transit is refused.
    let (s, b) = w
        .call(
            Method::PUT,
            &path(""),
            Some(&customs),
            Some(declaration(number, &[x], seals.clone())),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");

    // The river leg, arrival at Shanghai, and the close (核销): a missing seal and a
    // mismatched one are refused, naming the seal; intact seals close the transit.
    let leg = |st: &'static str| {
        let body = json!({"step": st, "vins": [x.to_string(), y.to_string()], "voyage": "rv-0001"});
        let token = operator.clone();
        async move {
            let (s, b) = w
                .call(Method::POST, "/api/v1/events", Some(&token), Some(body))
                .await;
            assert!(s.is_success(), "{st}: {s} {b}");
        }
    };
    leg("load").await;
    leg("depart").await;
    eseal_opened_in_transit(w, &customs, &exporter).await;
    leg("arrive").await;
    // Transshipping before the transit is closed is refused by the lifecycle.
    set_leg(w, &operator).await;
    let (s, b) = post(
        "/api/v1/voyages/ov-0001/transshipments".into(),
        &operator,
        Some(json!({"vins": [x.to_string()], "transfer": "direct"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, b) = post(path("/arrive"), &customs, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let deck = json!({"number": "CQ-000071", "on": "deck:minsheng-ro-ro-8/D1", "state": "sealed"});
    let (s, b) = post(path("/close"), &customs, Some(json!({"found": [deck]}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["type"], "https://jianghai.dev/problems/seal-verification");
    assert!(
        b["detail"].as_str().is_some_and(
            |d| d.contains(&format!("seal ES-000071 applied on vehicle:{y} is missing"))
        ),
        "{b}"
    );
    let swapped = json!({"number": "ES-000999", "on": format!("vehicle:{y}"), "state": "sealed"});
    let (s, b) = post(
        path("/close"),
        &customs,
        Some(json!({"found": [deck, swapped]})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(
        b["detail"].as_str().is_some_and(
            |d| d.contains("seal ES-000999 on vehicle:") && d.contains("never applied")
        ),
        "{b}"
    );
    let log = log_of(w, &customs, number).await;
    assert!(refused(&log, "close", "is missing"));
    assert!(refused(&log, "close", "never applied"));
    let eseal = json!({"number": "ES-000071", "on": format!("vehicle:{y}"), "state": "sealed"});
    let (s, b) = post(
        path("/close"),
        &customs,
        Some(json!({"found": [deck, eseal]})),
    )
    .await;
    assert_eq!(
        (s, b["state"].clone()),
        (StatusCode::OK, json!("closed")),
        "{b}"
    );
    assert_eq!(
        w.store
            .vehicle(&y)
            .await
            .expect("read")
            .expect("y")
            .status
            .state,
        jianghai_core::VehicleState::TransitClosed
    );
    // Transshipped at Shanghai, x ship to ship and y through the yard (dwell measured), and
    // exported per car: one ledger event each.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for (v, transfer) in [(x, "direct"), (y, "yard")] {
        let (s, b) = post(
            "/api/v1/voyages/ov-0001/transshipments".into(),
            &operator,
            Some(json!({"vins": [v.to_string()], "transfer": transfer})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b[0]["transfer"], transfer);
        if transfer == "yard" {
            assert!(b[0]["dwellSeconds"].as_i64().is_some_and(|d| d >= 1), "{b}");
        } else {
            assert_eq!(b[0]["dwellSeconds"], 0);
        }
    }
    let before = w.store.head().await.expect("head").0;
    let (s, b) = post(
        "/api/v1/voyages/ov-0001/exports".into(),
        &operator,
        Some(json!({"vins": [x.to_string(), y.to_string()]})),
    )
    .await;
    assert_eq!(
        (s, b["exported"].clone()),
        (StatusCode::OK, json!(2)),
        "{b}"
    );
    assert_eq!(
        w.store.head().await.expect("head").0,
        before + 2,
        "one event per car"
    );
    assert_eq!(
        w.store
            .vehicle(&x)
            .await
            .expect("read")
            .expect("x")
            .status
            .state,
        jianghai_core::VehicleState::Exported
    );
    let (_, b) = w
        .call(
            Method::GET,
            "/api/v1/voyages/ov-0001/ocean-leg",
            Some(&customs),
            None,
        )
        .await;
    assert_eq!(b["transshipments"].as_array().map(Vec::len), Some(2), "{b}");
    assert!(b["transshipments"][0]["exportedAt"].is_string(), "{b}");

    // The exporter reads the whole log, refusals included.
    let log = log_of(w, &exporter, number).await;
    let actions: Vec<(&str, &str)> = log
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                e["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(actions.contains(&("hold_vehicle", "done")));
    assert!(actions.contains(&("release_vehicle", "done")));
    assert_eq!(actions.last(), Some(&("close", "done")));

    // Refund: not eligible until customs records the parties' credit; then eligible, from the
    // day after the release.
    let (s, b) = post(
        "/api/v1/shipments".into(),
        &exporter,
        Some(json!({"id": "sh-transit", "destinationCountry": "MX",
            "vins": [x.to_string(), y.to_string()]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let refund = || async {
        w.call(
            Method::GET,
            "/api/v1/shipments/sh-transit/refund",
            Some(&exporter),
            None,
        )
        .await
    };
    let (s, b) = refund().await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["assessment"]["eligible"], false, "{b}");
    assert_eq!(b["facts"]["departure_port"], "guoyuan-ro-ro");
    for (org, credit) in [
        (
            "changan-intl",
            json!({"refundClass": 1, "customsCredit": "certified"}),
        ),
        (
            CARRIER,
            json!({"customsCredit": "general", "taxCredit": "A"}),
        ),
    ] {
        let (s, b) = w
            .call(
                Method::PUT,
                &format!("/api/v1/customs/credit/{org}"),
                Some(&customs),
                Some(credit),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (_, b) = refund().await;
    assert_eq!(b["assessment"]["eligible"], true, "{b}");
    let tomorrow = (Utc::now() + Duration::days(1)).date_naive().to_string();
    assert_eq!(b["assessment"]["refund_from"], json!(tomorrow), "{b}");
    let (s, _) = w
        .call(
            Method::GET,
            "/api/v1/shipments/sh-transit/refund",
            Some(&carrier),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The same cars declared as dangerous goods (UN3171, battery-powered vehicles): recorded
    // with the shipment, and the corridor's rules then refuse the refund, naming why. A
    // malformed UN number is refused with its pointer, and nothing is recorded.
    let (s, b) = post(
        "/api/v1/shipments".into(),
        &exporter,
        Some(json!({"id": "sh-transit-dg", "destinationCountry": "MX",
            "vins": [x.to_string()], "dangerousGoods": ["UN31"]})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.to_string().contains("/dangerousGoods/0"), "{b}");
    let (s, b) = post(
        "/api/v1/shipments".into(),
        &exporter,
        Some(json!({"id": "sh-transit-dg", "destinationCountry": "MX",
            "vins": [x.to_string()], "dangerousGoods": ["un3171", "UN3171"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["dangerousGoods"], json!(["UN3171"]), "{b}");
    let (_, b) = w
        .call(
            Method::GET,
            "/api/v1/shipments/sh-transit-dg/refund",
            Some(&exporter),
            None,
        )
        .await;
    assert_eq!(
        (&b["facts"]["dangerous_goods"], &b["assessment"]["eligible"]),
        (&json!(true), &json!(false)),
        "{b}"
    );
    let failed: Vec<&str> = b["assessment"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["met"] == false)
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(failed, ["no dangerous goods"], "{b}");

    // Savings: JSON, CSV and .xlsx with their content types and file names.
    let (s, b) = w
        .call(
            Method::GET,
            "/api/v1/shipments/sh-transit/savings",
            Some(&exporter),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["cars"].clone(), b["saved"].clone()),
        (json!(2), json!(2 * 1_500))
    );
    let get = |path: &'static str| {
        let req = w
            .client
            .get(format!("{}{path}", w.base))
            .bearer_auth(customs.clone());
        async move { req.send().await.expect("send") }
    };
    let res = get("/api/v1/shipments/sh-transit/savings?format=csv&lang=zh").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"savings-sh-transit.csv\""
    );
    let text = res.text().await.expect("csv");
    assert!(
        text.contains("出境港堆存") && text.contains("sh-transit"),
        "{text}"
    );
    let res = get(
        "/api/v1/customs/savings?from=2020-01-01T00:00:00Z&to=2099-01-01T00:00:00Z&format=xlsx",
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"savings-20200101-20990101.xlsx\""
    );
    assert!(res.bytes().await.expect("xlsx").starts_with(b"PK"));
    let (s, b) = w
        .call(
            Method::GET,
            "/api/v1/customs/savings?from=2020-01-01T00:00:00Z&to=2099-01-01T00:00:00Z",
            Some(&carrier),
            None,
        )
        .await;
    assert_eq!((s, b["shipments"].clone()), (StatusCode::OK, json!([])));
    let (s, b) = w
        .call(
            Method::GET,
            "/api/v1/customs/savings?from=2099-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
            Some(&customs),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _) = w
        .call(
            Method::GET,
            "/api/v1/shipments/sh-transit/savings?format=pdf",
            Some(&customs),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

/// The e-seal ES-000071 of the transit, a customs device on the monitoring pipeline: its
/// readings (sealed or opened, battery) go in over HTTP ingestion with the device's credential;
/// "opened" while the ship is under way raises the corridor's critical `seal-broken-in-transit`
/// alert, which customs sees and, scoped, the exporter whose cars the transit carries — not the
/// port.
async fn eseal_opened_in_transit(w: &World, customs: &str, exporter: &str) {
    let subject = "seal:minsheng-ro-ro-8/ES-000071";
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(customs),
            Some(json!({"id": "eseal-71", "kind": "sensor", "name": "E-seal ES-000071"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let credential = b["credential"].as_str().expect("credential").to_string();
    for (sensor, m) in [("state", "SealBroken"), ("battery", "Voltage")] {
        let (s, b) = w
            .call(
                Method::POST,
                "/api/v1/sensors",
                Some(customs),
                Some(
                    json!({"device": "eseal-71", "sensor": sensor, "measurement": m,
                    "subject": subject}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    // After the departure (a reading must be under way to count as in transit).
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let now = Utc::now();
    let at = |s: i64| jianghai_core::ledger::format_time(now - Duration::seconds(s));
    // The battery has been low (3.1 V) for over five minutes; the seal opens now.
    let mut readings: Vec<Value> = [400, 300, 150, 0]
        .into_iter()
        .map(|s| {
            json!({"sensor": "battery", "measurement": "Voltage", "value": 3.1, "unit": "VLT",
                   "time": at(s)})
        })
        .collect();
    readings.push(
        json!({"sensor": "state", "measurement": "SealBroken", "value": true,
                         "time": at(0)}),
    );
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/readings",
            Some(&credential),
            Some(json!({ "readings": readings })),
        )
        .await;
    assert!(s.is_success(), "{s} {b}");
    let path = format!("/api/v1/alerts?subject={subject}");
    let mut found = Value::Null;
    for _ in 0..100 {
        let (_, b) = w.call(Method::GET, &path, Some(customs), None).await;
        if let Some(a) = b["items"]
            .as_array()
            .and_then(|i| i.iter().find(|a| a["rule"] == "seal-broken-in-transit"))
        {
            found = a.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        found["severity"], "critical",
        "customs sees the alert: {found}"
    );
    let (_, b) = w.call(Method::GET, &path, Some(exporter), None).await;
    assert_eq!(b["items"][0]["id"], found["id"], "the exporter too: {b}");
    let port = w.token(OrgKind::Port).await;
    let (_, b) = w.call(Method::GET, &path, Some(&port), None).await;
    assert_eq!(b["items"], json!([]), "not the port");
    // The low battery is a warning of its own rule.
    let (_, b) = w.call(Method::GET, &path, Some(customs), None).await;
    let battery: Vec<&Value> = b["items"]
        .as_array()
        .map(|i| {
            i.iter()
                .filter(|a| a["rule"] == "eseal-battery-low")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(battery.len(), 1, "{b}");
    assert_eq!(battery[0]["severity"], "warning");
}

/// Sets ov-0001's ocean leg with a cut-off already passed: the river cars missed it, and the
/// ocean voyage gets a critical `cut-off-risk` alert; a leg whose cut-off is after its ETD is
/// refused.
async fn set_leg(w: &World, operator: &str) {
    let mut bad = ocean_leg(30);
    bad["etd"] = json!((Utc::now() + Duration::hours(24)).to_rfc3339());
    let (s, b) = w
        .call(
            Method::PUT,
            "/api/v1/voyages/ov-0001/ocean-leg",
            Some(operator),
            Some(bad),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b["detail"]
            .as_str()
            .is_some_and(|d| d.contains("cut-off must not be after the ETD")),
        "{b}"
    );
    let (s, b) = w
        .call(
            Method::PUT,
            "/api/v1/voyages/ov-0001/ocean-leg",
            Some(operator),
            Some(ocean_leg(-1)),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["cutOffRisk"]["risk"], "missed", "{b}");
    let (_, b) = w
        .call(
            Method::GET,
            "/api/v1/alerts?subject=voyage:ov-0001",
            Some(operator),
            None,
        )
        .await;
    let a = &b["items"][0];
    assert_eq!(
        (a["rule"].as_str(), a["severity"].as_str()),
        (Some("cut-off-risk"), Some("critical")),
        "{b}"
    );
    let missed = a["id"].as_str().expect("alert id").to_string();

    // The feeder is tracked now: arriving in 2 h (P50) to 3 h (P90), plus 6 h of handling.
    let at = |hours: i64| jianghai_core::ledger::format_time(Utc::now() + Duration::hours(hours));
    w.store
        .execute_raw(&format!(
            "INSERT INTO voyage_tracks (voyage, vessel, at, state, state_since, lat, lon, km, \
             offset_m, sog_kn, total_km, done_km, to_go_km, percent, arrival_p50, arrival_p90, \
             updated_at) VALUES ('rv-0001', '{VESSEL}', '{now}', 'under_way', '{now}', 31.0, \
             121.0, 120.0, 0.0, 10.0, 2400.0, 2280.0, 120.0, 95.0, '{p50}', '{p90}', '{now}')",
            now = at(0),
            p50 = at(2),
            p90 = at(3),
        ))
        .await
        .expect("track");
    let alerts = || async {
        let (_, b) = w
            .call(
                Method::GET,
                "/api/v1/alerts?subject=voyage:ov-0001",
                Some(operator),
                None,
            )
            .await;
        b["items"].as_array().cloned().unwrap_or_default()
    };
    let put = |cut_off_h: i64| async move {
        let (s, b) = w
            .call(
                Method::PUT,
                "/api/v1/voyages/ov-0001/ocean-leg",
                Some(operator),
                Some(ocean_leg(cut_off_h)),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["cutOffRisk"]["risk"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // Cut-off moved to 9 h 20 min: on time by 20 min, not enough to clear the alert.
    let (s, b) = w
        .call(
            Method::PUT,
            "/api/v1/voyages/ov-0001/ocean-leg",
            Some(operator),
            Some({
                let mut l = ocean_leg(9);
                l["cutOff"] = json!((Utc::now() + Duration::minutes(9 * 60 + 20)).to_rfc3339());
                l
            }),
        )
        .await;
    assert_eq!(
        (s, b["cutOffRisk"]["risk"].as_str()),
        (StatusCode::OK, Some("on_time")),
        "{b}"
    );
    let open = alerts().await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["state"], "open", "{open:?}");
    // Cut-off at 20 h: on time with a margin; the alert resolves itself as cleared.
    assert_eq!(put(20).await, "on_time");
    let after = alerts().await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(
        (
            after[0]["id"].as_str(),
            after[0]["state"].as_str(),
            after[0]["resolution"].as_str()
        ),
        (Some(missed.as_str()), Some("resolved"), Some("cleared")),
        "{after:?}"
    );
    // Then late again (cut-off at 7 h, P50 + handling is 8 h): a new alert opens.
    assert_eq!(put(7).await, "late");
    let again = alerts().await;
    assert_eq!(again.len(), 2, "{again:?}");
    assert!(
        again
            .iter()
            .any(|a| a["state"] == "open" && a["id"].as_str() != Some(missed.as_str())),
        "{again:?}"
    );
    // Leave the leg as the rest of the transit expects it: missed.
    assert_eq!(put(-1).await, "missed");
}
