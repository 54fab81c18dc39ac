//! A sensor reading as JSON from outside: parsing and validation never panic, and any reading
//! that is accepted is finite, within its measurement type's limits, in a unit that fits it, and
//! survives its wire form (reading -> input -> reading gives the same reading, to rounding).
#![no_main]

use jianghai_core::reading::{Reading, ReadingInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<ReadingInput>(data) else { return };
    let now = chrono::DateTime::from_timestamp(1_750_000_000, 0).expect("time");
    let Ok(reading) = input.validate(now) else { return };
    let (lo, hi) = reading.measurement.limits();
    assert!(reading.value.is_finite() && reading.value >= lo && reading.value <= hi);
    assert!(reading.unit.fits(reading.measurement));
    let again: Reading = ReadingInput::from(&reading).validate(now).expect("wire form re-validates");
    assert_eq!(again.unit, reading.unit);
    assert_eq!(again.time, reading.time);
    assert!((again.value - reading.value).abs() <= 1e-9 * reading.value.abs().max(1.0));
    let json = serde_json::to_string(&ReadingInput::from(&reading)).expect("serialises");
    assert!(serde_json::from_str::<ReadingInput>(&json).is_ok());
});
