//! The PowerOffice Go connector: exact requests against a scripted server, then the sandbox.

mod connectors_support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use connectors_support::{Reply, Seen, Server, basic, env, fast_limits};
use flowgen_runtime::connector::Connector;
use flowgen_runtime::connectors::{BuildOptions, PowerofficeConfig, PowerofficeConnector};
use flowgen_runtime::flow::RecordId;
use flowgen_sandbox::{Api, SandboxConfig};
use serde_json::{Value, json};

static ENV: &[(&str, &str)] = &[
    ("PO_APP", "app-KEY-1"),
    ("PO_CLIENT", "client-KEY-2"),
    ("PO_SUB", "sub-KEY-3"),
];

fn config(base: &str, token_url: &str, margin: Option<u64>) -> PowerofficeConfig {
    PowerofficeConfig {
        base_url: Some(base.to_string()),
        token_url: Some(token_url.to_string()),
        application_key_env: "PO_APP".into(),
        client_key_env: "PO_CLIENT".into(),
        subscription_key_env: "PO_SUB".into(),
        token_renew_margin_secs: margin,
        page_size: None,
        entities: Default::default(),
        properties: Default::default(),
        defaults: Default::default(),
        markers: Default::default(),
        limits: fast_limits(),
    }
}

fn connector(
    server: &Server,
    margin: Option<u64>,
    properties: BTreeMap<String, Vec<String>>,
) -> PowerofficeConnector {
    let env = env(ENV);
    let options = BuildOptions {
        env: &env,
        properties,
        types: Default::default(),
    };
    let config = config(
        &format!("{}/v2", server.base),
        &format!("{}/OAuth/Token", server.base),
        margin,
    );
    PowerofficeConnector::new("Powerofficego", &config, &options).expect("connector")
}

/// Tokens `tok-1`, `tok-2`, … living `lifetime` seconds; the API answers `api`.
async fn server(
    lifetime: u64,
    api: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> Server {
    let tokens = AtomicUsize::new(0);
    Server::start(move |seen, n| {
        if seen.path == "/OAuth/Token" {
            let n = tokens.fetch_add(1, Ordering::SeqCst) + 1;
            return Reply::json(200, json!({"access_token": format!("tok-{n}"), "token_type": "Bearer", "expires_in": lifetime}));
        }
        api(seen, n)
    })
    .await
}

fn customer(id: i64, changed: &str) -> Value {
    json!({"Id": id, "Name": format!("C{id}"), "IsPerson": true, "EmailAddress": format!("c{id}@x.no"), "LastChangedDateTimeOffset": changed})
}

fn token_requests(server: &Server) -> Vec<Seen> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/OAuth/Token")
        .collect()
}

#[tokio::test]
async fn token_request_is_exact_and_the_token_is_reused() {
    let server = server(1200, |_, _| {
        Reply::json(200, customer(1, "2024-01-01T00:00:00+00:00"))
    })
    .await;
    let po = connector(&server, None, BTreeMap::new());
    po.get("Customers person", &RecordId::Int(1))
        .await
        .expect("get")
        .expect("found");
    po.get("Customers person", &RecordId::Int(1))
        .await
        .expect("get")
        .expect("found");
    let tokens = token_requests(&server);
    assert_eq!(tokens.len(), 1, "a token living 20 minutes is reused");
    let token = &tokens[0];
    assert_eq!(token.method, "POST");
    assert_eq!(
        token.header("authorization"),
        Some(basic("app-KEY-1", "client-KEY-2").as_str())
    );
    assert_eq!(token.header("ocp-apim-subscription-key"), Some("sub-KEY-3"));
    assert_eq!(
        token.form().get("grant_type").map(String::as_str),
        Some("client_credentials")
    );
    for call in server
        .requests()
        .iter()
        .filter(|r| r.path != "/OAuth/Token")
    {
        assert_eq!(call.path, "/v2/Customers/1");
        assert_eq!(call.header("authorization"), Some("Bearer tok-1"));
        assert_eq!(call.header("ocp-apim-subscription-key"), Some("sub-KEY-3"));
    }
    assert!(!format!("{po:?}").contains("KEY"), "{po:?}");
}

#[tokio::test]
async fn the_token_is_renewed_before_it_expires() {
    // Tokens live 60 s and the margin is 120 s: each one is already due for renewal.
    let server = server(60, |_, _| {
        Reply::json(200, customer(1, "2024-01-01T00:00:00Z"))
    })
    .await;
    let po = connector(&server, Some(120), BTreeMap::new());
    po.get("Customers person", &RecordId::Int(1))
        .await
        .expect("get");
    po.get("Customers person", &RecordId::Int(1))
        .await
        .expect("get");
    assert_eq!(token_requests(&server).len(), 2);
    let api: Vec<Seen> = server
        .requests()
        .into_iter()
        .filter(|r| r.path != "/OAuth/Token")
        .collect();
    assert_eq!(api[1].header("authorization"), Some("Bearer tok-2"));
}

#[tokio::test]
async fn a_refused_token_is_renewed_once() {
    let server = server(1200, |seen, _| {
        if seen.header("authorization") == Some("Bearer tok-1") {
            Reply::json(401, json!({"title": "Unauthorized", "status": 401}))
        } else {
            Reply::json(200, customer(1, "2024-01-01T00:00:00Z"))
        }
    })
    .await;
    let po = connector(&server, None, BTreeMap::new());
    assert!(
        po.get("Customers person", &RecordId::Int(1))
            .await
            .expect("get")
            .is_some()
    );
    assert_eq!(token_requests(&server).len(), 2);
}

#[tokio::test]
async fn updates_are_json_patches_in_api_names() {
    let server = server(1200, |seen, _| {
        if seen.method == "PATCH" {
            Reply::json(200, json!({"Id": 7, "EmailAddress": "new@x.no", "FirstName": "Ann", "LastChangedDateTimeOffset": "2024-02-01T10:00:00.123+01:00"}))
        } else {
            Reply::empty(500)
        }
    })
    .await;
    let properties = BTreeMap::from([(
        "Contactperson".to_string(),
        vec!["emailAddress".to_string(), "firstName".to_string()],
    )]);
    let po = connector(&server, None, properties);
    let record = po
        .update(
            "Contactperson",
            &RecordId::Int(7),
            &json!({"emailAddress": "new@x.no", "MailAddress": {"city": "Oslo"}}),
        )
        .await
        .expect("update");
    assert_eq!(
        record.data,
        json!({"Id": 7, "emailAddress": "new@x.no", "firstName": "Ann", "LastChangedDateTimeOffset": "2024-02-01T10:00:00.123+01:00"})
    );
    assert_eq!(record.updated_at.timestamp_millis(), 1_706_778_000_123);
    let patch = server
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .expect("patch");
    assert_eq!(patch.path, "/v2/ContactPersons/7");
    assert_eq!(
        patch.header("content-type"),
        Some("application/json-patch+json")
    );
    let mut ops = patch.json().as_array().cloned().expect("array");
    ops.sort_by_key(|o| o["path"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        ops,
        vec![
            json!({"op": "replace", "path": "/EmailAddress", "value": "new@x.no"}),
            json!({"op": "replace", "path": "/MailAddress/City", "value": "Oslo"}),
        ]
    );
}

#[tokio::test]
async fn changes_page_until_a_short_page_or_204_and_filter_by_last_change() {
    let server = server(1200, |seen, _| {
        let page = seen.param("PageNumber").unwrap_or("?");
        match (seen.param("lastChangedDateTimeOffsetGreaterThan"), page) {
            (None, "1") => Reply::json(200, json!([customer(1, "2024-01-01T00:00:01Z"), customer(2, "2024-01-01T00:00:02Z")])),
            (None, _) => Reply::empty(204),
            (Some(_), _) => Reply::json(200, json!([
                customer(2, "2024-01-01T00:00:02Z"),
                customer(3, "2024-01-01T00:00:02Z"),
                {"Id": 4, "IsPerson": false, "LastChangedDateTimeOffset": "2024-01-01T00:00:05Z"}
            ])),
        }
    })
    .await;
    let po = connector(&server, None, BTreeMap::new());
    let first = po
        .changes("Customers person", None, 2)
        .await
        .expect("page 1");
    assert!(first.more);
    assert_eq!(first.records.len(), 2);
    let second = po
        .changes("Customers person", first.cursor.as_deref(), 2)
        .await
        .expect("page 2");
    assert!(!second.more && second.records.is_empty());
    let third = po
        .changes("Customers person", second.cursor.as_deref(), 10)
        .await
        .expect("next run");
    assert_eq!(
        third
            .records
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        vec![RecordId::Int(3)],
        "2 was delivered; 4 is a company"
    );
    let api: Vec<Seen> = server
        .requests()
        .into_iter()
        .filter(|r| r.path != "/OAuth/Token")
        .collect();
    assert_eq!(api[0].path, "/v2/Customers");
    assert_eq!(
        (api[0].param("PageNumber"), api[0].param("PageSize")),
        (Some("1"), Some("2"))
    );
    assert_eq!(api[0].param("IsPerson"), Some("true"));
    assert_eq!(api[1].param("PageNumber"), Some("2"));
    assert_eq!(api[2].param("PageNumber"), Some("1"));
    assert_eq!(
        api[2].param("lastChangedDateTimeOffsetGreaterThan"),
        Some("2024-01-01T00:00:01.999+00:00")
    );
}

#[tokio::test]
async fn sales_orders_are_created_complete() {
    let server = server(1200, |seen, _| {
        let mut order = seen.json();
        order["Id"] = json!("7d0c1a8e-0000-4000-8000-000000000001");
        Reply::json(201, order)
    })
    .await;
    let po = connector(&server, None, BTreeMap::new());
    let data = json!({"CurrencyCode": "NOK", "CustomerId": 5, "salesOrderLines": [{"productUnitPrice": 10, "quantity": 2}]});
    let record = po
        .create("Salesorders", &data, Some("ignored"))
        .await
        .expect("create");
    assert_eq!(
        record.id,
        RecordId::Text("7d0c1a8e-0000-4000-8000-000000000001".into())
    );
    let post = server
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path != "/OAuth/Token")
        .expect("post");
    assert_eq!(post.path, "/v2/SalesOrders/Complete");
    assert_eq!(
        post.json(),
        json!({"CurrencyCode": "NOK", "CustomerId": 5, "SalesOrderLines": [{"ProductUnitPrice": 10, "Quantity": 2}]})
    );
    assert!(!po.idempotent_create());
}

fn sandbox_connector(
    sandbox: &flowgen_sandbox::Sandbox,
    properties: BTreeMap<String, Vec<String>>,
) -> PowerofficeConnector {
    let credentials = sandbox.config().credentials.clone();
    let env = move |name: &str| match name {
        "PO_APP" => Some(credentials.poweroffice_application_key.clone()),
        "PO_CLIENT" => Some(credentials.poweroffice_client_key.clone()),
        "PO_SUB" => Some(credentials.poweroffice_subscription_key.clone()),
        _ => None,
    };
    let options = BuildOptions {
        env: &env,
        properties,
        types: Default::default(),
    };
    let mut config = config(
        &sandbox.base_url(Api::PowerOffice),
        &sandbox.token_url(Api::PowerOffice).expect("token url"),
        None,
    );
    config.limits.requests = None;
    config.limits.burst = None;
    config.limits.period_secs = None;
    PowerofficeConnector::new("Powerofficego", &config, &options).expect("connector")
}

async fn scan(
    po: &PowerofficeConnector,
    entity: &str,
    cursor: Option<String>,
    limit: usize,
) -> (Vec<RecordId>, Option<String>) {
    let mut cursor = cursor;
    let mut ids = Vec::new();
    loop {
        let page = po
            .changes(entity, cursor.as_deref(), limit)
            .await
            .expect("page");
        ids.extend(page.records.into_iter().map(|r| r.id));
        cursor = page.cursor;
        if !page.more {
            return (ids, cursor);
        }
    }
}

#[tokio::test]
async fn sandbox_customers_people_orders_and_lines() {
    let sandbox = flowgen_sandbox::start(SandboxConfig {
        records: 30,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let properties = BTreeMap::from([(
        "Contactperson".to_string(),
        vec![
            "emailAddress".to_string(),
            "firstName".to_string(),
            "lastName".to_string(),
        ],
    )]);
    let po = sandbox_connector(&sandbox, properties);

    let people = sandbox
        .records("powerofficego", "Customers person")
        .expect("people")
        .len();
    let companies = sandbox
        .records("powerofficego", "Customers")
        .expect("companies")
        .len();
    let (ids, person_cursor) = scan(&po, "Customers person", None, 7).await;
    assert_eq!(ids.len(), people);
    let (company_ids, _) = scan(&po, "Customers", None, 50).await;
    assert_eq!(company_ids.len(), companies);
    assert!(ids.iter().all(|id| !company_ids.contains(id)));
    let (none, person_cursor) = scan(&po, "Customers person", person_cursor, 7).await;
    assert!(none.is_empty(), "{none:?}");

    let created = po
        .create(
            "Customers person",
            &json!({"FirstName": "Per", "LastName": "Son", "emailAddress": "per@son.no"}),
            None,
        )
        .await
        .expect("create");
    assert_eq!(
        created.data["emailAddress"], "per@son.no",
        "returned in the spelling written"
    );
    let RecordId::Int(id) = created.id else {
        panic!("int id expected: {:?}", created.id)
    };
    let stored = sandbox
        .record("powerofficego", "Customers person", &id.to_string())
        .expect("record")
        .expect("stored");
    assert_eq!(stored["IsPerson"], true);

    let updated = po
        .update(
            "Customers person",
            &created.id,
            &json!({"emailAddress": "per2@son.no", "mailAddress": {"city": "Oslo"}}),
        )
        .await
        .expect("update");
    assert_eq!(updated.data["emailAddress"], "per2@son.no");
    assert_eq!(
        updated.data["mailAddress"]["city"], "Oslo",
        "spellings written are spellings read"
    );
    let (changed, _) = scan(&po, "Customers person", person_cursor, 7).await;
    assert_eq!(changed, vec![created.id.clone()]);
    let found = po
        .search("Customers person", "emailAddress", &json!("PER2@son.no"))
        .await
        .expect("search");
    assert_eq!(
        found.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        vec![created.id.clone()]
    );

    let contact = po
        .create(
            "Contactperson",
            &json!({"ContactId": id, "firstName": "Kari", "emailAddress": "kari@x.no"}),
            None,
        )
        .await
        .expect("contact");
    assert_eq!(contact.data["firstName"], "Kari");

    let (_, lines_cursor) = scan(&po, "Salesorderlines", None, 20).await;
    sandbox.expire_tokens();
    let order = po
        .create("Salesorders", &json!({"CustomerId": id, "CurrencyCode": "NOK", "SalesOrderLines": [{"Description": "Widget", "Quantity": 2, "ProductUnitPrice": 50}]}), None)
        .await
        .expect("order");
    assert_eq!(
        order.data["SalesOrderLines"].as_array().map(Vec::len),
        Some(1)
    );
    let (lines, _) = scan(&po, "Salesorderlines", lines_cursor, 20).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].to_string().starts_with(&format!("{}/", order.id)));
    let line = po
        .get("Salesorderlines", &lines[0])
        .await
        .expect("get line")
        .expect("line");
    assert_eq!(line.data["Description"], "Widget");
    let line = po
        .update("Salesorderlines", &lines[0], &json!({"Quantity": 3}))
        .await
        .expect("update line");
    assert_eq!(line.data["Quantity"].as_f64(), Some(3.0));
    assert_eq!(line.id, lines[0]);
    assert_eq!(
        po.get("Customers person", &RecordId::Int(987_654))
            .await
            .expect("get"),
        None
    );
    let stats = sandbox.stats().api(Api::PowerOffice);
    assert_eq!(
        stats.rate_limited, 0,
        "the limiter keeps under 10 requests/s: {stats:?}"
    );
    assert!(stats.rate_limit.max_in_window <= 10, "{stats:?}");
    assert!(
        stats.requests > 20,
        "enough requests to test the limit: {stats:?}"
    );
}

#[tokio::test]
async fn tokens_echoed_in_errors_are_redacted() {
    let server = server(1200, |seen, _| {
        let echo = seen.header("authorization").unwrap_or_default().to_string();
        Reply::json(400, json!({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": format!("header was {echo} with sub-KEY-3")}))
    })
    .await;
    let po = connector(&server, None, BTreeMap::new());
    let error = po.get("Product", &RecordId::Int(1)).await.expect_err("400");
    assert_eq!(error.kind, flowgen_runtime::connector::ErrorKind::Permanent);
    let text = format!("{error} {error:?}");
    assert!(
        text.contains("Bearer ***") && text.contains("with ***"),
        "{text}"
    );
    assert!(
        !text.contains("tok-1") && !text.contains("sub-KEY-3"),
        "{text}"
    );
}

#[tokio::test]
async fn contact_persons_addressed_only_under_their_customer_are_found_and_patched() {
    // An API that serves one contact person only as `/ContactPersons/{customerId}/{id}`.
    let server = server(1200, |seen, _| {
        match (seen.method.as_str(), seen.path.as_str(), seen.param("Id")) {
            ("GET", "/v2/ContactPersons", Some("7")) => Reply::json(
                200,
                json!([{"Id": 7, "ContactId": 3, "LastName": "Lee", "LastChangedDateTimeOffset": "2024-01-01T00:00:00+00:00"}]),
            ),
            ("GET", "/v2/ContactPersons", Some(_)) => Reply::empty(204),
            ("PATCH", "/v2/ContactPersons/3/7", _) => Reply::json(
                200,
                json!({"Id": 7, "ContactId": 3, "LastName": "Edited", "LastChangedDateTimeOffset": "2024-01-02T00:00:00+00:00"}),
            ),
            _ => Reply::json(404, json!({"title": "Not Found", "status": 404})),
        }
    })
    .await;
    let po = connector(&server, None, BTreeMap::new());
    let found = po
        .get("Contactperson", &RecordId::Int(7))
        .await
        .expect("get")
        .expect("found through the list");
    assert_eq!(found.data["ContactId"], json!(3));
    let updated = po
        .update(
            "Contactperson",
            &RecordId::Int(7),
            &json!({"LastName": "Edited"}),
        )
        .await
        .expect("patched under its customer");
    assert_eq!(updated.data["LastName"], json!("Edited"));
    let calls: Vec<(String, String)> = server
        .requests()
        .into_iter()
        .filter(|r| r.path != "/OAuth/Token")
        .map(|r| (r.method, r.path))
        .collect();
    assert!(calls.contains(&("PATCH".into(), "/v2/ContactPersons/7".into())));
    assert_eq!(
        calls.last(),
        Some(&("PATCH".into(), "/v2/ContactPersons/3/7".into()))
    );
    assert!(
        po.get("Contactperson", &RecordId::Int(8))
            .await
            .expect("get")
            .is_none(),
        "an unknown id is absent"
    );
}

#[tokio::test]
async fn contact_persons_without_a_customer_are_read_and_updated_in_the_sandbox() {
    let sandbox = flowgen_sandbox::start(SandboxConfig {
        records: 2,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let credentials = sandbox.config().credentials.clone();
    let env = move |name: &str| match name {
        "PO_APP" => Some(credentials.poweroffice_application_key.clone()),
        "PO_CLIENT" => Some(credentials.poweroffice_client_key.clone()),
        "PO_SUB" => Some(credentials.poweroffice_subscription_key.clone()),
        _ => None,
    };
    let options = BuildOptions {
        env: &env,
        properties: Default::default(),
        types: Default::default(),
    };
    let config = config(
        &sandbox.base_url(Api::PowerOffice),
        &sandbox.token_url(Api::PowerOffice).expect("token url"),
        None,
    );
    let po = PowerofficeConnector::new("Powerofficego", &config, &options).expect("connector");
    let created = po
        .create(
            "Contactperson",
            &json!({"FirstName": "Ann", "LastName": "Lee"}),
            None,
        )
        .await
        .expect("create");
    assert_eq!(created.data["ContactId"], Value::Null);
    let read = po
        .get("Contactperson", &created.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(read.data["LastName"], json!("Lee"));
    po.update("Contactperson", &created.id, &json!({"LastName": "Edited"}))
        .await
        .expect("update");
    let stored = sandbox
        .record("powerofficego", "Contactperson", &created.id.to_string())
        .expect("lookup")
        .expect("stored");
    assert_eq!(stored["LastName"], json!("Edited"));
    // A customer's id still lists its contact persons.
    let customer = sandbox
        .records("powerofficego", "Customers")
        .expect("records")[0]["Id"]
        .clone();
    let listed = reqwest::Client::new()
        .get(format!(
            "{}/ContactPersons/{customer}",
            sandbox.base_url(Api::PowerOffice)
        ))
        .bearer_auth(
            reqwest::Client::new()
                .post(sandbox.token_url(Api::PowerOffice).expect("token url"))
                .basic_auth(
                    &sandbox.config().credentials.poweroffice_application_key,
                    Some(&sandbox.config().credentials.poweroffice_client_key),
                )
                .header(
                    "Ocp-Apim-Subscription-Key",
                    &sandbox.config().credentials.poweroffice_subscription_key,
                )
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .expect("token")
                .json::<Value>()
                .await
                .expect("token json")["access_token"]
                .as_str()
                .expect("token"),
        )
        .header(
            "Ocp-Apim-Subscription-Key",
            &sandbox.config().credentials.poweroffice_subscription_key,
        )
        .send()
        .await
        .expect("list");
    assert!(
        [200, 204].contains(&listed.status().as_u16()),
        "{}",
        listed.status()
    );
}
