// The scenario cases of issue 4, shared by `runtime/tests/scenarios.rs` (hand-written
// flows shaped like the generated ones) and `tests/tests/scenarios.rs` (the generated flows
// of the `dataflows` crate). The including file defines `registry()` and `mod support`.

use flowgen_runtime::connector::Operation;
use flowgen_runtime::engine::{EngineError, EngineOptions};
use flowgen_runtime::flow::{
    CreatePolicy, EntityKey, Flow, FlowInfo, Id, Links, MapError, MatchInfo, Prefer, PropertyInfo,
    Record, Reference, Registry,
};
use flowgen_runtime::memory::{Fault, FaultKind, IdKind, MemoryConnector};
use flowgen_runtime::state::{Side, StateStore};
use serde::{Deserialize, Serialize};
use serde_json::json;
use support::{World, id, int, options};

const PERSON_PAIR: &str = "Chargebee/Customer|Powerofficego/Customers person";
const CUSTOMERS_PAIR: &str = "Chargebee/Customer|Powerofficego/Customers";
const CONTACT_PAIR: &str = "Chargebee/Customer|Powerofficego/Contactperson";
const ORDER_PAIR: &str = "Chargebee/Order|Powerofficego/Salesorders";
const EMPLOYEE_PAIR: &str = "Chargebee/Customer|Powerofficego/Employees";
const BUSINESS_PAIR: &str = "Chargebee/Business_entity|Powerofficego/Customers";

fn ann() -> serde_json::Value {
    json!({"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"})
}

#[tokio::test]
async fn s1_when_connected_records_are_created_by_the_order_that_needs_them() {
    let w = World::new().await;
    let engine = w.engine();
    let c = w.cb().insert("Customer", ann());
    assert_eq!(c, id("cb_1"));
    let report = engine.sync_once().await.expect("run 1");
    assert_eq!(report.flow("Chargebee Customer -> Powerofficego Customers person").created, 1);
    assert_eq!(
        w.records("Powerofficego", "Customers person"),
        vec![json!({"id": 1, "EmailAddress": "ann@example.com", "FirstName": "Ann", "LastName": "Lee"})]
    );
    assert!(w.records("Powerofficego", "Contactperson").is_empty());
    assert!(w.records("Powerofficego", "Customers").is_empty());
    assert_eq!(w.links(PERSON_PAIR).await, vec![(id("cb_1"), int(1))]);
    assert!(w.links(CUSTOMERS_PAIR).await.is_empty());
    assert!(w.links(CONTACT_PAIR).await.is_empty());

    let order = w
        .cb()
        .insert("Order", json!({"currency_code": "NOK", "customer_id": "cb_1"}));
    engine.sync_once().await.expect("run 2");
    assert_eq!(w.records("Powerofficego", "Customers"), vec![json!({"id": 2})]);
    assert_eq!(
        w.records("Powerofficego", "Contactperson"),
        vec![json!({"id": 3, "emailAddress": "ann@example.com", "firstName": "Ann", "lastName": "Lee"})]
    );
    assert_eq!(
        w.records("Powerofficego", "Salesorders"),
        vec![json!({"id": 4, "CurrencyCode": "NOK", "CustomerId": 2, "CustomerReferenceContactPersonId": 3})]
    );
    assert_eq!(w.links(CUSTOMERS_PAIR).await, vec![(id("cb_1"), int(2))]);
    assert_eq!(w.links(CONTACT_PAIR).await, vec![(id("cb_1"), int(3))]);
    assert_eq!(w.links(ORDER_PAIR).await, vec![(order, int(4))]);
    assert_eq!(w.links(PERSON_PAIR).await, vec![(id("cb_1"), int(1))]);
    // The new Customers is itself a source: Powerofficego Customers -> Business_entity.
    assert_eq!(w.records("Chargebee", "Business_entity"), vec![json!({"id": "cb_3"})]);
    assert_eq!(w.links(BUSINESS_PAIR).await, vec![(id("cb_3"), int(2))]);
    assert_eq!(w.po().count("Customers person"), 1);
    let before = w.writes();
    engine.sync_once().await.expect("run 3");
    assert_eq!(w.writes(), before);
}

#[tokio::test]
async fn s2_edits_on_either_side_reach_the_other_and_echo_nothing() {
    let w = World::new().await;
    let engine = w.engine();
    let c = w.cb().insert("Customer", ann());
    engine.sync_once().await.expect("initial");
    let p = int(1);

    assert!(w.cb().edit("Customer", &c, json!({"email": "ann@new.example"})));
    let report = engine.sync_once().await.expect("edit chargebee");
    assert_eq!(report.total().updated, 1);
    assert_eq!(
        w.po().record("Customers person", &p),
        Some(json!({"id": 1, "EmailAddress": "ann@new.example", "FirstName": "Ann", "LastName": "Lee"}))
    );
    let before = w.writes();
    let report = engine.sync_once().await.expect("quiet");
    assert_eq!(w.writes(), before);
    assert_eq!(report.total().writes, 0);

    assert!(w.po().edit("Customers person", &p, json!({"FirstName": "Anna"})));
    engine.sync_once().await.expect("edit powerofficego");
    assert_eq!(
        w.cb().record("Customer", &c),
        Some(json!({"id": "cb_1", "email": "ann@new.example", "first_name": "Anna", "last_name": "Lee"}))
    );
    let before = w.writes();
    engine.sync_once().await.expect("quiet again");
    engine.sync_once().await.expect("quiet again");
    assert_eq!(w.writes(), before);
    assert_eq!(w.links(PERSON_PAIR).await, vec![(c, p)]);
    assert!(w.store.conflicts().await.expect("conflicts").is_empty());
}

#[tokio::test]
async fn s3_both_sides_edited_newest_wins_and_the_loser_is_logged() {
    let w = World::new().await;
    let engine = w.engine();
    let c = w.cb().insert("Customer", ann());
    engine.sync_once().await.expect("initial");
    let p = int(1);
    assert!(w.cb().edit("Customer", &c, json!({"first_name": "Chargebee edit"})));
    assert!(w.po().edit("Customers person", &p, json!({"FirstName": "PowerOffice edit"})));
    let report = engine.sync_once().await.expect("conflict run");
    assert_eq!(report.total().conflicts, 1);
    assert_eq!(
        w.cb().record("Customer", &c),
        Some(json!({"id": "cb_1", "email": "ann@example.com", "first_name": "PowerOffice edit", "last_name": "Lee"}))
    );
    assert_eq!(
        w.po().record("Customers person", &p),
        Some(json!({"id": 1, "EmailAddress": "ann@example.com", "FirstName": "PowerOffice edit", "LastName": "Lee"}))
    );
    let conflicts = w.store.conflicts().await.expect("conflicts");
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].pair, PERSON_PAIR);
    assert_eq!(conflicts[0].winner, Side::B);
    assert_eq!(
        conflicts[0].loser_values,
        json!({"email": "ann@example.com", "first_name": "Chargebee edit", "last_name": "Lee"})
    );
    let before = w.writes();
    engine.sync_once().await.expect("quiet");
    assert_eq!(w.writes(), before);
    assert_eq!(w.links(PERSON_PAIR).await, vec![(c, p)]);
}

#[tokio::test]
async fn s3b_prefer_source_keeps_the_older_source_edit() {
    let w = World::new().await;
    let mut opts = options();
    opts.prefer.insert(
        "Chargebee Customer -> Powerofficego Customers person".into(),
        Prefer::Source,
    );
    let engine = w.engine_with(crate::registry(), opts);
    let c = w.cb().insert("Customer", ann());
    engine.sync_once().await.expect("initial");
    let p = int(1);
    assert!(w.cb().edit("Customer", &c, json!({"first_name": "Source"})));
    assert!(w.po().edit("Customers person", &p, json!({"FirstName": "Target"})));
    engine.sync_once().await.expect("conflict run");
    assert_eq!(w.po().record("Customers person", &p).expect("p")["FirstName"], "Source");
    assert_eq!(w.cb().record("Customer", &c).expect("c")["first_name"], "Source");
    let conflicts = w.store.conflicts().await.expect("conflicts");
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].winner, Side::A);
    assert_eq!(conflicts[0].loser_values["FirstName"], "Target");
}

#[tokio::test]
async fn s4_a_record_whose_reference_is_not_linked_waits_then_syncs_in_the_same_run() {
    let w = World::new().await;
    let salesorders = EntityKey {
        system: "Powerofficego",
        entity: "Salesorders",
    };
    let contact = EntityKey {
        system: "Powerofficego",
        entity: "Contactperson",
    };
    // Read Salesorders before the Contactperson it references.
    let default_order = w.engine().topology().order.clone();
    let mut order = vec![salesorders, contact];
    order.extend(default_order.into_iter().filter(|e| *e != salesorders && *e != contact));
    let engine = w.engine_with(
        crate::registry(),
        EngineOptions {
            entity_order: Some(order),
            ..options()
        },
    );
    let k = w.po().insert(
        "Contactperson",
        json!({"emailAddress": "kim@example.com", "firstName": "Kim", "lastName": "Berg"}),
    );
    let s = w.po().insert(
        "Salesorders",
        json!({"CurrencyCode": "EUR", "CustomerReferenceContactPersonId": 1}),
    );
    let report = engine.sync_once().await.expect("run");
    let so = report.flow("Powerofficego Salesorders -> Chargebee Order");
    assert_eq!(so.deferred, 1);
    assert_eq!(so.created, 1);
    assert_eq!(report.still_deferred, 0);
    assert_eq!(
        w.records("Chargebee", "Customer"),
        vec![json!({"id": "cb_1", "email": "kim@example.com", "first_name": "Kim", "last_name": "Berg"})]
    );
    assert_eq!(
        w.records("Chargebee", "Order"),
        vec![json!({"id": "cb_2", "currency_code": "EUR", "customer_id": "cb_1"})]
    );
    assert_eq!(w.links(CONTACT_PAIR).await, vec![(id("cb_1"), k)]);
    assert_eq!(w.links(ORDER_PAIR).await, vec![(id("cb_2"), s)]);
    assert!(w.store.deferrals().await.expect("deferrals").is_empty());
}

#[tokio::test]
async fn s4b_a_deferral_that_cannot_resolve_is_kept_for_the_next_run() {
    let w = World::new().await;
    let engine = w.engine();
    // Contactperson 99 does not exist (yet).
    w.po().insert(
        "Salesorders",
        json!({"CurrencyCode": "EUR", "CustomerReferenceContactPersonId": 99}),
    );
    let report = engine.sync_once().await.expect("run");
    assert_eq!(report.still_deferred, 1);
    let deferrals = w.store.deferrals().await.expect("deferrals");
    assert_eq!(deferrals.len(), 1);
    assert!(deferrals[0].reason.contains("99"), "{}", deferrals[0].reason);
    assert!(w.records("Chargebee", "Order").is_empty());
    w.po().insert_with_id(
        "Contactperson",
        99,
        json!({"emailAddress": "late@example.com", "firstName": "Late", "lastName": "Comer"}),
    );
    engine.sync_once().await.expect("run 2");
    assert_eq!(
        w.records("Chargebee", "Order"),
        vec![json!({"id": "cb_2", "currency_code": "EUR", "customer_id": "cb_1"})]
    );
    assert!(w.store.deferrals().await.expect("deferrals").is_empty());
}

#[tokio::test]
async fn s5_the_employee_cascade_ends() {
    let w = World::new().await;
    let engine = w.engine();
    let e = w.po().insert(
        "Employees",
        json!({"EmailAddress": "eve@example.com", "FirstName": "Eve", "LastName": "Dahl"}),
    );
    engine.sync_once().await.expect("run 1");
    engine.sync_once().await.expect("run 2");
    let creates = w.cb().writes().creates + w.po().writes().creates;
    for _ in 0..10 {
        let report = engine.sync_once().await.expect("repeat");
        assert_eq!(report.total().created, 0);
    }
    assert_eq!(w.cb().writes().creates + w.po().writes().creates, creates);
    assert_eq!(
        w.records("Chargebee", "Customer"),
        vec![json!({"id": "cb_1", "email": "eve@example.com", "first_name": "Eve", "last_name": "Dahl"})]
    );
    assert_eq!(
        w.records("Powerofficego", "Customers person"),
        vec![json!({"id": 2, "EmailAddress": "eve@example.com", "FirstName": "Eve", "LastName": "Dahl"})]
    );
    assert_eq!(w.po().count("Employees"), 1);
    assert_eq!(w.links(EMPLOYEE_PAIR).await, vec![(id("cb_1"), e)]);
    assert_eq!(w.links(PERSON_PAIR).await, vec![(id("cb_1"), int(2))]);
}

// ----- scenario 6 and 10: a test document of our own -----

const CONTACT: EntityKey = EntityKey {
    system: "Crm",
    entity: "Contact",
};
const ACCOUNT: EntityKey = EntityKey {
    system: "Billing",
    entity: "Account",
};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<Id<Contact>>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    active: Option<bool>,
}
impl Record for Contact {
    const KEY: EntityKey = CONTACT;
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Account {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<Id<Account>>,
    #[serde(default, rename = "Email")]
    email: Option<String>,
    #[serde(default, rename = "Name")]
    name: Option<String>,
}
impl Record for Account {
    const KEY: EntityKey = ACCOUNT;
}

const CONTACT_PROPS: [PropertyInfo; 2] = [
    PropertyInfo {
        source: "email",
        target: "Email",
        ty: Some("string"),
        source_reference: None,
        target_reference: None,
        location: "crm-to-billing.rst:20",
    },
    PropertyInfo {
        source: "name",
        target: "Name",
        ty: Some("string"),
        source_reference: None,
        target_reference: None,
        location: "crm-to-billing.rst:23",
    },
];

/// `Crm Contact to Billing Account`: match on e-mail or name, then create; with a condition.
struct ContactToAccount {
    conditional: bool,
}

static MATCHING: FlowInfo = FlowInfo {
    name: "Crm Contact -> Billing Account",
    source: CONTACT,
    target: ACCOUNT,
    create: CreatePolicy::Always,
    connected_via: &[],
    condition: None,
    merge: true,
    match_rules: &[
        MatchInfo {
            source: "email",
            target: "Email",
        },
        MatchInfo {
            source: "name",
            target: "Name",
        },
    ],
    properties: &CONTACT_PROPS,
    location: "crm-to-billing.rst:12",
};

static CONDITIONAL: FlowInfo = FlowInfo {
    name: "Crm Contact -> Billing Account",
    source: CONTACT,
    target: ACCOUNT,
    create: CreatePolicy::Always,
    connected_via: &[],
    condition: Some("the contact is active"),
    merge: false,
    match_rules: &[],
    properties: &CONTACT_PROPS,
    location: "crm-to-billing.rst:12",
};

impl Flow for ContactToAccount {
    type Source = Contact;
    type Target = Account;
    fn info(&self) -> &'static FlowInfo {
        if self.conditional { &CONDITIONAL } else { &MATCHING }
    }
    fn forward(&self, s: &Contact, _: &dyn Links) -> Result<Account, MapError> {
        Ok(Account {
            email: s.email.clone(),
            name: s.name.clone(),
            ..Default::default()
        })
    }
    fn inverse(&self, t: &Account, _: &dyn Links) -> Result<Contact, MapError> {
        Ok(Contact {
            email: t.email.clone(),
            name: t.name.clone(),
            ..Default::default()
        })
    }
    fn references(&self, _: &Contact) -> Vec<Reference> {
        Vec::new()
    }
    fn inverse_references(&self, _: &Account) -> Vec<Reference> {
        Vec::new()
    }
    /// The embedding service's condition: "the contact is active".
    fn applies(&self, s: &Contact) -> bool {
        !self.conditional || s.active == Some(true)
    }
}

fn crm_registry(conditional: bool) -> Registry {
    let mut r = Registry::new();
    r.register(ContactToAccount { conditional });
    r
}

async fn crm_world() -> World {
    World::with(vec![
        MemoryConnector::new("Crm", IdKind::Int),
        MemoryConnector::new("Billing", IdKind::Text { prefix: "acc_".into() }),
    ])
    .await
}

const CRM_PAIR: &str = "Billing/Account|Crm/Contact";

#[tokio::test]
async fn s6_match_rules_link_existing_records_and_empty_values_never_match() {
    let w = crm_world().await;
    let billing = w.sys("Billing");
    let crm = w.sys("Crm");
    let a1 = billing.insert("Account", json!({"Email": "ann@example.com", "Name": "Ann"}));
    let a2 = billing.insert("Account", json!({"Email": "", "Name": "Bob"}));
    let a3 = billing.insert("Account", json!({"Email": null, "Name": ""}));
    let c1 = crm.insert("Contact", json!({"email": "ANN@example.com ", "name": "Ann"}));
    let c2 = crm.insert("Contact", json!({"email": "", "name": "Bob"}));
    let c3 = crm.insert("Contact", json!({"email": "", "name": ""}));
    let engine = w.engine_with(crm_registry(false), options());
    let plan = engine.plan().await.expect("plan");
    assert_eq!(plan.links.len(), 2);
    assert_eq!(plan.links[0].rule, "email = Email");
    assert_eq!(plan.links[1].rule, "name = Name");
    assert_eq!(plan.creates.len(), 1);
    assert_eq!(billing.writes().total(), 0);
    assert!(w.links(CRM_PAIR).await.is_empty());

    let report = engine.sync_once().await.expect("run");
    let counts = report.flow("Crm Contact -> Billing Account");
    assert_eq!((counts.linked, counts.created), (2, 1));
    assert_eq!(
        w.records("Billing", "Account"),
        vec![
            json!({"id": "acc_1", "Email": "ANN@example.com ", "Name": "Ann"}),
            json!({"id": "acc_2", "Email": "", "Name": "Bob"}),
            json!({"id": "acc_3", "Email": null, "Name": ""}),
            json!({"id": "acc_4", "Email": "", "Name": ""}),
        ]
    );
    assert_eq!(
        w.links(CRM_PAIR).await,
        vec![(a1, c1), (a2, c2), (id("acc_4"), c3)]
    );
    assert_eq!(a3, id("acc_3"));
}

#[tokio::test]
async fn s10_a_conditional_flow_syncs_exactly_the_records_where_the_condition_holds() {
    let w = crm_world().await;
    let crm = w.sys("Crm");
    let c1 = crm.insert("Contact", json!({"email": "a@example.com", "name": "A", "active": true}));
    let c2 = crm.insert("Contact", json!({"email": "b@example.com", "name": "B", "active": false}));
    let c3 = crm.insert("Contact", json!({"email": "c@example.com", "name": "C"}));
    let c4 = crm.insert("Contact", json!({"email": "d@example.com", "name": "D", "active": true}));
    let engine = w.engine_with(crm_registry(true), options());
    let report = engine.sync_once().await.expect("run");
    let counts = report.flow("Crm Contact -> Billing Account");
    assert_eq!((counts.created, counts.skipped), (2, 2));
    assert_eq!(
        w.records("Billing", "Account"),
        vec![
            json!({"id": "acc_1", "Email": "a@example.com", "Name": "A"}),
            json!({"id": "acc_2", "Email": "d@example.com", "Name": "D"}),
        ]
    );
    assert_eq!(w.links(CRM_PAIR).await, vec![(id("acc_1"), c1.clone()), (id("acc_2"), c4.clone())]);
    assert!(crm.edit("Contact", &c2, json!({"active": true})));
    engine.sync_once().await.expect("run 2");
    assert_eq!(
        w.links(CRM_PAIR).await,
        vec![(id("acc_1"), c1), (id("acc_2"), c4), (id("acc_3"), c2)]
    );
    assert_eq!(w.sys("Billing").count("Account"), 3);
    assert_eq!(c3, int(3));
}

#[tokio::test]
async fn s7_permanent_failures_go_to_dead_letters_and_retry_succeeds_later() {
    let w = World::new().await;
    let engine = w.engine();
    w.po().inject(
        Fault::new(
            Operation::Create,
            "Customers person",
            FaultKind::Permanent("400 invalid EmailAddress".into()),
        )
        .when_field("EmailAddress", json!("bad@example.com")),
    );
    let bad = w.cb().insert(
        "Customer",
        json!({"email": "bad@example.com", "first_name": "Bad", "last_name": "Mail"}),
    );
    let good = w.cb().insert("Customer", ann());
    let report = engine.sync_once().await.expect("run goes on");
    let counts = report.flow("Chargebee Customer -> Powerofficego Customers person");
    assert_eq!((counts.created, counts.dead_lettered), (1, 1));
    assert_eq!(
        w.records("Powerofficego", "Customers person"),
        vec![json!({"id": 1, "EmailAddress": "ann@example.com", "FirstName": "Ann", "LastName": "Lee"})]
    );
    let dead = w.store.dead_letters().await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].record_id, bad);
    assert_eq!(dead[0].direction, "Chargebee Customer -> Powerofficego Customers person");
    assert_eq!(
        dead[0].payload,
        json!({"EmailAddress": "bad@example.com", "FirstName": "Bad", "LastName": "Mail"})
    );
    assert!(dead[0].error.contains("400 invalid EmailAddress"), "{}", dead[0].error);
    assert!(w.store.intents().await.expect("intents").is_empty());

    // Still failing: stays a dead letter.
    engine.retry_dead_letters(None).await.expect("retry");
    assert_eq!(w.store.dead_letters().await.expect("dead")[0].attempts, 2);
    w.po().clear_faults();
    let report = engine.retry_dead_letters(None).await.expect("retry");
    assert_eq!(report.total().created, 1);
    assert!(w.store.dead_letters().await.expect("dead").is_empty());
    assert_eq!(
        w.links(PERSON_PAIR).await,
        vec![(bad, int(2)), (good, int(1))]
    );
    assert_eq!(w.po().count("Customers person"), 2);
}

async fn crash_then_restart(w: &World) {
    w.po().inject(
        Fault::new(Operation::Create, "Customers person", FaultKind::CrashAfterCreate).times(1),
    );
    let c = w.cb().insert("Customer", ann());
    let err = w.engine().sync_once().await.expect_err("crash");
    assert!(matches!(err, EngineError::Aborted(_)), "{err}");
    assert_eq!(w.po().count("Customers person"), 1);
    assert!(w.links(PERSON_PAIR).await.is_empty());
    assert_eq!(w.store.intents().await.expect("intents").len(), 1);

    // Restart: a new engine over the same state file.
    let report = w.engine().sync_once().await.expect("restart");
    assert_eq!(report.reconciled_intents, 1);
    assert_eq!(
        w.records("Powerofficego", "Customers person"),
        vec![json!({"id": 1, "EmailAddress": "ann@example.com", "FirstName": "Ann", "LastName": "Lee"})]
    );
    assert_eq!(w.links(PERSON_PAIR).await, vec![(c, int(1))]);
    assert!(w.store.intents().await.expect("intents").is_empty());
    w.engine().sync_once().await.expect("again");
    assert_eq!(w.po().count("Customers person"), 1);
}

#[tokio::test]
async fn s8_a_crash_between_create_and_link_never_duplicates_with_idempotency_keys() {
    let w = World::new().await;
    crash_then_restart(&w).await;
}

#[tokio::test]
async fn s8b_a_crash_between_create_and_link_never_duplicates_without_idempotency_keys() {
    let w = World::with(vec![
        MemoryConnector::new("Chargebee", IdKind::Text { prefix: "cb_".into() }),
        MemoryConnector::new("Powerofficego", IdKind::Int).without_idempotency(),
    ])
    .await;
    crash_then_restart(&w).await;
}

/// Reconciling a lost create by its values must not take a record that another source is
/// linked to already, even when its values are the same.
#[tokio::test]
async fn s8c_a_lost_create_is_never_reconciled_onto_a_record_linked_to_another_source() {
    let w = World::with(vec![
        MemoryConnector::new("Chargebee", IdKind::Text { prefix: "cb_".into() }),
        MemoryConnector::new("Powerofficego", IdKind::Int).without_idempotency(),
    ])
    .await;
    let first = w.cb().insert("Customer", ann());
    w.engine().sync_once().await.expect("first run");
    assert_eq!(w.links(PERSON_PAIR).await, vec![(first.clone(), int(1))]);

    // A second customer with the same values; its create's answer is lost.
    w.po().inject(
        Fault::new(Operation::Create, "Customers person", FaultKind::CrashAfterCreate).times(1),
    );
    let second = w.cb().insert("Customer", ann());
    let err = w.engine().sync_once().await.expect_err("crash");
    assert!(matches!(err, EngineError::Aborted(_)), "{err}");
    assert_eq!(w.po().count("Customers person"), 2);

    let report = w.engine().sync_once().await.expect("restart");
    assert_eq!(report.reconciled_intents, 1);
    assert_eq!(
        w.links(PERSON_PAIR).await,
        vec![(first, int(1)), (second, int(2))]
    );
    assert_eq!(w.po().count("Customers person"), 2);
    assert!(w.store.intents().await.expect("intents").is_empty());
    let again = w.engine().sync_once().await.expect("again");
    assert_eq!(again.total().writes, 0);
}

#[tokio::test]
async fn s9_a_second_run_without_changes_writes_nothing() {
    let w = World::new().await;
    let engine = w.engine();
    for i in 0..20 {
        let c = w.cb().insert(
            "Customer",
            json!({"email": format!("p{i}@example.com"), "first_name": format!("P{i}"), "last_name": "X"}),
        );
        if i % 3 == 0 {
            w.cb().insert("Order", json!({"currency_code": "NOK", "customer_id": c}));
        }
        w.cb().insert("Item", json!({"name": format!("item {i}")}));
    }
    let first = engine.sync_once().await.expect("first");
    assert!(first.total().writes > 0);
    let before = (w.cb().writes(), w.po().writes());
    let second = engine.sync_once().await.expect("second");
    assert_eq!(second.total().writes, 0);
    assert_eq!((w.cb().writes(), w.po().writes()), before);
    assert_eq!(w.links(PERSON_PAIR).await.len(), 20);
    assert_eq!(w.links(ORDER_PAIR).await.len(), 7);
    assert_eq!(w.links(CUSTOMERS_PAIR).await.len(), 7);
    assert_eq!(w.links(CONTACT_PAIR).await.len(), 7);
    assert_eq!(w.links("Chargebee/Item|Powerofficego/Product").await.len(), 20);
    assert_eq!(w.po().count("Salesorders"), 7);
    let runs = w.store.runs(10).await.expect("runs");
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r.status == "ok"));
}

#[tokio::test]
async fn plan_lists_creates_updates_and_deferrals_and_writes_nothing() {
    let w = World::new().await;
    let engine = w.engine();
    let c = w.cb().insert("Customer", ann());
    w.cb().insert("Order", json!({"currency_code": "NOK", "customer_id": "cb_1"}));
    let plan = engine.plan().await.expect("plan");
    let targets: Vec<&str> = plan.creates.iter().map(|c| c.target.as_str()).collect();
    assert_eq!(
        targets,
        vec![
            "Powerofficego Customers person",
            "Powerofficego Customers",
            "Powerofficego Contactperson",
            "Powerofficego Salesorders",
        ]
    );
    assert_eq!(plan.creates[3].values["CurrencyCode"], "NOK");
    assert_eq!(w.writes(), 0);
    assert!(w.links(PERSON_PAIR).await.is_empty());
    assert!(w.store.runs(5).await.expect("runs").is_empty());

    engine.sync_once().await.expect("sync");
    assert!(w.cb().edit("Customer", &c, json!({"last_name": "Lund"})));
    let plan = engine.plan().await.expect("plan");
    assert_eq!(plan.updates.len(), 2);
    assert_eq!(plan.updates[0].changes.len(), 1);
    assert_eq!(plan.updates[0].changes[0].new, json!("Lund"));
    assert_eq!(plan.updates[0].changes[0].old, json!("Lee"));
    assert!(plan.creates.is_empty());
    assert_eq!(w.po().record("Customers person", &int(1)).expect("p")["LastName"], "Lee");
}

#[tokio::test]
async fn transient_failures_are_retried() {
    let w = World::new().await;
    let engine = w.engine();
    w.po().inject(
        Fault::new(
            Operation::Create,
            "Customers person",
            FaultKind::Transient { retry_after: None },
        )
        .times(2),
    );
    w.cb().insert("Customer", ann());
    let report = engine.sync_once().await.expect("run");
    assert_eq!(report.flow("Chargebee Customer -> Powerofficego Customers person").created, 1);
    assert!(w.store.dead_letters().await.expect("dead").is_empty());
}
