//! The sandbox in a process of its own (this benchmark binary run as `serve-sandbox`), so
//! that the sync's CPU time and peak memory are its own, not the emulated APIs'.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use flowgen_runtime::cli::demo::SandboxEndpoints;
use flowgen_sandbox::{Faults, RateLimits, SandboxConfig, StatsSnapshot};
use serde::{Deserialize, Serialize};

/// What the sandbox process serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildConfig {
    pub records: usize,
    /// `system/Entity` → records, overriding `records`.
    pub overrides: BTreeMap<String, usize>,
    pub latency_ms: u64,
    pub enforce_limits: bool,
}

/// The first line the sandbox process prints.
#[derive(Debug, Serialize, Deserialize)]
struct Ready {
    endpoints: SandboxEndpoints,
    stats_url: String,
}

/// A running sandbox process; dropping it closes its stdin, which stops it.
pub struct SandboxProcess {
    child: std::process::Child,
    pub endpoints: SandboxEndpoints,
    stats_url: String,
}

impl SandboxProcess {
    pub fn spawn(config: &ChildConfig) -> SandboxProcess {
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
        let mut child = Command::new(exe)
            .arg("serve-sandbox")
            .arg(serde_json::to_string(config).unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("sandbox process: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("sandbox stdout"));
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("sandbox ready line: {e}"));
        let ready: Ready = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("sandbox ready line {line:?}: {e}"));
        SandboxProcess {
            child,
            endpoints: ready.endpoints,
            stats_url: ready.stats_url,
        }
    }

    /// CPU seconds the sandbox process used so far.
    pub fn cpu_seconds(&self) -> f64 {
        super::proc::cpu_seconds_of(&format!("/proc/{}/stat", self.child.id()))
    }

    pub async fn stats(&self) -> StatsSnapshot {
        reqwest::get(&self.stats_url)
            .await
            .unwrap_or_else(|e| panic!("sandbox stats: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("sandbox stats: {e}"))
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// `serve-sandbox CONFIG`: serves until stdin closes.
pub fn serve(config: &str) {
    let config: ChildConfig =
        serde_json::from_str(config).unwrap_or_else(|e| panic!("sandbox config: {e}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        let sandbox = flowgen_sandbox::start(SandboxConfig {
            records: config.records,
            record_overrides: config.overrides.clone(),
            faults: Faults {
                latency: Duration::from_millis(config.latency_ms),
                ..Faults::none()
            },
            rate_limits: RateLimits {
                enforce: config.enforce_limits,
                ..RateLimits::default()
            },
            ..SandboxConfig::default()
        })
        .await
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
        let ready = Ready {
            endpoints: SandboxEndpoints::of(&sandbox),
            stats_url: format!(
                "{}/__sandbox/stats",
                sandbox.origin(flowgen_sandbox::Api::Chargebee)
            ),
        };
        let mut stdout = std::io::stdout();
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string(&ready).unwrap_or_default()
        );
        let _ = stdout.flush();
        // Blocks a worker thread until the parent closes our stdin.
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await;
        sandbox.shutdown().await;
    });
}
