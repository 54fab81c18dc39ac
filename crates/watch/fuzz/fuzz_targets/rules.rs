//! A rule file from outside (TOML or JSON): parsing never panics; every refusal says where, on a
//! line that exists; every accepted set has valid combinations and an engine can be built from it.
#![no_main]

use jianghai_watch::{Detector, Engine, RuleSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines = text.lines().count().max(1);
    for parsed in [RuleSet::from_toml(text), RuleSet::from_json(text)] {
        match parsed {
            Err(e) => {
                assert!(!e.message.is_empty());
                if let Some(line) = e.line {
                    assert!(line >= 1 && line <= lines + 1, "line {line} of {lines}");
                }
            }
            Ok(set) => {
                for rule in set.rules() {
                    if let Detector::AllOf(members) = &rule.detector {
                        assert!(members.len() >= 1);
                        assert!(members.iter().all(|&m| m < set.rules().len()));
                    }
                }
                let _ = Engine::new(set);
            }
        }
    }
});
