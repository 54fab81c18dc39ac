//! Set-up shared by the server's HTTP test binaries (`mod common;` in each): the simulator's
//! corridor in a store, an admin per party kind, the server on a loopback port.
#![allow(dead_code)]

use jianghai_core::{Ident, OrgKind};
use jianghai_server::{AppState, Application, Config, bootstrap};
use jianghai_store::{Role, Store};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

/// The PostgreSQL the tests use (`JIANGHAI_TEST_POSTGRES`, else the local one).
pub fn postgres_url() -> String {
    std::env::var("JIANGHAI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// The first organisation of each kind in `jianghai_sim::corridor_world`.
pub fn org_of(kind: OrgKind) -> &'static str {
    match kind {
        OrgKind::Exporter => "changan-intl",
        OrgKind::Carrier => "minsheng-shipping",
        OrgKind::Port => "guoyuan-port",
        OrgKind::Customs => "chongqing-customs",
        OrgKind::Coordinator => "cq-port-logistics-office",
        OrgKind::Operator => "cq-logistics-group",
    }
}

/// The simulator's corridor (organisations, facilities, vessels, and its voyages if asked),
/// with an admin named after each party kind, whose password is `password(kind)`.
pub async fn seed_corridor(store: &Store, voyages: bool, password: impl Fn(OrgKind) -> String) {
    let c = jianghai_sim::corridor_world(1);
    for o in &c.organisations {
        store.create_organisation(o).await.expect("org");
    }
    for f in &c.facilities {
        store.create_facility(f).await.expect("facility");
    }
    for v in &c.vessels {
        store.create_vessel(v).await.expect("vessel");
    }
    if voyages {
        for v in &c.voyages {
            store.create_voyage(v).await.expect("voyage");
        }
    }
    for kind in OrgKind::ALL {
        bootstrap::ensure_user(
            store,
            &Ident::parse(org_of(kind)).expect("ident"),
            kind.as_str(),
            &password(kind),
            Role::Admin,
        )
        .await
        .expect("user");
    }
}

/// Serves `store` on a loopback port until the test ends; the base URL.
pub async fn serve(store: Store, config: Config) -> String {
    let app = Application::build("127.0.0.1:0", AppState::new(store, config))
        .await
        .expect("bind");
    let addr = app.local_addr().expect("addr");
    tokio::spawn(app.run_until(std::future::pending()));
    format!("http://{addr}")
}

/// One request to the server at `base`: its status and its body as JSON (a body that is not
/// JSON as a string; a live event stream, which never ends, as null).
pub async fn call(
    client: &Client,
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client.request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("send");
    let status = res.status();
    if res
        .headers()
        .get("content-type")
        .is_some_and(|ct| ct.as_bytes().starts_with(b"text/event-stream"))
    {
        return (status, Value::Null);
    }
    let text = res.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}
