//! CPU time and peak memory from /proc: on a shared machine wall time also counts other
//! processes' work, CPU time does not. (Also used by the engine bench, which needs only part.)
#![allow(dead_code)]

use std::collections::BTreeMap;

/// user + system seconds from a `/proc/…/stat` file (0 when unreadable).
pub fn cpu_seconds_of(path: &str) -> f64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

pub fn cpu_seconds() -> f64 {
    cpu_seconds_of("/proc/self/stat")
}

/// A `/proc/self/status` value in KiB (`VmHWM`, `VmRSS`).
pub fn vm_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU seconds of this process's live threads, by thread name with digits dropped
/// (`tokio-runtime-worker`, `sqlx-sqlite-worker-`).
pub fn cpu_by_thread() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm"))
            .unwrap_or_default()
            .trim()
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .to_string();
        let cpu = cpu_seconds_of(&path.join("stat").display().to_string());
        *out.entry(name).or_insert(0.0) += cpu;
    }
    out
}
