//! The transit declaration (转关) and its lifecycle.
//!
//! Departure customs declares and releases the transit; the ship carries the cars and seals
//! under supervision within the route and time limit customs set; exit customs verifies the
//! seals on arrival and closes (核销) the transit. A hold stops it until released.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use jianghai_core::Vin;
use serde::{Deserialize, Serialize};

use crate::seal::{self, Seal, SealObservation, SealVerdict};

/// A ship as filed with customs by its carrier (GACC 2022 No. 73).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiledShip {
    pub vessel: String,
    pub carrier: String,
    /// Navigation positioning equipment (required for transit carriage).
    pub positioning: bool,
    /// Full-voyage video monitoring (one of the tax-refund conditions).
    pub video: bool,
}

/// A transit declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitDeclaration {
    /// The declaration number customs gives (e.g. 8000 2025 0000123).
    pub number: String,
    pub departure_customs: String,
    pub exit_customs: String,
    pub carrier: String,
    pub vessel: String,
    /// The voyage it rides on.
    pub voyage: String,
    /// The route customs set, in words or as a corridor name.
    pub route: String,
    pub declared_at: DateTime<Utc>,
    /// The time limit customs set: the transit must arrive by then.
    pub deadline: DateTime<Utc>,
    pub vins: Vec<Vin>,
    pub seals: Vec<Seal>,
}

/// One thing wrong with a declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum TransitProblem {
    #[error("the declaration number {0:?} must be 6 to 32 letters or digits")]
    Number(String),
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("ship {vessel} is not filed with customs by carrier {carrier}")]
    ShipNotFiled { vessel: String, carrier: String },
    #[error("ship {0} has no navigation positioning equipment on file")]
    NoPositioning(String),
    #[error("the declaration lists no vehicles")]
    NoVehicles,
    #[error("vehicle {0} is listed twice")]
    DuplicateVin(String),
    #[error("{0}")]
    Seal(String),
    #[error("the time limit {deadline} is not after the declaration time {declared_at}")]
    Deadline {
        declared_at: DateTime<Utc>,
        deadline: DateTime<Utc>,
    },
    #[error("vehicle {vin} is already on open transit declaration {other}")]
    Overlap { vin: String, other: String },
    /// An amendment may keep or drop declared vehicles, not add any.
    #[error("vehicle {0} was not declared; an amendment cannot add vehicles")]
    Added(String),
}

impl TransitDeclaration {
    /// Every problem of the declaration on its own and against the ships filed with customs
    /// and the other open declarations (`open`: number → its VINs). Empty when it may stand.
    pub fn problems(
        &self,
        filed: &[FiledShip],
        open: &BTreeMap<String, Vec<Vin>>,
    ) -> Vec<TransitProblem> {
        let mut out = Vec::new();
        let n = self.number.trim();
        if n.len() < 6 || n.len() > 32 || !n.chars().all(|c| c.is_ascii_alphanumeric()) {
            out.push(TransitProblem::Number(self.number.clone()));
        }
        for (field, v) in [
            ("departure customs", &self.departure_customs),
            ("exit customs", &self.exit_customs),
            ("carrier", &self.carrier),
            ("vessel", &self.vessel),
            ("voyage", &self.voyage),
            ("route", &self.route),
        ] {
            if v.trim().is_empty() {
                out.push(TransitProblem::Empty { field });
            }
        }
        match filed
            .iter()
            .find(|f| f.vessel == self.vessel && f.carrier == self.carrier)
        {
            None => out.push(TransitProblem::ShipNotFiled {
                vessel: self.vessel.clone(),
                carrier: self.carrier.clone(),
            }),
            Some(f) if !f.positioning => {
                out.push(TransitProblem::NoPositioning(self.vessel.clone()));
            }
            Some(_) => {}
        }
        if self.vins.is_empty() {
            out.push(TransitProblem::NoVehicles);
        }
        let mut seen = BTreeSet::new();
        for v in &self.vins {
            if !seen.insert(*v) {
                out.push(TransitProblem::DuplicateVin(v.to_string()));
            }
        }
        if let Err(e) = seal::validate_all(&self.seals) {
            out.push(TransitProblem::Seal(e.to_string()));
        }
        if self.deadline <= self.declared_at {
            out.push(TransitProblem::Deadline {
                declared_at: self.declared_at,
                deadline: self.deadline,
            });
        }
        for (other, vins) in open {
            if *other == self.number {
                continue;
            }
            let theirs: BTreeSet<&Vin> = vins.iter().collect();
            for v in &self.vins {
                if theirs.contains(v) {
                    out.push(TransitProblem::Overlap {
                        vin: v.to_string(),
                        other: other.clone(),
                    });
                }
            }
        }
        out
    }

    /// Where the transit stands against its time limit at `now`, given the expected arrival.
    pub fn time_limit(&self, now: DateTime<Utc>, eta: Option<DateTime<Utc>>) -> TimeLimit {
        if now > self.deadline {
            TimeLimit::Exceeded {
                by: now - self.deadline,
            }
        } else if let Some(eta) = eta
            && eta > self.deadline
        {
            TimeLimit::AtRisk {
                late_by: eta - self.deadline,
            }
        } else {
            TimeLimit::Within {
                left: self.deadline - now,
            }
        }
    }
}

/// A transit against its time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLimit {
    Within {
        left: Duration,
    },
    /// The expected arrival passes the limit.
    AtRisk {
        late_by: Duration,
    },
    Exceeded {
        by: Duration,
    },
}

/// Where a transit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitState {
    /// Declared at departure customs; may be amended.
    Declared,
    /// Released: the ship may carry it.
    Released,
    /// Held by customs; nothing moves until released.
    Held,
    /// Arrived at the exit port; seals to be verified.
    Arrived,
    /// Closed (核销) after the seals verified.
    Closed,
}

impl TransitState {
    pub fn as_str(self) -> &'static str {
        match self {
            TransitState::Declared => "declared",
            TransitState::Released => "released",
            TransitState::Held => "held",
            TransitState::Arrived => "arrived",
            TransitState::Closed => "closed",
        }
    }
}

impl fmt::Display for TransitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What customs does to a transit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TransitAction {
    Amend,
    Release,
    Hold {
        reason: String,
    },
    /// The ship arrived at the exit port.
    Arrive,
    /// Close with the seals found on arrival.
    Close {
        found: Vec<SealObservation>,
    },
}

/// Why an action is refused. Nothing changes when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransitError {
    #[error("a {state} transit cannot be {action}")]
    State {
        state: TransitState,
        action: &'static str,
    },
    #[error("a hold needs a reason")]
    NoReason,
    #[error("the transit cannot be closed: {}", .0.iter().filter(|v| !v.is_intact()).map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Seals(Vec<SealVerdict>),
}

/// The state after `action`, or why not. `held_from` is the state a held transit returns to on
/// release. Closing verifies every seal first: any missing, opened, moved or unknown seal
/// refuses it, naming each.
pub fn next(
    state: TransitState,
    held_from: Option<TransitState>,
    action: &TransitAction,
    applied: &[Seal],
) -> Result<TransitState, TransitError> {
    use TransitState as S;
    let refuse = |action| TransitError::State { state, action };
    match (action, state) {
        (TransitAction::Amend, S::Declared | S::Held) => Ok(state),
        (TransitAction::Amend, _) => Err(refuse("amended")),
        (TransitAction::Release, S::Declared) => Ok(S::Released),
        (TransitAction::Release, S::Held) => Ok(held_from.unwrap_or(S::Released)),
        (TransitAction::Release, _) => Err(refuse("released")),
        (TransitAction::Hold { reason }, S::Declared | S::Released | S::Arrived) => {
            if reason.trim().is_empty() {
                Err(TransitError::NoReason)
            } else {
                Ok(S::Held)
            }
        }
        (TransitAction::Hold { .. }, _) => Err(refuse("held")),
        (TransitAction::Arrive, S::Released) => Ok(S::Arrived),
        (TransitAction::Arrive, _) => Err(refuse("marked arrived")),
        (TransitAction::Close { found }, S::Arrived) => {
            let verdicts = seal::verify(applied, found);
            if verdicts.iter().all(SealVerdict::is_intact) {
                Ok(S::Closed)
            } else {
                Err(TransitError::Seals(verdicts))
            }
        }
        (TransitAction::Close { .. }, _) => Err(refuse("closed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::{SealClass, SealKind, SealState};

    fn vin(i: u32) -> Vin {
        Vin::with_check_digit(&format!("LS5A3DKE0SC{i:06}")).expect("vin")
    }

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000 + h * 3600, 0).expect("time")
    }

    fn decl() -> TransitDeclaration {
        TransitDeclaration {
            number: "800020250000123".into(),
            departure_customs: "chongqing-customs".into(),
            exit_customs: "shanghai-customs".into(),
            carrier: "minsheng-shipping".into(),
            vessel: "minsheng-ro-ro-8".into(),
            voyage: "rv-0001".into(),
            route: "Yangtze: Guoyuan → Waigaoqiao".into(),
            declared_at: t(0),
            deadline: t(24 * 12),
            vins: vec![vin(1), vin(2)],
            seals: vec![Seal {
                number: "CQ-000001".into(),
                kind: SealKind::Mechanical {
                    class: SealClass::H,
                },
                on: "deck:minsheng-ro-ro-8/D1".into(),
            }],
        }
    }

    fn filed() -> Vec<FiledShip> {
        vec![FiledShip {
            vessel: "minsheng-ro-ro-8".into(),
            carrier: "minsheng-shipping".into(),
            positioning: true,
            video: true,
        }]
    }

    #[test]
    fn a_good_declaration_has_no_problems() {
        assert_eq!(decl().problems(&filed(), &BTreeMap::new()), vec![]);
    }

    #[test]
    fn every_problem_is_named() {
        let mut d = decl();
        d.number = "12".into();
        d.vessel = "ghost-ship".into();
        d.vins.push(vin(1));
        d.deadline = d.declared_at;
        d.route = " ".into();
        let open = BTreeMap::from([("800020250000001".to_string(), vec![vin(2)])]);
        let p = d.problems(&filed(), &open);
        assert!(p.contains(&TransitProblem::Number("12".into())));
        assert!(p.contains(&TransitProblem::Empty { field: "route" }));
        assert!(
            p.iter()
                .any(|x| matches!(x, TransitProblem::ShipNotFiled { .. }))
        );
        assert!(p.contains(&TransitProblem::DuplicateVin(vin(1).to_string())));
        assert!(
            p.iter()
                .any(|x| matches!(x, TransitProblem::Deadline { .. }))
        );
        assert!(p.contains(&TransitProblem::Overlap {
            vin: vin(2).to_string(),
            other: "800020250000001".into()
        }));
        let mut ships = filed();
        ships[0].positioning = false;
        assert!(
            decl()
                .problems(&ships, &BTreeMap::new())
                .contains(&TransitProblem::NoPositioning("minsheng-ro-ro-8".into()))
        );
    }

    #[test]
    fn lifecycle_and_closing_needs_intact_seals() {
        use TransitState as S;
        let d = decl();
        let arrive = |s| next(s, None, &TransitAction::Arrive, &d.seals);
        assert_eq!(
            next(S::Declared, None, &TransitAction::Release, &d.seals),
            Ok(S::Released)
        );
        assert!(arrive(S::Declared).is_err());
        assert_eq!(arrive(S::Released), Ok(S::Arrived));
        let hold = TransitAction::Hold {
            reason: "inspection".into(),
        };
        assert_eq!(next(S::Released, None, &hold, &d.seals), Ok(S::Held));
        assert_eq!(
            next(
                S::Released,
                None,
                &TransitAction::Hold { reason: "".into() },
                &d.seals
            ),
            Err(TransitError::NoReason)
        );
        assert_eq!(
            next(
                S::Held,
                Some(S::Released),
                &TransitAction::Release,
                &d.seals
            ),
            Ok(S::Released)
        );
        assert!(next(S::Released, None, &TransitAction::Amend, &d.seals).is_err());
        let opened = TransitAction::Close {
            found: vec![SealObservation {
                number: "CQ-000001".into(),
                on: "deck:minsheng-ro-ro-8/D1".into(),
                state: SealState::Opened,
            }],
        };
        let e = next(S::Arrived, None, &opened, &d.seals).expect_err("refused");
        assert!(
            e.to_string()
                .contains("seal CQ-000001 on deck:minsheng-ro-ro-8/D1 is opened"),
            "{e}"
        );
        let missing = TransitAction::Close { found: vec![] };
        assert!(next(S::Arrived, None, &missing, &d.seals).is_err());
        let intact = TransitAction::Close {
            found: vec![SealObservation {
                number: "CQ-000001".into(),
                on: "deck:minsheng-ro-ro-8/D1".into(),
                state: SealState::Sealed,
            }],
        };
        assert!(
            next(S::Released, None, &intact, &d.seals).is_err(),
            "not arrived yet"
        );
        assert_eq!(next(S::Arrived, None, &intact, &d.seals), Ok(S::Closed));
        assert!(next(S::Closed, None, &hold, &d.seals).is_err());
    }

    #[test]
    fn time_limit() {
        let d = decl();
        assert!(matches!(
            d.time_limit(t(10), Some(t(100))),
            TimeLimit::Within { .. }
        ));
        assert_eq!(
            d.time_limit(t(10), Some(t(24 * 12 + 5))),
            TimeLimit::AtRisk {
                late_by: Duration::hours(5)
            }
        );
        assert_eq!(
            d.time_limit(t(24 * 12 + 1), None),
            TimeLimit::Exceeded {
                by: Duration::hours(1)
            }
        );
    }
}
