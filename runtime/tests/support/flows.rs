//! Hand-written flows equivalent to what codegen produces for
//! `chargebee-to-powerofficego.rst` and `powerofficego-to-unnamed.rst` (the blank system
//! resolved to Chargebee): typed records, typed references, mapping both ways. Used by the
//! engine tests and benchmarks until the `dataflows` crate exposes the generated ones.
#![allow(dead_code)]

use flowgen_runtime::flow::{
    CreatePolicy, EntityKey, Flow, FlowInfo, Id, Links, MapError, MatchInfo, PropertyInfo, Record,
    Ref, Reference, Registry,
};
use serde::{Deserialize, Serialize};

pub const CB: &str = "Chargebee";
pub const POGO: &str = "Powerofficego";

pub const fn key(system: &'static str, entity: &'static str) -> EntityKey {
    EntityKey { system, entity }
}

pub mod chargebee {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    pub struct Customer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub id: Option<Id<Customer>>,
        #[serde(default)]
        pub email: Option<String>,
        #[serde(default)]
        pub first_name: Option<String>,
        #[serde(default)]
        pub last_name: Option<String>,
    }
    impl Record for Customer {
        const KEY: EntityKey = key(CB, "Customer");
    }

    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    pub struct OrderLineItem {
        #[serde(default)]
        pub unit_price: Option<String>,
        #[serde(default)]
        pub amount: Option<String>,
        #[serde(default)]
        pub tax_amount: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    pub struct Order {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub id: Option<Id<Order>>,
        #[serde(default)]
        pub currency_code: Option<String>,
        #[serde(default)]
        pub customer_id: Option<Ref<Customer>>,
        #[serde(default)]
        pub order_line_items: Vec<OrderLineItem>,
    }
    impl Record for Order {
        const KEY: EntityKey = key(CB, "Order");
    }

    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    pub struct Item {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub id: Option<Id<Item>>,
        #[serde(default)]
        pub name: Option<String>,
    }
    impl Record for Item {
        const KEY: EntityKey = key(CB, "Item");
    }

    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    pub struct BusinessEntity {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub id: Option<Id<BusinessEntity>>,
        #[serde(default)]
        pub name: Option<String>,
    }
    impl Record for BusinessEntity {
        const KEY: EntityKey = key(CB, "Business_entity");
    }
}

pub mod powerofficego {
    use super::*;

    macro_rules! person {
        ($name:ident, $entity:literal, $email:literal, $first:literal, $last:literal) => {
            #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
            pub struct $name {
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub id: Option<Id<$name>>,
                #[serde(default, rename = $email)]
                pub email_address: Option<String>,
                #[serde(default, rename = $first)]
                pub first_name: Option<String>,
                #[serde(default, rename = $last)]
                pub last_name: Option<String>,
            }
            impl Record for $name {
                const KEY: EntityKey = key(POGO, $entity);
            }
        };
    }
    person!(
        Contactperson,
        "Contactperson",
        "emailAddress",
        "firstName",
        "lastName"
    );
    person!(
        CustomersPerson,
        "Customers person",
        "EmailAddress",
        "FirstName",
        "LastName"
    );
    person!(
        Employees,
        "Employees",
        "EmailAddress",
        "FirstName",
        "LastName"
    );

    macro_rules! named {
        ($name:ident, $entity:literal, $field:literal) => {
            #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
            pub struct $name {
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub id: Option<Id<$name>>,
                #[serde(default, rename = $field)]
                pub name: Option<String>,
            }
            impl Record for $name {
                const KEY: EntityKey = key(POGO, $entity);
            }
        };
    }
    named!(Customers, "Customers", "Name");
    named!(Departments, "Departments", "Name");
    named!(Product, "Product", "name");

    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    pub struct Salesorders {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub id: Option<Id<Salesorders>>,
        #[serde(default, rename = "CurrencyCode")]
        pub currency_code: Option<String>,
        #[serde(default, rename = "CustomerId")]
        pub customer_id: Option<Ref<Customers>>,
        #[serde(default, rename = "CustomerReferenceContactPersonId")]
        pub customer_reference_contact_person_id: Option<Ref<Contactperson>>,
    }
    impl Record for Salesorders {
        const KEY: EntityKey = key(POGO, "Salesorders");
    }

    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    pub struct Salesorderlines {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub id: Option<Id<Salesorderlines>>,
        #[serde(default, rename = "ProductUnitPrice")]
        pub product_unit_price: Option<String>,
        #[serde(default, rename = "Quantity")]
        pub quantity: Option<String>,
        #[serde(default, rename = "VatRate")]
        pub vat_rate: Option<String>,
    }
    impl Record for Salesorderlines {
        const KEY: EntityKey = key(POGO, "Salesorderlines");
    }
}

use chargebee as cb;
use powerofficego as po;

const fn prop(source: &'static str, target: &'static str) -> PropertyInfo {
    PropertyInfo {
        source,
        target,
        ty: Some("string"),
        source_reference: None,
        target_reference: None,
        location: "test",
    }
}

const PERSON_TO_CB: [PropertyInfo; 3] = [
    prop("EmailAddress", "email"),
    prop("FirstName", "first_name"),
    prop("LastName", "last_name"),
];
const CB_TO_PERSON: [PropertyInfo; 3] = [
    prop("email", "EmailAddress"),
    prop("first_name", "FirstName"),
    prop("last_name", "LastName"),
];

const fn info(
    name: &'static str,
    source: EntityKey,
    target: EntityKey,
    create: CreatePolicy,
    connected_via: &'static [EntityKey],
    properties: &'static [PropertyInfo],
) -> FlowInfo {
    FlowInfo {
        name,
        source,
        target,
        create,
        connected_via,
        condition: None,
        merge: false,
        match_rules: &[] as &[MatchInfo],
        properties,
        location: "test",
    }
}

/// A flow copying person fields between two person-shaped records.
macro_rules! person_flow {
    ($name:ident, $src:ty, $tgt:ty, $info:expr, |$s:ident| $fwd:expr, |$t:ident| $inv:expr) => {
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;
        impl Flow for $name {
            type Source = $src;
            type Target = $tgt;
            fn info(&self) -> &'static FlowInfo {
                static INFO: FlowInfo = $info;
                &INFO
            }
            fn forward(&self, $s: &$src, _: &dyn Links) -> Result<$tgt, MapError> {
                Ok($fwd)
            }
            fn inverse(&self, $t: &$tgt, _: &dyn Links) -> Result<$src, MapError> {
                Ok($inv)
            }
            fn references(&self, _: &$src) -> Vec<Reference> {
                Vec::new()
            }
            fn inverse_references(&self, _: &$tgt) -> Vec<Reference> {
                Vec::new()
            }
        }
    };
}

const CB_CUSTOMER: EntityKey = key(CB, "Customer");
const CB_ORDER: EntityKey = key(CB, "Order");
const PO_CUSTOMERS: EntityKey = key(POGO, "Customers");
const PO_CONTACT: EntityKey = key(POGO, "Contactperson");
const PO_SALESORDERS: EntityKey = key(POGO, "Salesorders");

person_flow!(
    CbCustomerToContactperson,
    cb::Customer,
    po::Contactperson,
    info(
        "Chargebee Customer -> Powerofficego Contactperson",
        CB_CUSTOMER,
        PO_CONTACT,
        CreatePolicy::WhenConnected,
        &[CB_ORDER],
        &[
            prop("email", "emailAddress"),
            prop("first_name", "firstName"),
            prop("last_name", "lastName")
        ]
    ),
    |s| po::Contactperson {
        email_address: s.email.clone(),
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        ..Default::default()
    },
    |t| cb::Customer {
        email: t.email_address.clone(),
        first_name: t.first_name.clone(),
        last_name: t.last_name.clone(),
        ..Default::default()
    }
);

person_flow!(
    CbCustomerToCustomers,
    cb::Customer,
    po::Customers,
    info(
        "Chargebee Customer -> Powerofficego Customers",
        CB_CUSTOMER,
        PO_CUSTOMERS,
        CreatePolicy::WhenConnected,
        &[CB_ORDER],
        &[]
    ),
    |_s| po::Customers::default(),
    |_t| cb::Customer::default()
);

person_flow!(
    CbCustomerToCustomersPerson,
    cb::Customer,
    po::CustomersPerson,
    info(
        "Chargebee Customer -> Powerofficego Customers person",
        CB_CUSTOMER,
        key(POGO, "Customers person"),
        CreatePolicy::Always,
        &[],
        &CB_TO_PERSON
    ),
    |s| po::CustomersPerson {
        email_address: s.email.clone(),
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        ..Default::default()
    },
    |t| cb::Customer {
        email: t.email_address.clone(),
        first_name: t.first_name.clone(),
        last_name: t.last_name.clone(),
        ..Default::default()
    }
);

person_flow!(
    CbItemToProduct,
    cb::Item,
    po::Product,
    info(
        "Chargebee Item -> Powerofficego Product",
        key(CB, "Item"),
        key(POGO, "Product"),
        CreatePolicy::Always,
        &[],
        &[]
    ),
    |_s| po::Product::default(),
    |_t| cb::Item::default()
);

person_flow!(
    ContactpersonToCbCustomer,
    po::Contactperson,
    cb::Customer,
    info(
        "Powerofficego Contactperson -> Chargebee Customer",
        PO_CONTACT,
        CB_CUSTOMER,
        CreatePolicy::Always,
        &[],
        &[
            prop("emailAddress", "email"),
            prop("firstName", "first_name"),
            prop("lastName", "last_name")
        ]
    ),
    |s| cb::Customer {
        email: s.email_address.clone(),
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        ..Default::default()
    },
    |t| po::Contactperson {
        email_address: t.email.clone(),
        first_name: t.first_name.clone(),
        last_name: t.last_name.clone(),
        ..Default::default()
    }
);

person_flow!(
    CustomersToCbCustomer,
    po::Customers,
    cb::Customer,
    info(
        "Powerofficego Customers -> Chargebee Customer",
        PO_CUSTOMERS,
        CB_CUSTOMER,
        CreatePolicy::WhenConnected,
        &[PO_SALESORDERS, key(POGO, "Salesorderlines")],
        &[]
    ),
    |_s| cb::Customer::default(),
    |_t| po::Customers::default()
);

person_flow!(
    CustomersToBusinessEntity,
    po::Customers,
    cb::BusinessEntity,
    info(
        "Powerofficego Customers -> Chargebee Business_entity",
        PO_CUSTOMERS,
        key(CB, "Business_entity"),
        CreatePolicy::Always,
        &[],
        &[prop("Name", "name")]
    ),
    |s| cb::BusinessEntity {
        name: s.name.clone(),
        ..Default::default()
    },
    |t| po::Customers {
        name: t.name.clone(),
        ..Default::default()
    }
);

person_flow!(
    DepartmentsToBusinessEntity,
    po::Departments,
    cb::BusinessEntity,
    info(
        "Powerofficego Departments -> Chargebee Business_entity",
        key(POGO, "Departments"),
        key(CB, "Business_entity"),
        CreatePolicy::Always,
        &[],
        &[prop("Name", "name")]
    ),
    |s| cb::BusinessEntity {
        name: s.name.clone(),
        ..Default::default()
    },
    |t| po::Departments {
        name: t.name.clone(),
        ..Default::default()
    }
);

person_flow!(
    EmployeesToCbCustomer,
    po::Employees,
    cb::Customer,
    info(
        "Powerofficego Employees -> Chargebee Customer",
        key(POGO, "Employees"),
        CB_CUSTOMER,
        CreatePolicy::Always,
        &[],
        &PERSON_TO_CB
    ),
    |s| cb::Customer {
        email: s.email_address.clone(),
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        ..Default::default()
    },
    |t| po::Employees {
        email_address: t.email.clone(),
        first_name: t.first_name.clone(),
        last_name: t.last_name.clone(),
        ..Default::default()
    }
);

person_flow!(
    SalesorderlinesToCbOrder,
    po::Salesorderlines,
    cb::Order,
    info(
        "Powerofficego Salesorderlines -> Chargebee Order",
        key(POGO, "Salesorderlines"),
        CB_ORDER,
        CreatePolicy::Always,
        &[],
        &[
            prop("ProductUnitPrice", "order_line_items.unit_price"),
            prop("Quantity", "order_line_items.amount"),
            prop("VatRate", "order_line_items.tax_amount")
        ]
    ),
    |s| cb::Order {
        order_line_items: vec![cb::OrderLineItem {
            unit_price: s.product_unit_price.clone(),
            amount: s.quantity.clone(),
            tax_amount: s.vat_rate.clone(),
        }],
        ..Default::default()
    },
    |t| {
        let line = t.order_line_items.first().cloned().unwrap_or_default();
        po::Salesorderlines {
            product_unit_price: line.unit_price,
            quantity: line.amount,
            vat_rate: line.tax_amount,
            ..Default::default()
        }
    }
);

person_flow!(
    CustomersPersonToCbCustomer,
    po::CustomersPerson,
    cb::Customer,
    info(
        "Powerofficego Customers person -> Chargebee Customer",
        key(POGO, "Customers person"),
        CB_CUSTOMER,
        CreatePolicy::Always,
        &[],
        &PERSON_TO_CB
    ),
    |s| cb::Customer {
        email: s.email_address.clone(),
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        ..Default::default()
    },
    |t| po::CustomersPerson {
        email_address: t.email.clone(),
        first_name: t.first_name.clone(),
        last_name: t.last_name.clone(),
        ..Default::default()
    }
);

person_flow!(
    ProductToCbItem,
    po::Product,
    cb::Item,
    info(
        "Powerofficego Product -> Chargebee Item",
        key(POGO, "Product"),
        key(CB, "Item"),
        CreatePolicy::Always,
        &[],
        &[prop("name", "name")]
    ),
    |s| cb::Item {
        name: s.name.clone(),
        ..Default::default()
    },
    |t| po::Product {
        name: t.name.clone(),
        ..Default::default()
    }
);

fn translate<E, F>(
    links: &dyn Links,
    property: &'static str,
    from: EntityKey,
    r: &Option<Ref<E>>,
    to: EntityKey,
) -> Result<Option<Ref<F>>, MapError> {
    match r {
        None => Ok(None),
        Some(r) => match links.linked(from, r.id(), to) {
            Some(id) => Ok(Some(Ref::new(id))),
            None => Err(MapError::Unlinked {
                property,
                from,
                id: r.id().clone(),
                to,
            }),
        },
    }
}

const ORDER_PROPS: [PropertyInfo; 3] = [
    prop("currency_code", "CurrencyCode"),
    PropertyInfo {
        source_reference: Some(CB_CUSTOMER),
        target_reference: Some(PO_CUSTOMERS),
        ty: Some("integer"),
        ..prop("customer_id", "CustomerId")
    },
    PropertyInfo {
        source_reference: Some(CB_CUSTOMER),
        target_reference: Some(PO_CONTACT),
        ty: Some("integer"),
        ..prop("customer_id", "CustomerReferenceContactPersonId")
    },
];

/// Chargebee Order → Powerofficego Salesorders: `customer_id` becomes both `CustomerId` and
/// `CustomerReferenceContactPersonId`, each through its own link.
#[derive(Debug, Clone, Copy, Default)]
pub struct CbOrderToSalesorders;
impl Flow for CbOrderToSalesorders {
    type Source = cb::Order;
    type Target = po::Salesorders;
    fn info(&self) -> &'static FlowInfo {
        static INFO: FlowInfo = info(
            "Chargebee Order -> Powerofficego Salesorders",
            CB_ORDER,
            PO_SALESORDERS,
            CreatePolicy::Always,
            &[],
            &ORDER_PROPS,
        );
        &INFO
    }
    fn forward(&self, s: &cb::Order, links: &dyn Links) -> Result<po::Salesorders, MapError> {
        Ok(po::Salesorders {
            currency_code: s.currency_code.clone(),
            customer_id: translate(
                links,
                "CustomerId",
                CB_CUSTOMER,
                &s.customer_id,
                PO_CUSTOMERS,
            )?,
            customer_reference_contact_person_id: translate(
                links,
                "CustomerReferenceContactPersonId",
                CB_CUSTOMER,
                &s.customer_id,
                PO_CONTACT,
            )?,
            ..Default::default()
        })
    }
    fn inverse(&self, t: &po::Salesorders, links: &dyn Links) -> Result<cb::Order, MapError> {
        let first = translate(
            links,
            "customer_id",
            PO_CUSTOMERS,
            &t.customer_id,
            CB_CUSTOMER,
        )?;
        let customer_id = match first {
            Some(r) => Some(r),
            None => translate(
                links,
                "customer_id",
                PO_CONTACT,
                &t.customer_reference_contact_person_id,
                CB_CUSTOMER,
            )?,
        };
        Ok(cb::Order {
            currency_code: t.currency_code.clone(),
            customer_id,
            ..Default::default()
        })
    }
    fn references(&self, s: &cb::Order) -> Vec<Reference> {
        s.customer_id
            .iter()
            .flat_map(|r| {
                [
                    ("CustomerId", PO_CUSTOMERS),
                    ("CustomerReferenceContactPersonId", PO_CONTACT),
                ]
                .map(|(property, to)| Reference {
                    property,
                    from: CB_CUSTOMER,
                    id: r.id().clone(),
                    to,
                })
            })
            .collect()
    }
    fn inverse_references(&self, t: &po::Salesorders) -> Vec<Reference> {
        let mut out = Vec::new();
        if let Some(r) = &t.customer_id {
            out.push(Reference {
                property: "customer_id",
                from: PO_CUSTOMERS,
                id: r.id().clone(),
                to: CB_CUSTOMER,
            });
        }
        if let Some(r) = &t.customer_reference_contact_person_id {
            out.push(Reference {
                property: "customer_id",
                from: PO_CONTACT,
                id: r.id().clone(),
                to: CB_CUSTOMER,
            });
        }
        out
    }
}

const SO_PROPS: [PropertyInfo; 3] = [
    prop("CurrencyCode", "currency_code"),
    PropertyInfo {
        source_reference: Some(PO_CUSTOMERS),
        target_reference: Some(CB_CUSTOMER),
        ..prop("CustomerId", "customer_id")
    },
    PropertyInfo {
        source_reference: Some(PO_CONTACT),
        target_reference: Some(CB_CUSTOMER),
        ..prop("CustomerReferenceContactPersonId", "customer_id")
    },
];

/// Powerofficego Salesorders → Chargebee Order: the two references feed `customer_id`, the
/// first non-empty wins.
#[derive(Debug, Clone, Copy, Default)]
pub struct SalesordersToCbOrder;
impl Flow for SalesordersToCbOrder {
    type Source = po::Salesorders;
    type Target = cb::Order;
    fn info(&self) -> &'static FlowInfo {
        static INFO: FlowInfo = info(
            "Powerofficego Salesorders -> Chargebee Order",
            PO_SALESORDERS,
            CB_ORDER,
            CreatePolicy::Always,
            &[],
            &SO_PROPS,
        );
        &INFO
    }
    fn forward(&self, s: &po::Salesorders, links: &dyn Links) -> Result<cb::Order, MapError> {
        CbOrderToSalesorders.inverse(s, links)
    }
    fn inverse(&self, t: &cb::Order, links: &dyn Links) -> Result<po::Salesorders, MapError> {
        CbOrderToSalesorders.forward(t, links)
    }
    fn references(&self, s: &po::Salesorders) -> Vec<Reference> {
        CbOrderToSalesorders.inverse_references(s)
    }
    fn inverse_references(&self, t: &cb::Order) -> Vec<Reference> {
        CbOrderToSalesorders.references(t)
    }
}

/// The flows of the two documents between Chargebee and Powerofficego.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(CbCustomerToContactperson)
        .register(CbCustomerToCustomers)
        .register(CbCustomerToCustomersPerson)
        .register(CbItemToProduct)
        .register(CbOrderToSalesorders)
        .register(ContactpersonToCbCustomer)
        .register(CustomersToCbCustomer)
        .register(CustomersToBusinessEntity)
        .register(DepartmentsToBusinessEntity)
        .register(EmployeesToCbCustomer)
        .register(SalesorderlinesToCbOrder)
        .register(CustomersPersonToCbCustomer)
        .register(ProductToCbItem)
        .register(SalesordersToCbOrder);
    r
}
