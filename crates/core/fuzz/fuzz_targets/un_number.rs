//! A UN number from outside (a shipment's declared dangerous goods): parsing never panics, and
//! what parses prints back as the canonical `UN` and four digits, which parses to itself.
#![no_main]

use jianghai_core::UnNumber;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(un) = UnNumber::parse(text) else {
        return;
    };
    let printed = un.to_string();
    assert_eq!(printed.len(), 6);
    assert_eq!(UnNumber::parse(&printed), Ok(un));
});
