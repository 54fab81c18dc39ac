//! Invariants of the reconciliation, whatever the identifications.

use std::collections::HashMap;

use jianghai_core::Vin;
use jianghai_tally::{Expected, Identification, Outcome, Rules, Source, reconcile};
use proptest::prelude::*;

fn vin(i: u32) -> Vin {
    Vin::with_check_digit(&format!("LS5A3DKE0SC{i:06}")).expect("vin")
}

#[derive(Debug, Clone)]
enum Read {
    Good(u32),
    BadCheck(u32),
    LowConfidence(u32),
    For(u32, u32),
}

fn read() -> impl Strategy<Value = Read> {
    prop_oneof![
        4 => (0u32..15).prop_map(Read::Good),
        1 => (0u32..15).prop_map(Read::BadCheck),
        1 => (0u32..15).prop_map(Read::LowConfidence),
        1 => (0u32..15, 1u32..12).prop_map(|(v, l)| Read::For(v, l)),
    ]
}

fn identification(r: &Read) -> Identification {
    match r {
        Read::Good(i) => Identification::new(vin(*i).as_str(), Source::Scanner, None, None),
        Read::BadCheck(i) => {
            let v = vin(*i).to_string();
            let wrong = if &v[8..9] == "3" { "4" } else { "3" };
            Identification::new(
                &format!("{}{wrong}{}", &v[..8], &v[9..]),
                Source::Typed,
                None,
                None,
            )
        }
        Read::LowConfidence(i) => {
            Identification::new(vin(*i).as_str(), Source::External, Some(0.4), None)
        }
        Read::For(i, l) => Identification::new(vin(*i).as_str(), Source::Image, None, Some(*l)),
    }
}

proptest! {
    #[test]
    fn each_expected_line_has_one_result_and_only_trusted_reads_match(
        n in 0u32..12,
        reads in proptest::collection::vec(read(), 0..40),
    ) {
        let expected: Vec<Expected> = (1..=n).map(|l| Expected { line: l, vin: vin(l) }).collect();
        let ids: Vec<Identification> = reads.iter().map(identification).collect();
        let r = reconcile(&expected, &ids, &HashMap::new(), &Rules::default());
        // The first n lines are the expected ones, in order, each once.
        for (i, e) in expected.iter().enumerate() {
            let l = &r.lines[i];
            prop_assert_eq!(l.line, Some(e.line));
            prop_assert!(matches!(l.outcome, Outcome::Matched | Outcome::Missing | Outcome::Mismatched));
        }
        // Every identification is used at most once; lines beyond the expected ones each
        // stand for one identification.
        let mut used: Vec<usize> = r.lines.iter().filter_map(|l| l.identification).collect();
        let total = used.len();
        used.sort();
        used.dedup();
        prop_assert_eq!(used.len(), total);
        prop_assert!(r.lines.len() <= expected.len() + ids.len());
        // A matched VIN was read by a trusted identification of exactly that VIN.
        for v in r.matched() {
            prop_assert!(reads.iter().any(|rd| matches!(rd, Read::Good(i) | Read::For(i, _) if vin(*i) == v)));
        }
        // Untrusted reads are never anything but unconfirmed.
        for l in &r.lines {
            if let Some(i) = l.identification
                && matches!(reads[i], Read::BadCheck(_) | Read::LowConfidence(_))
            {
                prop_assert_eq!(l.outcome, Outcome::Unconfirmed);
            }
        }
    }
}
