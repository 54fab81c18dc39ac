//! `jianghai demo`: the built-in scenario on a real store, then (unless headless) the platform.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use jianghai_core::{OrgKind, Step};
use jianghai_sim::{Scenario, consignment_108};
use jianghai_store::{AppendError, Role, Store, StoreError};

use super::{Outcome, open};

pub async fn run(url: &str, headless: bool, listen: &str, seed: u64) -> anyhow::Result<Outcome> {
    let store = open(url).await?;
    let run = next_run(&store).await?;
    let scenario = consignment_108(Utc::now() - chrono::Duration::days(17), run, seed);
    println!(
        "江海 demo: {} cars from Chongqing Guoyuan to Shanghai Haitong, then Mexico (run {run}, store {url})",
        scenario.cars.len()
    );
    seed_world(&store, &scenario).await?;
    let logins = seed_users(&store, &scenario).await?;
    let (refusals, yard) = play(&store, &scenario, run).await?;
    report(&store, &scenario, &refusals, &yard.lines).await?;
    for line in super::demo_voyage::run(&store, &scenario).await? {
        println!("  {line}");
    }
    let summary = store.verify().await.context("ledger verification failed")?;
    println!(
        "ledger verifies: {} entries, head {}",
        summary.count, summary.head
    );
    // The platform runs from here on: the sensors' readings go in over its HTTP API.
    let config = super::serve::config_from_env()?;
    let app = jianghai_server::Application::build(
        if headless { "127.0.0.1:0" } else { listen },
        jianghai_server::AppState::new(store.clone(), config),
    )
    .await?;
    let addr = app.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        tokio::select! {
            _ = stopped => {}
            _ = super::shutdown_signal() => {}
        }
    }));
    let sensors =
        super::demo_sensors::run(&store, &scenario, run, &format!("http://{addr}")).await?;
    for line in &sensors.lines {
        println!("{line}");
    }
    println!("alerts raised by the watch engine:");
    for a in &sensors.alerts {
        println!(
            "  {:<8} {:<22} {}:{}  {} ({}, {})",
            a.severity.as_str(),
            a.rule,
            a.subject_kind,
            a.subject_id,
            a.title,
            a.opened_at,
            a.state.as_str()
        );
    }
    if let Some((_, _, username, password)) = logins.iter().find(|(k, ..)| *k == OrgKind::Customs) {
        for line in
            super::demo_customs::summary(&format!("http://{addr}"), username, password, run).await?
        {
            println!("  {line}");
        }
    }
    print_logins(&logins, listen);
    if headless {
        let _ = stop.send(());
        server.await??;
        store.close().await;
        return Ok(Outcome::Ok);
    }
    println!("Jianghai is running at http://{addr}/  (Ctrl-C stops it)");
    super::serve::ensure_admin(&store).await?;
    println!(
        "  console: http://{addr}/ (the logins above)  API: http://{addr}/api/v1  docs: http://{addr}/api/docs/"
    );
    server.await??;
    drop(stop);
    store.close().await;
    Ok(Outcome::Ok)
}

/// Each run gets its own voyages and VIN serials, so the demo can be run again on one store.
async fn next_run(store: &Store) -> anyhow::Result<u32> {
    for run in 1..10_000 {
        if store.voyage(&format!("rv-{run:04}")).await?.is_none() {
            return Ok(run);
        }
    }
    anyhow::bail!("this store has hosted 9,999 demo runs; use a fresh one")
}

fn ignore_exists(r: Result<(), StoreError>) -> anyhow::Result<()> {
    match r {
        Ok(()) | Err(StoreError::Exists { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn seed_world(store: &Store, s: &Scenario) -> anyhow::Result<()> {
    for o in &s.world.organisations {
        ignore_exists(store.create_organisation(o).await)?;
    }
    for f in &s.world.facilities {
        ignore_exists(store.create_facility(f).await)?;
    }
    for v in &s.world.vessels {
        ignore_exists(store.create_vessel(v).await)?;
    }
    for v in &s.world.voyages {
        ignore_exists(store.create_voyage(v).await)?;
    }
    Ok(())
}

/// Demo password of each party's user: printed by the demo, never used outside it.
fn demo_password(kind: OrgKind) -> String {
    format!("jianghai-demo-{}", kind.as_str())
}

/// One administrator per party kind (the first organisation of each kind), named after the
/// kind. Returns (kind, organisation, username, password).
async fn seed_users(
    store: &Store,
    s: &Scenario,
) -> anyhow::Result<Vec<(OrgKind, String, String, String)>> {
    let mut out = Vec::new();
    for kind in OrgKind::ALL {
        let Some(org) = s.world.organisations.iter().find(|o| o.kind == kind) else {
            continue;
        };
        let username = kind.as_str().to_string();
        let password = demo_password(kind);
        jianghai_server::bootstrap::ensure_user(store, &org.id, &username, &password, Role::Admin)
            .await?;
        out.push((kind, org.id.to_string(), username, password));
    }
    Ok(out)
}

fn print_logins(logins: &[(OrgKind, String, String, String)], listen: &str) {
    println!(
        "log in as each party (POST http://{listen}/api/v1/auth/login, then Authorization: Bearer <token>):"
    );
    for (kind, org, username, password) in logins {
        println!(
            "  {:<11} {org:<26} {{\"username\":\"{username}\",\"password\":\"{password}\"}}",
            kind.as_str()
        );
    }
}

/// Submits every step; returns the refusals the scenario expected. An unexpected outcome is an
/// error: the demo doubles as an end-to-end check. Gate-ins and the tally go through the
/// yard's real paths ([`super::demo_yard`]) at the scenario's times instead of as raw events.
async fn play(
    store: &Store,
    s: &Scenario,
    run: u32,
) -> anyhow::Result<(Vec<String>, super::demo_yard::YardReport)> {
    let times = |step: Step| -> Vec<_> {
        s.steps
            .iter()
            .filter(|x| x.event.step == Some(step))
            .map(|x| x.event.event_time)
            .collect()
    };
    let (gate_ins, tallies) = (times(Step::GateIn), times(Step::Tally));
    let loads: Vec<_> = s
        .steps
        .iter()
        .filter(|x| x.event.step == Some(Step::Load) && !x.expect_refusal)
        .map(|x| x.event.event_time)
        .collect();
    let river = &s.world.voyages[0].id;
    let mut loading: Option<Vec<String>> = None;
    anyhow::ensure!(
        gate_ins.len() == s.cars.len() && tallies.len() == s.cars.len(),
        "the scenario gates in and tallies each car once"
    );
    let mut yard = None;
    let bar = ProgressBar::new(s.steps.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut refusals = Vec::new();
    let mut customs = Vec::new();
    let mut transshipped = Vec::new();
    for step in &s.steps {
        bar.set_message(step.label.clone());
        if matches!(step.event.step, Some(Step::GateIn | Step::Tally)) {
            if yard.is_none() {
                yard = Some(super::demo_yard::run(store, s, run, &gate_ins, &tallies).await?);
            }
            bar.inc(1);
            continue;
        }
        // Loading goes through the stowage plan and the ramp ([`super::demo_loading`]); the
        // river departure waits for load-complete.
        if step.event.step == Some(Step::Load) && !step.expect_refusal {
            if loading.is_none() {
                loading = Some(super::demo_loading::run(store, s, &loads).await?);
            }
            bar.inc(1);
            continue;
        }
        // The customs transit, the transshipment and the export go through the customs and
        // transshipment store paths ([`super::demo_customs`]) at the scenario's times.
        if !step.expect_refusal
            && let Some(line) = customs_step(store, s, run, step, &mut transshipped).await?
        {
            customs.push(line);
            bar.inc(1);
            continue;
        }
        if step.event.step == Some(Step::Depart)
            && step.event.subjects.voyage.as_ref() == Some(river)
            && let Some(lines) = loading.as_mut()
        {
            lines.push(super::demo_loading::complete(store, s, step.event.event_time).await?);
        }
        // Recorded at the scenario's time, like the steps through the platform's paths, so the
        // ledger's record times follow its order.
        let recorded = store
            .append_batch_at(
                vec![step.event.clone()],
                step.event.event_time.with_timezone(&Utc),
            )
            .await;
        match (recorded, step.expect_refusal) {
            (Ok(_), false) => {}
            (Err(AppendError::Lifecycle { error, .. }), true) => {
                refusals.push(format!("{}: refused: {error}", step.label));
            }
            (Ok(_), true) => {
                bar.abandon();
                anyhow::bail!(
                    "{}: the platform accepted a step it must refuse",
                    step.label
                )
            }
            (Err(e), _) => {
                bar.abandon();
                return Err(anyhow::Error::new(e).context(step.label.clone()));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut yard = yard.context("the scenario has no yard")?;
    yard.lines
        .extend(loading.context("the scenario loads no car")?);
    yard.lines.extend(customs);
    Ok((refusals, yard))
}

/// A customs, transshipment or export step through the platform's paths: `Some(line)` when
/// `step` was one (the line may be empty), `None` otherwise.
async fn customs_step(
    store: &Store,
    s: &Scenario,
    run: u32,
    step: &jianghai_sim::ScenarioStep,
    transshipped: &mut Vec<chrono::Duration>,
) -> anyhow::Result<Option<String>> {
    use super::demo_customs as c;
    let at = step.event.event_time;
    let first_vin = || {
        step.event
            .subjects
            .vins
            .first()
            .copied()
            .context("a step without car")
    };
    Ok(Some(match step.event.step {
        Some(Step::Declare) => {
            let filed = c::file(
                store,
                s,
                at.with_timezone(&Utc) - chrono::Duration::hours(1),
            )
            .await?;
            format!("{filed}\n  {}", c::declare(store, s, run, at).await?)
        }
        Some(Step::Hold) => {
            c::hold(store, run, &first_vin()?, at).await?;
            format!("customs hold {} for inspection", first_vin()?)
        }
        Some(Step::Release) => {
            c::release(store, run, &first_vin()?, at).await?;
            format!(
                "customs release {}; transit {} released",
                first_vin()?,
                c::number(run)
            )
        }
        Some(Step::CloseTransit) => c::close(store, run, at).await?,
        Some(Step::Transship) => {
            if transshipped.is_empty() {
                let export = s
                    .steps
                    .iter()
                    .find(|x| x.event.step == Some(Step::Export))
                    .context("the scenario exports nothing")?
                    .event
                    .event_time;
                let line = c::ocean_leg(store, s, at, export).await?;
                transshipped.push(c::transship(store, s, first_vin()?, at).await?);
                return Ok(Some(line));
            }
            transshipped.push(c::transship(store, s, first_vin()?, at).await?);
            return Ok(Some(String::new()));
        }
        Some(Step::Export) => {
            let n = c::export(store, s, at).await?;
            let mean = transshipped.iter().map(|d| d.num_minutes()).sum::<i64>()
                / i64::try_from(transshipped.len().max(1)).unwrap_or(1);
            format!(
                "transshipped {} cars through the yard at Haitong (mean dwell {} h {} min); export confirmed for {n} cars",
                transshipped.len(),
                mean / 60,
                mean % 60
            )
        }
        _ => return Ok(None),
    }))
}

async fn report(
    store: &Store,
    s: &Scenario,
    refusals: &[String],
    yard: &[String],
) -> anyhow::Result<()> {
    println!(
        "{} events submitted (gate-ins and the tally through the yard, loading by ramp scans)",
        s.steps
            .iter()
            .filter(|x| !matches!(x.event.step, Some(Step::GateIn | Step::Tally)))
            .filter(|x| x.event.step != Some(Step::Load) || x.expect_refusal)
            .count()
    );
    for line in yard.iter().filter(|l| !l.is_empty()) {
        println!("  {line}");
    }
    for r in refusals {
        println!("  {r}");
    }
    let electric = s
        .cars
        .iter()
        .filter(|c| c.model.powertrain.is_electric())
        .count();
    println!(
        "  cars: {} petrol, {} electric or plug-in",
        s.cars.len() - electric,
        electric
    );
    let mut exported = 0;
    for c in &s.cars {
        if let Some(v) = store.vehicle(&c.vin).await?
            && v.status.state == jianghai_core::VehicleState::Exported
        {
            exported += 1;
        }
    }
    println!("  exported: {exported} of {}", s.cars.len());
    if let Some(first) = s.cars.first() {
        println!(
            "  timeline of {} ({} {}): jianghai events timeline {}",
            first.vin, first.model.maker, first.model.model, first.vin
        );
    }
    Ok(())
}
