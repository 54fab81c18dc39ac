//! NMEA 0183 transport: framing and checksum of `!AIVDM`/`!AIVDO` lines,
//! NMEA 4.x tag blocks, multi-fragment assembly, and the reverse (writing a
//! payload as one or more sentences). Nothing here knows what the payload
//! bits mean; that is [`crate::message`].

mod assembly;
mod sentence;

pub use assembly::{Assembled, Assembler, AssemblerConfig, AssemblyError};
pub use sentence::{Sentence, SentenceError, TagBlock, TagBlockError, checksum, parse};

use crate::bits::Payload;

/// Payload characters per sentence when writing: 60 keeps every sentence
/// within NMEA's 82-character limit (and is what pyais and most AIS
/// transponders use), so a 424-bit type 5 takes two fragments.
pub const MAX_PAYLOAD_CHARS: usize = 60;

/// How sentences are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Talker id, normally `AI`.
    pub talker: [u8; 2],
    /// Write `VDO` (own ship) instead of `VDM`.
    pub own_ship: bool,
    /// Radio channel character, normally `A` or `B`.
    pub channel: Option<u8>,
    /// Sequential message id 0–9 for multi-fragment messages (taken mod 10).
    pub sequence_id: u8,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            talker: *b"AI",
            own_ship: false,
            channel: Some(b'A'),
            sequence_id: 0,
        }
    }
}

/// Write a payload as AIVDM/AIVDO sentences (without line endings), split
/// into fragments of at most [`MAX_PAYLOAD_CHARS`] characters.
pub fn write_sentences(payload: &Payload, opts: &WriteOptions) -> Vec<String> {
    let (text, fill) = payload.to_armored();
    let bytes = text.as_bytes();
    let chunks: Vec<&[u8]> = if bytes.is_empty() {
        vec![&[][..]]
    } else {
        bytes.chunks(MAX_PAYLOAD_CHARS).collect()
    };
    let count = chunks.len();
    let talker = String::from_utf8_lossy(&opts.talker).into_owned();
    let kind = if opts.own_ship { "VDO" } else { "VDM" };
    let channel = opts
        .channel
        .map(char::from)
        .map(String::from)
        .unwrap_or_default();
    let seq = if count > 1 {
        (opts.sequence_id % 10).to_string()
    } else {
        String::new()
    };
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let f = if i + 1 == count { fill } else { 0 };
            let body = format!(
                "{talker}{kind},{count},{},{seq},{channel},{},{f}",
                i + 1,
                String::from_utf8_lossy(chunk)
            );
            format!("!{body}*{:02X}", checksum(body.as_bytes()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_parse_reads() {
        let p = Payload::from_armored("177KQJ5000G?tO`K>RA1wUbN0TKH", 0).unwrap();
        let opts = WriteOptions {
            channel: Some(b'B'),
            ..WriteOptions::default()
        };
        assert_eq!(
            write_sentences(&p, &opts),
            vec!["!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C".to_string()]
        );
    }

    #[test]
    fn fragments_long_payloads() {
        let mut p = Payload::new();
        for _ in 0..424 / 8 {
            p.push_uint(0xA5, 8);
        }
        let lines = write_sentences(
            &p,
            &WriteOptions {
                sequence_id: 13,
                ..WriteOptions::default()
            },
        );
        assert_eq!(lines.len(), 2);
        let a = parse(&lines[0]).unwrap();
        let b = parse(&lines[1]).unwrap();
        assert_eq!(
            (a.fragment_count, a.fragment_number, a.sequence_id),
            (2, 1, Some(3))
        );
        assert_eq!((b.fragment_number, b.fill_bits), (2, 2));
        assert!(lines.iter().all(|l| l.len() + 2 <= 82));
    }
}
