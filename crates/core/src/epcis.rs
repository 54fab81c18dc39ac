//! Rendering an [`Event`] as a GS1 EPCIS 2.0 `ObjectEvent` (JSON-LD binding).
//!
//! The mapping is one-to-one: every field of the event lands in exactly one EPCIS member, and
//! the platform's own fields travel as `jh:`-prefixed extensions declared in `@context`.
//! Identifiers become URIs under [`URI_BASE`](crate::event::URI_BASE), since GS1 has no key
//! for a VIN.

use serde_json::{Map, Value, json};

use crate::event::{Action, Event, URI_BASE};

/// The EPCIS 2.0 JSON-LD context plus the platform's extension namespace.
pub fn context() -> Value {
    json!([
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        { "jh": format!("{URI_BASE}/voc/") }
    ])
}

/// URI of a VIN.
pub fn vin_uri(vin: &str) -> String {
    format!("{URI_BASE}/id/vin/{vin}")
}

/// URI of any other identified thing (`kind` is `facility`, `seal`, `voyage`, `org`, `device`).
pub fn id_uri(kind: &str, id: &str) -> String {
    format!("{URI_BASE}/id/{kind}/{id}")
}

/// The event as a standalone EPCIS `ObjectEvent`. `record_time` is the ledger's, if recorded.
pub fn object_event(e: &Event, record_time: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("@context".into(), context());
    m.insert("type".into(), json!("ObjectEvent"));
    m.insert("eventID".into(), json!(format!("urn:uuid:{}", e.event_id)));
    m.insert(
        "action".into(),
        json!(match e.action {
            Action::Add => "ADD",
            Action::Observe => "OBSERVE",
            Action::Delete => "DELETE",
        }),
    );
    m.insert("eventTime".into(), json!(e.event_time.to_rfc3339()));
    m.insert(
        "eventTimeZoneOffset".into(),
        json!(e.event_time.offset().to_string()),
    );
    if let Some(rt) = record_time {
        m.insert("recordTime".into(), json!(rt));
    }
    let mut epcs: Vec<Value> = e
        .subjects
        .vins
        .iter()
        .map(|v| json!(vin_uri(v.as_str())))
        .collect();
    epcs.extend(
        e.subjects
            .seals
            .iter()
            .map(|s| json!(id_uri("seal", s.as_str()))),
    );
    m.insert("epcList".into(), Value::Array(epcs));
    m.insert("bizStep".into(), json!(e.biz_step.0));
    if let Some(d) = &e.disposition {
        m.insert("disposition".into(), json!(d.0));
    }
    if let Some(rp) = &e.read_point {
        m.insert(
            "readPoint".into(),
            json!({ "id": id_uri("facility", rp.as_str()) }),
        );
    }
    if let Some(bl) = &e.biz_location {
        m.insert(
            "bizLocation".into(),
            json!({ "id": id_uri("facility", bl.as_str()) }),
        );
    }
    if let Some(p) = &e.position {
        m.insert(
            "jh:position".into(),
            json!(format!("geo:{},{}", p.lat, p.lon)),
        );
    }
    if let Some(v) = &e.subjects.voyage {
        m.insert("jh:voyage".into(), json!(id_uri("voyage", v.as_str())));
    }
    if let Some(step) = e.step {
        m.insert("jh:lifecycleStep".into(), json!(step.as_str()));
    }
    let mut actor = Map::new();
    actor.insert(
        "jh:organisation".into(),
        json!(id_uri("org", e.actor.organisation.as_str())),
    );
    if let Some(u) = &e.actor.user {
        actor.insert("jh:user".into(), json!(u));
    }
    if let Some(d) = &e.actor.device {
        actor.insert("jh:device".into(), json!(id_uri("device", d.as_str())));
    }
    m.insert("jh:actor".into(), Value::Object(actor));
    for (k, v) in &e.extensions {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, Ident, Step, Vin};
    use chrono::{FixedOffset, TimeZone};

    #[test]
    fn a_loading_event_has_the_required_epcis_members() {
        let tz = FixedOffset::east_opt(8 * 3600).expect("offset");
        let mut e = Event::lifecycle(
            uuid::Uuid::from_u128(7),
            Step::Load,
            tz.with_ymd_and_hms(2025, 7, 1, 10, 30, 0)
                .single()
                .expect("time"),
            vec![Vin::parse("LRW3E7FS5PC695355").expect("vin")],
            Actor {
                organisation: Ident::parse("guoyuan-port").expect("id"),
                user: Some("tally-clerk-3".into()),
                device: None,
            },
        );
        e.read_point = Some(Ident::parse("guoyuan-ro-ro-berth").expect("id"));
        let v = object_event(&e, Some("2025-07-01T02:30:01.000000Z"));
        assert_eq!(v["type"], "ObjectEvent");
        assert_eq!(v["action"], "OBSERVE");
        assert_eq!(v["eventTime"], "2025-07-01T10:30:00+08:00");
        assert_eq!(v["eventTimeZoneOffset"], "+08:00");
        assert_eq!(v["bizStep"], "loading");
        assert_eq!(v["disposition"], "in_progress");
        assert_eq!(
            v["epcList"][0],
            "https://jianghai.dev/id/vin/LRW3E7FS5PC695355"
        );
        assert_eq!(
            v["readPoint"]["id"],
            "https://jianghai.dev/id/facility/guoyuan-ro-ro-berth"
        );
        assert_eq!(v["jh:lifecycleStep"], "load");
        assert_eq!(
            v["eventID"],
            "urn:uuid:00000000-0000-0000-0000-000000000007"
        );
        // Every non-EPCIS member is namespaced.
        let standard = [
            "@context",
            "type",
            "eventID",
            "action",
            "eventTime",
            "eventTimeZoneOffset",
            "recordTime",
            "epcList",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
        ];
        for k in v.as_object().expect("object").keys() {
            assert!(
                standard.contains(&k.as_str()) || k.starts_with("jh:"),
                "{k}"
            );
        }
    }
}
