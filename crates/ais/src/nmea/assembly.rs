//! Multi-fragment assembly: fragments are buffered by (sequence id, channel),
//! the key pyais uses, concatenated in order, and released as one
//! [`Payload`](crate::Payload) when the last arrives.
//!
//! Memory is bounded: at most [`AssemblerConfig::max_pending`] groups are
//! held, each at most [`MAX_PAYLOAD_BITS`](crate::MAX_PAYLOAD_BITS) bits.
//! Groups older than [`AssemblerConfig::max_age`] are evicted; time is
//! always an argument (`now`, a [`Duration`] since any fixed origin the
//! caller chooses), never read from a clock.

use std::time::Duration;

use super::Sentence;
use crate::bits::{Payload, PayloadError};

/// Limits for [`Assembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssemblerConfig {
    /// Most incomplete groups held at once; the oldest is evicted beyond it.
    pub max_pending: usize,
    /// Incomplete groups older than this are evicted.
    pub max_age: Duration,
}

impl Default for AssemblerConfig {
    fn default() -> Self {
        Self {
            max_pending: 32,
            max_age: Duration::from_secs(60),
        }
    }
}

/// Why a fragment could not be assembled. The group it belonged to is
/// dropped; later groups are unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssemblyError {
    /// A fragment other than 1 arrived without a group in progress (its
    /// predecessors were lost, evicted, or had errors).
    #[error("fragment {number} of {count} without the preceding fragments")]
    Orphan {
        /// Fragment number received.
        number: u8,
        /// Fragment count it announced.
        count: u8,
    },
    /// A fragment arrived out of order.
    #[error("fragment {found} received where fragment {expected} was expected")]
    OutOfOrder {
        /// The fragment number that should have come next.
        expected: u8,
        /// The fragment number that came.
        found: u8,
    },
    /// Fragments of one group disagree on the fragment count.
    #[error("fragment count changed from {was} to {now} within one message")]
    CountChanged {
        /// Count announced by earlier fragments.
        was: u8,
        /// Count announced by this fragment.
        now: u8,
    },
    /// The payload could not be converted to bits.
    #[error("{0}")]
    Payload(#[from] PayloadError),
}

/// What the fragments of a complete message said about it; the message
/// bits are in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assembled {
    /// Receiver time from the first tag block that had a `c:` field.
    pub unix_time: Option<i64>,
    /// Radio channel of the fragments.
    pub channel: Option<u8>,
    /// True for VDO (own ship).
    pub own_ship: bool,
}

#[derive(Debug, Clone)]
struct Group {
    sequence_id: Option<u8>,
    channel: Option<u8>,
    count: u8,
    received: u8,
    started: Duration,
    unix_time: Option<i64>,
    payload: Box<Payload>,
}

/// Reassembles multi-fragment messages; single fragments pass straight
/// through without allocation.
///
/// Invariant: `pending.len() <= config.max_pending`.
#[derive(Debug, Clone, Default)]
pub struct Assembler {
    config: AssemblerConfig,
    pending: Vec<Group>,
    evicted: u64,
}

impl Assembler {
    /// An assembler with the given limits (`max_pending` of 0 is taken as 1).
    pub fn new(mut config: AssemblerConfig) -> Self {
        config.max_pending = config.max_pending.max(1);
        Self {
            config,
            pending: Vec::new(),
            evicted: 0,
        }
    }

    /// Number of incomplete groups held.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Incomplete groups dropped so far (stale, displaced, or over the cap).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// When the oldest pending group goes stale, if any is pending.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.pending
            .iter()
            .map(|g| g.started.saturating_add(self.config.max_age))
            .min()
    }

    /// Evict groups that are stale at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        let max_age = self.config.max_age;
        let before = self.pending.len();
        self.pending
            .retain(|g| now.saturating_sub(g.started) <= max_age);
        self.evicted += (before - self.pending.len()) as u64;
    }

    /// Feed one fragment. When it completes a message, the payload is left
    /// in `out` (the caller's buffer, reused across calls) and its metadata
    /// returned; `Ok(None)` while a group is still incomplete.
    pub fn handle_sentence(
        &mut self,
        s: &Sentence<'_>,
        now: Duration,
        out: &mut Payload,
    ) -> Result<Option<Assembled>, AssemblyError> {
        let unix_time = s.tag_block.and_then(|t| t.unix_time);
        if s.fragment_count == 1 {
            out.clear();
            out.push_armored(s.payload.as_bytes())?;
            out.drop_fill(s.fill_bits)?;
            return Ok(Some(Assembled {
                unix_time,
                channel: s.channel,
                own_ship: s.own_ship,
            }));
        }
        self.handle_timeout(now);
        let idx = self
            .pending
            .iter()
            .position(|g| g.sequence_id == s.sequence_id && g.channel == s.channel);

        if s.fragment_number == 1 {
            if let Some(i) = idx {
                // A new message reuses the key: the old one can never finish.
                self.pending.swap_remove(i);
                self.evicted += 1;
            }
            let mut payload = Box::new(Payload::new());
            payload.push_armored(s.payload.as_bytes())?;
            payload.drop_fill(s.fill_bits)?;
            if self.pending.len() >= self.config.max_pending
                && let Some(oldest) = self
                    .pending
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, g)| g.started)
                    .map(|(i, _)| i)
            {
                self.pending.swap_remove(oldest);
                self.evicted += 1;
            }
            self.pending.push(Group {
                sequence_id: s.sequence_id,
                channel: s.channel,
                count: s.fragment_count,
                received: 1,
                started: now,
                unix_time,
                payload,
            });
            return Ok(None);
        }

        let Some(i) = idx else {
            return Err(AssemblyError::Orphan {
                number: s.fragment_number,
                count: s.fragment_count,
            });
        };
        let group = self.pending.swap_remove(i);
        let mut group = group;
        if group.count != s.fragment_count {
            return Err(AssemblyError::CountChanged {
                was: group.count,
                now: s.fragment_count,
            });
        }
        if group.received + 1 != s.fragment_number {
            return Err(AssemblyError::OutOfOrder {
                expected: group.received + 1,
                found: s.fragment_number,
            });
        }
        group.payload.push_armored(s.payload.as_bytes())?;
        group.payload.drop_fill(s.fill_bits)?;
        group.received += 1;
        group.unix_time = group.unix_time.or(unix_time);
        if group.received == group.count {
            out.clone_from(&group.payload);
            return Ok(Some(Assembled {
                unix_time: group.unix_time,
                channel: group.channel,
                own_ship: s.own_ship,
            }));
        }
        self.pending.push(group);
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nmea::parse;

    const T5_1: &str =
        "!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C";
    const T5_2: &str = "!AIVDM,2,2,1,A,88888888880,2*25";

    fn feed(
        a: &mut Assembler,
        line: &str,
        secs: u64,
    ) -> Result<Option<(Assembled, Payload)>, AssemblyError> {
        let mut out = Payload::new();
        let done = a.handle_sentence(&parse(line).unwrap(), Duration::from_secs(secs), &mut out)?;
        Ok(done.map(|m| (m, out)))
    }

    #[test]
    fn joins_two_fragments_and_drops_fill() {
        let mut a = Assembler::default();
        assert_eq!(feed(&mut a, T5_1, 0), Ok(None));
        assert_eq!(a.pending(), 1);
        let (_, payload) = feed(&mut a, T5_2, 1).unwrap().unwrap();
        assert_eq!(payload.len_bits(), 60 * 6 + 11 * 6 - 2);
        assert_eq!(payload.uint(0, 6), 5);
        assert_eq!(a.pending(), 0);
    }

    #[test]
    fn orphans_and_out_of_order_fragments_are_errors() {
        let mut a = Assembler::default();
        assert_eq!(
            feed(&mut a, T5_2, 0),
            Err(AssemblyError::Orphan {
                number: 2,
                count: 2
            })
        );
        let f1 = "!AIVDM,3,1,7,B,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*12";
        let f3 = "!AIVDM,3,3,7,B,88888888880,2*29";
        let f1 = fix(f1);
        let f3 = fix(f3);
        assert_eq!(feed(&mut a, &f1, 0), Ok(None));
        assert_eq!(
            feed(&mut a, &f3, 0),
            Err(AssemblyError::OutOfOrder {
                expected: 2,
                found: 3
            })
        );
        assert_eq!(a.pending(), 0, "a broken group is dropped");
    }

    /// Recompute the checksum of a hand-edited sentence.
    fn fix(line: &str) -> String {
        let star = line.find('*').unwrap();
        let body = &line[1..star];
        format!("!{body}*{:02X}", crate::nmea::checksum(body.as_bytes()))
    }

    #[test]
    fn stale_groups_are_evicted_by_the_time_passed_in() {
        let mut a = Assembler::new(AssemblerConfig {
            max_pending: 4,
            max_age: Duration::from_secs(10),
        });
        feed(&mut a, T5_1, 100).unwrap();
        assert_eq!(a.poll_timeout(), Some(Duration::from_secs(110)));
        a.handle_timeout(Duration::from_secs(105));
        assert_eq!(a.pending(), 1);
        assert!(matches!(
            feed(&mut a, T5_2, 111),
            Err(AssemblyError::Orphan { .. })
        ));
        assert_eq!(a.evicted(), 1);
    }

    #[test]
    fn pending_groups_stay_bounded() {
        let mut a = Assembler::new(AssemblerConfig {
            max_pending: 3,
            max_age: Duration::from_secs(1000),
        });
        for seq in 0..10u8 {
            for chan in ['A', 'B'] {
                let line = fix(&format!("!AIVDM,2,1,{seq},{chan},55?MbV02,0*00"));
                feed(&mut a, &line, u64::from(seq)).unwrap();
                assert!(a.pending() <= 3);
            }
        }
        assert_eq!(a.pending(), 3);
        assert_eq!(a.evicted(), 17);
    }

    #[test]
    fn channels_keep_groups_apart() {
        let mut a = Assembler::default();
        let b1 = fix(&T5_1.replace(",A,", ",B,"));
        let b2 = fix(&T5_2.replace(",A,", ",B,"));
        feed(&mut a, T5_1, 0).unwrap();
        feed(&mut a, &b1, 0).unwrap();
        assert_eq!(a.pending(), 2);
        assert!(feed(&mut a, &b2, 0).unwrap().is_some());
        assert!(feed(&mut a, T5_2, 0).unwrap().is_some());
    }
}
