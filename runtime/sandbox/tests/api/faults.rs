use std::time::Duration;

use flowgen_sandbox::{Api, Faults, RateLimit, Sandbox, StatsSnapshot};
use serde_json::Value;

use crate::common::{client, config, sandbox, send};

fn customers(sb: &Sandbox) -> reqwest::RequestBuilder {
    client()
        .get(format!("{}/customers", sb.base_url(Api::Chargebee)))
        .basic_auth(&sb.config().credentials.chargebee_api_key, Some(""))
}

#[tokio::test]
async fn latency_is_added_and_counted() {
    let sb = sandbox(2).await;
    sb.set_api_faults(
        Api::Chargebee,
        Faults {
            latency: Duration::from_millis(20),
            ..Faults::none()
        },
    )
    .unwrap();
    for _ in 0..3 {
        let (status, _) = send(customers(&sb)).await;
        assert_eq!(status, 200);
    }
    let f = sb.stats().api(Api::Chargebee).faults;
    assert_eq!(f.latency_requests, 3);
    assert_eq!(f.latency_total_ms, 60);
    // Other APIs were not delayed.
    assert_eq!(sb.stats().api(Api::Webcrm).faults.latency_requests, 0);
}

#[tokio::test]
async fn injected_5xx_and_429_use_each_apis_shape() {
    let sb = sandbox(2).await;
    sb.set_faults(Faults {
        error_5xx: 1.0,
        ..Faults::none()
    })
    .unwrap();
    let (status, body) = send(customers(&sb)).await;
    assert!([500, 502, 503].contains(&status), "{status}");
    assert!(body["api_error_code"].is_string(), "{body}");
    let (status, body) =
        send(client().get(format!("{}/Customers", sb.base_url(Api::PowerOffice)))).await;
    assert!(status >= 500);
    assert_eq!(body["status"], status);
    let (status, body) = send(client().get(format!("{}/Persons", sb.base_url(Api::Webcrm)))).await;
    assert!(status >= 500);
    assert!(body["Type"].as_str().unwrap().ends_with("Exception"));

    sb.set_faults(Faults {
        too_many_requests: 1.0,
        retry_after_secs: 7,
        ..Faults::none()
    })
    .unwrap();
    for url in [
        format!("{}/customers", sb.base_url(Api::Chargebee)),
        format!("{}/Customers", sb.base_url(Api::PowerOffice)),
        format!("{}/Persons", sb.base_url(Api::Webcrm)),
        format!("{}/contacts", sb.rest_base_url("customerp").unwrap()),
    ] {
        let resp = client().get(&url).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 429, "{url}");
        assert_eq!(
            resp.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("7"),
            "{url}"
        );
    }
    let (_, body) = send(client().get(format!("{}/Persons", sb.base_url(Api::Webcrm)))).await;
    assert_eq!(body["RetryAfterSeconds"], 7);
    assert_eq!(body["Type"], "TooManyRequestsException");
    let s = sb.stats();
    assert_eq!(s.api(Api::Chargebee).faults.errors_5xx, 1);
    assert_eq!(s.api(Api::Chargebee).faults.too_many_requests, 1);
    assert_eq!(
        s.api(Api::Chargebee).rate_limited,
        0,
        "injected 429s are not rate limiting"
    );
    assert_eq!(s.api(Api::Webcrm).faults.too_many_requests, 2);
}

#[tokio::test]
async fn malformed_bodies_and_dropped_connections() {
    let sb = sandbox(2).await;
    sb.set_api_faults(
        Api::Chargebee,
        Faults {
            malformed: 1.0,
            ..Faults::none()
        },
    )
    .unwrap();
    let resp = customers(&sb).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let bytes = resp.bytes().await.unwrap();
    assert!(!bytes.is_empty());
    assert!(
        serde_json::from_slice::<Value>(&bytes).is_err(),
        "the body is cut short"
    );
    assert_eq!(sb.stats().api(Api::Chargebee).faults.malformed, 1);

    sb.set_api_faults(
        Api::Chargebee,
        Faults {
            drop_connection: 1.0,
            ..Faults::none()
        },
    )
    .unwrap();
    let err = customers(&sb).send().await;
    assert!(err.is_err(), "a dropped connection is a client error");
    assert_eq!(sb.stats().api(Api::Chargebee).faults.dropped, 1);

    sb.set_faults(Faults::none()).unwrap();
    let (status, _) = send(customers(&sb)).await;
    assert_eq!(status, 200, "faults can be turned off while running");
    assert!(
        sb.set_faults(Faults {
            error_5xx: 2.0,
            ..Faults::none()
        })
        .is_err()
    );
}

#[tokio::test]
async fn fault_sequence_is_deterministic() {
    async fn statuses() -> Vec<u16> {
        let mut cfg = config(2);
        cfg.faults = Faults {
            error_5xx: 0.3,
            too_many_requests: 0.2,
            ..Faults::none()
        };
        cfg.rate_limits.enforce = false;
        let sb = flowgen_sandbox::start(cfg).await.unwrap();
        let mut out = Vec::new();
        for _ in 0..30 {
            out.push(send(customers(&sb)).await.0);
        }
        out
    }
    let a = statuses().await;
    let b = statuses().await;
    assert_eq!(a, b);
    assert!(a.contains(&200) && a.iter().any(|s| *s != 200), "{a:?}");
}

#[tokio::test]
async fn rate_limits_are_enforced_and_counted() {
    let mut cfg = config(2);
    cfg.rate_limits.chargebee = RateLimit::per_minute(3);
    cfg.rate_limits.poweroffice = RateLimit {
        requests: 4,
        window: Duration::from_secs(60),
    };
    cfg.rate_limits.rest = RateLimit::per_minute(2);
    let sb = flowgen_sandbox::start(cfg).await.unwrap();
    for _ in 0..3 {
        assert_eq!(send(customers(&sb)).await.0, 200);
    }
    let resp = customers(&sb).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["api_error_code"], "api_request_limit_exceeded");

    let sub = sb.config().credentials.poweroffice_subscription_key.clone();
    for i in 0..5 {
        let (status, body) = send(
            client()
                .get(format!("{}/Customers", sb.base_url(Api::PowerOffice)))
                .header("Ocp-Apim-Subscription-Key", &sub),
        )
        .await;
        if i < 4 {
            assert_eq!(
                status, 401,
                "within the limit, refused for the missing token"
            );
        } else {
            assert_eq!(status, 429);
            assert_eq!(body["status"], 429);
        }
    }
    // Per subscription key: another key is not limited.
    let (status, _) = send(
        client()
            .get(format!("{}/Customers", sb.base_url(Api::PowerOffice)))
            .header("Ocp-Apim-Subscription-Key", "other"),
    )
    .await;
    assert_eq!(status, 401);

    let token = sb.config().credentials.rest_token.clone();
    let url = format!("{}/products", sb.rest_base_url("customwebshop").unwrap());
    assert_eq!(send(client().get(&url).bearer_auth(&token)).await.0, 200);
    assert_eq!(send(client().get(&url).bearer_auth(&token)).await.0, 200);
    let (status, body) = send(client().get(&url).bearer_auth(&token)).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"], "rate_limited");

    let s = sb.stats();
    let cb = s.api(Api::Chargebee);
    assert_eq!(cb.rate_limited, 1);
    assert_eq!(cb.rate_limit.requests, 3);
    assert_eq!(cb.rate_limit.window_ms, 60_000);
    assert_eq!(cb.rate_limit.max_accepted_in_window, 3);
    assert_eq!(cb.rate_limit.max_in_window, 4);
    assert_eq!(s.api(Api::PowerOffice).rate_limited, 1);
    assert_eq!(s.api(Api::Rest).rate_limited, 1);

    // The same numbers over HTTP, from any listener.
    let over_http: StatsSnapshot = client()
        .get(format!("{}/__sandbox/stats", sb.origin(Api::Webcrm)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http.api(Api::Chargebee).rate_limited, 1);
    assert_eq!(over_http.api(Api::Chargebee).requests, cb.requests);

    let mut no_header = config(1);
    no_header.rate_limits.chargebee = RateLimit::per_minute(1);
    no_header.rate_limits.chargebee_retry_after = false;
    let sb2 = flowgen_sandbox::start(no_header).await.unwrap();
    assert_eq!(send(customers(&sb2)).await.0, 200);
    let resp = customers(&sb2).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert!(
        resp.headers().get("retry-after").is_none(),
        "Chargebee does not promise Retry-After"
    );
    sb2.shutdown().await;
}

#[tokio::test]
async fn control_routes_and_shutdown() {
    let sb = sandbox(4).await;
    let origin = sb.origin(Api::Rest);
    let records: Vec<Value> = client()
        .get(format!(
            "{origin}/__sandbox/records/powerofficego/Customers%20person"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(records.len(), 4);
    let resp = client()
        .get(format!("{origin}/__sandbox/records/nosuch/Thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let resp = client()
        .put(format!("{origin}/__sandbox/faults"))
        .body(r#"{"error_5xx": 1.0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(send(customers(&sb)).await.0 >= 500);
    let resp = client()
        .put(format!("{origin}/__sandbox/faults"))
        .body(r#"{"malformed": 3}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(
        sb.stats().total_requests(),
        1,
        "control routes are not counted"
    );

    let dup = sb.records("customerp", "Contact").unwrap()[0].clone();
    sb.insert(
        "customerp",
        "Contact",
        serde_json::json!({"first_name": "Kopi", "email": dup["email"]}),
    )
    .unwrap();
    let groups = sb.duplicates("customerp", "Contact", &["email"]).unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].len(), 2);
    assert!(
        sb.insert(
            "customerp",
            "Contact",
            serde_json::json!({"customer_id": 999})
        )
        .is_err()
    );
    assert!(sb.records("nosuch", "Contact").is_err());
    assert!(
        sb.update("customerp", "Contact", "999", serde_json::json!({}))
            .is_err()
    );
    sb.delete("customerp", "Contact", "1").unwrap();
    assert_eq!(sb.records("customerp", "Contact").unwrap().len(), 4);

    let url = format!("{}/customers", sb.base_url(Api::Chargebee));
    sb.shutdown().await;
    assert!(
        client().get(url).send().await.is_err(),
        "nothing listens after shutdown"
    );
}

#[tokio::test]
async fn drops_after_handling_keep_the_change() {
    let sb = sandbox(1).await;
    sb.set_api_faults(
        Api::Rest,
        Faults {
            drop_connection: 1.0,
            ..Faults::none()
        },
    )
    .unwrap();
    let url = format!("{}/products", sb.rest_base_url("customwebshop").unwrap());
    let token = sb.config().credentials.rest_token.clone();
    for i in 0..12 {
        let sent = client()
            .post(&url)
            .bearer_auth(&token)
            .json(&serde_json::json!({"name": format!("P{i}")}))
            .send()
            .await;
        assert!(sent.is_err(), "no answer comes back");
    }
    let f = sb.stats().api(Api::Rest).faults;
    assert_eq!(f.dropped, 12);
    assert!(
        f.dropped_after_handling > 0 && f.dropped_after_handling < 12,
        "{f:?}"
    );
    assert_eq!(
        sb.stats().table("customwebshop/products").creates,
        f.dropped_after_handling
    );
}

#[tokio::test]
async fn serve_until_returns_when_told() {
    flowgen_sandbox::serve_until(config(1), async {})
        .await
        .unwrap();
}

#[tokio::test]
async fn reads_only_faults_spare_writes() {
    let sb = sandbox(1).await;
    sb.set_faults(Faults {
        error_5xx: 1.0,
        reads_only: true,
        ..Faults::none()
    })
    .unwrap();
    let url = format!("{}/products", sb.rest_base_url("customerp").unwrap());
    let token = sb.config().credentials.rest_token.clone();
    let (status, _) = send(client().get(&url).bearer_auth(&token)).await;
    assert!(status >= 500);
    let (status, body) = send(
        client()
            .post(&url)
            .bearer_auth(&token)
            .json(&serde_json::json!({"name": "Trygg"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(sb.stats().api(Api::Rest).faults.errors_5xx, 1);
}
