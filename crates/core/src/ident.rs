//! Identifiers of the things parties name: organisations, facilities, vessels, voyages,
//! shipments, seals and devices.
//!
//! An [`Ident`] is a short slug chosen by whoever registers the thing (`cq-guoyuan-yard`,
//! `minsheng-ro-ro`), because these names travel in URLs, MQTT topics and EPCIS URIs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest identifier accepted.
pub const MAX_IDENT_LEN: usize = 64;

/// A validated identifier: 1–64 characters of `a-z 0-9 - _ .`, starting with a letter or digit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Ident(String);

/// Why a string is not an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentError {
    #[error("identifier is empty")]
    Empty,
    #[error("identifier is {len} characters long; at most {MAX_IDENT_LEN} are allowed")]
    TooLong { len: usize },
    #[error(
        "identifier has {character:?} at position {position}; use lower-case letters, digits, '-', '_' or '.'"
    )]
    InvalidCharacter { character: char, position: usize },
    #[error("identifier must start with a letter or digit")]
    BadStart,
}

impl Ident {
    /// Validates `s` as given (identifiers are case-sensitive and not normalised).
    pub fn parse(s: &str) -> Result<Ident, IdentError> {
        if s.is_empty() {
            return Err(IdentError::Empty);
        }
        let len = s.chars().count();
        if len > MAX_IDENT_LEN {
            return Err(IdentError::TooLong { len });
        }
        for (i, c) in s.chars().enumerate() {
            if !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')) {
                return Err(IdentError::InvalidCharacter {
                    character: c,
                    position: i + 1,
                });
            }
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(IdentError::BadStart);
        }
        Ok(Ident(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::str::FromStr for Ident {
    type Err = IdentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ident::parse(s)
    }
}

impl<'de> Deserialize<'de> for Ident {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ident::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_slugs_and_rejects_the_rest() {
        assert!(Ident::parse("cq-guoyuan-yard").is_ok());
        assert!(Ident::parse("v2.minsheng_01").is_ok());
        assert_eq!(Ident::parse(""), Err(IdentError::Empty));
        assert_eq!(Ident::parse("-x"), Err(IdentError::BadStart));
        assert_eq!(
            Ident::parse("Yard"),
            Err(IdentError::InvalidCharacter {
                character: 'Y',
                position: 1
            })
        );
        assert_eq!(
            Ident::parse(&"a".repeat(65)),
            Err(IdentError::TooLong { len: 65 })
        );
    }
}
