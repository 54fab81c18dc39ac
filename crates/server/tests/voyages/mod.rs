//! Voyage tracking over HTTP: the authorization rows of its routes, and a voyage sailed from
//! AIS sentences — progress, state, ETAs, track, plan and its alerts — seen by the parties
//! entitled to it and by no one else.

use chrono::{Duration, Utc};
use jianghai_core::{OrgKind, Organisation, Step};
use jianghai_server::bootstrap;
use jianghai_server::feeds::Source;
use jianghai_server::tracking::{Tracking, TrackingConfig};
use jianghai_sim::ais::{Leg, Script};
use jianghai_store::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Row, World, append, id, none, vin};

/// Rows of the matrix: rv-0001 is the river carrier's voyage, from the port's Guoyuan berth,
/// with the exporter's V2 on it; ov-0001 is the ocean carrier's, which the exporter has no car
/// on and which touches none of the port's facilities.
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
    let theirs = [404, 404, 404, 200, 200, 200];
    vec![
        row(
            Method::GET,
            "/api/v1/voyages/{id}/tracking",
            "/api/v1/voyages/rv-0001/tracking",
            none,
            [200; 6],
        ),
        row(
            Method::GET,
            "/api/v1/voyages/{id}/states",
            "/api/v1/voyages/ov-0001/states",
            none,
            theirs,
        ),
        row(
            Method::GET,
            "/api/v1/voyages/{id}/progress",
            "/api/v1/voyages/ov-0001/progress",
            none,
            theirs,
        ),
        row(
            Method::GET,
            "/api/v1/voyages/{id}/locks",
            "/api/v1/voyages/rv-0001/locks",
            none,
            [200; 6],
        ),
        row(
            Method::GET,
            "/api/v1/voyages/{id}/positions",
            "/api/v1/voyages/ov-0001/positions",
            none,
            theirs,
        ),
        row(
            Method::GET,
            "/api/v1/voyages/{id}/plan",
            "/api/v1/voyages/rv-0001/plan",
            none,
            [200; 6],
        ),
        row(
            Method::PUT,
            "/api/v1/voyages/{id}/plan",
            "/api/v1/voyages/rv-0001/plan",
            |_| Some(json!({"transitDeadline": "2031-01-01T00:00:00+08:00"})),
            [403, 200, 403, 200, 403, 200],
        ),
    ]
}

const MMSI: u32 = 413_801_008;

/// The river carrier's ship sails rv-0001 for two hours from km 1,500 (middle reach), swinging
/// three kilometres off the corridor on the way and back; the plan set over HTTP makes it late.
pub async fn tracking_over_http(w: &World) {
    let now = Utc::now();
    let start = now - Duration::minutes(150);
    append(
        &w.store,
        Step::Depart,
        &[vin(2)],
        "minsheng-shipping",
        |e| {
            e.subjects.voyage = Some(id("rv-0001"));
            e.event_time = (start - Duration::minutes(30)).fixed_offset();
        },
    )
    .await;
    // An exporter with no car on the voyage.
    w.store
        .create_organisation(&Organisation {
            id: id("other-exporter"),
            name: "Another exporter".into(),
            kind: OrgKind::Exporter,
        })
        .await
        .expect("org");
    bootstrap::ensure_user(
        &w.store,
        &id("other-exporter"),
        "stranger",
        "stranger-password",
        Role::Admin,
    )
    .await
    .expect("user");
    let carrier = w.token(OrgKind::Carrier).await;
    let customs = w.token(OrgKind::Customs).await;
    let exporter = w.token(OrgKind::Exporter).await;
    let port = w.token(OrgKind::Port).await;
    let stranger = w.login("stranger", "stranger-password").await;

    // Nothing tracked yet: the voyage is there, without a track.
    let (s, b) = w
        .call(
            Method::GET,
            "/api/v1/voyages/rv-0001/tracking",
            Some(&carrier),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["track"], Value::Null);
    assert_eq!(b["vessel"], "minsheng-ro-ro-8");

    // The plan: arrival due an hour ago, the transit limit in an hour.
    let plan = json!({
        "plannedArrival": (now - Duration::hours(1)).to_rfc3339(),
        "transitDeadline": (now + Duration::hours(1)).to_rfc3339(),
    });
    let (s, b) = w
        .call(
            Method::PUT,
            "/api/v1/voyages/rv-0001/plan",
            Some(&carrier),
            Some(plan.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Bad plans change nothing.
    for (body, pointer) in [
        (json!({"plannedArrival": "tomorrow"}), "/plannedArrival"),
        (
            json!({"transitDeadline": "1970-01-01T00:00:00Z"}),
            "/transitDeadline",
        ),
        (json!({"eta": "2031-01-01T00:00:00Z"}), "/eta"),
    ] {
        let (s, b) = w
            .call(
                Method::PUT,
                "/api/v1/voyages/rv-0001/plan",
                Some(&carrier),
                Some(body),
            )
            .await;
        assert!(
            s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::BAD_REQUEST,
            "{s} {b}"
        );
        assert!(b.to_string().contains(pointer), "{b}");
    }
    // Another carrier's voyage is absent for this one, to read and to plan.
    let (s, _) = w
        .call(
            Method::PUT,
            "/api/v1/voyages/ov-0001/plan",
            Some(&carrier),
            Some(plan.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, b) = w
        .call(
            Method::GET,
            "/api/v1/voyages/rv-0001/plan",
            Some(&exporter),
            None,
        )
        .await;
    assert_eq!(
        (
            b["plannedArrival"].is_string(),
            b["transitDeadline"].is_string()
        ),
        (true, true),
        "{b}"
    );

    // AIS: 30 km down the middle reach, a detour 3 km towards the right bank, back on the line.
    let script = Script {
        mmsi: MMSI,
        name: "Minsheng Ro-Ro 8".into(),
        callsign: "BOXM8".into(),
        destination: "SHANGHAI".into(),
        start,
        from_km: 1_500.0,
        every: Duration::minutes(3),
        legs: vec![
            Leg::Sail {
                to_km: 1_490.0,
                kn: 10.0,
            },
            Leg::Detour {
                to_km: 1_470.0,
                kn: 10.0,
                offset_m: 3_000.0,
            },
            Leg::Sail {
                to_km: 1_460.0,
                kn: 10.0,
            },
        ],
    };
    let waterway = jianghai_waterway::Waterway::yangtze(jianghai_waterway::Datums::default())
        .expect("waterway");
    let lines = script.render(&waterway).expect("render");
    let mut tracking = Tracking::new(w.store.clone(), TrackingConfig::default())
        .await
        .expect("tracking");
    let mut source = Source::new("test".into(), tracking.stats());
    for l in &lines {
        if let Some(d) = source.handle(Ok(&l.line)) {
            tracking.handle(&d, l.at).await.expect("handled");
        }
    }
    let positions = lines.iter().filter(|l| !l.line.contains(",2,")).count();

    let (s, b) = w
        .call(
            Method::GET,
            "/api/v1/voyages/rv-0001/tracking",
            Some(&exporter),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let t = &b["track"];
    assert_eq!(t["state"], "under_way", "{b}");
    let km = t["km"].as_f64().expect("km");
    assert!((km - 1_460.0).abs() < 1.0, "{b}");
    let (done, to_go, total) = (
        t["doneKm"].as_f64().expect("done"),
        t["toGoKm"].as_f64().expect("to go"),
        t["totalKm"].as_f64().expect("total"),
    );
    assert!((done + to_go - total).abs() < 1e-6, "{b}");
    // Guoyuan (km 2,296 above Wusongkou) to Waigaoqiao: the ship is past a third of the way.
    let percent = t["percent"].as_f64().expect("percent");
    assert!((30.0..40.0).contains(&percent), "{b}");
    assert!(
        t["arrival"]["p50"].is_string() && t["arrival"]["p90"].is_string(),
        "{b}"
    );
    assert!(t["nextPlace"]["place"].is_string(), "{b}");
    let (_, states) = w
        .call(
            Method::GET,
            "/api/v1/voyages/rv-0001/states",
            Some(&port),
            None,
        )
        .await;
    assert_eq!(states["items"][0]["state"], "under_way", "{states}");
    let (_, progress) = w
        .call(
            Method::GET,
            "/api/v1/voyages/rv-0001/progress?limit=5",
            Some(&customs),
            None,
        )
        .await;
    assert_eq!(
        progress["items"].as_array().map(Vec::len),
        Some(5),
        "{progress}"
    );
    let (s, b) = w
        .call(
            Method::GET,
            "/api/v1/voyages/rv-0001/progress?limit=0",
            Some(&customs),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    // The track, page by page.
    let mut seen = 0;
    let mut after = String::new();
    loop {
        let (s, page) = w
            .call(
                Method::GET,
                &format!("/api/v1/voyages/rv-0001/positions?limit=10&after={after}"),
                Some(&carrier),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{page}");
        seen += page["items"].as_array().map_or(0, Vec::len);
        match page["next"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, positions);
    let (_, locks) = w
        .call(
            Method::GET,
            "/api/v1/voyages/rv-0001/locks",
            Some(&carrier),
            None,
        )
        .await;
    assert_eq!(locks["items"], json!([]));

    // The stranger sees neither the voyage's tracking nor its alerts.
    for path in [
        "/api/v1/voyages/rv-0001/tracking",
        "/api/v1/voyages/rv-0001/positions",
        "/api/v1/voyages/rv-0001/plan",
    ] {
        let (s, _) = w.call(Method::GET, path, Some(&stranger), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    let alerts = async |token: &str| -> Vec<(String, String)> {
        let (s, b) = w
            .call(
                Method::GET,
                "/api/v1/alerts?subject=voyage:rv-0001",
                Some(token),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let mut v: Vec<(String, String)> = b["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|a| {
                (
                    a["rule"].as_str().unwrap_or("").to_string(),
                    a["state"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let expected: Vec<(String, String)> = [
        ("voyage-eta-slip", "open"),
        ("voyage-off-corridor", "resolved"),
        ("voyage-transit-limit-at-risk", "open"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(alerts(&carrier).await, expected);
    assert_eq!(alerts(&customs).await, expected);
    assert_eq!(
        alerts(&exporter).await,
        expected,
        "the exporter has a car on it"
    );
    assert_eq!(alerts(&stranger).await, vec![]);
    assert_eq!(alerts(&port).await, vec![]);
}
