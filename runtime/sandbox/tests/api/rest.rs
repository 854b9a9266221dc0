use flowgen_sandbox::{Api, Sandbox};
use serde_json::{Value, json};

use crate::common::{client, sandbox, send};

fn req(sb: &Sandbox, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    client()
        .request(method, format!("{}{path}", sb.origin(Api::Rest)))
        .bearer_auth(&sb.config().credentials.rest_token)
}

#[tokio::test]
async fn auth_paging_and_updated_since() {
    let sb = sandbox(25).await;
    assert_eq!(
        sb.rest_base_url("customerp").unwrap(),
        format!("{}/customerp", sb.origin(Api::Rest))
    );
    assert!(sb.rest_base_url("nosuch").is_none());
    let (status, body) = send(client().get(format!(
        "{}/contacts",
        sb.rest_base_url("customerp").unwrap()
    )))
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "unauthorized");

    let mut seen = Vec::new();
    let mut offset = Some(0);
    while let Some(o) = offset {
        let (status, body) = send(req(
            &sb,
            reqwest::Method::GET,
            &format!("/customerp/contacts?offset={o}&limit=10"),
        ))
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["total"], 25);
        seen.extend(
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap()),
        );
        offset = body["next_offset"].as_u64();
    }
    assert_eq!(seen, (1..=25).collect::<Vec<i64>>());

    let all = sb.records("customerp", "Contact").unwrap();
    let mut stamps: Vec<&str> = all
        .iter()
        .map(|c| c["updated_at"].as_str().unwrap())
        .collect();
    stamps.sort_unstable();
    let t = stamps[10];
    let (status, body) = send(
        req(&sb, reqwest::Method::GET, "/customerp/contacts").query(&[
            ("updated_since", t),
            ("sort", "updated_at"),
            ("limit", "1000"),
        ]),
    )
    .await;
    assert_eq!(status, 200);
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), stamps.iter().filter(|s| **s >= t).count());
    let got: Vec<&str> = data
        .iter()
        .map(|c| c["updated_at"].as_str().unwrap())
        .collect();
    assert!(got.windows(2).all(|w| w[0] <= w[1]));

    let email = all[3]["email"].as_str().unwrap();
    let (_, body) =
        send(req(&sb, reqwest::Method::GET, "/customerp/contacts").query(&[("email", email)]))
            .await;
    assert_eq!(body["total"], 1);
    for q in ["limit=0", "offset=-1", "colour=red", "updated_since=later"] {
        let (status, body) = send(req(
            &sb,
            reqwest::Method::GET,
            &format!("/customerp/contacts?{q}"),
        ))
        .await;
        assert_eq!(status, 400, "{q}");
        assert_eq!(body["error"], "bad_request");
    }
    let (status, _) = send(req(&sb, reqwest::Method::GET, "/customerp/invoices")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn create_update_and_validation() {
    let sb = sandbox(3).await;
    let customer = sb.records("customwebshop", "Customer").unwrap()[0]["id"]
        .as_i64()
        .unwrap();
    let product = sb.records("customwebshop", "Product").unwrap()[0]["id"]
        .as_i64()
        .unwrap();
    let (status, body) = send(
        req(&sb, reqwest::Method::POST, "/customwebshop/orders").json(&json!({
            "customer_id": customer, "currency": "NOK", "status": "pending", "total": 300.0,
            "lines": [{"product_id": product, "quantity": 2, "unit_price": 150.0}]
        })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().unwrap();
    assert_eq!(id, 4);
    assert!(body["updated_at"].is_string());
    let (status, patched) = send(
        req(
            &sb,
            reqwest::Method::PATCH,
            &format!("/customwebshop/orders/{id}"),
        )
        .json(&json!({"status": "paid"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(patched["status"], "paid");
    assert_eq!(patched["currency"], "NOK");
    assert!(patched["updated_at"].as_str() > body["updated_at"].as_str());
    let (status, put) = send(
        req(
            &sb,
            reqwest::Method::PUT,
            &format!("/customwebshop/orders/{id}"),
        )
        .json(&json!({"customer_id": customer, "status": "shipped"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        put["currency"],
        Value::Null,
        "PUT replaces the whole record"
    );
    assert_eq!(put["created_at"], body["created_at"]);

    for (payload, field) in [
        (json!({"colour": "red"}), "colour"),
        (json!({"customer_id": "one"}), "customer_id"),
        (json!({"customer_id": 999}), "customer_id"),
        (
            json!({"lines": [{"product_id": 999}]}),
            "lines[0].product_id",
        ),
    ] {
        let (status, body) =
            send(req(&sb, reqwest::Method::POST, "/customwebshop/orders").json(&payload)).await;
        assert_eq!(status, 422, "{payload}");
        assert_eq!(body["error"], "validation_failed");
        assert_eq!(body["field"], field);
    }
    let (status, _) = send(req(
        &sb,
        reqwest::Method::DELETE,
        &format!("/customwebshop/orders/{id}"),
    ))
    .await;
    assert_eq!(status, 204);
    let (status, body) = send(req(
        &sb,
        reqwest::Method::GET,
        &format!("/customwebshop/orders/{id}"),
    ))
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    let endpoints = sb.stats().api(Api::Rest).endpoints;
    assert_eq!(endpoints.get("POST /customwebshop/orders"), Some(&5));
    assert_eq!(endpoints.get("GET /customwebshop/orders/{id}"), Some(&1));
    let t = sb.stats().table("customwebshop/orders");
    assert_eq!((t.creates, t.updates, t.deletes, t.records), (1, 2, 1, 3));
}
