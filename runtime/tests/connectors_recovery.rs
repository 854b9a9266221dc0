//! Creates whose answer is lost, against the sandbox over HTTP: the sandbox handles the
//! request and then drops the connection (`drop_after_write`), so the record exists and
//! the connector cannot know. No API but Chargebee takes an idempotency key; the
//! connectors find the record again (by its marker field, else by its values) instead of
//! making a second one, within one process and after a restart, and the engine over them
//! survives a crash between a create and the commit of its link. Also the defaults that
//! fill required fields on create, and records in the documents' types.

fn registry() -> Registry {
    support::flows::registry()
}

mod connectors_support;
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use flowgen_runtime::connector::{ConnectorError, ErrorKind, Operation, Page, RemoteRecord};
use flowgen_runtime::engine::{Engine, EngineError, EngineOptions, RetryPolicy};
use flowgen_runtime::flow::{RecordId, Registry};
use flowgen_runtime::state::{SqliteStore, StateStore};

use connectors_support::fast_limits;
use flowgen_runtime::connector::Connector;
use flowgen_runtime::connectors::adapt::marker;
use flowgen_runtime::connectors::coerce::EntityTypes;
use flowgen_runtime::connectors::config::ConnectorConfig;
use flowgen_runtime::connectors::{BuildOptions, build_with};
use flowgen_sandbox::{Api, Faults, Sandbox, SandboxConfig};
use serde_json::{Value, json};

async fn sandbox() -> Sandbox {
    flowgen_sandbox::start(SandboxConfig {
        records: 3,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox")
}

fn lose_write_answers(sandbox: &Sandbox, api: Api) {
    sandbox
        .set_api_faults(
            api,
            Faults {
                drop_after_write: 1.0,
                ..Faults::none()
            },
        )
        .expect("faults");
}

/// A connector of `kind` for the sandbox, `extra` YAML appended to its configuration.
fn connector(sandbox: &Sandbox, kind: &str, extra: &str) -> Arc<dyn Connector> {
    connector_typed(sandbox, kind, extra, Default::default())
}

fn connector_typed(
    sandbox: &Sandbox,
    kind: &str,
    extra: &str,
    types: flowgen_runtime::connectors::coerce::DocumentTypes,
) -> Arc<dyn Connector> {
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
    let (name, base) = match kind {
        "chargebee" => (
            "Chargebee",
            format!(
                "kind: chargebee\nbase_url: {}\napi_key_env: CB\n",
                sandbox.base_url(Api::Chargebee)
            ),
        ),
        "poweroffice" => (
            "Powerofficego",
            format!(
                "kind: poweroffice\nbase_url: {}\ntoken_url: {}\napplication_key_env: PO_APP\nclient_key_env: PO_CLIENT\nsubscription_key_env: PO_SUB\n",
                sandbox.base_url(Api::PowerOffice),
                sandbox.token_url(Api::PowerOffice).expect("token url")
            ),
        ),
        "webcrm" => (
            "Webcrm",
            format!(
                "kind: webcrm\nbase_url: {}\nauth_code_env: WEBCRM\n",
                sandbox.base_url(Api::Webcrm)
            ),
        ),
        _ => (
            "Customwebshop",
            format!(
                "kind: rest\nbase_url: {}\nauth: {{type: bearer, token_env: REST}}\nentities:\n  Customer: {{path: /customers, read_only: [created_at, updated_at]}}\n",
                sandbox.rest_base_url("customwebshop").expect("rest")
            ),
        ),
    };
    let limits = serde_yaml::to_string(&fast_limits()).expect("limits");
    let limits: String = limits.lines().map(|l| format!("  {l}\n")).collect();
    let yaml = format!("{base}{extra}limits:\n{limits}");
    let config = ConnectorConfig::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let options = BuildOptions {
        env: &env,
        properties: Default::default(),
        types,
    };
    build_with(name, &config, &options).unwrap_or_else(|e| panic!("{e}"))
}

fn with_field<'a>(records: &'a [Value], field: &str, value: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r.get(field).and_then(Value::as_str) == Some(value))
        .collect()
}

#[tokio::test]
async fn poweroffice_finds_a_lost_create_by_its_marker_in_process_and_after_a_restart() {
    let sandbox = sandbox().await;
    let before = sandbox
        .records("powerofficego", "Customers")
        .expect("records")
        .len();
    lose_write_answers(&sandbox, Api::PowerOffice);
    let po = connector(&sandbox, "poweroffice", "");
    let data = json!({"Name": "Lost Answer AS", "EmailAddress": "post@lost.no"});
    let record = po
        .create("Customers", &data, Some("intent-1"))
        .await
        .expect("the create was made; its answer is found again");
    let stamp = marker("intent-1");
    let all = sandbox
        .records("powerofficego", "Customers")
        .expect("records");
    let marked = with_field(&all, "ExternalImportReference", &stamp);
    assert_eq!(marked.len(), 1, "one record carries the marker: {marked:?}");
    assert_eq!(marked[0]["Id"], record.id.to_json());
    assert_eq!(all.len(), before + 1);
    assert_eq!(record.data["Name"], json!("Lost Answer AS"));
    let stats = sandbox.stats().api(Api::PowerOffice);
    assert_eq!(stats.faults.dropped_after_handling, 1, "{stats:?}");

    // The engine retries the create with the same key (in this process, or after a
    // restart with a new connector): the record is found, nothing is created.
    sandbox
        .set_api_faults(Api::PowerOffice, Faults::none())
        .expect("faults");
    for connector in [Arc::clone(&po), connector(&sandbox, "poweroffice", "")] {
        let again = connector
            .create("Customers", &data, Some("intent-1"))
            .await
            .expect("replay");
        assert_eq!(again.id, record.id);
    }
    assert_eq!(
        sandbox
            .records("powerofficego", "Customers")
            .expect("records")
            .len(),
        before + 1
    );
    assert_eq!(sandbox.stats().table("powerofficego/Customers").creates, 1);

    // Another intent with the same values is another record (markers, not values, decide).
    let other = po
        .create("Customers", &data, Some("intent-2"))
        .await
        .expect("create");
    assert_ne!(other.id, record.id);
}

#[tokio::test]
async fn webcrm_finds_a_lost_create_by_its_values() {
    let sandbox = sandbox().await;
    lose_write_answers(&sandbox, Api::Webcrm);
    let webcrm = connector(&sandbox, "webcrm", "");
    let data = json!({"PersonFirstName": "Lost", "PersonLastName": "Answer", "PersonEmail": "lost@answer.no"});
    let record = webcrm
        .create("Persons", &data, Some("intent-w"))
        .await
        .expect("found by its values");
    let persons = sandbox.records("webcrm", "Persons").expect("records");
    let matching = with_field(&persons, "PersonEmail", "lost@answer.no");
    assert_eq!(matching.len(), 1, "{matching:?}");
    assert_eq!(matching[0]["PersonId"], record.id.to_json());
    assert_eq!(
        sandbox
            .stats()
            .api(Api::Webcrm)
            .faults
            .dropped_after_handling,
        1
    );
}

#[tokio::test]
async fn rest_recovers_by_a_configured_marker_and_without_one() {
    let sandbox = sandbox().await;
    lose_write_answers(&sandbox, Api::Rest);
    let marked = connector(&sandbox, "rest", "markers:\n  Customer: external_ref\n");
    let first = marked
        .create(
            "Customer",
            &json!({"first_name": "Marked", "email": "m@x.no"}),
            Some("intent-r1"),
        )
        .await
        .expect("found by marker");
    let plain = connector(&sandbox, "rest", "");
    let second = plain
        .create(
            "Customer",
            &json!({"first_name": "Plain", "email": "p@x.no"}),
            Some("intent-r2"),
        )
        .await
        .expect("found by values");
    let customers = sandbox
        .records("customwebshop", "Customer")
        .expect("records");
    let by_marker = with_field(&customers, "external_ref", &marker("intent-r1"));
    assert_eq!(by_marker.len(), 1);
    assert_eq!(by_marker[0]["id"], first.id.to_json());
    let by_name = with_field(&customers, "first_name", "Plain");
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name[0]["id"], second.id.to_json());
    assert_eq!(sandbox.stats().table("customwebshop/customers").creates, 2);
}

#[tokio::test]
async fn chargebee_replays_a_lost_create_by_its_idempotency_key() {
    let sandbox = sandbox().await;
    lose_write_answers(&sandbox, Api::Chargebee);
    let chargebee = connector(&sandbox, "chargebee", "");
    let record = chargebee
        .create(
            "Customer",
            &json!({"first_name": "Lost", "email": "lost@cb.no"}),
            Some("intent-c"),
        )
        .await;
    // Every answer is lost, the replays too: the create fails as transient, but only one
    // customer exists, however often it is sent.
    let error = record.expect_err("every answer is lost");
    assert!(error.is_transient(), "{error}");
    let customers = sandbox.records("chargebee", "Customer").expect("records");
    assert_eq!(with_field(&customers, "email", "lost@cb.no").len(), 1);
    sandbox
        .set_api_faults(Api::Chargebee, Faults::none())
        .expect("faults");
    let replay = chargebee
        .create(
            "Customer",
            &json!({"first_name": "Lost", "email": "lost@cb.no"}),
            Some("intent-c"),
        )
        .await
        .expect("replay");
    let customers = sandbox.records("chargebee", "Customer").expect("records");
    let found = with_field(&customers, "email", "lost@cb.no");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], replay.id.to_json());
    assert!(sandbox.stats().api(Api::Chargebee).idempotent_replays >= 1);
}

#[tokio::test]
async fn defaults_fill_required_fields_the_payload_lacks() {
    let sandbox = sandbox().await;
    let po = connector(
        &sandbox,
        "poweroffice",
        "defaults:\n  Customers person:\n    Name: [\"{FirstName} {LastName}\", \"Person {$ref}\"]\n  Product:\n    Name: [\"{Name}\", \"Product {$ref}\"]\n",
    );
    let person = po
        .create(
            "Customers person",
            &json!({"FirstName": "Ada", "LastName": "Lovelace", "EmailAddress": "ada@x.no"}),
            Some("k-person"),
        )
        .await
        .expect("a person with a derived name");
    assert_eq!(person.data["Name"], json!("Ada Lovelace"));
    assert_eq!(person.data["IsPerson"], json!(true));
    let product = po
        .create("Product", &json!({}), Some("k-product"))
        .await
        .expect("a product with a generated name");
    let name = product.data["Name"].as_str().expect("name");
    assert_eq!(
        name,
        format!(
            "Product {}",
            flowgen_runtime::connectors::adapt::reference("k-product")
        )
    );
    // Without defaults the API refuses the record, naming the field.
    let bare = connector(&sandbox, "poweroffice", "");
    let error = bare
        .create("Product", &json!({}), Some("k-bare"))
        .await
        .expect_err("Name is required");
    assert!(!error.is_transient());
    assert!(error.message.contains("Name"), "{error}");
}

#[tokio::test]
async fn records_come_in_the_documents_types_and_writes_in_the_apis() {
    let sandbox = sandbox().await;
    let types = [(
        "Order".to_string(),
        EntityTypes::new([
            ("order_line_items.unit_price", "string"),
            ("order_line_items.amount", "string"),
        ]),
    )]
    .into_iter()
    .collect();
    let chargebee = connector_typed(&sandbox, "chargebee", "", types);
    let customer = sandbox.records("chargebee", "Customer").expect("records")[0]["id"].clone();
    // The documents type the amounts as text, PowerOffice Go's decimals arrive as `3.0`:
    // Chargebee gets whole numbers.
    let created = chargebee
        .create(
            "Order",
            &json!({"customer_id": customer, "order_line_items": [{"unit_price": "1290.0", "amount": 3.0}]}),
            Some("k-order"),
        )
        .await
        .expect("an order");
    let stored = sandbox
        .record("chargebee", "Order", &created.id.to_string())
        .expect("lookup")
        .expect("stored");
    assert_eq!(stored["order_line_items"][0]["unit_price"], json!(1290));
    assert_eq!(stored["order_line_items"][0]["amount"], json!(3));
    assert_eq!(
        created.data["order_line_items"][0]["unit_price"],
        json!("1290")
    );
    assert_eq!(created.data["order_line_items"][0]["amount"], json!("3"));
    let error = chargebee
        .create(
            "Order",
            &json!({"customer_id": customer, "order_line_items": [{"unit_price": "12.5"}]}),
            Some("k-order-2"),
        )
        .await
        .expect_err("a fraction of the smallest unit");
    assert!(!error.is_transient());
    assert!(
        error.message.contains("order_line_items.unit_price"),
        "{error}"
    );
}

/// Dies (as the process would) right after the first create of `entity` is made.
#[derive(Debug)]
struct CrashAfterFirstCreate {
    inner: Arc<dyn Connector>,
    entity: &'static str,
    crashed: AtomicBool,
}

#[async_trait]
impl Connector for CrashAfterFirstCreate {
    fn system(&self) -> &str {
        self.inner.system()
    }
    fn idempotent_create(&self) -> bool {
        self.inner.idempotent_create()
    }
    async fn changes(
        &self,
        entity: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, ConnectorError> {
        self.inner.changes(entity, cursor, limit).await
    }
    async fn get(
        &self,
        entity: &str,
        id: &RecordId,
    ) -> Result<Option<RemoteRecord>, ConnectorError> {
        self.inner.get(entity, id).await
    }
    async fn create(
        &self,
        entity: &str,
        data: &Value,
        key: Option<&str>,
    ) -> Result<RemoteRecord, ConnectorError> {
        let record = self.inner.create(entity, data, key).await?;
        if entity == self.entity && !self.crashed.swap(true, Ordering::SeqCst) {
            return Err(ConnectorError::new(
                ErrorKind::Aborted,
                self.system(),
                Operation::Create,
                "crashed after the create (injected)",
            ));
        }
        Ok(record)
    }
    async fn update(
        &self,
        entity: &str,
        id: &RecordId,
        data: &Value,
    ) -> Result<RemoteRecord, ConnectorError> {
        self.inner.update(entity, id, data).await
    }
    async fn search(
        &self,
        entity: &str,
        property: &str,
        value: &Value,
    ) -> Result<Vec<RemoteRecord>, ConnectorError> {
        self.inner.search(entity, property, value).await
    }
}

const PO_DEFAULTS: &str = "defaults:\n  Customers person: {Name: [\"{FirstName} {LastName}\", \"Person {$ref}\"]}\n  Customers: {Name: [\"{Name}\", \"Customer {$ref}\"]}\n  Product: {Name: [\"{Name}\", \"Product {$ref}\"]}\n";

fn engine(sandbox: &Sandbox, store: &Arc<SqliteStore>, crash: bool) -> Engine {
    let po = connector(sandbox, "poweroffice", PO_DEFAULTS);
    let po: Arc<dyn Connector> = if crash {
        Arc::new(CrashAfterFirstCreate {
            inner: po,
            entity: "Customers person",
            crashed: AtomicBool::new(false),
        })
    } else {
        po
    };
    let connectors: HashMap<String, Arc<dyn Connector>> = [
        ("Chargebee".to_string(), connector(sandbox, "chargebee", "")),
        ("Powerofficego".to_string(), po),
    ]
    .into_iter()
    .collect();
    Engine::new(
        registry(),
        connectors,
        Arc::clone(store) as Arc<dyn StateStore>,
        EngineOptions {
            retry: RetryPolicy::immediate(3),
            ..EngineOptions::default()
        },
    )
}

#[tokio::test]
async fn a_crash_between_create_and_link_then_a_restart_makes_no_duplicate() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("flowgen.db"))
            .await
            .expect("store"),
    );
    let persons_before = sandbox
        .records("powerofficego", "Customers person")
        .expect("records")
        .len();
    let error = engine(&sandbox, &store, true)
        .sync_once()
        .await
        .expect_err("the process dies");
    assert!(matches!(error, EngineError::Aborted(_)), "{error}");
    // The page's creates were queued with their intents stored; the first one was made.
    let open = store.intents().await.expect("intents").len();
    assert!(open >= 1, "open intents: {open}");
    let after_crash = sandbox
        .records("powerofficego", "Customers person")
        .expect("records");
    assert_eq!(after_crash.len(), persons_before + 1, "the create was made");
    let made = after_crash
        .last()
        .expect("the person made before the crash")
        .clone();

    // The restart reconciles the intents: the record made before the crash is linked, the
    // others are created. Cascades (POGo persons and employees become Chargebee customers,
    // which become POGo persons) settle over a few runs.
    let report = engine(&sandbox, &store, false)
        .sync_once()
        .await
        .expect("restart");
    assert_eq!(report.reconciled_intents as usize, open);
    assert!(store.intents().await.expect("intents").is_empty());
    let mut quiet = false;
    for _ in 0..5 {
        let run = engine(&sandbox, &store, false)
            .sync_once()
            .await
            .expect("run");
        if run.total().writes == 0 {
            quiet = true;
            break;
        }
    }
    assert!(quiet, "the runs settle");
    let persons = sandbox
        .records("powerofficego", "Customers person")
        .expect("records");
    let links = store
        .all_links(Some("Chargebee/Customer|Powerofficego/Customers person"))
        .await
        .expect("links");
    // Every person is linked to exactly one Chargebee customer: none was made twice.
    assert_eq!(links.len(), persons.len(), "{links:?}");
    let mut linked: Vec<String> = links.iter().map(|l| l.b_id.to_string()).collect();
    linked.sort();
    linked.dedup();
    assert_eq!(linked.len(), persons.len());
    assert!(
        linked.contains(&made["Id"].to_string()),
        "the person made before the crash is linked"
    );
    assert_eq!(
        sandbox
            .duplicates("powerofficego", "Customers person", &["EmailAddress"])
            .expect("duplicates")
            .len(),
        0
    );
}
