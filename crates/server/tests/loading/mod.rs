//! Loading over HTTP: the authorization rows of its routes, and a whole voyage — deck plan,
//! plan from CSV, a wrong-slot scan refused, departure refused until load-complete allows
//! it — with bad input that changes nothing, and another carrier kept out.

use jianghai_core::{OrgKind, Step};
use jianghai_server::bootstrap;
use jianghai_store::Role;
use jianghai_stowage::fixtures::YANGTZE_CAR_CARRIER;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Row, World, append, id, none, vin};

fn car(v: &str, length_mm: i64, width_mm: i64) -> Value {
    json!({"vin": v, "model": "Changan CS75", "length_mm": length_mm, "width_mm": width_mm,
           "height_mm": 1_700, "weight_kg": 1_600, "powertrain": "ICE",
           "discharge": {"seq": 1, "label": "Haitong"}})
}

fn deck_plan(_: OrgKind) -> Option<Value> {
    serde_json::from_str(YANGTZE_CAR_CARRIER).ok()
}

fn two_cars(_: OrgKind) -> Option<Value> {
    Some(json!([
        car(vin(1).as_str(), 4_700, 1_860),
        car(vin(2).as_str(), 4_700, 1_860)
    ]))
}

/// The matrix rows of the loading routes, in an order that makes each one meaningful (the
/// deck plan before the plan, the plan before its edits and scans).
pub async fn rows(_w: &World) -> Vec<Row> {
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
    vec![
        row(
            Method::PUT,
            "/api/v1/vessels/{id}/deck-plan",
            "/api/v1/vessels/minsheng-ro-ro-8/deck-plan",
            deck_plan,
            [403, 200, 403, 403, 403, 200],
        ),
        row(
            Method::GET,
            "/api/v1/vessels/{id}/deck-plan",
            "/api/v1/vessels/minsheng-ro-ro-8/deck-plan",
            none,
            [200, 200, 200, 200, 200, 200],
        ),
        row(
            Method::POST,
            "/api/v1/voyages/{id}/stowage-plan",
            "/api/v1/voyages/rv-0001/stowage-plan",
            two_cars,
            [403, 201, 403, 403, 403, 201],
        ),
        // The exporter reads it narrowed to its cars (V1 and V2 are its own).
        row(
            Method::GET,
            "/api/v1/voyages/{id}/stowage-plan",
            "/api/v1/voyages/rv-0001/stowage-plan",
            none,
            [200, 200, 200, 200, 200, 200],
        ),
        row(
            Method::POST,
            "/api/v1/voyages/{id}/stowage-plan/edits",
            "/api/v1/voyages/rv-0001/stowage-plan/edits",
            |_| {
                Some(
                    json!({"edit": {"kind": "lock_lane", "lane": {"deck": "D5", "lane": "D5-L08"}}}),
                )
            },
            [403, 200, 403, 403, 403, 200],
        ),
        // V1 was never tallied: refused (409) for every party that may scan.
        row(
            Method::POST,
            "/api/v1/voyages/{id}/ramp-scans",
            "/api/v1/voyages/rv-0001/ramp-scans",
            |_| Some(json!({"vin": vin(1).to_string(), "deck": "D1", "lane": "D1-L01"})),
            [403, 409, 409, 403, 403, 409],
        ),
        row(
            Method::POST,
            "/api/v1/voyages/{id}/load-complete",
            "/api/v1/voyages/rv-0001/load-complete",
            none,
            [403, 200, 403, 403, 403, 200],
        ),
    ]
}

async fn call(
    w: &World,
    m: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    w.call(m, path, Some(token), body).await
}

/// Declares `vins` through the yard and customs, as the raw ledger would have them.
async fn declared(w: &World, vins: &[jianghai_core::Vin]) {
    append(&w.store, Step::Register, vins, "changan-intl", |_| {}).await;
    append(&w.store, Step::GateIn, vins, "guoyuan-port", |e| {
        e.read_point = Some(id("guoyuan-yard"))
    })
    .await;
    append(&w.store, Step::Tally, vins, "guoyuan-port", |e| {
        e.read_point = Some(id("guoyuan-yard"))
    })
    .await;
    append(&w.store, Step::Declare, vins, "chongqing-customs", |_| {}).await;
}

pub async fn a_voyage_loads_by_plan(w: &World) {
    let carrier = w.token(OrgKind::Carrier).await;
    let port = w.token(OrgKind::Port).await;
    let exporter = w.token(OrgKind::Exporter).await;
    let plan_path = "/api/v1/voyages/rv-0001/stowage-plan";
    let scans = "/api/v1/voyages/rv-0001/ramp-scans";

    // Bad deck plans change nothing.
    let mut bad: Value = serde_json::from_str(YANGTZE_CAR_CARRIER).expect("fixture");
    bad["decks"][0]["lanes"][0]["length_mm"] = json!(0);
    let (s, p) = call(
        w,
        Method::PUT,
        "/api/v1/vessels/minsheng-ro-ro-8/deck-plan",
        &carrier,
        Some(bad),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(
        p["errors"][0]["field"]
            .as_str()
            .is_some_and(|f| f.contains("lanes")),
        "{p}"
    );
    let (s, p) = w
        .call_raw(
            Method::PUT,
            "/api/v1/vessels/minsheng-ro-ro-8/deck-plan",
            Some(&carrier),
            "application/json",
            b"{\"name\": \"x\", ".to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (s, _) = call(
        w,
        Method::GET,
        "/api/v1/vessels/minsheng-ro-ro-8/deck-plan",
        &carrier,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A plan before the vessel has a deck plan.
    let (s, p) = call(
        w,
        Method::POST,
        plan_path,
        &carrier,
        two_cars(OrgKind::Carrier),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("deck plan")),
        "{p}"
    );
    let (s, p) = call(
        w,
        Method::PUT,
        "/api/v1/vessels/minsheng-ro-ro-8/deck-plan",
        &carrier,
        deck_plan(OrgKind::Carrier),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["decks"], 5);

    // Bad cars are explained, not planned: a duplicate VIN, zero width, one longer than any lane.
    let (v3, v4) = (vin(3), vin(4));
    declared(w, &[v3, v4]).await;
    let (s, p) = call(
        w,
        Method::POST,
        plan_path,
        &carrier,
        Some(json!([
            car(v3.as_str(), 4_700, 1_860),
            car(v3.as_str(), 4_500, 1_800),
            car(vin(9).as_str(), 4_700, 0),
            car(vin(8).as_str(), 99_000, 1_860),
        ])),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let why: Vec<&str> = p["unplaced"]
        .as_array()
        .expect("unplaced")
        .iter()
        .filter_map(|u| u["explanation"].as_str())
        .collect();
    assert_eq!(why.len(), 3, "{p}");
    assert!(
        why[0].contains("duplicate VIN")
            && why[1].contains("invalid width")
            && why[2].contains("too long"),
        "{why:?}"
    );
    // A CSV with a bad row is refused naming the line; a good one replaces the plan.
    let header = "vin,model,length_mm,width_mm,height_mm,weight_kg,powertrain,soc_pct,discharge_seq,discharge\n";
    let (s, p) = w.call_raw(Method::POST, plan_path, Some(&carrier), "text/csv",
        format!("{header}{v3},CS75,4700,1860,1700,1600,ICE,,1,Haitong\n{v4},CS75,long,1860,1700,1600,ICE,,1,Haitong\n").into_bytes()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["errors"][0]["line"], 3, "{p}");
    let (s, p) = w.call_raw(Method::POST, plan_path, Some(&carrier), "text/csv",
        format!("{header}{v3},CS75,4700,1860,1700,1600,ICE,,1,Haitong\n{v4},CS75,4600,1850,1700,1600,ICE,,1,Haitong\n").into_bytes()).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["version"], 2);
    let (s, plan) = call(w, Method::GET, plan_path, &carrier, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(plan["violations"], json!([]));
    assert!(plan["quality"]["pctOfBound"].as_f64().is_some(), "{plan}");
    let placements = plan["plan"]["placements"]
        .as_array()
        .expect("placements")
        .clone();
    assert_eq!(placements.len(), 2);
    let slot = |v: &str| {
        let p = placements.iter().find(|p| p["vin"] == v).expect("placed");
        (
            p["slot"]["deck"].as_str().expect("deck").to_string(),
            p["slot"]["lane"].as_str().expect("lane").to_string(),
        )
    };
    // The exporter sees its own cars, without the vessel-wide quality.
    let (s, own) = call(w, Method::GET, plan_path, &exporter, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (own["narrowed"].clone(), own["quality"].clone()),
        (json!(true), Value::Null)
    );

    // Another carrier: the voyage, its plan and its ramp do not exist for it.
    bootstrap::ensure_user(
        &w.store,
        &id("cosco-car-carriers"),
        "cosco",
        "cosco-password",
        Role::Admin,
    )
    .await
    .expect("user");
    let cosco = w.login("cosco", "cosco-password").await;
    for (m, path, body) in [
        (Method::GET, plan_path, None),
        (
            Method::POST,
            scans,
            Some(json!({"vin": v3.to_string(), "deck": "D1", "lane": "D1-L01"})),
        ),
        (Method::POST, "/api/v1/voyages/rv-0001/load-complete", None),
    ] {
        let (s, _) = call(w, m, path, &cosco, body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }

    // An edit that overlaps two cars is refused with the violations; nothing changes.
    let (d4, l4) = slot(v4.as_str());
    let pos4 = placements
        .iter()
        .find(|p| p["vin"] == v4.as_str())
        .expect("v4")["position_mm"]
        .clone();
    let (s, p) = call(w, Method::POST, &format!("{plan_path}/edits"), &carrier, Some(json!({
        "edit": {"kind": "move_car", "vin": v3.to_string(), "to": {"deck": d4, "lane": l4}, "position_mm": pos4},
        "version": 2
    }))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert!(
        p["violations"].as_array().is_some_and(|v| !v.is_empty()),
        "{p}"
    );
    let (s, p) = call(
        w,
        Method::POST,
        &format!("{plan_path}/edits"),
        &carrier,
        Some(json!({
            "edit": {"kind": "lock_lane", "lane": {"deck": "D1", "lane": "D1-L99"}}
        })),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (_, again) = call(w, Method::GET, plan_path, &carrier, None).await;
    assert_eq!(again["version"], 2);

    // A wrong-slot scan: 409 with planned vs scanned, an alert on the car (the port's: the
    // car is at its facilities, not yet on the carrier's voyage), not aboard.
    let (d3, l3) = slot(v3.as_str());
    let wrong_lane = if l3 == "D1-L01" { "D1-L02" } else { "D1-L01" };
    let (s, p) = call(
        w,
        Method::POST,
        scans,
        &port,
        Some(json!({"vin": v3.to_string(), "deck": "D1", "lane": wrong_lane})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert_eq!(p["type"], "https://jianghai.dev/problems/scan-refused");
    assert_eq!(p["scan"]["verdict"]["kind"], "wrong_slot", "{p}");
    assert_eq!(
        p["scan"]["verdict"]["planned"],
        json!({"deck": d3, "lane": l3})
    );
    assert_eq!(
        p["scan"]["verdict"]["scanned"],
        json!({"deck": "D1", "lane": wrong_lane})
    );
    assert!(p["scan"]["alert"].is_string(), "{p}");
    let (s, a) = call(
        w,
        Method::GET,
        &format!(
            "/api/v1/alerts/{}",
            p["scan"]["alert"].as_str().expect("id")
        ),
        &port,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["rule"], "loading-wrong-slot");
    let (s, p) = call(
        w,
        Method::POST,
        scans,
        &port,
        Some(json!({"vin": v3.to_string(), "deck": "D9", "lane": "D9-L01"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (s, _) = call(
        w,
        Method::POST,
        scans,
        &port,
        Some(json!({"vin": "NOT-A-VIN", "deck": "D1", "lane": "D1-L01"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Departure waits for load-complete.
    let depart =
        json!({"step": "depart", "vins": [v3.to_string(), v4.to_string()], "voyage": "rv-0001"});
    let (s, p) = call(
        w,
        Method::POST,
        "/api/v1/events",
        &carrier,
        Some(depart.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert_eq!(p["type"], "https://jianghai.dev/problems/departure-blocked");

    // Scans in plan order load the cars.
    let mut order = placements.clone();
    order.sort_by_key(|p| p["load_seq"].as_u64());
    for pl in &order {
        let (s, p) = call(
            w,
            Method::POST,
            scans,
            &port,
            Some(json!({
            "vin": pl["vin"], "deck": pl["slot"]["deck"], "lane": pl["slot"]["lane"]})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        assert_eq!(p["verdict"]["kind"], "ok");
    }
    let (s, c) = call(
        w,
        Method::POST,
        "/api/v1/voyages/rv-0001/load-complete",
        &carrier,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(
        (c["loadedOk"].clone(), c["departureAllowed"].clone()),
        (json!(2), json!(true)),
        "{c}"
    );
    let (s, p) = call(w, Method::POST, "/api/v1/events", &carrier, Some(depart)).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
}
