//! The ledger's hash chain, independent of where it is stored.
//!
//! Entry `n` is hashed as SHA-256 over `jianghai-ledger-v1`, its sequence number, its record
//! time, the hash of entry `n-1` (the genesis hash for the first) and the event's canonical
//! encoding. Changing, inserting or deleting any entry breaks every later link; the stored head
//! (count and last hash) catches truncation at the end. [`Verifier`] is the one implementation
//! of the check; the stores feed it rows.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::event::Event;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    let mut s = String::with_capacity(digest.len() * 2);
    for b in digest {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    s
}

/// Record times are kept as text in this fixed form (UTC, microseconds), so both stores hash
/// and sort them identically.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The hash of one entry.
pub fn entry_hash(seq: i64, record_time: &str, prev_hash: &str, canonical_event: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"jianghai-ledger-v1\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(record_time.as_bytes());
    h.update(b"\n");
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical_event.as_bytes());
    hex(&h.finalize())
}

/// A ledger row as a store holds it: the chained fields, the canonical body, and the columns
/// the store indexes (which must agree with the body).
#[derive(Debug, Clone)]
pub struct StoredEntry {
    pub seq: i64,
    pub record_time: String,
    pub prev_hash: String,
    pub hash: String,
    pub body: String,
    pub event_id: String,
    pub event_time: String,
    pub biz_step: String,
    pub organisation: String,
}

/// The first thing wrong with a ledger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Break {
    #[error("entry {found} follows entry {previous}: entries between them are missing")]
    Gap { previous: i64, found: i64 },
    #[error(
        "entry {seq}: its link to the previous entry does not match (an earlier entry was changed, inserted or removed)"
    )]
    Link { seq: i64 },
    #[error(
        "entry {seq} (event {event_id}): its hash does not match its content (changed after it was recorded)"
    )]
    Hash { seq: i64, event_id: String },
    #[error("entry {seq}: the stored event is not a valid event: {reason}")]
    Body { seq: i64, reason: String },
    #[error("entry {seq} (event {event_id}): column {column} disagrees with the recorded event")]
    Column {
        seq: i64,
        event_id: String,
        column: &'static str,
    },
    #[error(
        "the ledger head says {expected_count} entries ending in {expected_hash}, but the chain has {count} ending in {hash} (entries were removed or added at the end)"
    )]
    Head {
        expected_count: i64,
        expected_hash: String,
        count: i64,
        hash: String,
    },
}

/// Walks a chain entry by entry in sequence order.
#[derive(Debug)]
pub struct Verifier {
    last_seq: i64,
    last_hash: String,
    count: i64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            last_seq: 0,
            last_hash: GENESIS_HASH.to_string(),
            count: 0,
        }
    }
}

impl Verifier {
    pub fn new() -> Verifier {
        Verifier::default()
    }

    /// Checks the next entry; returns the decoded event so callers can check projections.
    pub fn push(&mut self, e: &StoredEntry) -> Result<Event, Break> {
        if e.seq != self.last_seq + 1 {
            return Err(Break::Gap {
                previous: self.last_seq,
                found: e.seq,
            });
        }
        if e.prev_hash != self.last_hash {
            return Err(Break::Link { seq: e.seq });
        }
        let recomputed = entry_hash(e.seq, &e.record_time, &e.prev_hash, &e.body);
        if recomputed != e.hash {
            return Err(Break::Hash {
                seq: e.seq,
                event_id: e.event_id.clone(),
            });
        }
        let event: Event = serde_json::from_str(&e.body).map_err(|err| Break::Body {
            seq: e.seq,
            reason: err.to_string(),
        })?;
        if event.canonical() != e.body {
            return Err(Break::Body {
                seq: e.seq,
                reason: "not in canonical form".into(),
            });
        }
        let col = |column| Break::Column {
            seq: e.seq,
            event_id: e.event_id.clone(),
            column,
        };
        if event.event_id.to_string() != e.event_id {
            return Err(col("event_id"));
        }
        if format_time(event.event_time.with_timezone(&Utc)) != e.event_time {
            return Err(col("event_time"));
        }
        if event.biz_step.0 != e.biz_step {
            return Err(col("biz_step"));
        }
        if event.actor.organisation.as_str() != e.organisation {
            return Err(col("organisation"));
        }
        self.last_seq = e.seq;
        self.last_hash = e.hash.clone();
        self.count += 1;
        Ok(event)
    }

    /// Compares the walked chain with the stored head.
    pub fn finish(self, head_count: i64, head_hash: &str) -> Result<Summary, Break> {
        if head_count != self.count || head_hash != self.last_hash {
            return Err(Break::Head {
                expected_count: head_count,
                expected_hash: head_hash.to_string(),
                count: self.count,
                hash: self.last_hash,
            });
        }
        Ok(Summary {
            count: self.count,
            head: self.last_hash,
        })
    }
}

/// A verified ledger: how many entries and the hash of the last (publish it to anchor the chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub count: i64,
    pub head: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, Event};
    use crate::ident::Ident;
    use crate::lifecycle::Step;
    use crate::vin::Vin;
    use chrono::TimeZone;

    fn entries(n: i64) -> Vec<StoredEntry> {
        let mut prev = GENESIS_HASH.to_string();
        let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
        (1..=n)
            .map(|seq| {
                let vin = Vin::with_check_digit(&format!("LS5A3ABE0RB{:06}", seq)).expect("vin");
                let ev = Event::lifecycle(
                    uuid::Uuid::from_u128(seq as u128),
                    Step::Register,
                    tz.with_ymd_and_hms(2025, 6, 27, 9, 0, 0)
                        .single()
                        .expect("time"),
                    vec![vin],
                    Actor {
                        organisation: Ident::parse("changan-export").expect("ident"),
                        user: None,
                        device: None,
                    },
                );
                let body = ev.canonical();
                let rt = "2025-06-27T01:00:00.000000Z".to_string();
                let hash = entry_hash(seq, &rt, &prev, &body);
                let e = StoredEntry {
                    seq,
                    record_time: rt,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                    body,
                    event_id: ev.event_id.to_string(),
                    event_time: format_time(ev.event_time.with_timezone(&Utc)),
                    biz_step: ev.biz_step.0.clone(),
                    organisation: "changan-export".into(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn verify(es: &[StoredEntry], head_count: i64, head_hash: &str) -> Result<Summary, Break> {
        let mut v = Verifier::new();
        for e in es {
            v.push(e)?;
        }
        v.finish(head_count, head_hash)
    }

    #[test]
    fn intact_chain_verifies() {
        let es = entries(5);
        let s = verify(&es, 5, &es[4].hash).expect("verifies");
        assert_eq!(s.count, 5);
    }

    #[test]
    fn each_kind_of_tampering_is_named() {
        let es = entries(5);
        let head = es[4].hash.clone();

        let mut changed = es.clone();
        changed[2].body = changed[2].body.replace("commissioning", "shipping");
        assert_eq!(
            verify(&changed, 5, &head),
            Err(Break::Hash {
                seq: 3,
                event_id: es[2].event_id.clone()
            })
        );

        let mut gap = es.clone();
        gap.remove(1);
        assert_eq!(
            verify(&gap, 5, &head),
            Err(Break::Gap {
                previous: 1,
                found: 3
            })
        );

        let mut col = es.clone();
        col[3].biz_step = "shipping".into();
        assert!(matches!(
            verify(&col, 5, &head),
            Err(Break::Column {
                seq: 4,
                column: "biz_step",
                ..
            })
        ));

        let truncated = &es[..4];
        assert!(matches!(
            verify(truncated, 5, &head),
            Err(Break::Head { count: 4, .. })
        ));

        // Re-hashing a changed entry still breaks the next link.
        let mut rehashed = es.clone();
        rehashed[1].record_time = "2025-06-27T02:00:00.000000Z".into();
        rehashed[1].hash = entry_hash(
            2,
            &rehashed[1].record_time,
            &rehashed[1].prev_hash,
            &rehashed[1].body,
        );
        assert_eq!(verify(&rehashed, 5, &head), Err(Break::Link { seq: 3 }));
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
