//! Jianghai stowage: precise loading (精准装船) of finished vehicles on ro-ro ships.
//!
//! This crate is pure: no I/O, no clock, no async. It holds
//!
//! - the **vessel model** ([`Vessel`]: decks, lanes, spacing, fire and EV zones, balance
//!   limits) with JSON import/export and validation ([`Vessel::from_json`]);
//! - the **car list** ([`Car`]) and its CSV parser with per-row errors ([`parse_cars_csv`]);
//! - the **planner** ([`plan`]; baseline [`plan_first_fit`]) that assigns every car a deck,
//!   lane and position, or a reason ([`UnplacedReason`]);
//! - [`check`], the **single source of truth** for plan validity;
//! - **plan edits** as pure functions ([`apply_edit`]);
//! - **quality** against a proven upper bound ([`quality`], [`upper_bound_lane_mm`]);
//! - **load verification** at the ramp ([`LoadVerifier`]);
//! - a seeded **instance generator** ([`generate_cars`]) and a **text rendering**
//!   ([`render_plan`]) for the CLI.
//!
//! Design choice: all geometry is in integer millimetres and kilograms, so plans are exact,
//! comparisons never depend on float rounding, and the same input gives the same plan.
//!
//! ```
//! use jianghai_stowage as stowage;
//!
//! let vessel = stowage::Vessel::from_json(stowage::fixtures::YANGTZE_CAR_CARRIER)?;
//! let cars = stowage::generate_cars(108, 1, &stowage::GenConfig::default());
//! let plan = stowage::plan(&vessel, &cars, &stowage::PlanConfig::default())?;
//! assert!(stowage::check(&plan, &vessel, &cars).is_empty());
//! assert_eq!(plan.placements.len() + plan.unplaced.len(), 108);
//!
//! let q = stowage::quality(&plan, &vessel, &cars);
//! assert!(q.pct_of_bound() >= 95.0);
//! let text = stowage::render_plan(&plan, &vessel, &cars, &q, None, Default::default());
//! assert!(text.contains("Stowage plan for"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod car;
mod check;
mod edit;
mod generate;
mod plan;
mod planner;
mod quality;
mod render;
mod rules;
mod verify;
mod vessel;

pub use car::{Car, CsvError, Discharge, Powertrain, RowError, cars_to_csv, parse_cars_csv};
pub use check::{Violation, check, moments_tm};
pub use edit::{Edit, EditError, Edited, apply_edit};
pub use generate::{GenConfig, ModelSpec, generate_cars, vehicle_models};
pub use plan::{LaneRef, Placement, Plan, PlanConfig, Unplaced, UnplacedReason};
pub use planner::{PlanError, Strategy, plan, plan_first_fit, plan_with};
pub use quality::{Quality, quality, upper_bound_lane_mm};
pub use render::{RenderOptions, render_plan};
pub use verify::{Aboard, LoadVerifier, Reconciliation, Scan, ScanOutcome};
pub use vessel::{
    BalanceLimits, Deck, EvZone, FireZone, Lane, LaneIx, RampEnd, SpacingRules, Vessel,
    VesselError, VesselKind, VesselProblem,
};

/// The vessel fixtures, compiled in (also in `crates/stowage/fixtures/`).
pub mod fixtures {
    /// A fictional ~700-car Yangtze car carrier: 110 m × 18.8 m, five decks, stern ramp.
    pub const YANGTZE_CAR_CARRIER: &str = include_str!("../fixtures/yangtze-car-carrier.json");
    /// A fictional 6,500-CEU ocean PCTC: 200 m × 38 m, twelve decks.
    pub const OCEAN_PCTC: &str = include_str!("../fixtures/ocean-pctc.json");
}
