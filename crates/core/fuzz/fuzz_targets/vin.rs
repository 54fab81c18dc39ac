//! `Vin::parse` on arbitrary text: never panics, and whatever it accepts is a normalised,
//! 17-character VIN with a correct check digit that parses back to itself.
#![no_main]

use jianghai_core::{Vin, vin::check_digit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(vin) = Vin::parse(s) {
        let text = vin.as_str();
        assert_eq!(text.len(), 17);
        assert!(text.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        assert!(!text.contains(['I', 'O', 'Q']));
        let bytes: [u8; 17] = text.as_bytes().try_into().expect("17 bytes");
        assert_eq!(check_digit(&bytes), Some(bytes[8]));
        assert_eq!(Vin::parse(text), Ok(vin));
        assert_eq!(s.trim().to_ascii_uppercase(), text);
    }
});
