//! Types 18 and 19: Class B position reports (standard, 168 bits; extended,
//! 312 bits). Yangtze inland craft often carry Class B units.

use super::common::{
    Dimensions, cog12, header, heading9, lat27, lon28, na, need, scaled_uint, second6, sog10, uint,
    write_header, write_lon_lat,
};
use super::{DecodeError, EncodeError};
use crate::AisText;
use crate::bits::Payload;

/// Type 18: standard Class B CS position report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassBPositionReport {
    /// Repeat indicator 0–3.
    pub repeat: u8,
    /// Sender MMSI.
    pub mmsi: u32,
    /// Regional reserved bits 38–45.
    pub reserved: u8,
    /// Speed over ground in knots.
    pub speed: Option<f64>,
    /// Position accuracy flag.
    pub accuracy: bool,
    /// Longitude in degrees.
    pub lon: Option<f64>,
    /// Latitude in degrees.
    pub lat: Option<f64>,
    /// Course over ground in degrees.
    pub course: Option<f64>,
    /// True heading in degrees.
    pub heading: Option<u16>,
    /// UTC second (60 = not available → `None`).
    pub second: Option<u8>,
    /// Regional reserved (2 bits).
    pub regional: u8,
    /// Carrier-sense unit (true) or SOTDMA (false).
    pub cs: bool,
    /// Has a display.
    pub display: bool,
    /// Has DSC.
    pub dsc: bool,
    /// Can use the whole marine band.
    pub band: bool,
    /// Accepts channel management (message 22).
    pub msg22: bool,
    /// Assigned mode.
    pub assigned: bool,
    /// RAIM in use.
    pub raim: bool,
    /// Radio status (20 bits).
    pub radio: u32,
}

/// Type 19: extended Class B position report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExtendedClassBReport {
    /// Repeat indicator 0–3.
    pub repeat: u8,
    /// Sender MMSI.
    pub mmsi: u32,
    /// Regional reserved bits 38–45.
    pub reserved: u8,
    /// Speed over ground in knots.
    pub speed: Option<f64>,
    /// Position accuracy flag.
    pub accuracy: bool,
    /// Longitude in degrees.
    pub lon: Option<f64>,
    /// Latitude in degrees.
    pub lat: Option<f64>,
    /// Course over ground in degrees.
    pub course: Option<f64>,
    /// True heading in degrees.
    pub heading: Option<u16>,
    /// UTC second.
    pub second: Option<u8>,
    /// Regional reserved (4 bits).
    pub regional: u8,
    /// Vessel name.
    pub shipname: AisText,
    /// Ship and cargo type; `None` when 0.
    pub ship_type: Option<u8>,
    /// Reference point dimensions.
    pub dimensions: Dimensions,
    /// Type of position fixing device.
    pub epfd: u8,
    /// RAIM in use.
    pub raim: bool,
    /// DTE: true = not ready.
    pub dte: bool,
    /// Assigned mode.
    pub assigned: bool,
}

pub(super) fn decode_18(p: &Payload) -> Result<ClassBPositionReport, DecodeError> {
    need(p, 18, 168, "at least 168")?;
    let (repeat, mmsi) = header(p);
    Ok(ClassBPositionReport {
        repeat,
        mmsi,
        reserved: p.uint(38, 8) as u8,
        speed: sog10(p, 46),
        accuracy: p.flag(56),
        lon: lon28(p, 57),
        lat: lat27(p, 85),
        course: cog12(p, 112),
        heading: heading9(p, 124),
        second: second6(p, 133),
        regional: p.uint(139, 2) as u8,
        cs: p.flag(141),
        display: p.flag(142),
        dsc: p.flag(143),
        band: p.flag(144),
        msg22: p.flag(145),
        assigned: p.flag(146),
        raim: p.flag(147),
        radio: p.uint(148, 20),
    })
}

pub(super) fn decode_19(p: &Payload) -> Result<ExtendedClassBReport, DecodeError> {
    need(p, 19, 312, "at least 312")?;
    let (repeat, mmsi) = header(p);
    Ok(ExtendedClassBReport {
        repeat,
        mmsi,
        reserved: p.uint(38, 8) as u8,
        speed: sog10(p, 46),
        accuracy: p.flag(56),
        lon: lon28(p, 57),
        lat: lat27(p, 85),
        course: cog12(p, 112),
        heading: heading9(p, 124),
        second: second6(p, 133),
        regional: p.uint(139, 4) as u8,
        shipname: p.text(143, 20),
        ship_type: na(p.uint(263, 8) as u8, 0),
        dimensions: Dimensions::read(p, 271),
        epfd: p.uint(301, 4) as u8,
        raim: p.flag(305),
        dte: p.flag(306),
        assigned: p.flag(307),
    })
}

#[allow(clippy::too_many_arguments)]
fn write_common(
    p: &mut Payload,
    reserved: u8,
    speed: Option<f64>,
    accuracy: bool,
    lon: Option<f64>,
    lat: Option<f64>,
    course: Option<f64>,
    heading: Option<u16>,
    second: Option<u8>,
) -> Result<(), EncodeError> {
    p.push_uint(u64::from(reserved), 8);
    p.push_uint(scaled_uint(speed, 10.0, 1023, 10, "speed")?, 10);
    p.push_uint(u64::from(accuracy), 1);
    write_lon_lat(p, lon, lat)?;
    p.push_uint(scaled_uint(course, 10.0, 3600, 12, "course")?, 12);
    p.push_uint(uint(u32::from(heading.unwrap_or(511)), 9, "heading")?, 9);
    p.push_uint(uint(u32::from(second.unwrap_or(60)), 6, "second")?, 6);
    Ok(())
}

pub(super) fn encode_18(m: &ClassBPositionReport) -> Result<Payload, EncodeError> {
    let mut p = Payload::new();
    write_header(&mut p, 18, m.repeat, m.mmsi)?;
    write_common(
        &mut p, m.reserved, m.speed, m.accuracy, m.lon, m.lat, m.course, m.heading, m.second,
    )?;
    p.push_uint(uint(u32::from(m.regional), 2, "regional")?, 2);
    for flag in [m.cs, m.display, m.dsc, m.band, m.msg22, m.assigned, m.raim] {
        p.push_uint(u64::from(flag), 1);
    }
    p.push_uint(uint(m.radio, 20, "radio")?, 20);
    Ok(p)
}

pub(super) fn encode_19(m: &ExtendedClassBReport) -> Result<Payload, EncodeError> {
    let mut p = Payload::new();
    write_header(&mut p, 19, m.repeat, m.mmsi)?;
    write_common(
        &mut p, m.reserved, m.speed, m.accuracy, m.lon, m.lat, m.course, m.heading, m.second,
    )?;
    p.push_uint(uint(u32::from(m.regional), 4, "regional")?, 4);
    p.push_text(&m.shipname, 20);
    p.push_uint(u64::from(m.ship_type.unwrap_or(0)), 8);
    m.dimensions.write(&mut p)?;
    p.push_uint(uint(u32::from(m.epfd), 4, "epfd")?, 4);
    for flag in [m.raim, m.dte, m.assigned] {
        p.push_uint(u64::from(flag), 1);
    }
    p.push_uint(0, 4);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_gpsd_type18_sample() {
        let p = Payload::from_armored("B52K>;h00Fc>jpUlNV@ikwpUoP06", 0).unwrap();
        let m = decode_18(&p).unwrap();
        assert_eq!(m.mmsi, 338_087_471);
        assert_eq!(m.speed, Some(0.1));
        assert_eq!(m.heading, None);
        assert_eq!(m.second, Some(49));
        assert!(m.cs && m.dsc && m.band && m.msg22 && m.raim && !m.display);
        assert_eq!(m.radio, 917_510);
        assert!((m.lon.unwrap() - -74.072_132).abs() < 1e-6);
        assert_eq!(decode_18(&encode_18(&m).unwrap()).unwrap(), m);
    }

    #[test]
    fn decodes_gpsd_type19_sample() {
        let p = Payload::from_armored("C5N3SRgPEnJGEBT>NhWAwwo862PaLELTBJ:V00000000S0D:R220", 0)
            .unwrap();
        let m = decode_19(&p).unwrap();
        assert_eq!(m.mmsi, 367_059_850);
        assert_eq!(m.speed, Some(8.7));
        assert_eq!(&*m.shipname, "CAPT.J.RIMES");
        assert_eq!(m.ship_type, Some(70));
        assert_eq!(m.dimensions.to_stern, 21);
        assert_eq!(m.regional, 4);
        assert_eq!(decode_19(&encode_19(&m).unwrap()).unwrap(), m);
    }

    #[test]
    fn truncated_type19_is_a_length_error() {
        let p = Payload::from_armored("C5N3SRgPEnJGEBT>NhWAwwo862PaLELTBJ", 0).unwrap();
        assert!(matches!(
            decode_19(&p),
            Err(DecodeError::Length { msg_type: 19, .. })
        ));
    }
}
