//! The watch engine: sensor readings in, alarms out.
//!
//! Pure: no I/O, no clock (every call takes `now`), no randomness; the same calls give the same
//! decisions. The shell (server) feeds it [`Observation`]s and calls [`Engine::tick`] now and
//! then; it turns [`Decision`]s into alerts (one open alert per rule and subject).
//!
//! ```
//! use jianghai_core::reading::{ReadingInput, Subject};
//! use jianghai_watch::{Context, Decision, Engine, Observation, RuleSet, Severity};
//!
//! let now = "2025-07-01T08:00:00Z".parse().unwrap();
//! let mut engine = Engine::new(RuleSet::corridor_defaults().with_reorder_window_ms(0));
//! let reading: ReadingInput = serde_json::from_str(
//!     r#"{"device":"tag-17","sensor":"door","measurement":"DoorOpen","value":true,
//!         "time":"2025-07-01T07:59:58Z"}"#,
//! ).unwrap();
//! let obs = Observation {
//!     subject: Subject::parse("vehicle:LRW3E7FS5PC695355").unwrap(),
//!     reading: reading.validate(now).unwrap(),
//!     context: Context { in_transit: true },
//! };
//! let decisions = engine.observe(&obs, now);
//! let Decision::Raise(alarm) = &decisions[0] else { panic!() };
//! assert_eq!(alarm.rule.as_str(), "door-open-in-transit");
//! assert_eq!(alarm.severity, Severity::Critical);
//! ```
//!
//! # Detectors
//! Threshold (minimum duration, hysteresis, magnitude for signed axes), rate of rise, deviation
//! from an EWMA baseline, dew-point margin from temperature and humidity on the same subject,
//! states (doors, seals, smoke, water), silence, and combinations of other rules. See
//! [`rules`] for the rule file and [`RuleSet::corridor_defaults`] for this corridor's set.
//!
//! # Episodes
//! A rule raises at most once per subject while its condition holds (an episode); the condition
//! holds while any of the subject's sensors in scope meets it. When the last one stops meeting it
//! (past the hysteresis band) the engine emits [`Decision::Clear`]. A rule's `when` is part of the
//! condition: a door open in transit clears when the door closes or the transit ends.
//!
//! # Event-time order
//! Readings of one subject are evaluated in event-time order (ties broken by device, sensor,
//! measurement and value, so arrival order never matters). Each subject keeps a reorder buffer:
//! a reading waits until the subject has seen a reading at least the reorder window later
//! (`reorder_window_seconds`, default 2 s), or until [`Engine::tick`]'s `now` is the window past
//! it, or [`Engine::flush`]. A reading that arrives less than the window late is therefore
//! evaluated exactly as if it had arrived in order. One that arrives later than that (say, a
//! device's backlog after hours offline) is still evaluated if it is newer than the last
//! evaluated reading of its own sensor (its own series stays in order; it is only out of order
//! against the subject's other sensors); if it is not newer, it is not evaluated and is counted
//! in [`Stats::late`] (the shell has stored it; detectors do not rewrite history). A duplicate
//! (same sensor, same time) is counted in the same way. At most
//! [`engine::MAX_PENDING`] readings wait per subject; beyond that the oldest is evaluated early.

pub mod detect;
pub mod engine;
pub mod rules;
pub mod voyage;

use chrono::{DateTime, Utc};
use jianghai_core::Ident;
use jianghai_core::reading::{Reading, Subject};
use serde::Serialize;

pub use engine::{Engine, Stats};
pub use rules::{Detector, Rule, RuleError, RuleId, RuleSet, Severity, When};

/// What the shell knows about a reading's subject at the time: whether it is in transit
/// (underway, on the road) or not (alongside, at anchor, in the yard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Context {
    pub in_transit: bool,
}

/// A reading and what it tells about.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub subject: Subject,
    pub reading: Reading,
    pub context: Context,
}

/// A reading that contributed to an alarm (value in the canonical unit).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceRef {
    pub device: Ident,
    pub sensor: String,
    pub time: DateTime<Utc>,
    pub value: f64,
}

/// A rule's condition started to hold on a subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm {
    pub rule: RuleId,
    pub subject: Subject,
    pub severity: Severity,
    pub title: String,
    pub detail: String,
    /// Event time of the reading that raised it (the receiver's `now` for silence).
    pub at: DateTime<Utc>,
    pub evidence: Vec<EvidenceRef>,
}

/// What the engine decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "lowercase")]
pub enum Decision {
    Raise(Alarm),
    Clear {
        rule: RuleId,
        subject: Subject,
        at: DateTime<Utc>,
    },
}

impl Decision {
    pub fn rule(&self) -> &RuleId {
        match self {
            Decision::Raise(a) => &a.rule,
            Decision::Clear { rule, .. } => rule,
        }
    }

    pub fn subject(&self) -> &Subject {
        match self {
            Decision::Raise(a) => &a.subject,
            Decision::Clear { subject, .. } => subject,
        }
    }

    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Decision::Raise(a) => a.at,
            Decision::Clear { at, .. } => *at,
        }
    }
}
