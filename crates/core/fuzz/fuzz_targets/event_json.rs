//! An event as JSON from outside: parsing and validation never panic, and any event that parses
//! has a canonical form that is a fixed point (parse(canonical) == event, same content hash).
#![no_main]

use jianghai_core::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Event>(data) else { return };
    let now = chrono::DateTime::from_timestamp(1_750_000_000, 0).expect("time");
    let _ = event.validate(now);
    let canonical = event.canonical();
    let again: Event = serde_json::from_str(&canonical).expect("canonical form parses");
    assert_eq!(again.canonical(), canonical);
    assert_eq!(again.content_hash(), event.content_hash());
    let _ = jianghai_core::epcis::object_event(&event, None);
});
