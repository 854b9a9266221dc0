//! WebCRM REST API: `authCode` login and refresh, Bearer tokens, `Page`/`Size` listings
//! as bare arrays, `GET /Queries?script=SELECT …` for incremental reads, `POST` returning
//! the new id, `PUT` full updates without a body, `PATCH` bulk upserts, and the
//! `{"Message", "Type"}` error shape. See the crate docs for the routes.

use std::cmp::Ordering;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use crate::error::Fail;
use crate::http::{
    bearer, empty, header_str, json, param, parse_json, query_pairs, read_body, secret_eq,
    with_header,
};
use crate::poweroffice::parse_datetime;
use crate::schema::{Access, TableId, WriteMode, fill_nulls, write_json};
use crate::state::ApiCtx;
use crate::store::{Origin, Store};

const COLLECTIONS: [(&str, TableId); 6] = [
    ("Persons", TableId::WcPerson),
    ("Organisations", TableId::WcOrganisation),
    ("Opportunities", TableId::WcOpportunity),
    ("QuotationLines", TableId::WcQuotationLine),
    ("Users", TableId::WcUser),
    ("Products", TableId::WcProduct),
];

fn error(status: u16, message: &str, kind: &str) -> Response {
    json(
        crate::http::status(status),
        &json!({"Message": message, "Type": kind}),
    )
}

pub(crate) fn render(fail: &Fail) -> Response {
    match fail {
        Fail::Unauthorized(m) => with_header(
            error(401, m, "UnauthorizedException"),
            "www-authenticate",
            "Bearer".into(),
        ),
        Fail::NotFound { .. } => error(404, &fail.message(), "NotFoundException"),
        Fail::Invalid { .. } => error(400, &fail.message(), "BadRequestException"),
        Fail::Duplicate { .. } => error(409, &fail.message(), "ConflictException"),
        Fail::UnsupportedMedia(m) => error(415, m, "UnsupportedMediaTypeException"),
        Fail::MethodNotAllowed => error(405, &fail.message(), "MethodNotAllowedException"),
    }
}

pub(crate) fn too_many_requests(retry_after: u64) -> Response {
    let body = json!({
        "RetryAfterSeconds": retry_after,
        "Message": format!("API rate limit exceeded: at most 250 requests per minute per token. Retry after {retry_after} seconds."),
        "Type": "TooManyRequestsException",
    });
    with_header(
        json(StatusCode::TOO_MANY_REQUESTS, &body),
        "retry-after",
        retry_after.to_string(),
    )
}

pub(crate) fn server_error(code: u16) -> Response {
    match code {
        503 => error(
            503,
            "The service is temporarily unavailable.",
            "ServiceUnavailableException",
        ),
        _ => error(
            code,
            "An unexpected error occurred.",
            "InternalServerErrorException",
        ),
    }
}

fn reply(result: Result<Response, Fail>) -> Response {
    result.unwrap_or_else(|f| render(&f))
}

pub(crate) fn routes(ctx: ApiCtx) -> Router<ApiCtx> {
    let mut api = Router::new().route(
        "/Queries",
        get(|State(ctx): State<ApiCtx>, uri: Uri| async move { reply(query(&ctx, &uri)) }),
    );
    for (name, table) in COLLECTIONS {
        api = api
            .route(
                &format!("/{name}"),
                get(move |State(ctx): State<ApiCtx>, uri: Uri| async move { reply(list(&ctx, table, &uri)) })
                    .post(move |State(ctx): State<ApiCtx>, req: Request| async move { reply(create(&ctx, table, req).await) })
                    .patch(move |State(ctx): State<ApiCtx>, req: Request| async move { reply(upsert(&ctx, table, req).await) }),
            )
            .route(
                &format!("/{name}/{{id}}"),
                get(move |State(ctx): State<ApiCtx>, Path(id): Path<String>| async move { reply(retrieve(&ctx, table, &id)) })
                    .put(move |State(ctx): State<ApiCtx>, Path(id): Path<String>, req: Request| async move {
                        reply(replace(&ctx, table, &id, req).await)
                    })
                    .delete(move |State(ctx): State<ApiCtx>, Path(id): Path<String>| async move {
                        reply(remove(&ctx, table, &id))
                    }),
            );
    }
    let api = api.layer(axum::middleware::from_fn_with_state(ctx, authorize));
    Router::new()
        .route("/Auth/ApiLogin", post(login))
        .route("/Auth/ApiRefresh", post(refresh))
        .merge(api)
        .method_not_allowed_fallback(|| async { render(&Fail::MethodNotAllowed) })
        .fallback(|uri: Uri| async move { render(&Fail::not_found("resource", uri.path())) })
}

// ------------------------------------------------------------------ auth

fn tokens_body(ctx: &ApiCtx, refresh_token: Option<String>) -> Response {
    let lifetime = ctx.shared.config.webcrm_token_lifetime;
    let mut tokens = ctx.shared.tokens();
    let access = tokens.issue(ctx.api, lifetime, None);
    let refresh = refresh_token.unwrap_or_else(|| tokens.fresh("rt_"));
    tokens.refresh.insert(refresh.clone(), ctx.api);
    json(
        StatusCode::OK,
        &json!({"AccessToken": access, "RefreshToken": refresh, "ExpiresIn": lifetime.as_secs(), "TokenType": "Bearer"}),
    )
}

/// Form fields of the body (any content type that parses as a form), then the query.
async fn form_fields(request: Request) -> Vec<(String, String)> {
    let mut fields = query_pairs(request.uri().query());
    if let Ok(body) = read_body(request.into_body()).await {
        let mut form = query_pairs(std::str::from_utf8(&body).ok());
        form.append(&mut fields);
        fields = form;
    }
    fields
}

async fn login(State(ctx): State<ApiCtx>, request: Request) -> Response {
    let fields = form_fields(request).await;
    let expected = &ctx.shared.config.credentials.webcrm_auth_code;
    match param(&fields, "authCode", true) {
        Some(code) if secret_eq(code, expected) => tokens_body(&ctx, None),
        Some(_) => render(&Fail::Unauthorized("The authCode is not valid.".into())),
        None => render(&Fail::invalid(
            "authCode",
            "The form field authCode is required.",
        )),
    }
}

async fn refresh(State(ctx): State<ApiCtx>, request: Request) -> Response {
    let from_header = ["refreshtoken", "refresh-token", "refresh_token"]
        .iter()
        .find_map(|h| header_str(request.headers(), h))
        .or_else(|| bearer(request.headers()))
        .map(str::to_string);
    let fields = form_fields(request).await;
    let token = from_header.or_else(|| param(&fields, "refreshToken", true).map(str::to_string));
    let Some(token) = token else {
        return render(&Fail::invalid(
            "refreshToken",
            "Send the refresh token as the refreshToken form field or RefreshToken header.",
        ));
    };
    let known = ctx.shared.tokens().refresh.get(&token) == Some(&ctx.api);
    if !known {
        return render(&Fail::Unauthorized(
            "The refresh token is not valid.".into(),
        ));
    }
    tokens_body(&ctx, Some(token))
}

async fn authorize(State(ctx): State<ApiCtx>, request: Request, next: Next) -> Response {
    let valid =
        bearer(request.headers()).is_some_and(|t| ctx.shared.tokens().valid(ctx.api, t, None));
    if !valid {
        return render(&Fail::Unauthorized(
            "The access token is missing, invalid or expired.".into(),
        ));
    }
    next.run(request).await
}

// ------------------------------------------------------------------ reading

fn list(ctx: &ApiCtx, table: TableId, uri: &Uri) -> Result<Response, Fail> {
    let q = query_pairs(uri.query());
    let page =
        match param(&q, "Page", true) {
            None => 1,
            Some(s) => s.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                Fail::invalid("Page", format!("Page must be 1 or more, not '{s}'."))
            })?,
        };
    let size = match param(&q, "Size", true) {
        None => 50,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                Fail::invalid(
                    "Size",
                    format!("Size must be between 1 and 1000, not '{s}'."),
                )
            })?,
    };
    let store = ctx.shared.store();
    let items: Vec<&Map<String, Value>> = store
        .table(table)
        .live()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(|r| &r.data)
        .collect();
    Ok(json(StatusCode::OK, &json!(items)))
}

fn key(table: TableId, id: &str) -> Result<String, Fail> {
    Store::normalize_key(table, id)
        .ok_or_else(|| Fail::invalid("id", format!("The id '{id}' is not a valid integer.")))
}

fn retrieve(ctx: &ApiCtx, table: TableId, id: &str) -> Result<Response, Fail> {
    let k = key(table, id)?;
    let store = ctx.shared.store();
    let row = store
        .table(table)
        .get_live(&k)
        .ok_or_else(|| Fail::not_found(table.def().collection, id))?;
    Ok(json(StatusCode::OK, &Value::Object(row.data.clone())))
}

// ------------------------------------------------------------------ writing

async fn body_json(request: Request) -> Result<Value, Fail> {
    let ct = crate::http::content_type(request.headers());
    if ct != "application/json" && !ct.ends_with("+json") {
        return Err(Fail::UnsupportedMedia(format!(
            "Content-Type must be application/json, not `{ct}`."
        )));
    }
    parse_json(&read_body(request.into_body()).await?)
}

fn object(v: Value) -> Result<Map<String, Value>, Fail> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(Fail::bad_request(format!(
            "The body must be a JSON object, not {}.",
            crate::schema::kind(&other)
        ))),
    }
}

fn complete(table: TableId, data: &mut Map<String, Value>) {
    if table == TableId::WcPerson && data.get("PersonName").is_none_or(Value::is_null) {
        let name = [data.get("PersonFirstName"), data.get("PersonLastName")]
            .iter()
            .filter_map(|v| v.and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        if !name.is_empty() {
            data.insert("PersonName".into(), json!(name));
        }
    }
}

fn insert(store: &mut Store, table: TableId, input: &Map<String, Value>) -> Result<i64, Fail> {
    let def = table.def();
    let mut data = Map::new();
    write_json(def, def.fields, input, &mut data, WriteMode::Create, "")?;
    complete(table, &mut data);
    let row = store.create(table, data, Origin::Live)?;
    Ok(row.key.parse().unwrap_or(0))
}

async fn create(ctx: &ApiCtx, table: TableId, request: Request) -> Result<Response, Fail> {
    let input = object(body_json(request).await?)?;
    let id = insert(&mut ctx.shared.store(), table, &input)?;
    Ok(json(StatusCode::CREATED, &json!(id)))
}

/// A full update: every writable field not in `input` becomes null.
fn replaced(
    table: TableId,
    old: &Map<String, Value>,
    input: &Map<String, Value>,
) -> Result<Map<String, Value>, Fail> {
    let def = table.def();
    let mut data: Map<String, Value> = old
        .iter()
        .filter(|(k, _)| def.field(k).is_some_and(|f| f.access == Access::ReadOnly))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    write_json(def, def.fields, input, &mut data, WriteMode::Update, "")?;
    fill_nulls(def.fields, &mut data);
    complete(table, &mut data);
    Ok(data)
}

async fn replace(
    ctx: &ApiCtx,
    table: TableId,
    id: &str,
    request: Request,
) -> Result<Response, Fail> {
    let k = key(table, id)?;
    let input = object(body_json(request).await?)?;
    let mut store = ctx.shared.store();
    let old = store
        .table(table)
        .get_live(&k)
        .ok_or_else(|| Fail::not_found(table.def().collection, id))?
        .data
        .clone();
    let data = replaced(table, &old, &input)?;
    store.update(table, &k, |row| {
        *row = data;
        Ok(())
    })?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn upsert(ctx: &ApiCtx, table: TableId, request: Request) -> Result<Response, Fail> {
    let items = match body_json(request).await? {
        Value::Array(items) => items,
        other => {
            return Err(Fail::bad_request(format!(
                "A bulk upsert takes a JSON array, not {}.",
                crate::schema::kind(&other)
            )));
        }
    };
    let def = table.def();
    let mut store = ctx.shared.store();
    // Check every item first so that a bad one changes nothing.
    let mut plan: Vec<(Option<String>, Map<String, Value>)> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let input = object(item).map_err(|_| {
            Fail::invalid(format!("[{i}]"), format!("item {i} is not a JSON object"))
        })?;
        let id = input
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(def.id_field))
            .and_then(|(_, v)| Store::key_from_value(table, v))
            .filter(|k| k != "0");
        let mut data = match &id {
            Some(k) => store
                .table(table)
                .get_live(k)
                .ok_or_else(|| Fail::not_found(def.collection, k.clone()))?
                .data
                .clone(),
            None => Map::new(),
        };
        let mode = if id.is_some() {
            WriteMode::Update
        } else {
            WriteMode::Create
        };
        write_json(def, def.fields, &input, &mut data, mode, &format!("[{i}]"))?;
        complete(table, &mut data);
        store.check_references(def, &data)?;
        plan.push((id, data));
    }
    let mut ids = Vec::with_capacity(plan.len());
    for (id, data) in plan {
        let row = match id {
            Some(k) => store.update(table, &k, |row| {
                *row = data;
                Ok(())
            })?,
            None => store.create(table, data, Origin::Live)?,
        };
        ids.push(row.key.parse::<i64>().unwrap_or(0));
    }
    Ok(json(StatusCode::OK, &json!(ids)))
}

fn remove(ctx: &ApiCtx, table: TableId, id: &str) -> Result<Response, Fail> {
    let k = key(table, id)?;
    ctx.shared
        .store()
        .delete(table, &k)
        .map_err(|_| Fail::not_found(table.def().collection, id))?;
    Ok(empty(StatusCode::NO_CONTENT))
}

// ------------------------------------------------------------------ queries

#[derive(Debug, PartialEq)]
pub(crate) struct Query {
    table: TableId,
    conditions: Vec<(&'static str, String, String)>,
    order: Option<(&'static str, bool)>,
}

fn query_table(name: &str) -> Option<TableId> {
    let n = name.to_ascii_lowercase();
    COLLECTIONS
        .iter()
        .find(|(c, _)| {
            let c = c.to_ascii_lowercase();
            c == n
                || c.strip_suffix('s') == Some(n.as_str())
                || (c == "opportunities" && n == "opportunity")
        })
        .map(|(_, t)| *t)
}

/// Splits a script into words, quoted strings (kept with their quotes) and operators.
fn tokens(script: &str) -> Result<Vec<String>, Fail> {
    let mut out = Vec::new();
    let mut chars = script.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() || c == ';' {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut s = String::from("'");
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        s.push('\'');
                    }
                    Some('\'') => break,
                    Some(ch) => s.push(ch),
                    None => return Err(Fail::invalid("script", "unterminated string literal")),
                }
            }
            out.push(s);
        } else if "=<>!".contains(c) {
            let mut op = String::new();
            while let Some(&o) = chars.peek() {
                if "=<>!".contains(o) {
                    op.push(o);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(op);
        } else if c == '*' || c == ',' {
            out.push(c.to_string());
            chars.next();
        } else {
            let mut w = String::new();
            while let Some(&o) = chars.peek() {
                if o.is_alphanumeric() || "_.-:+".contains(o) {
                    w.push(o);
                    chars.next();
                } else {
                    break;
                }
            }
            if w.is_empty() {
                return Err(Fail::invalid(
                    "script",
                    format!("unexpected character `{c}`"),
                ));
            }
            out.push(w);
        }
    }
    Ok(out)
}

/// Parses `SELECT * FROM Table [WHERE F op 'v' [AND …]] [ORDER BY F [ASC|DESC]]`.
pub(crate) fn parse_query(script: &str) -> Result<Query, Fail> {
    let toks = tokens(script)?;
    let bad = |m: &str| {
        Fail::invalid(
            "script",
            format!(
                "{m} (supported: SELECT * FROM <Table> [WHERE <Field> <op> '<value>' [AND …]] [ORDER BY <Field> [ASC|DESC]])"
            ),
        )
    };
    let kw = |i: usize, w: &str| toks.get(i).is_some_and(|t| t.eq_ignore_ascii_case(w));
    if !(kw(0, "select") && kw(1, "*") && kw(2, "from")) {
        return Err(bad("the script must start with SELECT * FROM"));
    }
    let name = toks.get(3).ok_or_else(|| bad("missing table name"))?;
    let table = query_table(name).ok_or_else(|| bad(&format!("unknown table `{name}`")))?;
    let def = table.def();
    let field = |name: &str| {
        def.field(name)
            .map(|f| f.name)
            .ok_or_else(|| bad(&format!("unknown field `{name}` of {}", def.collection)))
    };
    let mut i = 4;
    let mut conditions = Vec::new();
    if kw(i, "where") {
        i += 1;
        loop {
            let (Some(f), Some(op), Some(v)) = (toks.get(i), toks.get(i + 1), toks.get(i + 2))
            else {
                return Err(bad("incomplete condition"));
            };
            if !["=", "!=", "<>", ">", ">=", "<", "<="].contains(&op.as_str()) {
                return Err(bad(&format!("unsupported operator `{op}`")));
            }
            let value = v
                .strip_prefix('\'')
                .map(str::to_string)
                .unwrap_or_else(|| v.clone());
            conditions.push((field(f)?, op.clone(), value));
            i += 3;
            if kw(i, "and") {
                i += 1;
            } else {
                break;
            }
        }
    }
    let mut order = None;
    if kw(i, "order") && kw(i + 1, "by") {
        let f = toks
            .get(i + 2)
            .ok_or_else(|| bad("ORDER BY needs a field"))?;
        let desc = kw(i + 3, "desc");
        i += 3 + usize::from(kw(i + 3, "desc") || kw(i + 3, "asc"));
        order = Some((field(f)?, desc));
    }
    if let Some(extra) = toks.get(i) {
        return Err(bad(&format!("unexpected `{extra}`")));
    }
    Ok(Query {
        table,
        conditions,
        order,
    })
}

fn compare(have: &Value, want: &str) -> Option<Ordering> {
    let text = match have {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let (Some(a), Some(b)) = (parse_datetime(&text), parse_datetime(want)) {
        return Some(a.cmp(&b));
    }
    if let (Ok(a), Ok(b)) = (text.parse::<f64>(), want.parse::<f64>()) {
        return a.partial_cmp(&b);
    }
    Some(text.to_lowercase().cmp(&want.to_lowercase()))
}

fn holds(op: &str, ord: Option<Ordering>) -> bool {
    match (op, ord) {
        (_, None) => false,
        ("=", Some(o)) => o == Ordering::Equal,
        ("!=" | "<>", Some(o)) => o != Ordering::Equal,
        (">", Some(o)) => o == Ordering::Greater,
        (">=", Some(o)) => o != Ordering::Less,
        ("<", Some(o)) => o == Ordering::Less,
        ("<=", Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

fn query(ctx: &ApiCtx, uri: &Uri) -> Result<Response, Fail> {
    let q = query_pairs(uri.query());
    let script = param(&q, "script", true)
        .ok_or_else(|| Fail::invalid("script", "The query parameter script is required."))?;
    let parsed = parse_query(script)?;
    let store = ctx.shared.store();
    let mut rows: Vec<&Map<String, Value>> = store
        .table(parsed.table)
        .live()
        .map(|r| &r.data)
        .filter(|d| {
            parsed
                .conditions
                .iter()
                .all(|(f, op, v)| holds(op, compare(d.get(*f).unwrap_or(&Value::Null), v)))
        })
        .collect();
    if let Some((field, desc)) = parsed.order {
        rows.sort_by(|a, b| {
            let bv = b
                .get(field)
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .unwrap_or_default();
            let o = compare(a.get(field).unwrap_or(&Value::Null), &bv).unwrap_or(Ordering::Less);
            if desc { o.reverse() } else { o }
        });
    }
    Ok(json(StatusCode::OK, &json!(rows)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_incremental_query_parses() {
        let q = parse_query("SELECT * FROM Person WHERE PersonUpdatedAt >= '2024-05-01T00:00:00'")
            .unwrap();
        assert_eq!(q.table, TableId::WcPerson);
        assert_eq!(
            q.conditions,
            vec![(
                "PersonUpdatedAt",
                ">=".to_string(),
                "2024-05-01T00:00:00".to_string()
            )]
        );
        let q = parse_query("select * from Organisations where organisationname = 'O''Brien AS' and OrganisationId > 3 order by OrganisationId desc;").unwrap();
        assert_eq!(q.table, TableId::WcOrganisation);
        assert_eq!(
            q.conditions.first().map(|c| c.2.as_str()),
            Some("O'Brien AS")
        );
        assert_eq!(q.order, Some(("OrganisationId", true)));
        assert_eq!(
            parse_query("SELECT * FROM Opportunity").unwrap().table,
            TableId::WcOpportunity
        );
    }

    #[test]
    fn bad_queries_are_refused() {
        for s in [
            "DELETE FROM Person",
            "SELECT * FROM Nothing",
            "SELECT * FROM Person WHERE Nope = '1'",
            "SELECT * FROM Person WHERE PersonId ~ 1",
            "SELECT * FROM Person WHERE PersonEmail = 'open",
            "SELECT * FROM Person WHERE",
            "SELECT * FROM Person LIMIT 5",
        ] {
            assert!(parse_query(s).is_err(), "{s}");
        }
    }

    #[test]
    fn comparisons_understand_dates_and_numbers() {
        assert!(holds(
            ">=",
            compare(&json!("2024-05-02T00:00:00.000Z"), "2024-05-01T00:00:00")
        ));
        assert!(!holds(
            ">",
            compare(&json!("2024-05-01T00:00:00.000Z"), "2024-05-01T00:00:00")
        ));
        assert!(holds("<", compare(&json!(9), "10")));
        assert!(holds("=", compare(&json!("Kari"), "kari")));
        assert!(!holds("=", compare(&Value::Null, "x")));
    }
}
