use flowgen_sandbox::{Api, RateLimit, Sandbox};
use serde_json::{Value, json};

use crate::common::{client, config, sandbox, send};

pub async fn login(sb: &Sandbox) -> (String, String) {
    let (status, body) = send(client().post(sb.token_url(Api::Webcrm).unwrap()).form(&[(
        "authCode",
        sb.config().credentials.webcrm_auth_code.as_str(),
    )]))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["TokenType"], "Bearer");
    assert_eq!(body["ExpiresIn"], 3600);
    (
        body["AccessToken"].as_str().unwrap().into(),
        body["RefreshToken"].as_str().unwrap().into(),
    )
}

fn get(sb: &Sandbox, token: &str, path: &str) -> reqwest::RequestBuilder {
    client()
        .get(format!("{}{path}", sb.base_url(Api::Webcrm)))
        .bearer_auth(token)
}

#[tokio::test]
async fn login_refresh_and_auth() {
    let sb = sandbox(3).await;
    let (status, body) = send(
        client()
            .post(sb.token_url(Api::Webcrm).unwrap())
            .form(&[("authCode", "wrong")]),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["Type"], "UnauthorizedException");
    assert!(body["Message"].is_string());
    let (status, _) = send(get(&sb, "nope", "/Persons")).await;
    assert_eq!(status, 401);
    let (access, refresh) = login(&sb).await;
    let (status, body) = send(get(&sb, &access, "/Persons")).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 3);

    let refresh_url = format!("{}/Auth/ApiRefresh", sb.base_url(Api::Webcrm));
    let (status, by_header) =
        send(client().post(&refresh_url).header("RefreshToken", &refresh)).await;
    assert_eq!(status, 200, "{by_header}");
    let (status, by_form) = send(
        client()
            .post(&refresh_url)
            .form(&[("refreshToken", refresh.as_str())]),
    )
    .await;
    assert_eq!(status, 200, "{by_form}");
    assert_ne!(by_header["AccessToken"], by_form["AccessToken"]);
    sb.expire_tokens();
    let (status, _) = send(get(&sb, &access, "/Persons")).await;
    assert_eq!(status, 401);
    let (status, fresh) = send(
        client()
            .post(&refresh_url)
            .form(&[("refreshToken", refresh.as_str())]),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(get(&sb, fresh["AccessToken"].as_str().unwrap(), "/persons")).await;
    assert_eq!(status, 200, "paths match in any case");
    let (status, body) = send(
        client()
            .post(&refresh_url)
            .form(&[("refreshToken", "bogus")]),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["Type"], "UnauthorizedException");
}

#[tokio::test]
async fn paging_and_queries() {
    let sb = sandbox(23).await;
    let (access, _) = login(&sb).await;
    let mut ids = Vec::new();
    for page in 1..100 {
        let (status, body) = send(get(&sb, &access, &format!("/Persons?Page={page}&Size=7"))).await;
        assert_eq!(status, 200);
        let items = body.as_array().unwrap();
        if items.is_empty() {
            break;
        }
        ids.extend(items.iter().map(|p| p["PersonId"].as_i64().unwrap()));
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(ids.len(), 23);
    assert_eq!(unique.len(), 23);
    for q in ["Size=0", "Size=1001", "Page=0"] {
        let (status, body) = send(get(&sb, &access, &format!("/Persons?{q}"))).await;
        assert_eq!(status, 400, "{q}");
        assert_eq!(body["Type"], "BadRequestException");
    }

    let persons = sb.records("webcrm", "Persons").unwrap();
    let mut stamps: Vec<String> = persons
        .iter()
        .map(|p| p["PersonUpdatedAt"].as_str().unwrap().to_string())
        .collect();
    stamps.sort();
    let t = stamps[stamps.len() / 2].clone();
    let script = format!("SELECT * FROM Person WHERE PersonUpdatedAt >= '{t}'");
    let (status, body) =
        send(get(&sb, &access, "/Queries").query(&[("script", script.as_str())])).await;
    assert_eq!(status, 200, "{body}");
    let rows = body.as_array().unwrap();
    assert_eq!(rows.len(), stamps.iter().filter(|s| **s >= t).count());
    assert!(
        rows.iter()
            .all(|r| r["PersonUpdatedAt"].as_str().unwrap() >= t.as_str())
    );
    let (status, body) =
        send(get(&sb, &access, "/Queries").query(&[("script", "SELECT name FROM Person")])).await;
    assert_eq!(status, 400);
    assert_eq!(body["Type"], "BadRequestException");
}

#[tokio::test]
async fn create_put_and_bulk_upsert() {
    let sb = sandbox(3).await;
    let (access, _) = login(&sb).await;
    let base = sb.base_url(Api::Webcrm);
    let org = sb.records("webcrm", "Organisations").unwrap()[0]["OrganisationId"]
        .as_i64()
        .unwrap();
    let (status, id) = send(client().post(format!("{base}/Persons")).bearer_auth(&access).json(&json!({
        "PersonFirstName": "Kari", "PersonLastName": "Nordmann", "PersonEmail": "kari@example.no",
        "PersonOrganisationId": org, "PersonMobilePhone": "+47 900 00 000"
    })))
    .await;
    assert_eq!(status, 201);
    let id = id.as_i64().expect("the new id is the body");
    let stored = sb
        .record("webcrm", "Persons", &id.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(stored["PersonName"], "Kari Nordmann");
    assert!(stored["PersonUpdatedAt"].is_string());

    let resp = client()
        .put(format!("{base}/Persons/{id}"))
        .bearer_auth(&access)
        .json(&json!({"PersonFirstName": "Kari", "PersonLastName": "Hansen", "PersonEmail": "kari@example.no"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert!(resp.bytes().await.unwrap().is_empty());
    let stored = sb
        .record("webcrm", "Persons", &id.to_string())
        .unwrap()
        .unwrap();
    assert_eq!(stored["PersonLastName"], "Hansen");
    assert_eq!(
        stored["PersonMobilePhone"],
        Value::Null,
        "a full update clears what is not sent"
    );
    assert_eq!(stored["PersonId"], id);

    let before = sb.records("webcrm", "Persons").unwrap().len();
    let (status, ids) = send(client().patch(format!("{base}/Persons")).bearer_auth(&access).json(&json!([
        {"PersonId": id, "PersonTitle": "CFO"},
        {"PersonFirstName": "Ny", "PersonLastName": "Person", "PersonEmail": "ny@example.no"}
    ])))
    .await;
    assert_eq!(status, 200, "{ids}");
    let ids = ids.as_array().unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], id);
    assert_eq!(sb.records("webcrm", "Persons").unwrap().len(), before + 1);
    assert_eq!(
        sb.record("webcrm", "Persons", &id.to_string())
            .unwrap()
            .unwrap()["PersonTitle"],
        "CFO"
    );

    // A bad item changes nothing.
    let (status, body) = send(
        client()
            .patch(format!("{base}/Persons"))
            .bearer_auth(&access)
            .json(&json!([
                {"PersonId": id, "PersonTitle": "CEO"}, {"PersonOrganisationId": 999_999}
            ])),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        sb.record("webcrm", "Persons", &id.to_string())
            .unwrap()
            .unwrap()["PersonTitle"],
        "CFO"
    );
    let (status, body) = send(
        client()
            .put(format!("{base}/Persons/999999"))
            .bearer_auth(&access)
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["Type"], "NotFoundException");
}

#[tokio::test]
async fn rate_limit_answers_429_in_webcrm_shape() {
    let mut cfg = config(2);
    cfg.rate_limits.webcrm = RateLimit::per_minute(5);
    let sb = flowgen_sandbox::start(cfg).await.unwrap();
    let (access, _) = login(&sb).await;
    for _ in 0..5 {
        let (status, _) = send(get(&sb, &access, "/Users")).await;
        assert_eq!(status, 200);
    }
    let resp = get(&sb, &access, "/Users").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["Type"], "TooManyRequestsException");
    assert_eq!(body["RetryAfterSeconds"], retry);
    assert!(body["Message"].is_string());
    // Another token has its own window.
    let (other, _) = login(&sb).await;
    let (status, _) = send(get(&sb, &other, "/Users")).await;
    assert_eq!(status, 200);
    let stats = sb.stats().api(Api::Webcrm);
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.rate_limit.max_accepted_in_window, 5);
    assert_eq!(stats.rate_limit.max_in_window, 6);
    assert_eq!(stats.statuses.get(&429), Some(&1));
    assert_eq!(stats.endpoints.get("GET /Users"), Some(&7));
}
