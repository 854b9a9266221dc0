//! The tables the sandbox holds, their fields in each API's own names and types, and how
//! the documents' entity names map onto them.

use serde_json::{Map, Value};

use crate::config::Api;
use crate::rng::is_guid;

/// Every table of every emulated system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TableId {
    CbCustomer,
    CbOrder,
    CbItem,
    CbBusinessEntity,
    PoCustomer,
    PoContactPerson,
    PoEmployee,
    PoDepartment,
    PoProduct,
    PoSalesOrder,
    PoSalesOrderLine,
    WcPerson,
    WcOrganisation,
    WcOpportunity,
    WcQuotationLine,
    WcUser,
    WcProduct,
    CpContact,
    CpCustomer,
    CpEmployee,
    CpQuote,
    CpOrder,
    CpProduct,
    WsCustomer,
    WsOrder,
    WsProduct,
}

impl TableId {
    pub(crate) const ALL: [TableId; 26] = [
        TableId::CbCustomer,
        TableId::CbOrder,
        TableId::CbItem,
        TableId::CbBusinessEntity,
        TableId::PoCustomer,
        TableId::PoContactPerson,
        TableId::PoEmployee,
        TableId::PoDepartment,
        TableId::PoProduct,
        TableId::PoSalesOrder,
        TableId::PoSalesOrderLine,
        TableId::WcPerson,
        TableId::WcOrganisation,
        TableId::WcOpportunity,
        TableId::WcQuotationLine,
        TableId::WcUser,
        TableId::WcProduct,
        TableId::CpContact,
        TableId::CpCustomer,
        TableId::CpEmployee,
        TableId::CpQuote,
        TableId::CpOrder,
        TableId::CpProduct,
        TableId::WsCustomer,
        TableId::WsOrder,
        TableId::WsProduct,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn def(self) -> &'static TableDef {
        // TABLES is listed in TableId order (checked by a unit test), so this is in bounds.
        &TABLES[self.index()]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdKind {
    /// Strings chosen by the client or generated (Chargebee).
    Str,
    /// Integers counted up from `id_start`.
    Int,
    /// GUIDs (PowerOffice Go sales orders and lines).
    Guid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    ReadWrite,
    /// Settable when creating only (Chargebee ids).
    CreateOnly,
    /// Set by the server; ignored in bodies, refused in JSON Patch.
    ReadOnly,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Ty {
    Str,
    Int,
    Num,
    Bool,
    Guid,
    Obj(&'static [Field]),
    Arr(&'static [Field]),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub access: Access,
    pub refers: Option<TableId>,
}

const fn rw(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        access: Access::ReadWrite,
        refers: None,
    }
}
const fn ro(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        access: Access::ReadOnly,
        refers: None,
    }
}
const fn refs(name: &'static str, ty: Ty, table: TableId) -> Field {
    Field {
        name,
        ty,
        access: Access::ReadWrite,
        refers: Some(table),
    }
}
const fn s(name: &'static str) -> Field {
    rw(name, Ty::Str)
}

/// How a table's server-set timestamps look.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stamp {
    /// `created_at`/`updated_at` Unix seconds, `resource_version` ms, `object`, `deleted`.
    Chargebee {
        object: &'static str,
        modified_at: bool,
    },
    /// `CreatedDateTimeOffset`/`LastChangedDateTimeOffset`, ISO 8601 with offset.
    PowerOffice,
    /// `{Prefix}CreatedAt`/`{Prefix}UpdatedAt`, ISO 8601 UTC.
    Webcrm(&'static str),
    /// `created_at`/`updated_at`, RFC 3339 UTC.
    Rest,
}

#[derive(Debug)]
pub(crate) struct TableDef {
    pub id: TableId,
    pub api: Api,
    pub system: &'static str,
    /// The collection name in URLs.
    pub collection: &'static str,
    pub id_field: &'static str,
    pub id_kind: IdKind,
    pub id_start: i64,
    pub fields: &'static [Field],
    pub stamp: Stamp,
    /// Extra fields accepted by name prefix (Chargebee custom fields `cf_*`).
    pub extra_prefix: Option<&'static str>,
    /// JSON names bound case-insensitively (.NET APIs).
    pub case_insensitive: bool,
    /// Unknown fields are refused (generic REST) rather than ignored.
    pub reject_unknown: bool,
    /// Fields absent on create are stored as `null` (all but Chargebee, which omits them).
    pub null_fill: bool,
}

impl TableDef {
    pub(crate) fn field(&self, name: &str) -> Option<&'static Field> {
        find_field(self.fields, name, self.case_insensitive)
    }

    /// The name stats and `records()` use: `system/collection`.
    pub(crate) fn label(&self) -> String {
        format!("{}/{}", self.system, self.collection)
    }
}

pub(crate) fn find_field(
    fields: &'static [Field],
    name: &str,
    case_insensitive: bool,
) -> Option<&'static Field> {
    fields.iter().find(|f| {
        if case_insensitive {
            f.name.eq_ignore_ascii_case(name)
        } else {
            f.name == name
        }
    })
}

// ---------------------------------------------------------------- Chargebee

const CB_ADDRESS: &[Field] = &[
    s("first_name"),
    s("last_name"),
    s("email"),
    s("company"),
    s("phone"),
    s("line1"),
    s("line2"),
    s("city"),
    s("state"),
    s("zip"),
    s("country"),
    ro("object", Ty::Str),
];

const CB_STAMPS: [Field; 5] = [
    ro("created_at", Ty::Int),
    ro("updated_at", Ty::Int),
    ro("resource_version", Ty::Int),
    ro("deleted", Ty::Bool),
    ro("object", Ty::Str),
];

const CB_CUSTOMER: &[Field] = &[
    Field {
        name: "id",
        ty: Ty::Str,
        access: Access::CreateOnly,
        refers: None,
    },
    s("first_name"),
    s("last_name"),
    s("email"),
    s("phone"),
    s("company"),
    s("auto_collection"),
    rw("net_term_days", Ty::Int),
    rw("allow_direct_debit", Ty::Bool),
    s("taxability"),
    s("locale"),
    s("preferred_currency_code"),
    s("business_entity_id"),
    rw("billing_address", Ty::Obj(CB_ADDRESS)),
    ro("card_status", Ty::Str),
    CB_STAMPS[0],
    CB_STAMPS[1],
    CB_STAMPS[2],
    CB_STAMPS[3],
    CB_STAMPS[4],
];

const CB_ORDER_LINE: &[Field] = &[
    s("id"),
    s("invoice_id"),
    s("invoice_line_item_id"),
    rw("unit_price", Ty::Int),
    s("description"),
    rw("amount", Ty::Int),
    rw("fulfillment_quantity", Ty::Int),
    rw("fulfillment_amount", Ty::Int),
    rw("tax_amount", Ty::Int),
    rw("amount_paid", Ty::Int),
    rw("amount_adjusted", Ty::Int),
    rw("refundable_credits_issued", Ty::Int),
    rw("is_shippable", Ty::Bool),
    s("sku"),
    s("status"),
    s("entity_type"),
    s("entity_id"),
    ro("object", Ty::Str),
];

const CB_ORDER: &[Field] = &[
    Field {
        name: "id",
        ty: Ty::Str,
        access: Access::CreateOnly,
        refers: None,
    },
    s("document_number"),
    refs("customer_id", Ty::Str, TableId::CbCustomer),
    s("subscription_id"),
    s("invoice_id"),
    s("status"),
    s("currency_code"),
    s("order_type"),
    s("fulfillment_status"),
    s("reference_id"),
    s("tracking_id"),
    s("batch_id"),
    s("note"),
    s("price_type"),
    rw("order_date", Ty::Int),
    rw("shipping_date", Ty::Int),
    rw("sub_total", Ty::Int),
    rw("tax", Ty::Int),
    rw("amount_paid", Ty::Int),
    rw("total", Ty::Int),
    rw("order_line_items", Ty::Arr(CB_ORDER_LINE)),
    rw("shipping_address", Ty::Obj(CB_ADDRESS)),
    rw("billing_address", Ty::Obj(CB_ADDRESS)),
    CB_STAMPS[0],
    CB_STAMPS[1],
    CB_STAMPS[2],
    CB_STAMPS[3],
    CB_STAMPS[4],
];

const CB_ITEM: &[Field] = &[
    Field {
        name: "id",
        ty: Ty::Str,
        access: Access::CreateOnly,
        refers: None,
    },
    s("name"),
    s("external_name"),
    s("description"),
    s("status"),
    s("type"),
    s("item_family_id"),
    rw("is_shippable", Ty::Bool),
    rw("is_giftable", Ty::Bool),
    rw("enabled_for_checkout", Ty::Bool),
    rw("enabled_in_portal", Ty::Bool),
    rw("metered", Ty::Bool),
    s("unit"),
    s("item_applicability"),
    s("channel"),
    CB_STAMPS[0],
    CB_STAMPS[1],
    CB_STAMPS[2],
    CB_STAMPS[3],
    CB_STAMPS[4],
];

const CB_BUSINESS_ENTITY: &[Field] = &[
    Field {
        name: "id",
        ty: Ty::Str,
        access: Access::CreateOnly,
        refers: None,
    },
    s("name"),
    s("status"),
    ro("modified_at", Ty::Int),
    CB_STAMPS[0],
    CB_STAMPS[1],
    CB_STAMPS[2],
    CB_STAMPS[3],
    CB_STAMPS[4],
];

// ---------------------------------------------------------------- PowerOffice Go

const PO_ADDRESS: &[Field] = &[
    s("AddressLine1"),
    s("AddressLine2"),
    s("City"),
    s("ZipCode"),
    s("CountryCode"),
];

const PO_STAMPS: [Field; 2] = [
    ro("CreatedDateTimeOffset", Ty::Str),
    ro("LastChangedDateTimeOffset", Ty::Str),
];

const PO_CUSTOMER: &[Field] = &[
    ro("Id", Ty::Int),
    rw("Number", Ty::Int),
    s("Name"),
    s("FirstName"),
    s("LastName"),
    rw("IsPerson", Ty::Bool),
    s("EmailAddress"),
    s("InvoiceEmailAddress"),
    s("PhoneNumber"),
    s("OrganizationNumber"),
    s("CurrencyCode"),
    rw("IsArchived", Ty::Bool),
    rw("MailAddress", Ty::Obj(PO_ADDRESS)),
    s("ExternalImportReference"),
    PO_STAMPS[0],
    PO_STAMPS[1],
];

const PO_CONTACT_PERSON: &[Field] = &[
    ro("Id", Ty::Int),
    refs("ContactId", Ty::Int, TableId::PoCustomer),
    s("FirstName"),
    s("LastName"),
    s("EmailAddress"),
    s("PhoneNumber"),
    s("Title"),
    rw("IsActive", Ty::Bool),
    s("ExternalImportReference"),
    PO_STAMPS[0],
    PO_STAMPS[1],
];

const PO_EMPLOYEE: &[Field] = &[
    ro("Id", Ty::Int),
    rw("Number", Ty::Int),
    s("FirstName"),
    s("LastName"),
    s("EmailAddress"),
    s("PhoneNumber"),
    s("JobTitle"),
    refs("DepartmentId", Ty::Int, TableId::PoDepartment),
    s("DateOfBirth"),
    rw("IsArchived", Ty::Bool),
    s("ExternalImportReference"),
    PO_STAMPS[0],
    PO_STAMPS[1],
];

const PO_DEPARTMENT: &[Field] = &[
    ro("Id", Ty::Int),
    s("Code"),
    s("Name"),
    rw("IsActive", Ty::Bool),
    rw("ManagerEmployeeId", Ty::Int),
    s("ExternalImportReference"),
    PO_STAMPS[0],
    PO_STAMPS[1],
];

const PO_PRODUCT: &[Field] = &[
    ro("Id", Ty::Int),
    s("Code"),
    s("Name"),
    s("Description"),
    rw("SalesPrice", Ty::Num),
    rw("CostPrice", Ty::Num),
    s("Unit"),
    s("ProductType"),
    rw("IsActive", Ty::Bool),
    ro("VatRate", Ty::Num),
    s("ExternalImportReference"),
    PO_STAMPS[0],
    PO_STAMPS[1],
];

const PO_SALES_ORDER: &[Field] = &[
    ro("Id", Ty::Guid),
    ro("OrderNo", Ty::Int),
    refs("CustomerId", Ty::Int, TableId::PoCustomer),
    refs(
        "CustomerReferenceContactPersonId",
        Ty::Int,
        TableId::PoContactPerson,
    ),
    refs("OurReferenceEmployeeId", Ty::Int, TableId::PoEmployee),
    refs("DepartmentId", Ty::Int, TableId::PoDepartment),
    s("CurrencyCode"),
    s("OrderDate"),
    s("SalesOrderStatus"),
    s("CustomerReference"),
    s("ExternalImportReference"),
    PO_STAMPS[0],
    PO_STAMPS[1],
];

const PO_SALES_ORDER_LINE: &[Field] = &[
    ro("Id", Ty::Guid),
    ro("SalesOrderId", Ty::Guid),
    refs("ProductId", Ty::Int, TableId::PoProduct),
    s("ProductCode"),
    s("Description"),
    rw("Quantity", Ty::Num),
    rw("ProductUnitPrice", Ty::Num),
    rw("DiscountPercent", Ty::Num),
    rw("SortOrder", Ty::Int),
    ro("VatRate", Ty::Num),
    s("ExternalImportReference"),
    PO_STAMPS[0],
    PO_STAMPS[1],
];

// ---------------------------------------------------------------- WebCRM

const WC_PERSON: &[Field] = &[
    ro("PersonId", Ty::Int),
    refs("PersonOrganisationId", Ty::Int, TableId::WcOrganisation),
    s("PersonFirstName"),
    s("PersonLastName"),
    s("PersonName"),
    s("PersonEmail"),
    s("PersonDirectPhone"),
    s("PersonMobilePhone"),
    s("PersonTitle"),
    s("PersonStatus"),
    ro("PersonCreatedAt", Ty::Str),
    ro("PersonUpdatedAt", Ty::Str),
];

const WC_ORGANISATION: &[Field] = &[
    ro("OrganisationId", Ty::Int),
    s("OrganisationName"),
    s("OrganisationVatNumber"),
    s("OrganisationAddress"),
    s("OrganisationPostCode"),
    s("OrganisationCity"),
    s("OrganisationCountry"),
    s("OrganisationTelephone"),
    s("OrganisationWww"),
    s("OrganisationStatus"),
    s("OrganisationType"),
    ro("OrganisationCreatedAt", Ty::Str),
    ro("OrganisationUpdatedAt", Ty::Str),
];

const WC_OPPORTUNITY: &[Field] = &[
    ro("OpportunityId", Ty::Int),
    rw("OpportunityNumber", Ty::Int),
    s("OpportunityDescription"),
    refs(
        "OpportunityOrganisationId",
        Ty::Int,
        TableId::WcOrganisation,
    ),
    refs("OpportunityPersonId", Ty::Int, TableId::WcPerson),
    refs("OpportunityResponsible", Ty::Int, TableId::WcUser),
    s("OpportunityCurrencyName"),
    rw("OpportunityOrderValue", Ty::Num),
    rw("OpportunityLevel", Ty::Int),
    s("OpportunityOrderDate"),
    s("OpportunityStatus"),
    ro("OpportunityCreatedAt", Ty::Str),
    ro("OpportunityUpdatedAt", Ty::Str),
];

const WC_QUOTATION_LINE: &[Field] = &[
    ro("QuotationLineId", Ty::Int),
    refs(
        "QuotationLineOpportunityId",
        Ty::Int,
        TableId::WcOpportunity,
    ),
    refs("QuotationLineProductId", Ty::Int, TableId::WcProduct),
    s("QuotationLineItemCode"),
    s("QuotationLineDescription"),
    rw("QuotationLinePrice", Ty::Num),
    rw("QuotationLineQuantity", Ty::Num),
    rw("QuotationLineDiscount", Ty::Num),
    rw("QuotationLineSortOrder", Ty::Int),
    ro("QuotationLineCreatedAt", Ty::Str),
    ro("QuotationLineUpdatedAt", Ty::Str),
];

const WC_USER: &[Field] = &[
    ro("UserId", Ty::Int),
    s("UserName"),
    s("UserFirstName"),
    s("UserLastName"),
    s("UserEmail"),
    s("UserInitials"),
    s("UserPhone"),
    s("UserTitle"),
    s("UserStatus"),
    ro("UserCreatedAt", Ty::Str),
    ro("UserUpdatedAt", Ty::Str),
];

const WC_PRODUCT: &[Field] = &[
    ro("ProductId", Ty::Int),
    s("ProductName"),
    s("ProductItemCode"),
    s("ProductDescription"),
    rw("ProductPrice", Ty::Num),
    s("ProductCurrency"),
    s("ProductStatus"),
    ro("ProductCreatedAt", Ty::Str),
    ro("ProductUpdatedAt", Ty::Str),
];

// ---------------------------------------------------------------- generic REST

const REST_STAMPS: [Field; 3] = [
    ro("id", Ty::Int),
    ro("created_at", Ty::Str),
    ro("updated_at", Ty::Str),
];

const CP_CONTACT: &[Field] = &[
    REST_STAMPS[0],
    s("first_name"),
    s("last_name"),
    s("email"),
    s("phone"),
    s("title"),
    refs("customer_id", Ty::Int, TableId::CpCustomer),
    s("external_ref"),
    REST_STAMPS[1],
    REST_STAMPS[2],
];

const CP_CUSTOMER: &[Field] = &[
    REST_STAMPS[0],
    s("name"),
    s("organization_number"),
    s("email"),
    s("phone"),
    s("address_line"),
    s("postal_code"),
    s("city"),
    s("country"),
    s("external_ref"),
    REST_STAMPS[1],
    REST_STAMPS[2],
];

const CP_EMPLOYEE: &[Field] = &[
    REST_STAMPS[0],
    s("first_name"),
    s("last_name"),
    s("email"),
    s("phone"),
    s("department"),
    s("job_title"),
    s("external_ref"),
    REST_STAMPS[1],
    REST_STAMPS[2],
];

const CP_LINE: &[Field] = &[
    refs("product_id", Ty::Int, TableId::CpProduct),
    s("description"),
    rw("quantity", Ty::Num),
    rw("unit_price", Ty::Num),
];

const CP_QUOTE: &[Field] = &[
    REST_STAMPS[0],
    s("number"),
    refs("customer_id", Ty::Int, TableId::CpCustomer),
    refs("contact_id", Ty::Int, TableId::CpContact),
    s("currency"),
    s("status"),
    s("valid_until"),
    rw("total", Ty::Num),
    rw("lines", Ty::Arr(CP_LINE)),
    s("external_ref"),
    REST_STAMPS[1],
    REST_STAMPS[2],
];

const CP_ORDER: &[Field] = &[
    REST_STAMPS[0],
    s("number"),
    refs("customer_id", Ty::Int, TableId::CpCustomer),
    refs("contact_id", Ty::Int, TableId::CpContact),
    s("currency"),
    s("status"),
    s("order_date"),
    rw("total", Ty::Num),
    rw("lines", Ty::Arr(CP_LINE)),
    s("external_ref"),
    REST_STAMPS[1],
    REST_STAMPS[2],
];

const CP_PRODUCT: &[Field] = &[
    REST_STAMPS[0],
    s("sku"),
    s("name"),
    s("description"),
    rw("price", Ty::Num),
    s("currency"),
    rw("active", Ty::Bool),
    s("external_ref"),
    REST_STAMPS[1],
    REST_STAMPS[2],
];

const WS_CUSTOMER: &[Field] = &[
    REST_STAMPS[0],
    s("first_name"),
    s("last_name"),
    s("email"),
    s("phone"),
    s("company_name"),
    s("city"),
    s("country"),
    s("external_ref"),
    REST_STAMPS[1],
    REST_STAMPS[2],
];

const WS_LINE: &[Field] = &[
    refs("product_id", Ty::Int, TableId::WsProduct),
    s("sku"),
    rw("quantity", Ty::Int),
    rw("unit_price", Ty::Num),
];

const WS_ORDER: &[Field] = &[
    REST_STAMPS[0],
    s("number"),
    refs("customer_id", Ty::Int, TableId::WsCustomer),
    s("currency"),
    s("status"),
    s("placed_at"),
    rw("total", Ty::Num),
    rw("lines", Ty::Arr(WS_LINE)),
    s("external_ref"),
    REST_STAMPS[1],
    REST_STAMPS[2],
];

const WS_PRODUCT: &[Field] = &[
    REST_STAMPS[0],
    s("sku"),
    s("name"),
    s("description"),
    rw("price", Ty::Num),
    s("currency"),
    rw("stock", Ty::Int),
    rw("active", Ty::Bool),
    s("external_ref"),
    REST_STAMPS[1],
    REST_STAMPS[2],
];

// ---------------------------------------------------------------- the table list

const fn chargebee(
    id: TableId,
    collection: &'static str,
    object: &'static str,
    fields: &'static [Field],
) -> TableDef {
    TableDef {
        id,
        api: Api::Chargebee,
        system: "chargebee",
        collection,
        id_field: "id",
        id_kind: IdKind::Str,
        id_start: 1,
        fields,
        stamp: Stamp::Chargebee {
            object,
            modified_at: matches!(id, TableId::CbBusinessEntity),
        },
        extra_prefix: Some("cf_"),
        case_insensitive: false,
        reject_unknown: false,
        null_fill: false,
    }
}

const fn poweroffice(
    id: TableId,
    collection: &'static str,
    id_kind: IdKind,
    id_start: i64,
    fields: &'static [Field],
) -> TableDef {
    TableDef {
        id,
        api: Api::PowerOffice,
        system: "powerofficego",
        collection,
        id_field: "Id",
        id_kind,
        id_start,
        fields,
        stamp: Stamp::PowerOffice,
        extra_prefix: None,
        case_insensitive: true,
        reject_unknown: false,
        null_fill: true,
    }
}

const fn webcrm(
    id: TableId,
    collection: &'static str,
    prefix: &'static str,
    id_field: &'static str,
    fields: &'static [Field],
) -> TableDef {
    TableDef {
        id,
        api: Api::Webcrm,
        system: "webcrm",
        collection,
        id_field,
        id_kind: IdKind::Int,
        id_start: 1,
        fields,
        stamp: Stamp::Webcrm(prefix),
        extra_prefix: None,
        case_insensitive: true,
        reject_unknown: false,
        null_fill: true,
    }
}

const fn rest(
    id: TableId,
    system: &'static str,
    collection: &'static str,
    fields: &'static [Field],
) -> TableDef {
    TableDef {
        id,
        api: Api::Rest,
        system,
        collection,
        id_field: "id",
        id_kind: IdKind::Int,
        id_start: 1,
        fields,
        stamp: Stamp::Rest,
        extra_prefix: None,
        case_insensitive: false,
        reject_unknown: true,
        null_fill: true,
    }
}

pub(crate) static TABLES: [TableDef; 26] = [
    chargebee(TableId::CbCustomer, "customers", "customer", CB_CUSTOMER),
    chargebee(TableId::CbOrder, "orders", "order", CB_ORDER),
    chargebee(TableId::CbItem, "items", "item", CB_ITEM),
    chargebee(
        TableId::CbBusinessEntity,
        "business_entities",
        "business_entity",
        CB_BUSINESS_ENTITY,
    ),
    poweroffice(
        TableId::PoCustomer,
        "Customers",
        IdKind::Int,
        1_000_001,
        PO_CUSTOMER,
    ),
    poweroffice(
        TableId::PoContactPerson,
        "ContactPersons",
        IdKind::Int,
        2_000_001,
        PO_CONTACT_PERSON,
    ),
    poweroffice(
        TableId::PoEmployee,
        "Employees",
        IdKind::Int,
        3_000_001,
        PO_EMPLOYEE,
    ),
    poweroffice(
        TableId::PoDepartment,
        "Departments",
        IdKind::Int,
        4_000_001,
        PO_DEPARTMENT,
    ),
    poweroffice(
        TableId::PoProduct,
        "Products",
        IdKind::Int,
        5_000_001,
        PO_PRODUCT,
    ),
    poweroffice(
        TableId::PoSalesOrder,
        "SalesOrders",
        IdKind::Guid,
        1,
        PO_SALES_ORDER,
    ),
    poweroffice(
        TableId::PoSalesOrderLine,
        "SalesOrderLines",
        IdKind::Guid,
        1,
        PO_SALES_ORDER_LINE,
    ),
    webcrm(
        TableId::WcPerson,
        "Persons",
        "Person",
        "PersonId",
        WC_PERSON,
    ),
    webcrm(
        TableId::WcOrganisation,
        "Organisations",
        "Organisation",
        "OrganisationId",
        WC_ORGANISATION,
    ),
    webcrm(
        TableId::WcOpportunity,
        "Opportunities",
        "Opportunity",
        "OpportunityId",
        WC_OPPORTUNITY,
    ),
    webcrm(
        TableId::WcQuotationLine,
        "QuotationLines",
        "QuotationLine",
        "QuotationLineId",
        WC_QUOTATION_LINE,
    ),
    webcrm(TableId::WcUser, "Users", "User", "UserId", WC_USER),
    webcrm(
        TableId::WcProduct,
        "Products",
        "Product",
        "ProductId",
        WC_PRODUCT,
    ),
    rest(TableId::CpContact, "customerp", "contacts", CP_CONTACT),
    rest(TableId::CpCustomer, "customerp", "customers", CP_CUSTOMER),
    rest(TableId::CpEmployee, "customerp", "employees", CP_EMPLOYEE),
    rest(TableId::CpQuote, "customerp", "quotes", CP_QUOTE),
    rest(TableId::CpOrder, "customerp", "orders", CP_ORDER),
    rest(TableId::CpProduct, "customerp", "products", CP_PRODUCT),
    rest(
        TableId::WsCustomer,
        "customwebshop",
        "customers",
        WS_CUSTOMER,
    ),
    rest(TableId::WsOrder, "customwebshop", "orders", WS_ORDER),
    rest(TableId::WsProduct, "customwebshop", "products", WS_PRODUCT),
];

/// The generic REST systems the sandbox serves.
pub(crate) const REST_SYSTEMS: [&str; 2] = ["customerp", "customwebshop"];

/// A document entity: a table, maybe narrowed by one field's value
/// (PowerOffice Go `Customers` vs `Customers person` share `/Customers`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EntityRef {
    pub table: TableId,
    pub filter: Option<(&'static str, bool)>,
}

impl EntityRef {
    pub(crate) fn matches(&self, data: &Map<String, Value>) -> bool {
        match self.filter {
            None => true,
            Some((field, want)) => {
                data.get(field).and_then(Value::as_bool).unwrap_or(false) == want
            }
        }
    }
}

fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace([' ', '-'], "_")
}

/// Resolves a system and an entity, by the documents' names (`powerofficego`,
/// `Customers person`) or by collection names (`ContactPersons`, `business_entities`).
pub(crate) fn resolve(system: &str, entity: &str) -> Option<EntityRef> {
    let system = match normalize(system).as_str() {
        "chargebee" => "chargebee",
        "powerofficego" | "poweroffice" | "poweroffice_go" => "powerofficego",
        "webcrm" => "webcrm",
        "customerp" => "customerp",
        "customwebshop" => "customwebshop",
        _ => return None,
    };
    let entity = normalize(entity);
    let table = |t: TableId| {
        Some(EntityRef {
            table: t,
            filter: None,
        })
    };
    match (system, entity.as_str()) {
        ("chargebee", "customer" | "customers") => table(TableId::CbCustomer),
        ("chargebee", "order" | "orders") => table(TableId::CbOrder),
        ("chargebee", "item" | "items") => table(TableId::CbItem),
        ("chargebee", "business_entity" | "business_entities") => table(TableId::CbBusinessEntity),
        ("powerofficego", "customers" | "customer") => Some(EntityRef {
            table: TableId::PoCustomer,
            filter: Some(("IsPerson", false)),
        }),
        ("powerofficego", "customers_person" | "customer_person") => Some(EntityRef {
            table: TableId::PoCustomer,
            filter: Some(("IsPerson", true)),
        }),
        ("powerofficego", "all_customers") => table(TableId::PoCustomer),
        ("powerofficego", "contactperson" | "contactpersons" | "contact_person") => {
            table(TableId::PoContactPerson)
        }
        ("powerofficego", "employees" | "employee") => table(TableId::PoEmployee),
        ("powerofficego", "departments" | "department") => table(TableId::PoDepartment),
        ("powerofficego", "product" | "products") => table(TableId::PoProduct),
        ("powerofficego", "salesorders" | "salesorder" | "sales_orders") => {
            table(TableId::PoSalesOrder)
        }
        ("powerofficego", "salesorderlines" | "salesorderline" | "sales_order_lines" | "lines") => {
            table(TableId::PoSalesOrderLine)
        }
        ("webcrm", "persons" | "person") => table(TableId::WcPerson),
        ("webcrm", "organisations" | "organisation") => table(TableId::WcOrganisation),
        ("webcrm", "opportunities" | "opportunity") => table(TableId::WcOpportunity),
        ("webcrm", "quotationline" | "quotationlines" | "quotation_line" | "quotation_lines") => {
            table(TableId::WcQuotationLine)
        }
        ("webcrm", "users" | "user") => table(TableId::WcUser),
        ("webcrm", "products" | "product") => table(TableId::WcProduct),
        ("customerp", "contact" | "contacts") => table(TableId::CpContact),
        ("customerp", "customer" | "customers") => table(TableId::CpCustomer),
        ("customerp", "employee" | "employees") => table(TableId::CpEmployee),
        ("customerp", "quote" | "quotes") => table(TableId::CpQuote),
        ("customerp", "order" | "orders") => table(TableId::CpOrder),
        ("customerp", "product" | "products") => table(TableId::CpProduct),
        ("customwebshop", "customer" | "customers") => table(TableId::WsCustomer),
        ("customwebshop", "order" | "orders") => table(TableId::WsOrder),
        ("customwebshop", "product" | "products") => table(TableId::WsProduct),
        _ => None,
    }
}

/// The generic REST table of `system/collection`.
pub(crate) fn rest_table(system: &str, collection: &str) -> Option<TableId> {
    TABLES
        .iter()
        .find(|t| t.api == Api::Rest && t.system == system && t.collection == collection)
        .map(|t| t.id)
}

// ---------------------------------------------------------------- writing bodies into rows

/// A problem with one field of a request body.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FieldError {
    /// Where, as `name`, `billing_address[city]`-like or JSON-pointer-like per API.
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteMode {
    Create,
    /// Merge the given fields into the row.
    Update,
}

/// Writes the JSON `input` into `row` according to `fields`: names are bound per the
/// table's case rule and stored under the schema's spelling, values are type-checked,
/// read-only fields are ignored, unknown ones ignored or refused.
pub(crate) fn write_json(
    def: &TableDef,
    fields: &'static [Field],
    input: &Map<String, Value>,
    row: &mut Map<String, Value>,
    mode: WriteMode,
    path: &str,
) -> Result<(), FieldError> {
    for (name, value) in input {
        let at = join_path(path, name);
        let Some(field) = find_field(fields, name, def.case_insensitive) else {
            if let Some(prefix) = def.extra_prefix
                && name.starts_with(prefix)
            {
                if value.is_object() || value.is_array() {
                    return Err(FieldError::new(at, "custom fields hold plain values"));
                }
                row.insert(name.clone(), value.clone());
                continue;
            }
            if def.reject_unknown {
                return Err(FieldError::new(at, format!("unknown field `{name}`")));
            }
            continue;
        };
        match field.access {
            Access::ReadOnly => continue,
            Access::CreateOnly if mode == WriteMode::Update => continue,
            _ => {}
        }
        let stored = coerce_json(def, field, value, row.get(field.name), mode, &at)?;
        row.insert(field.name.to_string(), stored);
    }
    Ok(())
}

fn join_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn coerce_json(
    def: &TableDef,
    field: &Field,
    value: &Value,
    existing: Option<&Value>,
    mode: WriteMode,
    at: &str,
) -> Result<Value, FieldError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let wrong = |what: &str| FieldError::new(at, format!("expected {what}, got {}", kind(value)));
    match field.ty {
        Ty::Str => value
            .as_str()
            .map(|_| value.clone())
            .ok_or_else(|| wrong("a string")),
        Ty::Int => value
            .as_i64()
            .map(Value::from)
            .ok_or_else(|| wrong("an integer")),
        Ty::Num => value
            .as_f64()
            .map(|_| value.clone())
            .ok_or_else(|| wrong("a number")),
        Ty::Bool => value
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| wrong("true or false")),
        Ty::Guid => match value.as_str() {
            Some(s) if is_guid(s) => Ok(Value::String(s.to_ascii_lowercase())),
            _ => Err(wrong("a GUID")),
        },
        Ty::Obj(sub) => {
            let input = value.as_object().ok_or_else(|| wrong("an object"))?;
            let mut obj = match (mode, existing) {
                (WriteMode::Update, Some(Value::Object(old))) => old.clone(),
                _ => Map::new(),
            };
            write_json(def, sub, input, &mut obj, WriteMode::Create, at)?;
            Ok(Value::Object(obj))
        }
        Ty::Arr(sub) => {
            let items = value.as_array().ok_or_else(|| wrong("an array"))?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let at = format!("{at}[{i}]");
                let input = item.as_object().ok_or_else(|| {
                    FieldError::new(&at, format!("expected an object, got {}", kind(item)))
                })?;
                let mut obj = Map::new();
                write_json(def, sub, input, &mut obj, WriteMode::Create, &at)?;
                out.push(Value::Object(obj));
            }
            Ok(Value::Array(out))
        }
    }
}

pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Fills every schema field absent from `row` with `null` (APIs that always return all
/// properties).
pub(crate) fn fill_nulls(fields: &'static [Field], row: &mut Map<String, Value>) {
    for f in fields {
        row.entry(f.name.to_string()).or_insert(Value::Null);
    }
}

/// The references `row` makes: `(path, table, key)` for each non-null referencing field,
/// at the top level and inside arrays of objects.
pub(crate) fn references(
    fields: &'static [Field],
    row: &Map<String, Value>,
) -> Vec<(String, TableId, String)> {
    let mut out = Vec::new();
    for f in fields {
        let Some(value) = row.get(f.name) else {
            continue;
        };
        if let Some(table) = f.refers
            && let Some(key) = key_of(value)
        {
            out.push((f.name.to_string(), table, key));
        }
        if let (Ty::Arr(sub), Value::Array(items)) = (f.ty, value) {
            for (i, item) in items.iter().enumerate() {
                if let Value::Object(obj) = item {
                    for (path, table, key) in references(sub, obj) {
                        out.push((format!("{}[{i}].{path}", f.name), table, key));
                    }
                }
            }
        }
    }
    out
}

/// A row key from an id value: strings as they are, integers in decimal.
pub(crate) fn key_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => n.as_i64().map(|i| i.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tables_are_listed_in_id_order() {
        for (i, t) in TABLES.iter().enumerate() {
            assert_eq!(t.id.index(), i, "{:?}", t.id);
        }
        for id in TableId::ALL {
            assert_eq!(id.def().id, id);
        }
    }

    #[test]
    fn document_names_resolve() {
        let p = resolve("Powerofficego", "Customers person").unwrap();
        assert_eq!(p.table, TableId::PoCustomer);
        assert_eq!(p.filter, Some(("IsPerson", true)));
        assert_eq!(
            resolve("chargebee", "Business_entity").unwrap().table,
            TableId::CbBusinessEntity
        );
        assert_eq!(
            resolve("webcrm", "Quotationline").unwrap().table,
            TableId::WcQuotationLine
        );
        assert_eq!(
            resolve("customerp", "Quote").unwrap().table,
            TableId::CpQuote
        );
        assert!(resolve("nosuch", "Customer").is_none());
        assert!(resolve("chargebee", "Invoice").is_none());
    }

    #[test]
    fn json_names_bind_case_insensitively_and_types_are_checked() {
        let def = TableId::PoContactPerson.def();
        let mut row = Map::new();
        let input = json!({"emailAddress": "a@b.no", "firstName": "Kari", "Id": 9, "Bogus": 1});
        write_json(
            def,
            def.fields,
            input.as_object().unwrap(),
            &mut row,
            WriteMode::Create,
            "",
        )
        .unwrap();
        assert_eq!(row.get("EmailAddress"), Some(&json!("a@b.no")));
        assert_eq!(row.get("FirstName"), Some(&json!("Kari")));
        assert!(!row.contains_key("Id"), "read-only fields are ignored");
        assert!(!row.contains_key("Bogus"));
        let bad = json!({"ContactId": "12"});
        let err = write_json(
            def,
            def.fields,
            bad.as_object().unwrap(),
            &mut row,
            WriteMode::Update,
            "",
        )
        .unwrap_err();
        assert_eq!(err.path, "ContactId");
    }

    #[test]
    fn rest_refuses_unknown_fields_and_finds_nested_references() {
        let def = TableId::CpOrder.def();
        let mut row = Map::new();
        let bad = json!({"colour": "red"});
        assert!(
            write_json(
                def,
                def.fields,
                bad.as_object().unwrap(),
                &mut row,
                WriteMode::Create,
                ""
            )
            .is_err()
        );
        let good = json!({"customer_id": 3, "lines": [{"product_id": 7, "quantity": 2}]});
        write_json(
            def,
            def.fields,
            good.as_object().unwrap(),
            &mut row,
            WriteMode::Create,
            "",
        )
        .unwrap();
        let refs = references(def.fields, &row);
        assert!(refs.contains(&("customer_id".into(), TableId::CpCustomer, "3".into())));
        assert!(refs.contains(&("lines[0].product_id".into(), TableId::CpProduct, "7".into())));
    }
}
