//! Type 27: long-range AIS broadcast (96 bits; some units send 168).

use super::common::{NavigationStatus, header, na, scaled_int, uint, write_header};
use super::{DecodeError, EncodeError};
use crate::bits::Payload;

/// A long-range position report (coarse: 1/10 minute, whole knots/degrees).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LongRangeReport {
    /// Repeat indicator 0–3.
    pub repeat: u8,
    /// Sender MMSI.
    pub mmsi: u32,
    /// Position accuracy flag.
    pub accuracy: bool,
    /// RAIM in use.
    pub raim: bool,
    /// Navigational status.
    pub status: NavigationStatus,
    /// Longitude in degrees (1/10 minute resolution).
    pub lon: Option<f64>,
    /// Latitude in degrees.
    pub lat: Option<f64>,
    /// Speed over ground in whole knots (63 = not available).
    pub speed: Option<u8>,
    /// Course over ground in whole degrees (511 = not available).
    pub course: Option<u16>,
    /// The raw GNSS bit: false (0) means the position is a current GNSS fix.
    pub gnss: bool,
}

pub(super) fn decode(p: &Payload) -> Result<LongRangeReport, DecodeError> {
    let bits = p.len_bits();
    if bits != 96 && bits != 168 {
        return Err(DecodeError::Length {
            msg_type: 27,
            bits,
            expected: "96 (or 168)",
        });
    }
    let (repeat, mmsi) = header(p);
    Ok(LongRangeReport {
        repeat,
        mmsi,
        accuracy: p.flag(38),
        raim: p.flag(39),
        status: NavigationStatus::from_raw(p.uint(40, 4) as u8),
        lon: na(p.int(44, 18), 108_600).map(|r| f64::from(r) / 600.0),
        lat: na(p.int(62, 17), 54_600).map(|r| f64::from(r) / 600.0),
        speed: na(p.uint(79, 6) as u8, 63),
        course: na(p.uint(85, 9) as u16, 511),
        gnss: p.flag(94),
    })
}

pub(super) fn encode(m: &LongRangeReport) -> Result<Payload, EncodeError> {
    let mut p = Payload::new();
    write_header(&mut p, 27, m.repeat, m.mmsi)?;
    p.push_uint(u64::from(m.accuracy), 1);
    p.push_uint(u64::from(m.raim), 1);
    p.push_uint(u64::from(m.status.raw()), 4);
    p.push_int(scaled_int(m.lon, 600.0, 108_600, 18, "lon")?, 18);
    p.push_int(scaled_int(m.lat, 600.0, 54_600, 17, "lat")?, 17);
    p.push_uint(uint(u32::from(m.speed.unwrap_or(63)), 6, "speed")?, 6);
    p.push_uint(uint(u32::from(m.course.unwrap_or(511)), 9, "course")?, 9);
    p.push_uint(u64::from(m.gnss), 1);
    p.push_uint(0, 1);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_gpsd_type27_sample() {
        let p = Payload::from_armored("KC5E2b@U19PFdLbMuc5=ROv62<7m", 0).unwrap();
        let m = decode(&p).unwrap();
        assert_eq!(m.mmsi, 206_914_217);
        assert_eq!(m.status, NavigationStatus::NotUnderCommand);
        assert_eq!(
            (m.lon, m.lat),
            (Some(82_214.0 / 600.0), Some(2_904.0 / 600.0))
        );
        assert_eq!((m.speed, m.course), (Some(57), Some(167)));
        assert_eq!(decode(&encode(&m).unwrap()).unwrap(), m);
    }

    #[test]
    fn other_lengths_are_refused() {
        let mut p = encode(
            &decode(&Payload::from_armored("KC5E2b@U19PFdLbMuc5=ROv62<7m", 0).unwrap()).unwrap(),
        )
        .unwrap();
        p.truncate(95);
        assert!(matches!(
            decode(&p),
            Err(DecodeError::Length {
                msg_type: 27,
                bits: 95,
                ..
            })
        ));
    }
}
