//! What the HTTP connectors share about reading changes: the watermark cursor, timestamps
//! in the APIs' formats, ids, and match comparison.
//!
//! # The watermark cursor
//!
//! The APIs filter by change time at a resolution of seconds (Chargebee) or milliseconds,
//! with `>` (Chargebee `updated_at[after]`, PowerOffice Go `…GreaterThan`) or `>=`
//! (WebCRM queries, the REST sandbox). Filtering strictly after the newest change seen
//! would lose a record changed in the same instant but listed later; filtering from it
//! would deliver the newest records again forever. So a scan filters from *just before*
//! the watermark `since` and skips what the previous scans delivered: records changed
//! before `since`, and those changed at `since` whose ids are in `seen`. A scan spans
//! pages (`pos` is the position within it: an offset, a page number, an API cursor) and
//! moves the watermark only when it is complete, because not every API lists in change
//! order. The cursor is JSON, opaque to the engine.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::connector::{ConnectorError, ErrorKind, Operation, Page, RemoteRecord};
use crate::flow::RecordId;
use crate::json_path;
use crate::memory::values_equal;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanCursor {
    /// Milliseconds since the epoch of the newest change delivered by complete scans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Ids of the records changed at `since` that were delivered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<String>,
    /// Where the scan in progress continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pos: Option<String>,
    /// The newest change the scan in progress delivered, and the ids changed then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub max_ids: Vec<String>,
}

impl ScanCursor {
    pub fn parse(system: &str, cursor: Option<&str>) -> Result<Self, ConnectorError> {
        match cursor {
            None => Ok(ScanCursor::default()),
            Some(text) => serde_json::from_str(text).map_err(|e| {
                ConnectorError::new(
                    ErrorKind::Permanent,
                    system,
                    Operation::Changes,
                    format!("cursor {text:?} was not written by this connector ({e}); reset the entity's cursor"),
                )
            }),
        }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether an earlier, complete scan delivered this change.
    pub fn already_seen(&self, changed_ms: i64, id: &str) -> bool {
        match self.since {
            None => false,
            Some(since) => {
                changed_ms < since || (changed_ms == since && self.seen.iter().any(|s| s == id))
            }
        }
    }

    /// Notes a change delivered by the scan in progress.
    pub fn observe(&mut self, changed_ms: i64, id: &str) {
        match self.max {
            Some(max) if max > changed_ms => {}
            Some(max) if max == changed_ms => {
                if !self.max_ids.iter().any(|s| s == id) {
                    self.max_ids.push(id.to_string());
                }
            }
            _ => {
                self.max = Some(changed_ms);
                self.max_ids = vec![id.to_string()];
            }
        }
    }

    /// Ends the scan in progress: the watermark moves to the newest change it delivered.
    pub fn finish(&mut self) {
        self.pos = None;
        let ids = std::mem::take(&mut self.max_ids);
        if let Some(max) = self.max.take() {
            if self.since == Some(max) {
                for id in ids {
                    if !self.seen.contains(&id) {
                        self.seen.push(id);
                    }
                }
            } else if self.since.is_none_or(|since| max > since) {
                self.since = Some(max);
                self.seen = ids;
            }
        }
    }

    /// Closes one page of a scan: the scan goes on at `next` when the API gave a new
    /// position, else it is finished (the watermark moves on). Either way the page carries
    /// the cursor to store.
    pub fn page(&mut self, records: Vec<RemoteRecord>, next: Option<String>) -> Page {
        let more = match next {
            Some(next) if self.pos.as_ref() != Some(&next) => {
                self.pos = Some(next);
                true
            }
            _ => {
                self.finish();
                false
            }
        };
        Page {
            records,
            cursor: Some(self.encode()),
            more,
        }
    }

    /// The watermark as a time, for the API's filter.
    pub fn since_time(&self) -> Option<DateTime<Utc>> {
        self.since
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
    }
}

/// A change time in the formats the APIs use: Unix seconds (Chargebee; milliseconds when
/// the number is too large for seconds), RFC 3339, or an ISO date-time without offset
/// (read as UTC, as WebCRM sends them).
pub fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if i.abs() >= 100_000_000_000 {
                    Utc.timestamp_millis_opt(i).single()
                } else {
                    Utc.timestamp_opt(i, 0).single()
                }
            } else {
                let f = n.as_f64()?;
                if !f.is_finite() {
                    return None;
                }
                let ms = (f * 1000.0).round();
                (ms.abs() < 9.0e15)
                    .then(|| Utc.timestamp_millis_opt(ms as i64).single())
                    .flatten()
            }
        }
        Value::String(s) => parse_time_str(s.trim()),
        _ => None,
    }
}

fn parse_time_str(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(Utc.from_utc_datetime(&t));
        }
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
    }
    s.parse::<i64>()
        .ok()
        .and_then(|i| parse_time(&Value::from(i)))
}

/// The first of `fields` that holds a time.
pub fn time_of(data: &Value, fields: &[&str]) -> Option<DateTime<Utc>> {
    fields
        .iter()
        .find_map(|f| data.get(*f).and_then(parse_time))
}

/// The text used for an id in cursors.
pub fn id_key(id: &RecordId) -> String {
    id.to_string()
}

/// An id from a JSON member: integers, or non-empty strings.
pub fn id_of(data: &Value, field: &str) -> Option<RecordId> {
    data.get(field).and_then(RecordId::from_json)
}

/// Whether `data`'s `property` (a dotted path) equals `value` by the match rules: strings
/// trimmed and case-insensitive, empty never matching; through arrays, any element.
pub fn matches(data: &Value, property: &str, value: &Value) -> bool {
    let found = json_path::lookup(data, property);
    if values_equal(&found, value) {
        return true;
    }
    match &found {
        Value::Array(items) => items.iter().any(|item| values_equal(item, value)),
        _ => false,
    }
}

/// A scalar as query text (`true`, `42`, `a@b.c`); `None` for null, arrays and objects.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A malformed-answer error (the body parsed, but not into the documented shape).
pub fn malformed(system: &str, operation: Operation, what: impl Into<String>) -> ConnectorError {
    ConnectorError::new(
        ErrorKind::Transient { retry_after: None },
        system,
        operation,
        format!("unexpected response: {}", what.into()),
    )
}

/// The `updated_at` of a record whose change time is missing: the epoch, so that any
/// dated change on the other side wins a conflict against it.
pub fn undated() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn watermark_skips_what_earlier_scans_delivered() {
        let mut c = ScanCursor::default();
        assert!(!c.already_seen(5, "a"));
        c.observe(5, "a");
        c.observe(7, "b");
        c.observe(7, "c");
        c.observe(6, "d");
        c.pos = Some("2".into());
        let mid = ScanCursor::parse("s", Some(&c.encode())).expect("parse");
        assert_eq!(mid, c);
        c.finish();
        assert_eq!(
            (c.since, c.seen.clone(), c.pos.clone()),
            (Some(7), vec!["b".to_string(), "c".to_string()], None)
        );
        assert!(c.already_seen(6, "z"));
        assert!(c.already_seen(7, "b"));
        assert!(
            !c.already_seen(7, "e"),
            "a record changed in the same instant but not yet seen"
        );
        assert!(!c.already_seen(8, "b"));
        c.observe(7, "e");
        c.finish();
        assert_eq!(
            c.seen,
            vec!["b".to_string(), "c".to_string(), "e".to_string()]
        );
        c.finish();
        assert_eq!(c.since, Some(7), "an empty scan keeps the watermark");
    }

    #[test]
    fn foreign_cursors_are_permanent_errors() {
        let error = ScanCursor::parse("cb", Some("17")).expect_err("not ours");
        assert_eq!(error.kind, ErrorKind::Permanent);
        assert!(ScanCursor::parse("cb", Some("{\"bogus\":1}")).is_err());
    }

    #[test]
    fn times_in_api_formats() {
        let t = |v: Value| parse_time(&v).map(|t| t.timestamp_millis());
        assert_eq!(t(json!(1_700_000_000)), Some(1_700_000_000_000));
        assert_eq!(t(json!(1_700_000_000_123i64)), Some(1_700_000_000_123));
        assert_eq!(t(json!(1_700_000_000.5)), Some(1_700_000_000_500));
        assert_eq!(t(json!("2023-11-14T22:13:20Z")), Some(1_700_000_000_000));
        assert_eq!(
            t(json!("2023-11-14T23:13:20.250+01:00")),
            Some(1_700_000_000_250)
        );
        assert_eq!(t(json!("2023-11-14T22:13:20")), Some(1_700_000_000_000));
        assert_eq!(t(json!("2023-11-14 22:13:20.5")), Some(1_700_000_000_500));
        assert_eq!(t(json!("2023-11-14")), Some(1_699_920_000_000));
        assert_eq!(t(json!("yesterday")), None);
        assert_eq!(t(json!(null)), None);
    }

    #[test]
    fn matching_follows_match_rules() {
        let data = json!({"email": " A@B.no ", "lines": [{"sku": "x"}, {"sku": "y"}], "n": 4});
        assert!(matches(&data, "email", &json!("a@b.no")));
        assert!(matches(&data, "lines.sku", &json!("y")));
        assert!(matches(&data, "n", &json!(4)));
        assert!(!matches(&data, "missing", &json!(null)));
        assert!(!matches(&data, "email", &json!("")));
    }

    proptest::proptest! {
        #[test]
        fn cursor_round_trips(since in proptest::option::of(0i64..1<<40), seen in proptest::collection::vec("[a-z0-9_\"\\\\]{1,8}", 0..4), pos in proptest::option::of(".{0,12}")) {
            let c = ScanCursor { since, seen, pos, max: None, max_ids: Vec::new() };
            proptest::prop_assert_eq!(ScanCursor::parse("s", Some(&c.encode())).expect("parse"), c);
        }
    }
}
