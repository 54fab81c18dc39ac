//! Framing of one `!AIVDM`/`!AIVDO` line: optional NMEA 4.x tag block, the
//! XOR checksum, and the seven comma-separated fields. Parsing borrows from
//! the input line and allocates nothing.

/// Why a line is not a usable AIVDM/AIVDO sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SentenceError {
    /// The line is empty or only whitespace.
    #[error("empty line")]
    Empty,
    /// No `!` or `$` where the sentence should start.
    #[error("no sentence start ('!' or '$')")]
    NoStart,
    /// The sentence is not a VDM/VDO sentence (for example `$GPGGA`).
    #[error("not an AIS sentence (address field {0:?}); expected ..VDM or ..VDO")]
    NotAis(String),
    /// No `*hh` checksum at the end of the sentence.
    #[error("missing '*hh' checksum")]
    MissingChecksum,
    /// The two characters after `*` are not hexadecimal.
    #[error("checksum field {0:?} is not two hex digits")]
    BadChecksumDigits(String),
    /// The stated checksum differs from the XOR of the sentence body.
    #[error("checksum mismatch: sentence says {stated:02X}, body XORs to {computed:02X}")]
    ChecksumMismatch {
        /// Checksum written in the sentence.
        stated: u8,
        /// Checksum computed over the bytes between the start and `*`.
        computed: u8,
    },
    /// Letters or digits straight after the two checksum digits.
    #[error("letters or digits straight after the checksum")]
    TrailingGarbage,
    /// Not exactly seven fields.
    #[error("expected 7 comma-separated fields, found {0}")]
    FieldCount(usize),
    /// Fragment count is not 1–9.
    #[error("fragment count {0:?} is not 1-9")]
    BadFragmentCount(String),
    /// Fragment number is not 1..=count.
    #[error("fragment number {0:?} is not within 1..=fragment count")]
    BadFragmentNumber(String),
    /// Sequence id is neither empty nor a single digit.
    #[error("sequence id {0:?} is not empty or a digit 0-9")]
    BadSequenceId(String),
    /// Channel is longer than one character or not printable ASCII.
    #[error("radio channel {0:?} is not a single character")]
    BadChannel(String),
    /// Fill bits are not 0–5.
    #[error("fill bits {0:?} are not 0-5")]
    BadFillBits(String),
    /// The payload field is empty.
    #[error("empty payload")]
    EmptyPayload,
    /// A payload character outside the 6-bit armouring alphabet.
    #[error("payload character {byte:#04x} at offset {offset} is not 6-bit armoured ASCII")]
    BadPayloadCharacter {
        /// Offset within the payload field.
        offset: usize,
        /// The byte found.
        byte: u8,
    },
    /// The tag block is malformed.
    #[error("tag block: {0}")]
    TagBlock(#[from] TagBlockError),
}

/// Why an NMEA 4.x tag block (`\…*hh\`) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagBlockError {
    /// No closing `\`.
    #[error("no closing backslash")]
    Unterminated,
    /// No `*hh` before the closing `\`.
    #[error("missing '*hh' checksum")]
    MissingChecksum,
    /// The checksum characters are not hexadecimal.
    #[error("checksum field {0:?} is not two hex digits")]
    BadChecksumDigits(String),
    /// Stated and computed checksums differ.
    #[error("checksum mismatch: tag block says {stated:02X}, its body XORs to {computed:02X}")]
    ChecksumMismatch {
        /// Checksum written in the tag block.
        stated: u8,
        /// XOR of the bytes between `\` and `*`.
        computed: u8,
    },
    /// A `c:` value that is not a non-negative integer.
    #[error("timestamp {0:?} is not a unix time")]
    BadTimestamp(String),
}

/// The parts of a tag block Jianghai uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TagBlock<'a> {
    /// `c:` receiver time, in unix seconds (millisecond values, which some
    /// receivers send, are divided by 1000).
    pub unix_time: Option<i64>,
    /// `s:` source station, if any.
    pub source: Option<&'a str>,
}

/// One framed AIVDM/AIVDO sentence, borrowing from its line.
///
/// Invariants: `1 <= fragment_number <= fragment_count <= 9`,
/// `fill_bits <= 5`, and `payload` is non-empty 6-bit armoured ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sentence<'a> {
    /// Talker, e.g. `AI`, `AB`, `BS`.
    pub talker: [u8; 2],
    /// True for `VDO` (own ship), false for `VDM`.
    pub own_ship: bool,
    /// Total fragments of the message (1–9).
    pub fragment_count: u8,
    /// This fragment's 1-based number.
    pub fragment_number: u8,
    /// Sequential message id (0–9), usually absent for single fragments.
    pub sequence_id: Option<u8>,
    /// Radio channel character (`A`, `B`, `1`, `2`…), if given.
    pub channel: Option<u8>,
    /// The armoured payload.
    pub payload: &'a str,
    /// Pad bits to drop from the end of this fragment's payload.
    pub fill_bits: u8,
    /// The tag block, when the line had one.
    pub tag_block: Option<TagBlock<'a>>,
}

/// XOR of all bytes.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

fn hex_byte(s: &[u8]) -> Option<u8> {
    let hi = (*s.first()? as char).to_digit(16)?;
    let lo = (*s.get(1)? as char).to_digit(16)?;
    Some((hi * 16 + lo) as u8)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn parse_tag_block(body: &str) -> Result<TagBlock<'_>, TagBlockError> {
    let star = body.rfind('*').ok_or(TagBlockError::MissingChecksum)?;
    let (content, sum) = (&body[..star], &body[star + 1..]);
    let stated = match sum.as_bytes() {
        [a, b] => hex_byte(&[*a, *b]),
        _ => None,
    }
    .ok_or_else(|| TagBlockError::BadChecksumDigits(sum.to_owned()))?;
    let computed = checksum(content.as_bytes());
    if stated != computed {
        return Err(TagBlockError::ChecksumMismatch { stated, computed });
    }
    let mut tb = TagBlock::default();
    for field in content.split(',') {
        if let Some(v) = field.strip_prefix("c:") {
            let n: i64 = v
                .parse()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| TagBlockError::BadTimestamp(v.to_owned()))?;
            tb.unix_time = Some(if n >= 100_000_000_000 { n / 1000 } else { n });
        } else if let Some(v) = field.strip_prefix("s:") {
            tb.source = Some(v);
        }
    }
    Ok(tb)
}

/// Parse one line (surrounding whitespace and CR/LF are ignored).
///
/// Accepted shape: `[\tag block*hh\]!ccVDM,n,m,s,c,payload,f*hh[,trailer]`.
/// Some receivers append fields after the checksum (`*5B,s36310,d-081`;
/// gpsd's corpus has them); text after `*hh` that starts with a character
/// other than a letter or digit is ignored.
pub fn parse(line: &str) -> Result<Sentence<'_>, SentenceError> {
    let mut line = line.trim();
    if line.is_empty() {
        return Err(SentenceError::Empty);
    }
    let mut tag_block = None;
    if let Some(rest) = line.strip_prefix('\\') {
        let end = rest.find('\\').ok_or(TagBlockError::Unterminated)?;
        tag_block = Some(parse_tag_block(&rest[..end])?);
        line = &rest[end + 1..];
    }
    let bytes = line.as_bytes();
    match bytes.first() {
        Some(b'!') | Some(b'$') => {}
        _ => return Err(SentenceError::NoStart),
    }
    // One pass: XOR checksum, comma positions, and the '*'.
    let mut commas = [0usize; 6];
    let mut n_commas = 0usize;
    let mut computed = 0u8;
    let mut star = None;
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        if b == b'*' {
            star = Some(i);
            break;
        }
        computed ^= b;
        if b == b',' {
            if let Some(slot) = commas.get_mut(n_commas) {
                *slot = i;
            }
            n_commas += 1;
        }
    }
    let star = star.ok_or(SentenceError::MissingChecksum)?;
    let after = bytes.get(star + 1..).unwrap_or(&[]);
    let stated = after
        .get(..2)
        .and_then(hex_byte)
        .ok_or_else(|| SentenceError::BadChecksumDigits(lossy(after.get(..2).unwrap_or(after))))?;
    // A trailer after `*hh` (receiver metadata such as `,s1234,d-081`) is
    // ignored when it starts with a non-alphanumeric character; `*5CX`
    // is a malformed checksum, not a trailer.
    if after.get(2).is_some_and(|b| b.is_ascii_alphanumeric()) {
        return Err(SentenceError::TrailingGarbage);
    }
    if stated != computed {
        return Err(SentenceError::ChecksumMismatch { stated, computed });
    }
    if n_commas != 6 {
        return Err(SentenceError::FieldCount(n_commas + 1));
    }
    let [c0, c1, c2, c3, c4, c5] = commas;
    let field = |a: usize, b: usize| line.get(a + 1..b).unwrap_or("");
    let address = line.get(1..c0).unwrap_or("");
    let count = field(c0, c1);
    let number = field(c1, c2);
    let seq = field(c2, c3);
    let chan = field(c3, c4);
    let payload = field(c4, c5);
    let fill = field(c5, star);

    let (talker, own_ship) = match address.as_bytes() {
        [a, b, b'V', b'D', b'M'] => ([*a, *b], false),
        [a, b, b'V', b'D', b'O'] => ([*a, *b], true),
        _ => return Err(SentenceError::NotAis(address.to_owned())),
    };
    let fragment_count = match count.as_bytes() {
        [d @ b'1'..=b'9'] => d - b'0',
        _ => return Err(SentenceError::BadFragmentCount(count.to_owned())),
    };
    let fragment_number = match number.as_bytes() {
        [d @ b'1'..=b'9'] if d - b'0' <= fragment_count => d - b'0',
        _ => return Err(SentenceError::BadFragmentNumber(number.to_owned())),
    };
    let sequence_id = match seq.as_bytes() {
        [] => None,
        [d @ b'0'..=b'9'] => Some(d - b'0'),
        _ => return Err(SentenceError::BadSequenceId(seq.to_owned())),
    };
    let channel = match chan.as_bytes() {
        [] => None,
        [c] if c.is_ascii_graphic() => Some(*c),
        _ => return Err(SentenceError::BadChannel(chan.to_owned())),
    };
    let fill_bits = match fill.as_bytes() {
        [] => 0,
        [d @ b'0'..=b'5'] => d - b'0',
        _ => return Err(SentenceError::BadFillBits(fill.to_owned())),
    };
    if payload.is_empty() {
        return Err(SentenceError::EmptyPayload);
    }
    if let Some((offset, &byte)) = payload
        .as_bytes()
        .iter()
        .enumerate()
        .find(|(_, b)| crate::bits::unarmor(**b).is_none())
    {
        return Err(SentenceError::BadPayloadCharacter { offset, byte });
    }
    Ok(Sentence {
        talker,
        own_ship,
        fragment_count,
        fragment_number,
        sequence_id,
        channel,
        payload,
        fill_bits,
        tag_block,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE1: &str = "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C";

    #[test]
    fn parses_a_single_fragment() {
        let s = parse(TYPE1).unwrap();
        assert_eq!(s.talker, *b"AI");
        assert!(!s.own_ship);
        assert_eq!((s.fragment_count, s.fragment_number), (1, 1));
        assert_eq!(s.sequence_id, None);
        assert_eq!(s.channel, Some(b'B'));
        assert_eq!(s.payload, "177KQJ5000G?tO`K>RA1wUbN0TKH");
        assert_eq!(s.fill_bits, 0);
        assert_eq!(s.tag_block, None);
    }

    #[test]
    fn rejects_a_bad_checksum_with_both_values() {
        let bad = TYPE1.replace("*5C", "*5D");
        assert_eq!(
            parse(&bad),
            Err(SentenceError::ChecksumMismatch {
                stated: 0x5D,
                computed: 0x5C
            })
        );
        assert_eq!(
            parse("!AIVDM,1,1,,B,1,0*ZZ"),
            Err(SentenceError::BadChecksumDigits("ZZ".into()))
        );
        assert_eq!(
            parse("!AIVDM,1,1,,B,1,0"),
            Err(SentenceError::MissingChecksum)
        );
    }

    #[test]
    fn reads_a_tag_block_time_and_checks_its_checksum() {
        let body = "s:r003669945,c:1241544035";
        let line = format!("\\{body}*{:02X}\\{TYPE1}", checksum(body.as_bytes()));
        let s = parse(&line).unwrap();
        let tb = s.tag_block.unwrap();
        assert_eq!(tb.unix_time, Some(1_241_544_035));
        assert_eq!(tb.source, Some("r003669945"));

        let bad = format!("\\{body}*00\\{TYPE1}");
        assert!(matches!(
            parse(&bad),
            Err(SentenceError::TagBlock(TagBlockError::ChecksumMismatch {
                stated: 0,
                ..
            }))
        ));
        assert_eq!(
            parse(&format!("\\{body}*00{TYPE1}")),
            Err(SentenceError::TagBlock(TagBlockError::Unterminated))
        );
    }

    #[test]
    fn accepts_trailers_after_the_checksum() {
        let s = parse("!AIVDM,1,1,,B,:6TMCD1GOS60,0*5B,s36310,d-081,T59.01777335").unwrap();
        assert_eq!(s.payload, ":6TMCD1GOS60");
        assert!(parse(&format!("{TYPE1}\\x0d\\x0a")).is_ok());
        assert_eq!(
            parse(&format!("{TYPE1}x")),
            Err(SentenceError::TrailingGarbage)
        );
    }

    #[test]
    fn names_the_bad_field() {
        let with = |body: &str| {
            let line = format!("!{body}*{:02X}", checksum(body.as_bytes()));
            parse(&line).map(|_| ())
        };
        assert_eq!(
            with("GPGGA,1,1,,A,1,0"),
            Err(SentenceError::NotAis("GPGGA".into()))
        );
        assert_eq!(
            with("AIVDM,0,1,,A,1,0"),
            Err(SentenceError::BadFragmentCount("0".into()))
        );
        assert_eq!(
            with("AIVDM,1,2,,A,1,0"),
            Err(SentenceError::BadFragmentNumber("2".into()))
        );
        assert_eq!(
            with("AIVDM,2,1,12,A,1,0"),
            Err(SentenceError::BadSequenceId("12".into()))
        );
        assert_eq!(
            with("AIVDM,1,1,,AB,1,0"),
            Err(SentenceError::BadChannel("AB".into()))
        );
        assert_eq!(
            with("AIVDM,1,1,,A,1,6"),
            Err(SentenceError::BadFillBits("6".into()))
        );
        assert_eq!(with("AIVDM,1,1,,A,,0"), Err(SentenceError::EmptyPayload));
        assert_eq!(
            with("AIVDM,1,1,,A,1x,0"),
            Err(SentenceError::BadPayloadCharacter {
                offset: 1,
                byte: b'x'
            })
        );
        assert_eq!(with("AIVDM,1,1,,A,1"), Err(SentenceError::FieldCount(6)));
        assert_eq!(with("AIVDM,1,1,,A,1,0"), Ok(()));
        assert_eq!(parse("  "), Err(SentenceError::Empty));
        assert_eq!(parse("AIVDM"), Err(SentenceError::NoStart));
    }
}
