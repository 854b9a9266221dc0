use flowgen_sandbox::{Api, SandboxConfig};
use serde_json::Value;

use crate::common::{client, config, send};

const ENTITIES: &[(&str, &str)] = &[
    ("chargebee", "Customer"),
    ("chargebee", "Order"),
    ("chargebee", "Item"),
    ("chargebee", "Business_entity"),
    ("powerofficego", "Customers"),
    ("powerofficego", "Customers person"),
    ("powerofficego", "Contactperson"),
    ("powerofficego", "Employees"),
    ("powerofficego", "Departments"),
    ("powerofficego", "Product"),
    ("powerofficego", "Salesorders"),
    ("powerofficego", "Salesorderlines"),
    ("webcrm", "Persons"),
    ("webcrm", "Organisations"),
    ("webcrm", "Opportunities"),
    ("webcrm", "Quotationline"),
    ("webcrm", "Users"),
    ("webcrm", "Products"),
    ("customerp", "Contact"),
    ("customerp", "Customer"),
    ("customerp", "Employee"),
    ("customerp", "Quote"),
    ("customerp", "Order"),
    ("customerp", "Product"),
    ("customwebshop", "Customer"),
    ("customwebshop", "Order"),
    ("customwebshop", "Product"),
];

async fn chargebee_page(sb: &flowgen_sandbox::Sandbox) -> Value {
    send(
        client()
            .get(format!("{}/orders?limit=100", sb.base_url(Api::Chargebee)))
            .basic_auth(&sb.config().credentials.chargebee_api_key, Some("")),
    )
    .await
    .1
}

#[tokio::test]
async fn same_seed_serves_identical_data() {
    let a = flowgen_sandbox::start(config(15)).await.unwrap();
    let b = flowgen_sandbox::start(config(15)).await.unwrap();
    let c = flowgen_sandbox::start(SandboxConfig {
        seed: 99,
        ..config(15)
    })
    .await
    .unwrap();
    let mut differs = false;
    for (system, entity) in ENTITIES {
        let ra = a.records(system, entity).unwrap();
        let rb = b.records(system, entity).unwrap();
        assert!(!ra.is_empty(), "{system}/{entity} is seeded");
        assert_eq!(ra, rb, "{system}/{entity}");
        differs |= ra != c.records(system, entity).unwrap();
    }
    assert!(differs, "another seed gives other data");
    assert_eq!(chargebee_page(&a).await, chargebee_page(&b).await);
    assert_eq!(a.records("powerofficego", "Customers").unwrap().len(), 15);
}
