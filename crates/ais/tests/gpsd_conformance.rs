//! Conformance against gpsd's AIS regression corpus: `test/sample.aivdm`
//! decoded by us must match `test/sample.aivdm.js.chk` (`gpsdecode -j`)
//! field by field, for every message type this crate decodes.
//!
//! The corpus is gpsd's and is never committed here. Fetch it with
//! `crates/ais/conformance/fetch-gpsd-corpus.sh` and point
//! `JIANGHAI_GPSD_CORPUS` at the directory it prints:
//!
//! ```text
//! JIANGHAI_GPSD_CORPUS=$(crates/ais/conformance/fetch-gpsd-corpus.sh) \
//!   cargo test -p jianghai-ais --test gpsd_conformance -- --nocapture
//! ```
//!
//! Without the variable the test reports that it was skipped; CI should
//! run the fetch script and set the variable.

use std::path::PathBuf;

use jianghai_ais::gpsd::decode_lines;
use jianghai_ais::{DecodeError, DecoderError};
use serde_json::Value;

/// Types this crate decodes.
const SUPPORTED: [u64; 11] = [1, 2, 3, 4, 5, 11, 18, 19, 21, 24, 27];

/// Known, explained differences: (type, mmsi, field). Empty: with gpsd
/// 3.22's corpus every field matches. Anything not listed fails the test.
const KNOWN: &[(u64, u64, &str)] = &[];

fn key(v: &Value) -> (u64, u64) {
    (
        v["type"].as_u64().unwrap_or(0),
        v["mmsi"].as_u64().unwrap_or(0),
    )
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Fields whose values differ or that only one side has.
fn diff(expected: &Value, ours: &Value) -> Vec<String> {
    let (Some(e), Some(o)) = (expected.as_object(), ours.as_object()) else {
        return vec!["not an object".into()];
    };
    let mut out = Vec::new();
    for (k, ev) in e {
        match o.get(k) {
            None => out.push(format!("{k}: missing (gpsd {ev})")),
            Some(ov) if !same(ev, ov) => out.push(format!("{k}: gpsd {ev}, ours {ov}")),
            Some(_) => {}
        }
    }
    for k in o.keys().filter(|k| !e.contains_key(*k)) {
        out.push(format!("{k}: extra (ours {})", o[k]));
    }
    out
}

#[test]
fn matches_gpsd_sample_aivdm_field_by_field() {
    let Some(dir) = std::env::var_os("JIANGHAI_GPSD_CORPUS").map(PathBuf::from) else {
        eprintln!(
            "skipped: JIANGHAI_GPSD_CORPUS not set (crates/ais/conformance/fetch-gpsd-corpus.sh)"
        );
        return;
    };
    let input = std::fs::read_to_string(dir.join("sample.aivdm")).expect("read sample.aivdm");
    let chk = std::fs::read_to_string(dir.join("sample.aivdm.js.chk")).expect("read js.chk");

    let expected: Vec<Value> = chk
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("gpsd line is JSON"))
        .collect();
    let mut ours = Vec::new();
    let mut errors = Vec::new();
    for item in decode_lines(input.lines()).device("stdin") {
        match item {
            Ok(s) => ours.push(serde_json::from_str::<Value>(&s).expect("our output is JSON")),
            Err(e) => errors.push(e),
        }
    }

    let wanted: Vec<&Value> = expected
        .iter()
        .filter(|v| SUPPORTED.contains(&key(v).0))
        .collect();
    let mut cursor = 0;
    let (mut pass, mut fail, mut missing) = (0usize, 0usize, 0usize);
    let mut unexplained = Vec::new();
    let mut extras = Vec::new();
    for e in &wanted {
        let k = key(e);
        let found = ours
            .iter()
            .enumerate()
            .skip(cursor)
            .take(8)
            .find(|(_, o)| key(o) == k)
            .map(|(i, _)| i);
        let Some(i) = found else {
            missing += 1;
            unexplained.push(format!("missing: gpsd {e}"));
            continue;
        };
        extras.extend(ours[cursor..i].iter().map(|o| o.to_string()));
        cursor = i + 1;
        let d = diff(e, &ours[i]);
        if d.is_empty() {
            pass += 1;
        } else {
            fail += 1;
            for f in d {
                let field = f.split(':').next().unwrap_or("");
                let known = KNOWN.iter().any(|(t, m, n)| (*t, *m) == k && *n == field);
                let line = format!("type {} mmsi {}: {f}", k.0, k.1);
                eprintln!("{}{line}", if known { "known  " } else { "DIFF   " });
                if !known {
                    unexplained.push(line);
                }
            }
        }
    }
    extras.extend(ours[cursor..].iter().map(|o| o.to_string()));
    let total = wanted.len();
    eprintln!(
        "gpsd conformance: {pass}/{total} messages of supported types match field by field \
         ({:.1} %); {fail} differ, {missing} missing; {} extra objects from us; {} lines \
         rejected (all types)",
        100.0 * pass as f64 / total.max(1) as f64,
        extras.len(),
        errors.len()
    );
    for x in &extras {
        eprintln!("extra  {x}");
    }
    // Rejected lines are types we do not decode, or lines gpsd also turns
    // into nothing (a supported message gpsd printed and we rejected shows
    // up as "missing" above).
    for e in &errors {
        let unsupported = matches!(
            e.error,
            DecoderError::Decode(DecodeError::Unsupported(t)) if !SUPPORTED.contains(&u64::from(t))
        );
        if !unsupported {
            eprintln!("rejected (gpsd prints nothing either): {e}");
        }
    }
    // Extras are type 24 part B without a part A before it; gpsdecode
    // prints those only with --split24.
    for x in &extras {
        let v: Value = serde_json::from_str(x).unwrap_or_default();
        if !(key(&v).0 == 24 && v["part"] == "B") {
            unexplained.push(format!("extra: {x}"));
        }
    }
    assert!(
        total > 20,
        "corpus looks truncated: {total} supported messages"
    );
    assert!(
        unexplained.is_empty(),
        "unexplained differences:\n{}",
        unexplained.join("\n")
    );
}
