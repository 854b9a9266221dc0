//! When workers have nothing left to do: every live worker finished a pass that started after
//! the last pass that wrote anything (anywhere), wrote nothing, reconciled no open create and
//! failed nowhere, twice in a row; and those passes covered every work item.
//!
//! Deferred records do not count: some wait for ever (a reference no flow links), and the
//! ones a claim held back wait for a create that is a write, or a reconciliation, itself.

#![allow(dead_code)]

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use flowgen_runtime::worker::PassReport;
use serde_json::Value;

/// The parts of a pass that tell whether work is left.
#[derive(Debug, Clone, PartialEq)]
pub struct Pass {
    pub worker: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub writes: u64,
    pub still_deferred: usize,
    pub reconciled: u64,
    pub failed: bool,
    pub items: Vec<String>,
    /// When each item was worked on, under which lease token.
    pub windows: Vec<Window>,
}

/// One item's run within a pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub item: String,
    pub token: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// Two workers on one item at the same time, or one lease token given to two workers: the
/// first such pair found, as a message.
pub fn overlap(passes: &[Pass]) -> Option<String> {
    let windows: Vec<(&str, &Window)> = passes
        .iter()
        .flat_map(|p| p.windows.iter().map(move |w| (p.worker.as_str(), w)))
        .collect();
    for (i, (w1, a)) in windows.iter().enumerate() {
        for (w2, b) in &windows[i + 1..] {
            if w1 == w2 || a.item != b.item {
                continue;
            }
            if a.started_at < b.finished_at && b.started_at < a.finished_at {
                return Some(format!("{} worked on by {w1} and {w2} at once", a.item));
            }
            if a.token == b.token {
                return Some(format!(
                    "{}: token {} held by {w1} and {w2}",
                    a.item, a.token
                ));
            }
        }
    }
    None
}

impl From<&PassReport> for Pass {
    fn from(p: &PassReport) -> Pass {
        Pass {
            worker: p.worker.clone(),
            started_at: p.started_at,
            finished_at: p.finished_at,
            writes: p.report.total().writes,
            still_deferred: p.report.still_deferred,
            reconciled: p.report.reconciled_intents,
            failed: !p.errors.is_empty()
                || !p.report.read_errors.is_empty()
                || p.items.iter().any(|i| i.error.is_some()),
            items: p.items.iter().map(|i| i.item.clone()).collect(),
            windows: p
                .items
                .iter()
                .map(|i| Window {
                    item: i.item.clone(),
                    token: i.token,
                    started_at: i.started_at,
                    finished_at: i.finished_at,
                })
                .collect(),
        }
    }
}

impl Pass {
    /// A pass as recorded in the run history (`flowgen_runtime::state::Run`).
    pub fn from_run(
        started_at: DateTime<Utc>,
        finished_at: Option<DateTime<Utc>>,
        report: &Value,
    ) -> Option<Pass> {
        let worker = report["worker"].as_str()?.to_string();
        let writes = report["flows"]
            .as_object()?
            .values()
            .map(|c| c["writes"].as_u64().unwrap_or(0))
            .sum();
        let items = report["items"]
            .as_array()?
            .iter()
            .filter_map(|i| i["item"].as_str().map(str::to_string))
            .collect();
        let time = |v: &Value| {
            v.as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let windows = report["items"]
            .as_array()?
            .iter()
            .filter_map(|i| {
                Some(Window {
                    item: i["item"].as_str()?.to_string(),
                    token: i["token"].as_i64()?,
                    started_at: time(&i["started_at"])?,
                    finished_at: time(&i["finished_at"])?,
                })
            })
            .collect();
        Some(Pass {
            worker,
            started_at,
            finished_at: finished_at?,
            writes,
            still_deferred: usize::try_from(report["still_deferred"].as_u64()?).ok()?,
            reconciled: report["reconciled_intents"].as_u64()?,
            failed: report["errors"].as_array().is_some_and(|e| !e.is_empty())
                || report["read_errors"]
                    .as_array()
                    .is_some_and(|e| !e.is_empty())
                || report["items"]
                    .as_array()?
                    .iter()
                    .any(|i| !i["error"].is_null()),
            items,
            windows,
        })
    }
}

/// Whether the `live` workers (of `items` work items in all) have settled.
pub fn quiet(passes: &[Pass], live: &[String], items: usize) -> bool {
    if live.is_empty() {
        return false;
    }
    let last_write = passes
        .iter()
        .filter(|p| p.writes > 0)
        .map(|p| p.finished_at)
        .max();
    let mut covered: HashSet<&str> = HashSet::new();
    for worker in live {
        let mut after: Vec<&Pass> = passes
            .iter()
            .filter(|p| &p.worker == worker && last_write.is_none_or(|t| p.started_at > t))
            .collect();
        after.sort_by_key(|p| p.started_at);
        let idle = after
            .iter()
            .rev()
            .take_while(|p| p.writes == 0 && p.reconciled == 0 && !p.failed)
            .count();
        if idle < 2 {
            return false;
        }
        for p in after.iter().rev().take(2) {
            covered.extend(p.items.iter().map(String::as_str));
        }
    }
    covered.len() == items
}
