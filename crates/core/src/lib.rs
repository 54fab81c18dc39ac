//! Jianghai's domain core: pure, no I/O, and never reads a clock (time is an argument).
//!
//! - [`Vin`]: parse, don't validate; decodes maker ([`wmi`]) and model year.
//! - [`lifecycle`]: the vehicle lifecycle as one state machine ([`lifecycle::next`]).
//! - [`Event`]: one business step, EPCIS 2.0-shaped ([`epcis`] renders it).
//! - [`ledger`]: the hash chain and its [`ledger::Verifier`], shared by every store.
//! - [`party`]: organisations and what they own.
//! - [`reading`]: sensor readings (EPCIS MeasurementType, UN/ECE Rec 20 units) and the
//!   [`Subject`] a sensor watches.
//!
//! ```
//! use jianghai_core::Vin;
//! let vin = Vin::parse("lrw3e7fs5pc695355").unwrap();
//! assert_eq!(vin.manufacturer().unwrap().name, "Tesla (Shanghai)");
//! assert_eq!(vin.model_year(2027), Some(2023));
//! assert_eq!(
//!     Vin::parse("LRW3E7FS6PC695355").unwrap_err().to_string(),
//!     "check digit at position 9: expected '5', found '6'"
//! );
//! ```

pub mod canonical;
pub mod epcis;
pub mod event;
pub mod ident;
pub mod ledger;
pub mod lifecycle;
pub mod party;
pub mod reading;
pub mod vin;
pub mod wmi;

pub use event::{Action, Actor, BizStep, Disposition, Event, EventError, EventId, Subjects};
pub use ident::{Ident, IdentError};
pub use lifecycle::{LifecycleError, Status, Step, VehicleState};
pub use party::{
    Facility, FacilityKind, OrgKind, Organisation, Position, Powertrain, Shipment, UnNumber,
    UnNumberError, Vehicle, Vessel, VesselKind, Voyage,
};
pub use reading::{
    MeasurementType, Reading, ReadingError, ReadingInput, Subject, SubjectError, SubjectKind, Unit,
};
pub use vin::{Vin, VinError};
