//! [`AisText`]: a short inline string for AIS 6-bit text fields (names,
//! call signs, destinations), so decoded messages carry no heap allocation.

use std::fmt;
use std::ops::Deref;

/// Longest text held: a type 21 name is 20 characters plus up to 14 in its
/// extension field.
pub const AIS_TEXT_CAPACITY: usize = 40;

/// A string of at most [`AIS_TEXT_CAPACITY`] characters from the AIS 6-bit
/// alphabet (`@`, `A`–`Z`, `[\]^_`, space and `!`–`?`).
///
/// Invariant: every byte is in the 6-bit alphabet (so the text is ASCII and
/// valid UTF-8), and decoded texts have no trailing spaces and no `@`.
#[derive(Clone, Copy)]
pub struct AisText {
    buf: [u8; AIS_TEXT_CAPACITY],
    len: u8,
}

/// Why a string cannot become an [`AisText`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// Longer than [`AIS_TEXT_CAPACITY`].
    #[error("text longer than {AIS_TEXT_CAPACITY} characters")]
    TooLong,
    /// A character AIS 6-bit text cannot carry (lower case, non-ASCII, `` ` ``…).
    #[error("character {0:?} is not in the AIS 6-bit alphabet")]
    InvalidCharacter(char),
}

impl Default for AisText {
    fn default() -> Self {
        Self {
            buf: [0; AIS_TEXT_CAPACITY],
            len: 0,
        }
    }
}

impl AisText {
    /// Build from a string, checking the alphabet and capacity. `@` is
    /// refused too, because it terminates AIS text.
    pub fn new(s: &str) -> Result<Self, TextError> {
        let mut t = Self::default();
        for c in s.chars() {
            let ok = c.is_ascii() && crate::bits::to_sixbit(c as u8).is_some() && c != '@';
            if !ok {
                return Err(TextError::InvalidCharacter(c));
            }
            if !t.push(c as u8) {
                return Err(TextError::TooLong);
            }
        }
        Ok(t)
    }

    /// The text as `&str`.
    pub fn as_str(&self) -> &str {
        let bytes = self.buf.get(..usize::from(self.len)).unwrap_or(&[]);
        std::str::from_utf8(bytes).unwrap_or("")
    }

    /// Append one byte; false when full.
    pub(crate) fn push(&mut self, b: u8) -> bool {
        match self.buf.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    pub(crate) fn trim_end_spaces(&mut self) {
        while self.len > 0 && self.buf.get(usize::from(self.len) - 1) == Some(&b' ') {
            self.len -= 1;
        }
    }
}

impl PartialEq for AisText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for AisText {}

impl std::hash::Hash for AisText {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for AisText {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AisText {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Deref for AisText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for AisText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AisText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_alphabet_and_refuses_the_rest() {
        assert_eq!(&*AisText::new("EVER DIADEM").unwrap(), "EVER DIADEM");
        assert_eq!(AisText::new("ever"), Err(TextError::InvalidCharacter('e')));
        assert_eq!(AisText::new("A@B"), Err(TextError::InvalidCharacter('@')));
        assert_eq!(AisText::new(&"A".repeat(41)), Err(TextError::TooLong));
        assert_eq!(AisText::new("长江"), Err(TextError::InvalidCharacter('长')));
    }
}
