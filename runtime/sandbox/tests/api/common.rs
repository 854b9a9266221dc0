use flowgen_sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;

pub fn config(records: usize) -> SandboxConfig {
    SandboxConfig {
        records,
        ..SandboxConfig::default()
    }
}

pub async fn sandbox(records: usize) -> Sandbox {
    flowgen_sandbox::start(config(records))
        .await
        .expect("sandbox starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("client")
}

/// Status and JSON body (Null when the body is empty or not JSON).
pub async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub fn ids(records: &[Value], field: &str) -> Vec<String> {
    records
        .iter()
        .map(|r| match r.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        })
        .collect()
}
