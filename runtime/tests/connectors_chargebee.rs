//! The Chargebee connector: exact requests against a scripted server, then the sandbox.

mod connectors_support;

use std::time::Duration;

use connectors_support::{Reply, Server, basic, env, fast_limits};
use flowgen_runtime::connector::{Connector, ErrorKind};
use flowgen_runtime::connectors::{
    BuildOptions, ChargebeeConfig, ChargebeeConnector, LimitsConfig,
};
use flowgen_runtime::flow::RecordId;
use flowgen_sandbox::{Api, SandboxConfig};
use serde_json::{Value, json};

const KEY: &str = "cb_test_SECRET_key_123";
static ENV: &[(&str, &str)] = &[("CB_KEY", KEY)];

fn config(base: &str, limits: LimitsConfig) -> ChargebeeConfig {
    ChargebeeConfig {
        site: None,
        base_url: Some(base.to_string()),
        api_key_env: "CB_KEY".into(),
        business_entity_id: None,
        include_deleted: false,
        entities: Default::default(),
        defaults: Default::default(),
        markers: Default::default(),
        limits,
    }
}

fn connector(base: &str) -> ChargebeeConnector {
    connector_with(base, fast_limits())
}

fn connector_with(base: &str, limits: LimitsConfig) -> ChargebeeConnector {
    let env = env(ENV);
    let options = BuildOptions {
        env: &env,
        properties: Default::default(),
        types: Default::default(),
    };
    ChargebeeConnector::new(
        "Chargebee",
        &config(&format!("{base}/api/v2"), limits),
        &options,
    )
    .expect("connector")
}

fn customer(id: &str, updated: i64) -> Value {
    json!({"customer": {"id": id, "email": format!("{id}@x.no"), "updated_at": updated, "created_at": 1}})
}

#[tokio::test]
async fn creates_with_basic_auth_form_encoding_and_idempotency_key() {
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            json!({"order": {"id": "ord_1", "updated_at": 1_700_000_000, "currency_code": "NOK"}}),
        )
    })
    .await;
    let cb = connector(&server.base);
    let data = json!({
        "customer_id": "cust_1",
        "currency_code": "NOK",
        "shipping_address": {"first_name": "Ada", "city": "Oslo"},
        "order_line_items": [{"unit_price": 100, "amount": 200}, {"unit_price": 5, "amount": 5}],
        "note": null
    });
    let record = cb
        .create("Order", &data, Some("intent-42"))
        .await
        .expect("create");
    assert_eq!(record.id, RecordId::Text("ord_1".into()));
    assert_eq!(record.updated_at.timestamp(), 1_700_000_000);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/api/v2/orders")
    );
    assert_eq!(
        request.header("authorization"),
        Some(basic(KEY, "").as_str())
    );
    assert_eq!(
        request.header("chargebee-idempotency-key"),
        Some("intent-42")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = request.form();
    let expected: Vec<(&str, &str)> = vec![
        ("currency_code", "NOK"),
        ("customer_id", "cust_1"),
        ("order_line_items[amount][0]", "200"),
        ("order_line_items[amount][1]", "5"),
        ("order_line_items[unit_price][0]", "100"),
        ("order_line_items[unit_price][1]", "5"),
        ("shipping_address[city]", "Oslo"),
        ("shipping_address[first_name]", "Ada"),
    ];
    let got: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(got, expected, "nulls are left out of creates");
}

#[tokio::test]
async fn updates_post_to_the_record_and_clear_nulls() {
    let server = Server::start(|_, _| Reply::json(200, customer("cust_9", 5))).await;
    let cb = connector(&server.base);
    cb.update(
        "Customer",
        &RecordId::Text("cust 9/x".into()),
        &json!({"email": "a@b.no", "phone": null}),
    )
    .await
    .expect("update");
    let request = &server.requests()[0];
    assert_eq!(request.path, "/api/v2/customers/cust%209%2Fx");
    assert!(request.header("chargebee-idempotency-key").is_none());
    let form = request.form();
    assert_eq!(form.get("email").map(String::as_str), Some("a@b.no"));
    assert_eq!(form.get("phone").map(String::as_str), Some(""));
}

#[tokio::test]
async fn changes_page_by_next_offset_then_filter_from_the_watermark() {
    let server = Server::start(|seen, _| match seen.param("offset") {
        None if seen.param("updated_at[after]").is_none() => Reply::json(
            200,
            json!({"list": [customer("a", 100), customer("b", 200)], "next_offset": "[\"200\",\"b\"]"}),
        ),
        Some(_) => Reply::json(200, json!({"list": [customer("c", 300), customer("d", 300)]})),
        // The second run, from the watermark: Chargebee returns everything changed after
        // 299 s, including the already delivered c and d, and a new e in the same second.
        None => Reply::json(200, json!({"list": [customer("c", 300), customer("d", 300), customer("e", 300)]})),
    })
    .await;
    let cb = connector(&server.base);
    let first = cb.changes("Customer", None, 2).await.expect("page 1");
    assert!(first.more);
    assert_eq!(
        first
            .records
            .iter()
            .map(|r| r.id.to_string())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    let second = cb
        .changes("Customer", first.cursor.as_deref(), 2)
        .await
        .expect("page 2");
    assert!(!second.more);
    assert_eq!(second.records.len(), 2);
    let third = cb
        .changes("Customer", second.cursor.as_deref(), 2)
        .await
        .expect("next run");
    assert_eq!(
        third
            .records
            .iter()
            .map(|r| r.id.to_string())
            .collect::<Vec<_>>(),
        ["e"],
        "c and d were delivered"
    );
    let requests = server.requests();
    assert_eq!(requests[0].param("limit"), Some("2"));
    assert_eq!(requests[0].param("sort_by[asc]"), Some("updated_at"));
    assert_eq!(requests[0].param("updated_at[after]"), None);
    assert_eq!(requests[1].param("offset"), Some("[\"200\",\"b\"]"));
    assert_eq!(requests[2].param("updated_at[after]"), Some("299"));
    assert_eq!(requests[2].param("offset"), None);
    let limit = cb.changes("Customer", None, 1000).await.expect("clamped");
    assert!(limit.more);
    assert_eq!(server.requests()[3].param("limit"), Some("100"));
}

#[tokio::test]
async fn get_maps_404_to_none_and_errors_by_status() {
    let server = Server::start(|seen, _| match seen.path.as_str() {
        "/api/v2/customers/gone" => Reply::json(
            404,
            json!({"message": "Sorry, we couldn't find that resource", "type": "invalid_request", "api_error_code": "resource_not_found"}),
        ),
        "/api/v2/customers/bad" => Reply::json(
            400,
            json!({"message": format!("echoing {KEY}"), "api_error_code": "param_wrong_value", "param": "email"}),
        ),
        "/api/v2/customers/cut" => Reply::raw(200, "{\"customer\": {\"id\""),
        _ => Reply::json(200, customer("ok", 7)),
    })
    .await;
    let cb = connector(&server.base);
    assert_eq!(
        cb.get("Customer", &RecordId::Text("gone".into()))
            .await
            .expect("404"),
        None
    );
    let found = cb
        .get("customer", &RecordId::Text("ok".into()))
        .await
        .expect("found")
        .expect("some");
    assert_eq!(found.data["email"], "ok@x.no");
    let error = cb
        .get("Customer", &RecordId::Text("bad".into()))
        .await
        .expect_err("400");
    assert_eq!(error.kind, ErrorKind::Permanent);
    let text = format!("{error} {error:?}");
    assert!(text.contains("param_wrong_value"), "{text}");
    assert!(!text.contains(KEY), "the key must be redacted: {text}");
    assert!(!format!("{cb:?}").contains(KEY));
    let error = cb
        .get("Customer", &RecordId::Text("cut".into()))
        .await
        .expect_err("malformed");
    assert!(error.is_transient(), "{error}");
    let error = cb
        .get("Invoice", &RecordId::Text("x".into()))
        .await
        .expect_err("unknown entity");
    assert!(
        error.to_string().contains("Invoice") && error.to_string().contains("entities"),
        "{error}"
    );
}

#[tokio::test]
async fn retries_429_and_5xx_honouring_retry_after() {
    let server = Server::start(|_, n| match n {
        0 => Reply::json(429, json!({"message": "too many requests"}))
            .with_header("retry-after", "0"),
        1 => Reply::json(503, json!({"message": "down"})),
        _ => Reply::json(200, customer("c1", 3)),
    })
    .await;
    let cb = connector(&server.base);
    let record = cb
        .get("Customer", &RecordId::Text("c1".into()))
        .await
        .expect("retried");
    assert!(record.is_some());
    assert_eq!(server.requests().len(), 3);
    assert_eq!(cb.http().attempts(), 3);
}

#[tokio::test]
async fn long_retry_after_goes_back_to_the_engine() {
    let server = Server::start(|_, _| {
        Reply::json(429, json!({"message": "slow"})).with_header("retry-after", "3600")
    })
    .await;
    let cb = connector(&server.base);
    let error = cb
        .get("Customer", &RecordId::Text("c1".into()))
        .await
        .expect_err("429");
    assert_eq!(
        error.kind,
        ErrorKind::Transient {
            retry_after: Some(Duration::from_secs(3600))
        }
    );
    assert_eq!(
        server.requests().len(),
        1,
        "no waiting an hour inside one operation"
    );
}

#[tokio::test]
async fn creates_without_a_key_are_not_replayed_after_ambiguous_failures() {
    let server = Server::start(|_, _| Reply::json(500, json!({"message": "boom"}))).await;
    let cb = connector(&server.base);
    let error = cb
        .create("Customer", &json!({"email": "a@b.no"}), None)
        .await
        .expect_err("500");
    assert!(error.is_transient());
    assert_eq!(
        server.requests().len(),
        1,
        "a 500 may have created the record"
    );
    let keyed = cb
        .create("Customer", &json!({"email": "a@b.no"}), Some("k1"))
        .await
        .expect_err("500");
    assert!(keyed.is_transient());
    assert_eq!(
        server.requests().len(),
        1 + 4,
        "with an idempotency key, retries are safe"
    );
}

#[tokio::test]
async fn search_filters_with_is_and_checks_locally() {
    let server = Server::start(|seen, _| {
        assert_eq!(seen.param("email[is]"), Some("Ann@X.no"));
        Reply::json(200, json!({"list": [customer("ann", 1), {"customer": {"id": "other", "email": "bob@x.no", "updated_at": 1}}]}))
    })
    .await;
    let cb = connector(&server.base);
    let found = cb
        .search("Customer", "email", &json!(" Ann@X.no "))
        .await
        .expect("search");
    assert_eq!(
        found.iter().map(|r| r.id.to_string()).collect::<Vec<_>>(),
        ["ann"]
    );
    assert!(
        cb.search("Customer", "email", &json!(""))
            .await
            .expect("empty")
            .is_empty()
    );
    assert_eq!(
        server.requests().len(),
        1,
        "empty values never match, so nothing is asked"
    );
}

async fn sandbox() -> flowgen_sandbox::Sandbox {
    flowgen_sandbox::start(SandboxConfig {
        records: 30,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox")
}

fn sandbox_connector(sandbox: &flowgen_sandbox::Sandbox) -> ChargebeeConnector {
    let key = sandbox.config().credentials.chargebee_api_key.clone();
    let env = move |name: &str| (name == "CB_KEY").then(|| key.clone());
    let options = BuildOptions {
        env: &env,
        properties: Default::default(),
        types: Default::default(),
    };
    let mut limits = fast_limits();
    limits.requests = None;
    limits.burst = None;
    limits.period_secs = None;
    ChargebeeConnector::new(
        "Chargebee",
        &config(&sandbox.base_url(Api::Chargebee), limits),
        &options,
    )
    .expect("connector")
}

#[tokio::test]
async fn sandbox_full_scan_create_update_search_and_idempotent_replay() {
    let sandbox = sandbox().await;
    let cb = sandbox_connector(&sandbox);
    let expected = sandbox
        .records("chargebee", "Customer")
        .expect("records")
        .len();
    let mut cursor = None;
    let mut seen = Vec::new();
    loop {
        let page = cb
            .changes("Customer", cursor.as_deref(), 7)
            .await
            .expect("page");
        seen.extend(page.records.into_iter().map(|r| r.id));
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(seen.len(), expected);
    let again = cb
        .changes("Customer", cursor.as_deref(), 7)
        .await
        .expect("nothing new");
    assert!(again.records.is_empty(), "{:?}", again.records);

    let created = cb
        .create(
            "Customer",
            &json!({"email": "new.person@example.com", "first_name": "New", "billing_address": {"city": "Bergen"}}),
            Some("intent-1"),
        )
        .await
        .expect("create");
    let replay = cb
        .create(
            "Customer",
            &json!({"email": "new.person@example.com", "first_name": "New"}),
            Some("intent-1"),
        )
        .await
        .expect("replay");
    assert_eq!(created.id, replay.id);
    assert_eq!(
        sandbox
            .records("chargebee", "Customer")
            .expect("records")
            .len(),
        expected + 1
    );

    let updated = cb
        .update("Customer", &created.id, &json!({"last_name": "Person"}))
        .await
        .expect("update");
    assert_eq!(updated.data["last_name"], "Person");
    assert_eq!(updated.data["first_name"], "New");

    let next = cb
        .changes("Customer", cursor.as_deref(), 7)
        .await
        .expect("changes");
    assert_eq!(
        next.records
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        vec![created.id.clone()]
    );

    let found = cb
        .search("Customer", "email", &json!("NEW.person@example.com"))
        .await
        .expect("search");
    assert_eq!(found.len(), 1, "found by the lowercased value");
    let found = cb
        .search("Customer", "email", &json!("new.person@example.com"))
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    let by_city = cb
        .search("Customer", "billing_address.city", &json!("bergen"))
        .await
        .expect("scan");
    assert!(by_city.iter().any(|r| r.id == created.id));
    assert_eq!(
        cb.get("Customer", &RecordId::Text("no_such_customer".into()))
            .await
            .expect("get"),
        None
    );
}

#[tokio::test]
async fn sandbox_faults_are_retried_without_duplicates() {
    let sandbox = sandbox().await;
    let env_key = sandbox.config().credentials.chargebee_api_key.clone();
    let env = move |name: &str| (name == "CB_KEY").then(|| env_key.clone());
    let options = BuildOptions {
        env: &env,
        properties: Default::default(),
        types: Default::default(),
    };
    let mut limits = fast_limits();
    limits.requests = None;
    limits.burst = None;
    limits.period_secs = None;
    limits.max_retries = Some(12);
    let cb = ChargebeeConnector::new(
        "Chargebee",
        &config(&sandbox.base_url(Api::Chargebee), limits),
        &options,
    )
    .expect("connector");
    sandbox
        .set_api_faults(
            Api::Chargebee,
            flowgen_sandbox::Faults {
                error_5xx: 0.15,
                too_many_requests: 0.1,
                retry_after_secs: 0,
                malformed: 0.1,
                drop_connection: 0.1,
                ..flowgen_sandbox::Faults::none()
            },
        )
        .expect("faults");
    let before = sandbox
        .records("chargebee", "Customer")
        .expect("records")
        .len();
    let mut cursor = None;
    let mut seen = 0;
    loop {
        let page = cb
            .changes("Customer", cursor.as_deref(), 5)
            .await
            .expect("page despite faults");
        seen += page.records.len();
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(seen, before);
    for i in 0..6 {
        let data = json!({"email": format!("fault{i}@example.com"), "first_name": "F"});
        cb.create("Customer", &data, Some(&format!("fault-intent-{i}")))
            .await
            .expect("create despite faults");
    }
    sandbox
        .set_api_faults(Api::Chargebee, flowgen_sandbox::Faults::none())
        .expect("faults off");
    assert_eq!(
        sandbox
            .records("chargebee", "Customer")
            .expect("records")
            .len(),
        before + 6,
        "no duplicates"
    );
    let stats = sandbox.stats().api(Api::Chargebee);
    let faults = stats.faults.errors_5xx
        + stats.faults.too_many_requests
        + stats.faults.malformed
        + stats.faults.dropped;
    assert!(faults > 0, "faults were injected: {stats:?}");
    assert_eq!(
        cb.http().attempts(),
        stats.requests,
        "every attempt reached the sandbox"
    );
}
