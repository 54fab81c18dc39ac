//! Field types and helpers shared by the message families: navigation
//! status, dimensions, ETA, the common header, scaled fields with their
//! "not available" sentinels, and checked conversion back to raw bits.

use super::{DecodeError, EncodeError};
use crate::bits::Payload;

/// Navigational status (4 bits), types 1–3 and 27.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum NavigationStatus {
    /// 0
    UnderWayUsingEngine = 0,
    /// 1
    AtAnchor = 1,
    /// 2
    NotUnderCommand = 2,
    /// 3
    RestrictedManoeuvrability = 3,
    /// 4
    ConstrainedByDraught = 4,
    /// 5
    Moored = 5,
    /// 6
    Aground = 6,
    /// 7
    EngagedInFishing = 7,
    /// 8
    UnderWaySailing = 8,
    /// 9, reserved for high-speed craft
    ReservedHsc = 9,
    /// 10, reserved for wing-in-ground craft
    ReservedWig = 10,
    /// 11, power-driven vessel towing astern (regional)
    TowingAstern = 11,
    /// 12, power-driven vessel pushing ahead or towing alongside (regional)
    PushingAhead = 12,
    /// 13, reserved
    Reserved13 = 13,
    /// 14, AIS-SART, MOB-AIS or EPIRB-AIS active
    AisSartActive = 14,
    /// 15, not defined (the default)
    NotDefined = 15,
}

impl NavigationStatus {
    /// From the 4-bit raw value (higher bits ignored).
    pub fn from_raw(v: u8) -> Self {
        use NavigationStatus::*;
        match v & 0x0f {
            0 => UnderWayUsingEngine,
            1 => AtAnchor,
            2 => NotUnderCommand,
            3 => RestrictedManoeuvrability,
            4 => ConstrainedByDraught,
            5 => Moored,
            6 => Aground,
            7 => EngagedInFishing,
            8 => UnderWaySailing,
            9 => ReservedHsc,
            10 => ReservedWig,
            11 => TowingAstern,
            12 => PushingAhead,
            13 => Reserved13,
            14 => AisSartActive,
            _ => NotDefined,
        }
    }

    /// The raw 4-bit value.
    pub fn raw(self) -> u8 {
        self as u8
    }
}

/// Reference point dimensions in metres (0 = not available; 511 bow/stern
/// and 63 port/starboard mean "that much or more").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Dimensions {
    /// Metres from the reference point to the bow (9 bits).
    pub to_bow: u16,
    /// Metres to the stern (9 bits).
    pub to_stern: u16,
    /// Metres to port (6 bits).
    pub to_port: u8,
    /// Metres to starboard (6 bits).
    pub to_starboard: u8,
}

impl Dimensions {
    pub(crate) fn read(p: &Payload, start: usize) -> Self {
        Self {
            to_bow: p.uint(start, 9) as u16,
            to_stern: p.uint(start + 9, 9) as u16,
            to_port: p.uint(start + 18, 6) as u8,
            to_starboard: p.uint(start + 24, 6) as u8,
        }
    }

    pub(crate) fn write(&self, p: &mut Payload) -> Result<(), EncodeError> {
        p.push_uint(uint(u32::from(self.to_bow), 9, "to_bow")?, 9);
        p.push_uint(uint(u32::from(self.to_stern), 9, "to_stern")?, 9);
        p.push_uint(uint(u32::from(self.to_port), 6, "to_port")?, 6);
        p.push_uint(uint(u32::from(self.to_starboard), 6, "to_starboard")?, 6);
        Ok(())
    }
}

/// Estimated time of arrival (UTC, no year), each part absent when "not
/// available" (month 0, day 0, hour 24, minute 60).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Eta {
    /// 1–12 (4 bits; 13–15 are kept as sent).
    pub month: Option<u8>,
    /// 1–31.
    pub day: Option<u8>,
    /// 0–23 (25–31 kept as sent).
    pub hour: Option<u8>,
    /// 0–59 (61–63 kept as sent).
    pub minute: Option<u8>,
}

impl Eta {
    pub(crate) fn read(p: &Payload, start: usize) -> Self {
        Self {
            month: na(p.uint(start, 4) as u8, 0),
            day: na(p.uint(start + 4, 5) as u8, 0),
            hour: na(p.uint(start + 9, 5) as u8, 24),
            minute: na(p.uint(start + 14, 6) as u8, 60),
        }
    }

    pub(crate) fn write(&self, p: &mut Payload) -> Result<(), EncodeError> {
        p.push_uint(uint(u32::from(self.month.unwrap_or(0)), 4, "eta.month")?, 4);
        p.push_uint(uint(u32::from(self.day.unwrap_or(0)), 5, "eta.day")?, 5);
        p.push_uint(uint(u32::from(self.hour.unwrap_or(24)), 5, "eta.hour")?, 5);
        p.push_uint(
            uint(u32::from(self.minute.unwrap_or(60)), 6, "eta.minute")?,
            6,
        );
        Ok(())
    }
}

/// `None` when `v` is the sentinel.
#[inline]
pub(crate) fn na<T: PartialEq>(v: T, sentinel: T) -> Option<T> {
    if v == sentinel { None } else { Some(v) }
}

/// Check the payload length: at least `min` bits.
pub(crate) fn need(
    p: &Payload,
    msg_type: u8,
    min: usize,
    expected: &'static str,
) -> Result<(), DecodeError> {
    let bits = p.len_bits();
    if bits < min {
        return Err(DecodeError::Length {
            msg_type,
            bits,
            expected,
        });
    }
    Ok(())
}

/// Common header: (repeat, mmsi).
#[inline]
pub(crate) fn header(p: &Payload) -> (u8, u32) {
    (p.uint(6, 2) as u8, p.uint(8, 30))
}

pub(crate) fn write_header(
    p: &mut Payload,
    msg_type: u8,
    repeat: u8,
    mmsi: u32,
) -> Result<(), EncodeError> {
    p.push_uint(u64::from(msg_type), 6);
    p.push_uint(uint(u32::from(repeat), 2, "repeat")?, 2);
    p.push_uint(uint(mmsi, 30, "mmsi")?, 30);
    Ok(())
}

/// Longitude, 28 bits, 1/10000 minute; 181° (108600000) = not available.
#[inline]
pub(crate) fn lon28(p: &Payload, start: usize) -> Option<f64> {
    let raw = p.int(start, 28);
    na(raw, 108_600_000).map(|r| f64::from(r) / 600_000.0)
}

/// Latitude, 27 bits, 1/10000 minute; 91° (54600000) = not available.
#[inline]
pub(crate) fn lat27(p: &Payload, start: usize) -> Option<f64> {
    let raw = p.int(start, 27);
    na(raw, 54_600_000).map(|r| f64::from(r) / 600_000.0)
}

/// Speed over ground, 10 bits, 0.1 kn; 1023 = not available.
#[inline]
pub(crate) fn sog10(p: &Payload, start: usize) -> Option<f64> {
    na(p.uint(start, 10), 1023).map(|r| f64::from(r) / 10.0)
}

/// Course over ground, 12 bits, 0.1°; 3600 = not available.
#[inline]
pub(crate) fn cog12(p: &Payload, start: usize) -> Option<f64> {
    na(p.uint(start, 12), 3600).map(|r| f64::from(r) / 10.0)
}

/// True heading, 9 bits; 511 = not available.
#[inline]
pub(crate) fn heading9(p: &Payload, start: usize) -> Option<u16> {
    na(p.uint(start, 9) as u16, 511)
}

/// UTC second, 6 bits; 60 = not available (61–63 are kept).
#[inline]
pub(crate) fn second6(p: &Payload, start: usize) -> Option<u8> {
    na(p.uint(start, 6) as u8, 60)
}

/// Check that an unsigned value fits `bits`.
pub(crate) fn uint(v: u32, bits: usize, field: &'static str) -> Result<u64, EncodeError> {
    if u64::from(v) < (1u64 << bits) {
        Ok(u64::from(v))
    } else {
        Err(EncodeError::OutOfRange { field })
    }
}

/// Scale and round a value into a signed field of `bits`, or the sentinel.
pub(crate) fn scaled_int(
    v: Option<f64>,
    scale: f64,
    sentinel: i64,
    bits: usize,
    field: &'static str,
) -> Result<i64, EncodeError> {
    let Some(x) = v else {
        return Ok(sentinel);
    };
    let raw = (x * scale).round();
    let lim = (1i64 << (bits - 1)) as f64;
    if raw.is_finite() && raw >= -lim && raw < lim {
        Ok(raw as i64)
    } else {
        Err(EncodeError::OutOfRange { field })
    }
}

/// Scale and round a value into an unsigned field of `bits`, or the sentinel.
pub(crate) fn scaled_uint(
    v: Option<f64>,
    scale: f64,
    sentinel: u64,
    bits: usize,
    field: &'static str,
) -> Result<u64, EncodeError> {
    let Some(x) = v else {
        return Ok(sentinel);
    };
    let raw = (x * scale).round();
    if raw.is_finite() && raw >= 0.0 && raw < (1u64 << bits) as f64 {
        Ok(raw as u64)
    } else {
        Err(EncodeError::OutOfRange { field })
    }
}

/// Write lon (28 bits) then lat (27 bits), 1/10000 minute.
pub(crate) fn write_lon_lat(
    p: &mut Payload,
    lon: Option<f64>,
    lat: Option<f64>,
) -> Result<(), EncodeError> {
    p.push_int(scaled_int(lon, 600_000.0, 108_600_000, 28, "lon")?, 28);
    p.push_int(scaled_int(lat, 600_000.0, 54_600_000, 27, "lat")?, 27);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn navigation_status_round_trips_all_sixteen_values() {
        for v in 0..16 {
            assert_eq!(NavigationStatus::from_raw(v).raw(), v);
        }
    }

    #[test]
    fn scaled_fields_refuse_what_does_not_fit() {
        assert_eq!(
            scaled_int(Some(-180.0), 600_000.0, 0, 28, "lon"),
            Ok(-108_000_000)
        );
        assert!(scaled_int(Some(300.0), 600_000.0, 0, 28, "lon").is_err());
        assert!(scaled_int(Some(f64::NAN), 600_000.0, 0, 28, "lon").is_err());
        assert_eq!(scaled_uint(None, 10.0, 1023, 10, "speed"), Ok(1023));
        assert!(scaled_uint(Some(-0.1), 10.0, 1023, 10, "speed").is_err());
        assert!(uint(1 << 30, 30, "mmsi").is_err());
    }
}
