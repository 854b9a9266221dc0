//! Value types and conversions used by generated code.
//!
//! Documents state `decimal`, `date` and `datetime` besides the JSON scalars; they are kept
//! as text newtypes ([`Decimal`], [`Date`], [`DateTime`]) so a value is written back exactly
//! as read (no float rounding of amounts, no time-zone normalisation of timestamps).
//!
//! [`Convert`] is the one conversion generated mappings call between a source property's
//! type and a target property's type. Conversions that cannot fail (`integer` → `string`)
//! always succeed; those that can (`string` → `integer` on the inverse side of an
//! `integer` → `string` row) fail with [`MapError::Conversion`], a permanent failure that
//! sends the record to dead letters. The documented direction of a lossy row
//! (`"string"` into a non-reference `integer`) is rejected at compile time by the checks.
//!
//! [`Slot`] gives the place to write a nested value: `Option<Nested>` is created on demand
//! and a list gets its first element (a scalar written through a list lands in element 0).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::flow::{Links, MapError, Record, RecordId, Ref};

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            /// Accepts a string or a number (APIs send amounts either way); keeps the text.
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                match Value::deserialize(deserializer)? {
                    Value::String(s) => Ok($name(s)),
                    Value::Number(n) => Ok($name(n.to_string())),
                    other => Err(serde::de::Error::custom(format!(
                        "expected a string or a number, found {other}"
                    ))),
                }
            }
        }
    };
}

text_newtype!(
    /// A `decimal` value, kept as its decimal text (`"12.50"`).
    Decimal
);
text_newtype!(
    /// A `date` value, kept as written (ISO 8601 `2024-09-09` expected).
    Date
);
text_newtype!(
    /// A `datetime` value, kept as written (ISO 8601 expected).
    DateTime
);

/// A conversion from a source property's type to a target property's type.
pub trait Convert<T>: Sized {
    /// Converts `self`; `property` names the row in errors.
    fn convert(self, property: &'static str) -> Result<T, MapError>;
}

/// Converts an optional value (absent stays absent).
pub fn convert<S: Convert<T>, T>(
    value: Option<S>,
    property: &'static str,
) -> Result<Option<T>, MapError> {
    value.map(|v| v.convert(property)).transpose()
}

fn failed(property: &'static str, message: impl Into<String>) -> MapError {
    MapError::Conversion {
        property,
        message: message.into(),
    }
}

macro_rules! identity {
    ($($t:ty),*) => {$(
        impl Convert<$t> for $t {
            fn convert(self, _: &'static str) -> Result<$t, MapError> {
                Ok(self)
            }
        }
    )*};
}
identity!(String, i64, f64, bool, Decimal, Date, DateTime, Value);

macro_rules! to_string {
    ($($t:ty),*) => {$(
        impl Convert<String> for $t {
            fn convert(self, _: &'static str) -> Result<String, MapError> {
                Ok(self.to_string())
            }
        }
    )*};
}
to_string!(i64, f64, bool, Decimal, Date, DateTime);

macro_rules! to_json {
    ($($t:ty),*) => {$(
        impl Convert<Value> for $t {
            fn convert(self, property: &'static str) -> Result<Value, MapError> {
                serde_json::to_value(self).map_err(|e| failed(property, e.to_string()))
            }
        }
    )*};
}
to_json!(String, i64, f64, bool, Decimal, Date, DateTime);

/// Text into a typed value: what a string, a decimal, a date or a JSON string converts through.
fn parse_text<T>(text: &str, property: &'static str) -> Result<T, MapError>
where
    String: Convert<T>,
{
    text.to_string().convert(property)
}

impl Convert<i64> for String {
    fn convert(self, property: &'static str) -> Result<i64, MapError> {
        self.trim()
            .parse()
            .map_err(|_| failed(property, format!("{self:?} is not an integer")))
    }
}

impl Convert<f64> for String {
    fn convert(self, property: &'static str) -> Result<f64, MapError> {
        self.trim()
            .parse()
            .map_err(|_| failed(property, format!("{self:?} is not a number")))
    }
}

impl Convert<bool> for String {
    fn convert(self, property: &'static str) -> Result<bool, MapError> {
        match self.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(failed(property, format!("{self:?} is not a boolean"))),
        }
    }
}

impl Convert<Decimal> for String {
    fn convert(self, property: &'static str) -> Result<Decimal, MapError> {
        let t = self.trim();
        let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
        let mut parts = digits.splitn(2, '.');
        let int = parts.next().unwrap_or("");
        let frac = parts.next();
        let ok = !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
        if ok {
            Ok(Decimal(t.to_string()))
        } else {
            Err(failed(property, format!("{self:?} is not a decimal")))
        }
    }
}

impl Convert<Date> for String {
    fn convert(self, _: &'static str) -> Result<Date, MapError> {
        Ok(Date(self))
    }
}

impl Convert<DateTime> for String {
    fn convert(self, _: &'static str) -> Result<DateTime, MapError> {
        Ok(DateTime(self))
    }
}

impl Convert<f64> for i64 {
    fn convert(self, _: &'static str) -> Result<f64, MapError> {
        Ok(self as f64)
    }
}

impl Convert<bool> for i64 {
    fn convert(self, property: &'static str) -> Result<bool, MapError> {
        match self {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(failed(
                property,
                format!("{other} is not a boolean (0 or 1)"),
            )),
        }
    }
}

impl Convert<Decimal> for i64 {
    fn convert(self, _: &'static str) -> Result<Decimal, MapError> {
        Ok(Decimal(self.to_string()))
    }
}

impl Convert<i64> for f64 {
    fn convert(self, property: &'static str) -> Result<i64, MapError> {
        // Exactly representable integers only: a fraction or an overflow is a data error.
        if self.fract() == 0.0 && self >= i64::MIN as f64 && self < i64::MAX as f64 {
            Ok(self as i64)
        } else {
            Err(failed(property, format!("{self} is not an integer")))
        }
    }
}

impl Convert<Decimal> for f64 {
    fn convert(self, property: &'static str) -> Result<Decimal, MapError> {
        if self.is_finite() {
            Ok(Decimal(self.to_string()))
        } else {
            Err(failed(property, format!("{self} is not a decimal")))
        }
    }
}

impl Convert<i64> for bool {
    fn convert(self, _: &'static str) -> Result<i64, MapError> {
        Ok(i64::from(self))
    }
}

macro_rules! via_text {
    ($from:ty => $($to:ty),*) => {$(
        impl Convert<$to> for $from {
            fn convert(self, property: &'static str) -> Result<$to, MapError> {
                parse_text(&self.0, property)
            }
        }
    )*};
}
via_text!(Decimal => i64, f64, bool, Date, DateTime);
via_text!(Date => i64, f64, bool, Decimal, DateTime);
via_text!(DateTime => i64, f64, bool, Decimal, Date);

macro_rules! unsupported {
    ($($from:ty => $to:ty),*) => {$(
        impl Convert<$to> for $from {
            fn convert(self, property: &'static str) -> Result<$to, MapError> {
                Err(failed(property, format!(
                    "cannot convert {self} to {}", stringify!($to)
                )))
            }
        }
    )*};
}
unsupported!(bool => f64, bool => Decimal, bool => Date, bool => DateTime,
    i64 => Date, i64 => DateTime, f64 => bool, f64 => Date, f64 => DateTime);

macro_rules! from_json {
    ($($t:ty),*) => {$(
        impl Convert<$t> for Value {
            fn convert(self, property: &'static str) -> Result<$t, MapError> {
                match self {
                    // Text goes through the text conversion: `"42"` into an integer works.
                    Value::String(s) => s.convert(property),
                    other => serde_json::from_value(other.clone()).map_err(|_| {
                        failed(property, format!("{other} is not a {}", stringify!($t)))
                    }),
                }
            }
        }
    )*};
}
from_json!(i64, f64, bool, Decimal, Date, DateTime);

impl Convert<String> for Value {
    fn convert(self, _: &'static str) -> Result<String, MapError> {
        Ok(match self {
            Value::String(s) => s,
            other => other.to_string(),
        })
    }
}

/// Translates a reference of entity `F` into a reference of entity `T` through links.
/// An absent reference stays absent; a reference with no link is [`MapError::Unlinked`]
/// (the engine defers the record until the referenced one syncs).
pub fn translate<F: Record, T: Record>(
    value: Option<&Ref<F>>,
    property: &'static str,
    links: &dyn Links,
) -> Result<Option<Ref<T>>, MapError> {
    let Some(reference) = value else {
        return Ok(None);
    };
    match links.linked(F::KEY, reference.id(), T::KEY) {
        Some(id) => Ok(Some(Ref::new(id))),
        None => Err(MapError::Unlinked {
            property,
            from: F::KEY,
            id: reference.id().clone(),
            to: T::KEY,
        }),
    }
}

/// The [`crate::Reference`] a present reference needs translated, for `references()`.
pub fn reference<F: Record, T: Record>(
    value: Option<&Ref<F>>,
    property: &'static str,
) -> Option<crate::flow::Reference> {
    value.map(|r| crate::flow::Reference {
        property,
        from: F::KEY,
        id: r.id().clone(),
        to: T::KEY,
    })
}

/// The raw id of a reference, as JSON (a reference copied into a plain property).
pub fn ref_value<E>(value: Option<&Ref<E>>) -> Option<Value> {
    value.map(|r| r.id().to_json())
}

/// A plain value taken as the id of a reference (a string or an integer).
pub fn raw_reference<T: Serialize, E>(
    value: Option<T>,
    property: &'static str,
) -> Result<Option<Ref<E>>, MapError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let json = serde_json::to_value(value).map_err(|e| failed(property, e.to_string()))?;
    match RecordId::from_json(&json) {
        Some(id) => Ok(Some(Ref::new(id))),
        None => Err(failed(property, format!("{json} is not a record id"))),
    }
}

/// Where a nested value is written: an `Option` is filled with a default on demand, a list
/// gets a first element on demand.
pub trait Slot {
    type Item;
    fn slot(&mut self) -> &mut Self::Item;
}

impl<T: Default> Slot for Option<T> {
    type Item = T;
    fn slot(&mut self) -> &mut T {
        self.get_or_insert_with(T::default)
    }
}

impl<T: Default> Slot for Vec<T> {
    type Item = T;
    fn slot(&mut self) -> &mut T {
        if self.is_empty() {
            self.push(T::default());
        }
        &mut self[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_text_and_back() {
        let s: String = 42i64.convert("p").unwrap();
        assert_eq!(s, "42");
        let n: i64 = s.convert("p").unwrap();
        assert_eq!(n, 42);
        let bad: Result<i64, _> = "4x".to_string().convert("p");
        assert!(matches!(
            bad,
            Err(MapError::Conversion { property: "p", .. })
        ));
    }

    #[test]
    fn decimals_are_validated_text() {
        let d: Decimal = "-12.50".to_string().convert("p").unwrap();
        assert_eq!(d.as_str(), "-12.50");
        assert!(Convert::<Decimal>::convert("1.".to_string(), "p").is_err());
        assert!(Convert::<Decimal>::convert("abc".to_string(), "p").is_err());
        let parsed: Decimal = serde_json::from_str("12.5").unwrap();
        assert_eq!(parsed, Decimal::from("12.5"));
    }

    #[test]
    fn json_converts_through_text() {
        let n: i64 = Value::from("7").convert("p").unwrap();
        assert_eq!(n, 7);
        let n: i64 = Value::from(8).convert("p").unwrap();
        assert_eq!(n, 8);
        let s: String = Value::from(true).convert("p").unwrap();
        assert_eq!(s, "true");
        assert!(Convert::<bool>::convert(Value::from(3), "p").is_err());
    }

    #[test]
    fn floats_into_integers_only_when_whole() {
        assert_eq!(Convert::<i64>::convert(3.0f64, "p").unwrap(), 3);
        assert!(Convert::<i64>::convert(3.5f64, "p").is_err());
        assert!(Convert::<i64>::convert(f64::NAN, "p").is_err());
    }

    #[test]
    fn slots_create_on_demand() {
        let mut list: Vec<Option<i64>> = Vec::new();
        *list.slot() = Some(1);
        *list.slot() = Some(2);
        assert_eq!(list, vec![Some(2)]);
        let mut opt: Option<Vec<i64>> = None;
        opt.slot().push(1);
        assert_eq!(opt, Some(vec![1]));
    }
}
