//! Types 1, 2, 3: Class A position report (168 bits).

use super::common::{
    NavigationStatus, cog12, header, heading9, lat27, lon28, na, need, scaled_uint, second6, sog10,
    uint, write_header, write_lon_lat,
};
use super::{DecodeError, EncodeError};
use crate::bits::Payload;

/// A Class A position report (types 1, 2 and 3 share one layout).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionReport {
    /// 1 (scheduled), 2 (assigned) or 3 (interrogated).
    pub msg_type: u8,
    /// Repeat indicator 0–3.
    pub repeat: u8,
    /// Sender MMSI.
    pub mmsi: u32,
    /// Navigational status.
    pub status: NavigationStatus,
    /// Rate of turn as sent (ROT_AIS, −127..=127); `None` when −128 (not
    /// available). ±127 means turning faster than 5°/30 s with no turn
    /// indicator; see [`PositionReport::turn_deg_per_min`].
    pub turn: Option<i8>,
    /// Speed over ground in knots (102.2 = 102.2 kn or more).
    pub speed: Option<f64>,
    /// Position accuracy flag: true = high (≤ 10 m).
    pub accuracy: bool,
    /// Longitude in degrees, east positive.
    pub lon: Option<f64>,
    /// Latitude in degrees, north positive.
    pub lat: Option<f64>,
    /// Course over ground in degrees true.
    pub course: Option<f64>,
    /// True heading in degrees.
    pub heading: Option<u16>,
    /// UTC second of the fix (61 manual, 62 dead reckoning, 63 inoperative).
    pub second: Option<u8>,
    /// Manoeuvre indicator: 1 no special manoeuvre, 2 special (inland: blue
    /// sign); `None` when 0 (not available).
    pub maneuver: Option<u8>,
    /// RAIM in use.
    pub raim: bool,
    /// Radio status (19 bits, SOTDMA/ITDMA state).
    pub radio: u32,
}

impl PositionReport {
    /// Rate of turn in degrees per minute, `sign(r)·(r/4.733)²`, positive to
    /// starboard; `None` when not available or when only the direction is
    /// known (±127).
    pub fn turn_deg_per_min(&self) -> Option<f64> {
        let r = self.turn?;
        if r.unsigned_abs() >= 127 {
            return None;
        }
        let x = f64::from(r) / 4.733;
        Some(x * x * f64::from(r.signum()))
    }
}

pub(super) fn decode(p: &Payload) -> Result<PositionReport, DecodeError> {
    let msg_type = p.uint(0, 6) as u8;
    // 168 bits by the standard. Like gpsd, accept down to 163 (seen in the
    // wild): the radio status is then the bits that are there.
    need(p, msg_type, 163, "at least 163 (168 by the standard)")?;
    let (repeat, mmsi) = header(p);
    Ok(PositionReport {
        msg_type,
        repeat,
        mmsi,
        status: NavigationStatus::from_raw(p.uint(38, 4) as u8),
        turn: na(p.int(42, 8) as i8, -128),
        speed: sog10(p, 50),
        accuracy: p.flag(60),
        lon: lon28(p, 61),
        lat: lat27(p, 89),
        course: cog12(p, 116),
        heading: heading9(p, 128),
        second: second6(p, 137),
        maneuver: na(p.uint(143, 2) as u8, 0),
        raim: p.flag(148),
        radio: p.uint(149, p.len_bits().min(168) - 149),
    })
}

pub(super) fn encode(m: &PositionReport) -> Result<Payload, EncodeError> {
    if !(1..=3).contains(&m.msg_type) {
        return Err(EncodeError::WrongType(m.msg_type));
    }
    let mut p = Payload::new();
    write_header(&mut p, m.msg_type, m.repeat, m.mmsi)?;
    p.push_uint(u64::from(m.status.raw()), 4);
    p.push_int(i64::from(m.turn.unwrap_or(-128)), 8);
    p.push_uint(scaled_uint(m.speed, 10.0, 1023, 10, "speed")?, 10);
    p.push_uint(u64::from(m.accuracy), 1);
    write_lon_lat(&mut p, m.lon, m.lat)?;
    p.push_uint(scaled_uint(m.course, 10.0, 3600, 12, "course")?, 12);
    p.push_uint(uint(u32::from(m.heading.unwrap_or(511)), 9, "heading")?, 9);
    p.push_uint(uint(u32::from(m.second.unwrap_or(60)), 6, "second")?, 6);
    p.push_uint(uint(u32::from(m.maneuver.unwrap_or(0)), 2, "maneuver")?, 2);
    p.push_uint(0, 3);
    p.push_uint(u64::from(m.raim), 1);
    p.push_uint(uint(m.radio, 19, "radio")?, 19);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Result<PositionReport, DecodeError> {
        decode(&Payload::from_armored(s, 0).unwrap())
    }

    #[test]
    fn decodes_the_aivdm_reference_sentence() {
        // !AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C (AIVDM.adoc)
        let m = dec("177KQJ5000G?tO`K>RA1wUbN0TKH").unwrap();
        assert_eq!(m.msg_type, 1);
        assert_eq!(m.mmsi, 477_553_000);
        assert_eq!(m.status, NavigationStatus::Moored);
        assert_eq!(m.turn, Some(0));
        assert_eq!(m.turn_deg_per_min(), Some(0.0));
        assert_eq!(m.maneuver, None);
        assert_eq!(m.speed, Some(0.0));
        assert!(!m.accuracy);
        assert!((m.lon.unwrap() - -122.345_833).abs() < 1e-6);
        assert!((m.lat.unwrap() - 47.582_833).abs() < 1e-6);
        assert_eq!(m.course, Some(51.0));
        assert_eq!(m.heading, Some(181));
        assert_eq!(m.second, Some(15));
        assert_eq!(m.radio, 149_208);
    }

    #[test]
    fn gpsd_sample_fast_left_turn_and_no_heading() {
        let m = dec("15RTgt0PAso;90TKcjM8h6g208CQ").unwrap();
        assert_eq!(
            (m.mmsi, m.turn, m.speed),
            (371_798_000, Some(-127), Some(12.3))
        );
        assert_eq!(m.turn_deg_per_min(), None);
        let m = dec("16SteH0P00Jt63hHaa6SagvJ087r").unwrap();
        assert_eq!((m.turn, m.heading), (None, None));
    }

    #[test]
    fn short_payloads_are_a_length_error() {
        assert_eq!(
            decode(&Payload::from_armored("15RTgt0PAso;90TKcjM8h6g208C", 0).unwrap()),
            Err(DecodeError::Length {
                msg_type: 1,
                bits: 162,
                expected: "at least 163 (168 by the standard)"
            })
        );
    }

    #[test]
    fn a_163_bit_report_keeps_the_radio_bits_it_has() {
        // gpsd's corpus: the same report sent with 163 and 168 bits.
        let short =
            decode(&Payload::from_armored("13aIkM@P00PJ@qPNL=e@0?wJ28JO", 5).unwrap()).unwrap();
        let full = dec("13aIkM@P00PJ@qPNL=e@0?wJ28JO").unwrap();
        assert_eq!((short.radio, full.radio), (1076, 34463));
        assert_eq!(short.mmsi, full.mmsi);
        assert_eq!(decode(&encode(&short).unwrap()).unwrap(), short);
    }

    #[test]
    fn turn_rate_follows_the_square_law_with_sign() {
        let mut m = dec("15RTgt0PAso;90TKcjM8h6g208CQ").unwrap();
        m.turn = Some(-10);
        let r = m.turn_deg_per_min().unwrap();
        assert!((r - -(10.0f64 / 4.733).powi(2)).abs() < 1e-9);
    }

    #[test]
    fn encode_then_decode_is_identity() {
        let m = dec("177KQJ5000G?tO`K>RA1wUbN0TKH").unwrap();
        let p = encode(&m).unwrap();
        assert_eq!(
            p.to_armored(),
            ("177KQJ5000G?tO`K>RA1wUbN0TKH".to_string(), 0)
        );
        let mut bad = m;
        bad.msg_type = 5;
        assert_eq!(encode(&bad), Err(EncodeError::WrongType(5)));
        bad = m;
        bad.lat = Some(200.0);
        assert_eq!(encode(&bad), Err(EncodeError::OutOfRange { field: "lat" }));
    }
}
