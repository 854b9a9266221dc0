//! The generic REST connector and building connectors from YAML.

mod connectors_support;

use std::sync::Arc;

use connectors_support::{Reply, Server, basic, env, fast_limits};
use flowgen_runtime::connector::{Connector, ErrorKind};
use flowgen_runtime::connectors::config::{ConnectorConfig, RestConfig};
use flowgen_runtime::connectors::{BuildOptions, ConfigError, RestConnector, build_with};
use flowgen_runtime::flow::RecordId;
use flowgen_sandbox::SandboxConfig;
use serde_json::{Value, json};

static ENV: &[(&str, &str)] = &[
    ("ERP_TOKEN", "erp-TOKEN-secret"),
    ("ERP_USER", "erp-user"),
    ("ERP_PASSWORD", "erp-PASSWORD-secret"),
    ("CB_KEY", "cb-KEY-secret"),
    ("PO_APP", "po-APP-secret"),
    ("PO_CLIENT", "po-CLIENT-secret"),
    ("PO_SUB", "po-SUB-secret"),
    ("WEBCRM_CODE", "webcrm-CODE-secret"),
];

fn rest(yaml: &str) -> RestConnector {
    let config: RestConfig = serde_yaml::from_str(yaml).expect("yaml");
    let env = env(ENV);
    let mut config = config;
    config.limits = fast_limits();
    RestConnector::new(
        "Customerp",
        &config,
        &BuildOptions {
            env: &env,
            properties: Default::default(),
            types: Default::default(),
        },
    )
    .expect("connector")
}

#[tokio::test]
async fn page_style_paging_basic_auth_and_put_updates() {
    let server = Server::start(|seen, _| match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", "/erp/items") => match seen.param("pg") {
            Some("1") => Reply::json(
                200,
                json!({"rows": [{"key": "a", "changed": 10}, {"key": "b", "changed": 20}]}),
            ),
            _ => Reply::json(200, json!({"rows": [{"key": "c", "changed": 30}]})),
        },
        ("GET", "/erp/items/a") => Reply::json(
            200,
            json!({"key": "a", "name": "A", "price": 1, "changed": 10, "created": 1}),
        ),
        ("PUT", "/erp/items/a") => Reply::empty(204),
        _ => Reply::json(404, json!({"error": "not_found"})),
    })
    .await;
    let connector = rest(&format!(
        r#"
base_url: {}/erp
auth: {{type: basic, username_env: ERP_USER, password_env: ERP_PASSWORD}}
entities:
  Item:
    path: /items
    id_field: key
    id_type: string
    updated_at_field: changed
    updated_since_param: changed_after
    updated_since_inclusive: false
    paging: {{style: page, page_param: pg, size_param: n}}
    items_field: rows
    update: put
    read_only: [created]
"#,
        server.base
    ));
    let first = connector.changes("Item", None, 2).await.expect("page 1");
    assert!(first.more);
    assert_eq!(first.records[1].id, RecordId::Text("b".into()));
    assert_eq!(first.records[1].updated_at.timestamp(), 20);
    let second = connector
        .changes("Item", first.cursor.as_deref(), 2)
        .await
        .expect("page 2");
    assert!(!second.more);
    assert_eq!(second.records.len(), 1);
    let requests = server.requests();
    assert_eq!(
        requests[0].header("authorization"),
        Some(basic("erp-user", "erp-PASSWORD-secret").as_str())
    );
    assert_eq!(
        (requests[0].param("pg"), requests[0].param("n")),
        (Some("1"), Some("2"))
    );
    assert_eq!(requests[1].param("pg"), Some("2"));
    connector
        .changes("Item", second.cursor.as_deref(), 2)
        .await
        .expect("next run");
    assert_eq!(
        server.requests()[2].param("changed_after"),
        Some("1970-01-01T00:00:29.999Z")
    );

    let updated = connector
        .update("Item", &RecordId::Text("a".into()), &json!({"price": 2}))
        .await;
    // The PUT answers nothing, so the record is read back (the script still answers the old one).
    assert!(updated.is_ok(), "{updated:?}");
    let put = server
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .expect("put");
    assert_eq!(
        put.json(),
        json!({"name": "A", "price": 2}),
        "id, change time and read-only fields are not sent"
    );
}

#[tokio::test]
async fn cursor_paging_and_error_mapping() {
    let server = Server::start(|seen, _| match seen.param("after") {
        None => Reply::json(
            200,
            json!({"data": [{"id": 1}, {"id": "2"}], "next": "tok2"}),
        ),
        Some("tok2") => Reply::json(200, json!({"data": [{"id": 3}], "next": null})),
        Some(_) => Reply::json(
            422,
            json!({"error": "validation_failed", "message": "bad cursor"}),
        ),
    })
    .await;
    let connector = rest(&format!(
        "base_url: {}\nauth: {{type: bearer, token_env: ERP_TOKEN}}\nentities:\n  Thing: {{path: /things, updated_at_field: null, paging: {{style: cursor, cursor_param: after, next_field: next}}}}\n",
        server.base
    ));
    let first = connector.changes("Thing", None, 50).await.expect("first");
    assert_eq!(
        first
            .records
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        vec![RecordId::Int(1), RecordId::Int(2)]
    );
    assert!(first.more);
    let second = connector
        .changes("Thing", first.cursor.as_deref(), 50)
        .await
        .expect("second");
    assert!(!second.more);
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer erp-TOKEN-secret")
    );
    assert_eq!(server.requests()[1].param("after"), Some("tok2"));
    let bad = r#"{"pos":"nope"}"#;
    let error = connector
        .changes("Thing", Some(bad), 50)
        .await
        .expect_err("422");
    assert_eq!(error.kind, ErrorKind::Permanent);
    assert!(error.message.contains("bad cursor"), "{error}");
    assert!(
        connector
            .changes("Thing", Some("garbage"), 50)
            .await
            .expect_err("cursor")
            .to_string()
            .contains("cursor")
    );
}

#[tokio::test]
async fn sandbox_customerp_customers() {
    let sandbox = flowgen_sandbox::start(SandboxConfig {
        records: 30,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let token = sandbox.config().credentials.rest_token.clone();
    let env = move |name: &str| (name == "ERP_TOKEN").then(|| token.clone());
    let base = sandbox.rest_base_url("customerp").expect("customerp");
    let yaml = format!(
        "base_url: {base}\nauth: {{type: bearer, token_env: ERP_TOKEN}}\nentities:\n  Customer: {{path: /customers, list_query: {{sort: updated_at}}, read_only: [created_at, updated_at]}}\n  Contact: {{path: /contacts, update: put, read_only: [created_at]}}\n"
    );
    let config: RestConfig = serde_yaml::from_str(&yaml).expect("yaml");
    let connector = RestConnector::new(
        "Customerp",
        &config,
        &BuildOptions {
            env: &env,
            properties: Default::default(),
            types: Default::default(),
        },
    )
    .expect("connector");
    let expected = sandbox
        .records("customerp", "Customer")
        .expect("records")
        .len();
    let mut cursor = None;
    let mut count = 0;
    loop {
        let page = connector
            .changes("Customer", cursor.as_deref(), 8)
            .await
            .expect("page");
        count += page.records.len();
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(count, expected);
    let quiet = connector
        .changes("Customer", cursor.as_deref(), 8)
        .await
        .expect("quiet");
    assert!(quiet.records.is_empty(), "{:?}", quiet.records);
    let created = connector
        .create(
            "Customer",
            &json!({"name": "Acme AS", "email": "post@acme.no"}),
            None,
        )
        .await
        .expect("create");
    assert!(matches!(created.id, RecordId::Int(_)));
    let updated = connector
        .update("Customer", &created.id, &json!({"city": "Oslo"}))
        .await
        .expect("patch");
    assert_eq!(
        (updated.data["city"].clone(), updated.data["name"].clone()),
        (json!("Oslo"), json!("Acme AS"))
    );
    let changed = connector
        .changes("Customer", quiet.cursor.as_deref(), 8)
        .await
        .expect("changed");
    assert_eq!(
        changed
            .records
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        vec![created.id.clone()]
    );
    let found = connector
        .search("Customer", "email", &json!("post@acme.no"))
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    let contact = sandbox
        .records("customerp", "Contact")
        .expect("contacts")
        .into_iter()
        .next()
        .expect("a contact");
    let id = RecordId::from_json(&contact["id"]).expect("id");
    let before: Value = contact.clone();
    let first_field = before
        .as_object()
        .and_then(|m| {
            m.keys()
                .find(|k| !["id", "created_at", "updated_at"].contains(&k.as_str()))
                .cloned()
        })
        .expect("field");
    let mut patch = serde_json::Map::new();
    patch.insert(first_field.clone(), before[&first_field].clone());
    let put = connector
        .update("Contact", &id, &Value::Object(patch))
        .await
        .expect("put");
    assert_eq!(put.id, id);
    assert_eq!(
        connector
            .get("Customer", &RecordId::Int(987_654_321))
            .await
            .expect("missing"),
        None
    );
}

#[test]
fn connectors_build_from_yaml_and_never_show_secrets() {
    let env = env(ENV);
    let options = BuildOptions {
        env: &env,
        properties: Default::default(),
        types: Default::default(),
    };
    let configs = [
        (
            "Chargebee",
            "kind: chargebee\nsite: acme-test\napi_key_env: CB_KEY\n",
            "cb-KEY-secret",
        ),
        (
            "Powerofficego",
            "kind: poweroffice\napplication_key_env: PO_APP\nclient_key_env: PO_CLIENT\nsubscription_key_env: PO_SUB\n",
            "po-APP-secret",
        ),
        (
            "Webcrm",
            "kind: webcrm\nauth_code_env: WEBCRM_CODE\n",
            "webcrm-CODE-secret",
        ),
        (
            "Customerp",
            "kind: rest\nbase_url: https://erp.example.com/api\nauth: {type: bearer, token_env: ERP_TOKEN}\nentities: {Customer: {path: /customers}}\n",
            "erp-TOKEN-secret",
        ),
    ];
    for (name, yaml, secret) in configs {
        let config = ConnectorConfig::from_yaml(yaml).expect("yaml");
        let connector = build_with(name, &config, &options).expect("build");
        assert_eq!(connector.system(), name);
        let debug = format!("{connector:?}");
        assert!(!debug.contains(secret), "{name}: {debug}");
        assert!(!debug.contains("-secret"), "{name}: {debug}");
    }
}

#[test]
fn invalid_configuration_names_the_key() {
    let env = env(ENV);
    let options = BuildOptions {
        env: &env,
        properties: Default::default(),
        types: Default::default(),
    };
    let error_of = |yaml: &str| match build_with(
        "S",
        &ConnectorConfig::from_yaml(yaml).expect("yaml"),
        &options,
    ) {
        Err(e) => e,
        Ok(c) => panic!("expected an error, built {c:?}"),
    };
    let missing = error_of("kind: chargebee\nsite: a\napi_key_env: NOT_SET_ANYWHERE\n");
    assert!(
        matches!(&missing, ConfigError::MissingEnv { key, variable, .. } if key == "api_key_env" && variable == "NOT_SET_ANYWHERE")
    );
    assert!(missing.to_string().contains("NOT_SET_ANYWHERE"));
    let both = error_of("kind: chargebee\nsite: a\nbase_url: http://x\napi_key_env: CB_KEY\n");
    assert!(both.to_string().contains("base_url"), "{both}");
    let url = error_of("kind: webcrm\nbase_url: ftp://x\nauth_code_env: WEBCRM_CODE\n");
    assert!(url.to_string().contains("`base_url`"), "{url}");
    let path = error_of("kind: rest\nbase_url: http://x\nentities: {A: {path: items}}\n");
    assert!(path.to_string().contains("entities.A.path"), "{path}");
    let size = error_of(
        "kind: poweroffice\napplication_key_env: PO_APP\nclient_key_env: PO_CLIENT\nsubscription_key_env: PO_SUB\npage_size: 50000\n",
    );
    assert!(size.to_string().contains("page_size"), "{size}");
    let parent = error_of(
        "kind: poweroffice\napplication_key_env: PO_APP\nclient_key_env: PO_CLIENT\nsubscription_key_env: PO_SUB\nentities: {Lines: {path: '/X/{parent}/Lines', parent: Nope}}\n",
    );
    assert!(
        parent.to_string().contains("entities.Lines.parent"),
        "{parent}"
    );
    let limits = error_of("kind: webcrm\nauth_code_env: WEBCRM_CODE\nlimits: {concurrency: 0}\n");
    assert!(
        limits.to_string().contains("limits.concurrency"),
        "{limits}"
    );
    let unknown = ConnectorConfig::from_yaml(
        "kind: rest\nbase_url: http://x\nentities: {A: {path: /a, pagination: 3}}\n",
    )
    .expect_err("unknown");
    assert!(unknown.to_string().contains("pagination"), "{unknown}");
    let secret_in_env = error_of(
        "kind: rest\nbase_url: http://x\nauth: {type: basic, username_env: ERP_USER, password_env: MISSING_PW}\nentities: {A: {path: /a}}\n",
    );
    assert!(
        secret_in_env.to_string().contains("auth.password_env")
            && !secret_in_env.to_string().contains("erp-user")
    );
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_transient() {
    // A server that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    // A port nobody listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let env = env(ENV);
    let options = BuildOptions {
        env: &env,
        properties: Default::default(),
        types: Default::default(),
    };
    let connector_at = |addr: std::net::SocketAddr| {
        let mut config: RestConfig = serde_yaml::from_str(&format!(
            "base_url: http://{addr}\nentities: {{A: {{path: /a}}}}\n"
        ))
        .expect("yaml");
        config.limits = fast_limits();
        config.limits.timeout_secs = Some(0.2);
        config.limits.max_retries = Some(1);
        RestConnector::new("Custom", &config, &options).expect("connector")
    };
    let slow = connector_at(silent);
    let error = slow.get("A", &RecordId::Int(1)).await.expect_err("timeout");
    assert!(error.is_transient(), "{error}");
    assert!(error.message.contains("timed out"), "{error}");
    assert_eq!(slow.http().attempts(), 2, "reads are retried");
    let error = slow
        .create("A", &json!({"x": 1}), None)
        .await
        .expect_err("timeout");
    assert!(error.is_transient());
    assert_eq!(
        slow.http().attempts(),
        3,
        "a create that timed out may have happened: not repeated"
    );

    let refused = connector_at(closed);
    let error = refused
        .create("A", &json!({"x": 1}), None)
        .await
        .expect_err("refused");
    assert!(error.is_transient(), "{error}");
    assert!(error.message.contains("connect"), "{error}");
    assert_eq!(
        refused.http().attempts(),
        2,
        "a refused connection performed nothing: retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_limit_bounds_requests_in_flight() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (now, max) = (in_flight.clone(), most.clone());
    let app = axum::Router::new().fallback(move || {
        let (now, max) = (now.clone(), max.clone());
        async move {
            let current = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(current, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            axum::Json(json!({"id": 1}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let env = env(ENV);
    let mut config: RestConfig = serde_yaml::from_str(&format!(
        "base_url: http://{addr}\nentities: {{A: {{path: /a}}}}\n"
    ))
    .expect("yaml");
    config.limits = fast_limits();
    config.limits.concurrency = Some(2);
    let connector = Arc::new(
        RestConnector::new(
            "Custom",
            &config,
            &BuildOptions {
                env: &env,
                properties: Default::default(),
                types: Default::default(),
            },
        )
        .expect("connector"),
    );
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let connector = connector.clone();
            tokio::spawn(async move { connector.get("A", &RecordId::Int(1)).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.expect("join").expect("get").is_some());
    }
    let most = most.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&most),
        "at most 2 requests in flight, saw {most}"
    );
}
