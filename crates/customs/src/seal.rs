//! Seals and their verification on arrival.
//!
//! A seal is applied at departure to a deck door (`deck:<vessel>/<deck>`) or a car
//! (`vehicle:<VIN>`). On arrival the exit customs records what it finds; [`verify`] compares the
//! two, seal by seal. A transit may be closed only when every applied seal is found intact with
//! its number, and no unknown seal turns up.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// ISO 17712 barrier classes of mechanical seals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SealClass {
    /// Indicative.
    I,
    /// Security.
    S,
    /// High security (what C-TPAT and customs transit ask for).
    H,
}

impl SealClass {
    pub fn parse(s: &str) -> Result<SealClass, SealError> {
        match s.trim() {
            "I" | "i" => Ok(SealClass::I),
            "S" | "s" => Ok(SealClass::S),
            "H" | "h" => Ok(SealClass::H),
            other => Err(SealError::Class(other.to_string())),
        }
    }
}

/// What kind of seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SealKind {
    /// A bolt, cable or padlock seal with its ISO 17712 class.
    Mechanical { class: SealClass },
    /// An electronic seal (ISO 18185 or a customs e-lock): the device that reports its state.
    Electronic { device: String },
}

/// A seal as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// The number printed on the seal (unique per manufacturer).
    pub number: String,
    #[serde(flatten)]
    pub kind: SealKind,
    /// What it closes: `deck:<vessel>/<deck>` or `vehicle:<VIN>`.
    pub on: String,
}

/// Whether a seal is intact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SealState {
    Sealed,
    Opened,
}

/// What an officer (or an e-seal) reports about a seal on arrival.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealObservation {
    pub number: String,
    /// Where it was found.
    pub on: String,
    pub state: SealState,
}

/// Why a seal cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    #[error("seal class {0:?} is not an ISO 17712 class (I, S or H)")]
    Class(String),
    #[error("seal number {0:?}: {1}")]
    Number(String, &'static str),
    #[error("seal {number} closes {on:?}, which is neither deck:<vessel>/<deck> nor vehicle:<VIN>")]
    Object { number: String, on: String },
    #[error("an electronic seal needs the device that reports it")]
    NoDevice,
    #[error("seal number {0} is applied twice")]
    Duplicate(String),
}

impl Seal {
    /// Checks the number (4 to 20 letters, digits or dashes), the object and the kind.
    pub fn validate(&self) -> Result<(), SealError> {
        validate_number(&self.number)?;
        let object_ok = match self.on.split_once(':') {
            Some(("deck", rest)) => rest
                .split_once('/')
                .is_some_and(|(v, d)| !v.is_empty() && !d.is_empty()),
            Some(("vehicle", vin)) => jianghai_core::Vin::parse(vin).is_ok(),
            _ => false,
        };
        if !object_ok {
            return Err(SealError::Object {
                number: self.number.clone(),
                on: self.on.clone(),
            });
        }
        if let SealKind::Electronic { device } = &self.kind
            && device.trim().is_empty()
        {
            return Err(SealError::NoDevice);
        }
        Ok(())
    }
}

fn validate_number(n: &str) -> Result<(), SealError> {
    let bad = |why| Err(SealError::Number(n.to_string(), why));
    if n.len() < 4 || n.len() > 20 {
        return bad("must have 4 to 20 characters");
    }
    if !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return bad("may hold only letters, digits and dashes");
    }
    Ok(())
}

/// Validates a set of seals: each on its own, and no number twice.
pub fn validate_all(seals: &[Seal]) -> Result<(), SealError> {
    let mut seen = BTreeSet::new();
    for s in seals {
        s.validate()?;
        if !seen.insert(s.number.as_str()) {
            return Err(SealError::Duplicate(s.number.clone()));
        }
    }
    Ok(())
}

/// The verdict on one seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum SealVerdict {
    /// Found intact where it was applied.
    Intact { number: String },
    /// Applied, not found on arrival.
    Missing { number: String, on: String },
    /// Found opened.
    Opened { number: String, on: String },
    /// Found on another object than the one it was applied to.
    Moved {
        number: String,
        applied_on: String,
        found_on: String,
    },
    /// Found, but never applied (a replacement seal, or a substitution).
    Unknown { number: String, on: String },
}

impl SealVerdict {
    pub fn is_intact(&self) -> bool {
        matches!(self, SealVerdict::Intact { .. })
    }
}

impl fmt::Display for SealVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealVerdict::Intact { number } => write!(f, "seal {number} intact"),
            SealVerdict::Missing { number, on } => {
                write!(f, "seal {number} applied on {on} is missing")
            }
            SealVerdict::Opened { number, on } => write!(f, "seal {number} on {on} is opened"),
            SealVerdict::Moved {
                number,
                applied_on,
                found_on,
            } => write!(
                f,
                "seal {number} was applied on {applied_on} but found on {found_on}"
            ),
            SealVerdict::Unknown { number, on } => {
                write!(f, "seal {number} on {on} was never applied")
            }
        }
    }
}

/// Compares the seals applied with those found: one verdict per seal, applied ones first in
/// number order, then unknown ones. The transit may close only if every verdict is intact.
pub fn verify(applied: &[Seal], found: &[SealObservation]) -> Vec<SealVerdict> {
    let found_by: BTreeMap<&str, &SealObservation> =
        found.iter().map(|o| (o.number.as_str(), o)).collect();
    let mut applied_sorted: Vec<&Seal> = applied.iter().collect();
    applied_sorted.sort_by(|a, b| a.number.cmp(&b.number));
    let mut out = Vec::with_capacity(applied.len());
    for s in &applied_sorted {
        out.push(match found_by.get(s.number.as_str()) {
            None => SealVerdict::Missing {
                number: s.number.clone(),
                on: s.on.clone(),
            },
            Some(o) if o.on != s.on => SealVerdict::Moved {
                number: s.number.clone(),
                applied_on: s.on.clone(),
                found_on: o.on.clone(),
            },
            Some(o) if o.state == SealState::Opened => SealVerdict::Opened {
                number: s.number.clone(),
                on: s.on.clone(),
            },
            Some(_) => SealVerdict::Intact {
                number: s.number.clone(),
            },
        });
    }
    let applied_numbers: BTreeSet<&str> = applied.iter().map(|s| s.number.as_str()).collect();
    let mut unknown: Vec<&SealObservation> = found
        .iter()
        .filter(|o| !applied_numbers.contains(o.number.as_str()))
        .collect();
    unknown.sort_by(|a, b| a.number.cmp(&b.number));
    unknown.dedup_by(|a, b| a.number == b.number);
    out.extend(unknown.into_iter().map(|o| SealVerdict::Unknown {
        number: o.number.clone(),
        on: o.on.clone(),
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(n: &str, on: &str) -> Seal {
        Seal {
            number: n.into(),
            kind: SealKind::Mechanical {
                class: SealClass::H,
            },
            on: on.into(),
        }
    }

    fn found(n: &str, on: &str, state: SealState) -> SealObservation {
        SealObservation {
            number: n.into(),
            on: on.into(),
            state,
        }
    }

    #[test]
    fn every_verdict() {
        let applied = vec![
            seal("CQ-0001", "deck:ms8/D1"),
            seal("CQ-0002", "deck:ms8/D2"),
            seal("CQ-0003", "deck:ms8/D3"),
            seal("CQ-0004", "deck:ms8/D4"),
        ];
        let seen = vec![
            found("CQ-0001", "deck:ms8/D1", SealState::Sealed),
            found("CQ-0002", "deck:ms8/D2", SealState::Opened),
            found("CQ-0004", "deck:ms8/D5", SealState::Sealed),
            found("SH-9999", "deck:ms8/D3", SealState::Sealed),
        ];
        let v = verify(&applied, &seen);
        assert_eq!(v.len(), 5);
        assert!(v[0].is_intact());
        assert!(matches!(v[1], SealVerdict::Opened { .. }));
        assert!(matches!(v[2], SealVerdict::Missing { .. }));
        assert!(matches!(v[3], SealVerdict::Moved { .. }));
        assert!(matches!(v[4], SealVerdict::Unknown { .. }));
        assert_eq!(
            v[3].to_string(),
            "seal CQ-0004 was applied on deck:ms8/D4 but found on deck:ms8/D5"
        );
    }

    #[test]
    fn bad_seals_are_named() {
        assert!(matches!(
            seal("x", "deck:a/b").validate(),
            Err(SealError::Number(..))
        ));
        assert!(matches!(
            seal("CQ 0001", "deck:a/b").validate(),
            Err(SealError::Number(..))
        ));
        assert!(matches!(
            seal("CQ-0001", "hold:3").validate(),
            Err(SealError::Object { .. })
        ));
        assert!(matches!(
            seal("CQ-0001", "vehicle:LS5A3DKE0RA00012").validate(),
            Err(SealError::Object { .. })
        ));
        let e = Seal {
            number: "EL-1".repeat(2),
            kind: SealKind::Electronic { device: " ".into() },
            on: "deck:a/b".into(),
        };
        assert_eq!(e.validate(), Err(SealError::NoDevice));
        assert_eq!(
            validate_all(&[seal("CQ-0001", "deck:a/b"), seal("CQ-0001", "deck:a/c")]),
            Err(SealError::Duplicate("CQ-0001".into()))
        );
        assert_eq!(SealClass::parse("X"), Err(SealError::Class("X".into())));
    }
}
