//! The vehicle lifecycle of the product brief as one explicit state machine.
//!
//! `registered → gated_in → tallied → declared → loaded → departed → arrived → transit_closed →
//! transshipped → exported`, plus the exceptional `held` (customs or damage hold; release returns
//! the car to the state it was held in) and `returned` (back to the exporter; it may be put on a
//! new manifest). Every allowed move is in [`next`]; everything else derives from it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a vehicle is in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleState {
    Registered,
    GatedIn,
    Tallied,
    Declared,
    Loaded,
    Departed,
    Arrived,
    TransitClosed,
    Transshipped,
    Exported,
    Held,
    Returned,
}

impl VehicleState {
    /// Every state, in chain order then the exceptional ones.
    pub const ALL: [VehicleState; 12] = [
        VehicleState::Registered,
        VehicleState::GatedIn,
        VehicleState::Tallied,
        VehicleState::Declared,
        VehicleState::Loaded,
        VehicleState::Departed,
        VehicleState::Arrived,
        VehicleState::TransitClosed,
        VehicleState::Transshipped,
        VehicleState::Exported,
        VehicleState::Held,
        VehicleState::Returned,
    ];

    /// The snake_case name used in the API, the database and the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            VehicleState::Registered => "registered",
            VehicleState::GatedIn => "gated_in",
            VehicleState::Tallied => "tallied",
            VehicleState::Declared => "declared",
            VehicleState::Loaded => "loaded",
            VehicleState::Departed => "departed",
            VehicleState::Arrived => "arrived",
            VehicleState::TransitClosed => "transit_closed",
            VehicleState::Transshipped => "transshipped",
            VehicleState::Exported => "exported",
            VehicleState::Held => "held",
            VehicleState::Returned => "returned",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<VehicleState> {
        VehicleState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// States a hold may be placed in: anything still in the chain before export.
    pub fn holdable(self) -> bool {
        !matches!(
            self,
            VehicleState::Exported | VehicleState::Held | VehicleState::Returned
        )
    }
}

impl fmt::Display for VehicleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A business step that moves a vehicle through its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Register,
    GateIn,
    Tally,
    Declare,
    Load,
    Depart,
    Arrive,
    CloseTransit,
    Transship,
    Export,
    Hold,
    Release,
    Return,
}

impl Step {
    /// Every step.
    pub const ALL: [Step; 13] = [
        Step::Register,
        Step::GateIn,
        Step::Tally,
        Step::Declare,
        Step::Load,
        Step::Depart,
        Step::Arrive,
        Step::CloseTransit,
        Step::Transship,
        Step::Export,
        Step::Hold,
        Step::Release,
        Step::Return,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Register => "register",
            Step::GateIn => "gate_in",
            Step::Tally => "tally",
            Step::Declare => "declare",
            Step::Load => "load",
            Step::Depart => "depart",
            Step::Arrive => "arrive",
            Step::CloseTransit => "close_transit",
            Step::Transship => "transship",
            Step::Export => "export",
            Step::Hold => "hold",
            Step::Release => "release",
            Step::Return => "return",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether a refused attempt at this step matters to supervision and so raises an alert
    /// as well as an error (loading, sailing or exporting a car out of order).
    pub fn refusal_matters_to_supervision(self) -> bool {
        matches!(
            self,
            Step::Load | Step::Depart | Step::Transship | Step::Export | Step::Release
        )
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A vehicle's lifecycle position: its state and, while held, the state it was held in.
///
/// Invariant: `held_from` is `Some` exactly when `state` is `Held`, and never `Held` itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub state: VehicleState,
    pub held_from: Option<VehicleState>,
}

impl Status {
    /// A status outside a hold.
    pub const fn at(state: VehicleState) -> Status {
        Status {
            state,
            held_from: None,
        }
    }
}

/// Why a step was refused. Nothing is recorded when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// The step is not allowed from the vehicle's current state.
    #[error(
        "cannot {step}: vehicle is {current}; allowed next steps: {}",
        list(allowed)
    )]
    Illegal {
        step: Step,
        current: VehicleState,
        allowed: Vec<Step>,
    },
    /// Any step but `register` on a VIN that was never registered.
    #[error("cannot {step}: vehicle is not registered; allowed next steps: register")]
    NotRegistered { step: Step },
}

fn list(steps: &[Step]) -> String {
    if steps.is_empty() {
        return "none (final state)".to_string();
    }
    steps
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one transition function: from the current status (`None` for a VIN never seen) and a
/// step to the new status. All allowed transitions are in this match.
pub fn next(current: Option<Status>, step: Step) -> Result<Status, LifecycleError> {
    use VehicleState as S;
    let Some(cur) = current else {
        return match step {
            Step::Register => Ok(Status::at(S::Registered)),
            _ => Err(LifecycleError::NotRegistered { step }),
        };
    };
    let to = match (cur.state, step) {
        (S::Returned, Step::Register) => Some(S::Registered),
        (S::Registered, Step::GateIn) => Some(S::GatedIn),
        (S::GatedIn, Step::Tally) => Some(S::Tallied),
        (S::Tallied, Step::Declare) => Some(S::Declared),
        (S::Declared, Step::Load) => Some(S::Loaded),
        (S::Loaded, Step::Depart) => Some(S::Departed),
        (S::Departed, Step::Arrive) => Some(S::Arrived),
        (S::Arrived, Step::CloseTransit) => Some(S::TransitClosed),
        (S::TransitClosed, Step::Transship) => Some(S::Transshipped),
        (S::Transshipped, Step::Export) => Some(S::Exported),
        (from, Step::Hold) if from.holdable() => {
            return Ok(Status {
                state: S::Held,
                held_from: Some(from),
            });
        }
        (S::Held, Step::Release) => cur.held_from,
        (S::Registered | S::GatedIn | S::Tallied | S::Declared | S::Held, Step::Return) => {
            Some(S::Returned)
        }
        _ => None,
    };
    match to {
        Some(state) => Ok(Status::at(state)),
        None => Err(LifecycleError::Illegal {
            step,
            current: cur.state,
            allowed: allowed_steps(cur),
        }),
    }
}

/// The steps [`next`] accepts from `status`, in [`Step::ALL`] order.
pub fn allowed_steps(status: Status) -> Vec<Step> {
    Step::ALL
        .into_iter()
        .filter(|&s| allowed_by_table(status, s))
        .collect()
}

// `next` without building the error (which would recurse into `allowed_steps`).
fn allowed_by_table(status: Status, step: Step) -> bool {
    use VehicleState as S;
    match (status.state, step) {
        (S::Returned, Step::Register)
        | (S::Registered, Step::GateIn)
        | (S::GatedIn, Step::Tally)
        | (S::Tallied, Step::Declare)
        | (S::Declared, Step::Load)
        | (S::Loaded, Step::Depart)
        | (S::Departed, Step::Arrive)
        | (S::Arrived, Step::CloseTransit)
        | (S::TransitClosed, Step::Transship)
        | (S::Transshipped, Step::Export) => true,
        (from, Step::Hold) => from.holdable(),
        (S::Held, Step::Release) => status.held_from.is_some(),
        (S::Registered | S::GatedIn | S::Tallied | S::Declared | S::Held, Step::Return) => true,
        _ => false,
    }
}

/// Whether some step moves a vehicle from `from` to `to` (for a held vehicle, assuming it was
/// held in `to`).
pub fn can_move(from: VehicleState, to: VehicleState) -> bool {
    let status = if from == VehicleState::Held {
        Status {
            state: from,
            held_from: Some(if to.holdable() {
                to
            } else {
                VehicleState::Registered
            }),
        }
    } else {
        Status::at(from)
    };
    Step::ALL
        .into_iter()
        .any(|s| next(Some(status), s).map(|n| n.state) == Ok(to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use VehicleState as S;

    /// The expected graph, written out independently of `next`.
    fn expected(from: S, to: S) -> bool {
        let chain = [
            S::Registered,
            S::GatedIn,
            S::Tallied,
            S::Declared,
            S::Loaded,
            S::Departed,
            S::Arrived,
            S::TransitClosed,
            S::Transshipped,
            S::Exported,
        ];
        let pos = |s: S| chain.iter().position(|&c| c == s);
        if let (Some(a), Some(b)) = (pos(from), pos(to)) {
            return b == a + 1;
        }
        match (from, to) {
            (S::Returned, S::Registered) => true,
            (f, S::Held) => !matches!(f, S::Exported | S::Held | S::Returned),
            (S::Held, t) => t == S::Returned || !matches!(t, S::Exported | S::Held | S::Returned),
            (S::Registered | S::GatedIn | S::Tallied | S::Declared, S::Returned) => true,
            _ => false,
        }
    }

    #[test]
    fn every_pair_of_states() {
        let mut allowed = 0;
        for from in S::ALL {
            for to in S::ALL {
                assert_eq!(can_move(from, to), expected(from, to), "{from} -> {to}");
                allowed += usize::from(expected(from, to));
            }
        }
        // 9 chain moves, 1 re-registration, 9 holds, 9 releases, 5 returns.
        assert_eq!(allowed, 33);
    }

    #[test]
    fn full_chain_from_nothing_to_exported() {
        let mut status = None;
        for step in [
            Step::Register,
            Step::GateIn,
            Step::Tally,
            Step::Declare,
            Step::Load,
            Step::Depart,
            Step::Arrive,
            Step::CloseTransit,
            Step::Transship,
            Step::Export,
        ] {
            status = Some(next(status, step).expect("allowed"));
        }
        assert_eq!(status, Some(Status::at(S::Exported)));
        assert!(allowed_steps(Status::at(S::Exported)).is_empty());
    }

    #[test]
    fn release_returns_to_the_held_state_and_nowhere_else() {
        let held = next(Some(Status::at(S::Departed)), Step::Hold).expect("holdable");
        assert_eq!(held.held_from, Some(S::Departed));
        // A held car cannot move forward.
        let err = next(Some(held), Step::Arrive).unwrap_err();
        assert_eq!(
            err,
            LifecycleError::Illegal {
                step: Step::Arrive,
                current: S::Held,
                allowed: vec![Step::Release, Step::Return],
            }
        );
        assert_eq!(next(Some(held), Step::Release), Ok(Status::at(S::Departed)));
    }

    #[test]
    fn error_names_current_state_and_allowed_steps() {
        let err = next(Some(Status::at(S::GatedIn)), Step::Load).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot load: vehicle is gated_in; allowed next steps: tally, hold, return"
        );
        let err = next(None, Step::Tally).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot tally: vehicle is not registered; allowed next steps: register"
        );
        let err = next(Some(Status::at(S::Registered)), Step::Register).unwrap_err();
        assert!(err.to_string().contains("vehicle is registered"));
    }

    #[test]
    fn names_round_trip() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
        for s in Step::ALL {
            assert_eq!(Step::parse(s.as_str()), Some(s));
        }
        assert_eq!(S::parse("flying"), None);
    }
}
