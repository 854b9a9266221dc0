//! The in-memory tables: rows in creation order with ids, change times and counters.
//! Every write goes through here so ids, timestamps and references stay consistent.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::error::Fail;
use crate::rng::SplitMix64;
use crate::schema::{IdKind, Stamp, TableDef, TableId, fill_nulls, key_of, references};

#[derive(Clone, Debug)]
pub(crate) struct Row {
    /// Creation ordinal across the store: the stable order of listings.
    pub seq: u64,
    pub key: String,
    pub updated_ms: i64,
    pub deleted: bool,
    pub data: Map<String, Value>,
}

#[derive(Debug)]
pub(crate) struct Table {
    rows: Vec<Row>,
    index: HashMap<String, usize>,
    /// Per field filtered on by equality (as an API's list filter would use a database
    /// index): row positions by the field's text, lower case. Built on the first filter on
    /// the field, kept up to date by every write after.
    by_value: HashMap<&'static str, HashMap<String, Vec<usize>>>,
    /// Per integer field asked for, the largest value it ever held (numbers handed out
    /// are not reused), kept up to date by every write after the first question.
    maxima: HashMap<&'static str, Option<i64>>,
    next_int: i64,
    pub creates: u64,
    pub updates: u64,
    pub deletes: u64,
}

impl Table {
    fn new(def: &'static TableDef) -> Self {
        Table {
            rows: Vec::new(),
            index: HashMap::new(),
            by_value: HashMap::new(),
            maxima: HashMap::new(),
            next_int: def.id_start,
            creates: 0,
            updates: 0,
            deletes: 0,
        }
    }

    /// Every row, deleted ones included, in creation order.
    pub(crate) fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// Live rows in creation order.
    pub(crate) fn live(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| !r.deleted)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Row> {
        self.index.get(key).and_then(|&i| self.rows.get(i))
    }

    pub(crate) fn get_live(&self, key: &str) -> Option<&Row> {
        self.get(key).filter(|r| !r.deleted)
    }

    /// How many rows (deleted ones included) have the text `value` at `field`: what
    /// [`Table::live_where`] would go through.
    pub(crate) fn count_where(&mut self, field: &'static str, value: &str) -> usize {
        self.build_index(field);
        self.by_value
            .get(field)
            .and_then(|index| index.get(&value.to_lowercase()))
            .map_or(0, Vec::len)
    }

    fn build_index(&mut self, field: &'static str) {
        if !self.by_value.contains_key(field) {
            let mut index: HashMap<String, Vec<usize>> = HashMap::new();
            for (pos, row) in self.rows.iter().enumerate() {
                if let Some(key) = row.data.get(field).and_then(value_key) {
                    index.entry(key).or_default().push(pos);
                }
            }
            self.by_value.insert(field, index);
        }
    }

    /// Live rows whose `field` has the text `value` (compared case-insensitively), in
    /// creation order.
    pub(crate) fn live_where(&mut self, field: &'static str, value: &str) -> Vec<&Row> {
        self.build_index(field);
        let positions = self
            .by_value
            .get(field)
            .and_then(|index| index.get(&value.to_lowercase()))
            .cloned()
            .unwrap_or_default();
        positions
            .into_iter()
            .filter_map(|pos| self.rows.get(pos))
            .filter(|row| {
                !row.deleted
                    && row
                        .data
                        .get(field)
                        .and_then(value_key)
                        .is_some_and(|k| k == value.to_lowercase())
            })
            .collect()
    }

    /// The largest integer `field` ever held (`None`: never one).
    pub(crate) fn max_int(&mut self, field: &'static str) -> Option<i64> {
        let rows = &self.rows;
        *self.maxima.entry(field).or_insert_with(|| {
            rows.iter()
                .filter_map(|r| r.data.get(field).and_then(Value::as_i64))
                .max()
        })
    }

    /// Keeps the value indexes right after row `pos` changed from `old` to its data now.
    fn reindex(&mut self, pos: usize, old: Option<&Map<String, Value>>) {
        let Some(row) = self.rows.get(pos) else {
            return;
        };
        for (field, max) in &mut self.maxima {
            if let Some(n) = row.data.get(*field).and_then(Value::as_i64) {
                *max = Some(max.map_or(n, |m| m.max(n)));
            }
        }
        for (field, index) in &mut self.by_value {
            let before = old.and_then(|o| o.get(*field)).and_then(value_key);
            let after = row.data.get(*field).and_then(value_key);
            if before == after {
                continue;
            }
            if let Some(before) = before
                && let Some(list) = index.get_mut(&before)
            {
                list.retain(|p| *p != pos);
            }
            if let Some(after) = after {
                let list = index.entry(after).or_default();
                // Positions stay sorted: creation order.
                let at = list.partition_point(|p| *p < pos);
                list.insert(at, pos);
            }
        }
    }
}

/// The text a value is filtered by: strings as they are, other scalars as JSON, lower case.
fn value_key(value: &Value) -> Option<String> {
    match value {
        Value::Null | Value::Array(_) | Value::Object(_) => None,
        Value::String(s) => Some(s.to_lowercase()),
        other => Some(other.to_string().to_lowercase()),
    }
}

/// Who is writing: the seeding (given times, not counted) or a client (now, counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Seed { created_ms: i64, updated_ms: i64 },
    Live,
}

#[derive(Debug)]
pub(crate) struct Store {
    tables: Vec<Table>,
    last_ms: i64,
    seq: u64,
    ids: SplitMix64,
}

impl Store {
    pub(crate) fn new(seed: u64) -> Self {
        Store {
            tables: TableId::ALL.iter().map(|t| Table::new(t.def())).collect(),
            last_ms: 0,
            seq: 0,
            // Ids of records created at run time follow their own sequence, so they do not
            // depend on how much data was seeded.
            ids: SplitMix64::new(seed ^ 0x0001_D50F_C0DE),
        }
    }

    pub(crate) fn table(&self, id: TableId) -> &Table {
        // `tables` is built from TableId::ALL, whose order `index` follows.
        &self.tables[id.index()]
    }

    pub(crate) fn table_mut(&mut self, id: TableId) -> &mut Table {
        &mut self.tables[id.index()]
    }

    /// Strictly increasing milliseconds: wall clock, but never equal to or before a time
    /// already handed out (seeded times included).
    pub(crate) fn now_ms(&mut self) -> i64 {
        let now = Utc::now().timestamp_millis();
        self.last_ms = now.max(self.last_ms + 1);
        self.last_ms
    }

    /// A fresh id from the store's deterministic sequence.
    pub(crate) fn guid(&mut self) -> String {
        self.ids.guid()
    }

    pub(crate) fn alnum_id(&mut self) -> String {
        self.ids.alnum(16)
    }

    /// Checks that every reference in `data` points at a live row.
    pub(crate) fn check_references(
        &self,
        def: &TableDef,
        data: &Map<String, Value>,
    ) -> Result<(), Fail> {
        for (path, table, key) in references(def.fields, data) {
            if self.table(table).get_live(&key).is_none() {
                let target = table.def();
                return Err(Fail::invalid(
                    path.clone(),
                    format!("{path}: no {} with id `{key}`", target.label()),
                ));
            }
        }
        Ok(())
    }

    /// Adds a row. String ids given in `data` are kept (and must be free); other ids are
    /// assigned. References are checked, server fields stamped.
    pub(crate) fn create(
        &mut self,
        id: TableId,
        mut data: Map<String, Value>,
        origin: Origin,
    ) -> Result<&Row, Fail> {
        let def = id.def();
        self.check_references(def, &data)?;
        let key = match def.id_kind {
            IdKind::Str => match data.get(def.id_field) {
                Some(Value::String(s)) if !s.is_empty() => {
                    if s.len() > 50 {
                        return Err(Fail::invalid(
                            def.id_field,
                            "id : cannot be more than 50 characters",
                        ));
                    }
                    if s.chars()
                        .any(|c| c.is_whitespace() || c == '/' || c == '?' || c == '#')
                    {
                        return Err(Fail::invalid(def.id_field, "id : invalid characters"));
                    }
                    s.clone()
                }
                Some(Value::String(_)) | Some(Value::Null) | None => loop {
                    let candidate = self.alnum_id();
                    if self.table(id).get(&candidate).is_none() {
                        break candidate;
                    }
                },
                Some(_) => return Err(Fail::invalid(def.id_field, "id : must be a string")),
            },
            IdKind::Int => {
                let table = self.table_mut(id);
                let n = table.next_int;
                table.next_int += 1;
                n.to_string()
            }
            IdKind::Guid => loop {
                let candidate = self.guid();
                if self.table(id).get(&candidate).is_none() {
                    break candidate;
                }
            },
        };
        if self.table(id).get(&key).is_some() {
            return Err(Fail::Duplicate {
                param: def.id_field.to_string(),
                message: format!("{} : The value {key} is already present.", def.id_field),
            });
        }
        let id_value = match def.id_kind {
            IdKind::Int => key.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
            IdKind::Str | IdKind::Guid => Value::String(key.clone()),
        };
        data.insert(def.id_field.to_string(), id_value);
        if def.null_fill {
            fill_nulls(def.fields, &mut data);
        }
        let (created_ms, updated_ms) = match origin {
            Origin::Seed {
                created_ms,
                updated_ms,
            } => {
                self.last_ms = self.last_ms.max(updated_ms).max(created_ms);
                (created_ms, updated_ms)
            }
            Origin::Live => {
                let now = self.now_ms();
                (now, now)
            }
        };
        stamp(def, &mut data, Some(created_ms), updated_ms);
        self.seq += 1;
        let row = Row {
            seq: self.seq,
            key: key.clone(),
            updated_ms,
            deleted: false,
            data,
        };
        let table = self.table_mut(id);
        if origin == Origin::Live {
            table.creates += 1;
        }
        let pos = table.rows.len();
        table.index.insert(key, pos);
        table.rows.push(row);
        table.reindex(pos, None);
        Ok(table
            .rows
            .last()
            .unwrap_or_else(|| unreachable!("a row was just pushed")))
    }

    /// Changes a live row through `edit`, then checks references and stamps the change.
    /// `edit` may refuse; the row is unchanged then.
    pub(crate) fn update(
        &mut self,
        id: TableId,
        key: &str,
        edit: impl FnOnce(&mut Map<String, Value>) -> Result<(), Fail>,
    ) -> Result<&Row, Fail> {
        let def = id.def();
        let pos = match self.table(id).index.get(key) {
            Some(&pos) if self.table(id).rows.get(pos).is_some_and(|r| !r.deleted) => pos,
            _ => return Err(Fail::not_found(def.label(), key)),
        };
        let mut data = self.table(id).rows[pos].data.clone();
        edit(&mut data)?;
        self.check_references(def, &data)?;
        let id_value = self.table(id).rows[pos]
            .data
            .get(def.id_field)
            .cloned()
            .unwrap_or(Value::Null);
        data.insert(def.id_field.to_string(), id_value);
        let now = self.now_ms();
        stamp(def, &mut data, None, now);
        let table = self.table_mut(id);
        table.updates += 1;
        let row = &mut table.rows[pos];
        let old = std::mem::replace(&mut row.data, data);
        row.updated_ms = now;
        table.reindex(pos, Some(&old));
        Ok(&table.rows[pos])
    }

    /// Marks a row deleted. Chargebee keeps it visible with `deleted: true` to
    /// `include_deleted` listings; the other APIs no longer show it.
    pub(crate) fn delete(&mut self, id: TableId, key: &str) -> Result<(), Fail> {
        let def = id.def();
        let pos = match self.table(id).index.get(key) {
            Some(&pos) if self.table(id).rows.get(pos).is_some_and(|r| !r.deleted) => pos,
            _ => return Err(Fail::not_found(def.label(), key)),
        };
        let now = self.now_ms();
        let table = self.table_mut(id);
        table.deletes += 1;
        let row = &mut table.rows[pos];
        row.deleted = true;
        row.updated_ms = now;
        if matches!(def.stamp, Stamp::Chargebee { .. }) {
            row.data.insert("deleted".into(), Value::Bool(true));
            stamp(def, &mut row.data, None, now);
        }
        Ok(())
    }

    /// Keys of live rows whose values at `fields` are all equal and non-empty, grouped.
    pub(crate) fn duplicates(
        &self,
        id: TableId,
        fields: &[&str],
        filter: impl Fn(&Row) -> bool,
    ) -> Vec<Vec<String>> {
        let mut groups: HashMap<Vec<String>, Vec<String>> = HashMap::new();
        for row in self.table(id).live().filter(|r| filter(r)) {
            let mut values = Vec::with_capacity(fields.len());
            for f in fields {
                match row.data.get(*f) {
                    Some(Value::Null) | None => break,
                    Some(Value::String(s)) if s.trim().is_empty() => break,
                    Some(Value::String(s)) => values.push(s.trim().to_lowercase()),
                    Some(other) => values.push(other.to_string()),
                }
            }
            if values.len() == fields.len() {
                groups.entry(values).or_default().push(row.key.clone());
            }
        }
        let mut out: Vec<Vec<String>> = groups.into_values().filter(|g| g.len() > 1).collect();
        out.sort();
        out
    }

    /// Looks `key` up after normalising it per the table's id kind (`"007"` → `"7"`).
    pub(crate) fn normalize_key(id: TableId, key: &str) -> Option<String> {
        match id.def().id_kind {
            IdKind::Int => key.trim().parse::<i64>().ok().map(|n| n.to_string()),
            IdKind::Guid => Some(key.trim().to_ascii_lowercase()),
            IdKind::Str => Some(key.to_string()),
        }
    }

    /// A key from a JSON id value.
    pub(crate) fn key_from_value(id: TableId, value: &Value) -> Option<String> {
        key_of(value).and_then(|k| Self::normalize_key(id, &k))
    }
}

/// ISO 8601 with offset, milliseconds (`2024-01-05T10:00:00.123+00:00`).
pub(crate) fn iso_offset(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// RFC 3339 UTC, milliseconds (`2024-01-05T10:00:00.123Z`).
pub(crate) fn iso_z(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Sets the server-owned fields of a row after a write at `updated_ms` (and, on create,
/// `created_ms`).
fn stamp(def: &TableDef, data: &mut Map<String, Value>, created_ms: Option<i64>, updated_ms: i64) {
    match def.stamp {
        Stamp::Chargebee {
            object,
            modified_at,
        } => {
            if let Some(c) = created_ms {
                data.insert("created_at".into(), Value::from(c.div_euclid(1000)));
                data.insert("deleted".into(), Value::Bool(false));
            }
            data.insert(
                "updated_at".into(),
                Value::from(updated_ms.div_euclid(1000)),
            );
            if modified_at {
                data.insert(
                    "modified_at".into(),
                    Value::from(updated_ms.div_euclid(1000)),
                );
            }
            data.insert("resource_version".into(), Value::from(updated_ms));
            data.insert("object".into(), Value::from(object));
        }
        Stamp::PowerOffice => {
            if let Some(c) = created_ms {
                data.insert("CreatedDateTimeOffset".into(), Value::from(iso_offset(c)));
            }
            data.insert(
                "LastChangedDateTimeOffset".into(),
                Value::from(iso_offset(updated_ms)),
            );
        }
        Stamp::Webcrm(prefix) => {
            if let Some(c) = created_ms {
                data.insert(format!("{prefix}CreatedAt"), Value::from(iso_z(c)));
            }
            data.insert(format!("{prefix}UpdatedAt"), Value::from(iso_z(updated_ms)));
        }
        Stamp::Rest => {
            if let Some(c) = created_ms {
                data.insert("created_at".into(), Value::from(iso_z(c)));
            }
            data.insert("updated_at".into(), Value::from(iso_z(updated_ms)));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn value_indexes_follow_creates_updates_and_deletes() {
        let mut s = Store::new(1);
        let t = TableId::CpCustomer;
        for name in ["Acme", "acme", "Other"] {
            s.create(t, obj(json!({"name": name})), Origin::Live)
                .unwrap();
        }
        let keys = |s: &mut Store, v: &str| -> Vec<String> {
            s.table_mut(t)
                .live_where("name", v)
                .iter()
                .map(|r| r.key.clone())
                .collect()
        };
        assert_eq!(keys(&mut s, "ACME"), ["1", "2"]);
        assert_eq!(s.table_mut(t).count_where("name", "acme"), 2);
        // Built once, then kept up to date.
        s.create(t, obj(json!({"name": "Acme"})), Origin::Live)
            .unwrap();
        s.update(t, "1", |d| {
            d.insert("name".into(), json!("Renamed"));
            Ok(())
        })
        .unwrap();
        s.update(t, "3", |d| {
            d.insert("name".into(), json!("acme"));
            Ok(())
        })
        .unwrap();
        s.delete(t, "2").unwrap();
        assert_eq!(keys(&mut s, "acme"), ["3", "4"]);
        assert_eq!(keys(&mut s, "renamed"), ["1"]);
        assert!(keys(&mut s, "other").is_empty());
        assert!(keys(&mut s, "nobody").is_empty());
    }

    #[test]
    fn ids_count_up_and_times_increase() {
        let mut s = Store::new(1);
        let a = s
            .create(TableId::CpCustomer, obj(json!({"name": "A"})), Origin::Live)
            .unwrap()
            .clone();
        let b = s
            .create(TableId::CpCustomer, obj(json!({"name": "B"})), Origin::Live)
            .unwrap()
            .clone();
        assert_eq!(a.key, "1");
        assert_eq!(b.key, "2");
        assert!(b.updated_ms > a.updated_ms);
        assert_eq!(a.data.get("id"), Some(&json!(1)));
        assert!(a.data.get("updated_at").and_then(Value::as_str).is_some());
        assert_eq!(
            a.data.get("email"),
            Some(&Value::Null),
            "absent fields are null-filled"
        );
        assert_eq!(s.table(TableId::CpCustomer).creates, 2);
    }

    #[test]
    fn dangling_references_and_taken_ids_are_refused() {
        let mut s = Store::new(1);
        let err = s
            .create(
                TableId::CpContact,
                obj(json!({"customer_id": 99})),
                Origin::Live,
            )
            .unwrap_err();
        assert_eq!(err.param(), Some("customer_id"));
        s.create(TableId::CbCustomer, obj(json!({"id": "c1"})), Origin::Live)
            .unwrap();
        let dup = s
            .create(TableId::CbCustomer, obj(json!({"id": "c1"})), Origin::Live)
            .unwrap_err();
        assert!(matches!(dup, Fail::Duplicate { .. }));
    }

    #[test]
    fn updates_restamp_and_keep_the_id() {
        let mut s = Store::new(1);
        let row = s
            .create(
                TableId::CbCustomer,
                obj(json!({"first_name": "Ola"})),
                Origin::Live,
            )
            .unwrap()
            .clone();
        let v1 = row.data.get("resource_version").cloned();
        let updated = s
            .update(TableId::CbCustomer, &row.key, |d| {
                d.insert("first_name".into(), json!("Kari"));
                d.insert("id".into(), json!("hijack"));
                Ok(())
            })
            .unwrap()
            .clone();
        assert_eq!(updated.data.get("id"), Some(&json!(row.key)));
        assert_ne!(updated.data.get("resource_version").cloned(), v1);
        assert!(s.update(TableId::CbCustomer, "nope", |_| Ok(())).is_err());
    }

    #[test]
    fn duplicates_group_equal_non_empty_values() {
        let mut s = Store::new(1);
        for email in ["a@x.no", "A@x.no ", "b@x.no", ""] {
            s.create(
                TableId::CpContact,
                obj(json!({"email": email})),
                Origin::Live,
            )
            .unwrap();
        }
        let d = s.duplicates(TableId::CpContact, &["email"], |_| true);
        assert_eq!(d, vec![vec!["1".to_string(), "2".to_string()]]);
    }

    #[test]
    fn chargebee_deletes_stay_visible_as_deleted() {
        let mut s = Store::new(1);
        let key = s
            .create(TableId::CbItem, obj(json!({"id": "gold"})), Origin::Live)
            .unwrap()
            .key
            .clone();
        s.delete(TableId::CbItem, &key).unwrap();
        let row = s.table(TableId::CbItem).get(&key).unwrap();
        assert!(row.deleted);
        assert_eq!(row.data.get("deleted"), Some(&json!(true)));
        assert!(s.delete(TableId::CbItem, &key).is_err());
    }
}
