//! The API over real HTTP (port 0, reqwest) against a seeded corridor, on SQLite and on
//! PostgreSQL: the authorization matrix (every route × every party kind), and bad input.
//!
//! The matrix fails when a route in the OpenAPI document (which is collected from the same
//! `routes!` list the router is built from) has no row in [`matrix`], or a row names a route
//! that does not exist.

use std::collections::BTreeSet;

use chrono::Utc;
use jianghai_core::{Actor, Event, Ident, OrgKind, Step, Vin};
use jianghai_server::{Config, bootstrap};
use jianghai_store::{Role, Store};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

mod common;
use common::{org_of, postgres_url};

mod loading;
mod tally;

/// Tally's parties kept apart and a whole session over HTTP (see `tally/mod.rs`).
async fn tally_flow(w: &World) {
    tally::isolation_and_a_whole_session(w).await
}

/// A voyage loaded by plan over HTTP (see `loading/mod.rs`).
async fn loading_flow(w: &World) {
    loading::a_voyage_loads_by_plan(w).await
}

mod voyages;

mod customs;

/// A customs transit from declaration to close over HTTP (see `customs/mod.rs`).
async fn customs_transit(w: &World) {
    customs::a_transit_over_http(w).await
}

/// A voyage tracked from AIS, over HTTP (see `voyages/mod.rs`).
async fn voyage_tracking(w: &World) {
    voyages::tracking_over_http(w).await
}

struct World {
    base: String,
    store: Store,
    client: Client,
    _dir: Option<tempfile::TempDir>,
}

fn vin(n: u32) -> Vin {
    Vin::with_check_digit(&format!("LS5A3ABE0RB{n:06}")).expect("vin")
}

fn id(s: &str) -> Ident {
    Ident::parse(s).expect("ident")
}

fn password(kind: OrgKind) -> String {
    format!("password-of-{}", kind.as_str())
}

async fn append(store: &Store, step: Step, vins: &[Vin], org: &str, f: impl FnOnce(&mut Event)) {
    let mut e = Event::lifecycle(
        Uuid::new_v4(),
        step,
        (Utc::now() - chrono::Duration::hours(1)).fixed_offset(),
        vins.to_vec(),
        Actor {
            organisation: id(org),
            user: None,
            device: None,
        },
    );
    f(&mut e);
    store
        .append(e)
        .await
        .unwrap_or_else(|e| panic!("{step}: {e}"));
}

/// The corridor of the simulator, one admin per party kind, and two vehicles: V1 only
/// registered, V2 gated in at the Guoyuan yard and loaded on rv-0001.
async fn world(store: Store, dir: Option<tempfile::TempDir>) -> World {
    common::seed_corridor(&store, true, password).await;
    bootstrap::ensure_user(
        &store,
        &id(org_of(OrgKind::Exporter)),
        "victim",
        "victim-password",
        Role::Viewer,
    )
    .await
    .expect("user");
    let (v1, v2) = (vin(1), vin(2));
    append(&store, Step::Register, &[v1, v2], "changan-intl", |_| {}).await;
    append(&store, Step::GateIn, &[v2], "guoyuan-port", |e| {
        e.read_point = Some(id("guoyuan-yard"))
    })
    .await;
    append(&store, Step::Tally, &[v2], "guoyuan-port", |e| {
        e.read_point = Some(id("guoyuan-yard"))
    })
    .await;
    append(&store, Step::Declare, &[v2], "chongqing-customs", |_| {}).await;
    append(&store, Step::Load, &[v2], "minsheng-shipping", |e| {
        e.subjects.voyage = Some(id("rv-0001"))
    })
    .await;
    let config = Config {
        body_limit: 64 * 1024,
        rate_burst: 10_000,
        rate_per_second: 10_000,
        login_max_failures: 5,
        ..Config::default()
    };
    let base = common::serve(store.clone(), config).await;
    World {
        base,
        store,
        client: Client::new(),
        _dir: dir,
    }
}

async fn sqlite_world() -> World {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("api.db").display());
    let store = Store::open(&url).await.expect("open sqlite");
    world(store, Some(dir)).await
}

async fn postgres_world() -> World {
    let url = format!("{}?schema=t_{}", postgres_url(), Uuid::new_v4().simple());
    let store = Store::open(&url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at {} is required for these tests: {e}",
            postgres_url()
        )
    });
    world(store, None).await
}

impl World {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        common::call(&self.client, &self.base, method, path, token, body).await
    }

    async fn login(&self, username: &str, password: &str) -> String {
        let (s, b) = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "login {username}: {b}");
        b["token"].as_str().expect("token").to_string()
    }

    async fn token(&self, kind: OrgKind) -> String {
        self.login(kind.as_str(), &password(kind)).await
    }
}

/// One row: a route, a concrete request, and the expected status for each party kind in
/// `OrgKind::ALL` order (exporter, carrier, port, customs, coordinator, operator).
struct Row {
    method: Method,
    route: &'static str,
    path: String,
    body: fn(OrgKind) -> Option<Value>,
    expect: [u16; 6],
    /// Use a fresh login token (the request revokes it).
    fresh_token: bool,
    /// A raw body (content type, bytes) instead of `body`'s JSON.
    raw: Option<(&'static str, Vec<u8>)>,
}

fn none(_: OrgKind) -> Option<Value> {
    None
}

async fn matrix(w: &World) -> Vec<Row> {
    let exporter = w.token(OrgKind::Exporter).await;
    // A token of the exporter's to revoke, and a user of the exporter's to disable.
    let (_, t) = w
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&exporter),
            Some(json!({"name": "spare"})),
        )
        .await;
    let spare = t["tokenId"].as_str().expect("token id").to_string();
    let victim = w
        .store
        .user_by_username("victim")
        .await
        .expect("read")
        .expect("victim")
        .id;
    let (s, b) = w
        .call(Method::POST, "/api/v1/shipments", Some(&exporter),
            Some(json!({"id": "sh-seeded", "destinationCountry": "MX", "vins": [vin(1).to_string()]})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // A shipment of V2 (already on rv-0001) to book, and a device of the exporter's.
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/shipments",
            Some(&exporter),
            Some(json!({"id": "sh-v2", "destinationCountry": "MX", "vins": [vin(2).to_string()]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(&exporter),
            Some(json!({"id": "dev-seeded", "kind": "sensor", "name": "Yard sensor"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // A sensor of the carrier's on its deck D1, to read and re-attach.
    let carrier = w.token(OrgKind::Carrier).await;
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(&carrier),
            Some(json!({"id": "deck-seeded", "kind": "sensor", "name": "Deck probe"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/sensors",
            Some(&carrier),
            Some(
                json!({"device": "deck-seeded", "sensor": "air", "measurement": "Temperature",
                        "subject": "deck:minsheng-ro-ro-8/D1"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (v1, v2) = (vin(1), vin(2));
    // Two alerts on the carrier's deck (one to act on, one to resolve) and a webhook of the
    // exporter's.
    let deck_alert = |rule: &'static str| {
        let store = w.store.clone();
        async move {
            store
                .raise_alert(&jianghai_store::AlertDraft {
                    rule: rule.into(),
                    subject_kind: "deck".into(),
                    subject_id: "minsheng-ro-ro-8/D1".into(),
                    severity: jianghai_store::Severity::Warning,
                    title: "Deck air above 45 °C".into(),
                    detail: String::new(),
                    evidence: json!([]),
                    at: Utc::now(),
                    source: "watch".into(),
                })
                .await
                .expect("raise")
                .alert
                .id
        }
    };
    let (alert, to_resolve) = (
        deck_alert("deck-heat").await,
        deck_alert("deck-humid").await,
    );
    let (s, hook) = w
        .call(
            Method::POST,
            "/api/v1/webhooks",
            Some(&exporter),
            Some(json!({"url": "http://127.0.0.1:9/hook"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let hook = hook["id"].as_str().expect("webhook id").to_string();
    let row = |method: Method,
               route: &'static str,
               path: String,
               body: fn(OrgKind) -> Option<Value>,
               expect: [u16; 6]| Row {
        method,
        route,
        path,
        body,
        expect,
        fresh_token: false,
        raw: None,
    };
    let mut rows = vec![
        row(
            Method::POST,
            "/api/v1/auth/login",
            "/api/v1/auth/login".into(),
            |k| Some(json!({"username": k.as_str(), "password": password(k)})),
            [200; 6],
        ),
        Row {
            fresh_token: true,
            ..row(
                Method::POST,
                "/api/v1/auth/logout",
                "/api/v1/auth/logout".into(),
                none,
                [204; 6],
            )
        },
        row(
            Method::GET,
            "/api/v1/me",
            "/api/v1/me".into(),
            none,
            [200; 6],
        ),
        row(
            Method::POST,
            "/api/v1/organisations",
            "/api/v1/organisations".into(),
            |k| {
                Some(
                    json!({"id": format!("org-{}", k.as_str()), "name": "New", "kind": "exporter"}),
                )
            },
            [403, 403, 403, 403, 403, 201],
        ),
        row(
            Method::GET,
            "/api/v1/organisations",
            "/api/v1/organisations".into(),
            none,
            [200; 6],
        ),
        row(
            Method::GET,
            "/api/v1/organisations/{id}",
            "/api/v1/organisations/changan-intl".into(),
            none,
            [200, 404, 404, 404, 200, 200],
        ),
        row(
            Method::POST,
            "/api/v1/users",
            "/api/v1/users".into(),
            |k| {
                Some(
                    json!({"username": format!("u-{}", k.as_str()), "password": "a long password", "role": "viewer"}),
                )
            },
            [201; 6],
        ),
        row(
            Method::GET,
            "/api/v1/users",
            "/api/v1/users".into(),
            none,
            [200; 6],
        ),
        row(
            Method::POST,
            "/api/v1/users/{id}/disable",
            format!("/api/v1/users/{victim}/disable"),
            none,
            [200, 404, 404, 404, 404, 200],
        ),
        row(
            Method::POST,
            "/api/v1/users/{id}/enable",
            format!("/api/v1/users/{victim}/enable"),
            none,
            [200, 404, 404, 404, 404, 200],
        ),
        row(
            Method::POST,
            "/api/v1/tokens",
            "/api/v1/tokens".into(),
            |_| Some(json!({"name": "ci"})),
            [201; 6],
        ),
        row(
            Method::GET,
            "/api/v1/tokens",
            "/api/v1/tokens".into(),
            none,
            [200; 6],
        ),
        row(
            Method::DELETE,
            "/api/v1/tokens/{id}",
            format!("/api/v1/tokens/{spare}"),
            none,
            [204, 404, 404, 404, 404, 404],
        ),
        row(
            Method::POST,
            "/api/v1/devices",
            "/api/v1/devices".into(),
            |k| {
                Some(
                    json!({"id": format!("dev-{}", k.as_str()), "kind": "sensor", "name": "Deck sensor"}),
                )
            },
            [201; 6],
        ),
        row(
            Method::GET,
            "/api/v1/devices",
            "/api/v1/devices".into(),
            none,
            [200; 6],
        ),
        row(
            Method::POST,
            "/api/v1/devices/{id}/credential",
            "/api/v1/devices/dev-seeded/credential".into(),
            none,
            [201, 404, 404, 404, 404, 201],
        ),
        row(
            Method::POST,
            "/api/v1/devices/{id}/disable",
            "/api/v1/devices/dev-seeded/disable".into(),
            none,
            [200, 404, 404, 404, 404, 200],
        ),
        row(
            Method::GET,
            "/api/v1/audit",
            "/api/v1/audit".into(),
            none,
            [403, 403, 403, 403, 403, 200],
        ),
        row(
            Method::POST,
            "/api/v1/facilities",
            "/api/v1/facilities".into(),
            |k| {
                Some(
                    json!({"id": format!("fac-{}", k.as_str()), "name": "Yard", "kind": "consolidation_yard", "operator": org_of(k)}),
                )
            },
            [403, 403, 201, 403, 403, 201],
        ),
        row(
            Method::GET,
            "/api/v1/facilities",
            "/api/v1/facilities".into(),
            none,
            [200; 6],
        ),
        row(
            Method::GET,
            "/api/v1/facilities/{id}",
            "/api/v1/facilities/guoyuan-yard".into(),
            none,
            [200; 6],
        ),
        row(
            Method::POST,
            "/api/v1/vessels",
            "/api/v1/vessels".into(),
            |k| {
                Some(
                    json!({"id": format!("ves-{}", k.as_str()), "name": "Ro-Ro", "kind": "river_ro_ro", "carrier": org_of(k)}),
                )
            },
            [403, 201, 403, 403, 403, 201],
        ),
        row(
            Method::GET,
            "/api/v1/vessels",
            "/api/v1/vessels".into(),
            none,
            [200; 6],
        ),
        row(
            Method::POST,
            "/api/v1/voyages",
            "/api/v1/voyages".into(),
            |k| {
                Some(
                    json!({"id": format!("voy-{}", k.as_str()), "vessel": "minsheng-ro-ro-8", "origin": "guoyuan-ro-ro", "destination": "haitong-terminal"}),
                )
            },
            [403, 201, 403, 403, 403, 201],
        ),
        row(
            Method::GET,
            "/api/v1/voyages",
            "/api/v1/voyages".into(),
            none,
            [200; 6],
        ),
        row(
            Method::GET,
            "/api/v1/voyages/{id}",
            "/api/v1/voyages/ov-0001".into(),
            none,
            [200, 404, 404, 200, 200, 200],
        ),
        row(
            Method::POST,
            "/api/v1/shipments",
            "/api/v1/shipments".into(),
            |k| {
                Some(
                    json!({"id": format!("sh-{}", k.as_str()), "destinationCountry": "MX", "vins": [vin(2).to_string()]}),
                )
            },
            [201, 403, 403, 403, 403, 403],
        ),
        row(
            Method::GET,
            "/api/v1/shipments",
            "/api/v1/shipments".into(),
            none,
            [200; 6],
        ),
        row(
            Method::PUT,
            "/api/v1/shipments/{id}/voyage",
            "/api/v1/shipments/sh-v2/voyage".into(),
            |_| Some(json!({"voyage": "rv-0001"})),
            [200, 403, 403, 403, 403, 403],
        ),
        row(
            Method::GET,
            "/api/v1/shipments/{id}",
            "/api/v1/shipments/sh-seeded".into(),
            none,
            [200, 404, 404, 200, 200, 200],
        ),
        row(
            Method::GET,
            "/api/v1/vehicles",
            "/api/v1/vehicles".into(),
            none,
            [200; 6],
        ),
        row(
            Method::GET,
            "/api/v1/vehicles/{vin}",
            format!("/api/v1/vehicles/{v1}"),
            none,
            [200, 404, 404, 200, 200, 200],
        ),
        row(
            Method::GET,
            "/api/v1/vehicles/{vin}/timeline",
            format!("/api/v1/vehicles/{v2}/timeline"),
            none,
            [200; 6],
        ),
        row(
            Method::POST,
            "/api/v1/manifests",
            "/api/v1/manifests".into(),
            |k| Some(json!({"vins": [vin(100 + k as u32).to_string()]})),
            [201, 403, 403, 403, 403, 403],
        ),
        row(
            Method::POST,
            "/api/v1/events",
            "/api/v1/events".into(),
            |k| {
                Some(
                    json!({"step": if k == OrgKind::Operator { "release" } else { "hold" }, "vins": [vin(2).to_string()]}),
                )
            },
            [403, 403, 403, 201, 403, 201],
        ),
        row(
            Method::GET,
            "/api/v1/ledger",
            "/api/v1/ledger".into(),
            none,
            [403, 403, 403, 200, 200, 200],
        ),
        row(
            Method::GET,
            "/api/v1/alerts",
            "/api/v1/alerts".into(),
            none,
            [200; 6],
        ),
        row(
            Method::GET,
            "/api/v1/alerts/stream",
            "/api/v1/alerts/stream".into(),
            none,
            [200; 6],
        ),
        row(
            Method::GET,
            "/api/v1/alerts/{id}",
            format!("/api/v1/alerts/{alert}"),
            none,
            [404, 200, 404, 200, 200, 200],
        ),
        row(
            Method::POST,
            "/api/v1/alerts/{id}/acknowledge",
            format!("/api/v1/alerts/{alert}/acknowledge"),
            none,
            [404, 200, 404, 200, 403, 200],
        ),
        row(
            Method::POST,
            "/api/v1/alerts/{id}/assign",
            format!("/api/v1/alerts/{alert}/assign"),
            |k| Some(json!({"assignee": k.as_str()})),
            [404, 200, 404, 200, 403, 200],
        ),
        row(
            Method::POST,
            "/api/v1/alerts/{id}/comments",
            format!("/api/v1/alerts/{alert}/comments"),
            |_| Some(json!({"body": "on it"})),
            [404, 201, 404, 201, 403, 201],
        ),
        row(
            Method::POST,
            "/api/v1/alerts/{id}/resolve",
            format!("/api/v1/alerts/{to_resolve}/resolve"),
            |_| Some(json!({"note": "vents opened"})),
            [404, 200, 404, 200, 403, 200],
        ),
        row(
            Method::POST,
            "/api/v1/webhooks",
            "/api/v1/webhooks".into(),
            |k| Some(json!({"url": format!("http://127.0.0.1:9/{}", k.as_str())})),
            [201; 6],
        ),
        row(
            Method::GET,
            "/api/v1/webhooks",
            "/api/v1/webhooks".into(),
            none,
            [200; 6],
        ),
        row(
            Method::GET,
            "/api/v1/webhooks/{id}/deliveries",
            format!("/api/v1/webhooks/{hook}/deliveries"),
            none,
            [200, 404, 404, 404, 404, 404],
        ),
        row(
            Method::DELETE,
            "/api/v1/webhooks/{id}",
            format!("/api/v1/webhooks/{hook}"),
            none,
            [204, 404, 404, 404, 404, 404],
        ),
        row(
            Method::POST,
            "/api/v1/readings",
            "/api/v1/readings".into(),
            |_| {
                Some(
                    json!({"readings": [{"sensor": "air", "measurement": "Temperature",
                    "value": 20.0, "unit": "CEL", "time": "2025-07-01T07:59:00Z"}]}),
                )
            },
            [403; 6],
        ),
        row(
            Method::GET,
            "/api/v1/readings",
            "/api/v1/readings?device=deck-seeded&sensor=air".into(),
            none,
            [404, 200, 404, 200, 200, 200],
        ),
        row(
            Method::GET,
            "/api/v1/readings/rollups",
            "/api/v1/readings/rollups?device=deck-seeded&sensor=air&resolution=1h".into(),
            none,
            [404, 200, 404, 200, 200, 200],
        ),
        row(
            Method::POST,
            "/api/v1/sensors",
            "/api/v1/sensors".into(),
            |k| {
                let subject = match k {
                    OrgKind::Exporter => format!("vehicle:{}", vin(1)),
                    OrgKind::Carrier => "deck:minsheng-ro-ro-8/D1".into(),
                    _ => "facility:guoyuan-yard".into(),
                };
                Some(
                    json!({"device": format!("dev-{}", k.as_str()), "sensor": "air",
                    "measurement": "Temperature", "subject": subject}),
                )
            },
            [201, 201, 201, 201, 403, 201],
        ),
        row(
            Method::GET,
            "/api/v1/sensors",
            "/api/v1/sensors".into(),
            none,
            [200; 6],
        ),
        row(
            Method::PUT,
            "/api/v1/sensors/{device}/{sensor}/attachment",
            "/api/v1/sensors/deck-seeded/air/attachment".into(),
            |_| Some(json!({"subject": "deck:minsheng-ro-ro-8/D2"})),
            [404, 200, 404, 403, 403, 200],
        ),
    ];
    rows.extend(tally::rows(w).await);
    rows.extend(loading::rows(w).await);
    rows.extend(voyages::rows(w).await);
    rows.extend(customs::rows(w).await);
    rows
}

async fn authorization_matrix(w: &World) {
    let rows = matrix(w).await;
    // Every route of the OpenAPI document (= of the router) has a row, and no row is stale.
    let (_, doc) = w.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let covered: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_string(), r.route.to_string()))
        .collect();
    let missing: Vec<_> = routes.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the authorization matrix: {missing:?}"
    );
    let stale: Vec<_> = covered.difference(&routes).collect();
    assert!(
        stale.is_empty(),
        "rows for routes that do not exist: {stale:?}"
    );

    let mut tokens = Vec::new();
    for kind in OrgKind::ALL {
        tokens.push(w.token(kind).await);
    }
    let mut failures = Vec::new();
    for row in &rows {
        for (i, kind) in OrgKind::ALL.into_iter().enumerate() {
            let token = if row.fresh_token {
                w.token(kind).await
            } else {
                tokens[i].clone()
            };
            let auth = (row.route != "/api/v1/auth/login").then_some(token.as_str());
            let (status, body) = w.send_row(row, kind, auth).await;
            if status.as_u16() != row.expect[i] {
                failures.push(format!(
                    "{} {} as {}: expected {}, got {status}: {body}",
                    row.method,
                    row.path,
                    kind.as_str(),
                    row.expect[i]
                ));
            }
            // Denials are problem documents; 404s never say more than "not found".
            if status.is_client_error() {
                assert!(
                    body["type"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("https://jianghai.dev/problems/")),
                    "{body}"
                );
            }
        }
        // Without a token every route but login is refused.
        if row.route != "/api/v1/auth/login" {
            let (status, _) = w.send_row(row, OrgKind::Exporter, None).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{} {} without a token",
                row.method,
                row.path
            );
        }
    }
    assert!(
        failures.is_empty(),
        "authorization matrix:\n{}",
        failures.join("\n")
    );

    // Lists are scoped, not just allowed: the carrier sees only V2 (on its voyage) and the
    // customs rows' cars (declared for transit on its voyage rv-0001), never V1.
    let (_, list) = w
        .call(Method::GET, "/api/v1/vehicles", Some(&tokens[1]), None)
        .await;
    let vins: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|v| v["vin"].as_str())
        .collect();
    let expected: Vec<String> = [2, 51, 52, 53, 54]
        .into_iter()
        .map(|n| vin(n).to_string())
        .collect();
    assert_eq!(vins, expected);
    let (_, list) = w
        .call(Method::GET, "/api/v1/shipments", Some(&tokens[2]), None)
        .await;
    assert_eq!(list["items"], json!([]));
    // The audit log names who did what.
    let (_, audit) = w
        .call(
            Method::GET,
            "/api/v1/audit?limit=500",
            Some(&tokens[5]),
            None,
        )
        .await;
    let items = audit["items"].as_array().expect("items");
    assert!(items.iter().any(|e| e["principal"] == "user:carrier"
        && e["route"] == "/api/v1/vehicles/{vin}"
        && e["status"] == 404));
    assert!(items.iter().all(|e| e["requestId"].is_string()));
}

async fn bad_input(w: &World) {
    let exporter = w.token(OrgKind::Exporter).await;
    let url = |p: &str| format!("{}{p}", w.base);
    // Malformed JSON, wrong content type, unknown fields.
    let res = w
        .client
        .post(url("/api/v1/events"))
        .bearer_auth(&exporter)
        .header("content-type", "application/json")
        .body("{\"step\":")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(res.headers().contains_key("x-request-id"));
    let p: Value = res.json().await.expect("json");
    assert_eq!(p["type"], "https://jianghai.dev/problems/malformed-json");
    let res = w
        .client
        .post(url("/api/v1/tokens"))
        .bearer_auth(&exporter)
        .header("content-type", "text/plain")
        .body("{\"name\":\"x\"}")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, p) = w
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&exporter),
            Some(json!({"name": "x", "admin": true})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["errors"][0]["field"], "/admin", "{p}");
    let (s, p) = w.call(Method::POST, "/api/v1/shipments", Some(&exporter),
        Some(json!({"id": "sh-x", "destinationCountry": "MX", "vins": [vin(1).to_string(), "nope"]}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["errors"][0]["field"], "/vins/1", "{p}");
    // Oversize body: 413 as a problem, from the tower-http limit.
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(100 * 1024));
    // On its own connection: the server answers before reading the body and closes it, and a
    // pooled connection could otherwise be reused while it is closing (broken pipe).
    let res = Client::new()
        .post(url("/api/v1/tokens"))
        .bearer_auth(&exporter)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    // Unknown routes are problems too.
    let (s, p) = w
        .call(Method::GET, "/api/v1/nothing-here", Some(&exporter), None)
        .await;
    assert_eq!(
        (s, p["status"].as_u64()),
        (StatusCode::NOT_FOUND, Some(404))
    );

    // Expired and revoked tokens, and a device credential used as a user.
    let user = w
        .store
        .user_by_username("exporter")
        .await
        .expect("read")
        .expect("user");
    let secret = "jhu_expired-token-for-the-test";
    w.store
        .create_token(&jianghai_store::TokenRecord {
            id: Uuid::now_v7(),
            secret_hash: jianghai_server::auth::secret_hash(secret),
            owner: jianghai_store::TokenOwner::User(user.id),
            name: "old".into(),
            created_at: jianghai_core::ledger::format_time(Utc::now() - chrono::Duration::days(2)),
            expires_at: Some(jianghai_core::ledger::format_time(
                Utc::now() - chrono::Duration::days(1),
            )),
            revoked_at: None,
        })
        .await
        .expect("token");
    let (s, p) = w.call(Method::GET, "/api/v1/me", Some(secret), None).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (
            StatusCode::UNAUTHORIZED,
            Some("https://jianghai.dev/problems/token-expired")
        )
    );
    let fresh = w.token(OrgKind::Exporter).await;
    let (s, _) = w
        .call(Method::POST, "/api/v1/auth/logout", Some(&fresh), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, p) = w.call(Method::GET, "/api/v1/me", Some(&fresh), None).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (
            StatusCode::UNAUTHORIZED,
            Some("https://jianghai.dev/problems/token-revoked")
        )
    );
    let (s, d) = w
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(&exporter),
            Some(json!({"id": "seal-1", "kind": "e_seal", "name": "Seal"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let cred = d["credential"].as_str().expect("credential");
    let (s, p) = w.call(Method::GET, "/api/v1/me", Some(cred), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("device credential"))
    );

    // Manifests: GBK (declared and detected), UTF-8 with BOM, and broken rows.
    let csv = |vins: &[Vin]| {
        let mut s = String::from("vin,车型\n");
        for v in vins {
            s.push_str(&format!("{v},长安 UNI-K\n"));
        }
        s
    };
    let post_csv = |body: Vec<u8>, ct: &'static str| {
        w.client
            .post(url("/api/v1/manifests"))
            .bearer_auth(&exporter)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let text = csv(&[vin(201), vin(202)]);
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let res = post_csv(gbk.into_owned(), "text/csv; charset=gbk")
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let text = csv(&[vin(203)]);
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let res = post_csv(gbk.into_owned(), "text/csv").await.expect("send");
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "GBK is detected without a charset"
    );
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(csv(&[vin(204)]).as_bytes());
    let res = post_csv(bom, "text/csv; charset=utf-8")
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    for v in [201, 202, 203, 204] {
        let (s, _) = w
            .call(
                Method::GET,
                &format!("/api/v1/vehicles/{}", vin(v)),
                Some(&exporter),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let broken = format!(
        "vin,model\n{},a\nLS5A3ABE0RB000999,b\n{},c\n{},d\n",
        vin(205),
        vin(206),
        vin(205)
    );
    let res = post_csv(broken.into_bytes(), "text/csv")
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = res.json().await.expect("json");
    let lines: Vec<u64> = p["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["line"].as_u64())
        .collect();
    assert_eq!(lines, vec![3, 5], "{p}");
    // A VIN already registered refuses the whole manifest, naming its line.
    let res = post_csv(csv(&[vin(207), vin(201)]).into_bytes(), "text/csv")
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let p: Value = res.json().await.expect("json");
    assert_eq!(p["errors"][0]["line"], 3, "{p}");
    for v in [205, 206, 207] {
        let (s, _) = w
            .call(
                Method::GET,
                &format!("/api/v1/vehicles/{}", vin(v)),
                Some(&exporter),
                None,
            )
            .await;
        assert_eq!(
            s,
            StatusCode::NOT_FOUND,
            "nothing of a refused manifest is applied"
        );
    }
    let res = post_csv(vec![0xff, 0xfe, 0x00, 0x81], "text/csv; charset=utf-8")
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Excel: a workbook with the fuller columns registers its cars; a bad row refuses it all,
    // naming the row; bytes that are no workbook are refused.
    let workbook = |rows: &[(String, &str, u32, &str)]| {
        let mut b = rust_xlsxwriter::Workbook::new();
        let ws = b.add_worksheet();
        for (c, h) in ["车架号", "品牌", "车长", "燃料类型"].iter().enumerate() {
            ws.write_string(0, c as u16, *h).expect("header");
        }
        for (r, (v, make, len, fuel)) in rows.iter().enumerate() {
            let r = r as u32 + 1;
            ws.write_string(r, 0, v).expect("vin");
            ws.write_string(r, 1, *make).expect("make");
            ws.write_number(r, 2, f64::from(*len)).expect("length");
            ws.write_string(r, 3, *fuel).expect("fuel");
        }
        b.save_to_buffer().expect("xlsx")
    };
    const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let good = workbook(&[
        (vin(208).to_string(), "长安", 4_515, "纯电"),
        (vin(209).to_string(), "深蓝", 4_820, "ICE"),
    ]);
    let res = post_csv(good, XLSX).await.expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    let bad = workbook(&[
        (vin(210).to_string(), "长安", 4_515, "ICE"),
        (vin(211).to_string(), "长安", 4_515, "steam"),
    ]);
    let res = post_csv(bad, XLSX).await.expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = res.json().await.expect("json");
    assert_eq!(p["errors"][0]["line"], 3, "{p}");
    let res = post_csv(b"PK\x03\x04 not a workbook".to_vec(), XLSX)
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    for (v, want) in [
        (208, StatusCode::OK),
        (209, StatusCode::OK),
        (210, StatusCode::NOT_FOUND),
        (211, StatusCode::NOT_FOUND),
    ] {
        let (s, _) = w
            .call(
                Method::GET,
                &format!("/api/v1/vehicles/{}", vin(v)),
                Some(&exporter),
                None,
            )
            .await;
        assert_eq!(s, want, "vehicle {v} of the workbooks");
    }

    // Login brute force: after 5 failures the user is locked, even with the right password.
    for _ in 0..5 {
        let (s, _) = w
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "coordinator", "password": "wrong password"})),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let res = w
        .client
        .post(url("/api/v1/auth/login"))
        .json(&json!({"username": "coordinator", "password": password(OrgKind::Coordinator)}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));

    // Rate limiting per token, on a node configured tightly.
    let tight = common::serve(
        w.store.clone(),
        Config {
            rate_burst: 2,
            rate_per_second: 1,
            ..Config::default()
        },
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let res = w
            .client
            .get(format!("{tight}/api/v1/me"))
            .bearer_auth(&exporter)
            .send()
            .await
            .expect("send");
        statuses.push(res.status().as_u16());
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key("retry-after"));
            assert_eq!(res.headers()["content-type"], "application/problem+json");
        }
    }
    assert_eq!(statuses, vec![200, 200, 429]);

    // The docs page is served from the binary.
    let res = w.client.get(url("/api/docs/")).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.expect("text").contains("swagger"));
}

macro_rules! both_engines {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let w = super::sqlite_world().await;
                    super::$case(&w).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let w = super::postgres_world().await;
                    super::$case(&w).await;
                }
            }
        )*
    };
}

/// Submits `step` for one VIN: gate-ins at the Guoyuan yard, other steps on rv-0001.
async fn submit(w: &World, token: &str, step: &str, vin: &str) -> (StatusCode, Value) {
    let body = match step {
        "gate_in" => json!({"step": step, "vins": [vin], "readPoint": "guoyuan-yard"}),
        "load" => json!({"step": step, "vins": [vin], "voyage": "rv-0001"}),
        _ => json!({"step": step, "vins": [vin]}),
    };
    w.call(Method::POST, "/api/v1/events", Some(token), Some(body))
        .await
}

/// Carriers and ports see the cars booked on their voyages, and a refused step never tells a
/// party anything about a car it may not see.
async fn relationships(w: &World) {
    let exporter = w.token(OrgKind::Exporter).await;
    let carrier = w.token(OrgKind::Carrier).await;
    let port = w.token(OrgKind::Port).await;
    let (v1, never) = (vin(1).to_string(), vin(99).to_string());
    // V1 is registered but neither booked nor handled: to the carrier and the port it is
    // exactly as absent as a VIN nobody ever registered.
    for (token, step) in [(&carrier, "load"), (&port, "gate_in")] {
        let (s1, b1) = submit(w, token, step, &v1).await;
        let (s2, b2) = submit(w, token, step, &never).await;
        assert_eq!(s1, StatusCode::UNPROCESSABLE_ENTITY, "{b1}");
        assert_eq!(s2, s1, "{b2}");
        let strip = |b: &Value, v: &str| b["errors"].to_string().replace(v, "VIN");
        assert_eq!(strip(&b1, &v1), strip(&b2, &never));
        assert!(!b1.to_string().contains("registered"), "{b1}");
        let (s, _) = w
            .call(
                Method::GET,
                &format!("/api/v1/vehicles/{v1}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    // Booked on rv-0001 (Minsheng's ship, from Guoyuan's ro-ro berth), V1 becomes theirs to
    // see and handle: the port gates it in.
    let (s, b) = w
        .call(Method::POST, "/api/v1/shipments", Some(&exporter),
            Some(json!({"id": "sh-v1", "destinationCountry": "MX", "vins": [v1], "voyage": "rv-0001"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["voyage"], "rv-0001");
    for token in [&carrier, &port] {
        let (s, b) = w
            .call(
                Method::GET,
                &format!("/api/v1/vehicles/{v1}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, b) = submit(w, &port, "gate_in", &v1).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // Now that the carrier may see V1, it is told why it cannot load it yet.
    let (s, b) = submit(w, &carrier, "load", &v1).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(
        b["detail"].as_str().is_some_and(|d| d.contains("gated_in")),
        "{b}"
    );
    // Booking on a voyage that does not exist, or someone else's shipment, is refused.
    let (s, _) = w
        .call(
            Method::PUT,
            "/api/v1/shipments/sh-v1/voyage",
            Some(&exporter),
            Some(json!({"voyage": "rv-9999"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = w
        .call(
            Method::PUT,
            "/api/v1/shipments/no-such/voyage",
            Some(&exporter),
            Some(json!({"voyage": "rv-0001"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Another exporter trying to register V1 learns only that it is taken, not its state.
    let rival = id("rival-export");
    w.store
        .create_organisation(&jianghai_core::Organisation {
            id: rival.clone(),
            name: "Rival".into(),
            kind: OrgKind::Exporter,
        })
        .await
        .expect("org");
    bootstrap::ensure_user(&w.store, &rival, "rival", "rival-password", Role::Admin)
        .await
        .expect("user");
    let rival_token = w.login("rival", "rival-password").await;
    let (s, b) = submit(w, &rival_token, "register", &v1).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let detail = b["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("already registered by another organisation"),
        "{b}"
    );
    assert!(!detail.contains("gated_in"), "{b}");
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/manifests",
            Some(&rival_token),
            Some(json!({"vins": [v1]})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(!b.to_string().contains("gated_in"), "{b}");

    // The ledger still verifies, ties included.
    w.store.verify().await.expect("verifies");
}

/// A rotated device credential replaces every earlier one at once; users can be re-enabled.
async fn credentials(w: &World) {
    let admin = w.token(OrgKind::Exporter).await;
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(&admin),
            Some(json!({"id": "deck-probe", "kind": "sensor", "name": "Deck probe"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let first = b["credential"].as_str().expect("credential").to_string();
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/devices/deck-probe/credential",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let second = b["credential"].as_str().expect("credential").to_string();
    assert_ne!(first, second);
    let state_of = |secret: &str| {
        let hash = jianghai_server::auth::secret_hash(secret);
        async move {
            match w.store.bearer(&hash).await.expect("read") {
                Some(jianghai_store::Bearer::Device { token, .. }) => token.revoked_at.is_some(),
                other => panic!("not a device credential: {other:?}"),
            }
        }
    };
    assert!(state_of(&first).await, "the old credential is revoked");
    assert!(!state_of(&second).await, "the new credential is live");
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/devices/deck-probe/disable",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["disabledAt"].is_string(), "{b}");

    // Disable then enable the viewer: its login fails, then works again.
    let victim = w
        .store
        .user_by_username("victim")
        .await
        .expect("read")
        .expect("victim")
        .id;
    let (s, _) = w
        .call(
            Method::POST,
            &format!("/api/v1/users/{victim}/disable"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = w
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "victim", "password": "victim-password"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, b) = w
        .call(
            Method::POST,
            &format!("/api/v1/users/{victim}/enable"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["disabledAt"].is_null(), "{b}");
    w.login("victim", "victim-password").await;
}

both_engines!(
    authorization_matrix,
    bad_input,
    relationships,
    credentials,
    tally_flow,
    loading_flow,
    voyage_tracking,
    customs_transit
);
