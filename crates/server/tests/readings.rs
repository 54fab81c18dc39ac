//! Reading ingestion over real HTTP on both engines: devices authenticated by their own
//! credential, each reading checked with its reason, duplicates reported, durable before the
//! answer, reads and rollups scoped by party; and on SQLite, overload answered 503 with
//! Retry-After while nothing acknowledged is lost.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jianghai_core::OrgKind;
use jianghai_server::Config;
use jianghai_store::Store;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

mod common;

struct W {
    base: String,
    store: Store,
    client: Client,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

async fn world(url: String, dir: Option<tempfile::TempDir>, config: Config) -> W {
    let store = Store::open(&url).await.expect("open");
    common::seed_corridor(&store, false, |kind| format!("pw-{}", kind.as_str())).await;
    W {
        base: common::serve(store.clone(), config).await,
        store,
        client: Client::new(),
        url,
        _dir: dir,
    }
}

fn config() -> Config {
    Config {
        rate_burst: 10_000,
        rate_per_second: 10_000,
        ..Config::default()
    }
}

async fn sqlite_world(config: Config) -> W {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("readings.db").display());
    world(url, Some(dir), config).await
}

async fn postgres_world(config: Config) -> W {
    world(
        format!(
            "{}?schema=t_{}",
            common::postgres_url(),
            Uuid::new_v4().simple()
        ),
        None,
        config,
    )
    .await
}

impl W {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        common::call(&self.client, &self.base, method, path, token, body).await
    }

    async fn token(&self, kind: OrgKind) -> String {
        let (s, b) = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(
                    json!({"username": kind.as_str(), "password": format!("pw-{}", kind.as_str())}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["token"].as_str().expect("token").to_string()
    }

    /// Registers a device of `token`'s organisation with sensors (key, measurement, subject);
    /// returns its credential.
    async fn device(&self, token: &str, device: &str, sensors: &[(&str, &str, &str)]) -> String {
        let (s, b) = self
            .call(
                Method::POST,
                "/api/v1/devices",
                Some(token),
                Some(json!({"id": device, "kind": "sensor", "name": device})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let credential = b["credential"].as_str().expect("credential").to_string();
        for (key, m, subject) in sensors {
            let (s, b) = self
                .call(
                    Method::POST,
                    "/api/v1/sensors",
                    Some(token),
                    Some(json!({"device": device, "sensor": key, "measurement": m, "subject": subject})),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
        }
        credential
    }

    async fn submit(&self, credential: &str, readings: Value) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/v1/readings",
            Some(credential),
            Some(json!({ "readings": readings })),
        )
        .await
    }
}

fn ago(seconds: i64) -> String {
    jianghai_core::ledger::format_time(Utc::now() - chrono::Duration::seconds(seconds))
}

fn temp(sensor: &str, value: f64, time: &str) -> Value {
    json!({"sensor": sensor, "measurement": "Temperature", "value": value, "unit": "CEL", "time": time})
}

macro_rules! both_engines {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$case(&super::sqlite_world(super::config()).await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$case(&super::postgres_world(super::config()).await).await;
                }
            }
        )*
    };
}

both_engines!(
    devices_submit_readings_checked_one_by_one,
    reads_are_scoped_and_charted
);

async fn devices_submit_readings_checked_one_by_one(w: &W) {
    let carrier = w.token(OrgKind::Carrier).await;
    let cred = w
        .device(
            &carrier,
            "d3-env",
            &[
                ("air", "Temperature", "deck:minsheng-ro-ro-8/D3"),
                ("rh", "RelativeHumidity", "deck:minsheng-ro-ro-8/D3"),
                ("door", "DoorOpen", "deck:minsheng-ro-ro-8/D3"),
            ],
        )
        .await;
    let (t1, t2) = (ago(120), ago(60));
    let batch = json!([
        temp("air", 31.5, &t1),
        {"device": "d3-env", "sensor": "rh", "measurement": "RelativeHumidity", "value": 80, "unit": "P1", "time": t1},
        {"sensor": "door", "measurement": "DoorOpen", "value": false, "time": t1},
        {"sensor": "rh", "measurement": "RelativeHumidity", "value": 80, "unit": "FAH", "time": t2},
        temp("air", -300.0, &t2),
        temp("nose", 20.0, &t2),
        {"device": "other-dev", "sensor": "air", "measurement": "Temperature", "value": 20, "unit": "CEL", "time": t2},
        temp("air", 20.0, &jianghai_core::ledger::format_time(Utc::now() + chrono::Duration::hours(1))),
        {"sensor": "air", "measurement": "RelativeHumidity", "value": 50, "unit": "P1", "time": t2},
        "not a reading",
        {"sensor": "air", "measurement": "Temperature", "unit": "CEL", "time": t2},
        temp("air", 31.5, &t1),
    ]);
    let (s, b) = w.submit(&cred, batch.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["stored"], 3, "{b}");
    assert_eq!(
        b["duplicates"],
        json!([11]),
        "the same reading twice in one batch: {b}"
    );
    let rejected: Vec<(u64, String)> = b["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().expect("index"),
                r["field"].as_str().expect("field").to_string(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (3, "/readings/3/unit"),
            (4, "/readings/4/value"),
            (5, "/readings/5/sensor"),
            (6, "/readings/6/device"),
            (7, "/readings/7/time"),
            (8, "/readings/8/measurement"),
            (9, "/readings/9"),
            (10, "/readings/10"),
        ]
        .map(|(i, f)| (i, f.to_string()))
    );
    let reasons = b["rejected"].to_string();
    for expected in [
        "not a unit of RelativeHumidity",
        "physically impossible",
        "is not registered",
        "not the device of this credential",
        "ahead of the receiver's clock",
        "measures Temperature, not RelativeHumidity",
        "a reading is a JSON object",
        "missing field `value`",
    ] {
        assert!(reasons.contains(expected), "{expected}: {reasons}");
    }
    // Each reading is parsed on its own: where in the request it was is the pointer, not a
    // line and column of the reading's own text.
    assert!(!reasons.contains(" at line "), "{reasons}");

    // The answer came after the commit: the readings are there now.
    let page = w
        .store
        .readings(
            "d3-env",
            "air",
            Utc::now() - chrono::Duration::hours(1),
            Utc::now(),
            "",
            10,
        )
        .await
        .expect("read");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].value, 31.5);

    // Sent again: every good reading is a duplicate, nothing new.
    let (s, b) = w.submit(&cred, batch).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["stored"], 0);
    assert_eq!(b["duplicates"], json!([0, 1, 2, 11]));

    // Laid out by hand (spaces and line breaks around every reading), the same answers.
    let pretty = format!(
        "{{ \"readings\" : [\n  {},\n  7 ,\n  {} \n] }}",
        temp("air", 30.0, &ago(90)),
        json!({"sensor": "air", "measurement": "Temperature", "value": true, "unit": "CEL", "time": ago(90)})
    );
    let res = w
        .client
        .post(format!("{}/api/v1/readings", w.base))
        .bearer_auth(&cred)
        .header("content-type", "application/json")
        .body(pretty)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let b: Value = res.json().await.expect("json");
    assert_eq!(b["stored"], 1, "{b}");
    assert_eq!(b["rejected"][0]["field"], "/readings/1", "{b}");
    assert_eq!(
        b["rejected"][0]["reason"], "a reading is a JSON object",
        "{b}"
    );
    assert_eq!(b["rejected"][1]["field"], "/readings/2/value", "{b}");

    // Nothing acceptable: 422 with every reason, nothing stored.
    let (s, b) = w
        .submit(
            &cred,
            json!([temp("air", 9999.0, &t2), temp("nose", 1.0, &t2)]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let fields: Vec<&str> = b["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["/readings/0/value", "/readings/1/sensor"]);
    let (s, _) = w.submit(&cred, json!([])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/readings",
            Some(&cred),
            Some(json!({"readings": [], "extra": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

    // Who may submit: the device's credential only.
    let reading = json!([temp("air", 22.0, &ago(30))]);
    let (s, b) = w.submit(&carrier, reading.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a user token: {b}");
    let (s, _) = w.submit("jhd_not-a-credential", reading.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = w
        .call(
            Method::POST,
            "/api/v1/readings",
            None,
            Some(json!({"readings": reading.clone()})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A rotated credential stops working at once; so does a disabled device.
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/devices/d3-env/credential",
            Some(&carrier),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let fresh = b["credential"].as_str().expect("credential").to_string();
    let (s, b) = w.submit(&cred, reading.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["type"], "https://jianghai.dev/problems/token-revoked");
    let (s, _) = w.submit(&fresh, reading.clone()).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = w
        .call(
            Method::POST,
            "/api/v1/devices/d3-env/disable",
            Some(&carrier),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = w.submit(&fresh, json!([temp("air", 23.0, &ago(20))])).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["type"], "https://jianghai.dev/problems/device-disabled");
    // Every submission is in the audit log under the device.
    let operator = w.token(OrgKind::Operator).await;
    let (_, audit) = w
        .call(
            Method::GET,
            "/api/v1/audit?limit=500",
            Some(&operator),
            None,
        )
        .await;
    assert!(
        audit["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|e| e["principal"] == "device:d3-env" && e["route"] == "/api/v1/readings"),
        "{audit}"
    );
}

async fn reads_are_scoped_and_charted(w: &W) {
    let carrier = w.token(OrgKind::Carrier).await;
    let exporter = w.token(OrgKind::Exporter).await;
    let customs = w.token(OrgKind::Customs).await;
    let port = w.token(OrgKind::Port).await;
    let cred = w
        .device(
            &carrier,
            "d1-env",
            &[("air", "Temperature", "deck:minsheng-ro-ro-8/D1")],
        )
        .await;
    // Two minutes of readings, 10 s apart, from 30 °C rising 1 °C each.
    let base: DateTime<Utc> = (Utc::now() - chrono::Duration::minutes(30)).duration_trunc_minute();
    let readings: Vec<Value> = (0..12)
        .map(|i| {
            temp(
                "air",
                30.0 + f64::from(i),
                &jianghai_core::ledger::format_time(
                    base + chrono::Duration::seconds(10 * i64::from(i)),
                ),
            )
        })
        .collect();
    let (s, b) = w.submit(&cred, Value::Array(readings)).await;
    assert_eq!((s, &b["stored"]), (StatusCode::OK, &json!(12)), "{b}");
    let q = format!(
        "device=d1-env&sensor=air&from={}",
        jianghai_core::ledger::format_time(base).replace('+', "%2B")
    );
    let (s, page) = w
        .call(
            Method::GET,
            &format!("/api/v1/readings?{q}&limit=5"),
            Some(&customs),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().expect("items").len(), 5);
    assert_eq!(page["items"][0]["value"], 30.0);
    assert_eq!(page["items"][0]["unit"], "CEL");
    let next = page["next"].as_str().expect("next").to_string();
    let (_, rest) = w
        .call(
            Method::GET,
            &format!(
                "/api/v1/readings?{q}&limit=100&after={}",
                next.replace('+', "%2B")
            ),
            Some(&carrier),
            None,
        )
        .await;
    assert_eq!(rest["items"].as_array().expect("items").len(), 7, "{rest}");
    let (s, r) = w
        .call(
            Method::GET,
            &format!("/api/v1/readings/rollups?{q}&resolution=1m"),
            Some(&carrier),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let buckets: Vec<(f64, f64, f64, i64)> = r["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| {
            (
                b["min"].as_f64().expect("min"),
                b["max"].as_f64().expect("max"),
                b["mean"].as_f64().expect("mean"),
                b["count"].as_i64().expect("count"),
            )
        })
        .collect();
    assert_eq!(buckets, vec![(30.0, 35.0, 32.5, 6), (36.0, 41.0, 38.5, 6)]);
    // Not the exporter's or the port's deck: as if there were no such sensor.
    for t in [&exporter, &port] {
        let (s, _) = w
            .call(Method::GET, &format!("/api/v1/readings?{q}"), Some(t), None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    // Bad queries.
    for bad in [
        format!("/api/v1/readings/rollups?{q}&resolution=5m"),
        format!("/api/v1/readings?{q}&limit=0"),
        "/api/v1/readings?device=d1-env&sensor=air&from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z".to_string(),
        format!("/api/v1/readings?{q}&after=garbage"),
    ] {
        let (s, b) = w.call(Method::GET, &bad, Some(&carrier), None).await;
        assert!(s.is_client_error(), "{bad}: {s} {b}");
    }
    // Sensors: the exporter may not attach to the carrier's deck, nor register on a device of
    // another organisation; the carrier sees its sensor in the listing by subject.
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/sensors",
            Some(&exporter),
            Some(json!({"device": "d1-env", "sensor": "x", "measurement": "Temperature", "subject": "deck:minsheng-ro-ro-8/D1"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = w
        .call(
            Method::GET,
            "/api/v1/sensors?subject=deck:minsheng-ro-ro-8/D1",
            Some(&carrier),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["items"][0]["sensor"], "air", "{b}");
    let (_, b) = w
        .call(Method::GET, "/api/v1/sensors", Some(&exporter), None)
        .await;
    assert_eq!(b["items"], json!([]));
    for (body, field) in [
        (
            json!({"device": "d1-env", "sensor": "a b", "measurement": "Temperature", "subject": "deck:minsheng-ro-ro-8/D1"}),
            "/sensor",
        ),
        (
            json!({"device": "d1-env", "sensor": "y", "measurement": "Heat", "subject": "deck:minsheng-ro-ro-8/D1"}),
            "/measurement",
        ),
        (
            json!({"device": "d1-env", "sensor": "y", "measurement": "Temperature", "unit": "P1", "subject": "deck:minsheng-ro-ro-8/D1"}),
            "/unit",
        ),
        (
            json!({"device": "d1-env", "sensor": "y", "measurement": "Temperature", "subject": "planet:mars"}),
            "/subject",
        ),
        (
            json!({"device": "d1-env", "sensor": "y", "measurement": "Temperature", "subject": "deck:ghost-ship/D1"}),
            "/subject",
        ),
    ] {
        let (s, b) = w
            .call(Method::POST, "/api/v1/sensors", Some(&carrier), Some(body))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["errors"][0]["field"], field, "{b}");
    }
    let (s, _) = w
        .call(
            Method::POST,
            "/api/v1/sensors",
            Some(&carrier),
            Some(json!({"device": "d1-env", "sensor": "air", "measurement": "Temperature", "subject": "deck:minsheng-ro-ro-8/D1"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
}

trait Minute {
    fn duration_trunc_minute(self) -> Self;
}

impl Minute for DateTime<Utc> {
    fn duration_trunc_minute(self) -> Self {
        jianghai_store::bucket(self, 60)
    }
}

/// With the writer held up (another connection holds SQLite's write lock) and a queue of five
/// readings, a second device batch is refused with 503 and Retry-After; the first is answered
/// only once its readings are durable, and the refused one goes in when sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_refused_with_retry_after_and_nothing_acknowledged_is_lost() {
    use sqlx::Connection;
    let mut config = config();
    config.ingest.capacity = 5;
    let w = sqlite_world(config).await;
    let carrier = w.token(OrgKind::Carrier).await;
    let cred = w
        .device(
            &carrier,
            "d5-env",
            &[("air", "Temperature", "deck:minsheng-ro-ro-8/D5")],
        )
        .await;
    let mut blocker = sqlx::SqliteConnection::connect(&w.url)
        .await
        .expect("connect");
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .expect("lock");
    let five: Vec<Value> = (0..5).map(|i| temp("air", 20.0, &ago(100 + i))).collect();
    let first = tokio::spawn({
        let (client, base, cred) = (w.client.clone(), w.base.clone(), cred.clone());
        async move {
            let res = client
                .post(format!("{base}/api/v1/readings"))
                .bearer_auth(cred)
                .json(&json!({ "readings": five }))
                .send()
                .await
                .expect("send");
            (res.status(), res.json::<Value>().await.expect("json"))
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!first.is_finished(), "no answer before the commit");
    let second = tokio::spawn({
        let (client, base, cred) = (w.client.clone(), w.base.clone(), cred.clone());
        async move {
            let res = client
                .post(format!("{base}/api/v1/readings"))
                .bearer_auth(cred)
                .json(&json!({ "readings": [temp("air", 21.0, &ago(50))] }))
                .send()
                .await
                .expect("send");
            let retry = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            (res.status(), retry)
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut blocker)
        .await
        .expect("unlock");
    let (s, retry) = second.await.expect("join");
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry.as_deref(), Some("1"));
    let (s, b) = first.await.expect("join");
    assert_eq!((s, &b["stored"]), (StatusCode::OK, &json!(5)), "{b}");
    let (s, b) = w.submit(&cred, json!([temp("air", 21.0, &ago(50))])).await;
    assert_eq!((s, &b["stored"]), (StatusCode::OK, &json!(1)), "{b}");
    let page = w
        .store
        .readings(
            "d5-env",
            "air",
            Utc::now() - chrono::Duration::hours(1),
            Utc::now(),
            "",
            100,
        )
        .await
        .expect("read");
    assert_eq!(page.items.len(), 6);
}
