//! Types 4 and 11: base station report and UTC/date response (168 bits).

use super::common::{header, lat27, lon28, na, need, uint, write_header, write_lon_lat};
use super::{DecodeError, EncodeError};
use crate::bits::Payload;

/// A base station report (type 4) or UTC/date response (type 11).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaseStationReport {
    /// 4 or 11.
    pub msg_type: u8,
    /// Repeat indicator 0–3.
    pub repeat: u8,
    /// Station MMSI.
    pub mmsi: u32,
    /// UTC year (1–9999; 0 = not available).
    pub year: Option<u16>,
    /// UTC month (0 = not available).
    pub month: Option<u8>,
    /// UTC day (0 = not available).
    pub day: Option<u8>,
    /// UTC hour (24 = not available).
    pub hour: Option<u8>,
    /// UTC minute (60 = not available).
    pub minute: Option<u8>,
    /// UTC second (60 = not available).
    pub second: Option<u8>,
    /// Position accuracy flag.
    pub accuracy: bool,
    /// Longitude in degrees.
    pub lon: Option<f64>,
    /// Latitude in degrees.
    pub lat: Option<f64>,
    /// Type of position fixing device (0 undefined, 1 GPS, …, 7 surveyed).
    pub epfd: u8,
    /// RAIM in use.
    pub raim: bool,
    /// Radio status (19 bits).
    pub radio: u32,
}

pub(super) fn decode(p: &Payload) -> Result<BaseStationReport, DecodeError> {
    let msg_type = p.uint(0, 6) as u8;
    need(p, msg_type, 168, "at least 168")?;
    let (repeat, mmsi) = header(p);
    Ok(BaseStationReport {
        msg_type,
        repeat,
        mmsi,
        year: na(p.uint(38, 14) as u16, 0),
        month: na(p.uint(52, 4) as u8, 0),
        day: na(p.uint(56, 5) as u8, 0),
        hour: na(p.uint(61, 5) as u8, 24),
        minute: na(p.uint(66, 6) as u8, 60),
        second: na(p.uint(72, 6) as u8, 60),
        accuracy: p.flag(78),
        lon: lon28(p, 79),
        lat: lat27(p, 107),
        epfd: p.uint(134, 4) as u8,
        raim: p.flag(148),
        radio: p.uint(149, 19),
    })
}

pub(super) fn encode(m: &BaseStationReport) -> Result<Payload, EncodeError> {
    if m.msg_type != 4 && m.msg_type != 11 {
        return Err(EncodeError::WrongType(m.msg_type));
    }
    let mut p = Payload::new();
    write_header(&mut p, m.msg_type, m.repeat, m.mmsi)?;
    p.push_uint(uint(u32::from(m.year.unwrap_or(0)), 14, "year")?, 14);
    p.push_uint(uint(u32::from(m.month.unwrap_or(0)), 4, "month")?, 4);
    p.push_uint(uint(u32::from(m.day.unwrap_or(0)), 5, "day")?, 5);
    p.push_uint(uint(u32::from(m.hour.unwrap_or(24)), 5, "hour")?, 5);
    p.push_uint(uint(u32::from(m.minute.unwrap_or(60)), 6, "minute")?, 6);
    p.push_uint(uint(u32::from(m.second.unwrap_or(60)), 6, "second")?, 6);
    p.push_uint(u64::from(m.accuracy), 1);
    write_lon_lat(&mut p, m.lon, m.lat)?;
    p.push_uint(uint(u32::from(m.epfd), 4, "epfd")?, 4);
    p.push_uint(0, 10);
    p.push_uint(u64::from(m.raim), 1);
    p.push_uint(uint(m.radio, 19, "radio")?, 19);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_gpsd_base_station_sample() {
        let p = Payload::from_armored("403OviQuMGCqWrRO9>E6fE700@GO", 0).unwrap();
        let m = decode(&p).unwrap();
        assert_eq!(m.mmsi, 3_669_702);
        assert_eq!(
            (m.year, m.month, m.day, m.hour, m.minute, m.second),
            (Some(2007), Some(5), Some(14), Some(19), Some(57), Some(39))
        );
        assert_eq!(m.epfd, 7);
        assert!((m.lon.unwrap() - -76.352_362).abs() < 1e-6);
        assert_eq!(
            encode(&m).unwrap().to_armored().0,
            "403OviQuMGCqWrRO9>E6fE700@GO"
        );
    }

    #[test]
    fn not_available_date_parts_are_absent() {
        let mut m =
            decode(&Payload::from_armored("403OviQuMGCqWrRO9>E6fE700@GO", 0).unwrap()).unwrap();
        m.year = None;
        m.hour = None;
        m.lon = None;
        let back = decode(&encode(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.year, None);
    }
}
