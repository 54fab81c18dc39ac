//! The AIS payload as a fixed-capacity bit vector: 6-bit ASCII armouring in
//! both directions, big-endian field reads and writes, and 6-bit text.
//!
//! [`Payload`] lives on the stack (no allocation), so decoding a
//! single-fragment sentence allocates nothing. Reads past the end of the
//! payload yield zero bits; callers check lengths per message type before
//! they read, so this is only a guard against malformed input, never a
//! source of values that reach the user.

use std::fmt;

/// Largest payload held, in bits. ITU-R M.1371 messages fit in five slots
/// (1008 bits); the extra room takes over-long messages seen in the wild.
pub const MAX_PAYLOAD_BITS: usize = 2048;

const MAX_BYTES: usize = MAX_PAYLOAD_BITS / 8;

/// Why armoured payload text could not be turned into bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// A character outside the AIS armouring alphabet (`0`–`W`, `` ` ``–`w`).
    #[error("payload character {byte:#04x} at offset {offset} is not 6-bit armoured ASCII")]
    InvalidCharacter {
        /// Offset of the character within the payload field.
        offset: usize,
        /// The offending byte.
        byte: u8,
    },
    /// The payload (all fragments together) exceeds [`MAX_PAYLOAD_BITS`].
    #[error("payload longer than {MAX_PAYLOAD_BITS} bits")]
    TooLong,
    /// More fill bits than the payload has bits.
    #[error("{fill} fill bits exceed the {bits}-bit payload")]
    FillExceedsPayload {
        /// Fill bits stated by the sentence.
        fill: u8,
        /// Bits in the payload.
        bits: usize,
    },
}

/// 6-bit value of each armoured character; 0xFF marks a byte outside the
/// armouring alphabet.
const UNARMOR: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut b = 0;
    while b < 256 {
        if b >= 48 && b <= 87 {
            t[b] = (b - 48) as u8;
        } else if b >= 96 && b <= 119 {
            t[b] = (b - 56) as u8;
        }
        b += 1;
    }
    t
};

/// Decode one armoured character to its 6-bit value.
#[inline]
pub(crate) fn unarmor(byte: u8) -> Option<u8> {
    let v = UNARMOR[usize::from(byte)];
    if v == 0xFF { None } else { Some(v) }
}

/// Encode a 6-bit value (0–63) as an armoured character.
#[inline]
pub(crate) fn armor(value: u8) -> u8 {
    let v = value & 0x3f;
    if v < 40 { v + 48 } else { v + 56 }
}

/// A bit vector of at most [`MAX_PAYLOAD_BITS`] bits.
///
/// Invariant: every bit at or beyond `len` is zero, so reads past the end
/// are zero and two payloads with equal bits compare equal.
#[derive(Clone)]
pub struct Payload {
    bytes: [u8; MAX_BYTES],
    len: usize,
}

impl Default for Payload {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (text, fill) = self.to_armored();
        write!(f, "Payload({} bits, {text:?}, fill {fill})", self.len)
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.bytes == other.bytes
    }
}

impl Eq for Payload {}

impl Payload {
    /// An empty payload.
    pub const fn new() -> Self {
        Self {
            bytes: [0; MAX_BYTES],
            len: 0,
        }
    }

    /// Decode armoured text, dropping `fill_bits` from the end.
    pub fn from_armored(text: &str, fill_bits: u8) -> Result<Self, PayloadError> {
        let mut p = Self::new();
        p.push_armored(text.as_bytes())?;
        p.drop_fill(fill_bits)?;
        Ok(p)
    }

    /// Number of bits held.
    pub fn len_bits(&self) -> usize {
        self.len
    }

    /// True when no bit is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empty the payload, keeping the buffer (and the zero invariant).
    pub fn clear(&mut self) {
        let used = self.len.div_ceil(8).min(MAX_BYTES);
        for b in self.bytes.iter_mut().take(used) {
            *b = 0;
        }
        self.len = 0;
    }

    /// Append armoured characters.
    pub(crate) fn push_armored(&mut self, text: &[u8]) -> Result<(), PayloadError> {
        if self.len + text.len() * 6 > MAX_PAYLOAD_BITS {
            return Err(PayloadError::TooLong);
        }
        let mut done = 0;
        if self.len.is_multiple_of(8) {
            // Fast path: four characters are exactly three bytes.
            while let Some(chunk) = text.get(done..done + 4) {
                let mut w: u32 = 0;
                for (k, &byte) in chunk.iter().enumerate() {
                    let v = unarmor(byte).ok_or(PayloadError::InvalidCharacter {
                        offset: done + k,
                        byte,
                    })?;
                    w = (w << 6) | u32::from(v);
                }
                let at = self.len / 8;
                if let Some(dst) = self.bytes.get_mut(at..at + 3) {
                    let be = w.to_be_bytes();
                    dst.copy_from_slice(&be[1..]);
                }
                self.len += 24;
                done += 4;
            }
        }
        for (offset, &byte) in text.iter().enumerate().skip(done) {
            let v = unarmor(byte).ok_or(PayloadError::InvalidCharacter { offset, byte })?;
            self.put(u64::from(v), 6);
        }
        Ok(())
    }

    /// Remove the last `fill` bits (and zero them, keeping the invariant).
    pub(crate) fn drop_fill(&mut self, fill: u8) -> Result<(), PayloadError> {
        let fill = usize::from(fill);
        if fill > self.len {
            return Err(PayloadError::FillExceedsPayload {
                fill: fill as u8,
                bits: self.len,
            });
        }
        self.truncate(self.len - fill);
        Ok(())
    }

    /// Keep only the first `len` bits.
    pub(crate) fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        let full = len / 8;
        let rem = len % 8;
        if let Some(b) = self.bytes.get_mut(full) {
            *b &= if rem == 0 { 0 } else { 0xffu8 << (8 - rem) };
        }
        let end = self.len.div_ceil(8).min(MAX_BYTES);
        for b in self.bytes.iter_mut().take(end).skip(full + 1) {
            *b = 0;
        }
        self.len = len;
    }

    /// Write the low `width` bits of `value` (at most 57) at the end.
    /// Bits beyond capacity are silently dropped; writers check capacity.
    fn put(&mut self, value: u64, width: usize) {
        let mut remaining = width.min(57);
        while remaining > 0 {
            let Some(byte) = self.bytes.get_mut(self.len / 8) else {
                return;
            };
            let space = 8 - self.len % 8;
            let take = space.min(remaining);
            let chunk = (value >> (remaining - take)) & ((1u64 << take) - 1);
            *byte |= (chunk << (space - take)) as u8;
            self.len += take;
            remaining -= take;
        }
    }

    /// Append an unsigned field of `width` bits (value masked to width).
    pub(crate) fn push_uint(&mut self, value: u64, width: usize) {
        self.put(value, width);
    }

    /// Append a two's complement signed field of `width` bits.
    pub(crate) fn push_int(&mut self, value: i64, width: usize) {
        self.put(value as u64, width);
    }

    /// Append `chars` characters of 6-bit text, padding with `@`.
    /// Characters outside the 6-bit alphabet are written as `?`.
    pub(crate) fn push_text(&mut self, text: &str, chars: usize) {
        let mut bytes = text.bytes();
        for _ in 0..chars {
            let v = bytes.next().map_or(0, |b| to_sixbit(b).unwrap_or(63));
            self.put(u64::from(v), 6);
        }
    }

    /// Read an unsigned field. `width` must be at most 32.
    #[inline]
    pub fn uint(&self, start: usize, width: usize) -> u32 {
        debug_assert!(width <= 32);
        if width == 0 {
            return 0;
        }
        let first = start / 8;
        let mask = (1u64 << width) - 1;
        if let Some(window) = self.bytes.get(first..first + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(window);
            let shift = 64 - (start % 8) - width;
            return ((u64::from_be_bytes(w) >> shift) & mask) as u32;
        }
        let last = (start + width - 1) / 8;
        let mut acc: u64 = 0;
        for i in first..=last {
            acc = (acc << 8) | u64::from(self.bytes.get(i).copied().unwrap_or(0));
        }
        let total = (last - first + 1) * 8;
        let shift = total - (start % 8) - width;
        ((acc >> shift) & mask) as u32
    }

    /// Read a two's complement signed field. `width` must be 1–32.
    #[inline]
    pub fn int(&self, start: usize, width: usize) -> i32 {
        let raw = self.uint(start, width);
        if width == 0 || width >= 32 {
            return raw as i32;
        }
        let shift = 32 - width;
        ((raw << shift) as i32) >> shift
    }

    /// Read a single bit as a flag.
    #[inline]
    pub fn flag(&self, start: usize) -> bool {
        self.uint(start, 1) == 1
    }

    /// Read up to `chars` 6-bit characters as gpsd and AIVDM.adoc do: stop at
    /// the first `@`, then strip trailing spaces.
    pub fn text(&self, start: usize, chars: usize) -> crate::AisText {
        let mut out = crate::AisText::default();
        self.append_text(&mut out, start, chars);
        out.trim_end_spaces();
        out
    }

    /// Append up to `chars` characters to `out`, stopping at `@`, at the end
    /// of the payload, or when `out` is full. Returns how many were appended.
    pub(crate) fn append_text(
        &self,
        out: &mut crate::AisText,
        start: usize,
        chars: usize,
    ) -> usize {
        for i in 0..chars {
            let pos = start + 6 * i;
            if pos + 6 > self.len {
                return i;
            }
            let v = self.uint(pos, 6) as u8;
            if v == 0 || !out.push(from_sixbit(v)) {
                return i;
            }
        }
        chars
    }

    /// Armour the payload: the text and the number of fill bits.
    pub fn to_armored(&self) -> (String, u8) {
        let chars = self.len.div_ceil(6);
        let fill = (chars * 6 - self.len) as u8;
        let mut s = String::with_capacity(chars);
        for i in 0..chars {
            s.push(char::from(armor(self.uint(i * 6, 6) as u8)));
        }
        (s, fill)
    }
}

/// 6-bit value to ASCII: 0–31 → `@`..`_`, 32–63 → ` `..`?`.
#[inline]
pub(crate) fn from_sixbit(v: u8) -> u8 {
    let v = v & 0x3f;
    if v < 32 { v + 64 } else { v }
}

/// ASCII to 6-bit value, for characters in the 6-bit alphabet.
#[inline]
pub(crate) fn to_sixbit(b: u8) -> Option<u8> {
    match b {
        64..=95 => Some(b - 64),
        32..=63 => Some(b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armouring_round_trips_every_value() {
        for v in 0..64u8 {
            assert_eq!(unarmor(armor(v)), Some(v));
        }
        assert_eq!(unarmor(b'X'), None);
        assert_eq!(unarmor(b'_'), None);
        assert_eq!(unarmor(b'x'), None);
    }

    #[test]
    fn reads_fields_msb_first() {
        // "15RTgt0PAso;90TKcjM8h6g208CQ" is gpsd's first type 1 sample.
        let p = Payload::from_armored("15RTgt0PAso;90TKcjM8h6g208CQ", 0).unwrap();
        assert_eq!(p.len_bits(), 168);
        assert_eq!(p.uint(0, 6), 1);
        assert_eq!(p.uint(8, 30), 371_798_000);
        assert_eq!(p.int(42, 8), -127);
    }

    #[test]
    fn fill_bits_are_dropped_and_zeroed() {
        let mut p = Payload::from_armored("w", 0).unwrap();
        assert_eq!(p.uint(0, 6), 63);
        p.drop_fill(2).unwrap();
        assert_eq!(p.len_bits(), 4);
        assert_eq!(p.uint(0, 6), 0b111100);
        assert_eq!(
            Payload::from_armored("0", 7),
            Err(PayloadError::FillExceedsPayload { fill: 7, bits: 6 })
        );
    }

    #[test]
    fn rejects_bad_characters_with_offset() {
        assert_eq!(
            Payload::from_armored("15X", 0),
            Err(PayloadError::InvalidCharacter {
                offset: 2,
                byte: b'X'
            })
        );
    }

    #[test]
    fn writer_and_reader_agree() {
        let mut p = Payload::new();
        p.push_uint(5, 6);
        p.push_int(-3, 8);
        p.push_text("AB C", 6);
        assert_eq!(p.uint(0, 6), 5);
        assert_eq!(p.int(6, 8), -3);
        assert_eq!(&*p.text(14, 6), "AB C");
        let (s, fill) = p.to_armored();
        let q = Payload::from_armored(&s, fill).unwrap();
        assert_eq!(p, q);
    }

    #[test]
    fn fast_and_slow_armouring_agree() {
        let text = "177KQJ5000G?tO`K>RA1wUbN0TKH";
        let fast = Payload::from_armored(text, 0).unwrap();
        let mut slow = Payload::new();
        slow.push_uint(0, 2);
        slow.push_armored(text.as_bytes()).unwrap();
        for i in 0..fast.len_bits() {
            assert_eq!(fast.uint(i, 1), slow.uint(i + 2, 1), "bit {i}");
        }
        let mut reused = slow.clone();
        reused.clear();
        reused.push_armored(text.as_bytes()).unwrap();
        assert_eq!(reused, fast);
    }

    #[test]
    fn reads_past_end_are_zero() {
        let p = Payload::from_armored("w", 0).unwrap();
        assert_eq!(p.uint(2040, 30), 0);
        assert_eq!(p.uint(6, 8), 0);
    }
}
