//! The WebCRM connector: exact requests against a scripted server, then the sandbox.

mod connectors_support;

use std::sync::atomic::{AtomicUsize, Ordering};

use connectors_support::{Reply, Seen, Server, env, fast_limits};
use flowgen_runtime::connector::{Connector, ErrorKind};
use flowgen_runtime::connectors::config::{ChangeDetection, WebcrmEntityConfig};
use flowgen_runtime::connectors::{BuildOptions, WebcrmConfig, WebcrmConnector};
use flowgen_runtime::flow::RecordId;
use flowgen_sandbox::{Api, SandboxConfig};
use serde_json::{Value, json};

const CODE: &str = "webcrm-AUTH-code-SECRET";
static ENV: &[(&str, &str)] = &[("WEBCRM_CODE", CODE)];

fn config(base: &str, margin: Option<u64>) -> WebcrmConfig {
    WebcrmConfig {
        base_url: Some(base.to_string()),
        auth_code_env: "WEBCRM_CODE".into(),
        token_renew_margin_secs: margin,
        refresh_token_in: Default::default(),
        page_size: None,
        entities: Default::default(),
        defaults: Default::default(),
        markers: Default::default(),
        limits: fast_limits(),
    }
}

fn connector(base: &str, config_of: impl FnOnce(&mut WebcrmConfig)) -> WebcrmConnector {
    let env = env(ENV);
    let options = BuildOptions {
        env: &env,
        properties: Default::default(),
        types: Default::default(),
    };
    let mut config = config(base, None);
    config_of(&mut config);
    WebcrmConnector::new("Webcrm", &config, &options).expect("connector")
}

/// Login answers `at-N`/`rt-N` living `lifetime` seconds; refresh answers `at-rN`.
async fn server(
    lifetime: u64,
    api: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> Server {
    let logins = AtomicUsize::new(0);
    let refreshes = AtomicUsize::new(0);
    Server::start(move |seen, n| match seen.path.as_str() {
        "/Auth/ApiLogin" => {
            let n = logins.fetch_add(1, Ordering::SeqCst) + 1;
            Reply::json(200, json!({"AccessToken": format!("at-{n}"), "RefreshToken": format!("rt-{n}"), "ExpiresIn": lifetime, "TokenType": "Bearer"}))
        }
        "/Auth/ApiRefresh" => {
            let n = refreshes.fetch_add(1, Ordering::SeqCst) + 1;
            Reply::json(200, json!({"AccessToken": format!("at-r{n}"), "ExpiresIn": lifetime, "TokenType": "Bearer"}))
        }
        _ => api(seen, n),
    })
    .await
}

fn person(id: i64, updated: &str) -> Value {
    json!({"PersonId": id, "PersonEmail": format!("p{id}@x.no"), "PersonUpdatedAt": updated})
}

fn api_requests(server: &Server) -> Vec<Seen> {
    server
        .requests()
        .into_iter()
        .filter(|r| !r.path.starts_with("/Auth/"))
        .collect()
}

#[tokio::test]
async fn logs_in_with_the_auth_code_and_refreshes_before_expiry() {
    // Tokens live 100 s, the margin is 300 s: the second call refreshes.
    let server = server(100, |_, _| {
        Reply::json(200, person(1, "2024-01-01T00:00:00"))
    })
    .await;
    let web = connector(&server.base, |_| {});
    web.get("Persons", &RecordId::Int(1)).await.expect("get");
    web.get("Persons", &RecordId::Int(1)).await.expect("get");
    let requests = server.requests();
    let login = requests
        .iter()
        .find(|r| r.path == "/Auth/ApiLogin")
        .expect("login");
    assert_eq!(login.form().get("authCode").map(String::as_str), Some(CODE));
    let refresh = requests
        .iter()
        .find(|r| r.path == "/Auth/ApiRefresh")
        .expect("refresh");
    assert_eq!(
        refresh.form().get("refreshToken").map(String::as_str),
        Some("rt-1")
    );
    assert_eq!(refresh.header("refreshtoken"), Some("rt-1"));
    let api = api_requests(&server);
    assert_eq!(api[0].header("authorization"), Some("Bearer at-1"));
    assert_eq!(api[1].header("authorization"), Some("Bearer at-r1"));
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path == "/Auth/ApiLogin")
            .count(),
        1
    );
    assert!(!format!("{web:?}").contains(CODE));
}

#[tokio::test]
async fn a_token_living_long_enough_is_reused() {
    let server = server(3600, |_, _| {
        Reply::json(200, person(1, "2024-01-01T00:00:00"))
    })
    .await;
    let web = connector(&server.base, |_| {});
    for _ in 0..3 {
        web.get("Persons", &RecordId::Int(1)).await.expect("get");
    }
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/Auth/"))
            .count(),
        1
    );
}

#[tokio::test]
async fn honours_retry_after_seconds_in_the_body() {
    let server = server(3600, |_, n| {
        if n == 1 {
            Reply::json(429, json!({"RetryAfterSeconds": 0, "Message": "API rate limit exceeded", "Type": "TooManyRequestsException"}))
        } else {
            Reply::json(200, person(1, "2024-01-01T00:00:00"))
        }
    })
    .await;
    let web = connector(&server.base, |_| {});
    assert!(
        web.get("Persons", &RecordId::Int(1))
            .await
            .expect("get")
            .is_some()
    );
    assert_eq!(api_requests(&server).len(), 2);
    let slow = self::server(3600, |_, _| {
        Reply::json(429, json!({"RetryAfterSeconds": 900, "Message": "slow down", "Type": "TooManyRequestsException"}))
    })
    .await;
    let web = connector(&slow.base, |_| {});
    let error = web
        .get("Persons", &RecordId::Int(1))
        .await
        .expect_err("429");
    assert_eq!(
        error.kind,
        ErrorKind::Transient {
            retry_after: Some(std::time::Duration::from_secs(900))
        }
    );
    assert!(error.message.contains("slow down"), "{error}");
}

#[tokio::test]
async fn first_changes_scan_the_list_then_query_from_the_watermark() {
    let server = server(3600, |seen, _| match seen.path.as_str() {
        "/Persons" => match seen.param("Page") {
            Some("1") => Reply::json(
                200,
                json!([
                    person(1, "2024-01-01T00:00:01"),
                    person(2, "2024-01-01T00:00:05")
                ]),
            ),
            _ => Reply::json(200, json!([])),
        },
        "/Queries" => Reply::json(
            200,
            json!([
                person(2, "2024-01-01T00:00:05"),
                person(3, "2024-01-01T00:00:05"),
                person(4, "2024-01-01T00:00:09")
            ]),
        ),
        _ => Reply::empty(404),
    })
    .await;
    let web = connector(&server.base, |_| {});
    let first = web.changes("Persons", None, 2).await.expect("page 1");
    assert!(first.more);
    let second = web
        .changes("Persons", first.cursor.as_deref(), 2)
        .await
        .expect("page 2");
    assert!(!second.more && second.records.is_empty());
    let third = web
        .changes("Persons", second.cursor.as_deref(), 1)
        .await
        .expect("query");
    assert_eq!(
        third
            .records
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        vec![RecordId::Int(3)]
    );
    assert!(third.more);
    let fourth = web
        .changes("Persons", third.cursor.as_deref(), 10)
        .await
        .expect("query");
    assert_eq!(
        fourth
            .records
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        vec![RecordId::Int(4)]
    );
    assert!(!fourth.more);
    let api = api_requests(&server);
    assert_eq!(
        (api[0].param("Page"), api[0].param("Size")),
        (Some("1"), Some("2"))
    );
    assert_eq!(api[1].param("Page"), Some("2"));
    assert_eq!(
        api[2].param("script"),
        Some(
            "SELECT * FROM Person WHERE PersonUpdatedAt >= '2024-01-01T00:00:05' ORDER BY PersonUpdatedAt ASC"
        )
    );
}

#[tokio::test]
async fn hash_detection_delivers_new_and_changed_records_only() {
    let version = std::sync::Arc::new(AtomicUsize::new(0));
    let v = version.clone();
    let server = server(3600, move |seen, _| {
        let changed = v.load(Ordering::SeqCst) > 0;
        match seen.param("Page") {
            Some("1") => Reply::json(
                200,
                json!([
                    {"UserId": 1, "UserName": "a"},
                    {"UserId": 2, "UserName": if changed { "B" } else { "b" }},
                ]),
            ),
            _ => Reply::json(200, json!([])),
        }
    })
    .await;
    let web = connector(&server.base, |c| {
        c.entities.insert(
            "Users".into(),
            WebcrmEntityConfig {
                path: "/Users".into(),
                prefix: "User".into(),
                id_field: None,
                updated_at_field: None,
                changes: ChangeDetection::Hash,
            },
        );
    });
    let (first, cursor) = drain(&web, "Users", None).await;
    assert_eq!(first.len(), 2);
    let (none, cursor) = drain(&web, "Users", cursor).await;
    assert!(none.is_empty(), "{none:?}");
    version.store(1, Ordering::SeqCst);
    let (changed, _) = drain(&web, "Users", cursor).await;
    assert_eq!(changed, vec![RecordId::Int(2)]);
}

async fn drain(
    web: &WebcrmConnector,
    entity: &str,
    mut cursor: Option<String>,
) -> (Vec<RecordId>, Option<String>) {
    let mut ids = Vec::new();
    loop {
        let page = web
            .changes(entity, cursor.as_deref(), 2)
            .await
            .expect("page");
        ids.extend(page.records.into_iter().map(|r| r.id));
        cursor = page.cursor;
        if !page.more {
            return (ids, cursor);
        }
    }
}

async fn sandbox_connector(sandbox: &flowgen_sandbox::Sandbox) -> WebcrmConnector {
    let code = sandbox.config().credentials.webcrm_auth_code.clone();
    let env = move |name: &str| (name == "WEBCRM_CODE").then(|| code.clone());
    let options = BuildOptions {
        env: &env,
        properties: Default::default(),
        types: Default::default(),
    };
    let mut config = config(&sandbox.base_url(Api::Webcrm), None);
    config.limits = fast_limits();
    config.limits.requests = None;
    config.limits.burst = None;
    config.limits.period_secs = None;
    WebcrmConnector::new("Webcrm", &config, &options).expect("connector")
}

#[tokio::test]
async fn sandbox_scan_query_create_update_search() {
    let sandbox = flowgen_sandbox::start(SandboxConfig {
        records: 30,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let web = sandbox_connector(&sandbox).await;
    let expected = sandbox.records("webcrm", "Persons").expect("records").len();
    let mut cursor = None;
    let mut count = 0;
    loop {
        let page = web
            .changes("Persons", cursor.as_deref(), 8)
            .await
            .expect("page");
        count += page.records.len();
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(count, expected);
    let quiet = web
        .changes("Persons", cursor.as_deref(), 8)
        .await
        .expect("query");
    assert!(quiet.records.is_empty(), "{:?}", quiet.records);

    let created = web
        .create("Persons", &json!({"PersonFirstName": "Ola", "PersonLastName": "Nordmann", "PersonEmail": "ola@nordmann.no"}), None)
        .await
        .expect("create");
    assert!(matches!(created.id, RecordId::Int(_)));
    assert_eq!(created.data["PersonEmail"], "ola@nordmann.no");
    let updated = web
        .update("Persons", &created.id, &json!({"PersonTitle": "CEO"}))
        .await
        .expect("update");
    assert_eq!(updated.data["PersonTitle"], "CEO");
    assert_eq!(
        updated.data["PersonFirstName"], "Ola",
        "a PUT of the merged record keeps the rest"
    );
    let changed = web
        .changes("Persons", quiet.cursor.as_deref(), 8)
        .await
        .expect("query");
    assert_eq!(
        changed
            .records
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        vec![created.id.clone()]
    );
    let found = web
        .search("Persons", "PersonEmail", &json!("ola@nordmann.no"))
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    sandbox.expire_tokens();
    assert!(
        web.get("Persons", &created.id)
            .await
            .expect("get after expiry")
            .is_some()
    );
    assert_eq!(
        web.get("Persons", &RecordId::Int(99_999_999))
            .await
            .expect("missing"),
        None
    );
    assert_eq!(sandbox.stats().api(Api::Webcrm).rate_limited, 0);
}
