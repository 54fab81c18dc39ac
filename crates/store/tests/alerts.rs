//! Alerts on both engines: one open alert per (rule, subject) under concurrent raises from
//! separate connection pools, the lifecycle, escalation, scopes and the ordered alert log.

mod common;

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use common::*;
use jianghai_core::Step;
use jianghai_store::{
    AlertAction, AlertDraft, AlertError, AlertFilter, AlertScope, AlertState, Severity, Store,
    StoreError,
};
use serde_json::json;
use uuid::Uuid;

/// Two stores (separate connection pools) over one database, so concurrent writers really
/// are different connections.
struct Pair {
    a: Store,
    b: Store,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite_pair() -> Pair {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("alerts.db").display());
    let a = Store::open(&url).await.expect("open a");
    let b = Store::open(&url).await.expect("open b");
    Pair {
        a,
        b,
        _dir: Some(dir),
    }
}

async fn postgres_pair() -> Pair {
    let url = format!("{}?schema=t_{}", postgres_url(), Uuid::new_v4().simple());
    let a = Store::open(&url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at {} is required for these tests: {e}",
            postgres_url()
        )
    });
    let b = Store::open(&url).await.expect("open b");
    Pair { a, b, _dir: None }
}

macro_rules! both_engines {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let p = super::sqlite_pair().await;
                    super::$case(&p).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let p = super::postgres_pair().await;
                    super::$case(&p).await;
                }
            }
        )*
    };
}

both_engines!(
    concurrent_raises_never_duplicate,
    raises_in_one_transaction_open_repeat_and_log_like_single_ones,
    repeats_update_and_clear_resolves,
    lifecycle_moves_forward_only,
    unacknowledged_alerts_escalate,
    scopes_follow_the_subject,
    bad_drafts_are_refused,
    the_log_is_gapless_and_resumable,
);

fn t0() -> DateTime<Utc> {
    now() - Duration::hours(1)
}

fn draft(rule: &str, kind: &str, id: &str, severity: Severity, at: DateTime<Utc>) -> AlertDraft {
    AlertDraft {
        rule: rule.into(),
        subject_kind: kind.into(),
        subject_id: id.into(),
        severity,
        title: format!("{rule} on {kind}:{id}"),
        detail: "detail".into(),
        evidence: json!([{"device": "s-1", "sensor": "t", "value": 47.5, "time": at.to_rfc3339()}]),
        at,
        source: "watch".into(),
    }
}

async fn concurrent_raises_never_duplicate(p: &Pair) {
    seed(&p.a).await;
    // 2 × 16 raises of the same rule on the same subject at the same instant, from two pools.
    let mut tasks = Vec::new();
    for i in 0..32 {
        let store = if i % 2 == 0 { p.a.clone() } else { p.b.clone() };
        let d = draft(
            "deck-heat",
            "deck",
            "minsheng-8/D3",
            Severity::Warning,
            t0(),
        );
        tasks.push(tokio::spawn(async move { store.raise_alert(&d).await }));
    }
    let mut created = 0;
    let mut ids = HashSet::new();
    for t in tasks {
        let r = t.await.expect("join").expect("raise");
        created += usize::from(r.created);
        ids.insert(r.alert.id);
    }
    assert_eq!(created, 1, "exactly one raise opens the alert");
    assert_eq!(ids.len(), 1, "every raise lands on the same alert");
    let page =
        p.a.alerts(&AlertScope::All, &AlertFilter::default(), "", 100)
            .await
            .expect("list");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].count, 32);
    // The database refuses a second open alert even behind the platform's back.
    let id = Uuid::now_v7();
    let sneak = format!(
        "INSERT INTO alerts (id, rule, subject_kind, subject_id, owner, source, severity, state, \
         title, detail, evidence, last_evidence, opened_at, last_seen, count, escalation) VALUES \
         ('{id}', 'deck-heat', 'deck', 'minsheng-8/D3', 'minsheng-8', 'watch', 'warning', 'open', \
         't', 'd', '[]', '[]', 'x', 'x', 1, 0)"
    );
    assert!(p.b.execute_raw(&sneak).await.is_err());
    let events =
        p.a.alert_events_after(&AlertScope::All, 0, i64::MAX, 100)
            .await
            .expect("log");
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        vec!["raised"]
    );
}

async fn raises_in_one_transaction_open_repeat_and_log_like_single_ones(p: &Pair) {
    seed(&p.a).await;
    let d3 = draft(
        "deck-heat",
        "deck",
        "minsheng-8/D3",
        Severity::Warning,
        t0(),
    );
    let d4 = draft(
        "deck-heat",
        "deck",
        "minsheng-8/D4",
        Severity::Warning,
        t0(),
    );
    let worse = AlertDraft {
        severity: Severity::Critical,
        ..d3.clone()
    };
    let bad = AlertDraft {
        subject_kind: "planet".into(),
        ..d4.clone()
    };
    // A bad draft refuses the whole call, and nothing of it is written.
    assert!(p.a.raise_alerts(&[d3.clone(), bad]).await.is_err());
    assert!(
        p.a.alert_events_after(&AlertScope::All, 0, i64::MAX, 100)
            .await
            .expect("log")
            .is_empty()
    );
    // D3 opened, D4 opened, D3 repeated with a higher severity, D3 repeated: in one call.
    let out =
        p.a.raise_alerts(&[d3.clone(), d4, worse, d3])
            .await
            .expect("raise");
    assert_eq!(
        out.iter().map(|r| r.created).collect::<Vec<_>>(),
        vec![true, true, false, false]
    );
    assert_eq!(out[0].alert.id, out[2].alert.id);
    assert_eq!(out[3].alert.count, 3);
    assert_eq!(out[3].alert.severity, Severity::Critical);
    // The log has what single raises would have written, in order, and the other pool sees it.
    let events =
        p.b.alert_events_after(&AlertScope::All, 0, i64::MAX, 100)
            .await
            .expect("log");
    assert_eq!(
        events
            .iter()
            .map(|e| (e.kind.as_str(), e.alert.id))
            .collect::<Vec<_>>(),
        vec![
            ("raised", out[0].alert.id),
            ("raised", out[1].alert.id),
            ("updated", out[0].alert.id)
        ]
    );
    assert_eq!(p.a.alert_log_head().await.expect("head"), 3);
}

async fn repeats_update_and_clear_resolves(p: &Pair) {
    let s = &p.a;
    seed(s).await;
    let first = s
        .raise_alert(&draft(
            "deck-heat",
            "deck",
            "minsheng-8/D1",
            Severity::Warning,
            t0(),
        ))
        .await
        .expect("raise");
    assert!(first.created);
    assert_eq!(first.alert.state, AlertState::Open);
    assert_eq!(first.alert.count, 1);
    let mut later = draft(
        "deck-heat",
        "deck",
        "minsheng-8/D1",
        Severity::Critical,
        t0() + Duration::minutes(3),
    );
    later.evidence = json!([{"value": 56.0}]);
    let second = s.raise_alert(&later).await.expect("repeat");
    assert!(!second.created);
    assert_eq!(second.alert.id, first.alert.id);
    assert_eq!(second.alert.count, 2);
    assert_eq!(
        second.alert.severity,
        Severity::Critical,
        "severity only rises"
    );
    assert_eq!(
        second.alert.evidence, first.alert.evidence,
        "opening evidence kept"
    );
    assert_eq!(second.alert.last_evidence, json!([{"value": 56.0}]));
    assert!(second.alert.last_seen > first.alert.last_seen);
    // A late repeat (older event time, lower severity) moves neither last_seen nor severity.
    let late = s
        .raise_alert(&draft(
            "deck-heat",
            "deck",
            "minsheng-8/D1",
            Severity::Warning,
            t0(),
        ))
        .await
        .expect("late");
    assert_eq!(late.alert.severity, Severity::Critical);
    assert_eq!(late.alert.last_seen, second.alert.last_seen);
    // Another rule on the same subject is another alert.
    let other = s
        .raise_alert(&draft(
            "deck-condensation",
            "deck",
            "minsheng-8/D1",
            Severity::Warning,
            t0(),
        ))
        .await
        .expect("other rule");
    assert!(other.created);

    let cleared = s
        .clear_alert(
            "deck-heat",
            "deck",
            "minsheng-8/D1",
            t0() + Duration::minutes(10),
        )
        .await
        .expect("clear")
        .expect("an open alert");
    assert_eq!(cleared.id, first.alert.id);
    assert_eq!(cleared.state, AlertState::Resolved);
    assert_eq!(cleared.resolution.as_deref(), Some("cleared"));
    assert_eq!(cleared.resolved_by, None);
    assert!(
        s.clear_alert("deck-heat", "deck", "minsheng-8/D1", t0())
            .await
            .expect("clear again")
            .is_none(),
        "nothing open to clear"
    );
    // The condition returns: a new alert opens; the resolved one stays resolved.
    let again = s
        .raise_alert(&draft(
            "deck-heat",
            "deck",
            "minsheng-8/D1",
            Severity::Warning,
            t0() + Duration::minutes(20),
        ))
        .await
        .expect("again");
    assert!(again.created);
    assert_ne!(again.alert.id, first.alert.id);
    let open = s
        .alerts(
            &AlertScope::All,
            &AlertFilter {
                state: Some(AlertState::Open),
                subject: Some(("deck".into(), "minsheng-8/D1".into())),
                ..Default::default()
            },
            "",
            10,
        )
        .await
        .expect("list");
    assert_eq!(open.items.len(), 2);
    let kinds: Vec<String> = s
        .alert_events_after(&AlertScope::All, 0, i64::MAX, 100)
        .await
        .expect("log")
        .into_iter()
        .map(|e| format!("{}:{}", e.kind, e.alert.rule))
        .collect();
    assert_eq!(
        kinds,
        vec![
            "raised:deck-heat",
            "updated:deck-heat",
            "raised:deck-condensation",
            "resolved:deck-heat",
            "raised:deck-heat"
        ]
    );
}

async fn lifecycle_moves_forward_only(p: &Pair) {
    let s = &p.a;
    seed(s).await;
    let all = AlertScope::All;
    let a = s
        .raise_alert(&draft(
            "door-open",
            "deck",
            "minsheng-8/D2",
            Severity::Critical,
            t0(),
        ))
        .await
        .expect("raise")
        .alert;
    let at = t0() + Duration::minutes(1);
    let acked = s
        .acknowledge_alert(a.id, &all, "user:captain", at)
        .await
        .expect("ack");
    assert_eq!(acked.state, AlertState::Acknowledged);
    assert_eq!(acked.acknowledged_by.as_deref(), Some("user:captain"));
    match s.acknowledge_alert(a.id, &all, "user:mate", at).await {
        Err(AlertError::State { state, action }) => {
            assert_eq!(
                (state, action),
                (AlertState::Acknowledged, AlertAction::Acknowledge)
            )
        }
        other => panic!("acknowledging twice: {other:?}"),
    }
    let assigned = s
        .assign_alert(a.id, &all, Some("bosun"), "user:captain")
        .await
        .expect("assign");
    assert_eq!(assigned.assignee.as_deref(), Some("bosun"));
    s.comment_alert(a.id, &all, "user:bosun", "door 2 latched again", at)
        .await
        .expect("comment");
    let resolved = s
        .resolve_alert(a.id, &all, "user:bosun", Some("latch replaced"), at)
        .await
        .expect("resolve");
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(resolved.resolution.as_deref(), Some("latch replaced"));
    assert!(matches!(
        s.resolve_alert(a.id, &all, "user:bosun", None, at).await,
        Err(AlertError::State {
            state: AlertState::Resolved,
            ..
        })
    ));
    assert!(matches!(
        s.assign_alert(a.id, &all, None, "user:bosun").await,
        Err(AlertError::State { .. })
    ));
    // Comments are welcome after the fact; they are kept in order.
    s.comment_alert(a.id, &all, "user:captain", "post-mortem filed", at)
        .await
        .expect("late comment");
    let comments = s.alert_comments(a.id).await.expect("comments");
    assert_eq!(
        comments.iter().map(|c| c.body.as_str()).collect::<Vec<_>>(),
        vec!["door 2 latched again", "post-mortem filed"]
    );
    assert!(matches!(
        s.comment_alert(a.id, &all, "user:x", "  ", at).await,
        Err(AlertError::Invalid(_))
    ));
    // An unknown alert is NotFound for every action.
    let ghost = Uuid::now_v7();
    assert!(matches!(
        s.acknowledge_alert(ghost, &all, "user:x", at).await,
        Err(AlertError::NotFound(_))
    ));
    // Two people acknowledging at once: one wins, the other is told it is acknowledged.
    let b = s
        .raise_alert(&draft(
            "door-open",
            "deck",
            "minsheng-8/D4",
            Severity::Critical,
            t0(),
        ))
        .await
        .expect("raise")
        .alert;
    let (x, y) = tokio::join!(
        p.a.acknowledge_alert(b.id, &all, "user:one", at),
        p.b.acknowledge_alert(b.id, &all, "user:two", at)
    );
    assert_eq!(
        [x.is_ok(), y.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{x:?} {y:?}"
    );
}

async fn unacknowledged_alerts_escalate(p: &Pair) {
    let s = &p.a;
    seed(s).await;
    let start = t0();
    let crit = s
        .raise_alert(&draft(
            "ev-thermal",
            "deck",
            "minsheng-8/D3",
            Severity::Critical,
            start,
        ))
        .await
        .expect("raise")
        .alert;
    let acked = s
        .raise_alert(&draft(
            "ev-thermal",
            "deck",
            "minsheng-8/D4",
            Severity::Critical,
            start,
        ))
        .await
        .expect("raise")
        .alert;
    s.acknowledge_alert(acked.id, &AlertScope::All, "user:x", start)
        .await
        .expect("ack");
    s.raise_alert(&draft(
        "deck-humid",
        "deck",
        "minsheng-8/D3",
        Severity::Warning,
        start,
    ))
    .await
    .expect("raise");
    let every = Duration::minutes(5);
    let run =
        |m: i64| s.escalate_alerts(Severity::Critical, every, 2, start + Duration::minutes(m));
    assert!(run(4).await.expect("escalate").is_empty());
    let first = run(5).await.expect("escalate");
    assert_eq!(first.len(), 1, "only the unacknowledged critical alert");
    assert_eq!((first[0].id, first[0].escalation), (crit.id, 1));
    assert!(
        run(6).await.expect("escalate").is_empty(),
        "waits another period"
    );
    assert_eq!(run(10).await.expect("escalate")[0].escalation, 2);
    assert!(
        run(30).await.expect("escalate").is_empty(),
        "capped at max level"
    );
    let log = s
        .alert_events_after(&AlertScope::All, 0, i64::MAX, 100)
        .await
        .expect("log");
    let escalations: Vec<&str> = log
        .iter()
        .filter(|e| e.kind == "escalated")
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(
        escalations,
        vec![
            "not acknowledged: escalated to level 1",
            "not acknowledged: escalated to level 2"
        ]
    );
}

async fn scopes_follow_the_subject(p: &Pair) {
    let s = &p.a;
    seed(s).await;
    let car = vin(77);
    drive(s, &[car], &[Step::Register], 1).await;
    s.create_shipment(&jianghai_core::Shipment {
        id: id("sh-1"),
        exporter: id("changan-export"),
        destination_country: "MX".into(),
        vins: vec![car],
        voyage: None,
        dangerous_goods: Vec::new(),
    })
    .await
    .expect("shipment");
    let mut ids = std::collections::BTreeMap::new();
    for (name, kind, subject) in [
        ("deck", "deck", "minsheng-8/D3"),
        ("vessel", "vessel", "minsheng-8"),
        ("voyage", "voyage", "v2025-001"),
        ("yard", "facility", "guoyuan-yard"),
        ("yard-zone", "zone", "guoyuan-yard/Z1"),
        ("vehicle", "vehicle", car.as_str()),
        ("shipment", "shipment", "sh-1"),
        ("elsewhere", "vessel", "someone-elses-ship"),
    ] {
        let a = s
            .raise_alert(&draft("r", kind, subject, Severity::Warning, t0()))
            .await
            .expect("raise")
            .alert;
        ids.insert(a.id, name);
    }
    let seen = |scope: AlertScope| {
        let ids = ids.clone();
        async move {
            let page = s
                .alerts(&scope, &AlertFilter::default(), "", 100)
                .await
                .expect("list");
            let mut names: Vec<&str> = page.items.iter().map(|a| ids[&a.id]).collect();
            names.sort();
            // Single reads agree with the listing.
            for aid in ids.keys() {
                let one = s.alert_in(*aid, &scope).await.expect("read");
                assert_eq!(one.is_some(), page.items.iter().any(|a| a.id == *aid));
            }
            names
        }
    };
    assert_eq!(
        seen(AlertScope::ExportedBy(id("changan-export"))).await,
        vec!["shipment", "vehicle"]
    );
    assert_eq!(
        seen(AlertScope::CarriedBy(id("minsheng-shipping"))).await,
        vec!["deck", "vessel", "voyage"]
    );
    assert_eq!(
        seen(AlertScope::OperatedBy(id("guoyuan-port"))).await,
        vec!["yard", "yard-zone"]
    );
    assert_eq!(seen(AlertScope::All).await.len(), 8);
    assert!(
        seen(AlertScope::ExportedBy(id("chongqing-customs")))
            .await
            .is_empty()
    );
    // Once the vehicle is gated in at the port's yard and loaded on the carrier's voyage, they
    // see its alerts too (the same relation as the vehicle policy).
    let mut gate = step_event(50, Step::GateIn, 20, &[car], "guoyuan-port");
    gate.read_point = Some(id("guoyuan-yard"));
    s.append_batch_at(vec![gate], now()).await.expect("gate in");
    assert!(
        seen(AlertScope::OperatedBy(id("guoyuan-port")))
            .await
            .contains(&"vehicle")
    );
    assert!(
        !seen(AlertScope::CarriedBy(id("minsheng-shipping")))
            .await
            .contains(&"vehicle")
    );
    // Acting outside the scope is NotFound, like reading.
    let deck = ids
        .iter()
        .find(|(_, n)| **n == "deck")
        .map(|(i, _)| *i)
        .expect("deck");
    assert!(matches!(
        s.acknowledge_alert(
            deck,
            &AlertScope::ExportedBy(id("changan-export")),
            "user:x",
            now()
        )
        .await,
        Err(AlertError::NotFound(_))
    ));
    assert!(matches!(
        s.comment_alert(
            deck,
            &AlertScope::OperatedBy(id("guoyuan-port")),
            "user:x",
            "hi",
            now()
        )
        .await,
        Err(AlertError::NotFound(_))
    ));
    let log = s
        .alert_events_after(
            &AlertScope::CarriedBy(id("minsheng-shipping")),
            0,
            i64::MAX,
            100,
        )
        .await
        .expect("log");
    assert_eq!(log.len(), 3, "the live log is scoped like the listing");
    // Once its shipment is booked on the voyage, the exporter sees the voyage's alerts too.
    assert!(
        s.book_shipment("sh-1", &id("changan-export"), &id("v2025-001"))
            .await
            .expect("book")
    );
    assert_eq!(
        seen(AlertScope::ExportedBy(id("changan-export"))).await,
        vec!["shipment", "vehicle", "voyage"]
    );
}

async fn bad_drafts_are_refused(p: &Pair) {
    let s = &p.a;
    seed(s).await;
    let good = draft("r", "deck", "minsheng-8/D1", Severity::Info, t0());
    let cases: Vec<(AlertDraft, &str)> = vec![
        (
            AlertDraft {
                subject_kind: "planet".into(),
                ..good.clone()
            },
            "subject kind",
        ),
        (
            AlertDraft {
                rule: " ".into(),
                ..good.clone()
            },
            "rule",
        ),
        (
            AlertDraft {
                title: "x".repeat(201),
                ..good.clone()
            },
            "title",
        ),
        (
            AlertDraft {
                evidence: json!({"blob": "x".repeat(70_000)}),
                ..good.clone()
            },
            "evidence",
        ),
    ];
    for (d, word) in cases {
        match s.raise_alert(&d).await {
            Err(StoreError::Invalid(m)) => assert!(m.contains(word), "{m}"),
            other => panic!("{word}: {other:?}"),
        }
    }
    let page = s
        .alerts(&AlertScope::All, &AlertFilter::default(), "", 10)
        .await
        .expect("list");
    assert!(page.items.is_empty(), "nothing of a refused raise is kept");
    assert_eq!(s.alert_log_head().await.expect("head"), 0);
}

async fn the_log_is_gapless_and_resumable(p: &Pair) {
    seed(&p.a).await;
    let mut changes = p.a.alert_log_changes();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = if i % 2 == 0 { p.a.clone() } else { p.b.clone() };
        tasks.push(tokio::spawn(async move {
            let a = store
                .raise_alert(&draft(
                    "r",
                    "deck",
                    &format!("minsheng-8/D{i}"),
                    Severity::Warning,
                    t0(),
                ))
                .await
                .expect("raise")
                .alert;
            store
                .comment_alert(a.id, &AlertScope::All, "user:x", "seen", t0())
                .await
                .expect("comment");
        }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    let head = p.a.alert_log_head().await.expect("head");
    assert_eq!(head, 48);
    let log =
        p.b.alert_events_after(&AlertScope::All, 0, head, 1_000)
            .await
            .expect("log");
    assert_eq!(
        log.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=48).collect::<Vec<_>>(),
        "numbers are dense and ordered"
    );
    // A reader that saw up to 30 resumes at 31.
    let rest =
        p.a.alert_events_after(&AlertScope::All, 30, head, 1_000)
            .await
            .expect("resume");
    assert_eq!(rest.first().map(|e| e.seq), Some(31));
    assert_eq!(rest.len(), 18);
    // The in-process watch saw this store's commits.
    assert!(changes.has_changed().expect("watch open"));
    assert!(*changes.borrow_and_update() > 0);
}
