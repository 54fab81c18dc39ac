//! Property tests: every representable message survives encode → sentences
//! → [`Decoder`] unchanged, and arbitrary lines never panic the decoder.

use std::time::Duration;

use jianghai_ais::message::{
    ClassBPositionReport, Craft, Dimensions, Eta, NavigationStatus, PositionReport,
    StaticDataPartB, StaticDataReport, StaticVoyageData,
};
use jianghai_ais::nmea::WriteOptions;
use jianghai_ais::{AisText, Decoder, Message, encode};
use proptest::prelude::*;

fn mmsi() -> impl Strategy<Value = u32> {
    0u32..(1 << 30)
}

/// Scaled value from a raw integer, or `None` for the sentinel.
fn scaled(raw: i32, sentinel: i32, div: f64) -> Option<f64> {
    (raw != sentinel).then(|| f64::from(raw) / div)
}

fn text(max: usize) -> impl Strategy<Value = AisText> {
    // 6-bit alphabet without '@'; no trailing space (decoders strip it).
    proptest::string::string_regex(&format!("[A-Z0-9 !-?\\[\\]^_]{{0,{max}}}"))
        .unwrap_or_else(|_| unreachable!("valid regex"))
        .prop_map(|s| AisText::new(s.trim_end()).unwrap_or_default())
}

prop_compose! {
    fn position()(
        msg_type in 1u8..=3, repeat in 0u8..4, mmsi in mmsi(), status in 0u8..16,
        turn in -128i32..=127, speed in 0i32..=1023, accuracy: bool,
        lon in -(1i32 << 27)..(1 << 27), lat in -(1i32 << 26)..(1 << 26),
        course in 0i32..4096, heading in 0u16..512, second in 0u8..64, maneuver in 0u8..4,
        raim: bool, radio in 0u32..(1 << 19),
    ) -> PositionReport {
        PositionReport {
            msg_type, repeat, mmsi,
            status: NavigationStatus::from_raw(status),
            turn: (turn != -128).then_some(turn as i8),
            speed: scaled(speed, 1023, 10.0),
            accuracy,
            lon: scaled(lon, 108_600_000, 600_000.0),
            lat: scaled(lat, 54_600_000, 600_000.0),
            course: scaled(course, 3600, 10.0),
            heading: (heading != 511).then_some(heading),
            second: (second != 60).then_some(second),
            maneuver: (maneuver != 0).then_some(maneuver),
            raim, radio,
        }
    }
}

prop_compose! {
    fn class_b()(
        repeat in 0u8..4, mmsi in mmsi(), reserved: u8, speed in 0i32..=1023, accuracy: bool,
        lon in -(1i32 << 27)..(1 << 27), lat in -(1i32 << 26)..(1 << 26),
        course in 0i32..4096, heading in 0u16..512, second in 0u8..64, regional in 0u8..4,
        flags in proptest::array::uniform7(any::<bool>()), radio in 0u32..(1 << 20),
    ) -> ClassBPositionReport {
        ClassBPositionReport {
            repeat, mmsi, reserved,
            speed: scaled(speed, 1023, 10.0),
            accuracy,
            lon: scaled(lon, 108_600_000, 600_000.0),
            lat: scaled(lat, 54_600_000, 600_000.0),
            course: scaled(course, 3600, 10.0),
            heading: (heading != 511).then_some(heading),
            second: (second != 60).then_some(second),
            regional,
            cs: flags[0], display: flags[1], dsc: flags[2], band: flags[3],
            msg22: flags[4], assigned: flags[5], raim: flags[6],
            radio,
        }
    }
}

fn dimensions() -> impl Strategy<Value = Dimensions> {
    (0u16..512, 0u16..512, 0u8..64, 0u8..64).prop_map(|(b, s, p, sb)| Dimensions {
        to_bow: b,
        to_stern: s,
        to_port: p,
        to_starboard: sb,
    })
}

prop_compose! {
    fn static_voyage()(
        repeat in 0u8..4, mmsi in mmsi(), ais_version in 0u8..4, imo in 0u32..(1 << 30),
        callsign in text(7), shipname in text(20), ship_type: u8, dimensions in dimensions(),
        epfd in 0u8..16, eta in (0u8..16, 0u8..32, 0u8..32, 0u8..64), draught: u8,
        destination in text(20), dte: bool,
    ) -> StaticVoyageData {
        StaticVoyageData {
            repeat, mmsi, ais_version,
            imo: (imo != 0).then_some(imo),
            callsign, shipname,
            ship_type: (ship_type != 0).then_some(ship_type),
            dimensions, epfd,
            eta: Eta {
                month: (eta.0 != 0).then_some(eta.0),
                day: (eta.1 != 0).then_some(eta.1),
                hour: (eta.2 != 24).then_some(eta.2),
                minute: (eta.3 != 60).then_some(eta.3),
            },
            draught: (draught != 0).then(|| f64::from(draught) / 10.0),
            destination, dte,
        }
    }
}

prop_compose! {
    fn static_data()(
        repeat in 0u8..4, mmsi in mmsi(), shipname in text(20), ship_type: u8,
        vendor_id in text(3), model in 0u8..16, serial in 0u32..(1 << 20), callsign in text(7),
        dims in dimensions(), mother in mmsi(),
    ) -> StaticDataReport {
        let craft = if mmsi / 10_000_000 == 98 { Craft::Mothership(mother) } else { Craft::Dimensions(dims) };
        StaticDataReport {
            repeat, mmsi,
            shipname: Some(shipname),
            part_b: Some(StaticDataPartB {
                ship_type: (ship_type != 0).then_some(ship_type),
                vendor_id, model, serial, callsign, craft,
            }),
        }
    }
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        position().prop_map(Message::Position),
        class_b().prop_map(Message::ClassBPosition),
        static_voyage().prop_map(Message::StaticVoyage),
        static_data().prop_map(Message::StaticData),
    ]
}

proptest! {
    #[test]
    fn decode_of_encode_is_identity(msg in message(), seq in 0u8..10, chan in prop_oneof![Just(b'A'), Just(b'B')]) {
        let opts = WriteOptions { channel: Some(chan), sequence_id: seq, ..WriteOptions::default() };
        let lines = encode(&msg, &opts).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(lines.iter().all(|l| l.len() <= 80), "{:?}", lines);
        let mut decoder = Decoder::default();
        let mut out = Vec::new();
        for line in &lines {
            if let Some(d) = decoder.handle_line(line, Duration::ZERO).map_err(|e| TestCaseError::fail(e.to_string()))? {
                out.push(d.message);
            }
        }
        prop_assert_eq!(out, vec![msg]);
        prop_assert_eq!(decoder.pending_fragments(), 0);
    }

    #[test]
    fn arbitrary_lines_never_panic(line in "\\PC{0,120}") {
        let _ = Decoder::default().handle_line(&line, Duration::ZERO);
    }

    #[test]
    fn mutated_sentences_decode_or_fail_cleanly(msg in message(), pos in 0usize..200, byte in 32u8..127) {
        let lines = encode(&msg, &WriteOptions::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut decoder = Decoder::default();
        for line in lines {
            let mut bytes = line.into_bytes();
            let at = pos % bytes.len().max(1);
            if let Some(b) = bytes.get_mut(at) {
                *b = byte;
            }
            let line = String::from_utf8_lossy(&bytes).into_owned();
            if let Ok(Some(d)) = decoder.handle_line(&line, Duration::ZERO) {
                prop_assert!(d.message.mmsi() < 1 << 30);
            }
        }
    }
}
