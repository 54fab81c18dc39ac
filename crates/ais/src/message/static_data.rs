//! Type 24: Class B static data report, sent as part A (name) and part B
//! (type, vendor, call sign, dimensions or mothership). Decoding a payload
//! yields one part; [`crate::Decoder`] joins A and B per MMSI.

use super::common::{Dimensions, header, na, need, uint, write_header};
use super::{DecodeError, EncodeError};
use crate::AisText;
use crate::bits::Payload;

/// A type 24 report: part A, part B, or both joined.
///
/// Invariant for values built by the decoder: at least one of `shipname`
/// and `part_b` is present.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaticDataReport {
    /// Repeat indicator 0–3.
    pub repeat: u8,
    /// Sender MMSI.
    pub mmsi: u32,
    /// Vessel name, from part A.
    pub shipname: Option<AisText>,
    /// Part B contents.
    pub part_b: Option<StaticDataPartB>,
}

/// The contents of a type 24 part B.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaticDataPartB {
    /// Ship and cargo type; `None` when 0.
    pub ship_type: Option<u8>,
    /// Manufacturer id (3 characters, ITU-R M.1371-4 layout).
    pub vendor_id: AisText,
    /// Unit model code (4 bits).
    pub model: u8,
    /// Unit serial number (20 bits).
    pub serial: u32,
    /// Call sign.
    pub callsign: AisText,
    /// Dimensions, or the mothership's MMSI for auxiliary craft.
    pub craft: Craft,
}

/// Bits 132–161 of part B: dimensions, or for an auxiliary craft (MMSI
/// 98MIDxxxx) the MMSI of its mothership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Craft {
    /// Reference point dimensions.
    Dimensions(Dimensions),
    /// Mothership MMSI (auxiliary craft only).
    Mothership(u32),
}

/// True for auxiliary craft MMSIs, 98MIDxxxx.
pub(crate) fn is_auxiliary(mmsi: u32) -> bool {
    mmsi / 10_000_000 == 98
}

pub(super) fn decode(p: &Payload) -> Result<StaticDataReport, DecodeError> {
    need(p, 24, 40, "at least 160")?;
    let (repeat, mmsi) = header(p);
    let bits = p.len_bits();
    match p.uint(38, 2) {
        0 => {
            // Part A is 168 bits by the standard; 160 (spare omitted) is common.
            if !(160..=168).contains(&bits) {
                return Err(DecodeError::Length {
                    msg_type: 24,
                    bits,
                    expected: "160 to 168 (part A)",
                });
            }
            Ok(StaticDataReport {
                repeat,
                mmsi,
                shipname: Some(p.text(40, 20)),
                part_b: None,
            })
        }
        1 => {
            need(p, 24, 162, "at least 162 (part B; 168 by the standard)")?;
            let craft = if is_auxiliary(mmsi) {
                Craft::Mothership(p.uint(132, 30))
            } else {
                Craft::Dimensions(Dimensions::read(p, 132))
            };
            Ok(StaticDataReport {
                repeat,
                mmsi,
                shipname: None,
                part_b: Some(StaticDataPartB {
                    ship_type: na(p.uint(40, 8) as u8, 0),
                    vendor_id: p.text(48, 3),
                    model: p.uint(66, 4) as u8,
                    serial: p.uint(70, 20),
                    callsign: p.text(90, 7),
                    craft,
                }),
            })
        }
        n => Err(DecodeError::BadPartNumber(n as u8)),
    }
}

/// Write the 42 bits of vendor id, model and serial (bits 48–89).
pub(crate) fn write_vendor(p: &mut Payload, b: &StaticDataPartB) -> Result<(), EncodeError> {
    p.push_text(&b.vendor_id, 3);
    p.push_uint(uint(u32::from(b.model), 4, "model")?, 4);
    p.push_uint(uint(b.serial, 20, "serial")?, 20);
    Ok(())
}

pub(super) fn encode(m: &StaticDataReport) -> Result<Vec<Payload>, EncodeError> {
    let mut out = Vec::with_capacity(2);
    if let Some(name) = &m.shipname {
        let mut p = Payload::new();
        write_header(&mut p, 24, m.repeat, m.mmsi)?;
        p.push_uint(0, 2);
        p.push_text(name, 20);
        p.push_uint(0, 8);
        out.push(p);
    }
    if let Some(b) = &m.part_b {
        let mut p = Payload::new();
        write_header(&mut p, 24, m.repeat, m.mmsi)?;
        p.push_uint(1, 2);
        p.push_uint(u64::from(b.ship_type.unwrap_or(0)), 8);
        write_vendor(&mut p, b)?;
        p.push_text(&b.callsign, 7);
        match (b.craft, is_auxiliary(m.mmsi)) {
            (Craft::Dimensions(d), false) => d.write(&mut p)?,
            (Craft::Mothership(mmsi), true) => p.push_uint(uint(mmsi, 30, "mothership")?, 30),
            _ => return Err(EncodeError::CraftMismatch),
        }
        p.push_uint(0, 6);
        out.push(p);
    }
    if out.is_empty() {
        return Err(EncodeError::EmptyStaticData);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str, fill: u8) -> Result<StaticDataReport, DecodeError> {
        decode(&Payload::from_armored(s, fill).unwrap())
    }

    #[test]
    fn decodes_parts_a_and_b() {
        let a = dec("H42O55i18tMET00000000000000", 2).unwrap();
        assert_eq!(a.mmsi, 271_041_815);
        assert_eq!(a.shipname.as_deref(), Some("PROGUY"));
        assert_eq!(a.part_b, None);
        let b = dec("H42O55lti4hhhilD3nink000?050", 0).unwrap();
        let pb = b.part_b.unwrap();
        assert_eq!(pb.ship_type, Some(60));
        assert_eq!(&*pb.vendor_id, "1D0");
        assert_eq!((pb.model, pb.serial), (12, 199_796));
        assert_eq!(&*pb.callsign, "TC6163");
        assert_eq!(
            pb.craft,
            Craft::Dimensions(Dimensions {
                to_bow: 0,
                to_stern: 15,
                to_port: 0,
                to_starboard: 5
            })
        );
    }

    #[test]
    fn reserved_parts_and_short_parts_are_errors() {
        let mut p = Payload::new();
        p.push_uint(24, 6);
        p.push_uint(0, 32);
        p.push_uint(2, 2);
        p.push_uint(0, 128);
        assert_eq!(decode(&p), Err(DecodeError::BadPartNumber(2)));
        assert!(matches!(
            dec("H42O55i18tMET000000000", 0),
            Err(DecodeError::Length { msg_type: 24, .. })
        ));
    }

    #[test]
    fn auxiliary_craft_carry_a_mothership() {
        let report = StaticDataReport {
            repeat: 0,
            mmsi: 984_131_234,
            shipname: Some(AisText::new("TENDER 1").unwrap()),
            part_b: Some(StaticDataPartB {
                ship_type: Some(52),
                vendor_id: AisText::new("JH").unwrap(),
                model: 3,
                serial: 4242,
                callsign: AisText::new("BXYZ").unwrap(),
                craft: Craft::Mothership(413_000_001),
            }),
        };
        let parts = encode(&report).unwrap();
        assert_eq!(parts.len(), 2);
        let b = decode(&parts[1]).unwrap();
        assert_eq!(b.part_b, report.part_b);
        let mut wrong = report;
        wrong.mmsi = 413_000_002;
        assert_eq!(encode(&wrong), Err(EncodeError::CraftMismatch));
    }
}
