//! The hash of a side's mapped values: SHA-256 over a canonical JSON form (object keys
//! sorted), so that equal values hash equally whatever order a system sends keys in.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The hash of `value`, as 32 hex digits (the first 128 bits of SHA-256).
pub fn hash(value: &Value) -> String {
    let mut hasher = Sha256::new();
    feed(&mut hasher, value);
    let digest = hasher.finalize();
    let mut out = String::with_capacity(32);
    for byte in digest.iter().take(16) {
        out.push(hex(byte >> 4));
        out.push(hex(byte & 0x0f));
    }
    out
}

fn hex(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

fn feed(hasher: &mut Sha256, value: &Value) {
    match value {
        Value::Null => hasher.update(b"n"),
        Value::Bool(true) => hasher.update(b"t"),
        Value::Bool(false) => hasher.update(b"f"),
        Value::Number(n) => {
            hasher.update(b"#");
            hasher.update(n.to_string().as_bytes());
            hasher.update(b";");
        }
        Value::String(s) => {
            hasher.update(b"s");
            hasher.update((s.len() as u64).to_le_bytes());
            hasher.update(s.as_bytes());
        }
        Value::Array(items) => {
            hasher.update(b"[");
            hasher.update((items.len() as u64).to_le_bytes());
            for item in items {
                feed(hasher, item);
            }
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            hasher.update(b"{");
            hasher.update((keys.len() as u64).to_le_bytes());
            for key in keys {
                hasher.update((key.len() as u64).to_le_bytes());
                hasher.update(key.as_bytes());
                if let Some(v) = map.get(key) {
                    feed(hasher, v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter_values_do() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":{"x":"y","z":null}}"#).expect("json");
        let b: Value = serde_json::from_str(r#"{"b":{"z":null,"x":"y"},"a":1}"#).expect("json");
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(hash(&json!({"a": 1})), hash(&json!({"a": "1"})));
        assert_ne!(hash(&json!(["ab", "c"])), hash(&json!(["a", "bc"])));
        assert_eq!(hash(&json!(null)).len(), 32);
    }

    proptest! {
        #[test]
        fn different_strings_hash_differently(a in ".{0,20}", b in ".{0,20}") {
            prop_assume!(a != b);
            prop_assert_ne!(hash(&json!({"k": a})), hash(&json!({"k": b})));
        }
    }
}
