//! The demo's consolidation yard (集并理货): gate-ins by truck, a tally session that reads
//! labels from camera photos and handheld scanners, and its two discrepancies — one car
//! missing (its truck is late; tallied by hand when it arrives) and one unreadable label
//! (the vision system is unsure; the tallyman types the VIN).

use anyhow::Context;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use jianghai_core::{Actor, Event, Ident, Shipment, Step, Vin};
use jianghai_sim::{Scenario, ids};
use jianghai_store::{AlertFilter, AlertScope, By, NewGateIn, NewIdentification, Store};
use jianghai_tally::render::{Distortion, SYMBOLOGIES, photograph, vin_label};
use jianghai_tally::{Identification, ImageLimits, Outcome, Source};
use uuid::Uuid;

/// The car whose truck is late, and the one whose label cannot be read.
const LATE: usize = 76;
const UNREADABLE: usize = 60;
/// Every twelfth car is identified from a yard-camera photo, the rest by handheld scanner.
const CAMERA_EVERY: usize = 12;

/// What the yard phase did, for the demo's report.
pub struct YardReport {
    pub lines: Vec<String>,
}

fn id(s: &str) -> anyhow::Result<Ident> {
    Ident::parse(s).map_err(|e| anyhow::anyhow!("{s}: {e}"))
}

/// Runs the yard: `gate_ins` and `tallies` are the scenario's times for each car (in car
/// order), which the yard keeps except for the late car.
pub async fn run(
    store: &Store,
    s: &Scenario,
    run: u32,
    gate_ins: &[DateTime<FixedOffset>],
    tallies: &[DateTime<FixedOffset>],
) -> anyhow::Result<YardReport> {
    let yard = id(ids::YARD)?;
    let by = By {
        organisation: id(ids::YARD_PORT)?,
        username: "tallyman".into(),
    };
    let mut lines = Vec::new();
    let vins: Vec<Vin> = s.cars.iter().map(|c| c.vin).collect();
    let shipment = id(&format!("sh-{run:04}"))?;
    store
        .create_shipment(&Shipment {
            id: shipment.clone(),
            exporter: id(ids::EXPORTER)?,
            destination_country: "MX".into(),
            vins: vins.clone(),
            voyage: None,
            dangerous_goods: Vec::new(),
        })
        .await
        .map_err(|e| anyhow::anyhow!("shipment {shipment}: {e}"))?;
    store
        .book_shipment(
            shipment.as_str(),
            &id(ids::EXPORTER)?,
            &s.world.voyages[0].id,
        )
        .await?;

    for (i, v) in vins.iter().enumerate() {
        if i != LATE {
            gate_in(store, &yard, &by, *v, gate_ins[i].with_timezone(&Utc), i).await?;
        }
    }
    lines.push(format!(
        "gate-in at {yard}: {} of {} cars by truck; {} is late",
        vins.len() - 1,
        vins.len(),
        vins[LATE]
    ));

    let opened = tallies[0] - Duration::minutes(5);
    let session = store
        .open_tally_session(
            Uuid::new_v4(),
            &yard,
            &shipment,
            0.8,
            opened.with_timezone(&Utc),
            &by,
        )
        .await
        .context("opening the tally session")?;
    let (mut camera, mut camera_read) = (0, 0);
    for (i, v) in vins.iter().enumerate() {
        if i == LATE {
            continue;
        }
        let at = tallies[i].with_timezone(&Utc);
        let mut ids = Vec::new();
        if i == UNREADABLE || i % CAMERA_EVERY == 5 {
            camera += 1;
            // The unreadable label: a photo so blurred no barcode survives (the first of
            // these that defeats the reader; a clear error if the reader beats them all).
            let tries: &[Distortion] = if i == UNREADABLE {
                &[
                    Distortion::Blur(8),
                    Distortion::Blur(14),
                    Distortion::LowContrast(3),
                ]
            } else {
                &[[
                    Distortion::Rotation(8.0),
                    Distortion::Perspective(0.25),
                    Distortion::Noise(20.0),
                ][i % 3]]
            };
            let label = vin_label(v.as_str(), SYMBOLOGIES[i % 4], i % 2 == 0)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let mut shot = None;
            for d in tries {
                let photo = photograph(&label, *d, i as u64).jpeg();
                let read = jianghai_tally::label::read(&photo, &ImageLimits::default())
                    .map_err(|e| anyhow::anyhow!("photo of {v}: {e}"))?;
                let done = (i == UNREADABLE) == read.vins.is_empty();
                shot = Some((*d, photo, read));
                if done {
                    break;
                }
            }
            let (distortion, photo, read) = shot.context("a photo is taken")?;
            anyhow::ensure!(
                (i == UNREADABLE) == read.vins.is_empty(),
                "the demo's photo of car {} ({}) did not read as intended",
                i + 1,
                distortion.name()
            );
            let sha = store
                .put_photo(&photo, &by)
                .await
                .map_err(|e| anyhow::anyhow!("photo of {v}: {e}"))?;
            match read.vins.first() {
                Some(f) => {
                    camera_read += 1;
                    ids.push((
                        Identification::new(&f.text, Source::Image, None, None),
                        Some(sha),
                    ));
                }
                None => {
                    lines.push(format!(
                        "  camera photo of car {} ({}): no readable VIN label",
                        i + 1,
                        distortion.name()
                    ));
                    // The yard's vision system guesses, unsure; the tallyman then types the
                    // VIN from the windscreen plate.
                    let mut guess = v.to_string();
                    guess.replace_range(16..17, if guess.ends_with('7') { "1" } else { "7" });
                    ids.push((
                        Identification::new(&guess, Source::External, Some(0.41), None),
                        Some(sha),
                    ));
                    ids.push((
                        Identification::new(v.as_str(), Source::Typed, None, None),
                        None,
                    ));
                }
            }
        } else {
            ids.push((
                Identification::new(v.as_str(), Source::Scanner, None, None),
                None,
            ));
        }
        for (identification, image) in ids {
            store
                .identify(
                    session.id,
                    &NewIdentification {
                        identification,
                        image,
                        at,
                    },
                    &by,
                )
                .await
                .map_err(|e| anyhow::anyhow!("identifying {v}: {e}"))?;
        }
    }
    lines.push(format!(
        "  camera: {camera_read} of {camera} labels read from photos; the rest by handheld scanner"
    ));

    let last = tallies.iter().max().copied().unwrap_or(opened);
    let closed_at = last + Duration::minutes(10);
    let closed = store
        .close_tally_session(session.id, closed_at.with_timezone(&Utc))
        .await
        .map_err(|e| anyhow::anyhow!("closing the tally session: {e}"))?;
    let count = |o: Outcome| {
        closed
            .results
            .iter()
            .filter(|r| r.line.outcome == o)
            .count()
    };
    lines.push(format!(
        "tally session {}: {} matched, {} missing, {} unconfirmed → tallied {} cars; every discrepancy raised an alert",
        session.id,
        count(Outcome::Matched),
        count(Outcome::Missing),
        count(Outcome::Unconfirmed),
        count(Outcome::Matched),
    ));

    // The unreadable label was resolved by hand in the session itself.
    // The unsure read names no car the tally could trust, so its alert is on the yard.
    resolve(
        store,
        "tally-unconfirmed",
        ("facility", yard.as_str()),
        "label unreadable; VIN typed by the tallyman from the windscreen plate and matched",
        closed_at.with_timezone(&Utc),
    )
    .await?;

    // The late truck arrives; the car is gated in and tallied by hand.
    let late_at = closed_at + Duration::minutes(50);
    gate_in(
        store,
        &yard,
        &by,
        vins[LATE],
        late_at.with_timezone(&Utc),
        LATE,
    )
    .await?;
    let mut e = Event::lifecycle(
        Uuid::new_v4(),
        Step::Tally,
        late_at + Duration::minutes(20),
        vec![vins[LATE]],
        Actor {
            organisation: by.organisation.clone(),
            user: Some(by.username.clone()),
            device: None,
        },
    );
    e.read_point = Some(yard.clone());
    e.biz_location = Some(yard.clone());
    let at = e.event_time.with_timezone(&Utc);
    store
        .append_batch_at(vec![e], at)
        .await
        .context("tallying the late car")?;
    resolve(
        store,
        "tally-missing",
        ("vehicle", vins[LATE].as_str()),
        "the truck arrived late; gated in and tallied by hand",
        (late_at + Duration::minutes(20)).with_timezone(&Utc),
    )
    .await?;
    lines.push(format!(
        "  {} arrived late: gated in, tallied by hand; both discrepancy alerts resolved",
        vins[LATE]
    ));
    Ok(YardReport { lines })
}

async fn gate_in(
    store: &Store,
    yard: &Ident,
    by: &By,
    vin: Vin,
    at: DateTime<Utc>,
    i: usize,
) -> anyhow::Result<()> {
    store
        .gate_in(
            &NewGateIn {
                id: Uuid::new_v4(),
                facility: yard.clone(),
                vin,
                at,
                truck: Some(format!("渝A{:05}", 30_000 + (i as u32 * 7919) % 60_000)),
                driver: None,
            },
            by,
        )
        .await
        .map_err(|e| anyhow::anyhow!("gate-in of {vin}: {e}"))?;
    Ok(())
}

/// Resolves the open alert of `rule` on `subject` (kind, id), with a note.
async fn resolve(
    store: &Store,
    rule: &str,
    (kind, id): (&str, &str),
    note: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let page = store
        .alerts(
            &AlertScope::All,
            &AlertFilter {
                subject: Some((kind.into(), id.into())),
                ..AlertFilter::default()
            },
            "",
            20,
        )
        .await?;
    let alert = page
        .items
        .iter()
        .find(|a| a.rule == rule)
        .with_context(|| format!("the tally raised no {rule} alert on {kind}:{id}"))?;
    store
        .resolve_alert(alert.id, &AlertScope::All, "tallyman", Some(note), at)
        .await
        .map_err(|e| anyhow::anyhow!("resolving {rule} on {kind}:{id}: {e}"))?;
    Ok(())
}
