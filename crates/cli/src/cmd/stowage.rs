//! `jianghai stowage plan`.

use std::path::Path;

use anyhow::Context;
use jianghai_stowage as stowage;

use super::Outcome;

/// Largest input file read (a vessel or a manifest of tens of thousands of cars fits).
const MAX_FILE: u64 = 32 << 20;

fn read(path: &Path) -> anyhow::Result<String> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    anyhow::ensure!(
        meta.len() <= MAX_FILE,
        "{} is {} bytes; at most {MAX_FILE} are accepted",
        path.display(),
        meta.len()
    );
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

pub fn plan(vessel: &Path, cars: &Path, list_cars: bool, json: bool) -> anyhow::Result<Outcome> {
    let vessel_doc = stowage::Vessel::from_json(&read(vessel)?)
        .with_context(|| format!("{} is not a valid vessel", vessel.display()))?;
    let (cars_list, row_errors) = stowage::parse_cars_csv(&read(cars)?)
        .with_context(|| format!("{} is not a valid car list", cars.display()))?;
    for e in &row_errors {
        eprintln!("{}:{}: {}", cars.display(), e.line, e.message);
    }
    let config = stowage::PlanConfig::default();
    let plan = stowage::plan(&vessel_doc, &cars_list, &config)?;
    let baseline = stowage::plan_first_fit(&vessel_doc, &cars_list, &config)?;
    let quality = stowage::quality(&plan, &vessel_doc, &cars_list);
    let base_quality = stowage::quality(&baseline, &vessel_doc, &cars_list);
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print!(
            "{}",
            stowage::render_plan(
                &plan,
                &vessel_doc,
                &cars_list,
                &quality,
                Some(&base_quality),
                stowage::RenderOptions { list_cars },
            )
        );
    }
    let violations = stowage::check(&plan, &vessel_doc, &cars_list);
    anyhow::ensure!(
        violations.is_empty(),
        "internal error: the plan breaks {} constraint(s); first: {:?}",
        violations.len(),
        violations.first()
    );
    Ok(if plan.unplaced.is_empty() && row_errors.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}
