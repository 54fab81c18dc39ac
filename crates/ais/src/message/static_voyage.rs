//! Type 5: Class A static and voyage related data (424 bits, two fragments).

use super::common::{Dimensions, Eta, header, na, need, scaled_uint, uint, write_header};
use super::{DecodeError, EncodeError};
use crate::AisText;
use crate::bits::Payload;

/// Static and voyage related data of a Class A ship.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaticVoyageData {
    /// Repeat indicator 0–3.
    pub repeat: u8,
    /// Ship MMSI.
    pub mmsi: u32,
    /// AIS version (0 = ITU-R M.1371-1).
    pub ais_version: u8,
    /// IMO number; `None` when 0 (not available).
    pub imo: Option<u32>,
    /// Call sign (7 characters).
    pub callsign: AisText,
    /// Vessel name (20 characters).
    pub shipname: AisText,
    /// Ship and cargo type (70–79 cargo, 80–89 tanker); `None` when 0.
    pub ship_type: Option<u8>,
    /// Position of the reference point.
    pub dimensions: Dimensions,
    /// Type of position fixing device.
    pub epfd: u8,
    /// Estimated time of arrival.
    pub eta: Eta,
    /// Maximum present static draught in metres; `None` when 0.
    pub draught: Option<f64>,
    /// Destination (20 characters).
    pub destination: AisText,
    /// Data terminal equipment: true = not ready.
    pub dte: bool,
}

pub(super) fn decode(p: &Payload) -> Result<StaticVoyageData, DecodeError> {
    // 424 bits by the standard; 420 and 422 are common in the wild (gpsd
    // accepts them). DTE is then absent and reads as 0 (ready).
    need(p, 5, 420, "at least 420 (424 by the standard)")?;
    let (repeat, mmsi) = header(p);
    Ok(StaticVoyageData {
        repeat,
        mmsi,
        ais_version: p.uint(38, 2) as u8,
        imo: na(p.uint(40, 30), 0),
        callsign: p.text(70, 7),
        shipname: p.text(112, 20),
        ship_type: na(p.uint(232, 8) as u8, 0),
        dimensions: Dimensions::read(p, 240),
        epfd: p.uint(270, 4) as u8,
        eta: Eta::read(p, 274),
        draught: na(p.uint(294, 8), 0).map(|d| f64::from(d) / 10.0),
        destination: p.text(302, 20),
        dte: p.len_bits() >= 423 && p.flag(422),
    })
}

pub(super) fn encode(m: &StaticVoyageData) -> Result<Payload, EncodeError> {
    let mut p = Payload::new();
    write_header(&mut p, 5, m.repeat, m.mmsi)?;
    p.push_uint(uint(u32::from(m.ais_version), 2, "ais_version")?, 2);
    p.push_uint(uint(m.imo.unwrap_or(0), 30, "imo")?, 30);
    p.push_text(&m.callsign, 7);
    p.push_text(&m.shipname, 20);
    p.push_uint(u64::from(m.ship_type.unwrap_or(0)), 8);
    m.dimensions.write(&mut p)?;
    p.push_uint(uint(u32::from(m.epfd), 4, "epfd")?, 4);
    m.eta.write(&mut p)?;
    p.push_uint(scaled_uint(m.draught, 10.0, 0, 8, "draught")?, 8);
    p.push_text(&m.destination, 20);
    p.push_uint(u64::from(m.dte), 1);
    p.push_uint(0, 1);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVER_DIADEM: &str =
        "55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp888888888880";

    fn sample() -> StaticVoyageData {
        decode(&Payload::from_armored(EVER_DIADEM, 2).unwrap()).unwrap()
    }

    #[test]
    fn decodes_gpsd_type5_sample() {
        let m = sample();
        assert_eq!(m.mmsi, 351_759_000);
        assert_eq!(m.imo, Some(9_134_270));
        assert_eq!(&*m.callsign, "3FOF8");
        assert_eq!(&*m.shipname, "EVER DIADEM");
        assert_eq!(m.ship_type, Some(70));
        assert_eq!(
            m.dimensions,
            Dimensions {
                to_bow: 225,
                to_stern: 70,
                to_port: 1,
                to_starboard: 31
            }
        );
        assert_eq!(m.epfd, 1);
        assert_eq!(
            m.eta,
            Eta {
                month: Some(5),
                day: Some(15),
                hour: Some(14),
                minute: Some(0)
            }
        );
        assert_eq!(m.draught, Some(12.2));
        assert_eq!(&*m.destination, "NEW YORK");
        assert!(!m.dte);
    }

    #[test]
    fn accepts_420_bits_and_refuses_fewer() {
        let full = encode(&sample()).unwrap();
        let mut p = full.clone();
        p.truncate(420);
        assert_eq!(decode(&p).unwrap(), sample());
        p.truncate(419);
        assert!(matches!(
            decode(&p),
            Err(DecodeError::Length { bits: 419, .. })
        ));
    }

    #[test]
    fn round_trips_through_the_encoder() {
        let m = sample();
        let p = encode(&m).unwrap();
        assert_eq!(p.len_bits(), 424);
        assert_eq!(decode(&p).unwrap(), m);
    }
}
