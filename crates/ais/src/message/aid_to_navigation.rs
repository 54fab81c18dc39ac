//! Type 21: aid-to-navigation report (272–368 bits; the name may continue
//! in an extension field after bit 272).

use super::common::{Dimensions, header, lat27, lon28, na, uint, write_header, write_lon_lat};
use super::{DecodeError, EncodeError};
use crate::AisText;
use crate::bits::Payload;

/// An aid-to-navigation report (buoys, beacons, virtual aids).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AidToNavigationReport {
    /// Repeat indicator 0–3.
    pub repeat: u8,
    /// Station MMSI.
    pub mmsi: u32,
    /// Aid type (0–31, e.g. 20 cardinal mark N, 30 special mark).
    pub aid_type: u8,
    /// Name, including the extension (up to 36 characters).
    pub name: AisText,
    /// Position accuracy flag.
    pub accuracy: bool,
    /// Longitude in degrees.
    pub lon: Option<f64>,
    /// Latitude in degrees.
    pub lat: Option<f64>,
    /// Reference point dimensions.
    pub dimensions: Dimensions,
    /// Type of position fixing device.
    pub epfd: u8,
    /// UTC second (60 = not available → `None`).
    pub second: Option<u8>,
    /// Off position indicator.
    pub off_position: bool,
    /// Regional reserved (8 bits).
    pub regional: u8,
    /// RAIM in use.
    pub raim: bool,
    /// Virtual aid (no physical structure).
    pub virtual_aid: bool,
    /// Assigned mode.
    pub assigned: bool,
}

const MAX_EXTENSION_CHARS: usize = (368 - 272) / 6;

pub(super) fn decode(p: &Payload) -> Result<AidToNavigationReport, DecodeError> {
    let bits = p.len_bits();
    if !(272..=368).contains(&bits) {
        return Err(DecodeError::Length {
            msg_type: 21,
            bits,
            expected: "272 to 368",
        });
    }
    let (repeat, mmsi) = header(p);
    let mut name = AisText::default();
    // Like gpsd: the extension only continues a name that fills all 20.
    if p.append_text(&mut name, 43, 20) == 20 && bits > 272 {
        p.append_text(&mut name, 272, (bits - 272) / 6);
    }
    name.trim_end_spaces();
    Ok(AidToNavigationReport {
        repeat,
        mmsi,
        aid_type: p.uint(38, 5) as u8,
        name,
        accuracy: p.flag(163),
        lon: lon28(p, 164),
        lat: lat27(p, 192),
        dimensions: Dimensions::read(p, 219),
        epfd: p.uint(249, 4) as u8,
        second: na(p.uint(253, 6) as u8, 60),
        off_position: p.flag(259),
        regional: p.uint(260, 8) as u8,
        raim: p.flag(268),
        virtual_aid: p.flag(269),
        assigned: p.flag(270),
    })
}

pub(super) fn encode(m: &AidToNavigationReport) -> Result<Payload, EncodeError> {
    let name = m.name.as_str();
    let (head, ext) = name.split_at(name.len().min(20));
    if ext.len() > MAX_EXTENSION_CHARS {
        return Err(EncodeError::OutOfRange { field: "name" });
    }
    let mut p = Payload::new();
    write_header(&mut p, 21, m.repeat, m.mmsi)?;
    p.push_uint(uint(u32::from(m.aid_type), 5, "aid_type")?, 5);
    p.push_text(head, 20);
    p.push_uint(u64::from(m.accuracy), 1);
    write_lon_lat(&mut p, m.lon, m.lat)?;
    m.dimensions.write(&mut p)?;
    p.push_uint(uint(u32::from(m.epfd), 4, "epfd")?, 4);
    p.push_uint(uint(u32::from(m.second.unwrap_or(60)), 6, "second")?, 6);
    p.push_uint(u64::from(m.off_position), 1);
    p.push_uint(u64::from(m.regional), 8);
    for flag in [m.raim, m.virtual_aid, m.assigned] {
        p.push_uint(u64::from(flag), 1);
    }
    p.push_uint(0, 1);
    p.push_text(ext, ext.len());
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_use_the_extension_field() {
        // Built here: gpsd's sample fields: a 31-character name needs the extension field.
        let m = AidToNavigationReport {
            repeat: 0,
            mmsi: 123_456_789,
            aid_type: 20,
            name: AisText::new("CHINA ROSE MURPHY EXPRESS ALERT").unwrap(),
            accuracy: false,
            lon: Some(-122.698_592),
            lat: Some(47.920_618),
            dimensions: Dimensions {
                to_bow: 5,
                to_stern: 5,
                to_port: 5,
                to_starboard: 5,
            },
            epfd: 1,
            second: Some(50),
            off_position: false,
            regional: 165,
            raim: false,
            virtual_aid: false,
            assigned: false,
        };
        let enc = encode(&m).unwrap();
        assert_eq!(enc.len_bits(), 272 + 11 * 6);
        let back = decode(&enc).unwrap();
        assert_eq!(&*back.name, "CHINA ROSE MURPHY EXPRESS ALERT");
        assert_eq!(back.regional, 165);
        assert!((back.lon.unwrap() - -122.698_592).abs() < 1e-6);
    }

    #[test]
    fn short_names_have_no_extension_and_lengths_are_checked() {
        let mut m = decode(&{
            let mut q = Payload::new();
            q.push_uint(21, 6);
            for _ in 0..266 {
                q.push_uint(0, 1);
            }
            q
        })
        .unwrap();
        assert_eq!(&*m.name, "");
        m.name = AisText::new("IBC G BUOY").unwrap();
        assert_eq!(encode(&m).unwrap().len_bits(), 272);
        let mut short = encode(&m).unwrap();
        short.truncate(271);
        assert!(matches!(
            decode(&short),
            Err(DecodeError::Length { msg_type: 21, .. })
        ));
        m.name = AisText::new(&"X".repeat(37)).unwrap();
        assert_eq!(encode(&m), Err(EncodeError::OutOfRange { field: "name" }));
    }
}
