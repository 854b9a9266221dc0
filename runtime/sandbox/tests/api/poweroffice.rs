use flowgen_sandbox::{Api, Sandbox};
use serde_json::{Value, json};

use crate::common::{client, config, send};

/// A sandbox whose PowerOffice Go limit these tests cannot reach by accident (10/s is
/// close to what one test sends); the limit itself is tested in `faults`.
async fn sandbox(records: usize) -> Sandbox {
    let mut cfg = config(records);
    cfg.rate_limits.poweroffice = flowgen_sandbox::RateLimit::per_second(1000);
    flowgen_sandbox::start(cfg).await.expect("sandbox starts")
}

pub async fn token(sb: &Sandbox) -> String {
    let c = &sb.config().credentials;
    let (status, body) = send(
        client()
            .post(sb.token_url(Api::PowerOffice).unwrap())
            .basic_auth(
                &c.poweroffice_application_key,
                Some(&c.poweroffice_client_key),
            )
            .header("Ocp-Apim-Subscription-Key", &c.poweroffice_subscription_key)
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 1200);
    body["access_token"].as_str().unwrap().to_string()
}

fn get(sb: &Sandbox, token: &str, path: &str) -> reqwest::RequestBuilder {
    client()
        .get(format!("{}{path}", sb.base_url(Api::PowerOffice)))
        .bearer_auth(token)
        .header(
            "Ocp-Apim-Subscription-Key",
            &sb.config().credentials.poweroffice_subscription_key,
        )
}

fn write(
    sb: &Sandbox,
    token: &str,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    client()
        .request(method, format!("{}{path}", sb.base_url(Api::PowerOffice)))
        .bearer_auth(token)
        .header(
            "Ocp-Apim-Subscription-Key",
            &sb.config().credentials.poweroffice_subscription_key,
        )
}

fn assert_problem(body: &Value, status: u16) {
    for field in ["type", "title", "status", "detail", "instance"] {
        assert!(body.get(field).is_some(), "{field} missing in {body}");
    }
    assert_eq!(body["status"], status);
}

#[tokio::test]
async fn token_flow_and_expiry() {
    let sb = sandbox(3).await;
    let c = sb.config().credentials.clone();
    let url = sb.token_url(Api::PowerOffice).unwrap();
    let (status, body) = send(
        client()
            .post(&url)
            .basic_auth(&c.poweroffice_application_key, Some("wrong"))
            .header("Ocp-Apim-Subscription-Key", &c.poweroffice_subscription_key)
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    let (status, body) = send(
        client()
            .post(&url)
            .basic_auth(
                &c.poweroffice_application_key,
                Some(&c.poweroffice_client_key),
            )
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(status, 401);
    assert_problem(&body, 401);
    let (status, body) = send(
        client()
            .post(&url)
            .basic_auth(
                &c.poweroffice_application_key,
                Some(&c.poweroffice_client_key),
            )
            .header("Ocp-Apim-Subscription-Key", &c.poweroffice_subscription_key)
            .form(&[("grant_type", "password")]),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unsupported_grant_type");

    let (status, body) = send(get(&sb, "not-a-token", "/Customers")).await;
    assert_eq!(status, 401);
    assert_problem(&body, 401);
    assert_eq!(body["instance"], "/v2/Customers");
    let t = token(&sb).await;
    let (status, body) = send(get(&sb, &t, "/Customers")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body.as_array().map(Vec::len),
        Some(6),
        "organisations and persons"
    );
    // The token is bound to the subscription key.
    let (status, _) = send(
        client()
            .get(format!("{}/Customers", sb.base_url(Api::PowerOffice)))
            .bearer_auth(&t)
            .header("Ocp-Apim-Subscription-Key", "someone-elses-key"),
    )
    .await;
    assert_eq!(status, 401);
    sb.expire_tokens();
    let (status, _) = send(get(&sb, &t, "/Customers")).await;
    assert_eq!(status, 401, "expired tokens are refused");
    let t2 = token(&sb).await;
    let (status, _) = send(get(&sb, &t2, "/Customers")).await;
    assert_eq!(status, 200);
    // The demo prefix and any path case work as on the real API.
    let (status, _) = send(
        client()
            .get(format!("{}/Demo/v2/customers", sb.origin(Api::PowerOffice)))
            .bearer_auth(&t2)
            .header("Ocp-Apim-Subscription-Key", &c.poweroffice_subscription_key),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn is_person_split_paging_and_204() {
    let sb = sandbox(12).await;
    let t = token(&sb).await;
    let persons = sb.records("powerofficego", "Customers person").unwrap();
    let orgs = sb.records("powerofficego", "Customers").unwrap();
    assert_eq!(persons.len(), 12);
    assert_eq!(orgs.len(), 12);
    assert!(
        persons
            .iter()
            .all(|p| p["IsPerson"] == true && p["FirstName"].is_string())
    );
    assert!(
        orgs.iter()
            .all(|o| o["IsPerson"] == false && o["OrganizationNumber"].is_string())
    );
    let (status, body) = send(get(&sb, &t, "/Customers?isPerson=true&PageSize=100")).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 12);

    let mut seen = Vec::new();
    for page in 1.. {
        let (status, body) = send(get(
            &sb,
            &t,
            &format!("/Customers?PageNumber={page}&PageSize=7"),
        ))
        .await;
        if status == 204 {
            break;
        }
        assert_eq!(status, 200);
        let items = body.as_array().unwrap();
        seen.extend(items.iter().map(|c| c["Id"].as_i64().unwrap()));
        if items.len() < 7 {
            break;
        }
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 24);

    let (status, body) = send(get(
        &sb,
        &t,
        "/Products?lastChangedDateTimeOffsetGreaterThan=2099-01-01T00:00:00%2B01:00",
    ))
    .await;
    assert_eq!(status, 204);
    assert_eq!(body, Value::Null);
    let all = sb.records("powerofficego", "Product").unwrap();
    let mut changed: Vec<&str> = all
        .iter()
        .map(|p| p["LastChangedDateTimeOffset"].as_str().unwrap())
        .collect();
    changed.sort_unstable();
    let t_mid = changed[changed.len() / 2];
    let (status, body) =
        send(get(&sb, &t, "/Products").query(&[("lastChangedDateTimeOffsetGreaterThan", t_mid)]))
            .await;
    assert_eq!(status, 200);
    assert_eq!(
        body.as_array().unwrap().len(),
        changed.iter().filter(|c| **c > t_mid).count()
    );
    for q in [
        "PageSize=0",
        "PageSize=20001",
        "PageNumber=0",
        "lastChangedDateTimeOffsetGreaterThan=soon",
    ] {
        let (status, body) = send(get(&sb, &t, &format!("/Products?{q}"))).await;
        assert_eq!(status, 400, "{q}");
        assert_problem(&body, 400);
    }
}

#[tokio::test]
async fn json_patch_and_case_insensitive_bodies() {
    let sb = sandbox(4).await;
    let t = token(&sb).await;
    let org = sb.records("powerofficego", "Customers").unwrap()[0].clone();
    let org_id = org["Id"].as_i64().unwrap();
    let (status, body) = send(write(&sb, &t, reqwest::Method::POST, "/ContactPersons").json(&json!({
        "firstName": "Kari", "LastName": "Nordmann", "emailAddress": "kari@example.no", "contactId": org_id, "Id": 99
    })))
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["EmailAddress"], "kari@example.no");
    assert_eq!(body["ContactId"], org_id);
    assert_ne!(body["Id"], 99, "ids are the server's");
    let cp = body["Id"].as_i64().unwrap();
    let (status, body) = send(get(&sb, &t, &format!("/ContactPersons/{org_id}/{cp}"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["FirstName"], "Kari");

    let path = format!("/Customers/{org_id}");
    let (status, body) = send(
        write(&sb, &t, reqwest::Method::PATCH, &path)
            .header("content-type", "application/json-patch+json")
            .body(
                json!([{"op": "replace", "path": "/emailAddress", "value": "ny@example.no"},
                         {"op": "remove", "path": "/PhoneNumber"}])
                .to_string(),
            ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["EmailAddress"], "ny@example.no");
    assert_eq!(body["PhoneNumber"], Value::Null);
    assert!(body["LastChangedDateTimeOffset"].as_str() > org["LastChangedDateTimeOffset"].as_str());
    assert_eq!(
        sb.record("powerofficego", "Customers", &org_id.to_string())
            .unwrap()
            .unwrap()["EmailAddress"],
        "ny@example.no"
    );

    let (status, body) = send(
        write(&sb, &t, reqwest::Method::PATCH, &path)
            .json(&json!([{"op": "replace", "path": "/EmailAddress", "value": "x@example.no"}])),
    )
    .await;
    assert_eq!(status, 415);
    assert_problem(&body, 415);
    let product = sb.records("powerofficego", "Product").unwrap()[0]["Id"]
        .as_i64()
        .unwrap();
    let (status, body) = send(
        write(
            &sb,
            &t,
            reqwest::Method::PATCH,
            &format!("/Products/{product}"),
        )
        .header("content-type", "application/json-patch+json")
        .body(json!([{"op": "replace", "path": "/VatRate", "value": 15}]).to_string()),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["errors"].get("/VatRate").is_some(), "{body}");
    let (status, _) = send(get(&sb, &t, "/Customers/123")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn sales_orders_complete_creates_lines() {
    let sb = sandbox(5).await;
    let t = token(&sb).await;
    let customer = sb.records("powerofficego", "Customers person").unwrap()[0]["Id"]
        .as_i64()
        .unwrap();
    let products = sb.records("powerofficego", "Product").unwrap();
    let (p1, p2) = (
        products[0]["Id"].as_i64().unwrap(),
        products[1]["Id"].as_i64().unwrap(),
    );
    let orders_before = sb.records("powerofficego", "Salesorders").unwrap().len();
    let lines_before = sb
        .records("powerofficego", "Salesorderlines")
        .unwrap()
        .len();
    let (status, body) = send(write(&sb, &t, reqwest::Method::POST, "/SalesOrders/Complete").json(&json!({
        "CustomerId": customer, "currencyCode": "NOK",
        "SalesOrderLines": [{"ProductId": p1, "Quantity": 2}, {"productId": p2, "Quantity": 1, "ProductUnitPrice": 99.5, "VatRate": 0}]
    })))
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["Id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "GUID ids");
    assert_eq!(body["SalesOrderLines"].as_array().unwrap().len(), 2);
    let (status, lines) = send(get(&sb, &t, &format!("/SalesOrders/{id}/Lines"))).await;
    assert_eq!(status, 200);
    let lines = lines.as_array().unwrap().clone();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["ProductUnitPrice"], products[0]["SalesPrice"]);
    assert_eq!(lines[1]["ProductUnitPrice"], 99.5);
    assert_eq!(lines[1]["VatRate"], 25.0, "VatRate is read-only");
    assert!(lines.iter().all(|l| l["SalesOrderId"] == id.as_str()));

    // A bad line refuses the whole order.
    let (status, body) = send(
        write(&sb, &t, reqwest::Method::POST, "/SalesOrders/Complete").json(&json!({
            "CustomerId": customer, "SalesOrderLines": [{"ProductId": p1}, {"ProductId": 42}]
        })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_problem(&body, 400);
    let (status, _) = send(
        write(&sb, &t, reqwest::Method::POST, "/SalesOrders/Complete")
            .json(&json!({"CurrencyCode": "NOK"})),
    )
    .await;
    assert_eq!(status, 400, "CustomerId is required");
    assert_eq!(
        sb.records("powerofficego", "Salesorders").unwrap().len(),
        orders_before + 1
    );
    assert_eq!(
        sb.records("powerofficego", "Salesorderlines")
            .unwrap()
            .len(),
        lines_before + 2
    );
}
