//! PowerOffice Go API v2: client-credentials tokens bound to the subscription key, bare
//! JSON arrays (204 when empty), `PageNumber`/`PageSize`, `lastChangedDateTimeOffsetGreaterThan`,
//! 201 on create, RFC 6902 JSON Patch, sales orders created complete with their lines, and
//! RFC 7807 ProblemDetails errors. See the crate docs for the routes.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDateTime};
use serde_json::{Map, Value, json};

use crate::error::Fail;
use crate::http::{
    basic_auth, bearer, content_type, empty, header_str, json, param, parse_json, query_pairs,
    read_body, secret_eq, with_header,
};
use crate::schema::{Access, TableId, Ty, WriteMode, find_field, write_json};
use crate::state::ApiCtx;
use crate::store::{Origin, Store};

const SUBSCRIPTION_HEADER: &str = "ocp-apim-subscription-key";

fn type_uri(status: u16) -> &'static str {
    match status {
        400 => "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        401 => "https://tools.ietf.org/html/rfc9110#section-15.5.2",
        404 => "https://tools.ietf.org/html/rfc9110#section-15.5.5",
        405 => "https://tools.ietf.org/html/rfc9110#section-15.5.6",
        409 => "https://tools.ietf.org/html/rfc9110#section-15.5.10",
        415 => "https://tools.ietf.org/html/rfc9110#section-15.5.16",
        429 => "https://tools.ietf.org/html/rfc6585#section-4",
        502 => "https://tools.ietf.org/html/rfc9110#section-15.6.3",
        503 => "https://tools.ietf.org/html/rfc9110#section-15.6.4",
        _ => "https://tools.ietf.org/html/rfc9110#section-15.6.1",
    }
}

fn problem(
    status: u16,
    title: &str,
    detail: &str,
    instance: Option<&str>,
    errors: Option<Value>,
) -> Response {
    let mut body = json!({
        "type": type_uri(status), "title": title, "status": status, "detail": detail, "instance": instance,
    });
    if let Some(e) = errors {
        body["errors"] = e;
    }
    let mut r = json(crate::http::status(status), &body);
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/problem+json; charset=utf-8"),
    );
    r
}

pub(crate) fn render(fail: &Fail, instance: Option<&str>) -> Response {
    match fail {
        Fail::Unauthorized(m) => with_header(
            problem(401, "Unauthorized", m, instance, None),
            "www-authenticate",
            "Bearer error=\"invalid_token\"".into(),
        ),
        Fail::NotFound { .. } => problem(404, "Not Found", &fail.message(), instance, None),
        Fail::Invalid { param, message } => {
            let errors = param.as_ref().map(|p| json!({ p.as_str(): [message] }));
            problem(
                400,
                "One or more validation errors occurred.",
                message,
                instance,
                errors,
            )
        }
        Fail::Duplicate { .. } => problem(409, "Conflict", &fail.message(), instance, None),
        Fail::UnsupportedMedia(m) => problem(415, "Unsupported Media Type", m, instance, None),
        Fail::MethodNotAllowed => {
            problem(405, "Method Not Allowed", &fail.message(), instance, None)
        }
    }
}

pub(crate) fn too_many_requests(retry_after: Option<u64>) -> Response {
    let secs = retry_after.unwrap_or(1);
    let r = problem(
        429,
        "Too Many Requests",
        &format!("Rate limit is exceeded. Try again in {secs} seconds."),
        None,
        None,
    );
    with_header(r, "retry-after", secs.to_string())
}

pub(crate) fn server_error(code: u16) -> Response {
    let title = match code {
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "An error occurred while processing your request.",
    };
    problem(
        code,
        title,
        "The server failed to process the request. Try again later.",
        None,
        None,
    )
}

fn reply(result: Result<Response, Fail>, uri: &Uri) -> Response {
    result.unwrap_or_else(|f| render(&f, Some(uri.path())))
}

const SIMPLE: [(&str, TableId); 4] = [
    ("Customers", TableId::PoCustomer),
    ("Employees", TableId::PoEmployee),
    ("Departments", TableId::PoDepartment),
    ("Products", TableId::PoProduct),
];

pub(crate) fn routes(ctx: ApiCtx) -> Router<ApiCtx> {
    let mut v2 = Router::new();
    for (name, table) in SIMPLE {
        v2 = v2
            .route(
                &format!("/v2/{name}"),
                get(move |State(ctx): State<ApiCtx>, uri: Uri| async move {
                    reply(list(&ctx, table, None, &uri), &uri)
                })
                .post(
                    move |State(ctx): State<ApiCtx>, uri: Uri, req: Request| async move {
                        reply(create(&ctx, table, req, Parent::None).await, &uri)
                    },
                ),
            )
            .route(
                &format!("/v2/{name}/{{id}}"),
                get(
                    move |State(ctx): State<ApiCtx>, uri: Uri, Path(id): Path<String>| async move {
                        reply(retrieve(&ctx, table, &id, None), &uri)
                    },
                )
                .patch(
                    move |State(ctx): State<ApiCtx>,
                          uri: Uri,
                          Path(id): Path<String>,
                          req: Request| async move {
                        reply(patch(&ctx, table, &id, None, req).await, &uri)
                    },
                )
                .delete(
                    move |State(ctx): State<ApiCtx>, uri: Uri, Path(id): Path<String>| async move {
                        reply(remove(&ctx, table, &id), &uri)
                    },
                ),
            );
    }
    let cp = TableId::PoContactPerson;
    v2 = v2
        .route(
            "/v2/ContactPersons",
            get(move |State(ctx): State<ApiCtx>, uri: Uri| async move {
                reply(list(&ctx, cp, None, &uri), &uri)
            })
            .post(
                move |State(ctx): State<ApiCtx>, uri: Uri, req: Request| async move {
                    reply(create(&ctx, cp, req, Parent::None).await, &uri)
                },
            ),
        )
        .route(
            "/v2/ContactPersons/{contact}",
            // A customer's contact persons, or (for an id that is not a customer's) one
            // contact person by its own id: both readings of the API (APIS.md).
            get(
                move |State(ctx): State<ApiCtx>, uri: Uri, Path(contact): Path<String>| async move {
                    let key = parent_key(TableId::PoCustomer, &contact);
                    if is_customer(&ctx, &key) {
                        reply(list(&ctx, cp, Some(("ContactId", key)), &uri), &uri)
                    } else {
                        reply(retrieve(&ctx, cp, &contact, None), &uri)
                    }
                },
            )
            .patch(
                move |State(ctx): State<ApiCtx>,
                      uri: Uri,
                      Path(id): Path<String>,
                      req: Request| async move {
                    reply(patch(&ctx, cp, &id, None, req).await, &uri)
                },
            )
            .post(
                move |State(ctx): State<ApiCtx>,
                      uri: Uri,
                      Path(contact): Path<String>,
                      req: Request| async move {
                    reply(create(&ctx, cp, req, Parent::Contact(contact)).await, &uri)
                },
            ),
        )
        .route(
            "/v2/ContactPersons/{contact}/{id}",
            get(
                move |State(ctx): State<ApiCtx>,
                      uri: Uri,
                      Path((contact, id)): Path<(String, String)>| async move {
                    reply(
                        retrieve(
                            &ctx,
                            cp,
                            &id,
                            Some(("ContactId", parent_key(TableId::PoCustomer, &contact))),
                        ),
                        &uri,
                    )
                },
            )
            .patch(
                move |State(ctx): State<ApiCtx>,
                      uri: Uri,
                      Path((contact, id)): Path<(String, String)>,
                      req: Request| async move {
                    reply(
                        patch(
                            &ctx,
                            cp,
                            &id,
                            Some(("ContactId", parent_key(TableId::PoCustomer, &contact))),
                            req,
                        )
                        .await,
                        &uri,
                    )
                },
            ),
        );
    let so = TableId::PoSalesOrder;
    let line = TableId::PoSalesOrderLine;
    v2 = v2
        .route(
            "/v2/SalesOrders",
            get(move |State(ctx): State<ApiCtx>, uri: Uri| async move { reply(list(&ctx, so, None, &uri), &uri) }).post(
                move |State(ctx): State<ApiCtx>, uri: Uri, req: Request| async move {
                    reply(create(&ctx, so, req, Parent::None).await, &uri)
                },
            ),
        )
        .route(
            "/v2/SalesOrders/Complete",
            post(|State(ctx): State<ApiCtx>, uri: Uri, req: Request| async move { reply(complete_order(&ctx, req).await, &uri) }),
        )
        .route(
            "/v2/SalesOrders/Complete/{id}",
            get(|State(ctx): State<ApiCtx>, uri: Uri, Path(id): Path<String>| async move {
                reply(retrieve_complete(&ctx, &id), &uri)
            }),
        )
        .route(
            "/v2/SalesOrders/{id}",
            get(move |State(ctx): State<ApiCtx>, uri: Uri, Path(id): Path<String>| async move {
                reply(retrieve(&ctx, so, &id, None), &uri)
            })
            .patch(move |State(ctx): State<ApiCtx>, uri: Uri, Path(id): Path<String>, req: Request| async move {
                reply(patch(&ctx, so, &id, None, req).await, &uri)
            }),
        )
        .route(
            "/v2/SalesOrders/{id}/Lines",
            get(move |State(ctx): State<ApiCtx>, uri: Uri, Path(id): Path<String>| async move {
                reply(list_lines(&ctx, &id, &uri), &uri)
            })
            .post(move |State(ctx): State<ApiCtx>, uri: Uri, Path(id): Path<String>, req: Request| async move {
                reply(create(&ctx, line, req, Parent::Order(id)).await, &uri)
            }),
        )
        .route(
            "/v2/SalesOrders/{id}/Lines/{line}",
            get(move |State(ctx): State<ApiCtx>, uri: Uri, Path((id, l)): Path<(String, String)>| async move {
                reply(retrieve(&ctx, line, &l, Some(("SalesOrderId", parent_key(so, &id)))), &uri)
            })
            .patch(move |State(ctx): State<ApiCtx>, uri: Uri, Path((id, l)): Path<(String, String)>, req: Request| async move {
                reply(patch(&ctx, line, &l, Some(("SalesOrderId", parent_key(so, &id))), req).await, &uri)
            }),
        );
    let v2 = v2.layer(axum::middleware::from_fn_with_state(ctx, authorize));
    Router::new()
        .route("/OAuth/Token", post(token))
        .merge(v2)
        .method_not_allowed_fallback(|| async { render(&Fail::MethodNotAllowed, None) })
        .fallback(|uri: Uri| async move {
            render(&Fail::not_found("resource", uri.path()), Some(uri.path()))
        })
}

fn parent_key(table: TableId, raw: &str) -> String {
    Store::normalize_key(table, raw).unwrap_or_else(|| raw.to_string())
}

// ------------------------------------------------------------------ auth

async fn token(State(ctx): State<ApiCtx>, request: Request) -> Response {
    let creds = &ctx.shared.config.credentials;
    let oauth_error = |status: StatusCode, code: &str, description: &str| {
        json(
            status,
            &json!({"error": code, "error_description": description}),
        )
    };
    let key_ok = header_str(request.headers(), SUBSCRIPTION_HEADER)
        .is_some_and(|k| secret_eq(k, &creds.poweroffice_subscription_key));
    if !key_ok {
        return render(
            &Fail::Unauthorized("Access denied due to missing or invalid subscription key. Make sure to provide a valid key for an active subscription.".into()),
            Some("/OAuth/Token"),
        );
    }
    let client_ok = basic_auth(request.headers()).is_some_and(|(app, client)| {
        secret_eq(&app, &creds.poweroffice_application_key)
            & secret_eq(&client, &creds.poweroffice_client_key)
    });
    if !client_ok {
        return with_header(
            oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The application key or client key is wrong.",
            ),
            "www-authenticate",
            "Basic realm=\"PowerOffice Go\"".into(),
        );
    }
    let subscription = header_str(request.headers(), SUBSCRIPTION_HEADER).map(str::to_string);
    let ct = content_type(request.headers());
    let Ok(body) = read_body(request.into_body()).await else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The body could not be read.",
        );
    };
    if ct != "application/x-www-form-urlencoded" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The body must be form-encoded.",
        );
    }
    let form = query_pairs(std::str::from_utf8(&body).ok());
    if param(&form, "grant_type", false) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Use grant_type=client_credentials.",
        );
    }
    let lifetime = ctx.shared.config.poweroffice_token_lifetime;
    let access = ctx.shared.tokens().issue(ctx.api, lifetime, subscription);
    json(
        StatusCode::OK,
        &json!({"access_token": access, "token_type": "Bearer", "expires_in": lifetime.as_secs()}),
    )
}

async fn authorize(State(ctx): State<ApiCtx>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let expected = &ctx.shared.config.credentials.poweroffice_subscription_key;
    let key = header_str(request.headers(), SUBSCRIPTION_HEADER);
    if !key.is_some_and(|k| secret_eq(k, expected)) {
        return render(
            &Fail::Unauthorized("Access denied due to missing or invalid subscription key. Make sure to provide a valid key for an active subscription.".into()),
            Some(&path),
        );
    }
    let valid =
        bearer(request.headers()).is_some_and(|t| ctx.shared.tokens().valid(ctx.api, t, key));
    if !valid {
        return render(
            &Fail::Unauthorized("The access token is missing, invalid or expired.".into()),
            Some(&path),
        );
    }
    next.run(request).await
}

// ------------------------------------------------------------------ reading

/// `lastChangedDateTimeOffsetGreaterThan` in milliseconds; a `+` decoded to a space (an
/// unencoded offset) is repaired, and a time without offset is taken as UTC.
pub(crate) fn parse_datetime(raw: &str) -> Option<i64> {
    let s = raw.trim();
    let repaired = match s.rfind(' ') {
        Some(i) if i > 10 => format!("{}+{}", &s[..i], &s[i + 1..]),
        _ => s.to_string(),
    };
    if let Ok(dt) = DateTime::parse_from_rfc3339(&repaired) {
        return Some(dt.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(n.and_utc().timestamp_millis());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc().timestamp_millis())
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn list(
    ctx: &ApiCtx,
    table: TableId,
    scope: Option<(&'static str, String)>,
    uri: &Uri,
) -> Result<Response, Fail> {
    let q = query_pairs(uri.query());
    let page = match param(&q, "PageNumber", true) {
        None => 1,
        Some(s) => s.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            Fail::invalid(
                "PageNumber",
                format!("The value '{s}' is not valid for PageNumber."),
            )
        })?,
    };
    let size = match param(&q, "PageSize", true) {
        None => 5000,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=20_000).contains(n))
            .ok_or_else(|| {
                Fail::invalid(
                    "PageSize",
                    format!("PageSize must be between 1 and 20000, not '{s}'."),
                )
            })?,
    };
    let since = match param(&q, "lastChangedDateTimeOffsetGreaterThan", true) {
        None => None,
        Some(s) => Some(parse_datetime(s).ok_or_else(|| {
            Fail::invalid(
                "lastChangedDateTimeOffsetGreaterThan",
                format!("The value '{s}' is not a valid ISO 8601 date-time with offset."),
            )
        })?),
    };
    let def = table.def();
    let mut equals: Vec<(&'static str, String)> = Vec::new();
    for (k, v) in &q {
        if let Some(f) = def.field(k)
            && !matches!(f.ty, Ty::Obj(_) | Ty::Arr(_))
        {
            equals.push((f.name, v.clone()));
        }
    }
    if let Some((field, key)) = &scope {
        equals.push((field, key.clone()));
    }
    let mut store = ctx.shared.store();
    // The most selective equality filter narrows the rows through the table's value index.
    let narrowest = equals
        .iter()
        .min_by_key(|(field, want)| store.table_mut(table).count_where(field, want))
        .cloned();
    let candidates: Vec<&crate::store::Row> = match &narrowest {
        Some((field, want)) => store.table_mut(table).live_where(field, want),
        None => store.table(table).live().collect(),
    };
    let rows: Vec<&Map<String, Value>> = candidates
        .into_iter()
        .filter(|r| since.is_none_or(|t| r.updated_ms > t))
        .filter(|r| {
            equals.iter().all(|(f, want)| {
                r.data
                    .get(*f)
                    .and_then(text)
                    .is_some_and(|have| have.eq_ignore_ascii_case(want))
            })
        })
        .map(|r| &r.data)
        .collect();
    let start = (page - 1).saturating_mul(size);
    let items: Vec<&Map<String, Value>> = rows.into_iter().skip(start).take(size).collect();
    if items.is_empty() {
        return Ok(empty(StatusCode::NO_CONTENT));
    }
    Ok(json(StatusCode::OK, &json!(items)))
}

fn list_lines(ctx: &ApiCtx, order: &str, uri: &Uri) -> Result<Response, Fail> {
    let key = parent_key(TableId::PoSalesOrder, order);
    if ctx
        .shared
        .store()
        .table(TableId::PoSalesOrder)
        .get_live(&key)
        .is_none()
    {
        return Err(Fail::not_found("SalesOrder", order));
    }
    list(
        ctx,
        TableId::PoSalesOrderLine,
        Some(("SalesOrderId", key)),
        uri,
    )
}

fn is_customer(ctx: &ApiCtx, key: &str) -> bool {
    ctx.shared
        .store()
        .table(TableId::PoCustomer)
        .get_live(key)
        .is_some()
}

fn retrieve(
    ctx: &ApiCtx,
    table: TableId,
    id: &str,
    scope: Option<(&str, String)>,
) -> Result<Response, Fail> {
    let store = ctx.shared.store();
    let row = find(&store, table, id, scope.as_ref())?;
    Ok(json(StatusCode::OK, &Value::Object(row.clone())))
}

fn find<'a>(
    store: &'a Store,
    table: TableId,
    id: &str,
    scope: Option<&(&str, String)>,
) -> Result<&'a Map<String, Value>, Fail> {
    let what = table.def().collection;
    let key = Store::normalize_key(table, id).ok_or_else(|| Fail::not_found(what, id))?;
    let row = store
        .table(table)
        .get_live(&key)
        .ok_or_else(|| Fail::not_found(what, id))?;
    if let Some((field, want)) = scope
        && row.data.get(*field).and_then(text).as_deref() != Some(want.as_str())
    {
        return Err(Fail::not_found(what, id));
    }
    Ok(&row.data)
}

fn retrieve_complete(ctx: &ApiCtx, id: &str) -> Result<Response, Fail> {
    let store = ctx.shared.store();
    let order = find(&store, TableId::PoSalesOrder, id, None)?;
    let key = parent_key(TableId::PoSalesOrder, id);
    Ok(json(StatusCode::OK, &with_lines(&store, order, &key)))
}

fn with_lines(store: &Store, order: &Map<String, Value>, key: &str) -> Value {
    let lines: Vec<Value> = store
        .table(TableId::PoSalesOrderLine)
        .live()
        .filter(|l| l.data.get("SalesOrderId").and_then(Value::as_str) == Some(key))
        .map(|l| Value::Object(l.data.clone()))
        .collect();
    let mut out = order.clone();
    out.insert("SalesOrderLines".into(), Value::Array(lines));
    Value::Object(out)
}

// ------------------------------------------------------------------ writing

enum Parent {
    None,
    Contact(String),
    Order(String),
}

async fn json_object(request: Request) -> Result<Map<String, Value>, Fail> {
    let ct = content_type(request.headers());
    if ct != "application/json" && !ct.ends_with("+json") {
        return Err(Fail::UnsupportedMedia(format!(
            "Content-Type must be application/json, not `{ct}`."
        )));
    }
    let body = read_body(request.into_body()).await?;
    match parse_json(&body)? {
        Value::Object(m) => Ok(m),
        other => Err(Fail::bad_request(format!(
            "The body must be a JSON object, not {}.",
            crate::schema::kind(&other)
        ))),
    }
}

fn required(data: &Map<String, Value>, field: &str) -> Result<(), Fail> {
    match data.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(()),
        Some(Value::Number(_)) => Ok(()),
        _ => Err(Fail::invalid(
            field,
            format!("The {field} field is required."),
        )),
    }
}

fn next_number(store: &mut Store, table: TableId, field: &'static str, start: i64) -> i64 {
    store
        .table_mut(table)
        .max_int(field)
        .map_or(start, |m| m + 1)
}

fn set_default(data: &mut Map<String, Value>, field: &str, value: Value) {
    if data.get(field).is_none_or(Value::is_null) {
        data.insert(field.to_string(), value);
    }
}

/// Server rules per entity on a record about to be created or changed.
fn complete_record(
    store: &mut Store,
    table: TableId,
    data: &mut Map<String, Value>,
    creating: bool,
) -> Result<(), Fail> {
    match table {
        TableId::PoCustomer => {
            set_default(data, "IsPerson", json!(false));
            set_default(data, "IsArchived", json!(false));
            let person = data
                .get("IsPerson")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if person && data.get("Name").is_none_or(Value::is_null) {
                let name = [data.get("FirstName"), data.get("LastName")]
                    .iter()
                    .filter_map(|v| v.and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(" ");
                data.insert("Name".into(), json!(name));
            }
            required(data, "Name")?;
            if creating {
                let n = next_number(store, table, "Number", 10_000);
                set_default(data, "Number", json!(n));
            }
        }
        TableId::PoEmployee => {
            if creating {
                let n = next_number(store, table, "Number", 100);
                set_default(data, "Number", json!(n));
            }
            set_default(data, "IsArchived", json!(false));
        }
        TableId::PoContactPerson | TableId::PoDepartment => {
            set_default(data, "IsActive", json!(true))
        }
        TableId::PoProduct => {
            required(data, "Name")?;
            set_default(data, "IsActive", json!(true));
            if creating {
                data.insert("VatRate".into(), json!(25.0));
            }
        }
        TableId::PoSalesOrder => {
            required(data, "CustomerId")?;
            if creating {
                data.insert(
                    "OrderNo".into(),
                    json!(next_number(store, table, "OrderNo", 1)),
                );
                set_default(data, "SalesOrderStatus", json!("Draft"));
                set_default(data, "CurrencyCode", json!("NOK"));
                let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
                set_default(data, "OrderDate", json!(today));
            }
        }
        TableId::PoSalesOrderLine => {
            let product = data
                .get("ProductId")
                .and_then(|v| Store::key_from_value(TableId::PoProduct, v))
                .and_then(|k| store.table(TableId::PoProduct).get_live(&k))
                .map(|r| r.data.clone());
            if let Some(p) = product {
                set_default(
                    data,
                    "ProductCode",
                    p.get("Code").cloned().unwrap_or(Value::Null),
                );
                set_default(
                    data,
                    "Description",
                    p.get("Name").cloned().unwrap_or(Value::Null),
                );
                set_default(
                    data,
                    "ProductUnitPrice",
                    p.get("SalesPrice").cloned().unwrap_or(Value::Null),
                );
                data.insert(
                    "VatRate".into(),
                    p.get("VatRate").cloned().unwrap_or(json!(25.0)),
                );
            } else if creating {
                data.insert("VatRate".into(), json!(25.0));
            }
            set_default(data, "Quantity", json!(1.0));
            set_default(data, "DiscountPercent", json!(0.0));
        }
        _ => {}
    }
    Ok(())
}

fn created(data: &Map<String, Value>, location: String) -> Response {
    with_header(
        json(StatusCode::CREATED, &Value::Object(data.clone())),
        "location",
        location,
    )
}

async fn create(
    ctx: &ApiCtx,
    table: TableId,
    request: Request,
    parent: Parent,
) -> Result<Response, Fail> {
    let path = request.uri().path().trim_end_matches('/').to_string();
    let input = json_object(request).await?;
    let def = table.def();
    let mut data = Map::new();
    write_json(def, def.fields, &input, &mut data, WriteMode::Create, "")?;
    let mut store = ctx.shared.store();
    match parent {
        Parent::None => {}
        Parent::Contact(c) => {
            let key = parent_key(TableId::PoCustomer, &c);
            data.insert(
                "ContactId".into(),
                key.parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| Fail::not_found("Customers", &c))?,
            );
        }
        Parent::Order(o) => {
            let key = parent_key(TableId::PoSalesOrder, &o);
            if store.table(TableId::PoSalesOrder).get_live(&key).is_none() {
                return Err(Fail::not_found("SalesOrders", o));
            }
            if data.get("SortOrder").is_none_or(Value::is_null) {
                let n = store
                    .table(TableId::PoSalesOrderLine)
                    .live()
                    .filter(|l| {
                        l.data.get("SalesOrderId").and_then(Value::as_str) == Some(key.as_str())
                    })
                    .count();
                data.insert("SortOrder".into(), json!(n + 1));
            }
            data.insert("SalesOrderId".into(), json!(key));
        }
    }
    complete_record(&mut store, table, &mut data, true)?;
    let row = store.create(table, data, Origin::Live)?;
    let location = format!("{path}/{}", row.key);
    Ok(created(&row.data, location))
}

async fn complete_order(ctx: &ApiCtx, request: Request) -> Result<Response, Fail> {
    let mut input = json_object(request).await?;
    let lines_key = input
        .keys()
        .find(|k| k.eq_ignore_ascii_case("SalesOrderLines"))
        .cloned();
    let raw_lines = match lines_key.and_then(|k| input.remove(&k)) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(Fail::invalid(
                "SalesOrderLines",
                format!(
                    "SalesOrderLines must be an array, not {}.",
                    crate::schema::kind(&other)
                ),
            ));
        }
    };
    let order_def = TableId::PoSalesOrder.def();
    let line_def = TableId::PoSalesOrderLine.def();
    let mut order = Map::new();
    write_json(
        order_def,
        order_def.fields,
        &input,
        &mut order,
        WriteMode::Create,
        "",
    )?;
    let mut store = ctx.shared.store();
    complete_record(&mut store, TableId::PoSalesOrder, &mut order, true)?;
    store.check_references(order_def, &order)?;
    let mut lines = Vec::with_capacity(raw_lines.len());
    for (i, raw) in raw_lines.iter().enumerate() {
        let at = format!("SalesOrderLines[{i}]");
        let Value::Object(obj) = raw else {
            return Err(Fail::invalid(
                at,
                "Each sales order line must be a JSON object.",
            ));
        };
        let mut line = Map::new();
        write_json(
            line_def,
            line_def.fields,
            obj,
            &mut line,
            WriteMode::Create,
            &at,
        )?;
        set_default(&mut line, "SortOrder", json!(i + 1));
        complete_record(&mut store, TableId::PoSalesOrderLine, &mut line, true)?;
        store
            .check_references(line_def, &line)
            .map_err(|f| match f {
                Fail::Invalid { param, message } => Fail::Invalid {
                    param: param.map(|p| format!("{at}.{p}")),
                    message,
                },
                other => other,
            })?;
        lines.push(line);
    }
    // Everything is checked: the order and its lines are created under one lock.
    let key = store
        .create(TableId::PoSalesOrder, order, Origin::Live)?
        .key
        .clone();
    for mut line in lines {
        line.insert("SalesOrderId".into(), json!(key));
        store.create(TableId::PoSalesOrderLine, line, Origin::Live)?;
    }
    let order = find(&store, TableId::PoSalesOrder, &key, None)?;
    let body = with_lines(&store, order, &key);
    Ok(with_header(
        json(StatusCode::CREATED, &body),
        "location",
        format!("/v2/SalesOrders/Complete/{key}"),
    ))
}

/// One RFC 6902 operation.
#[derive(Debug, serde::Deserialize)]
struct Op {
    op: String,
    path: String,
    #[serde(default)]
    value: Option<Value>,
}

/// Applies JSON Patch `ops` to `data` per the table's schema: paths name fields
/// case-insensitively (`/emailAddress`, `/MailAddress/City`), read-only fields are refused.
pub(crate) fn apply_patch(
    table: TableId,
    ops: &[Value],
    data: &mut Map<String, Value>,
) -> Result<(), Fail> {
    let def = table.def();
    for (i, raw) in ops.iter().enumerate() {
        let op: Op = serde_json::from_value(raw.clone()).map_err(|e| {
            Fail::invalid(
                format!("[{i}]"),
                format!("operation {i} is not a JSON Patch operation: {e}"),
            )
        })?;
        let segments: Vec<String> = op
            .path
            .strip_prefix('/')
            .ok_or_else(|| {
                Fail::invalid(
                    format!("[{i}].path"),
                    format!("path `{}` must start with `/`", op.path),
                )
            })?
            .split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        let value = match op.op.as_str() {
            "replace" | "add" => op.value.clone().ok_or_else(|| {
                Fail::invalid(
                    format!("[{i}].value"),
                    format!("operation {i} ({}) needs a value", op.op),
                )
            })?,
            "remove" => Value::Null,
            "test" => {
                let current = lookup(data, def.fields, &segments);
                if current != op.value.clone().unwrap_or(Value::Null) {
                    return Err(Fail::invalid(
                        format!("[{i}]"),
                        format!("test failed at `{}`", op.path),
                    ));
                }
                continue;
            }
            other => {
                return Err(Fail::invalid(
                    format!("[{i}].op"),
                    format!("operation `{other}` is not supported; use replace, add or remove"),
                ));
            }
        };
        // Build {Field: {Sub: value}} and merge it through the schema, which type-checks.
        let mut fields = def.fields;
        let mut names = Vec::new();
        for (depth, seg) in segments.iter().enumerate() {
            let f = find_field(fields, seg, true).ok_or_else(|| {
                Fail::invalid(
                    op.path.clone(),
                    format!("`{}` is not a property of {}", op.path, def.collection),
                )
            })?;
            if f.access == Access::ReadOnly {
                return Err(Fail::invalid(
                    op.path.clone(),
                    format!("{} is read-only", f.name),
                ));
            }
            names.push(f.name);
            match f.ty {
                Ty::Obj(sub) if depth + 1 < segments.len() => fields = sub,
                _ if depth + 1 < segments.len() => {
                    return Err(Fail::invalid(
                        op.path.clone(),
                        format!("`{}` has no sub-properties", f.name),
                    ));
                }
                _ => {}
            }
        }
        let mut nested = value;
        for name in names.iter().skip(1).rev() {
            nested = json!({ *name: nested });
        }
        let first = names
            .first()
            .ok_or_else(|| Fail::invalid(op.path.clone(), "empty path"))?;
        let input = Map::from_iter([(first.to_string(), nested)]);
        write_json(def, def.fields, &input, data, WriteMode::Update, "")?;
    }
    Ok(())
}

fn lookup(
    data: &Map<String, Value>,
    fields: &'static [crate::schema::Field],
    segments: &[String],
) -> Value {
    let mut current = Value::Object(data.clone());
    let mut fields = fields;
    for seg in segments {
        let Some(f) = find_field(fields, seg, true) else {
            return Value::Null;
        };
        current = current.get(f.name).cloned().unwrap_or(Value::Null);
        if let Ty::Obj(sub) = f.ty {
            fields = sub;
        }
    }
    current
}

async fn patch(
    ctx: &ApiCtx,
    table: TableId,
    id: &str,
    scope: Option<(&str, String)>,
    request: Request,
) -> Result<Response, Fail> {
    let ct = content_type(request.headers());
    if ct != "application/json-patch+json" {
        return Err(Fail::UnsupportedMedia(format!(
            "PATCH takes application/json-patch+json, not `{ct}`."
        )));
    }
    let body = read_body(request.into_body()).await?;
    let ops = match parse_json(&body)? {
        Value::Array(ops) => ops,
        other => {
            return Err(Fail::bad_request(format!(
                "A JSON Patch document is an array, not {}.",
                crate::schema::kind(&other)
            )));
        }
    };
    let mut store = ctx.shared.store();
    let mut data = find(&store, table, id, scope.as_ref())?.clone();
    apply_patch(table, &ops, &mut data)?;
    complete_record(&mut store, table, &mut data, false)?;
    let key = Store::normalize_key(table, id).unwrap_or_else(|| id.to_string());
    let row = store.update(table, &key, |row| {
        *row = data;
        Ok(())
    })?;
    Ok(json(StatusCode::OK, &Value::Object(row.data.clone())))
}

fn remove(ctx: &ApiCtx, table: TableId, id: &str) -> Result<Response, Fail> {
    let key = Store::normalize_key(table, id)
        .ok_or_else(|| Fail::not_found(table.def().collection, id))?;
    ctx.shared.store().delete(table, &key)?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer() -> Map<String, Value> {
        json!({"Id": 1, "Name": "A", "EmailAddress": "a@x.no", "MailAddress": {"City": "Oslo"}, "VatRate": null})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn json_patch_replaces_adds_and_removes_case_insensitively() {
        let mut d = customer();
        let ops = json!([
            {"op": "replace", "path": "/emailAddress", "value": "b@x.no"},
            {"op": "add", "path": "/mailAddress/city", "value": "Bergen"},
            {"op": "remove", "path": "/PhoneNumber"},
            {"op": "test", "path": "/EmailAddress", "value": "b@x.no"},
        ]);
        apply_patch(TableId::PoCustomer, ops.as_array().unwrap(), &mut d).unwrap();
        assert_eq!(d.get("EmailAddress"), Some(&json!("b@x.no")));
        assert_eq!(d.get("MailAddress"), Some(&json!({"City": "Bergen"})));
        assert_eq!(d.get("PhoneNumber"), Some(&Value::Null));
    }

    #[test]
    fn json_patch_refuses_read_only_unknown_and_mistyped() {
        for ops in [
            json!([{"op": "replace", "path": "/Id", "value": 5}]),
            json!([{"op": "replace", "path": "/Nope", "value": 5}]),
            json!([{"op": "replace", "path": "/Name", "value": 5}]),
            json!([{"op": "move", "from": "/Name", "path": "/EmailAddress"}]),
            json!([{"op": "replace", "path": "Name", "value": "x"}]),
            json!([{"op": "replace", "path": "/Name"}]),
            json!([{"op": "test", "path": "/Name", "value": "other"}]),
        ] {
            let mut d = customer();
            assert!(
                apply_patch(TableId::PoCustomer, ops.as_array().unwrap(), &mut d).is_err(),
                "{ops}"
            );
        }
        let mut line = Map::new();
        let ops = json!([{"op": "replace", "path": "/VatRate", "value": 15.0}]);
        assert!(
            apply_patch(
                TableId::PoSalesOrderLine,
                ops.as_array().unwrap(),
                &mut line
            )
            .is_err()
        );
    }

    #[test]
    fn offsets_in_dates_are_understood() {
        let utc = parse_datetime("2024-03-01T10:00:00Z").unwrap();
        assert_eq!(parse_datetime("2024-03-01T11:00:00+01:00"), Some(utc));
        assert_eq!(
            parse_datetime("2024-03-01T11:00:00 01:00"),
            Some(utc),
            "a `+` decoded as space"
        );
        assert_eq!(parse_datetime("2024-03-01T10:00:00"), Some(utc));
        assert!(parse_datetime("yesterday").is_none());
    }
}
