//! Canonical JSON: the byte string hashes are computed over.
//!
//! Object members sorted by key (byte order), no insignificant whitespace, strings escaped the
//! way serde_json escapes them, numbers in serde_json's shortest round-trip form. Sorting is
//! done here rather than relying on `serde_json::Map`'s order, which a `preserve_order`
//! feature anywhere in the build would change.

use serde_json::Value;

/// Writes `v` canonically.
pub fn to_string(v: &Value) -> String {
    let mut out = String::with_capacity(256);
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            // Serialising a scalar Value cannot fail.
            out.push_str(&serde_json::to_string(v).unwrap_or_default());
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(':');
                if let Some(val) = map.get(k) {
                    write(val, out);
                }
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_strips_whitespace() {
        let v = json!({"b": 1, "a": {"d": [1, 2.5, "x"], "c": null}, "é": "\"q\""});
        assert_eq!(
            to_string(&v),
            r#"{"a":{"c":null,"d":[1,2.5,"x"]},"b":1,"é":"\"q\""}"#
        );
    }

    #[test]
    fn reparsing_canonical_output_is_a_fixed_point() {
        let v = json!({"z": [{"y": 1, "x": 2}], "m": "s\n"});
        let once = to_string(&v);
        let again = to_string(&serde_json::from_str(&once).expect("valid json"));
        assert_eq!(once, again);
    }
}
