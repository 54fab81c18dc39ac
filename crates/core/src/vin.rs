//! Vehicle identification numbers: ISO 3779 structure, the check digit GB 16735 requires,
//! WMI → manufacturer (ISO 3780) and the model year at position 10.
//!
//! `Vin::parse` is the only way to make a [`Vin`], so holding one proves the string is
//! 17 legal characters with a correct check digit.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::wmi;

/// Number of characters in a VIN.
pub const VIN_LEN: usize = 17;

/// A validated, normalised (upper-case, trimmed) VIN.
///
/// Invariant: 17 characters from `0-9 A-Z` without `I`, `O`, `Q`, and position 9 equals the
/// mod-11 check digit of the other sixteen.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vin([u8; VIN_LEN]);

/// Why a string is not a valid VIN. Positions are 1-based, as printed on a VIN label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VinError {
    /// The string is empty after trimming.
    #[error("VIN is empty")]
    Empty,
    /// Wrong number of characters; a VIN has exactly 17.
    #[error("VIN must have 17 characters, found {found}")]
    Length { found: usize },
    /// `I`, `O` and `Q` are never used, to avoid confusion with `1` and `0`.
    #[error(
        "forbidden letter '{letter}' at position {position} (I, O and Q are never used in a VIN)"
    )]
    ForbiddenLetter { letter: char, position: usize },
    /// A character that is neither a digit nor a Latin capital letter.
    #[error(
        "invalid character {character:?} at position {position} (only 0-9 and A-Z are allowed)"
    )]
    InvalidCharacter { character: char, position: usize },
    /// Position 10 is the model-year code, which never uses `U`, `Z` or `0`.
    #[error(
        "model-year code '{found}' at position 10 is not used (U, Z and 0 are never year codes)"
    )]
    ModelYearCode { found: char },
    /// Position 9 does not match the weighted mod-11 check digit.
    #[error("check digit at position 9: expected '{expected}', found '{found}'")]
    CheckDigit { expected: char, found: char },
}

/// Transliteration of ISO 3779 characters to values (digits map to themselves).
const fn transliterate(c: u8) -> Option<u32> {
    Some(match c {
        b'0'..=b'9' => (c - b'0') as u32,
        b'A' | b'J' => 1,
        b'B' | b'K' | b'S' => 2,
        b'C' | b'L' | b'T' => 3,
        b'D' | b'M' | b'U' => 4,
        b'E' | b'N' | b'V' => 5,
        b'F' | b'W' => 6,
        b'G' | b'P' | b'X' => 7,
        b'H' | b'Y' => 8,
        b'R' | b'Z' => 9,
        _ => return None,
    })
}

const WEIGHTS: [u32; VIN_LEN] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];

/// The check character (`0`–`9` or `X`) for seventeen legal characters; position 9 is ignored.
///
/// Returns `None` if a character other than position 9 cannot be transliterated.
pub fn check_digit(chars: &[u8; VIN_LEN]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &c) in chars.iter().enumerate() {
        if i == 8 {
            continue;
        }
        sum += transliterate(c)? * WEIGHTS[i];
    }
    Some(match sum % 11 {
        10 => b'X',
        r => b'0' + r as u8,
    })
}

impl Vin {
    /// Normalises (trims, upper-cases) and validates `input`.
    ///
    /// The error names the first thing wrong: length, then each position from the left,
    /// then the check digit.
    pub fn parse(input: &str) -> Result<Vin, VinError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(VinError::Empty);
        }
        let count = trimmed.chars().count();
        if count != VIN_LEN {
            return Err(VinError::Length { found: count });
        }
        let mut out = [0u8; VIN_LEN];
        for (i, ch) in trimmed.chars().enumerate() {
            let up = ch.to_ascii_uppercase();
            let position = i + 1;
            match up {
                'I' | 'O' | 'Q' => {
                    return Err(VinError::ForbiddenLetter {
                        letter: up,
                        position,
                    });
                }
                '0'..='9' | 'A'..='Z' => out[i] = up as u8,
                _ => {
                    return Err(VinError::InvalidCharacter {
                        character: ch,
                        position,
                    });
                }
            }
        }
        if matches!(out[9], b'U' | b'Z' | b'0') {
            return Err(VinError::ModelYearCode {
                found: out[9] as char,
            });
        }
        // Every character is legal here, so the transliteration cannot fail.
        let expected = check_digit(&out).ok_or(VinError::InvalidCharacter {
            character: '?',
            position: 0,
        })?;
        if out[8] != expected {
            return Err(VinError::CheckDigit {
                expected: expected as char,
                found: out[8] as char,
            });
        }
        Ok(Vin(out))
    }

    /// Completes sixteen characters into a VIN by computing position 9; used by simulators
    /// and fixtures. `body` is the VIN with any character at position 9.
    pub fn with_check_digit(body: &str) -> Result<Vin, VinError> {
        let trimmed = body.trim();
        let count = trimmed.chars().count();
        if count != VIN_LEN {
            return Err(VinError::Length { found: count });
        }
        let mut chars: Vec<char> = trimmed.chars().map(|c| c.to_ascii_uppercase()).collect();
        chars[8] = '0';
        let provisional: String = chars.iter().collect();
        match Vin::parse(&provisional) {
            Ok(v) => Ok(v),
            Err(VinError::CheckDigit { expected, .. }) => {
                chars[8] = expected;
                Vin::parse(&chars.iter().collect::<String>())
            }
            Err(e) => Err(e),
        }
    }

    /// The VIN as a string slice (always ASCII).
    pub fn as_str(&self) -> &str {
        // Invariant: only ASCII bytes are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// World manufacturer identifier, positions 1–3.
    pub fn wmi(&self) -> &str {
        &self.as_str()[..3]
    }

    /// Vehicle descriptor section, positions 4–9.
    pub fn vds(&self) -> &str {
        &self.as_str()[3..9]
    }

    /// Vehicle indicator section, positions 10–17.
    pub fn vis(&self) -> &str {
        &self.as_str()[9..]
    }

    /// Plant code, position 11.
    pub fn plant(&self) -> char {
        self.0[10] as char
    }

    /// Serial number, positions 12–17.
    pub fn serial(&self) -> &str {
        &self.as_str()[11..]
    }

    /// Region of the first character (ISO 3780).
    pub fn region(&self) -> Region {
        Region::of(self.0[0])
    }

    /// The manufacturer the WMI is assigned to, when the table knows it.
    pub fn manufacturer(&self) -> Option<&'static wmi::Manufacturer> {
        wmi::lookup(self.wmi())
    }

    /// The model year from position 10, taking the latest year of the 30-year cycle that is
    /// not after `not_after` (usually this year plus one, as makers sell next year's models).
    ///
    /// `None` when position 10 holds a character never used for years (0, I, O, Q, U, Z).
    pub fn model_year(&self, not_after: i32) -> Option<i32> {
        model_year(self.0[9], not_after)
    }
}

/// Year code → year in the 1980–2009 cycle.
fn base_year(code: u8) -> Option<i32> {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTVWXY";
    if let Some(i) = LETTERS.iter().position(|&c| c == code) {
        return Some(1980 + i as i32);
    }
    match code {
        b'1'..=b'9' => Some(2001 + (code - b'1') as i32),
        _ => None,
    }
}

/// See [`Vin::model_year`].
pub fn model_year(code: u8, not_after: i32) -> Option<i32> {
    let base = base_year(code)?;
    let mut year = base;
    while year + 30 <= not_after {
        year += 30;
    }
    Some(year)
}

/// Geographic region of a WMI's first character (ISO 3780).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    Africa,
    Asia,
    Europe,
    NorthAmerica,
    Oceania,
    SouthAmerica,
    Unassigned,
}

impl Region {
    fn of(c: u8) -> Region {
        match c {
            b'A'..=b'H' => Region::Africa,
            b'J'..=b'R' => Region::Asia,
            b'S'..=b'Z' => Region::Europe,
            b'1'..=b'5' => Region::NorthAmerica,
            b'6' | b'7' => Region::Oceania,
            b'8' | b'9' => Region::SouthAmerica,
            _ => Region::Unassigned,
        }
    }
}

impl fmt::Display for Vin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Vin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Vin({})", self.as_str())
    }
}

impl std::str::FromStr for Vin {
    type Err = VinError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Vin::parse(s)
    }
}

impl Serialize for Vin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Vin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Vin::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn brief_examples_validate() {
        for v in [
            "1M8GDM9AXKP042788",
            "LRW3E7FS5PC695355",
            "LSJA24U62JG269225",
            "LDC613P23A1305189",
        ] {
            assert!(Vin::parse(v).is_ok(), "{v}");
        }
    }

    #[test]
    fn normalises_case_and_whitespace() {
        let v = Vin::parse("  lrw3e7fs5pc695355\n").expect("valid");
        assert_eq!(v.as_str(), "LRW3E7FS5PC695355");
    }

    #[test]
    fn each_error_class_is_named() {
        assert_eq!(Vin::parse("   "), Err(VinError::Empty));
        assert_eq!(
            Vin::parse("LRW3E7FS5PC69535"),
            Err(VinError::Length { found: 16 })
        );
        assert_eq!(
            Vin::parse("LRW3E7FS5PC6953555"),
            Err(VinError::Length { found: 18 })
        );
        assert_eq!(
            Vin::parse("LRW3E7FS5PC69O355"),
            Err(VinError::ForbiddenLetter {
                letter: 'O',
                position: 14
            })
        );
        assert_eq!(
            Vin::parse("iRW3E7FS5PC695355"),
            Err(VinError::ForbiddenLetter {
                letter: 'I',
                position: 1
            })
        );
        assert_eq!(
            Vin::parse("LRW3E7FS5PC6953-5"),
            Err(VinError::InvalidCharacter {
                character: '-',
                position: 16
            })
        );
        assert_eq!(
            Vin::parse("LRW3E7FS6PC695355"),
            Err(VinError::CheckDigit {
                expected: '5',
                found: '6'
            })
        );
        assert_eq!(
            Vin::parse("LRW3E7FS5UC695355"),
            Err(VinError::ModelYearCode { found: 'U' })
        );
        // Multi-byte characters count as one position each.
        assert_eq!(
            Vin::parse("LRW3E7FS5PC69535é"),
            Err(VinError::InvalidCharacter {
                character: 'é',
                position: 17
            })
        );
        let msg = Vin::parse("LRW3E7FS6PC695355").unwrap_err().to_string();
        assert_eq!(msg, "check digit at position 9: expected '5', found '6'");
    }

    #[test]
    fn x_check_digit() {
        let v = Vin::parse("1M8GDM9AXKP042788").expect("valid");
        assert_eq!(v.as_str().as_bytes()[8], b'X');
    }

    #[test]
    fn sections_and_decoding() {
        let v = Vin::parse("LRW3E7FS5PC695355").expect("valid");
        assert_eq!(v.wmi(), "LRW");
        assert_eq!(v.vds(), "3E7FS5");
        assert_eq!(v.vis(), "PC695355");
        assert_eq!(v.plant(), 'C');
        assert_eq!(v.serial(), "695355");
        assert_eq!(v.region(), Region::Asia);
        assert_eq!(v.model_year(2027), Some(2023));
        assert_eq!(v.manufacturer().map(|m| m.name), Some("Tesla (Shanghai)"));
        let old = Vin::parse("LDC613P23A1305189").expect("valid");
        assert_eq!(old.model_year(2027), Some(2010));
    }

    #[test]
    fn model_year_cycle() {
        assert_eq!(model_year(b'A', 2027), Some(2010));
        assert_eq!(model_year(b'A', 2009), Some(1980));
        assert_eq!(model_year(b'Y', 2027), Some(2000));
        assert_eq!(model_year(b'Y', 2031), Some(2030));
        assert_eq!(model_year(b'1', 2027), Some(2001));
        assert_eq!(model_year(b'9', 2040), Some(2039));
        assert_eq!(model_year(b'S', 2027), Some(2025));
        assert_eq!(model_year(b'T', 2027), Some(2026));
        assert_eq!(model_year(b'V', 2027), Some(2027));
        assert_eq!(model_year(b'W', 2027), Some(1998));
        for bad in [b'0', b'I', b'O', b'Q', b'U', b'Z'] {
            assert_eq!(model_year(bad, 2027), None);
        }
    }

    #[test]
    fn with_check_digit_completes() {
        let v = Vin::with_check_digit("LS5A3ABE?RB123456").expect("completes");
        assert!(Vin::parse(v.as_str()).is_ok());
    }

    fn legal_char() -> impl Strategy<Value = char> {
        prop::sample::select(
            "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
                .chars()
                .collect::<Vec<_>>(),
        )
    }

    /// Legal VIN bodies: position 10 holds a year code.
    fn body() -> impl Strategy<Value = Vec<char>> {
        let year =
            prop::sample::select("123456789ABCDEFGHJKLMNPRSTVWXY".chars().collect::<Vec<_>>());
        (
            prop::collection::vec(legal_char(), 9),
            year,
            prop::collection::vec(legal_char(), 7),
        )
            .prop_map(|(a, y, b)| a.into_iter().chain([y]).chain(b).collect())
    }

    proptest! {
        #[test]
        fn completed_vins_parse_and_every_single_substitution_at_9_fails(
            chars in body()
        ) {
            let body: String = chars.iter().collect();
            let vin = Vin::with_check_digit(&body).expect("legal characters");
            prop_assert!(Vin::parse(vin.as_str()).is_ok());
            let correct = vin.as_str().as_bytes()[8];
            for alt in b"0123456789X" {
                if *alt == correct { continue; }
                let mut s = vin.as_str().as_bytes().to_vec();
                s[8] = *alt;
                let s = String::from_utf8(s).expect("ascii");
                let is_check_digit_error = matches!(Vin::parse(&s), Err(VinError::CheckDigit { .. }));
                prop_assert!(is_check_digit_error);
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Vin::parse(&s);
        }

        #[test]
        fn a_valid_vin_roundtrips_through_its_string(
            chars in body()
        ) {
            let vin = Vin::with_check_digit(&chars.iter().collect::<String>()).expect("legal");
            prop_assert_eq!(Vin::parse(&vin.to_string().to_lowercase()), Ok(vin));
        }
    }
}
