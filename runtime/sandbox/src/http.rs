//! Small request/response helpers shared by the API modules.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::error::Fail;

/// Bodies larger than this are refused (the real APIs cap requests too).
pub(crate) const MAX_BODY: usize = 8 * 1024 * 1024;

/// Query pairs in order, percent-decoded.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// The first value of `name` (compared with `eq`).
pub(crate) fn param<'a>(
    pairs: &'a [(String, String)],
    name: &str,
    case_insensitive: bool,
) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| {
            if case_insensitive {
                k.eq_ignore_ascii_case(name)
            } else {
                k == name
            }
        })
        .map(|(_, v)| v.as_str())
}

pub(crate) async fn read_body(body: Body) -> Result<Bytes, Fail> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        Fail::bad_request(format!(
            "the request body could not be read or exceeds {MAX_BODY} bytes"
        ))
    })
}

pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, Fail> {
    serde_json::from_slice(bytes)
        .map_err(|e| Fail::bad_request(format!("the body is not valid JSON: {e}")))
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The media type of the body, lower case, without parameters.
pub(crate) fn content_type(headers: &HeaderMap) -> String {
    header_str(headers, header::CONTENT_TYPE.as_str())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// `Authorization: Basic …` as (user, password).
pub(crate) fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = header_str(headers, header::AUTHORIZATION.as_str())?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':').unwrap_or((text.as_str(), ""));
    Some((user.to_string(), password.to_string()))
}

/// `Authorization: Bearer …`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = header_str(headers, header::AUTHORIZATION.as_str())?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Constant-time-ish comparison of secrets (length leaks, contents do not).
pub(crate) fn secret_eq(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

pub(crate) fn json(status: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

pub(crate) fn with_header(mut response: Response, name: &'static str, value: String) -> Response {
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(name, v);
    }
    response
}

pub(crate) fn empty(status: StatusCode) -> Response {
    status.into_response()
}

pub(crate) fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer_are_parsed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjo="),
        );
        assert_eq!(basic_auth(&h), Some(("user".into(), String::new())));
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        assert_eq!(basic_auth(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_auth(&h), None);
    }

    #[test]
    fn query_pairs_decode() {
        let q = query_pairs(Some("a=1&updated_at%5Bafter%5D=5&s=x+y"));
        assert_eq!(param(&q, "updated_at[after]", false), Some("5"));
        assert_eq!(param(&q, "S", true), Some("x y"));
        assert_eq!(param(&q, "S", false), None);
        assert!(secret_eq("abc", "abc"));
        assert!(!secret_eq("abc", "abd"));
        assert!(!secret_eq("abc", "abcd"));
    }
}
