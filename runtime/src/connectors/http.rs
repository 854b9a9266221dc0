//! The HTTP layer every connector shares: one reqwest client (rustls) per system with
//! timeouts, a rate limiter at the API's documented limit, a concurrency limit, retries with
//! jittered exponential backoff that honour `Retry-After` (header or WebCRM's
//! `RetryAfterSeconds` body), and the mapping of statuses and error bodies to transient or
//! permanent failures.
//!
//! Secrets live in [`Secret`], whose `Debug` and `Display` print `***`; every error message
//! built here is passed through [`HttpClient::redact`] so that a server echoing a credential
//! back cannot leak it into logs or dead letters either.

use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Client, RequestBuilder};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::connector::{ConnectorError, ErrorKind, Operation};

/// A credential or token. Printing it, in any form, shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The limits and retry policy of one API client (see `config::LimitsConfig` for the
/// documented defaults per API).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// At most `requests` per `period` …
    pub requests: u32,
    pub period: Duration,
    /// … of which at most `burst` back to back. The rate is set so that `burst` plus the
    /// steady rate never exceeds `requests` in any window of `period`: the APIs count in
    /// sliding windows, and a token bucket at the nominal rate would overshoot them. Every
    /// request of burst above one costs one request per window of steady rate.
    pub burst: u32,
    /// Added to `period` when spacing requests: requests reach the server with varying
    /// delays, so two sent exactly `period` apart can arrive closer than that.
    pub margin: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Whole-request timeout (connect, send, and read the body).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries after the first attempt (0: never retry here; the engine retries later).
    pub max_retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A `Retry-After` longer than this is not waited for here: the failure goes back to
    /// the engine as transient with the hint.
    pub max_retry_after: Duration,
    /// The least wait after a 429 that carries no `Retry-After` (PowerOffice Go: 1 s).
    pub min_wait_429: Duration,
}

impl Limits {
    /// The rate limiter's quota: a burst of `burst`, then one request per
    /// `(period + margin) / (requests - burst + 1)`. Requests spaced at least one interval
    /// apart after a burst of `b` put at most `b - 1 + requests - b + 1 = requests` into
    /// any window of `period + margin`, so the steady rate is
    /// `(requests - burst + 1) / (period + margin)`: the whole limit with `burst` 1.
    pub fn quota(&self) -> Quota {
        let requests = self.requests.max(1);
        let burst = self.burst.clamp(1, requests);
        let steady = requests - burst + 1;
        let interval = ((self.period + self.margin) / steady).max(Duration::from_micros(1));
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        // `with_period` only refuses a zero duration, which `max` rules out.
        Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst)
    }
}

/// The delay before retry number `attempt` (0-based): exponential from `backoff_base`,
/// capped at `backoff_max`, with "equal jitter" (between half and all of it, by `jitter`
/// in [0, 1]), and never shorter than the server's `retry_after`.
pub fn backoff_delay(
    limits: &Limits,
    attempt: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let factor = 2u32.saturating_pow(attempt.min(31));
    let exp = limits
        .backoff_base
        .saturating_mul(factor)
        .min(limits.backoff_max);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let jittered = exp.mul_f64(0.5 + jitter / 2.0);
    match retry_after {
        Some(after) => jittered.max(after),
        None => jittered,
    }
}

/// Whether a request may be sent again after a failure that leaves open whether the
/// server performed it (timeouts, dropped connections, 500s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Reads, full updates, JSON patches of values, and creates with an idempotency key.
    Safe,
    /// Creates without an idempotency key: retried here only when the server certainly
    /// did not perform them (429, 502, 503, connection refused); other transient failures
    /// go back to the engine, whose intent log reconciles them by match lookup.
    Unsafe,
}

/// A successful response, body read.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as JSON; an unreadable body of a success is transient (a cut connection or
    /// a proxy's page, not a rejection of the request).
    pub fn json(&self) -> Result<Value, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError {
            status: Some(self.status),
            kind: ErrorKind::Transient { retry_after: None },
            message: format!("malformed response body (HTTP {}): {e}", self.status),
        })
    }

    /// The body as JSON, `Null` when empty (204 and friends).
    pub fn json_or_null(&self) -> Result<Value, HttpError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            Ok(Value::Null)
        } else {
            self.json()
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A failed request: the status when there was a response, how to handle it, and a
/// message without credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpError {
    pub status: Option<u16>,
    pub kind: ErrorKind,
    pub message: String,
}

impl HttpError {
    pub fn permanent(message: impl Into<String>) -> Self {
        HttpError {
            status: None,
            kind: ErrorKind::Permanent,
            message: message.into(),
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        HttpError {
            status: None,
            kind: ErrorKind::Transient { retry_after: None },
            message: message.into(),
        }
    }

    pub fn is_status(&self, status: u16) -> bool {
        self.status == Some(status)
    }

    pub fn into_connector(self, system: &str, operation: Operation) -> ConnectorError {
        ConnectorError::new(self.kind, system, operation, self.message)
    }
}

/// A connector failure met while preparing a request (a token that cannot be had), carried
/// through the HTTP layer unchanged.
impl From<ConnectorError> for HttpError {
    fn from(error: ConnectorError) -> Self {
        HttpError {
            status: None,
            kind: error.kind,
            message: error.message,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Error codes the APIs answer for conditions that pass (Chargebee `api_error_code`s of
/// locks, maintenance and limits; WebCRM's and ProblemDetails' throttling types), whatever
/// the status says.
const TRANSIENT_CODES: [&str; 8] = [
    "lock_timeout",
    "site_not_ready",
    "site_read_only_mode",
    "internal_temporary_error",
    "api_request_limit_exceeded",
    "too_many_requests",
    "TooManyRequestsException",
    "ServiceUnavailableException",
];

/// Whether an error body names a transient condition ([`TRANSIENT_CODES`]).
fn transient_code(body: &[u8]) -> bool {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    ["api_error_code", "error_code", "Type", "type", "error"]
        .iter()
        .filter_map(|k| map.get(*k).and_then(Value::as_str))
        .any(|code| TRANSIENT_CODES.contains(&code))
}

/// Maps a non-success response to an error: 408, 429 and 5xx, and bodies naming a
/// transient condition, are transient (with the server's retry hint); everything else is
/// permanent.
pub fn classify(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    min_wait_429: Duration,
) -> HttpError {
    let transient = status == 408
        || status == 429
        || (500..=599).contains(&status)
        || ((400..500).contains(&status) && transient_code(body));
    let kind = if transient {
        let mut hint = retry_after(headers, body);
        if status == 429 && hint.is_none() && !min_wait_429.is_zero() {
            hint = Some(min_wait_429);
        }
        ErrorKind::Transient { retry_after: hint }
    } else {
        ErrorKind::Permanent
    };
    HttpError {
        status: Some(status),
        kind,
        message: format!("HTTP {status}: {}", error_text(body)),
    }
}

/// The server's retry hint: `Retry-After` in seconds or as an HTTP date, else the
/// `RetryAfterSeconds` member of a JSON body (WebCRM).
pub fn retry_after(headers: &HeaderMap, body: &[u8]) -> Option<Duration> {
    let header = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if let Some(text) = header {
        if let Ok(secs) = text.parse::<f64>()
            && secs.is_finite()
            && secs >= 0.0
        {
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
        if let Ok(date) = chrono::DateTime::parse_from_rfc2822(text) {
            let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
            return Some(wait.to_std().unwrap_or(Duration::ZERO));
        }
    }
    let body: Value = serde_json::from_slice(body).ok()?;
    let secs = body
        .get("RetryAfterSeconds")
        .or_else(|| body.get("retryAfterSeconds"))?;
    let secs = secs
        .as_f64()
        .or_else(|| secs.as_str().and_then(|s| s.trim().parse().ok()))?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// A short description of an error body: the APIs' message members (Chargebee `message`,
/// ProblemDetails `title`/`detail`, WebCRM `Message`, REST `error`/`message`), else the
/// start of the body.
pub fn error_text(body: &[u8]) -> String {
    const KEYS: [&str; 9] = [
        "message",
        "Message",
        "title",
        "detail",
        "error",
        "error_msg",
        "api_error_code",
        "param",
        "Type",
    ];
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        let parts: Vec<String> = KEYS
            .iter()
            .filter_map(|k| match map.get(*k) {
                Some(Value::String(s)) if !s.is_empty() => Some(format!("{k}: {s}")),
                Some(v @ Value::Number(_)) => Some(format!("{k}: {v}")),
                _ => None,
            })
            .collect();
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    let mut cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// One API's client. Cheap to share behind an `Arc`.
pub struct HttpClient {
    system: String,
    client: Client,
    limiter: DefaultDirectRateLimiter,
    permits: Semaphore,
    limits: Limits,
    secrets: Vec<Secret>,
    tokens: Mutex<Vec<Secret>>,
    /// After a 429 every request of this client waits until then (the limit is per key,
    /// not per request).
    paused_until: Mutex<Option<Instant>>,
    attempts: AtomicU64,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("system", &self.system)
            .field("limits", &self.limits)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .finish_non_exhaustive()
    }
}

/// Tokens kept for redaction (the newest; older ones have expired).
const KEPT_TOKENS: usize = 4;

impl HttpClient {
    /// A client for `system` with these limits; `secrets` are redacted from every message.
    pub fn new(system: &str, limits: Limits, secrets: Vec<Secret>) -> Result<Self, String> {
        let client = Client::builder()
            .use_rustls_tls()
            .timeout(limits.timeout)
            .connect_timeout(limits.connect_timeout)
            .user_agent(concat!("flowgen/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpClient {
            system: system.to_string(),
            client,
            limiter: RateLimiter::direct(limits.quota()),
            permits: Semaphore::new(limits.concurrency.max(1)),
            limits,
            secrets: secrets
                .into_iter()
                .filter(|s| !s.expose().is_empty())
                .collect(),
            tokens: Mutex::new(Vec::new()),
            paused_until: Mutex::new(None),
            attempts: AtomicU64::new(0),
        })
    }

    pub fn system(&self) -> &str {
        &self.system
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Requests sent so far (every attempt counts).
    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }

    /// Registers a token obtained at run time for redaction.
    pub fn add_secret(&self, token: &Secret) {
        if token.expose().is_empty() {
            return;
        }
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.push(token.clone());
        let excess = tokens.len().saturating_sub(KEPT_TOKENS);
        tokens.drain(..excess);
    }

    /// `text` with every known secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            out = out.replace(secret.expose(), "***");
        }
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        for token in tokens.iter() {
            out = out.replace(token.expose(), "***");
        }
        out
    }

    /// A connector error from an HTTP error, redacted.
    pub fn error(&self, error: HttpError, operation: Operation) -> ConnectorError {
        let message = self.redact(&error.message);
        ConnectorError::new(error.kind, &self.system, operation, message)
    }

    /// Sends the request `build` makes (once per attempt), within the rate and concurrency
    /// limits, retrying transient failures as `replay` allows. Success is any 2xx.
    pub async fn send(
        &self,
        replay: Replay,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<HttpResponse, HttpError> {
        let mut attempt = 0u32;
        loop {
            let (error, surely_not_performed) = match self.attempt(&build).await {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            let ErrorKind::Transient { retry_after } = error.kind else {
                return Err(self.redacted(error));
            };
            if attempt >= self.limits.max_retries
                || (replay == Replay::Unsafe && !surely_not_performed)
                || retry_after.is_some_and(|after| after > self.limits.max_retry_after)
            {
                return Err(self.redacted(error));
            }
            if error.status == Some(429)
                && let Some(after) = retry_after
            {
                let until = Instant::now() + after;
                let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
                *paused = Some(paused.map_or(until, |p| p.max(until)));
            }
            let delay = backoff_delay(&self.limits, attempt, retry_after, rand::random::<f64>());
            tracing::debug!(
                system = %self.system,
                attempt = attempt + 1,
                delay_ms = delay.as_millis() as u64,
                error = %self.redact(&error.message),
                "retrying request"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// [`Self::send`] with a bearer token: `token` gives the current one (renewing it when
    /// due), and a 401 answer makes `invalidate` forget it and the request go once more
    /// with a fresh one. `build` adds the token to the request.
    pub async fn send_authorized<T, TF, I, IF>(
        &self,
        replay: Replay,
        token: T,
        invalidate: I,
        build: impl Fn(&Client, &Secret) -> RequestBuilder,
    ) -> Result<HttpResponse, HttpError>
    where
        T: Fn() -> TF,
        TF: Future<Output = Result<Secret, HttpError>>,
        I: Fn(Secret) -> IF,
        IF: Future<Output = ()>,
    {
        let mut renewed = false;
        loop {
            let current = token().await?;
            match self.send(replay, |c| build(c, &current)).await {
                // A refused token means the request was not performed: sending it again
                // is safe for every kind of request.
                Err(e) if e.is_status(401) && !renewed => {
                    tracing::debug!(system = %self.system, "token refused; renewing it once");
                    invalidate(current).await;
                    renewed = true;
                }
                other => return other,
            }
        }
    }

    fn redacted(&self, mut error: HttpError) -> HttpError {
        error.message = self.redact(&error.message);
        error
    }

    /// One attempt. On failure, also whether the server certainly did not perform it.
    async fn attempt(
        &self,
        build: &impl Fn(&Client) -> RequestBuilder,
    ) -> Result<HttpResponse, (HttpError, bool)> {
        let paused = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = paused {
            tokio::time::sleep_until(until).await;
        }
        // The semaphore is never closed, so acquiring fails only if it were.
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| (HttpError::transient("the connector is shutting down"), true))?;
        self.limiter.until_ready().await;
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let response = match build(&self.client).send().await {
            Ok(response) => response,
            Err(e) => {
                let what = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "could not connect"
                } else {
                    "request failed"
                };
                let error = HttpError::transient(format!("{what}: {}", error_chain(&e)));
                return Err((error, e.is_connect() && !e.is_timeout()));
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            Err(e) => {
                let error = HttpError {
                    status: Some(status),
                    kind: ErrorKind::Transient { retry_after: None },
                    message: format!(
                        "reading the response body failed (HTTP {status}): {}",
                        error_chain(&e)
                    ),
                };
                return Err((error, false));
            }
        };
        if (200..300).contains(&status) {
            // A cut or garbled JSON body is a failure of the transfer, retried like one
            // (checked without building the value; the connector parses it once).
            if expects_json(&headers)
                && !body.iter().all(u8::is_ascii_whitespace)
                && let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&body)
            {
                let error = HttpError {
                    status: Some(status),
                    kind: ErrorKind::Transient { retry_after: None },
                    message: format!("malformed response body (HTTP {status}): {e}"),
                };
                return Err((error, false));
            }
            return Ok(HttpResponse {
                status,
                headers,
                body,
            });
        }
        let error = classify(status, &headers, &body, self.limits.min_wait_429);
        let surely_not_performed = matches!(status, 429 | 502 | 503);
        Err((error, surely_not_performed))
    }
}

/// Whether a body should be JSON: said so, or not said at all.
fn expects_json(headers: &HeaderMap) -> bool {
    match headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(kind) => kind.contains("json"),
    }
}

/// An error with its sources (reqwest's own message is terse: "error sending request").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn limits() -> Limits {
        Limits {
            requests: 10,
            period: Duration::from_secs(1),
            burst: 1,
            margin: Duration::ZERO,
            concurrency: 2,
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            max_retries: 3,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(60),
            min_wait_429: Duration::ZERO,
        }
    }

    #[test]
    fn secret_never_prints() {
        let secret = Secret::new("hunter2-key");
        assert_eq!(format!("{secret}"), "***");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{:?}", Some(secret.clone())).contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2-key");
    }

    #[test]
    fn client_redacts_secrets_and_tokens() {
        let client = HttpClient::new("x", limits(), vec![Secret::new("k3y"), Secret::new("")])
            .expect("client");
        client.add_secret(&Secret::new("tok-1"));
        let text = client.redact("key k3y token tok-1 end");
        assert_eq!(text, "key *** token *** end");
        let error = client.error(HttpError::permanent("echo k3y"), Operation::Get);
        assert!(!error.to_string().contains("k3y"), "{error}");
        assert!(!format!("{client:?}").contains("k3y"));
        for i in 0..10 {
            client.add_secret(&Secret::new(format!("t{i}")));
        }
        assert_eq!(client.redact("t9"), "***");
    }

    #[test]
    fn statuses_map_to_kinds() {
        let none = HeaderMap::new();
        for status in [400u16, 401, 403, 404, 409, 422] {
            assert_eq!(
                classify(status, &none, b"{}", Duration::ZERO).kind,
                ErrorKind::Permanent,
                "{status}"
            );
        }
        let lock = br#"{"message":"try again","api_error_code":"lock_timeout"}"#;
        assert!(matches!(
            classify(409, &none, lock, Duration::ZERO).kind,
            ErrorKind::Transient { .. }
        ));
        let throttled = br#"{"Message":"slow","Type":"TooManyRequestsException"}"#;
        assert!(matches!(
            classify(400, &none, throttled, Duration::ZERO).kind,
            ErrorKind::Transient { .. }
        ));
        let invalid = br#"{"message":"bad","api_error_code":"param_wrong_value"}"#;
        assert_eq!(
            classify(400, &none, invalid, Duration::ZERO).kind,
            ErrorKind::Permanent
        );
        for status in [408u16, 429, 500, 502, 503, 504] {
            assert!(
                matches!(
                    classify(status, &none, b"", Duration::ZERO).kind,
                    ErrorKind::Transient { .. }
                ),
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_from_header_body_and_minimum() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, b""), Some(Duration::from_secs(7)));
        let body = br#"{"RetryAfterSeconds": 14, "Message": "slow down", "Type": "TooManyRequestsException"}"#;
        assert_eq!(
            retry_after(&HeaderMap::new(), body),
            Some(Duration::from_secs(14))
        );
        let error = classify(429, &HeaderMap::new(), body, Duration::ZERO);
        assert_eq!(
            error.kind,
            ErrorKind::Transient {
                retry_after: Some(Duration::from_secs(14))
            }
        );
        assert!(error.message.contains("slow down"), "{}", error.message);
        let bare = classify(429, &HeaderMap::new(), b"", Duration::from_secs(1));
        assert_eq!(
            bare.kind,
            ErrorKind::Transient {
                retry_after: Some(Duration::from_secs(1))
            }
        );
        let mut past = HeaderMap::new();
        past.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&past, b""), Some(Duration::ZERO));
        let mut junk = HeaderMap::new();
        junk.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&junk, b"not json"), None);
    }

    #[test]
    fn error_text_prefers_api_messages() {
        let chargebee = br#"{"message":"customer not found","type":"invalid_request","api_error_code":"resource_not_found"}"#;
        let text = error_text(chargebee);
        assert!(
            text.contains("customer not found") && text.contains("resource_not_found"),
            "{text}"
        );
        let problem =
            br#"{"type":"about:blank","title":"Not Found","status":404,"detail":"no customer 7"}"#;
        assert!(error_text(problem).contains("no customer 7"));
        let long = "x".repeat(1000);
        assert!(error_text(long.as_bytes()).chars().count() <= 301);
        assert_eq!(error_text(b""), "(empty body)");
    }

    #[test]
    fn malformed_success_body_is_transient() {
        let response = HttpResponse {
            status: 200,
            headers: HeaderMap::new(),
            body: b"{\"list\": [".to_vec(),
        };
        let error = response.json().expect_err("malformed");
        assert!(matches!(error.kind, ErrorKind::Transient { .. }));
        let empty = HttpResponse {
            status: 204,
            headers: HeaderMap::new(),
            body: Vec::new(),
        };
        assert_eq!(empty.json_or_null().expect("empty"), Value::Null);
    }

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        let l = limits();
        assert_eq!(backoff_delay(&l, 0, None, 1.0), Duration::from_millis(100));
        assert_eq!(backoff_delay(&l, 0, None, 0.0), Duration::from_millis(50));
        assert_eq!(backoff_delay(&l, 2, None, 1.0), Duration::from_millis(400));
        assert_eq!(backoff_delay(&l, 30, None, 1.0), Duration::from_secs(2));
        assert_eq!(
            backoff_delay(&l, 0, Some(Duration::from_secs(14)), 0.3),
            Duration::from_secs(14)
        );
        assert_eq!(
            backoff_delay(&l, 3, Some(Duration::from_millis(10)), 1.0),
            Duration::from_millis(800)
        );
        assert_eq!(
            backoff_delay(&l, 1, None, f64::NAN),
            Duration::from_millis(100)
        );
    }

    proptest::proptest! {
        #[test]
        fn backoff_is_bounded(attempt in 0u32..100, jitter in 0.0f64..=1.0, after_ms in proptest::option::of(0u64..100_000)) {
            let l = limits();
            let after = after_ms.map(Duration::from_millis);
            let delay = backoff_delay(&l, attempt, after, jitter);
            proptest::prop_assert!(delay <= l.backoff_max.max(after.unwrap_or_default()));
            proptest::prop_assert!(delay >= after.unwrap_or_default());
            proptest::prop_assert!(delay >= l.backoff_base / 2 || after.is_some_and(|a| delay >= a));
        }
    }

    #[test]
    fn quota_keeps_sliding_windows() {
        let mut l = limits();
        l.requests = 150;
        l.period = Duration::from_secs(60);
        l.burst = 15;
        let quota = l.quota();
        assert_eq!(quota.burst_size().get(), 15);
        // 15 at once, then one every 60/136 s: 14 + 136 = 150 in any minute.
        assert_eq!(quota.replenish_interval(), Duration::from_secs(60) / 136);
        l.burst = 1;
        l.margin = Duration::from_millis(600);
        // No burst: one every 60.6/150 s, the whole limit but the margin.
        assert_eq!(
            l.quota().replenish_interval(),
            Duration::from_millis(60_600) / 150
        );
        l.requests = 1;
        l.burst = 5;
        assert_eq!(l.quota().burst_size().get(), 1);
    }
}
