//! The generic REST shape of the custom systems (Customerp, Customwebshop): collections at
//! `/{system}/{collection}` with offset/limit paging, `updated_since`, integer `id` and
//! `updated_at` fields, POST/PUT/PATCH/DELETE, Bearer auth, and `{"error", "message"}`
//! errors. See the crate docs for the details a generic connector is configured with.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::error::Fail;
use crate::http::{
    bearer, content_type, empty, json, parse_json, query_pairs, read_body, secret_eq, with_header,
};
use crate::poweroffice::parse_datetime;
use crate::schema::{Access, TableId, Ty, WriteMode, fill_nulls, rest_table, write_json};
use crate::state::ApiCtx;
use crate::store::{Origin, Store};

fn error(status: u16, code: &str, message: &str, field: Option<&str>) -> Response {
    let mut body = json!({"error": code, "message": message});
    if let Some(f) = field {
        body["field"] = json!(f);
    }
    json(crate::http::status(status), &body)
}

pub(crate) fn render(fail: &Fail) -> Response {
    let m = fail.message();
    match fail {
        Fail::Unauthorized(_) => with_header(
            error(401, "unauthorized", &m, None),
            "www-authenticate",
            "Bearer".into(),
        ),
        Fail::NotFound { .. } => error(404, "not_found", &m, None),
        Fail::Invalid { param: Some(p), .. } => error(422, "validation_failed", &m, Some(p)),
        Fail::Invalid { param: None, .. } => error(400, "bad_request", &m, None),
        Fail::Duplicate { param, .. } => error(409, "conflict", &m, Some(param)),
        Fail::UnsupportedMedia(_) => error(415, "unsupported_media_type", &m, None),
        Fail::MethodNotAllowed => error(405, "method_not_allowed", &m, None),
    }
}

pub(crate) fn too_many_requests(retry_after: Option<u64>) -> Response {
    let r = error(429, "rate_limited", "Too many requests; slow down.", None);
    match retry_after {
        Some(s) => with_header(r, "retry-after", s.to_string()),
        None => r,
    }
}

pub(crate) fn server_error(code: u16) -> Response {
    match code {
        503 => error(
            503,
            "service_unavailable",
            "The service is temporarily unavailable.",
            None,
        ),
        502 => error(502, "bad_gateway", "The upstream server failed.", None),
        _ => error(
            code,
            "internal_error",
            "An unexpected error occurred.",
            None,
        ),
    }
}

fn reply(result: Result<Response, Fail>) -> Response {
    result.unwrap_or_else(|f| render(&f))
}

fn table(system: &str, collection: &str) -> Result<TableId, Fail> {
    rest_table(system, collection)
        .ok_or_else(|| Fail::not_found("collection", format!("{system}/{collection}")))
}

pub(crate) fn routes(ctx: ApiCtx) -> Router<ApiCtx> {
    Router::new()
        .route(
            "/{system}/{collection}",
            get(|State(ctx): State<ApiCtx>, Path((s, c)): Path<(String, String)>, uri: Uri| async move {
                reply(list(&ctx, &s, &c, &uri))
            })
            .post(|State(ctx): State<ApiCtx>, Path((s, c)): Path<(String, String)>, req: Request| async move {
                reply(create(&ctx, &s, &c, req).await)
            }),
        )
        .route(
            "/{system}/{collection}/{id}",
            get(|State(ctx): State<ApiCtx>, Path((s, c, id)): Path<(String, String, String)>| async move {
                reply(retrieve(&ctx, &s, &c, &id))
            })
            .put(|State(ctx): State<ApiCtx>, Path((s, c, id)): Path<(String, String, String)>, req: Request| async move {
                reply(write(&ctx, &s, &c, &id, req, true).await)
            })
            .patch(|State(ctx): State<ApiCtx>, Path((s, c, id)): Path<(String, String, String)>, req: Request| async move {
                reply(write(&ctx, &s, &c, &id, req, false).await)
            })
            .delete(|State(ctx): State<ApiCtx>, Path((s, c, id)): Path<(String, String, String)>| async move {
                reply(remove(&ctx, &s, &c, &id))
            }),
        )
        .method_not_allowed_fallback(|| async { render(&Fail::MethodNotAllowed) })
        .fallback(|uri: Uri| async move { render(&Fail::not_found("resource", uri.path())) })
        .layer(axum::middleware::from_fn_with_state(ctx, authorize))
}

async fn authorize(State(ctx): State<ApiCtx>, request: Request, next: Next) -> Response {
    let expected = &ctx.shared.config.credentials.rest_token;
    if !bearer(request.headers()).is_some_and(|t| secret_eq(t, expected)) {
        return render(&Fail::Unauthorized(
            "A valid bearer token is required.".into(),
        ));
    }
    next.run(request).await
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn list(ctx: &ApiCtx, system: &str, collection: &str, uri: &Uri) -> Result<Response, Fail> {
    let t = table(system, collection)?;
    let def = t.def();
    let mut offset = 0usize;
    let mut limit = 100usize;
    let mut since = None;
    let mut by_updated = false;
    let mut equals: Vec<(&'static str, String)> = Vec::new();
    for (k, v) in query_pairs(uri.query()) {
        match k.as_str() {
            "offset" => {
                offset = v.parse().map_err(|_| {
                    Fail::bad_request(format!("offset must be a non-negative integer, not `{v}`"))
                })?
            }
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        Fail::bad_request(format!("limit must be between 1 and 1000, not `{v}`"))
                    })?;
            }
            "updated_since" => {
                since = Some(parse_datetime(&v).ok_or_else(|| {
                    Fail::bad_request(format!(
                        "updated_since must be an RFC 3339 date-time, not `{v}`"
                    ))
                })?);
            }
            "sort" => {
                by_updated = match v.as_str() {
                    "id" => false,
                    "updated_at" => true,
                    _ => {
                        return Err(Fail::bad_request(format!(
                            "sort must be `id` or `updated_at`, not `{v}`"
                        )));
                    }
                };
            }
            other => match def.field(other) {
                Some(f) if !matches!(f.ty, Ty::Obj(_) | Ty::Arr(_)) => equals.push((f.name, v)),
                _ => {
                    return Err(Fail::bad_request(format!(
                        "unknown query parameter `{other}` (paging: offset, limit; filters: updated_since or a field name)"
                    )));
                }
            },
        }
    }
    let store = ctx.shared.store();
    let mut rows: Vec<(i64, u64, &Map<String, Value>)> = store
        .table(t)
        .live()
        .filter(|r| since.is_none_or(|s| r.updated_ms >= s))
        .filter(|r| {
            equals
                .iter()
                .all(|(f, want)| r.data.get(*f).and_then(text).as_deref() == Some(want.as_str()))
        })
        .map(|r| (r.updated_ms, r.seq, &r.data))
        .collect();
    if by_updated {
        rows.sort_by_key(|(u, s, _)| (*u, *s));
    }
    let total = rows.len();
    let data: Vec<&Map<String, Value>> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(_, _, d)| *d)
        .collect();
    let end = offset.saturating_add(data.len());
    let next = (end < total).then_some(end);
    Ok(json(
        StatusCode::OK,
        &json!({"data": data, "offset": offset, "limit": limit, "total": total, "next_offset": next}),
    ))
}

fn key(t: TableId, id: &str) -> Result<String, Fail> {
    Store::normalize_key(t, id).ok_or_else(|| Fail::not_found(t.def().label(), id))
}

fn retrieve(ctx: &ApiCtx, system: &str, collection: &str, id: &str) -> Result<Response, Fail> {
    let t = table(system, collection)?;
    let k = key(t, id)?;
    let store = ctx.shared.store();
    let row = store
        .table(t)
        .get_live(&k)
        .ok_or_else(|| Fail::not_found(t.def().label(), id))?;
    Ok(json(StatusCode::OK, &Value::Object(row.data.clone())))
}

async fn body_object(request: Request) -> Result<Map<String, Value>, Fail> {
    let ct = content_type(request.headers());
    if ct != "application/json" {
        return Err(Fail::UnsupportedMedia(format!(
            "Content-Type must be application/json, not `{ct}`"
        )));
    }
    match parse_json(&read_body(request.into_body()).await?)? {
        Value::Object(m) => Ok(m),
        other => Err(Fail::bad_request(format!(
            "the body must be a JSON object, not {}",
            crate::schema::kind(&other)
        ))),
    }
}

async fn create(
    ctx: &ApiCtx,
    system: &str,
    collection: &str,
    request: Request,
) -> Result<Response, Fail> {
    let t = table(system, collection)?;
    let input = body_object(request).await?;
    let def = t.def();
    let mut data = Map::new();
    write_json(def, def.fields, &input, &mut data, WriteMode::Create, "")?;
    let mut store = ctx.shared.store();
    let row = store.create(t, data, Origin::Live)?;
    let location = format!("/{system}/{collection}/{}", row.key);
    Ok(with_header(
        json(StatusCode::CREATED, &Value::Object(row.data.clone())),
        "location",
        location,
    ))
}

async fn write(
    ctx: &ApiCtx,
    system: &str,
    collection: &str,
    id: &str,
    request: Request,
    full: bool,
) -> Result<Response, Fail> {
    let t = table(system, collection)?;
    let k = key(t, id)?;
    let input = body_object(request).await?;
    let def = t.def();
    let mut store = ctx.shared.store();
    let old = store
        .table(t)
        .get_live(&k)
        .ok_or_else(|| Fail::not_found(def.label(), id))?
        .data
        .clone();
    let mut data = if full {
        old.into_iter()
            .filter(|(name, _)| {
                def.field(name)
                    .is_some_and(|f| f.access == Access::ReadOnly)
            })
            .collect()
    } else {
        old
    };
    write_json(def, def.fields, &input, &mut data, WriteMode::Update, "")?;
    fill_nulls(def.fields, &mut data);
    let row = store.update(t, &k, |row| {
        *row = data;
        Ok(())
    })?;
    Ok(json(StatusCode::OK, &Value::Object(row.data.clone())))
}

fn remove(ctx: &ApiCtx, system: &str, collection: &str, id: &str) -> Result<Response, Fail> {
    let t = table(system, collection)?;
    let k = key(t, id)?;
    ctx.shared.store().delete(t, &k)?;
    Ok(empty(StatusCode::NO_CONTENT))
}
