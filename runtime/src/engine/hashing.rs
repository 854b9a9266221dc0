//! The hash of a side's mapped values: SHA-256 over a canonical JSON form (object keys
//! sorted, integral numbers written as integers), so that equal values hash equally
//! whatever order a system sends keys in and whether it writes `3` or `3.0`.

use std::io::Write as _;

use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use crate::json_path::Projection;

/// The hash of `value`, as 32 hex digits (the first 128 bits of SHA-256).
pub fn hash(value: &Value) -> String {
    let mut hasher = Sha256::new();
    feed(&mut hasher, value);
    finish(hasher)
}

/// `hash(&projection.project(value))`, without building the projected value.
pub fn hash_projected(projection: &Projection, value: &Value) -> String {
    let mut hasher = Sha256::new();
    if projection.is_empty() {
        feed_object(&mut hasher, &Map::new());
    } else {
        feed_projected(&mut hasher, projection, value);
    }
    finish(hasher)
}

/// The hash of byte strings (each prefixed by its length), for keys.
pub fn hash_parts(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    finish(hasher)
}

fn finish(hasher: Sha256) -> String {
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

/// Feeds a number in its canonical text: integers as such, floats with an integral value
/// that fits an `i64`/`u64` as that integer (`3.0` is `3`), other floats as serde_json
/// writes them.
fn feed_number(hasher: &mut Sha256, n: &Number) {
    hasher.update(b"#");
    // Writing to a hasher cannot fail.
    let _ = if let Some(i) = n.as_i64() {
        write!(hasher, "{i}")
    } else if let Some(u) = n.as_u64() {
        write!(hasher, "{u}")
    } else {
        match n.as_f64() {
            // The bounds are exact powers of two: the range check is exact.
            Some(f)
                if f.fract() == 0.0
                    && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) =>
            {
                write!(hasher, "{}", f as i64)
            }
            Some(f) if f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&f) => {
                write!(hasher, "{}", f as u64)
            }
            _ => write!(hasher, "{n}"),
        }
    };
    hasher.update(b";");
}

fn feed_str(hasher: &mut Sha256, s: &str) {
    hasher.update((s.len() as u64).to_le_bytes());
    hasher.update(s.as_bytes());
}

fn feed(hasher: &mut Sha256, value: &Value) {
    match value {
        Value::Null => hasher.update(b"n"),
        Value::Bool(true) => hasher.update(b"t"),
        Value::Bool(false) => hasher.update(b"f"),
        Value::Number(n) => feed_number(hasher, n),
        Value::String(s) => {
            hasher.update(b"s");
            feed_str(hasher, s);
        }
        Value::Array(items) => {
            hasher.update(b"[");
            hasher.update((items.len() as u64).to_le_bytes());
            for item in items {
                feed(hasher, item);
            }
        }
        Value::Object(map) => feed_object(hasher, map),
    }
}

fn feed_object(hasher: &mut Sha256, map: &Map<String, Value>) {
    hasher.update(b"{");
    hasher.update((map.len() as u64).to_le_bytes());
    // serde_json's map iterates in key order unless its `preserve_order` feature is on.
    let sorted = map
        .keys()
        .zip(map.keys().skip(1))
        .all(|(a, b)| a.as_str() < b.as_str());
    if sorted {
        for (key, v) in map {
            feed_str(hasher, key);
            feed(hasher, v);
        }
    } else {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (key, v) in entries {
            feed_str(hasher, key);
            feed(hasher, v);
        }
    }
}

/// Feeds what `Projection::project_node` would build (a non-leaf node).
fn feed_projected(hasher: &mut Sha256, projection: &Projection, value: &Value) {
    if projection.is_empty() {
        feed(hasher, value);
        return;
    }
    match value {
        Value::Array(items) => {
            hasher.update(b"[");
            hasher.update((items.len() as u64).to_le_bytes());
            for item in items {
                feed_projected(hasher, projection, item);
            }
        }
        Value::Object(map) => {
            hasher.update(b"{");
            hasher.update((projection.len() as u64).to_le_bytes());
            // The children are sorted by name, as the projected object's keys would be.
            for (name, child) in projection.children() {
                feed_str(hasher, name);
                match map.get(name) {
                    Some(inner) => feed_projected(hasher, child, inner),
                    None => hasher.update(b"n"),
                }
            }
        }
        _ => {
            hasher.update(b"{");
            hasher.update((projection.len() as u64).to_le_bytes());
            for (name, _) in projection.children() {
                feed_str(hasher, name);
                hasher.update(b"n");
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

    #[test]
    fn integral_floats_hash_like_integers() {
        assert_eq!(hash(&json!({"n": 3.0})), hash(&json!({"n": 3})));
        assert_eq!(hash(&json!([-2.0, 0.0])), hash(&json!([-2, 0])));
        assert_eq!(hash(&json!(-0.0)), hash(&json!(0)));
        assert_eq!(hash(&json!(1e15)), hash(&json!(1_000_000_000_000_000u64)));
        assert_eq!(
            hash(&json!(1.6e19)),
            hash(&json!(16_000_000_000_000_000_000u64))
        );
        assert_ne!(hash(&json!(3.5)), hash(&json!(3)));
        assert_ne!(hash(&json!(3.0)), hash(&json!("3")));
        assert_ne!(hash(&json!(1e300)), hash(&json!(1e299)));
    }

    #[test]
    fn hashes_are_stable_across_versions() {
        // Hashes are stored in links: the canonical form must not drift between releases
        // (this is the value of the form before integral floats were canonicalized).
        assert_eq!(
            hash(&json!({"EmailAddress": "a@b.no", "n": 3, "x": null, "l": [true, 1.5]})),
            STABLE
        );
    }

    const STABLE: &str = "a64139f0fc394a92b3a0aec7f5e913d7";

    proptest! {
        #[test]
        fn different_strings_hash_differently(a in ".{0,20}", b in ".{0,20}") {
            prop_assume!(a != b);
            prop_assert_ne!(hash(&json!({"k": a})), hash(&json!({"k": b})));
        }

        #[test]
        fn hash_projected_is_the_hash_of_the_projection(
            email in proptest::option::of(".{0,8}"),
            city in proptest::option::of(0i64..5),
            lines in proptest::collection::vec(proptest::option::of(0u8..3), 0..3),
            flat in any::<bool>(),
        ) {
            let p = Projection::new(["email", "addr.city", "lines.price", "addr.zip"]);
            let mut v = json!({"other": 1});
            if let Some(e) = email { v["email"] = json!(e); }
            if let Some(c) = city { v["addr"] = if flat { json!(c) } else { json!({"city": c, "street": "s"}) }; }
            v["lines"] = Value::Array(lines.into_iter().map(|l| match l {
                Some(n) => json!({"price": n, "sku": "x"}),
                None => json!(7),
            }).collect());
            prop_assert_eq!(hash_projected(&p, &v), hash(&p.project(&v)));
            let empty = Projection::new([]);
            prop_assert_eq!(hash_projected(&empty, &v), hash(&empty.project(&v)));
        }
    }
}
