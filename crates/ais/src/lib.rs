//! Jianghai's AIS decoder: pure, sans-IO, no clock, no sockets.
//!
//! AIS (ITU-R M.1371) reaches us as NMEA 0183 `!AIVDM`/`!AIVDO` lines. This
//! crate turns lines into typed [`Message`]s and back:
//!
//! * [`nmea`] — framing, checksum, NMEA 4.x tag blocks, multi-fragment
//!   assembly with bounded buffers, and writing sentences.
//! * [`message`] — the payload: one file per message family (types 1/2/3,
//!   4/11, 5, 18, 19, 21, 24, 27), decoding and encoding, with "not
//!   available" sentinels mapped to `None`.
//! * [`Decoder`] — the stateful front door: lines in, [`Decoded`] messages
//!   out; joins type 24 parts A and B per MMSI.
//! * [`gpsd`] — renders messages as gpsd's JSON-AIS objects (member names and
//!   scaling as `gpsdecode -j`), and [`gpsd::decode_lines`] for the CLI.
//! * [`encode`] — message to sentences, used by the simulator.
//!
//! Design choice: like quinn-proto, the core is a deterministic state
//! machine. Time is an argument (`now`, a [`std::time::Duration`] since any
//! origin the caller picks) and bad input is a value ([`DecoderError`]),
//! never a panic. A single-fragment sentence is decoded without touching
//! the heap: the payload lives in a stack [`Payload`] and text fields in
//! inline [`AisText`].
//!
//! ```
//! use std::time::Duration;
//! use jianghai_ais::{Decoder, Message};
//!
//! let mut decoder = Decoder::default();
//! let line = "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C";
//! let decoded = decoder.handle_line(line, Duration::ZERO).unwrap().unwrap();
//! let Message::Position(p) = &decoded.message else { unreachable!() };
//! assert_eq!(p.mmsi, 477_553_000);
//! assert_eq!(p.speed, Some(0.0));
//! assert_eq!(p.heading, Some(181));
//!
//! // A bad checksum is an error value with the reason.
//! let err = decoder.handle_line(&line.replace("*5C", "*00"), Duration::ZERO).unwrap_err();
//! assert_eq!(err.to_string(), "checksum mismatch: sentence says 00, body XORs to 5C");
//! ```

#![deny(missing_docs)]

mod bits;
mod decoder;
pub mod gpsd;
pub mod message;
pub mod nmea;
mod text;

pub use bits::{MAX_PAYLOAD_BITS, Payload, PayloadError};
pub use decoder::{Decoded, Decoder, DecoderConfig, DecoderError};
pub use message::{DecodeError, EncodeError, Message};
pub use text::{AIS_TEXT_CAPACITY, AisText, TextError};

/// Encode a message as AIVDM/AIVDO sentences (no line endings), fragmenting
/// when the payload is longer than 60 characters. A type 24 report with both
/// parts gives part A's sentence then part B's.
///
/// ```
/// use jianghai_ais::{encode, nmea::WriteOptions, Decoder, Message};
/// use std::time::Duration;
///
/// let line = "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C";
/// let msg = Decoder::default().handle_line(line, Duration::ZERO).unwrap().unwrap().message;
/// let opts = WriteOptions { channel: Some(b'B'), ..WriteOptions::default() };
/// assert_eq!(encode(&msg, &opts).unwrap(), vec![line.to_string()]);
/// ```
pub fn encode(message: &Message, opts: &nmea::WriteOptions) -> Result<Vec<String>, EncodeError> {
    let payloads = message::encode(message)?;
    let mut out = Vec::new();
    for p in &payloads {
        out.extend(nmea::write_sentences(p, opts));
    }
    Ok(out)
}
