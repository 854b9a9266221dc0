//! The dry run's result: what a run would create, update, link and defer.

use serde::Serialize;
use serde_json::Value;

use crate::flow::RecordId;

/// A record a run would create.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedCreate {
    pub direction: String,
    pub source_id: RecordId,
    /// `System Entity` of the new record.
    pub target: String,
    pub values: Value,
}

/// One property an update would change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertyDiff {
    pub property: String,
    pub old: Value,
    pub new: Value,
}

/// A record a run would update.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedUpdate {
    pub direction: String,
    pub source_id: RecordId,
    pub target: String,
    pub target_id: RecordId,
    pub changes: Vec<PropertyDiff>,
    /// Both sides changed: the update is the conflict's resolution.
    pub conflict: bool,
}

/// An existing record a run would link by a match rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedLink {
    pub direction: String,
    pub source_id: RecordId,
    pub target: String,
    pub target_id: RecordId,
    /// `source property = target property`.
    pub rule: String,
}

/// A record a run would defer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedDeferral {
    pub direction: String,
    pub source_id: RecordId,
    pub reason: String,
}

/// A dry run's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub creates: Vec<PlannedCreate>,
    pub updates: Vec<PlannedUpdate>,
    pub links: Vec<PlannedLink>,
    pub deferrals: Vec<PlannedDeferral>,
    /// Records that would go to dead letters, with the error.
    pub failures: Vec<PlannedDeferral>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty()
            && self.updates.is_empty()
            && self.links.is_empty()
            && self.deferrals.is_empty()
            && self.failures.is_empty()
    }
}
