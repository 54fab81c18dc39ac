//! AIS into the platform on both engines: a real loopback aggregator over TCP (which drops
//! the connection, so the client reconnects) and a real UDP socket, bad lines counted and
//! skipped; a voyage tracked through a lock wait with its passage on the ledger, resumed
//! after a restart without recording anything twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jianghai_ais::message::NavigationStatus;
use jianghai_core::{Action, Actor, BizStep, Event, Ident, Subjects};
use jianghai_server::feeds::{self, AisConfig, Backoff, Source};
use jianghai_server::tracking::{self, FixOutcome, Handled, Tracking, TrackingConfig};
use jianghai_sim::ais::{AisLine, Leg, Script};
use jianghai_store::Store;
use jianghai_waterway::{Datum, DatumKm, Datums};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

const MMSI: u32 = 413_801_008;

fn id(s: &str) -> Ident {
    Ident::parse(s).expect("ident")
}

fn postgres_url() -> String {
    std::env::var("JIANGHAI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

struct Fresh {
    store: Store,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("ais.db").display());
    Fresh {
        store: Store::open(&url).await.expect("open sqlite"),
        _dir: Some(dir),
    }
}

async fn postgres() -> Fresh {
    let url = format!("{}?schema=t_{}", postgres_url(), Uuid::new_v4().simple());
    Fresh {
        store: Store::open(&url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is required for these tests: {e}",
                postgres_url()
            )
        }),
        _dir: None,
    }
}

macro_rules! both_engines {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let f = super::sqlite().await;
                    super::$case(&f.store).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let f = super::postgres().await;
                    super::$case(&f.store).await;
                }
            }
        )*
    };
}

both_engines!(
    feeds_over_tcp_and_udp,
    a_lock_wait_is_tracked_and_resumed_after_a_restart,
    silence_is_raised_by_the_timer_while_the_voyage_is_under_way,
    unusable_reports_change_nothing,
    the_server_reads_its_feed_and_answers_over_http
);

/// The ledger event `biz_step` (departing, arriving) of rv-0001 at `at`.
fn voyage_event(biz_step: &str, at: DateTime<Utc>) -> Event {
    Event {
        event_id: Uuid::new_v4(),
        action: Action::Observe,
        event_time: at.fixed_offset(),
        biz_step: BizStep(biz_step.into()),
        disposition: None,
        step: None,
        subjects: Subjects {
            voyage: Some(id("rv-0001")),
            ..Subjects::default()
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
    }
}

/// The simulator's corridor, and the river voyage rv-0001 departed at `departed`.
async fn seed(store: &Store, departed: DateTime<Utc>) {
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
    for v in &w.voyages {
        store.create_voyage(v).await.expect("voyage");
    }
    store
        .append(voyage_event("departing", departed))
        .await
        .expect("departing");
}

fn upper(km: f64) -> f64 {
    Datums::default().to_unified(DatumKm::new(Datum::Upper, km))
}

fn script(start: DateTime<Utc>, from_km: f64, every_min: i64, legs: Vec<Leg>) -> Script {
    Script {
        mmsi: MMSI,
        name: "Minsheng Ro-Ro 8".into(),
        callsign: "BOXM8".into(),
        destination: "SHANGHAI".into(),
        start,
        from_km,
        every: chrono::Duration::minutes(every_min),
        legs,
    }
}

fn render(s: &Script) -> Vec<AisLine> {
    let w = jianghai_waterway::Waterway::yangtze(Datums::default()).expect("waterway");
    s.render(&w).expect("render")
}

async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..400 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}")
}

async fn feeds_over_tcp_and_udp(store: &Store) {
    let now = Utc::now();
    seed(store, now - chrono::Duration::hours(2)).await;
    // Sixty-odd reports a minute apart, sailing 20 km down from km U 600.
    let lines = render(&script(
        now - chrono::Duration::minutes(70),
        upper(600.0),
        1,
        vec![Leg::Sail {
            to_km: upper(580.0),
            kn: 10.0,
        }],
    ));
    let (statics, positions): (Vec<_>, Vec<_>) =
        lines.into_iter().partition(|l| l.line.contains(",2,"));
    assert_eq!(statics.len(), 2, "one type 5 in two fragments");
    let half = positions.len() / 2;

    // The aggregator: the first half and three bad lines, then it hangs up; the rest on the
    // next connection.
    let aggregator = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = aggregator.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let first: String = positions[..half]
        .iter()
        .map(|l| format!("{}\r\n", l.line))
        .chain([
            "this is not NMEA\r\n".to_string(),
            "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*00\r\n".to_string(),
            format!("{}\n", "x".repeat(5_000)),
        ])
        .collect();
    let rest: String = positions[half..]
        .iter()
        .map(|l| format!("{}\n", l.line))
        .collect();
    let serving = {
        let accepted = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let Ok((mut s, _)) = aggregator.accept().await else {
                    return;
                };
                let n = accepted.fetch_add(1, Ordering::SeqCst);
                let body = if n == 0 { first.clone() } else { rest.clone() };
                // In small pieces, so lines span reads.
                for chunk in body.as_bytes().chunks(97) {
                    if s.write_all(chunk).await.is_err() {
                        break;
                    }
                }
                if n == 0 {
                    drop(s);
                } else {
                    held.push(s);
                }
            }
        })
    };

    let config = AisConfig {
        tcp: vec![addr.to_string()],
        udp: vec!["127.0.0.1:0".into()],
        backoff: Backoff {
            first: Duration::from_millis(50),
            max: Duration::from_millis(200),
        },
        ..AisConfig::default()
    };
    let service = feeds::start(store, &config).await.expect("start");
    let udp = service.udp_addrs()[0];
    let sender = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    // The static report's two fragments in one datagram; a stranger's position; garbage.
    let both = format!("{}\r\n{}\r\n", statics[0].line, statics[1].line);
    sender.send_to(both.as_bytes(), udp).await.expect("send");
    let stranger = jianghai_ais::encode(
        &jianghai_ais::Message::Position(jianghai_ais::message::PositionReport {
            msg_type: 1,
            repeat: 0,
            mmsi: 412_000_001,
            status: NavigationStatus::UnderWayUsingEngine,
            turn: None,
            speed: Some(9.0),
            accuracy: false,
            lon: Some(106.9),
            lat: Some(29.6),
            course: None,
            heading: None,
            second: None,
            maneuver: None,
            raim: false,
            radio: 0,
        }),
        &Default::default(),
    )
    .expect("encode")
    .join("\n");
    sender
        .send_to(stranger.as_bytes(), udp)
        .await
        .expect("send");
    sender
        .send_to(b"\xff\xfe binary\n", udp)
        .await
        .expect("send");

    let stored = eventually("every position stored", async || {
        let p = store.voyage_positions("rv-0001").await.expect("read");
        (p.len() == positions.len()).then_some(p)
    })
    .await;
    assert!(stored.windows(2).all(|w| w[0].at < w[1].at));
    assert!(
        stored
            .iter()
            .all(|p| p.vessel.as_str() == "minsheng-ro-ro-8")
    );
    // Timed by the tag block, not by reception.
    assert_eq!(stored[0].at, positions[0].at);
    let track = eventually("the voyage tracked", async || {
        let t = store.voyage_track("rv-0001").await.expect("read")?;
        (t.at == positions[positions.len() - 1].at).then_some(t)
    })
    .await;
    assert_eq!(track.state, "under_way");
    assert!((track.km - upper(580.0)).abs() < 1.0, "{}", track.km);
    assert!(track.done_km > 0.0 && track.percent < 10.0, "{track:?}");
    assert!(track.arrival_p50.is_some(), "an ETA from the current speed");
    let st = eventually("the static report", async || {
        store.ais_static(MMSI).await.expect("read")
    })
    .await;
    assert_eq!(st.name.as_deref(), Some("MINSHENG RO-RO 8"));
    assert_eq!(st.length_m, Some(110));
    let counts = eventually("the bad lines counted", async || {
        let c = service.stats().counts();
        (c.bad_lines == 4 && c.unregistered == 1).then_some(c)
    })
    .await;
    assert_eq!(counts.fixes as usize, positions.len());
    assert_eq!(counts.static_reports, 1);
    assert_eq!(counts.errors, 0);
    assert!(
        accepted.load(Ordering::SeqCst) >= 2,
        "the client reconnected"
    );
    drop(service);
    serving.abort();
}

/// A ship comes down to the Three Gorges anchorage, waits three hours, passes the locks and
/// sails on. The tracker is dropped half-way through the locks and rebuilt from the store.
async fn a_lock_wait_is_tracked_and_resumed_after_a_restart(store: &Store) {
    let now = Utc::now();
    let start = now - chrono::Duration::hours(10);
    seed(store, start - chrono::Duration::hours(1)).await;
    let lines = render(&script(
        start,
        upper(70.0),
        5,
        vec![
            Leg::Sail {
                to_km: upper(60.0),
                kn: 10.0,
            },
            Leg::Stop {
                hours: 3.0,
                status: NavigationStatus::AtAnchor,
            },
            Leg::Sail {
                to_km: upper(48.5),
                kn: 6.0,
            },
            Leg::Sail {
                to_km: upper(41.5),
                kn: 1.2,
            },
            Leg::Sail {
                to_km: upper(30.0),
                kn: 10.0,
            },
        ],
    ));
    let cut = lines
        .iter()
        .position(|l| l.at > start + chrono::Duration::hours(5) && !l.line.contains(",2,"))
        .expect("a cut in the lock");
    let feed = async |lines: &[AisLine]| -> Vec<Handled> {
        let mut t = Tracking::new(store.clone(), TrackingConfig::default())
            .await
            .expect("tracking");
        let mut s = Source::new("test".into(), t.stats());
        let mut out = Vec::new();
        for l in lines {
            if let Some(d) = s.handle(Ok(&l.line)) {
                out.push(t.handle(&d, l.at).await.expect("handled"));
            }
        }
        out
    };
    let before = feed(&lines[..cut]).await;
    let after = feed(&lines[cut..]).await;
    let tracked = |h: &[Handled]| {
        h.iter()
            .filter(|h| {
                matches!(
                    h,
                    Handled::Position {
                        outcome: FixOutcome::Tracked { .. },
                        ..
                    }
                )
            })
            .count()
    };
    let positions = lines.iter().filter(|l| !l.line.contains(",2,")).count();
    assert_eq!(tracked(&before) + tracked(&after), positions);

    let states: Vec<String> = store
        .voyage_states("rv-0001")
        .await
        .expect("states")
        .into_iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(
        states,
        [
            "under_way",
            "waiting_for_lock",
            "under_way",
            "in_lock",
            "under_way"
        ]
    );
    let passages = store
        .voyage_lock_passages("rv-0001")
        .await
        .expect("passages");
    assert_eq!(passages.len(), 1, "{passages:?}");
    let x = &passages[0];
    assert_eq!(
        (x.lock.as_str(), x.direction.as_str(), x.inferred),
        ("three-gorges-locks", "downstream", false)
    );
    // Waiting from the first report at anchor until the ship entered the lock area: three
    // hours at anchor, 11.5 km at 6 kn and 0.3 km at lock speed.
    assert!((x.wait_h - 4.17).abs() < 0.2, "{x:?}");
    assert!((x.passage_h - 6.4 / (1.2 * 1.852)).abs() < 0.3, "{x:?}");
    assert_eq!(
        x.event_id,
        tracking::lock_event_id("rv-0001", "three-gorges-locks")
    );
    let e = store
        .event(x.event_id)
        .await
        .expect("read")
        .expect("on the ledger");
    assert_eq!(e.event.biz_step.0, tracking::LOCK_PASSAGE_STEP);
    assert_eq!(e.event.subjects.voyage, Some(id("rv-0001")));
    assert_eq!(e.event.extensions["jh:lock"], "three-gorges-locks");
    assert!(store.verify().await.is_ok());
    // The ledger's events about the voyage: its departure and this one passage.
    let track = store
        .voyage_track("rv-0001")
        .await
        .expect("read")
        .expect("tracked");
    assert_eq!(track.state, "under_way");
    assert!((track.km - upper(30.0)).abs() < 1.5, "{}", track.km);
    // Feeding the same lines again changes nothing.
    let again = feed(&lines).await;
    assert!(again.iter().all(|h| matches!(
        h,
        Handled::Static { .. }
            | Handled::Position {
                outcome: FixOutcome::Duplicate | FixOutcome::Rejected(_),
                ..
            }
    )));
    assert_eq!(
        store
            .voyage_lock_passages("rv-0001")
            .await
            .expect("passages")
            .len(),
        1
    );
}

/// Handles `lines` on `t` as if received when they were sent.
async fn feed_lines(t: &mut Tracking, lines: &[AisLine]) {
    let mut s = Source::new("test".into(), t.stats());
    for l in lines {
        if let Some(d) = s.handle(Ok(&l.line)) {
            t.handle(&d, l.at).await.expect("handled");
        }
    }
}

async fn silence(store: &Store) -> Vec<String> {
    let page = store
        .alerts(
            &jianghai_store::AlertScope::All,
            &jianghai_store::AlertFilter {
                subject: Some(("voyage".into(), "rv-0001".into())),
                ..Default::default()
            },
            "",
            100,
        )
        .await
        .expect("alerts");
    page.items
        .iter()
        .filter(|a| a.rule == "voyage-ais-silence")
        .map(|a| a.state.as_str().to_string())
        .collect()
}

/// The timer raises AIS silence half an hour after the last position of a voyage under way;
/// the next position clears it; once the voyage has arrived the timer lets it go.
async fn silence_is_raised_by_the_timer_while_the_voyage_is_under_way(store: &Store) {
    let now = Utc::now();
    seed(store, now - chrono::Duration::hours(3)).await;
    let sail = |start, from: f64, minutes: f64| {
        render(&script(
            start,
            from,
            2,
            vec![Leg::Sail {
                to_km: from - minutes / 60.0 * 18.52,
                kn: 10.0,
            }],
        ))
    };
    let first = sail(now - chrono::Duration::hours(2), 1_500.0, 60.0);
    let config = TrackingConfig {
        forget_after: Duration::from_millis(200),
        ..TrackingConfig::default()
    };
    let mut t = Tracking::new(store.clone(), config)
        .await
        .expect("tracking");
    feed_lines(&mut t, &first).await;
    assert_eq!(t.voyages(), 1);
    let last = first.last().expect("lines").at;
    // Not yet half an hour after the last position.
    t.tick(last + chrono::Duration::minutes(29))
        .await
        .expect("tick");
    assert!(silence(store).await.is_empty());
    t.tick(now).await.expect("tick");
    assert_eq!(silence(store).await, ["open"]);
    // Ticking on raises nothing more.
    t.tick(now + chrono::Duration::seconds(30))
        .await
        .expect("tick");
    assert_eq!(silence(store).await, ["open"]);
    // A position again: cleared.
    let again = sail(now - chrono::Duration::minutes(4), 1_480.0, 3.0);
    feed_lines(&mut t, &again).await;
    assert_eq!(silence(store).await, ["resolved"]);
    // Arrived: the timer raises nothing, and lets the voyage go once it is idle.
    store
        .append(voyage_event("arriving", now))
        .await
        .expect("arriving");
    t.tick(now + chrono::Duration::hours(2))
        .await
        .expect("tick");
    assert_eq!(t.voyages(), 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    t.tick(now + chrono::Duration::hours(2))
        .await
        .expect("tick");
    assert_eq!(t.voyages(), 0);
    assert_eq!(silence(store).await, ["resolved"]);
}

/// A position report of the river vessel, as one sentence with a tag block timed `at`.
fn report_line(lat: Option<f64>, lon: Option<f64>, at: DateTime<Utc>) -> String {
    let line = jianghai_ais::encode(
        &jianghai_ais::Message::Position(jianghai_ais::message::PositionReport {
            msg_type: 1,
            repeat: 0,
            mmsi: MMSI,
            status: NavigationStatus::UnderWayUsingEngine,
            turn: None,
            speed: Some(9.0),
            accuracy: false,
            lon,
            lat,
            course: None,
            heading: None,
            second: None,
            maneuver: None,
            raim: false,
            radio: 0,
        }),
        &Default::default(),
    )
    .expect("encode")
    .remove(0);
    let body = format!("c:{}", at.timestamp());
    format!(
        "\\{body}*{:02X}\\{line}",
        jianghai_ais::nmea::checksum(body.as_bytes())
    )
}

/// Reports without a position, or timed an hour ahead of their reception, are refused with the
/// reason and store nothing; an aid to navigation is not a ship.
async fn unusable_reports_change_nothing(store: &Store) {
    let now = Utc::now();
    seed(store, now - chrono::Duration::hours(1)).await;
    let mut t = Tracking::new(store.clone(), TrackingConfig::default())
        .await
        .expect("tracking");
    let mut s = Source::new("test".into(), t.stats());
    let mut handle = async |line: &str| {
        let d = s.handle(Ok(line)).expect("decodes");
        t.handle(&d, now).await.expect("handled")
    };
    let why = |h: Handled| match h {
        Handled::Unusable { reason, .. } => reason,
        other => panic!("unexpected {other:?}"),
    };
    let none = handle(&report_line(None, None, now)).await;
    assert_eq!(why(none), "no position (not available)");
    let ahead = handle(&report_line(
        Some(30.5),
        Some(114.3),
        now + chrono::Duration::hours(1),
    ))
    .await;
    assert!(why(ahead).contains("more than 5 min ahead"));
    let aton = jianghai_ais::encode(
        &jianghai_ais::Message::AidToNavigation(jianghai_ais::message::AidToNavigationReport {
            repeat: 0,
            mmsi: 994_131_001,
            aid_type: 1,
            name: jianghai_ais::AisText::new("BUOY").expect("text"),
            accuracy: false,
            lon: Some(114.3),
            lat: Some(30.5),
            dimensions: Default::default(),
            epfd: 1,
            second: None,
            off_position: false,
            regional: 0,
            raim: false,
            virtual_aid: false,
            assigned: false,
        }),
        &Default::default(),
    )
    .expect("encode")
    .remove(0);
    assert_eq!(handle(&aton).await, Handled::NotAShip);
    assert!(
        store
            .voyage_positions("rv-0001")
            .await
            .expect("read")
            .is_empty()
    );
    assert!(store.voyage_track("rv-0001").await.expect("read").is_none());
    let c = t.stats().counts();
    assert_eq!((c.messages, c.ignored, c.positions), (3, 3, 0));
}

/// `Config::ais` end to end: the server connects to the aggregator itself, and what the ship
/// reported is on the HTTP API.
async fn the_server_reads_its_feed_and_answers_over_http(store: &Store) {
    let now = Utc::now();
    seed(store, now - chrono::Duration::hours(2)).await;
    jianghai_server::bootstrap::ensure_user(
        store,
        &id("chongqing-customs"),
        "customs",
        "customs-password",
        jianghai_store::Role::Viewer,
    )
    .await
    .expect("user");
    let lines = render(&script(
        now - chrono::Duration::minutes(30),
        upper(500.0),
        2,
        vec![Leg::Sail {
            to_km: upper(492.0),
            kn: 9.0,
        }],
    ));
    let aggregator = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let feed = aggregator.local_addr().expect("addr").to_string();
    let body: String = lines.iter().map(|l| format!("{}\n", l.line)).collect();
    let serving = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = aggregator.accept().await {
            if s.write_all(body.as_bytes()).await.is_ok() {
                held.push(s);
            }
        }
    });
    let config = jianghai_server::Config {
        ais: AisConfig {
            tcp: vec![feed],
            ..AisConfig::default()
        },
        ..jianghai_server::Config::default()
    };
    let app = jianghai_server::Application::build(
        "127.0.0.1:0",
        jianghai_server::AppState::new(store.clone(), config),
    )
    .await
    .expect("bind");
    let base = format!("http://{}", app.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "customs", "password": "customs-password"}))
        .send()
        .await
        .expect("login");
    let token = res.json::<serde_json::Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_string();
    let last = lines.last().expect("lines").at;
    let track = eventually("the track on the API", async || {
        let b: serde_json::Value = client
            .get(format!("{base}/api/v1/voyages/rv-0001/tracking"))
            .bearer_auth(&token)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (b["track"]["at"].as_str()? == jianghai_core::ledger::format_time(last)).then_some(b)
    })
    .await;
    assert_eq!(track["track"]["state"], "under_way", "{track}");
    let km = track["track"]["km"].as_f64().expect("km");
    assert!((km - upper(492.0)).abs() < 1.0, "{track}");
    let _ = stop.send(());
    server.await.expect("joined").expect("served");
    serving.abort();
}
