//! Every documented entity of every connector, with its default mapping, read in full from
//! the sandbox: the connectors' endpoint tables agree with the emulated APIs.

mod connectors_support;

use std::sync::Arc;

use connectors_support::fast_limits;
use flowgen_runtime::connector::Connector;
use flowgen_runtime::connectors::config::{ConnectorConfig, LimitsConfig};
use flowgen_runtime::connectors::{BuildOptions, build_with};
use flowgen_sandbox::{Api, SandboxConfig};

fn limits() -> LimitsConfig {
    // The documented limits stay (the sandbox enforces them); retries are quick.
    LimitsConfig {
        requests: None,
        burst: None,
        period_secs: None,
        ..fast_limits()
    }
}

async fn scan_all(connector: &Arc<dyn Connector>, entity: &str) -> usize {
    let mut cursor = None;
    let mut count = 0;
    for _ in 0..1000 {
        let page = connector
            .changes(entity, cursor.as_deref(), 40)
            .await
            .unwrap_or_else(|e| panic!("{entity}: {e}"));
        count += page.records.len();
        cursor = page.cursor;
        if !page.more {
            let again = connector
                .changes(entity, cursor.as_deref(), 40)
                .await
                .unwrap_or_else(|e| panic!("{entity}: {e}"));
            assert!(
                again.records.is_empty(),
                "{entity}: a finished scan delivers nothing new: {:?}",
                again.records
            );
            return count;
        }
    }
    panic!("{entity}: the scan does not end");
}

#[tokio::test]
async fn every_documented_entity_reads_fully() {
    let sandbox = flowgen_sandbox::start(SandboxConfig {
        records: 12,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    let credentials = sandbox.config().credentials.clone();
    let env = move |name: &str| match name {
        "CB" => Some(credentials.chargebee_api_key.clone()),
        "PO_APP" => Some(credentials.poweroffice_application_key.clone()),
        "PO_CLIENT" => Some(credentials.poweroffice_client_key.clone()),
        "PO_SUB" => Some(credentials.poweroffice_subscription_key.clone()),
        "WEBCRM" => Some(credentials.webcrm_auth_code.clone()),
        "REST" => Some(credentials.rest_token.clone()),
        _ => None,
    };
    let options = BuildOptions {
        env: &env,
        properties: Default::default(),
        types: Default::default(),
    };
    let limits = serde_yaml::to_string(&limits()).expect("limits");
    let indent = |yaml: &str| yaml.lines().map(|l| format!("  {l}\n")).collect::<String>();
    let systems = [
        (
            "Chargebee",
            "chargebee",
            format!(
                "kind: chargebee\nbase_url: {}\napi_key_env: CB\n",
                sandbox.base_url(Api::Chargebee)
            ),
            vec!["Customer", "Order", "Item", "Business_entity"],
        ),
        (
            "Powerofficego",
            "powerofficego",
            format!(
                "kind: poweroffice\nbase_url: {}\ntoken_url: {}\napplication_key_env: PO_APP\nclient_key_env: PO_CLIENT\nsubscription_key_env: PO_SUB\n",
                sandbox.base_url(Api::PowerOffice),
                sandbox.token_url(Api::PowerOffice).expect("token url")
            ),
            vec![
                "Customers",
                "Customers person",
                "Contactperson",
                "Employees",
                "Departments",
                "Product",
                "Salesorders",
                "Salesorderlines",
            ],
        ),
        (
            "Webcrm",
            "webcrm",
            format!(
                "kind: webcrm\nbase_url: {}\nauth_code_env: WEBCRM\n",
                sandbox.base_url(Api::Webcrm)
            ),
            vec![
                "Persons",
                "Organisations",
                "Opportunities",
                "Quotationline",
                "Users",
                "Products",
            ],
        ),
        (
            "Customwebshop",
            "customwebshop",
            format!(
                "kind: rest\nbase_url: {}\nauth: {{type: bearer, token_env: REST}}\nentities:\n  Customer: {{path: /customers}}\n  Order: {{path: /orders}}\n  Product: {{path: /products}}\n",
                sandbox.rest_base_url("customwebshop").expect("rest")
            ),
            vec!["Customer", "Order", "Product"],
        ),
    ];
    for (name, sandbox_name, yaml, entities) in systems {
        let yaml = format!("{yaml}limits:\n{}", indent(&limits));
        let config =
            ConnectorConfig::from_yaml(&yaml).unwrap_or_else(|e| panic!("{name}: {e}\n{yaml}"));
        let connector =
            build_with(name, &config, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        for entity in entities {
            let expected = sandbox
                .records(sandbox_name, entity)
                .unwrap_or_else(|e| panic!("{name} {entity}: {e}"))
                .len();
            assert!(expected > 0, "{name} {entity}: the sandbox seeds records");
            assert_eq!(
                scan_all(&connector, entity).await,
                expected,
                "{name} {entity}"
            );
        }
    }
    for api in Api::ALL {
        assert_eq!(
            sandbox.stats().api(api).rate_limited,
            0,
            "{api}: never over the documented limit"
        );
    }
}
