//! Create claims: how several workers keep the no-duplicate guarantee of create intents.
//!
//! A single process stores an [`Intent`] before each create request and removes it with the
//! commit that stores the new link, so a crash in between is reconciled instead of creating
//! twice. Several workers add two hazards, which a claim ([`super::Leases::claim_creates`])
//! rules out atomically with storing the intent:
//!
//! - **The same source record created twice.** Leases give each record one worker, but a
//!   `when_connected` create is made by whichever worker syncs the connected record, whatever
//!   the shard of the record it creates. A claim fails ([`ClaimOutcome::Busy`]) while another
//!   intent for the same direction and source record is open, and returns the link
//!   ([`ClaimOutcome::Linked`]) once one was committed. Claims of one source are serialised
//!   (an advisory lock on PostgreSQL, the lease table's mutex in one process).
//! - **The echo created back.** Worker A creates record Y from X; worker B, which holds Y's
//!   shard, reads Y before A committed the link X–Y and would create a copy of X from Y. A
//!   claim fails while another worker's open intent *into the source's entity* has values
//!   that the source record carries ([`covers`]): Y may be that intent's record. A's intent
//!   is stored before Y exists and is removed in the transaction that stores the link, and
//!   the claim checks links and intents in one snapshot, so B sees one or the other.
//!
//! A failed claim defers the record; the next attempt sees the link.

use std::collections::HashMap;

use serde_json::Value;

use super::{Intent, Link, id_text};

/// A create a worker is about to request.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateClaim {
    pub intent: Intent,
    /// The system of the source record.
    pub source_system: String,
    /// The entity of the source record.
    pub source_entity: String,
    /// The source record's values as read (for the echo check).
    pub source_data: Value,
}

/// What a claim gave.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimOutcome {
    /// The intent is stored for the claiming worker: it may create.
    Claimed,
    /// The source record is linked already (another worker created or matched its target).
    Linked(Link),
    /// Another open create stands in the way; the reason says which. Try again later.
    Busy(String),
}

/// An open create intent and the worker that claimed it (`None`: stored by `flowgen sync`,
/// or by a worker whose claims were kept in the memory of a process that ended).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedIntent {
    pub intent: Intent,
    pub holder: Option<String>,
}

/// An open intent as a claim sees it.
#[derive(Debug, Clone)]
pub(crate) struct OpenIntent {
    pub key: String,
    pub holder: Option<String>,
    pub direction: String,
    /// The source id as stored (its JSON text).
    pub source_id: String,
    pub target_system: String,
    pub target_entity: String,
    pub payload: Value,
}

impl OpenIntent {
    pub(crate) fn of(intent: &Intent, holder: Option<String>) -> OpenIntent {
        OpenIntent {
            key: intent.key.clone(),
            holder,
            direction: intent.direction.clone(),
            source_id: id_text(&intent.source_id),
            target_system: intent.target_system.clone(),
            target_entity: intent.target_entity.clone(),
            payload: intent.payload.clone(),
        }
    }
}

/// Decides every claim of `holder` in order against the links found for their sources
/// (`links[n]`: the link of claim `n`) and the open intents, as the store saw them in one
/// snapshot; a claim granted earlier in the call stands in the way of later ones. Returns the
/// outcomes and the intents to store.
pub(crate) fn decide_all(
    holder: &str,
    claims: &[CreateClaim],
    mut links: HashMap<usize, Link>,
    mut open: Vec<OpenIntent>,
) -> (Vec<ClaimOutcome>, Vec<Intent>) {
    let mut outcomes = Vec::with_capacity(claims.len());
    let mut claimed = Vec::new();
    for (n, claim) in claims.iter().enumerate() {
        let outcome = decide(holder, claim, links.remove(&n), &open);
        if outcome == ClaimOutcome::Claimed {
            claimed.push(claim.intent.clone());
            open.push(OpenIntent::of(&claim.intent, Some(holder.to_string())));
        }
        outcomes.push(outcome);
    }
    (outcomes, claimed)
}

/// Decides one claim of `holder` from the source's link and the open intents.
fn decide(
    holder: &str,
    claim: &CreateClaim,
    link: Option<Link>,
    open: &[OpenIntent],
) -> ClaimOutcome {
    if let Some(link) = link {
        return ClaimOutcome::Linked(link);
    }
    let source_id = id_text(&claim.intent.source_id);
    if let Some(other) = open
        .iter()
        .find(|o| o.direction == claim.intent.direction && o.source_id == source_id)
    {
        return ClaimOutcome::Busy(format!(
            "a create of this record is in progress (intent {} of {})",
            short(&other.key),
            other.holder.as_deref().unwrap_or("a single-process run")
        ));
    }
    if let Some(other) = open.iter().find(|o| {
        o.holder.as_deref() != Some(holder)
            && o.target_system == claim.source_system
            && o.target_entity == claim.source_entity
            && covers(&claim.source_data, &o.payload)
    }) {
        return ClaimOutcome::Busy(format!(
            "this record may be the one {} is creating through {} (intent {}); waiting for its link",
            other.holder.as_deref().unwrap_or("a single-process run"),
            other.direction,
            short(&other.key)
        ));
    }
    ClaimOutcome::Claimed
}

fn short(key: &str) -> &str {
    key.get(..12).unwrap_or(key)
}

/// Whether `data` carries the scalar values of `payload` (a create payload): strings compared
/// trimmed and case-insensitively, numbers as numbers, arrays not compared. Lenient on
/// purpose: a false "yes" only delays a create, a false "no" could duplicate a record.
pub fn covers(data: &Value, payload: &Value) -> bool {
    match (data, payload) {
        (_, Value::Null) => true,
        (Value::Object(d), Value::Object(p)) => p.iter().all(|(k, pv)| match d.get(k) {
            Some(dv) => covers(dv, pv),
            None => pv.is_null(),
        }),
        (_, Value::Object(p)) => p.is_empty(),
        (_, Value::Array(_)) => true,
        (Value::String(d), Value::String(p)) => d.trim().eq_ignore_ascii_case(p.trim()),
        (Value::Number(d), Value::Number(p)) => match (d.as_f64(), p.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => d == p,
        },
        // A system may answer a number as a string or the other way round.
        (Value::String(d), Value::Number(p)) | (Value::Number(p), Value::String(d)) => {
            d.trim() == p.to_string()
        }
        (d, p) => d == p,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flow::RecordId;
    use crate::state::Side;

    fn claim(direction: &str, id: i64, data: Value) -> CreateClaim {
        CreateClaim {
            intent: Intent {
                key: format!("k{id}"),
                direction: direction.into(),
                pair: "P".into(),
                source_side: Side::A,
                source_id: RecordId::Int(id),
                target_system: "T".into(),
                target_entity: "Te".into(),
                payload: json!({}),
                source_hash: String::new(),
                target_hash: String::new(),
            },
            source_system: "S".into(),
            source_entity: "Se".into(),
            source_data: data,
        }
    }

    fn open(holder: Option<&str>, direction: &str, payload: &Value) -> OpenIntent {
        OpenIntent {
            key: "0123456789abcdef".into(),
            holder: holder.map(str::to_string),
            direction: direction.into(),
            source_id: "9".into(),
            target_system: "S".into(),
            target_entity: "Se".into(),
            payload: payload.clone(),
        }
    }

    #[test]
    fn covers_compares_scalars_leniently() {
        let data = json!({"Name": "Acme AS ", "n": 2, "a": {"b": "x"}, "lines": [1]});
        assert!(covers(&data, &json!({"Name": "acme as", "n": 2.0})));
        assert!(covers(
            &data,
            &json!({"a": {"b": "X"}, "lines": [2], "gone": null})
        ));
        assert!(covers(&data, &json!({"n": "2"})));
        assert!(!covers(&data, &json!({"Name": "Other"})));
        assert!(!covers(&data, &json!({"missing": "x"})));
        assert!(!covers(&data, &json!({"a": {"b": "y"}})));
    }

    #[test]
    fn a_link_wins_then_the_same_source_then_an_echo() {
        let c = claim("d", 9, json!({"Name": "Acme"}));
        let link = Link {
            pair: "P".into(),
            a_id: RecordId::Int(9),
            b_id: RecordId::Int(1),
            a_hash: None,
            b_hash: None,
            orphaned: false,
        };
        assert_eq!(
            decide("me", &c, Some(link.clone()), &[]),
            ClaimOutcome::Linked(link)
        );
        let payload = json!({"Name": "acme"});
        // The same direction and source, even one of mine: busy.
        let same = [open(Some("me"), "d", &payload)];
        assert!(
            matches!(decide("me", &c, None, &same), ClaimOutcome::Busy(r) if r.contains("in progress"))
        );
        // Another worker's create into the source's entity with the source's values: busy.
        let echo = [open(Some("w2"), "r", &payload)];
        assert!(matches!(decide("me", &c, None, &echo), ClaimOutcome::Busy(r) if r.contains("w2")));
        let single = [open(None, "r", &payload)];
        assert!(matches!(
            decide("me", &c, None, &single),
            ClaimOutcome::Busy(_)
        ));
        // Mine, or with other values: not in the way.
        let mine = [open(Some("me"), "r", &payload)];
        assert_eq!(decide("me", &c, None, &mine), ClaimOutcome::Claimed);
        let other_values = json!({"Name": "Globex"});
        let differs = [open(Some("w2"), "r", &other_values)];
        assert_eq!(decide("me", &c, None, &differs), ClaimOutcome::Claimed);
    }

    #[test]
    fn a_claim_granted_in_a_call_stands_in_the_way_of_a_later_one() {
        let c = claim("d", 9, json!({}));
        let (outcomes, claimed) =
            decide_all("me", &[c.clone(), c.clone()], HashMap::new(), Vec::new());
        assert_eq!(outcomes[0], ClaimOutcome::Claimed);
        assert!(matches!(outcomes[1], ClaimOutcome::Busy(_)));
        assert_eq!(claimed, vec![c.intent]);
    }
}
