//! Customs for the river–sea corridor, pure: no I/O, no clock (times are arguments).
//!
//! - [`seal`]: seals on deck doors and cars — mechanical (ISO 17712 class I, S or H and a
//!   number) and electronic (an e-seal device) — and the arrival check that compares what was
//!   applied with what is found, the condition for closing a transit.
//! - [`transit`]: the transit declaration (转关) — number, departure and exit customs, the filed
//!   carrier and ship, route, time limit, vehicles, seals — its validation against the ships
//!   filed with customs, overlap with other open declarations, and its lifecycle (declared,
//!   released, held, arrived, closed) as a guarded state machine.
//! - [`refund`]: departure-port tax refund (启运港退税) eligibility as a rule set that is data
//!   (how ro-ro cars qualify is a policy decision), with the reason for every condition and the
//!   days gained over the exit-port baseline.
//! - [`savings`]: storage and labour saved against the container-transit baseline, from a cost
//!   model that is data, per shipment and per period, as CSV or `.xlsx`.
//! - [`transship`]: the Shanghai ocean leg (ocean vessel, terminal, berth window, cut-off, ETD),
//!   direct or yard transfer with its dwell, and the cut-off risk from the river ETA P50/P90.

pub mod refund;
pub mod savings;
pub mod seal;
pub mod transit;
pub mod transship;

pub use refund::{Assessment, Condition, CreditClass, RefundRules, ShipmentFacts, TaxCredit};
pub use savings::{CostItem, CostModel, Savings, ShipmentSavings};
pub use seal::{Seal, SealClass, SealError, SealKind, SealObservation, SealState, SealVerdict};
pub use transit::{
    FiledShip, TransitAction, TransitDeclaration, TransitError, TransitProblem, TransitState,
};
