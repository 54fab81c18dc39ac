//! The event: one business step, shaped to map one-to-one onto a GS1 EPCIS 2.0 `ObjectEvent`.
//!
//! What (subjects: VINs, voyage, seals), when (event time with its zone offset; record time is
//! added by the ledger), where (read point, business location, position), why (CBV bizStep and
//! disposition, and the lifecycle step it applies), who (organisation, user or device), and
//! namespaced extensions. [`Event::validate`] is the single gate every event passes before it
//! is appended; it takes `now` because the core never reads a clock.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ident::Ident;
use crate::lifecycle::Step;
use crate::party::Position;
use crate::vin::Vin;

/// Limits on what one event may carry; larger input is refused, not truncated.
pub mod limits {
    /// Events whose time is further ahead of the receiver's clock than this are refused.
    pub const MAX_FUTURE_SKEW_SECONDS: i64 = 300;
    /// VINs in one event (a whole ship's load fits).
    pub const MAX_VINS: usize = 5_000;
    /// Seals in one event.
    pub const MAX_SEALS: usize = 100;
    /// Longest free-text field (user, reason), in characters.
    pub const MAX_TEXT: usize = 256;
    /// Largest extensions object, in bytes of canonical JSON.
    pub const MAX_EXTENSION_BYTES: usize = 16 * 1024;
    /// Most extension keys.
    pub const MAX_EXTENSION_KEYS: usize = 64;
}

/// An event id. Clients choose it so that a retried request is recognised.
pub type EventId = Uuid;

/// EPCIS `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    Add,
    Observe,
    Delete,
}

/// A CBV 2.0 bizStep term, or a URI for steps CBV lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BizStep(pub String);

/// A CBV 2.0 disposition term, or a URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Disposition(pub String);

/// Base of the URIs this platform mints for its own vocabulary and identifiers (GS1 has no key
/// for a VIN; this is a design choice, not a GS1 rule).
pub const URI_BASE: &str = "https://jianghai.dev";

/// CBV 2.0 bizStep terms (the bare JSON form).
pub const CBV_BIZ_STEPS: &[&str] = &[
    "accepting",
    "arriving",
    "assembling",
    "collecting",
    "commissioning",
    "consigning",
    "creating_class_instance",
    "cycle_counting",
    "decommissioning",
    "departing",
    "destroying",
    "disassembling",
    "dispensing",
    "encoding",
    "entering_exiting",
    "holding",
    "inspecting",
    "installing",
    "killing",
    "loading",
    "other",
    "packing",
    "picking",
    "receiving",
    "removing",
    "repackaging",
    "repairing",
    "replacing",
    "reserving",
    "retail_selling",
    "sampling",
    "sensor_reporting",
    "shipping",
    "staging_outbound",
    "stock_taking",
    "stocking",
    "storing",
    "transporting",
    "unloading",
    "unpacking",
    "void_shipping",
];

/// CBV 2.0 disposition terms.
pub const CBV_DISPOSITIONS: &[&str] = &[
    "active",
    "available",
    "completeness_inferred",
    "completeness_verified",
    "conformant",
    "container_closed",
    "container_open",
    "damaged",
    "destroyed",
    "dispensed",
    "disposed",
    "encoded",
    "expired",
    "in_progress",
    "in_transit",
    "inactive",
    "mismatch_class",
    "mismatch_instance",
    "mismatch_quantity",
    "needs_replacement",
    "no_pedigree_match",
    "non_conformant",
    "non_sellable_other",
    "partially_dispensed",
    "recalled",
    "reserved",
    "retail_sold",
    "returned",
    "sellable_accessible",
    "sellable_not_accessible",
    "stolen",
    "unavailable",
    "unknown",
];

impl Step {
    /// The EPCIS view of a lifecycle step: action, bizStep (CBV where CBV has one) and
    /// disposition. Steps CBV lacks (declaring, transit closure, release) get platform URIs.
    pub fn epcis(self) -> (Action, BizStep, Disposition) {
        let (action, step, disp) = match self {
            Step::Register => (Action::Add, "commissioning", "active"),
            Step::GateIn => (Action::Observe, "arriving", "in_progress"),
            Step::Tally => (Action::Observe, "inspecting", "conformant"),
            Step::Declare => (
                Action::Observe,
                "https://jianghai.dev/voc/bizStep-declaring",
                "reserved",
            ),
            Step::Load => (Action::Observe, "loading", "in_progress"),
            Step::Depart => (Action::Observe, "departing", "in_transit"),
            Step::Arrive => (Action::Observe, "arriving", "in_transit"),
            Step::CloseTransit => (
                Action::Observe,
                "https://jianghai.dev/voc/bizStep-closing_transit",
                "conformant",
            ),
            Step::Transship => (Action::Observe, "loading", "in_transit"),
            Step::Export => (Action::Observe, "departing", "in_transit"),
            Step::Hold => (Action::Observe, "holding", "non_sellable_other"),
            Step::Release => (
                Action::Observe,
                "https://jianghai.dev/voc/bizStep-releasing",
                "in_progress",
            ),
            Step::Return => (Action::Observe, "shipping", "returned"),
        };
        (
            action,
            BizStep(step.to_string()),
            Disposition(disp.to_string()),
        )
    }
}

/// Who did it: an organisation, and within it a user or a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    pub organisation: Ident,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Ident>,
}

/// What the event is about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subjects {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vins: Vec<Vin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voyage: Option<Ident>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seals: Vec<Ident>,
}

/// One business step, as a party submits it. `record_time` is not here: the ledger adds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Event {
    pub event_id: EventId,
    pub action: Action,
    /// When it happened, in the zone where it happened (the offset is kept).
    pub event_time: DateTime<FixedOffset>,
    pub biz_step: BizStep,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    /// The lifecycle step this event applies to its VINs, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
    pub subjects: Subjects,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_point: Option<Ident>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_location: Option<Ident>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    pub actor: Actor,
    /// Namespaced (`prefix:name`) extension members, as EPCIS requires.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, serde_json::Value>,
}

/// Why an event was refused. Nothing is recorded when this is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    #[error(
        "event time {event_time} is more than {} seconds ahead of the receiver's clock ({now})",
        limits::MAX_FUTURE_SKEW_SECONDS
    )]
    FromTheFuture {
        event_time: DateTime<FixedOffset>,
        now: DateTime<Utc>,
    },
    #[error("event has no subject: give at least one VIN, a voyage or a seal")]
    NoSubject,
    #[error("a lifecycle step needs at least one VIN")]
    StepWithoutVin,
    #[error("VIN {0} appears more than once in the event")]
    DuplicateVin(Vin),
    #[error("{field} has {count} entries; at most {max} are allowed")]
    TooMany {
        field: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{field} is {len} characters long; at most {max} are allowed")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("extension key {0:?} is not namespaced (write it as prefix:name)")]
    UnnamespacedExtension(String),
    #[error("extensions take {bytes} bytes; at most {max} are allowed")]
    ExtensionsTooLarge { bytes: usize, max: usize },
    #[error(
        "bizStep {0:?} is neither a CBV 2.0 term nor an absolute URI outside the CBV namespace"
    )]
    BadBizStep(String),
    #[error(
        "disposition {0:?} is neither a CBV 2.0 term nor an absolute URI outside the CBV namespace"
    )]
    BadDisposition(String),
    #[error("position {lat}, {lon} is not a WGS-84 coordinate")]
    BadPosition { lat: f64, lon: f64 },
    #[error("event id must not be the nil UUID")]
    NilId,
}

fn vocab_ok(value: &str, terms: &[&str]) -> bool {
    if terms.contains(&value) {
        return true;
    }
    // A non-CBV value must be an absolute URI outside the CBV namespaces.
    let absolute = value
        .split_once(':')
        .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty())
        && value.chars().all(|c| !c.is_whitespace() && !c.is_control());
    absolute
        && !value.starts_with("urn:epcglobal:cbv")
        && !value.starts_with("http://ns.gs1.org/cbv/")
        && !value.starts_with("https://ns.gs1.org/cbv/")
        && value.len() <= limits::MAX_TEXT
}

impl Event {
    /// A lifecycle event for `vins`, with the step's EPCIS terms filled in.
    pub fn lifecycle(
        event_id: EventId,
        step: Step,
        event_time: DateTime<FixedOffset>,
        vins: Vec<Vin>,
        actor: Actor,
    ) -> Event {
        let (action, biz_step, disposition) = step.epcis();
        Event {
            event_id,
            action,
            event_time,
            biz_step,
            disposition: Some(disposition),
            step: Some(step),
            subjects: Subjects {
                vins,
                ..Subjects::default()
            },
            read_point: None,
            biz_location: None,
            position: None,
            actor,
            extensions: BTreeMap::new(),
        }
    }

    /// Checks everything that can be checked without the store. `now` is the receiver's clock.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), EventError> {
        if self.event_id.is_nil() {
            return Err(EventError::NilId);
        }
        let skew = self.event_time.with_timezone(&Utc) - now;
        if skew.num_seconds() > limits::MAX_FUTURE_SKEW_SECONDS {
            return Err(EventError::FromTheFuture {
                event_time: self.event_time,
                now,
            });
        }
        let s = &self.subjects;
        if self.step.is_some() && s.vins.is_empty() {
            return Err(EventError::StepWithoutVin);
        }
        if s.vins.is_empty() && s.voyage.is_none() && s.seals.is_empty() {
            return Err(EventError::NoSubject);
        }
        check_count("subjects.vins", s.vins.len(), limits::MAX_VINS)?;
        check_count("subjects.seals", s.seals.len(), limits::MAX_SEALS)?;
        let mut seen = std::collections::HashSet::with_capacity(s.vins.len());
        for v in &s.vins {
            if !seen.insert(*v) {
                return Err(EventError::DuplicateVin(*v));
            }
        }
        if let Some(user) = &self.actor.user {
            check_len("actor.user", user, limits::MAX_TEXT)?;
        }
        if !vocab_ok(&self.biz_step.0, CBV_BIZ_STEPS) {
            return Err(EventError::BadBizStep(truncate(&self.biz_step.0)));
        }
        if let Some(d) = &self.disposition
            && !vocab_ok(&d.0, CBV_DISPOSITIONS)
        {
            return Err(EventError::BadDisposition(truncate(&d.0)));
        }
        if let Some(p) = &self.position
            && !p.is_valid()
        {
            return Err(EventError::BadPosition {
                lat: p.lat,
                lon: p.lon,
            });
        }
        check_count(
            "extensions",
            self.extensions.len(),
            limits::MAX_EXTENSION_KEYS,
        )?;
        for key in self.extensions.keys() {
            let namespaced = key
                .split_once(':')
                .is_some_and(|(p, n)| !p.is_empty() && !n.is_empty());
            if !namespaced {
                return Err(EventError::UnnamespacedExtension(truncate(key)));
            }
            check_len("extension key", key, limits::MAX_TEXT)?;
        }
        if !self.extensions.is_empty() {
            let bytes = crate::canonical::to_string(
                &serde_json::to_value(&self.extensions).unwrap_or_default(),
            )
            .len();
            if bytes > limits::MAX_EXTENSION_BYTES {
                return Err(EventError::ExtensionsTooLarge {
                    bytes,
                    max: limits::MAX_EXTENSION_BYTES,
                });
            }
        }
        Ok(())
    }

    /// The canonical encoding of the event's content: what its hashes are computed over.
    pub fn canonical(&self) -> String {
        crate::canonical::to_string(&serde_json::to_value(self).unwrap_or_default())
    }

    /// SHA-256 of the canonical encoding, hex: equal exactly when two submissions say the same.
    pub fn content_hash(&self) -> String {
        crate::ledger::sha256_hex(self.canonical().as_bytes())
    }
}

fn check_count(field: &'static str, count: usize, max: usize) -> Result<(), EventError> {
    if count > max {
        return Err(EventError::TooMany { field, count, max });
    }
    Ok(())
}

fn check_len(field: &'static str, s: &str, max: usize) -> Result<(), EventError> {
    let len = s.chars().count();
    if len > max {
        return Err(EventError::TooLong { field, len, max });
    }
    Ok(())
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 7, 1, 2, 0, 0)
            .single()
            .expect("time")
    }

    fn ev() -> Event {
        let tz = FixedOffset::east_opt(8 * 3600).expect("offset");
        Event::lifecycle(
            Uuid::from_u128(1),
            Step::GateIn,
            now().with_timezone(&tz),
            vec![Vin::parse("LRW3E7FS5PC695355").expect("vin")],
            Actor {
                organisation: Ident::parse("guoyuan-port").expect("id"),
                user: None,
                device: None,
            },
        )
    }

    #[test]
    fn a_well_formed_event_passes() {
        assert_eq!(ev().validate(now()), Ok(()));
    }

    #[test]
    fn future_time_beyond_five_minutes_is_refused() {
        let mut e = ev();
        e.event_time = (now() + Duration::seconds(299)).fixed_offset();
        assert_eq!(e.validate(now()), Ok(()));
        e.event_time = (now() + Duration::seconds(301)).fixed_offset();
        let err = e.validate(now()).unwrap_err();
        assert!(matches!(err, EventError::FromTheFuture { .. }));
        assert!(err.to_string().contains("more than 300 seconds ahead"));
    }

    #[test]
    fn subjects_are_required_and_bounded() {
        let mut e = ev();
        e.subjects.vins.clear();
        assert_eq!(e.validate(now()), Err(EventError::StepWithoutVin));
        e.step = None;
        assert_eq!(e.validate(now()), Err(EventError::NoSubject));
        let mut e = ev();
        let v = e.subjects.vins[0];
        e.subjects.vins.push(v);
        assert_eq!(e.validate(now()), Err(EventError::DuplicateVin(v)));
        let mut e = ev();
        e.subjects.seals = (0..101)
            .map(|i| Ident::parse(&format!("s{i}")).expect("id"))
            .collect();
        assert!(matches!(
            e.validate(now()),
            Err(EventError::TooMany {
                field: "subjects.seals",
                count: 101,
                ..
            })
        ));
    }

    #[test]
    fn oversize_fields_are_refused() {
        let mut e = ev();
        e.actor.user = Some("x".repeat(257));
        assert!(matches!(
            e.validate(now()),
            Err(EventError::TooLong {
                field: "actor.user",
                len: 257,
                ..
            })
        ));
        let mut e = ev();
        e.extensions
            .insert("jh:note".into(), serde_json::json!("y".repeat(20_000)));
        assert!(matches!(
            e.validate(now()),
            Err(EventError::ExtensionsTooLarge { .. })
        ));
        let mut e = ev();
        e.extensions.insert("note".into(), serde_json::json!(1));
        assert_eq!(
            e.validate(now()),
            Err(EventError::UnnamespacedExtension("note".into()))
        );
    }

    #[test]
    fn vocabulary_is_cbv_or_a_foreign_uri() {
        let mut e = ev();
        e.biz_step = BizStep("urn:epcglobal:cbv:bizstep:shipping".into());
        assert!(matches!(e.validate(now()), Err(EventError::BadBizStep(_))));
        e.biz_step = BizStep("sealing".into());
        assert!(matches!(e.validate(now()), Err(EventError::BadBizStep(_))));
        e.biz_step = BizStep("https://example.com/bizstep/sealing".into());
        assert_eq!(e.validate(now()), Ok(()));
        e.disposition = Some(Disposition("teleported".into()));
        assert!(matches!(
            e.validate(now()),
            Err(EventError::BadDisposition(_))
        ));
        // Every step's own terms are valid.
        for step in Step::ALL {
            let (_, b, d) = step.epcis();
            assert!(vocab_ok(&b.0, CBV_BIZ_STEPS), "{step}");
            assert!(vocab_ok(&d.0, CBV_DISPOSITIONS), "{step}");
        }
    }

    #[test]
    fn bad_position_and_nil_id() {
        let mut e = ev();
        e.position = Some(Position {
            lat: 95.0,
            lon: 0.0,
        });
        assert!(matches!(
            e.validate(now()),
            Err(EventError::BadPosition { .. })
        ));
        let mut e = ev();
        e.event_id = Uuid::nil();
        assert_eq!(e.validate(now()), Err(EventError::NilId));
    }

    #[test]
    fn canonical_form_survives_a_round_trip_and_keeps_the_offset() {
        let e = ev();
        let back: Event = serde_json::from_str(&e.canonical()).expect("parses");
        assert_eq!(back, e);
        assert_eq!(back.event_time.offset().local_minus_utc(), 8 * 3600);
        assert_eq!(back.content_hash(), e.content_hash());
        let mut other = e.clone();
        other.biz_step = BizStep("inspecting".into());
        assert_ne!(other.content_hash(), e.content_hash());
    }

    #[test]
    fn unknown_members_are_refused() {
        let mut v: serde_json::Value = serde_json::from_str(&ev().canonical()).expect("json");
        v["surprise"] = serde_json::json!(1);
        assert!(serde_json::from_value::<Event>(v).is_err());
    }
}
