//! [`Decoder`]: the stateful, sans-IO front door. Lines go in with the time
//! they were received; complete messages come out. It owns the fragment
//! [`Assembler`] and the type 24 joiner, both bounded in memory.
//!
//! Method kinds follow quinn-proto: `handle_*` takes input (and `now`),
//! `poll_timeout` tells the shell when to call `handle_timeout` next.

use std::collections::VecDeque;
use std::time::Duration;

use crate::bits::Payload;
use crate::message::{self, DecodeError, Message, StaticDataReport};
use crate::nmea::{self, Assembled, Assembler, AssemblerConfig, AssemblyError, SentenceError};
use crate::text::AisText;

/// Limits for a [`Decoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Fragment assembly limits.
    pub assembler: AssemblerConfig,
    /// Most type 24 part A names waiting for their part B.
    pub max_pending_names: usize,
    /// A part A older than this is not joined to a part B.
    pub name_max_age: Duration,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        Self {
            assembler: AssemblerConfig::default(),
            max_pending_names: 256,
            name_max_age: Duration::from_secs(600),
        }
    }
}

/// One decoded message with what the transport said about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The message.
    pub message: Message,
    /// Event time from the tag block's `c:` field (unix seconds), if any.
    pub unix_time: Option<i64>,
    /// Radio channel character, if given.
    pub channel: Option<u8>,
    /// True when it came as VDO (own ship).
    pub own_ship: bool,
}

/// Why a line produced no message. The decoder stays usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecoderError {
    /// The line is not a valid AIVDM/AIVDO sentence.
    #[error(transparent)]
    Sentence(#[from] SentenceError),
    /// The fragment could not be assembled.
    #[error(transparent)]
    Assembly(#[from] AssemblyError),
    /// The assembled payload could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

#[derive(Debug, Clone)]
struct PendingName {
    mmsi: u32,
    name: AisText,
    at: Duration,
}

/// Lines in, messages out.
///
/// Invariants: at most `assembler.max_pending` incomplete fragment groups
/// and at most `max_pending_names` type 24 names are held.
#[derive(Debug, Clone)]
pub struct Decoder {
    config: DecoderConfig,
    assembler: Assembler,
    names: VecDeque<PendingName>,
    /// Reused payload buffer: single fragments are decoded from here.
    scratch: Payload,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DecoderConfig::default())
    }
}

impl Decoder {
    /// A decoder with the given limits.
    pub fn new(mut config: DecoderConfig) -> Self {
        config.max_pending_names = config.max_pending_names.max(1);
        Self {
            config,
            assembler: Assembler::new(config.assembler),
            names: VecDeque::new(),
            scratch: Payload::new(),
        }
    }

    /// Incomplete fragment groups held.
    pub fn pending_fragments(&self) -> usize {
        self.assembler.pending()
    }

    /// Type 24 part A names waiting for a part B.
    pub fn pending_names(&self) -> usize {
        self.names.len()
    }

    /// Fragment groups dropped so far (stale, displaced, or over the cap).
    pub fn evicted_fragments(&self) -> u64 {
        self.assembler.evicted()
    }

    /// When [`Decoder::handle_timeout`] should next be called, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        let names = self
            .names
            .iter()
            .map(|n| n.at.saturating_add(self.config.name_max_age))
            .min();
        match (self.assembler.poll_timeout(), names) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drop stale fragment groups and stale type 24 names.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.assembler.handle_timeout(now);
        let max_age = self.config.name_max_age;
        self.names.retain(|n| now.saturating_sub(n.at) <= max_age);
    }

    /// Feed one line received at `now`. `Ok(None)` means the line was
    /// accepted but completes no message yet (a first fragment, or a type 24
    /// part A waiting for its part B).
    pub fn handle_line(
        &mut self,
        line: &str,
        now: Duration,
    ) -> Result<Option<Decoded>, DecoderError> {
        let sentence = nmea::parse(line)?;
        self.handle_sentence(&sentence, now)
    }

    /// Feed one parsed sentence received at `now`.
    pub fn handle_sentence(
        &mut self,
        sentence: &nmea::Sentence<'_>,
        now: Duration,
    ) -> Result<Option<Decoded>, DecoderError> {
        let Some(assembled) = self
            .assembler
            .handle_sentence(sentence, now, &mut self.scratch)?
        else {
            return Ok(None);
        };
        let message = message::decode(&self.scratch)?;
        Ok(self.handle_message(message, assembled, now))
    }

    /// Decode a complete payload (assembled elsewhere) and join type 24 parts.
    pub fn handle_payload(
        &mut self,
        payload: &Payload,
        assembled: Assembled,
        now: Duration,
    ) -> Result<Option<Decoded>, DecodeError> {
        let message = message::decode(payload)?;
        Ok(self.handle_message(message, assembled, now))
    }

    fn handle_message(
        &mut self,
        message: Message,
        assembled: Assembled,
        now: Duration,
    ) -> Option<Decoded> {
        let message = match message {
            Message::StaticData(report) => Message::StaticData(self.join(report, now)?),
            other => other,
        };
        Some(Decoded {
            message,
            unix_time: assembled.unix_time,
            channel: assembled.channel,
            own_ship: assembled.own_ship,
        })
    }

    /// Part A: remember the name, emit nothing. Part B: emit, with the name
    /// of a fresh part A from the same MMSI when there is one.
    fn join(&mut self, mut report: StaticDataReport, now: Duration) -> Option<StaticDataReport> {
        let found = self.names.iter().position(|n| n.mmsi == report.mmsi);
        if report.part_b.is_none() {
            let name = report.shipname?;
            if let Some(i) = found {
                self.names.remove(i);
            }
            if self.names.len() >= self.config.max_pending_names {
                self.names.pop_front();
            }
            self.names.push_back(PendingName {
                mmsi: report.mmsi,
                name,
                at: now,
            });
            return None;
        }
        if let Some(i) = found
            && let Some(pending) = self.names.remove(i)
            && now.saturating_sub(pending.at) <= self.config.name_max_age
        {
            report.shipname = Some(pending.name);
        }
        Some(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Craft;

    const PART_A: &str = "!AIVDM,1,1,,A,H42O55i18tMET00000000000000,2*6D";
    const PART_B: &str = "!AIVDM,1,1,,A,H42O55lti4hhhilD3nink000?050,0*40";

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn joins_type24_parts_per_mmsi() {
        let mut d = Decoder::default();
        assert_eq!(d.handle_line(PART_A, secs(0)), Ok(None));
        assert_eq!(d.pending_names(), 1);
        let out = d.handle_line(PART_B, secs(5)).unwrap().unwrap();
        let Message::StaticData(r) = out.message else {
            panic!("expected type 24")
        };
        assert_eq!(r.shipname.as_deref(), Some("PROGUY"));
        assert!(matches!(r.part_b.unwrap().craft, Craft::Dimensions(_)));
        assert_eq!(d.pending_names(), 0);
        // A repeated part B has no name to join any more.
        let again = d.handle_line(PART_B, secs(6)).unwrap().unwrap();
        let Message::StaticData(r) = again.message else {
            panic!("expected type 24")
        };
        assert_eq!(r.shipname, None);
    }

    #[test]
    fn stale_names_are_not_joined_and_memory_is_bounded() {
        let mut d = Decoder::new(DecoderConfig {
            max_pending_names: 2,
            name_max_age: secs(10),
            ..DecoderConfig::default()
        });
        d.handle_line(PART_A, secs(0)).unwrap();
        let late = d.handle_line(PART_B, secs(11)).unwrap().unwrap();
        let Message::StaticData(r) = late.message else {
            panic!("expected type 24")
        };
        assert_eq!(r.shipname, None);
        for mmsi in 0..10u32 {
            let report = StaticDataReport {
                repeat: 0,
                mmsi,
                shipname: Some(AisText::new("X").unwrap()),
                part_b: None,
            };
            let lines = crate::encode(&Message::StaticData(report), &Default::default()).unwrap();
            d.handle_line(&lines[0], secs(20)).unwrap();
            assert!(d.pending_names() <= 2);
        }
        assert_eq!(d.poll_timeout(), Some(secs(30)));
        d.handle_timeout(secs(31));
        assert_eq!(d.pending_names(), 0);
    }

    #[test]
    fn tag_block_time_becomes_the_event_time() {
        let body = "s:2573345,c:1241544035";
        let line = format!(
            "\\{body}*{:02X}\\!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C",
            nmea::checksum(body.as_bytes())
        );
        let out = Decoder::default()
            .handle_line(&line, secs(0))
            .unwrap()
            .unwrap();
        assert_eq!(out.unix_time, Some(1_241_544_035));
        assert_eq!(out.channel, Some(b'B'));
    }

    #[test]
    fn errors_carry_their_stage() {
        let mut d = Decoder::default();
        assert!(matches!(
            d.handle_line("!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5D", secs(0)),
            Err(DecoderError::Sentence(
                SentenceError::ChecksumMismatch { .. }
            ))
        ));
        assert!(matches!(
            d.handle_line("!AIVDM,2,2,1,A,88888888880,2*25", secs(0)),
            Err(DecoderError::Assembly(AssemblyError::Orphan { .. }))
        ));
        assert_eq!(
            d.handle_line("!AIVDM,1,1,,B,6B?n;be:cbapalgc;i6?Ow4,2*4A", secs(0)),
            Err(DecoderError::Decode(DecodeError::Unsupported(6)))
        );
    }
}
