//! The demo's river voyage: the ship sails Guoyuan → Waigaoqiao as AIS sentences the simulator
//! encodes ([`jianghai_sim::ais::river_voyage`]), served by a loopback aggregator and read by
//! the platform's own TCP feed — the path `jianghai serve --ais-tcp` takes — with a wait above
//! the Three Gorges locks, a detour off the corridor and an AIS gap on the way.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use jianghai_core::{Facility, Step};
use jianghai_server::feeds::{self, AisConfig};
use jianghai_sim::Scenario;
use jianghai_sim::ais::{AisLine, river_voyage};
use jianghai_store::{AlertFilter, AlertScope, Store, VoyagePlan};
use jianghai_waterway::{Datums, Position, Waterway};
use tokio::io::AsyncWriteExt;

/// China Standard Time, as the crews and the report read it.
fn fmt_time(t: DateTime<Utc>) -> String {
    match chrono::FixedOffset::east_opt(8 * 3600) {
        Some(cst) => t.with_timezone(&cst).format("%m-%d %H:%M").to_string(),
        None => t.format("%m-%d %H:%M UTC").to_string(),
    }
}

fn km_of(w: &Waterway, f: &Facility) -> anyhow::Result<f64> {
    let p = f
        .position
        .with_context(|| format!("facility {} has no position", f.id))?;
    w.project(Position::new(p.lon, p.lat))
        .map(|pr| pr.km)
        .with_context(|| format!("facility {} is not on the waterway", f.id))
}

/// Messages in `lines` once decoded (a type 5 takes two sentences).
fn messages(lines: &[AisLine]) -> u64 {
    let mut d = jianghai_ais::Decoder::default();
    lines
        .iter()
        .filter(|l| matches!(d.handle_line(&l.line, Duration::ZERO), Ok(Some(_))))
        .count() as u64
}

/// Sails the scenario's river voyage through the AIS feed; returns the report's lines.
pub async fn run(store: &Store, s: &Scenario) -> anyhow::Result<Vec<String>> {
    let voyage = s
        .world
        .voyages
        .first()
        .context("the scenario has no voyage")?;
    let vessel = s
        .world
        .vessels
        .iter()
        .find(|v| v.id == voyage.vessel)
        .context("the voyage's vessel")?;
    let mmsi = vessel.mmsi.context("the river vessel has no MMSI")?;
    let when = |step: Step| {
        s.steps
            .iter()
            .find(|x| {
                x.event.step == Some(step) && x.event.subjects.voyage.as_ref() == Some(&voyage.id)
            })
            .map(|x| x.event.event_time.with_timezone(&Utc))
            .with_context(|| format!("the scenario has no {step} of {}", voyage.id))
    };
    let (depart, arrive) = (when(Step::Depart)?, when(Step::Arrive)?);
    let facility = |id: &jianghai_core::Ident| {
        s.world
            .facilities
            .iter()
            .find(|f| &f.id == id)
            .with_context(|| format!("facility {id}"))
    };
    let waterway = Waterway::yangtze(Datums::default())?;
    let from_km = km_of(&waterway, facility(&voyage.origin)?)?;
    let to_km = km_of(&waterway, facility(&voyage.destination)?)?;
    let plan = river_voyage(
        mmsi,
        &vessel.name,
        &waterway,
        from_km,
        to_km,
        depart,
        arrive,
    );
    let lines = plan.script.render(&waterway)?;
    let expected = messages(&lines);
    // The plan the ETA is held against: arrival as scheduled, the transit limit two days on.
    store
        .set_voyage_plan(&VoyagePlan {
            voyage: voyage.id.clone(),
            planned_arrival: Some(arrive),
            transit_deadline: Some(arrive + chrono::Duration::days(2)),
        })
        .await?;

    // A loopback aggregator with the voyage's log, and the platform's feed reading it.
    let aggregator = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = aggregator.local_addr()?;
    let body: String = lines.iter().map(|l| format!("{}\r\n", l.line)).collect();
    let serving = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut conn, _)) = aggregator.accept().await {
            if conn.write_all(body.as_bytes()).await.is_ok() {
                held.push(conn);
            }
        }
    });
    let service = feeds::start(
        store,
        &AisConfig {
            tcp: vec![addr.to_string()],
            ..AisConfig::default()
        },
    )
    .await?;
    let bar = ProgressBar::new(expected);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} AIS messages")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let counts = loop {
        let c = service.stats().counts();
        bar.set_position(c.messages);
        if c.messages >= expected {
            break c;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bar.abandon();
            anyhow::bail!(
                "the AIS feed stalled: {} of {expected} messages handled",
                c.messages
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    bar.finish_and_clear();
    drop(service);
    serving.abort();
    anyhow::ensure!(
        counts.errors == 0 && counts.bad_lines == 0,
        "the AIS feed failed on {} messages and {} lines",
        counts.errors,
        counts.bad_lines
    );

    let v = voyage.id.as_str();
    let mut out = vec![format!(
        "river voyage {v}: {} AIS sentences from a loopback aggregator over the TCP feed, {} positions tracked",
        lines.len(),
        counts.fixes
    )];
    if let Some(t) = store.voyage_track(v).await? {
        out.push(format!(
            "  {:.0} of {:.0} km ({:.0}%), {} at km {:.1} since {}",
            t.done_km,
            t.total_km,
            t.percent,
            t.state,
            t.km,
            fmt_time(t.state_since)
        ));
    }
    for x in store.voyage_lock_passages(v).await? {
        let wait = match x.waiting_since {
            Some(w) => format!("waited {:.1} h from {}", x.wait_h, fmt_time(w)),
            None => "no wait".into(),
        };
        out.push(format!(
            "  lock {}: {wait}, {:.1} h in the lock, out at {}{} (ledger event {})",
            x.lock,
            x.passage_h,
            fmt_time(x.left),
            if x.inferred { ", inferred" } else { "" },
            &x.event_id.to_string()[..8]
        ));
    }
    let alerts = store
        .alerts(
            &AlertScope::All,
            &AlertFilter {
                subject: Some(("voyage".into(), v.to_string())),
                ..AlertFilter::default()
            },
            "",
            100,
        )
        .await?;
    let mut items = alerts.items;
    items.sort_by(|a, b| a.opened_at.cmp(&b.opened_at));
    for a in items {
        out.push(format!(
            "  alert {} ({}, {}): {}",
            a.rule,
            a.severity.as_str(),
            a.state.as_str(),
            a.detail
        ));
    }
    Ok(out)
}
