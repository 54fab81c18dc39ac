//! The demo's customs transit (转关) through the platform's own paths: the river ship filed with
//! customs, the credit classes customs records, the declaration at Chongqing with mechanical
//! (ISO 17712) seals on the decks and an e-seal whose telemetry the sensors post over HTTP, the
//! hold and release of one inspected car, arrival verification and the close (转关核销) at
//! Shanghai, the ocean leg for Manzanillo, the transfer through the yard (dwell measured) and
//! the export confirmed per car. Each step at the scenario's time (the store takes `now`).
//!
//! The summary is read back from stored facts through the refund and savings routes.

use anyhow::Context;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use jianghai_core::{Ident, Vin};
use jianghai_customs::seal::{SealClass, SealKind, SealState};
use jianghai_customs::transship::{OceanLeg, Transfer};
use jianghai_customs::{
    CreditClass, FiledShip, Seal, SealObservation, TaxCredit, TransitAction, TransitDeclaration,
};
use jianghai_sim::{Scenario, ids};
use jianghai_store::{CreditRecord, CustomsError, Store, StoreError};

/// The port of discharge of the ocean leg: Manzanillo, Mexico.
pub const DISCHARGE_PORT: &str = "MXZLO";

fn id(s: &str) -> anyhow::Result<Ident> {
    Ident::parse(s).with_context(|| format!("identifier {s:?}"))
}

fn utc(t: DateTime<FixedOffset>) -> DateTime<Utc> {
    t.with_timezone(&Utc)
}

/// The run's transit declaration number (letters and digits).
pub fn number(run: u32) -> String {
    format!("CQZG2026{run:06}")
}

/// The seals applied at Chongqing: a high-security bolt seal on each deck's door and the
/// e-seal on deck D3.
fn seals(vessel: &str, run: u32) -> Vec<Seal> {
    let mut out: Vec<Seal> = ["D1", "D2", "D3"]
        .into_iter()
        .map(|d| Seal {
            number: format!("CQ-{run:04}-{d}"),
            kind: SealKind::Mechanical {
                class: SealClass::H,
            },
            on: format!("deck:{vessel}/{d}"),
        })
        .collect();
    out.push(Seal {
        number: jianghai_sim::sensors::eseal_number(run),
        kind: SealKind::Electronic {
            device: jianghai_sim::sensors::eseal_device(run),
        },
        on: format!("deck:{vessel}/D3"),
    });
    out
}

/// Before the declaration: the river ship filed with its positioning and video equipment, and
/// the exporter's and the river carrier's credit classes recorded by customs.
pub async fn file(store: &Store, s: &Scenario, at: DateTime<Utc>) -> anyhow::Result<String> {
    let river = s.world.voyages.first().context("no river voyage")?;
    let vessel = store
        .vessel(river.vessel.as_str())
        .await?
        .context("the river vessel")?;
    match store
        .file_ship(&FiledShip {
            vessel: vessel.id.to_string(),
            carrier: vessel.carrier.to_string(),
            positioning: true,
            video: true,
        })
        .await
    {
        Ok(()) | Err(StoreError::Exists { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let customs = id(ids::DEPARTURE_CUSTOMS)?;
    store
        .record_credit(
            &id(ids::EXPORTER)?,
            &CreditRecord {
                refund_class: Some(1),
                customs_credit: Some(CreditClass::Certified),
                tax_credit: None,
            },
            &customs,
            at,
        )
        .await?;
    store
        .record_credit(
            &vessel.carrier,
            &CreditRecord {
                refund_class: None,
                customs_credit: Some(CreditClass::General),
                tax_credit: Some(TaxCredit::A),
            },
            &customs,
            at,
        )
        .await?;
    Ok(format!(
        "customs: {} filed (positioning, video); credit recorded: {} class 1 certified, {} general, tax A",
        vessel.id,
        ids::EXPORTER,
        vessel.carrier
    ))
}

/// The declaration at Chongqing of every car of the scenario on the river voyage, sealed.
pub async fn declare(
    store: &Store,
    s: &Scenario,
    run: u32,
    at: DateTime<FixedOffset>,
) -> anyhow::Result<String> {
    let river = s.world.voyages.first().context("no river voyage")?;
    let vessel = store
        .vessel(river.vessel.as_str())
        .await?
        .context("the river vessel")?;
    let d = TransitDeclaration {
        number: number(run),
        departure_customs: ids::DEPARTURE_CUSTOMS.into(),
        exit_customs: ids::EXIT_CUSTOMS.into(),
        carrier: vessel.carrier.to_string(),
        vessel: vessel.id.to_string(),
        voyage: river.id.to_string(),
        route: "Yangtze: Guoyuan → Haitong".into(),
        declared_at: utc(at),
        deadline: utc(at) + Duration::days(12),
        vins: s.cars.iter().map(|c| c.vin).collect(),
        seals: seals(vessel.id.as_str(), run),
    };
    let t = store
        .declare_transit(&d, &id(ids::DEPARTURE_CUSTOMS)?, utc(at))
        .await
        .with_context(|| format!("declaring transit {}", d.number))?;
    Ok(format!(
        "transit {} declared at {}: {} cars on {}, {} seals ({})",
        t.declaration.number,
        ids::DEPARTURE_CUSTOMS,
        t.declaration.vins.len(),
        t.declaration.vessel,
        t.declaration.seals.len(),
        t.declaration
            .seals
            .iter()
            .map(|s| s.number.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Customs holds one car of the transit for inspection.
pub async fn hold(
    store: &Store,
    run: u32,
    vin: &Vin,
    at: DateTime<FixedOffset>,
) -> anyhow::Result<()> {
    store
        .hold_vehicle(
            &number(run),
            vin,
            "customs",
            "inspection",
            &id(ids::DEPARTURE_CUSTOMS)?,
            utc(at),
        )
        .await
        .with_context(|| format!("holding {vin}"))?;
    Ok(())
}

/// Customs releases the inspected car, then the transit itself (the ship may sail).
pub async fn release(
    store: &Store,
    run: u32,
    vin: &Vin,
    at: DateTime<FixedOffset>,
) -> anyhow::Result<()> {
    let customs = id(ids::DEPARTURE_CUSTOMS)?;
    store
        .release_vehicle(&number(run), vin, &customs, utc(at))
        .await
        .with_context(|| format!("releasing {vin}"))?;
    store
        .act_on_transit(
            &number(run),
            &TransitAction::Release,
            &customs,
            utc(at) + Duration::minutes(30),
        )
        .await
        .context("releasing the transit")?;
    Ok(())
}

/// At Shanghai: arrival recorded, every seal checked against what was applied, and the close
/// (转关核销) — one ledger event for the cars.
pub async fn close(store: &Store, run: u32, at: DateTime<FixedOffset>) -> anyhow::Result<String> {
    let n = number(run);
    let exit = id(ids::EXIT_CUSTOMS)?;
    let t = store.transit(&n).await?.context("the declared transit")?;
    store
        .act_on_transit(
            &n,
            &TransitAction::Arrive,
            &exit,
            utc(at) - Duration::hours(2),
        )
        .await
        .context("arrival of the transit")?;
    let found: Vec<SealObservation> = t
        .declaration
        .seals
        .iter()
        .map(|s| SealObservation {
            number: s.number.clone(),
            on: s.on.clone(),
            state: SealState::Sealed,
        })
        .collect();
    // The officer first reports only the bolt seals: the close is refused, naming the e-seal,
    // and the refusal is in the declaration's log for customs.
    let bolts: Vec<SealObservation> = found
        .iter()
        .filter(|o| !o.number.starts_with("ES-"))
        .cloned()
        .collect();
    let refused = match store
        .act_on_transit(
            &n,
            &TransitAction::Close { found: bolts },
            &exit,
            utc(at) - Duration::minutes(20),
        )
        .await
    {
        Err(e @ CustomsError::Refused(_)) => e.to_string(),
        Err(e) => return Err(anyhow::Error::new(e).context("the incomplete seal check")),
        Ok(_) => anyhow::bail!("the platform closed a transit with a seal missing"),
    };
    let t = store
        .act_on_transit(&n, &TransitAction::Close { found }, &exit, utc(at))
        .await
        .context("closing the transit")?;
    Ok(format!(
        "close without the e-seal refused: {refused}\n  transit {n} {} at {} (转关核销): {} seals verified intact",
        t.state,
        ids::EXIT_CUSTOMS,
        t.declaration.seals.len()
    ))
}

/// The ocean carrier sets the ocean leg for Manzanillo, fed by the river voyage: berth window
/// and cut-off around the scenario's transshipment and export.
pub async fn ocean_leg(
    store: &Store,
    s: &Scenario,
    first_transship: DateTime<FixedOffset>,
    export: DateTime<FixedOffset>,
) -> anyhow::Result<String> {
    let river = s.world.voyages.first().context("no river voyage")?;
    let ocean = s.world.voyages.get(1).context("no ocean voyage")?;
    let etd = utc(export);
    let leg = OceanLeg {
        voyage: ocean.id.to_string(),
        terminal: ids::SEA_TERMINAL.into(),
        berth_from: utc(first_transship) - Duration::hours(6),
        berth_to: etd + Duration::hours(4),
        cut_off: etd - Duration::hours(12),
        etd,
        discharge_port: DISCHARGE_PORT.into(),
        feeder: Some(river.id.to_string()),
        handling_minutes: 8 * 60,
    };
    store
        .set_ocean_leg(&leg, &id(ids::OCEAN_CARRIER)?)
        .await
        .context("setting the ocean leg")?;
    let t = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    Ok(format!(
        "ocean leg {} on {} at {} for {DISCHARGE_PORT}: berth {} – {}, cut-off {}, ETD {}",
        leg.voyage,
        ocean.vessel,
        leg.terminal,
        t(leg.berth_from),
        t(leg.berth_to),
        t(leg.cut_off),
        t(leg.etd)
    ))
}

/// One car from the river ship onto the ocean vessel through the yard; returns its dwell.
pub async fn transship(
    store: &Store,
    s: &Scenario,
    vin: Vin,
    at: DateTime<FixedOffset>,
) -> anyhow::Result<Duration> {
    let ocean = s.world.voyages.get(1).context("no ocean voyage")?;
    let done = store
        .transship(
            ocean.id.as_str(),
            &[vin],
            Transfer::Yard,
            &id(ids::OCEAN_CARRIER)?,
            utc(at),
        )
        .await
        .with_context(|| format!("transshipping {vin}"))?;
    Ok(Duration::seconds(
        done.first().map_or(0, |t| t.dwell_seconds),
    ))
}

/// The ocean carrier confirms the export of every car at departure.
pub async fn export(
    store: &Store,
    s: &Scenario,
    at: DateTime<FixedOffset>,
) -> anyhow::Result<usize> {
    let ocean = s.world.voyages.get(1).context("no ocean voyage")?;
    let vins: Vec<Vin> = s.cars.iter().map(|c| c.vin).collect();
    store
        .confirm_export(ocean.id.as_str(), &vins, &id(ids::OCEAN_CARRIER)?, utc(at))
        .await
        .context("confirming the export")
}

/// The customs summary read back from the running platform as customs: the transit and its
/// log, the tax refund (启运港退税) assessed from recorded facts, and the savings.
pub async fn summary(
    base: &str,
    username: &str,
    password: &str,
    run: u32,
) -> anyhow::Result<Vec<String>> {
    let client = reqwest::Client::new();
    let get = |path: String, token: String| {
        let client = client.clone();
        async move {
            let res = client
                .get(format!("{base}/api/v1{path}"))
                .bearer_auth(token)
                .send()
                .await
                .with_context(|| format!("GET {path}"))?;
            let status = res.status();
            let body: serde_json::Value = serde_json::from_slice(&res.bytes().await?)?;
            anyhow::ensure!(status.is_success(), "GET {path}: {status} {body}");
            Ok::<_, anyhow::Error>(body)
        }
    };
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(
            &serde_json::json!({"username": username, "password": password}),
        )?)
        .send()
        .await
        .context("logging in as customs")?;
    let login: serde_json::Value = serde_json::from_slice(&res.bytes().await?)?;
    let token = login["token"]
        .as_str()
        .context("no token for customs")?
        .to_string();
    let n = number(run);
    let shipment = format!("sh-{run:04}");
    let t = get(format!("/customs/transits/{n}"), token.clone()).await?;
    let log = get(format!("/customs/transits/{n}/log"), token.clone()).await?;
    let refund = get(format!("/shipments/{shipment}/refund"), token.clone()).await?;
    let saved = get(format!("/shipments/{shipment}/savings"), token).await?;
    let mut out = vec![format!(
        "customs summary (from the platform's records, as customs): transit {n} {}: {} cars, {} seals, {} log entries",
        t["state"].as_str().unwrap_or("?"),
        t["vins"].as_array().map_or(0, Vec::len),
        t["seals"].as_array().map_or(0, Vec::len),
        log.as_array().map_or(0, Vec::len),
    )];
    let a = &refund["assessment"];
    if a["eligible"] == serde_json::Value::Bool(true) {
        out.push(format!(
            "tax refund (启运港退税): eligible; can be filed from {}, {} days before the exit-port baseline ({})",
            a["refund_from"].as_str().unwrap_or("?"),
            a["days_earlier"],
            a["baseline_from"].as_str().unwrap_or("?"),
        ));
    } else {
        let failed: Vec<String> = a["conditions"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter(|c| c["met"] != serde_json::Value::Bool(true))
                    .map(|c| format!("{} ({})", c["name"], c["detail"]))
                    .collect()
            })
            .unwrap_or_default();
        out.push(format!(
            "tax refund (启运港退税): not eligible: {}",
            failed.join("; ")
        ));
    }
    let parts: Vec<String> = saved["lines"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|l| format!("{} {}", l["name"].as_str().unwrap_or("?"), l["saved"]))
                .collect()
        })
        .unwrap_or_default();
    let cars = saved["cars"].as_i64().unwrap_or(0).max(1);
    out.push(format!(
        "savings against container transit: {} {} ({} a car): {}",
        saved["saved"],
        saved["currency"].as_str().unwrap_or("?"),
        saved["saved"].as_i64().unwrap_or(0) / cars,
        parts.join(", ")
    ));
    Ok(out)
}
