//! Alerts over real HTTP on both engines: isolation between parties, the live stream (scoped,
//! resumable, kept alive), signed webhooks against a real local receiver (with a retry after a
//! 500), and escalation pushed on the stream.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use hmac::{KeyInit, Mac};
use jianghai_core::reading::Subject;
use jianghai_core::{Actor, Event, Ident, Step, Vin};
use jianghai_server::{AppState, Application, Config, bootstrap};
use jianghai_store::{AlertDraft, Role, Severity, Store};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

fn id(s: &str) -> Ident {
    Ident::parse(s).expect("ident")
}

fn vin(n: u32) -> Vin {
    Vin::with_check_digit(&format!("LS5A3ABE0RB{n:06}")).expect("vin")
}

struct W {
    base: String,
    store: Store,
    client: Client,
    /// The watch engine's input (what ingestion feeds with durable readings).
    watch: jianghai_server::alerting::WatchInput,
    _dir: Option<tempfile::TempDir>,
}

/// The simulator's corridor with one admin per party (username = kind), a viewer of the river
/// carrier, an admin of the ocean carrier, and one registered vehicle of the exporter.
async fn world(store: Store, dir: Option<tempfile::TempDir>) -> W {
    let w = jianghai_sim::corridor_world(1);
    for o in &w.organisations {
        store.create_organisation(o).await.expect("org");
    }
    for f in &w.facilities {
        store.create_facility(f).await.expect("facility");
    }
    for v in &w.vessels {
        store.create_vessel(v).await.expect("vessel");
    }
    let users = [
        ("changan-intl", "exporter", Role::Admin),
        ("minsheng-shipping", "carrier", Role::Admin),
        ("minsheng-shipping", "deckhand", Role::Viewer),
        ("cosco-car-carriers", "cosco", Role::Admin),
        ("guoyuan-port", "port", Role::Admin),
        ("chongqing-customs", "customs", Role::Admin),
        ("cq-port-logistics-office", "coordinator", Role::Admin),
    ];
    for (org, name, role) in users {
        bootstrap::ensure_user(&store, &id(org), name, &format!("pw-of-{name}"), role)
            .await
            .expect("user");
    }
    store
        .append(Event::lifecycle(
            Uuid::new_v4(),
            Step::Register,
            (Utc::now() - chrono::Duration::hours(1)).fixed_offset(),
            vec![vin(1)],
            Actor {
                organisation: id("changan-intl"),
                user: None,
                device: None,
            },
        ))
        .await
        .expect("register");
    let mut config = Config {
        rate_burst: 10_000,
        rate_per_second: 10_000,
        ..Config::default()
    };
    config.alerts.keep_alive = Duration::from_millis(300);
    config.alerts.escalation_tick = Duration::from_millis(100);
    config.alerts.webhooks.base_backoff = Duration::from_millis(200);
    config.alerts.webhooks.tick = Duration::from_millis(100);
    let state = AppState::new(store.clone(), config);
    let watch = state.watch.clone();
    let app = Application::build("127.0.0.1:0", state)
        .await
        .expect("bind");
    let addr = app.local_addr().expect("addr");
    tokio::spawn(app.run_until(std::future::pending()));
    W {
        base: format!("http://{addr}"),
        store,
        client: Client::new(),
        watch,
        _dir: dir,
    }
}

async fn sqlite_world() -> W {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("alerts.db").display());
    world(Store::open(&url).await.expect("open"), Some(dir)).await
}

async fn postgres_world() -> W {
    let pg = std::env::var("JIANGHAI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let url = format!("{pg}?schema=t_{}", Uuid::new_v4().simple());
    let store = Store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {pg} is required for these tests: {e}"));
    world(store, None).await
}

macro_rules! both_engines {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$case(&super::sqlite_world().await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$case(&super::postgres_world().await).await;
                }
            }
        )*
    };
}

both_engines!(
    a_party_cannot_read_or_change_anothers_alert,
    streams_are_scoped_resumable_and_kept_alive,
    webhooks_are_signed_and_retried,
    escalation_is_recorded_and_pushed,
    watched_readings_raise_alerts_on_the_stream,
    a_voyage_deviation_raises_an_alert_on_the_stream,
    readings_over_http_raise_alerts_for_the_right_parties,
);

impl W {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("send");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// POST an action on an alert (`acknowledge`, `resolve`, `assign`, `comments`).
    async fn act(
        &self,
        alert: Uuid,
        action: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let path = format!("/api/v1/alerts/{alert}/{action}");
        self.call(Method::POST, &path, token, body).await
    }

    async fn token(&self, user: &str) -> String {
        let res = self
            .client
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": user, "password": format!("pw-of-{user}")}))
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), StatusCode::OK);
        let b: Value = res.json().await.expect("json");
        b["token"].as_str().expect("token").to_string()
    }

    async fn raise(&self, rule: &str, kind: &str, subject: &str, severity: Severity) -> Uuid {
        self.raise_at(rule, kind, subject, severity, Utc::now())
            .await
    }

    async fn raise_at(
        &self,
        rule: &str,
        kind: &str,
        subject: &str,
        severity: Severity,
        at: chrono::DateTime<Utc>,
    ) -> Uuid {
        self.store
            .raise_alert(&AlertDraft {
                rule: rule.into(),
                subject_kind: kind.into(),
                subject_id: subject.into(),
                severity,
                title: format!("{rule} on {kind}:{subject}"),
                detail: String::new(),
                evidence: json!([{"sensor": "t1", "value": 48.0}]),
                at,
                source: "watch".into(),
            })
            .await
            .expect("raise")
            .alert
            .id
    }

    async fn stream(&self, token: &str, last_event_id: Option<&str>) -> Sse {
        let mut req = self
            .client
            .get(format!("{}/api/v1/alerts/stream", self.base))
            .bearer_auth(token);
        if let Some(l) = last_event_id {
            req = req.header("last-event-id", l);
        }
        let res = req.send().await.expect("stream");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Sse {
            body: Box::pin(res.bytes_stream()),
            buf: String::new(),
        }
    }
}

/// A minimal Server-Sent Events reader.
struct Sse {
    body: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>,
    >,
    buf: String,
}

/// One message: (`id`, `event`, `data` as JSON), or a comment (keep-alive) as `event` ":".
#[derive(Debug)]
struct Msg {
    id: Option<String>,
    event: String,
    data: Value,
}

impl Sse {
    /// The next message within `wait`, if any.
    async fn next(&mut self, wait: Duration) -> Option<Msg> {
        tokio::time::timeout(wait, async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..end + 2).collect();
                    let mut msg = Msg {
                        id: None,
                        event: "message".into(),
                        data: Value::Null,
                    };
                    for line in block.lines() {
                        if line.starts_with(':') {
                            msg.event = ":".into();
                        } else if let Some(v) = line.strip_prefix("id: ") {
                            msg.id = Some(v.into());
                        } else if let Some(v) = line.strip_prefix("event: ") {
                            msg.event = v.into();
                        } else if let Some(v) = line.strip_prefix("data: ") {
                            msg.data = serde_json::from_str(v).expect("data is JSON");
                        }
                    }
                    return Some(msg);
                }
                let chunk = self.body.next().await?.ok()?;
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .ok()
        .flatten()
    }

    /// The next event that is not a keep-alive.
    async fn event(&mut self, wait: Duration) -> Option<Msg> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            let m = self.next(left).await?;
            if m.event != ":" {
                return Some(m);
            }
        }
    }
}

const WAIT: Duration = Duration::from_secs(10);

async fn a_party_cannot_read_or_change_anothers_alert(w: &W) {
    let deck = w
        .raise(
            "deck-heat",
            "deck",
            "minsheng-ro-ro-8/D1",
            Severity::Critical,
        )
        .await;
    let car = w
        .raise("ev-soc", "vehicle", vin(1).as_str(), Severity::Warning)
        .await;
    let pctc = w
        .raise("deck-heat", "vessel", "cosco-pctc-1", Severity::Warning)
        .await;
    let exporter = w.token("exporter").await;
    let carrier = w.token("carrier").await;
    let cosco = w.token("cosco").await;
    let deckhand = w.token("deckhand").await;
    let listed = |b: &Value| -> Vec<String> {
        b["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|a| a["id"].as_str().expect("id").to_string())
            .collect()
    };
    let (_, b) = w.call(Method::GET, "/api/v1/alerts", &exporter, None).await;
    assert_eq!(listed(&b), vec![car.to_string()]);
    let (_, b) = w.call(Method::GET, "/api/v1/alerts", &cosco, None).await;
    assert_eq!(listed(&b), vec![pctc.to_string()]);
    // Every read and every action on another party's alert is 404, and changes nothing.
    for token in [&exporter, &cosco] {
        for (method, path, body) in [
            (Method::GET, format!("/api/v1/alerts/{deck}"), None),
            (
                Method::POST,
                format!("/api/v1/alerts/{deck}/acknowledge"),
                None,
            ),
            (Method::POST, format!("/api/v1/alerts/{deck}/resolve"), None),
            (
                Method::POST,
                format!("/api/v1/alerts/{deck}/assign"),
                Some(json!({"assignee": null})),
            ),
            (
                Method::POST,
                format!("/api/v1/alerts/{deck}/comments"),
                Some(json!({"body": "mine now"})),
            ),
        ] {
            let (s, p) = w.call(method.clone(), &path, token, body).await;
            assert_eq!(s, 404, "{method} {path}: {p}");
            assert_eq!(p["type"], "https://jianghai.dev/problems/not-found");
        }
    }
    let (s, d) = w
        .call(
            Method::GET,
            &format!("/api/v1/alerts/{deck}"),
            &carrier,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (d["state"].as_str(), d["comments"].as_array().map(Vec::len)),
        (Some("open"), Some(0))
    );
    assert_eq!(d["subject"], "deck:minsheng-ro-ro-8/D1");
    assert_eq!(d["evidence"][0]["value"], 48.0);
    // A viewer of the right party reads but may not act.
    let (s, _) = w
        .call(
            Method::GET,
            &format!("/api/v1/alerts/{deck}"),
            &deckhand,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = w.act(deck, "acknowledge", &deckhand, None).await;
    assert_eq!(s, 403);
    // Assignees come from the caller's own organisation.
    let (s, p) = w
        .act(
            deck,
            "assign",
            &carrier,
            Some(json!({"assignee": "exporter"})),
        )
        .await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (422, Some("/assignee"))
    );
    let (s, a) = w
        .act(
            deck,
            "assign",
            &carrier,
            Some(json!({"assignee": "deckhand"})),
        )
        .await;
    assert_eq!((s, a["assignee"].as_str()), (200, Some("deckhand")));
    // Acknowledging twice is harmless; after resolving, it is a conflict.
    for _ in 0..2 {
        let (s, a) = w.act(deck, "acknowledge", &carrier, None).await;
        assert_eq!(
            (s, a["acknowledgedBy"].as_str()),
            (200, Some("user:carrier"))
        );
    }
    let (s, c) = w
        .act(
            deck,
            "comments",
            &carrier,
            Some(json!({"body": "vents opened on D1"})),
        )
        .await;
    assert_eq!((s, c["author"].as_str()), (201, Some("user:carrier")));
    let (s, _) = w
        .act(deck, "comments", &carrier, Some(json!({"body": ""})))
        .await;
    assert_eq!(s, 422);
    let (s, a) = w.act(deck, "resolve", &carrier, None).await;
    assert_eq!((s, a["state"].as_str()), (200, Some("resolved")));
    let (s, p) = w.act(deck, "acknowledge", &carrier, None).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (409, Some("https://jianghai.dev/problems/alert-state"))
    );
    let (_, d) = w
        .call(
            Method::GET,
            &format!("/api/v1/alerts/{deck}"),
            &carrier,
            None,
        )
        .await;
    assert_eq!(d["comments"][0]["body"], "vents opened on D1");
    // Filters, paging and bad queries.
    let customs = w.token("customs").await;
    let (_, b) = w
        .call(
            Method::GET,
            "/api/v1/alerts?state=open&severity=warning",
            &customs,
            None,
        )
        .await;
    let mut open = listed(&b);
    open.sort();
    let mut want = vec![car.to_string(), pctc.to_string()];
    want.sort();
    assert_eq!(open, want);
    let (_, b) = w
        .call(
            Method::GET,
            &format!("/api/v1/alerts?subject=vehicle:{}", vin(1)),
            &customs,
            None,
        )
        .await;
    assert_eq!(listed(&b), vec![car.to_string()]);
    let (_, first) = w
        .call(Method::GET, "/api/v1/alerts?limit=2", &customs, None)
        .await;
    let next = first["next"].as_str().expect("a next page");
    let (_, second) = w
        .call(
            Method::GET,
            &format!("/api/v1/alerts?limit=2&after={next}"),
            &customs,
            None,
        )
        .await;
    let mut all = listed(&first);
    all.extend(listed(&second));
    assert_eq!(all.len(), 3, "two pages cover the three alerts once");
    assert!(second.get("next").is_none());
    for (q, status) in [
        ("state=burning", 422),
        ("severity=apocalyptic", 422),
        ("subject=planet:earth", 422),
        ("limit=0", 422),
        ("colour=red", 400),
    ] {
        let (s, p) = w
            .call(Method::GET, &format!("/api/v1/alerts?{q}"), &customs, None)
            .await;
        assert_eq!(s, status, "{q}: {p}");
    }
    let (s, _) = w
        .call(Method::GET, "/api/v1/alerts/not-a-uuid", &customs, None)
        .await;
    assert_eq!(s, 404);
}

async fn streams_are_scoped_resumable_and_kept_alive(w: &W) {
    let customs = w.token("customs").await;
    let exporter = w.token("exporter").await;
    let carrier = w.token("carrier").await;
    let mut all = w.stream(&customs, None).await;
    let mut own = w.stream(&exporter, None).await;
    // The stream starts now: what happened before it is not replayed without Last-Event-ID.
    let deck = w
        .raise(
            "deck-heat",
            "deck",
            "minsheng-ro-ro-8/D1",
            Severity::Critical,
        )
        .await;
    let car = w
        .raise("ev-soc", "vehicle", vin(1).as_str(), Severity::Warning)
        .await;
    let a = all.event(WAIT).await.expect("customs sees the deck alert");
    assert_eq!(
        (a.event.as_str(), a.data["alert"]["id"].as_str()),
        ("raised", Some(deck.to_string().as_str()))
    );
    let b = all
        .event(WAIT)
        .await
        .expect("customs sees the vehicle alert");
    assert_eq!(b.data["alert"]["id"], car.to_string());
    let mine = own
        .event(WAIT)
        .await
        .expect("the exporter sees its vehicle's alert");
    assert_eq!(
        mine.data["alert"]["id"],
        car.to_string(),
        "the carrier's deck alert never reaches the exporter"
    );
    assert_eq!(mine.id, b.id, "ids are the log's sequence numbers");
    // Acting is pushed too.
    let (s, _) = w.act(deck, "acknowledge", &carrier, None).await;
    assert_eq!(s, 200);
    let ack = all.event(WAIT).await.expect("acknowledgement pushed");
    assert_eq!(
        (ack.event.as_str(), ack.data["actor"].as_str()),
        ("acknowledged", Some("user:carrier"))
    );
    // An idle stream gets keep-alive comments.
    let idle = own.next(Duration::from_secs(3)).await.expect("keep-alive");
    assert_eq!(idle.event, ":");
    // Resuming after the deck alert's id replays from the store what came after it.
    let mut again = w.stream(&customs, a.id.as_deref()).await;
    let r = again.event(WAIT).await.expect("replay");
    assert_eq!(
        (r.id, r.data["alert"]["id"].as_str()),
        (b.id.clone(), Some(car.to_string().as_str()))
    );
    let r = again.event(WAIT).await.expect("replay");
    assert_eq!(r.event, "acknowledged");
    // An exporter resuming from 0 still sees only its own.
    let mut from_zero = w.stream(&exporter, Some("0")).await;
    let r = from_zero.event(WAIT).await.expect("replay");
    assert_eq!(r.data["alert"]["id"], car.to_string());
    let res = w
        .client
        .get(format!("{}/api/v1/alerts/stream", w.base))
        .bearer_auth(&customs)
        .header("last-event-id", "yesterday")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// What the receiver got: (path, headers, body).
type Received = Arc<Mutex<Vec<(String, axum::http::HeaderMap, Vec<u8>)>>>;

/// A real HTTP receiver on loopback that answers 500 to the first delivery on each path and
/// 200 afterwards.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                let first = !seen.iter().any(|(p, _, _)| *p == uri.path());
                seen.push((uri.path().to_string(), headers, body.to_vec()));
                if first {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), got)
}

/// Checks `Jianghai-Signature` independently of the server's code: t=…,v1=hex(HMAC-SHA256(
/// secret, "t.body")), with t within five minutes.
fn verify(secret: &str, headers: &axum::http::HeaderMap, body: &[u8]) -> bool {
    let Some(sig) = headers
        .get("jianghai-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut t = None;
    let mut v1 = None;
    for part in sig.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x.parse::<i64>().ok(),
            Some(("v1", x)) => v1 = hex::decode(x).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (Utc::now().timestamp() - t).abs() > 300 {
        return false;
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&v1).is_ok()
}

async fn webhooks_are_signed_and_retried(w: &W) {
    let (url, got) = receiver().await;
    let customs = w.token("customs").await;
    let exporter = w.token("exporter").await;
    let secret = "customs-webhook-secret-0001";
    let (s, hook) = w
        .call(
            Method::POST,
            "/api/v1/webhooks",
            &customs,
            Some(json!({"url": format!("{url}/customs"), "secret": secret})),
        )
        .await;
    assert_eq!(s, 201, "{hook}");
    assert_eq!(
        hook["secret"], secret,
        "the secret is shown once, at registration"
    );
    let (s, mine) = w
        .call(
            Method::POST,
            "/api/v1/webhooks",
            &exporter,
            Some(json!({"url": format!("{url}/exporter")})),
        )
        .await;
    assert_eq!(s, 201);
    assert!(
        mine["secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("whsec_"))
    );
    let (_, listed) = w
        .call(Method::GET, "/api/v1/webhooks", &customs, None)
        .await;
    assert!(
        listed["items"][0].get("secret").is_none(),
        "never listed again"
    );
    for bad in [
        json!({"url": "ftp://x/"}),
        json!({"url": format!("{url}/x"), "secret": "short"}),
    ] {
        let (s, _) = w
            .call(Method::POST, "/api/v1/webhooks", &customs, Some(bad))
            .await;
        assert_eq!(s, 422);
    }

    let deck = w
        .raise(
            "door-open",
            "deck",
            "minsheng-ro-ro-8/D2",
            Severity::Critical,
        )
        .await;
    // Wait for the 500 and the retry.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n = got
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(p, _, _)| p == "/customs")
            .count();
        if n >= 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no retry arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = got.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let to_customs: Vec<_> = got.iter().filter(|(p, _, _)| p == "/customs").collect();
    for (_, headers, body) in &to_customs {
        assert!(verify(secret, headers, body), "signature verifies");
        assert!(!verify("another-secret-entirely", headers, body));
        let mut tampered = body.clone();
        tampered.extend_from_slice(b" ");
        assert!(!verify(secret, headers, &tampered));
        let event: Value = serde_json::from_slice(body).expect("JSON body");
        assert_eq!(
            (event["kind"].as_str(), event["alert"]["id"].as_str()),
            (Some("raised"), Some(deck.to_string().as_str()))
        );
    }
    assert_eq!(
        to_customs[0].1["jianghai-delivery"], to_customs[1].1["jianghai-delivery"],
        "a retry is the same delivery"
    );
    assert_eq!(to_customs[0].2, to_customs[1].2, "with the same body");
    assert!(
        got.iter().all(|(p, _, _)| p != "/exporter"),
        "the exporter's webhook never receives the carrier's deck alert"
    );
    let hook_id = hook["id"].as_str().expect("id");
    // The receiver has answered; the dispatcher records the attempt right after.
    let deliveries = format!("/api/v1/webhooks/{hook_id}/deliveries");
    let d = loop {
        let (s, d) = w.call(Method::GET, &deliveries, &customs, None).await;
        assert_eq!(s, 200);
        if d["items"][0]["state"] != "pending" || tokio::time::Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let d = &d["items"][0];
    assert_eq!(
        (d["state"].as_str(), d["attempts"].as_i64()),
        (Some("delivered"), Some(2)),
        "{d}"
    );
    let statuses: Vec<i64> = d["attemptLog"]
        .as_array()
        .expect("attempts")
        .iter()
        .filter_map(|a| a["status"].as_i64())
        .collect();
    assert_eq!(statuses, vec![500, 200]);
    // Another organisation cannot see this webhook's deliveries.
    let (s, _) = w
        .call(
            Method::GET,
            &format!("/api/v1/webhooks/{hook_id}/deliveries"),
            &exporter,
            None,
        )
        .await;
    assert_eq!(s, 404);
}

async fn escalation_is_recorded_and_pushed(w: &W) {
    let customs = w.token("customs").await;
    let mut live = w.stream(&customs, None).await;
    // Raised six minutes ago and never acknowledged: critical alerts escalate after five.
    let late = w
        .raise_at(
            "ev-thermal",
            "deck",
            "minsheng-ro-ro-8/D3",
            Severity::Critical,
            Utc::now() - chrono::Duration::minutes(6),
        )
        .await;
    let raised = live.event(WAIT).await.expect("raised");
    assert_eq!(raised.event, "raised");
    let up = live.event(WAIT).await.expect("escalated");
    assert_eq!(
        (up.event.as_str(), up.data["alert"]["escalation"].as_i64()),
        ("escalated", Some(1))
    );
    assert_eq!(up.data["alert"]["id"], late.to_string());
    let (_, a) = w
        .call(
            Method::GET,
            &format!("/api/v1/alerts/{late}"),
            &customs,
            None,
        )
        .await;
    assert_eq!(a["escalation"], 1);
    assert!(a["escalatedAt"].is_string());
}

/// Deck air readings of one sensor: `value` °C every 10 s over the last `secs` seconds.
fn deck_readings(deck: &str, value: f64, secs: i64) -> Vec<jianghai_watch::Observation> {
    use jianghai_core::reading::{MeasurementType, Reading, Subject, SubjectKind, Unit};
    let now = Utc::now();
    (0..=secs / 10)
        .map(|i| jianghai_watch::Observation {
            subject: Subject::new(SubjectKind::Deck, deck).expect("subject"),
            reading: Reading::new(
                id("deck-sensor-1"),
                "air-1",
                MeasurementType::Temperature,
                value,
                Unit::Celsius,
                now - chrono::Duration::seconds(secs - i * 10),
                None,
                now,
            )
            .expect("reading"),
            context: jianghai_watch::Context { in_transit: true },
        })
        .collect()
}

async fn watched_readings_raise_alerts_on_the_stream(w: &W) {
    let customs = w.token("customs").await;
    let exporter = w.token("exporter").await;
    let carrier = w.token("carrier").await;
    let mut all = w.stream(&customs, None).await;
    let mut own = w.stream(&exporter, None).await;
    let mut crew = w.stream(&carrier, None).await;
    // Two minutes of 60 °C on the carrier's deck D5: the corridor's deck-heat-critical rule
    // (above 55 °C for 60 s) fires once the reorder window has passed.
    assert!(
        w.watch
            .send(deck_readings("minsheng-ro-ro-8/D5", 60.0, 120))
            .await
    );
    let e = all
        .event(WAIT)
        .await
        .expect("customs sees the watch engine's alert");
    assert_eq!(e.event, "raised");
    let a = &e.data["alert"];
    assert_eq!(
        (
            a["rule"].as_str(),
            a["subject"].as_str(),
            a["severity"].as_str(),
            a["source"].as_str()
        ),
        (
            Some("deck-heat-critical"),
            Some("deck:minsheng-ro-ro-8/D5"),
            Some("critical"),
            Some("watch")
        )
    );
    assert!(
        a["evidence"].as_array().is_some_and(|e| !e.is_empty()),
        "{a}"
    );
    let c = crew
        .event(WAIT)
        .await
        .expect("the carrier sees its deck's alert");
    assert_eq!(c.data["alert"]["id"], a["id"]);
    assert!(
        own.event(Duration::from_secs(2)).await.is_none(),
        "the exporter is not told about the carrier's deck"
    );
    // More heat counts on the same alert, never a second one; cooling down clears it.
    assert!(
        w.watch
            .send(deck_readings("minsheng-ro-ro-8/D5", 61.0, 30))
            .await
    );
    assert!(
        w.watch
            .send(deck_readings("minsheng-ro-ro-8/D5", 30.0, 0))
            .await
    );
    let cleared = all.event(WAIT).await.expect("the clear is pushed");
    assert_eq!(
        (
            cleared.event.as_str(),
            cleared.data["alert"]["state"].as_str()
        ),
        ("resolved", Some("resolved"))
    );
    assert_eq!(cleared.data["alert"]["id"], a["id"]);
    assert_eq!(cleared.data["alert"]["resolution"], "cleared");
}

/// The river carrier's ship, tracked from AIS, swings three kilometres off the corridor and
/// back: the voyage's alert is raised and resolved on the carrier's and customs' streams, and
/// an exporter with no car on the voyage hears nothing of it.
async fn a_voyage_deviation_raises_an_alert_on_the_stream(w: &W) {
    use jianghai_sim::ais::{Leg, Script};
    let now = Utc::now();
    let start = now - chrono::Duration::minutes(150);
    for v in &jianghai_sim::corridor_world(1).voyages {
        w.store.create_voyage(v).await.expect("voyage");
    }
    w.store
        .append(Event {
            event_id: Uuid::new_v4(),
            action: jianghai_core::Action::Observe,
            event_time: (start - chrono::Duration::minutes(30)).fixed_offset(),
            biz_step: jianghai_core::BizStep("departing".into()),
            disposition: None,
            step: None,
            subjects: jianghai_core::Subjects {
                voyage: Some(id("rv-0001")),
                ..Default::default()
            },
            read_point: None,
            biz_location: None,
            position: None,
            actor: Actor {
                organisation: id("minsheng-shipping"),
                user: None,
                device: None,
            },
            extensions: Default::default(),
        })
        .await
        .expect("departing");
    let customs = w.token("customs").await;
    let exporter = w.token("exporter").await;
    let carrier = w.token("carrier").await;
    let mut all = w.stream(&customs, None).await;
    let mut own = w.stream(&exporter, None).await;
    let mut crew = w.stream(&carrier, None).await;
    let script = Script {
        mmsi: 413_801_008,
        name: "Minsheng Ro-Ro 8".into(),
        callsign: "BOXM8".into(),
        destination: "SHANGHAI".into(),
        start,
        from_km: 1_500.0,
        every: chrono::Duration::minutes(3),
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
    let mut tracking = jianghai_server::tracking::Tracking::new(
        w.store.clone(),
        jianghai_server::tracking::TrackingConfig::default(),
    )
    .await
    .expect("tracking");
    let mut source = jianghai_server::feeds::Source::new("test".into(), tracking.stats());
    for l in script.render(&waterway).expect("render") {
        if let Some(d) = source.handle(Ok(&l.line)) {
            tracking.handle(&d, l.at).await.expect("handled");
        }
    }
    let e = all.event(WAIT).await.expect("customs sees the deviation");
    assert_eq!(e.event, "raised");
    let a = &e.data["alert"];
    assert_eq!(
        (
            a["rule"].as_str(),
            a["subject"].as_str(),
            a["severity"].as_str()
        ),
        (
            Some("voyage-off-corridor"),
            Some("voyage:rv-0001"),
            Some("warning")
        )
    );
    assert!(
        a["detail"]
            .as_str()
            .is_some_and(|d| d.contains("towards the right bank")),
        "{a}"
    );
    assert_eq!(a["evidence"][0]["device"], "mmsi-413801008", "{a}");
    let c = crew.event(WAIT).await.expect("the carrier sees it");
    assert_eq!(c.data["alert"]["id"], a["id"]);
    // Opened on a position of an hour ago, it may escalate before it clears.
    loop {
        let next = all.event(WAIT).await.expect("back in the corridor");
        assert_eq!(next.data["alert"]["id"], a["id"]);
        if next.event == "resolved" {
            assert_eq!(next.data["alert"]["resolution"], "cleared");
            break;
        }
        assert_eq!(next.event, "escalated");
    }
    assert!(
        own.event(Duration::from_secs(2)).await.is_none(),
        "an exporter with no car on the voyage is not told"
    );
    let (s, b) = w
        .call(
            Method::GET,
            &format!("/api/v1/alerts/{}", a["id"].as_str().unwrap_or("")),
            &exporter,
            None,
        )
        .await;
    assert_eq!(s, 404, "{b}");
}

/// Registers a device of `token`'s organisation with one sensor; returns its credential.
async fn sensor(w: &W, token: &str, device: &str, key: &str, m: &str, subject: &str) -> String {
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/devices",
            token,
            Some(json!({"id": device, "kind": "sensor", "name": device})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let cred = b["credential"].as_str().expect("credential").to_string();
    let (s, b) = w
        .call(
            Method::POST,
            "/api/v1/sensors",
            token,
            Some(json!({"device": device, "sensor": key, "measurement": m, "subject": subject})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    cred
}

/// The whole path: a device posts readings over HTTP, they are stored, handed to the watch
/// engine with their sensor's subject, and the alert arrives on the streams of the parties
/// who may see that subject, and no one else's. A door opened in the yard is nothing; the same
/// door opened after the ship departed (per the ledger) is a critical alert.
async fn readings_over_http_raise_alerts_for_the_right_parties(w: &W) {
    let customs = w.token("customs").await;
    let exporter = w.token("exporter").await;
    let carrier = w.token("carrier").await;
    let port = w.token("port").await;
    for v in &jianghai_sim::corridor_world(1).voyages {
        w.store.create_voyage(v).await.expect("voyage");
    }
    let deck = sensor(
        w,
        &carrier,
        "d4-env",
        "air",
        "Temperature",
        "deck:minsheng-ro-ro-8/D4",
    )
    .await;
    let door = sensor(
        w,
        &exporter,
        "car-1-door",
        "door",
        "DoorOpen",
        &format!("vehicle:{}", vin(1)),
    )
    .await;
    let mut all = w.stream(&customs, None).await;
    let mut crew = w.stream(&carrier, None).await;
    let mut own = w.stream(&exporter, None).await;
    let mut yard = w.stream(&port, None).await;
    let post = |cred: String, readings: Value| {
        let w = &*w;
        async move {
            let (s, b) = w
                .call(
                    Method::POST,
                    "/api/v1/readings",
                    &cred,
                    Some(json!({ "readings": readings })),
                )
                .await;
            assert_eq!(s, 200, "{b}");
            b
        }
    };
    let ago =
        |s: i64| jianghai_core::ledger::format_time(Utc::now() - chrono::Duration::seconds(s));
    let heat: Vec<Value> = (0..13)
        .map(|i| json!({"sensor": "air", "measurement": "Temperature", "value": 60.0, "unit": "CEL", "time": ago(130 - 10 * i)}))
        .collect();
    post(deck, Value::Array(heat)).await;
    let e = all.event(WAIT).await.expect("customs sees the deck alert");
    assert_eq!(e.event, "raised");
    assert_eq!(e.data["alert"]["rule"], "deck-heat-critical");
    assert_eq!(e.data["alert"]["subject"], "deck:minsheng-ro-ro-8/D4");
    let c = crew
        .event(WAIT)
        .await
        .expect("the carrier sees its deck's alert");
    assert_eq!(c.data["alert"]["id"], e.data["alert"]["id"]);

    // The door opens while the car is still in the yard: not in transit, no alert.
    post(door.clone(), json!([{"sensor": "door", "measurement": "DoorOpen", "value": true, "time": ago(40)},
                               {"sensor": "door", "measurement": "DoorOpen", "value": false, "time": ago(39)}])).await;
    // What the engine is told: two decks of the ship (one vessel's windows, held once) and a
    // yard, not in transit before the departure …
    let transit = jianghai_server::ingest::TransitCache::default();
    let places: Vec<Subject> = [
        "deck:minsheng-ro-ro-8/D4",
        "deck:minsheng-ro-ro-8/D2",
        "vessel:minsheng-ro-ro-8",
        "facility:guoyuan-yard",
    ]
    .iter()
    .map(|s| Subject::parse(s).expect("subject"))
    .collect();
    let in_transit = |transit: jianghai_server::ingest::TransitCache, places: Vec<Subject>| {
        let store = w.store.clone();
        async move {
            let now = Utc::now();
            let keys: Vec<(&Subject, chrono::DateTime<Utc>)> =
                places.iter().map(|p| (p, now)).collect();
            transit.in_transit(&store, &keys).await.expect("in transit")
        }
    };
    assert_eq!(
        in_transit(transit.clone(), places.clone()).await,
        vec![false; 4]
    );
    // Gate-in … departure of rv-0001 with the car aboard; the door opens again.
    let mut at = Utc::now() - chrono::Duration::seconds(35);
    for (step, org) in [
        (Step::GateIn, "guoyuan-port"),
        (Step::Tally, "guoyuan-port"),
        (Step::Declare, "chongqing-customs"),
        (Step::Load, "minsheng-shipping"),
        (Step::Depart, "minsheng-shipping"),
    ] {
        let mut e = Event::lifecycle(
            Uuid::new_v4(),
            step,
            at.fixed_offset(),
            vec![vin(1)],
            Actor {
                organisation: id(org),
                user: None,
                device: None,
            },
        );
        match step {
            Step::GateIn | Step::Tally => e.read_point = Some(id("guoyuan-yard")),
            Step::Load | Step::Depart => e.subjects.voyage = Some(id("rv-0001")),
            _ => {}
        }
        w.store
            .append(e)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
        at += chrono::Duration::seconds(1);
    }
    // … and the same cache sees the departure once the ledger has moved.
    assert_eq!(
        in_transit(transit.clone(), places.clone()).await,
        vec![true, true, true, false]
    );
    post(
        door,
        json!([{"sensor": "door", "measurement": "DoorOpen", "value": true, "time": ago(5)}]),
    )
    .await;
    let d = own
        .event(WAIT)
        .await
        .expect("the exporter sees its car's door alert");
    assert_eq!(d.data["alert"]["rule"], "door-open-in-transit");
    assert_eq!(d.data["alert"]["subject"], format!("vehicle:{}", vin(1)));
    assert_eq!(d.data["alert"]["severity"], "critical");
    let e = all.event(WAIT).await.expect("customs sees it too");
    assert_eq!(e.data["alert"]["rule"], "door-open-in-transit");
    let c = crew
        .event(WAIT)
        .await
        .expect("and the carrier of the voyage");
    assert_eq!(c.data["alert"]["rule"], "door-open-in-transit");
    // The port sees the car it gated in, never the carrier's deck.
    let y = yard
        .event(WAIT)
        .await
        .expect("the port sees the car from its yard");
    assert_eq!(y.data["alert"]["rule"], "door-open-in-transit");
    assert!(
        yard.event(Duration::from_secs(1)).await.is_none(),
        "nothing else: the deck is the carrier's"
    );
}

/// Three nodes on one PostgreSQL store (three stores, three connection pools, as three
/// `jianghai serve` have): their escalation passes and webhook dispatchers run at the same
/// time, and still every due alert escalates once and every alert-log entry is delivered
/// once (the dispatchers claim deliveries; the escalation's update re-checks each row it
/// waited for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_one_postgres_escalate_and_deliver_each_once() {
    use jianghai_server::{alerting, webhooks};
    let pg = std::env::var("JIANGHAI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let schema = format!("t_{}", Uuid::new_v4().simple());
    let url = format!("{pg}?schema={schema}");
    let first = Store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {pg} is required for this test: {e}"));
    let _schema = DropSchema(first.clone(), schema.clone());
    let nodes = [
        first.clone(),
        Store::open(&url).await.expect("second node"),
        Store::open(&url).await.expect("third node"),
    ];
    for o in &jianghai_sim::corridor_world(1).organisations {
        first.create_organisation(o).await.expect("org");
    }
    // A receiver that takes everything and counts each delivery it gets.
    let got: Arc<Mutex<Vec<i64>>> = Arc::default();
    let app = {
        let got = got.clone();
        axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
            let got = got.clone();
            async move {
                let seq = headers
                    .get("jianghai-sequence")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(-1);
                got.lock().unwrap_or_else(|p| p.into_inner()).push(seq);
                tokio::time::sleep(Duration::from_millis(50)).await;
                StatusCode::OK
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    first
        .create_webhook(&jianghai_store::WebhookRecord {
            id: Uuid::new_v4(),
            organisation: id("chongqing-customs"),
            url: format!("http://{addr}/hook"),
            secret: "customs-webhook-secret-0002".into(),
            created_at: jianghai_core::ledger::format_time(Utc::now()),
            disabled_at: None,
            cursor: first.alert_log_head().await.expect("head"),
        })
        .await
        .expect("webhook");
    // Twenty critical alerts raised six minutes ago: due for escalation (after five).
    const ALERTS: usize = 20;
    for d in 0..ALERTS {
        first
            .raise_alert(&AlertDraft {
                rule: "door-open".into(),
                subject_kind: "deck".into(),
                subject_id: format!("minsheng-ro-ro-8/D{d}"),
                severity: Severity::Critical,
                title: "door open".into(),
                detail: String::new(),
                evidence: json!([]),
                at: Utc::now() - chrono::Duration::minutes(6),
                source: "watch".into(),
            })
            .await
            .expect("raise");
    }
    let cfg = jianghai_server::alerting::AlertsConfig::default();
    let mut escalated = 0;
    for _ in 0..5 {
        let passes = nodes
            .iter()
            .map(|s| alerting::escalate(s, &cfg, Utc::now()));
        for n in futures_util::future::join_all(passes).await {
            escalated += n.expect("escalation pass");
        }
    }
    assert_eq!(escalated, ALERTS, "each due alert escalated once");
    let head = first.alert_log_head().await.expect("head");
    let log = first
        .alert_events_after(&jianghai_store::AlertScope::All, 0, head, 1_000)
        .await
        .expect("log");
    assert_eq!(log.iter().filter(|e| e.kind == "escalated").count(), ALERTS);
    assert!(log.iter().all(|e| e.alert.escalation <= 1));

    // The three nodes' dispatchers, running as they do in `serve` (looking every 5 ms), until
    // the receiver has it all and a while longer. The receiver takes 50 ms to answer, so a
    // dispatcher looks again while another's sends are under way.
    let wcfg = webhooks::WebhookConfig {
        tick: Duration::from_millis(5),
        ..webhooks::WebhookConfig::default()
    };
    let dispatchers: Vec<_> = nodes
        .iter()
        .map(|s| tokio::spawn(webhooks::dispatch(s.clone(), wcfg.clone())))
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.lock().expect("got").len() < 2 * ALERTS {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} deliveries after 30 s",
            got.lock().expect("got").len(),
            2 * ALERTS
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for d in dispatchers {
        d.abort();
    }
    let mut seqs = got.lock().expect("got").clone();
    seqs.sort_unstable();
    let want: Vec<i64> = log.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, want, "every log entry delivered once");
}

/// Drops a test's PostgreSQL schema when dropped, also when the test fails.
struct DropSchema(Store, String);

impl Drop for DropSchema {
    fn drop(&mut self) {
        let (store, schema) = (self.0.clone(), self.1.clone());
        // A runtime of its own on a thread of its own: this runs inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                if let Err(e) = store
                    .execute_raw(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .await
                {
                    eprintln!("cannot drop the schema {schema}: {e}");
                }
            });
            std::io::Result::Ok(())
        })
        .join();
    }
}
