//! The middleware in front of every API: counts the request, adds latency, enforces the
//! rate limit, and injects faults (5xx, 429 with `Retry-After`, malformed bodies, dropped
//! connections) from the deterministic fault sequence.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Notify;

use crate::config::Api;
use crate::http::{bearer, header_str};
use crate::ratelimit::{Verdict, retry_after_secs};
use crate::state::ApiCtx;
use crate::stats::Injected;
use crate::{chargebee, poweroffice, rest, webcrm};

/// Put into every request by the connection loop: notifying it makes the loop drop the
/// connection without answering.
#[derive(Clone, Debug)]
pub(crate) struct ConnDrop(pub Arc<Notify>);

/// What the rate limit of `api` is keyed by, from the request headers.
fn rate_key(api: Api, headers: &HeaderMap) -> Option<String> {
    match api {
        // One site per sandbox.
        Api::Chargebee => Some("site".into()),
        Api::PowerOffice => Some(
            header_str(headers, "ocp-apim-subscription-key")
                .unwrap_or("")
                .to_string(),
        ),
        // Login and refresh carry no token yet: WebCRM limits per token.
        Api::Webcrm => bearer(headers).map(str::to_string),
        Api::Rest => Some(bearer(headers).unwrap_or("").to_string()),
    }
}

/// `/customerp/contacts/17` → `/customerp/contacts/{id}`.
fn rest_endpoint(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [system, collection] => Some(format!("/{system}/{collection}")),
        [system, collection, _] => Some(format!("/{system}/{collection}/{{id}}")),
        _ => None,
    }
}

/// A 429 in the API's own shape.
pub(crate) fn too_many_requests(api: Api, retry_after: Option<u64>) -> Response {
    match api {
        Api::Chargebee => chargebee::too_many_requests(retry_after),
        Api::PowerOffice => poweroffice::too_many_requests(retry_after),
        Api::Webcrm => webcrm::too_many_requests(retry_after.unwrap_or(1)),
        Api::Rest => rest::too_many_requests(retry_after),
    }
}

fn server_error(api: Api, code: u16) -> Response {
    match api {
        Api::Chargebee => chargebee::server_error(code),
        Api::PowerOffice => poweroffice::server_error(code),
        Api::Webcrm => webcrm::server_error(code),
        Api::Rest => rest::server_error(code),
    }
}

pub(crate) async fn guard(State(ctx): State<ApiCtx>, request: Request, next: Next) -> Response {
    let shared = &ctx.shared;
    let api = ctx.api;
    let route = match api {
        // One route serves every REST system and collection: count them apart.
        Api::Rest => rest_endpoint(request.uri().path()),
        _ => request
            .extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_string()),
    };
    shared.stats.request(
        api,
        format!(
            "{} {}",
            request.method(),
            route.as_deref().unwrap_or("(unmatched)")
        ),
    );

    let faults = shared.faults_of(api);
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
        shared
            .stats
            .injected(api, Injected::Latency(faults.latency));
    }

    if let Some(key) = rate_key(api, request.headers()) {
        let limits = &shared.config.rate_limits;
        if let Verdict::Limited { retry_after } =
            shared
                .limiter
                .check(api, &key, limits.of(api), limits.enforce, Instant::now())
        {
            shared.stats.rate_limited(api);
            let secs = retry_after_secs(retry_after);
            let send = api != Api::Chargebee || limits.chargebee_retry_after;
            let response = too_many_requests(api, send.then_some(secs));
            shared.stats.status(api, response.status().as_u16());
            return response;
        }
    }

    if faults.reads_only && request.method() != axum::http::Method::GET {
        let response = next.run(request).await;
        shared.stats.status(api, response.status().as_u16());
        return response;
    }
    if faults.drop_after_write > 0.0
        && request.method() != axum::http::Method::GET
        && !is_auth(request.uri().path())
        && shared.roll(api) < faults.drop_after_write
    {
        return drop_connection(&ctx, request, next, true).await;
    }
    let roll = shared.roll(api);
    let mut threshold = faults.drop_connection;
    if roll < threshold {
        // Half the drops happen before the request is handled, half after: then the
        // change is made but its answer is lost, the case that tests duplicate avoidance.
        let after = roll >= faults.drop_connection / 2.0;
        return drop_connection(&ctx, request, next, after).await;
    }
    threshold += faults.error_5xx;
    if roll < threshold {
        shared.stats.injected(api, Injected::Error5xx);
        let code = [500, 502, 503][usize::try_from((roll * 1e6) as u64 % 3).unwrap_or(0)];
        let response = server_error(api, code);
        shared.stats.status(api, response.status().as_u16());
        return response;
    }
    threshold += faults.too_many_requests;
    if roll < threshold {
        shared.stats.injected(api, Injected::TooManyRequests);
        let response = too_many_requests(api, Some(faults.retry_after_secs));
        shared.stats.status(api, response.status().as_u16());
        return response;
    }
    threshold += faults.malformed;
    let malform = roll < threshold;

    let response = next.run(request).await;
    shared.stats.status(api, response.status().as_u16());
    if !malform {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    if bytes.is_empty() || parts.status == StatusCode::NO_CONTENT {
        return Response::from_parts(parts, Body::from(bytes));
    }
    shared.stats.injected(api, Injected::Malformed);
    // A proper prefix of a JSON object or array is never valid JSON; a scalar body (a
    // WebCRM id) cut short could still parse, so it is replaced instead.
    let truncated = if matches!(bytes.first(), Some(b'{' | b'[')) {
        bytes.slice(..bytes.len() / 2)
    } else {
        axum::body::Bytes::from_static(b"{\"malformed")
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(truncated))
}

/// Token requests (PowerOffice Go's `/OAuth/Token`, WebCRM's `/Auth/…`) change no data.
fn is_auth(path: &str) -> bool {
    let path = path.to_ascii_lowercase();
    path.contains("/oauth/") || path.contains("/auth/")
}

/// Closes the connection without an answer, after handling the request when `after` (the
/// change is made, its answer lost) or before.
async fn drop_connection(ctx: &ApiCtx, request: Request, next: Next, after: bool) -> Response {
    let api = ctx.api;
    let conn = request.extensions().get::<ConnDrop>().cloned();
    if after {
        let response = next.run(request).await;
        drop(response);
    }
    ctx.shared.stats.injected(
        api,
        if after {
            Injected::DroppedAfterHandling
        } else {
            Injected::Dropped
        },
    );
    if let Some(ConnDrop(notify)) = conn {
        notify.notify_one();
        // The connection loop drops this future together with the connection.
        std::future::pending::<()>().await;
    }
    // Not served by our connection loop (cannot happen in a running sandbox).
    server_error(api, 502)
}
