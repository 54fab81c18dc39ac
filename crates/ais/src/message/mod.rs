//! Payload decoding and encoding (ITU-R M.1371): one file per message
//! family, each with its decoder, encoder and tests. This module knows
//! nothing about NMEA sentences; it turns a [`Payload`] into a [`Message`]
//! and back.
//!
//! Scaling follows the standard (degrees, knots, degrees true); values equal
//! to a field's "not available" sentinel become `None`.

mod aid_to_navigation;
mod base_station;
mod class_b;
mod common;
mod long_range;
mod position;
mod static_data;
mod static_voyage;

pub use aid_to_navigation::AidToNavigationReport;
pub use base_station::BaseStationReport;
pub use class_b::{ClassBPositionReport, ExtendedClassBReport};
pub use common::{Dimensions, Eta, NavigationStatus};
pub use long_range::LongRangeReport;
pub use position::PositionReport;
pub use static_data::{Craft, StaticDataPartB, StaticDataReport};
pub use static_voyage::StaticVoyageData;

pub(crate) use static_data::write_vendor as encode_vendor;

use crate::bits::Payload;

/// A decoded AIS message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Message {
    /// Types 1, 2, 3: Class A position report.
    Position(PositionReport),
    /// Types 4 and 11: base station report / UTC date response.
    BaseStation(BaseStationReport),
    /// Type 5: Class A static and voyage data.
    StaticVoyage(StaticVoyageData),
    /// Type 18: Class B position report.
    ClassBPosition(ClassBPositionReport),
    /// Type 19: extended Class B position report.
    ExtendedClassB(ExtendedClassBReport),
    /// Type 21: aid-to-navigation report.
    AidToNavigation(AidToNavigationReport),
    /// Type 24: Class B static data (part A, part B, or both joined).
    StaticData(StaticDataReport),
    /// Type 27: long-range broadcast.
    LongRange(LongRangeReport),
}

impl Message {
    /// The message type (1–27).
    pub fn msg_type(&self) -> u8 {
        match self {
            Message::Position(m) => m.msg_type,
            Message::BaseStation(m) => m.msg_type,
            Message::StaticVoyage(_) => 5,
            Message::ClassBPosition(_) => 18,
            Message::ExtendedClassB(_) => 19,
            Message::AidToNavigation(_) => 21,
            Message::StaticData(_) => 24,
            Message::LongRange(_) => 27,
        }
    }

    /// The sender's MMSI (a 30-bit number, so always below 2^30).
    pub fn mmsi(&self) -> u32 {
        match self {
            Message::Position(m) => m.mmsi,
            Message::BaseStation(m) => m.mmsi,
            Message::StaticVoyage(m) => m.mmsi,
            Message::ClassBPosition(m) => m.mmsi,
            Message::ExtendedClassB(m) => m.mmsi,
            Message::AidToNavigation(m) => m.mmsi,
            Message::StaticData(m) => m.mmsi,
            Message::LongRange(m) => m.mmsi,
        }
    }

    /// The repeat indicator (0–3).
    pub fn repeat(&self) -> u8 {
        match self {
            Message::Position(m) => m.repeat,
            Message::BaseStation(m) => m.repeat,
            Message::StaticVoyage(m) => m.repeat,
            Message::ClassBPosition(m) => m.repeat,
            Message::ExtendedClassB(m) => m.repeat,
            Message::AidToNavigation(m) => m.repeat,
            Message::StaticData(m) => m.repeat,
            Message::LongRange(m) => m.repeat,
        }
    }
}

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer than the 38 bits of the common header (type, repeat, MMSI).
    #[error("payload of {bits} bits is shorter than the 38-bit message header")]
    TooShort {
        /// Bits in the payload.
        bits: usize,
    },
    /// The payload length does not fit the message type.
    #[error("type {msg_type} message has {bits} bits; expected {expected}")]
    Length {
        /// Message type.
        msg_type: u8,
        /// Bits in the payload.
        bits: usize,
        /// The lengths accepted, e.g. `"at least 168"`.
        expected: &'static str,
    },
    /// A message type this crate does not decode.
    #[error("message type {0} is not decoded (supported: 1-5, 11, 18, 19, 21, 24, 27)")]
    Unsupported(u8),
    /// Type 24 with a reserved part number (only 0 = A and 1 = B exist).
    #[error("type 24 part number {0} is reserved; only 0 (A) and 1 (B) exist")]
    BadPartNumber(u8),
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A field's value does not fit its bit field (or is NaN/infinite).
    #[error("{field} is out of range for its bit field")]
    OutOfRange {
        /// The field's name.
        field: &'static str,
    },
    /// `msg_type` does not belong to the struct (e.g. 7 in a position report).
    #[error("message type {0} does not match the message kind")]
    WrongType(u8),
    /// A type 24 part B whose `craft` does not match its MMSI: auxiliary
    /// craft (MMSI 98MIDxxxx) carry a mothership MMSI, all others dimensions.
    #[error(
        "type 24 part B: craft kind does not match MMSI (auxiliary craft 98MIDxxxx carry a mothership MMSI)"
    )]
    CraftMismatch,
    /// A type 24 report with neither part A nor part B.
    #[error("type 24 report has neither part A nor part B")]
    EmptyStaticData,
}

/// Decode one complete payload.
///
/// Type 24 parts come back one at a time here; [`crate::Decoder`] joins them.
pub fn decode(p: &Payload) -> Result<Message, DecodeError> {
    let bits = p.len_bits();
    if bits < 38 {
        return Err(DecodeError::TooShort { bits });
    }
    let msg_type = p.uint(0, 6) as u8;
    match msg_type {
        1..=3 => position::decode(p).map(Message::Position),
        4 | 11 => base_station::decode(p).map(Message::BaseStation),
        5 => static_voyage::decode(p).map(Message::StaticVoyage),
        18 => class_b::decode_18(p).map(Message::ClassBPosition),
        19 => class_b::decode_19(p).map(Message::ExtendedClassB),
        21 => aid_to_navigation::decode(p).map(Message::AidToNavigation),
        24 => static_data::decode(p).map(Message::StaticData),
        27 => long_range::decode(p).map(Message::LongRange),
        other => Err(DecodeError::Unsupported(other)),
    }
}

/// Encode a message as payloads: one, or two for a type 24 report that has
/// both parts (part A first).
pub fn encode(m: &Message) -> Result<Vec<Payload>, EncodeError> {
    Ok(match m {
        Message::Position(m) => vec![position::encode(m)?],
        Message::BaseStation(m) => vec![base_station::encode(m)?],
        Message::StaticVoyage(m) => vec![static_voyage::encode(m)?],
        Message::ClassBPosition(m) => vec![class_b::encode_18(m)?],
        Message::ExtendedClassB(m) => vec![class_b::encode_19(m)?],
        Message::AidToNavigation(m) => vec![aid_to_navigation::encode(m)?],
        Message::StaticData(m) => static_data::encode(m)?,
        Message::LongRange(m) => vec![long_range::encode(m)?],
    })
}
