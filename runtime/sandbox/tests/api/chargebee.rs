use std::collections::BTreeSet;

use flowgen_sandbox::Api;
use serde_json::{Value, json};

use crate::common::{client, ids, sandbox, send};

#[tokio::test]
async fn basic_auth_is_required() {
    let sb = sandbox(3).await;
    let url = format!("{}/customers", sb.base_url(Api::Chargebee));
    let key = sb.config().credentials.chargebee_api_key.clone();
    let (status, body) = send(client().get(&url)).await;
    assert_eq!(status, 401);
    assert_eq!(body["api_error_code"], "api_authentication_failed");
    for field in [
        "message",
        "type",
        "api_error_code",
        "param",
        "error_cause_id",
    ] {
        assert!(body.get(field).is_some(), "{field} missing in {body}");
    }
    let (status, _) = send(client().get(&url).basic_auth("wrong", Some(""))).await;
    assert_eq!(status, 401);
    let (status, body) = send(client().get(&url).basic_auth(&key, Some(""))).await;
    assert_eq!(status, 200);
    assert_eq!(body["list"].as_array().map(Vec::len), Some(3));
    assert!(body.get("next_offset").is_none(), "one page only");
}

async fn walk(sb: &flowgen_sandbox::Sandbox, query: &str) -> Vec<Value> {
    let key = sb.config().credentials.chargebee_api_key.clone();
    let mut out = Vec::new();
    let mut offset: Option<String> = None;
    for _ in 0..100 {
        let mut req = client()
            .get(format!("{}/customers?{query}", sb.base_url(Api::Chargebee)))
            .basic_auth(&key, Some(""));
        if let Some(o) = &offset {
            req = req.query(&[("offset", o)]);
        }
        let (status, body) = send(req).await;
        assert_eq!(status, 200, "{body}");
        for entry in body["list"].as_array().expect("list") {
            out.push(entry["customer"].clone());
        }
        match body.get("next_offset").and_then(Value::as_str) {
            Some(o) => offset = Some(o.to_string()),
            None => return out,
        }
    }
    panic!("pagination did not end");
}

#[tokio::test]
async fn pagination_walks_every_record_once_and_updated_after_filters() {
    let sb = sandbox(37).await;
    let all = sb.records("chargebee", "Customer").unwrap();
    let expected: BTreeSet<String> = ids(&all, "id").into_iter().collect();
    for query in [
        "limit=10",
        "limit=7&sort_by[asc]=updated_at",
        "limit=100&sort_by[desc]=created_at",
    ] {
        let walked = walk(&sb, query).await;
        let got = ids(&walked, "id");
        assert_eq!(got.len(), 37, "{query}");
        assert_eq!(
            got.iter().cloned().collect::<BTreeSet<_>>(),
            expected,
            "{query}"
        );
    }
    let sorted = walk(&sb, "limit=5&sort_by[asc]=updated_at").await;
    let times: Vec<i64> = sorted
        .iter()
        .map(|c| c["updated_at"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));

    let mut stamps: Vec<i64> = all
        .iter()
        .map(|c| c["updated_at"].as_i64().unwrap())
        .collect();
    stamps.sort_unstable();
    let t = stamps[stamps.len() / 2];
    let changed = walk(
        &sb,
        &format!("limit=4&sort_by[asc]=updated_at&updated_at[after]={t}"),
    )
    .await;
    assert_eq!(changed.len(), stamps.iter().filter(|s| **s > t).count());
    assert!(
        changed
            .iter()
            .all(|c| c["updated_at"].as_i64().unwrap() > t)
    );

    // A change made "on the remote side" shows up after the cursor.
    let newest = *stamps.last().unwrap();
    let id = all[0]["id"].as_str().unwrap().to_string();
    sb.update(
        "chargebee",
        "Customer",
        &id,
        json!({"first_name": "Endret"}),
    )
    .unwrap();
    let after = walk(
        &sb,
        &format!("sort_by[asc]=updated_at&updated_at[after]={}", newest - 1),
    )
    .await;
    assert!(
        after
            .iter()
            .any(|c| c["id"] == id.as_str() && c["first_name"] == "Endret")
    );
}

#[tokio::test]
async fn bad_list_parameters_are_refused_in_chargebee_shape() {
    let sb = sandbox(2).await;
    let key = sb.config().credentials.chargebee_api_key.clone();
    for (q, param) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=garbage", "offset"),
        ("sort_by[asc]=email", "sort_by[asc]"),
    ] {
        let (status, body) = send(
            client()
                .get(format!("{}/customers?{q}", sb.base_url(Api::Chargebee)))
                .basic_auth(&key, Some("")),
        )
        .await;
        assert_eq!(status, 400, "{q}");
        assert_eq!(body["type"], "invalid_request");
        assert_eq!(body["param"], param, "{q}");
    }
    let (status, body) = send(
        client()
            .get(format!("{}/customers/nope", sb.base_url(Api::Chargebee)))
            .basic_auth(&key, Some("")),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["api_error_code"], "resource_not_found");
}

#[tokio::test]
async fn form_encoding_with_nested_and_indexed_parameters() {
    let sb = sandbox(3).await;
    let key = sb.config().credentials.chargebee_api_key.clone();
    let base = sb.base_url(Api::Chargebee);
    let form = "first_name=Kari&last_name=Nordmann&email=kari%40example.no&billing_address%5Bcity%5D=Bergen&billing_address[zip]=5003&allow_direct_debit=true&net_term_days=30&cf_tier=gold";
    let (status, body) = send(
        client()
            .post(format!("{base}/customers"))
            .basic_auth(&key, Some(""))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let c = &body["customer"];
    assert_eq!(c["billing_address"]["city"], "Bergen");
    assert_eq!(c["billing_address"]["zip"], "5003");
    assert_eq!(c["allow_direct_debit"], true);
    assert_eq!(c["net_term_days"], 30);
    assert_eq!(c["cf_tier"], "gold");
    assert_eq!(c["object"], "customer");
    assert!(c["resource_version"].as_i64().unwrap() > c["updated_at"].as_i64().unwrap());
    let customer_id = c["id"].as_str().unwrap().to_string();

    let item = sb.records("chargebee", "Item").unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let order = format!(
        "customer_id={customer_id}&order_line_items[unit_price][0]=1000&order_line_items[fulfillment_quantity][0]=2\
&order_line_items[entity_id][0]={item}&order_line_items[unit_price][1]=500&order_line_items[description][1]=Frakt"
    );
    let (status, body) = send(
        client()
            .post(format!("{base}/orders"))
            .basic_auth(&key, Some(""))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(order),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let lines = body["order"]["order_line_items"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["unit_price"], 1000);
    assert_eq!(lines[0]["amount"], 2000);
    assert_eq!(lines[0]["entity_id"], item.as_str());
    assert_eq!(lines[1]["description"], "Frakt");
    assert_eq!(body["order"]["sub_total"], 2500);
    assert_eq!(body["order"]["customer_id"], customer_id.as_str());

    // Wrong types and dangling references are refused with the parameter named.
    for (form, param) in [
        (
            "order_line_items[unit_price][0]=ten".to_string(),
            "order_line_items[unit_price][0]",
        ),
        ("customer_id=nobody".to_string(), "customer_id"),
    ] {
        let (status, body) = send(
            client()
                .post(format!("{base}/orders"))
                .basic_auth(&key, Some(""))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["param"], param);
    }
    let (status, _) = send(
        client()
            .post(format!("{base}/customers"))
            .basic_auth(&key, Some(""))
            .header("content-type", "application/json")
            .body("{}"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(sb.stats().table("chargebee/orders").creates, 1);
}

#[tokio::test]
async fn idempotency_replay_makes_no_second_record() {
    let sb = sandbox(2).await;
    let key = sb.config().credentials.chargebee_api_key.clone();
    let base = sb.base_url(Api::Chargebee);
    let post = || {
        client()
            .post(format!("{base}/customers"))
            .basic_auth(&key, Some(""))
            .header("chargebee-idempotency-key", "key-1")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("first_name=Ola&email=ola%40example.no")
    };
    let first = post().send().await.unwrap();
    assert!(
        first
            .headers()
            .get("chargebee-idempotency-replayed")
            .is_none()
    );
    let first: Value = first.json().await.unwrap();
    let second = post().send().await.unwrap();
    assert_eq!(
        second
            .headers()
            .get("chargebee-idempotency-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let second: Value = second.json().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(sb.records("chargebee", "Customer").unwrap().len(), 3);
    assert_eq!(sb.stats().api(Api::Chargebee).idempotent_replays, 1);
    assert_eq!(sb.stats().table("chargebee/customers").creates, 1);

    // The same key on another request is a conflict.
    let (status, _) = send(
        client()
            .post(format!("{base}/items"))
            .basic_auth(&key, Some(""))
            .header("chargebee-idempotency-key", "key-1")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=Gold"),
    )
    .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn updates_and_business_entities() {
    let sb = sandbox(4).await;
    let key = sb.config().credentials.chargebee_api_key.clone();
    let base = sb.base_url(Api::Chargebee);
    let before = sb.records("chargebee", "Customer").unwrap()[1].clone();
    let id = before["id"].as_str().unwrap();
    let (status, body) = send(
        client()
            .post(format!("{base}/customers/{id}"))
            .basic_auth(&key, Some(""))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("last_name=Hansen&billing_address[city]=Molde"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customer"]["last_name"], "Hansen");
    assert_eq!(body["customer"]["billing_address"]["city"], "Molde");
    assert_eq!(
        body["customer"]["billing_address"]["line1"], before["billing_address"]["line1"],
        "nested objects merge"
    );
    assert!(body["customer"]["resource_version"].as_i64() > before["resource_version"].as_i64());

    let (status, body) = send(
        client()
            .post(format!("{base}/business_entities"))
            .basic_auth(&key, Some(""))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=Nordlys+AS"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["business_entity"]["name"], "Nordlys AS");
    let (status, body) = send(
        client()
            .get(format!("{base}/business_entities?limit=100"))
            .basic_auth(&key, Some("")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["list"].as_array().unwrap().len(), 5);

    let mut cfg = crate::common::config(2);
    cfg.chargebee_business_entities = false;
    let off = flowgen_sandbox::start(cfg).await.unwrap();
    let (status, body) = send(
        client()
            .get(format!(
                "{}/business_entities",
                off.base_url(Api::Chargebee)
            ))
            .basic_auth(&key, Some("")),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["api_error_code"], "resource_not_found");
}
