//! The seeded dataset: Norwegian and English people and companies, products, and orders
//! whose references (customers, contact persons, products, employees) all resolve. The
//! same seed, epoch and counts always give the same rows and ids.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};

use crate::SandboxError;
use crate::config::SandboxConfig;
use crate::rng::{SplitMix64, mix};
use crate::schema::{TableId, resolve};
use crate::store::{Origin, Store, iso_z};

const FIRST_NAMES: &[&str] = &[
    "Ola",
    "Kari",
    "Nora",
    "Jakob",
    "Emma",
    "Lukas",
    "Ingrid",
    "Henrik",
    "Sofie",
    "Magnus",
    "Thea",
    "Sander",
    "Ida",
    "Emil",
    "Maja",
    "Oliver",
    "Aksel",
    "Sigrid",
    "Jonas",
    "Astrid",
    "Olivia",
    "James",
    "Emily",
    "William",
    "Charlotte",
    "Harry",
    "Amelia",
    "George",
    "Isla",
    "Jack",
    "Grace",
    "Thomas",
    "Hannah",
    "Erik",
    "Silje",
    "Håkon",
    "Bjørn",
    "Åse",
    "Øystein",
    "Marit",
    "Solveig",
    "Per",
    "Liv",
    "Knut",
    "Tone",
    "Anders",
    "Ragnhild",
    "Lars",
    "Eline",
    "Mathias",
];

const LAST_NAMES: &[&str] = &[
    "Nordmann",
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Andersen",
    "Pedersen",
    "Nilsen",
    "Kristiansen",
    "Jensen",
    "Karlsen",
    "Johnsen",
    "Pettersen",
    "Eriksen",
    "Berg",
    "Haugen",
    "Hagen",
    "Johannessen",
    "Andreassen",
    "Jacobsen",
    "Dahl",
    "Jørgensen",
    "Halvorsen",
    "Lund",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Evans",
    "Roberts",
    "Walker",
    "Wright",
    "Bakke",
    "Solberg",
    "Strand",
    "Moen",
    "Sæther",
    "Aas",
];

const COMPANY_STEMS: &[&str] = &[
    "Nordlys",
    "Fjord",
    "Viking",
    "Polar",
    "Bergen",
    "Aurora",
    "Granitt",
    "Havbris",
    "Skog",
    "Fjell",
    "Midnatt",
    "Kyst",
    "Northwind",
    "Bluewater",
    "Harbour",
    "Summit",
    "Evergreen",
    "Ironbridge",
    "Silverline",
    "Brightfield",
    "Redwood",
    "Atlas",
    "Trollheim",
    "Lofoten",
];

const COMPANY_KINDS: &[&str] = &[
    "Consulting",
    "Teknologi",
    "Regnskap",
    "Logistikk",
    "Design",
    "Bygg",
    "Handel",
    "Solutions",
    "Systems",
    "Media",
    "Energi",
    "Eiendom",
    "Partners",
    "Software",
    "Marine",
    "Foods",
];

const COMPANY_FORMS: &[&str] = &["AS", "AS", "AS", "ASA", "Ltd", "Group AS"];

const PLACES: &[(&str, &str, &str)] = &[
    ("Oslo", "0150", "NO"),
    ("Bergen", "5003", "NO"),
    ("Trondheim", "7010", "NO"),
    ("Stavanger", "4006", "NO"),
    ("Tromsø", "9008", "NO"),
    ("Drammen", "3015", "NO"),
    ("Kristiansand", "4610", "NO"),
    ("Fredrikstad", "1606", "NO"),
    ("Bodø", "8006", "NO"),
    ("Ålesund", "6002", "NO"),
    ("London", "EC1A 1BB", "GB"),
    ("Manchester", "M1 1AE", "GB"),
];

const STREETS: &[&str] = &[
    "Storgata",
    "Kirkegata",
    "Dronningens gate",
    "Kongens gate",
    "Strandveien",
    "Parkveien",
    "Skolegata",
    "Fjordveien",
    "High Street",
    "Market Street",
];

const PRODUCTS: &[&str] = &[
    "Cloud Backup",
    "Regnskapsmodul",
    "Supportavtale",
    "Lisens",
    "Konsulenttime",
    "Opplæring",
    "Webhotell",
    "E-postkonto",
    "Sikkerhetspakke",
    "Integrasjon",
    "Serverdrift",
    "Prosjektledelse",
    "Analytics Suite",
    "Mobilapp",
    "Lagerstyring",
    "Fakturaportal",
];

const TIERS: &[&str] = &["Basic", "Standard", "Pro", "Plus", "Enterprise"];

const TITLES: &[&str] = &[
    "Daglig leder",
    "Økonomisjef",
    "Innkjøpsansvarlig",
    "Salgssjef",
    "IT-ansvarlig",
    "Account Manager",
    "CFO",
    "Office Manager",
    "Prosjektleder",
    "Konsulent",
];

const DEPARTMENTS: &[&str] = &[
    "Salg",
    "Økonomi",
    "Drift",
    "Utvikling",
    "Kundeservice",
    "Marked",
    "HR",
    "Innkjøp",
    "Lager",
    "Ledelse",
];

const CURRENCIES: &[&str] = &["NOK", "NOK", "NOK", "NOK", "EUR", "SEK", "USD", "GBP"];

const DAY_MS: i64 = 86_400_000;

/// How many records each entity gets: `records` unless overridden by `"system/Entity"`.
#[derive(Debug)]
pub(crate) struct Counts {
    records: usize,
    overrides: HashMap<(TableId, Option<bool>), usize>,
}

impl Counts {
    pub(crate) fn new(config: &SandboxConfig) -> Result<Self, SandboxError> {
        let mut overrides = HashMap::new();
        for (key, n) in &config.record_overrides {
            let (system, entity) = key.split_once('/').ok_or_else(|| {
                SandboxError::Config(format!(
                    "record override `{key}` must be `system/Entity` (e.g. `powerofficego/Departments`)"
                ))
            })?;
            let e = resolve(system, entity).ok_or_else(|| SandboxError::UnknownEntity {
                system: system.to_string(),
                entity: entity.to_string(),
            })?;
            overrides.insert((e.table, e.filter.map(|(_, b)| b)), *n);
        }
        Ok(Counts {
            records: config.records,
            overrides,
        })
    }

    fn of(&self, table: TableId) -> usize {
        self.of_filtered(table, None)
    }

    fn of_filtered(&self, table: TableId, flag: Option<bool>) -> usize {
        self.overrides
            .get(&(table, flag))
            .copied()
            .unwrap_or(self.records)
    }
}

/// Generates names, e-mail addresses and phone numbers; e-mail addresses are unique across
/// the whole sandbox so that no two systems match by accident.
struct Faker {
    emails: HashSet<String>,
}

#[derive(Clone, Debug)]
struct Person {
    first: String,
    last: String,
    email: String,
    phone: String,
}

#[derive(Clone, Debug)]
struct Company {
    name: String,
    domain: String,
    org_number: String,
    phone: String,
    street: String,
    city: String,
    zip: String,
    country: String,
}

fn pick(r: &mut SplitMix64, items: &[&'static str]) -> &'static str {
    r.pick(items).copied().unwrap_or("")
}

/// `Bjørn Sæther` → `bjorn.saether`: ASCII, lower case, for e-mail local parts and domains.
pub(crate) fn ascii_slug(s: &str, sep: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'æ' => out.push_str("ae"),
            'ø' | 'ö' => out.push('o'),
            'å' | 'ä' => out.push('a'),
            'é' | 'è' => out.push('e'),
            'a'..='z' | '0'..='9' => out.push(c),
            _ => {
                if !out.is_empty() && !out.ends_with(sep) {
                    out.push_str(sep);
                }
            }
        }
    }
    out.trim_end_matches(sep).to_string()
}

impl Faker {
    fn unique_email(&mut self, local: &str, domain: &str) -> String {
        let mut candidate = format!("{local}@{domain}");
        let mut n = 2;
        while !self.emails.insert(candidate.clone()) {
            candidate = format!("{local}{n}@{domain}");
            n += 1;
        }
        candidate
    }

    fn phone(r: &mut SplitMix64) -> String {
        format!(
            "+47 {} {:02} {:03}",
            r.range(400, 999),
            r.range(0, 99),
            r.range(0, 999)
        )
    }

    fn person(&mut self, r: &mut SplitMix64, domain: Option<&str>) -> Person {
        let first = pick(r, FIRST_NAMES).to_string();
        let last = pick(r, LAST_NAMES).to_string();
        let local = format!("{}.{}", ascii_slug(&first, "-"), ascii_slug(&last, "-"));
        let domain = match domain {
            Some(d) => d.to_string(),
            None => pick(
                r,
                &[
                    "example.no",
                    "example.com",
                    "eksempel.no",
                    "mail.example.org",
                ],
            )
            .to_string(),
        };
        let email = self.unique_email(&local, &domain);
        Person {
            first,
            last,
            email,
            phone: Self::phone(r),
        }
    }

    fn company(&mut self, r: &mut SplitMix64) -> Company {
        let name = format!(
            "{} {} {}",
            pick(r, COMPANY_STEMS),
            pick(r, COMPANY_KINDS),
            pick(r, COMPANY_FORMS)
        );
        let (city, zip, country) = r.pick(PLACES).copied().unwrap_or(("Oslo", "0150", "NO"));
        let domain = format!("{}.example.no", ascii_slug(&name, "-"));
        Company {
            domain,
            org_number: format!("9{:08}", r.range(0, 99_999_999)),
            phone: Self::phone(r),
            street: format!("{} {}", pick(r, STREETS), r.range(1, 120)),
            city: city.to_string(),
            zip: zip.to_string(),
            country: country.to_string(),
            name,
        }
    }
}

fn product_name(r: &mut SplitMix64) -> String {
    format!("{} {}", pick(r, PRODUCTS), pick(r, TIERS))
}

/// A price in whole kroner, rounded to a realistic step.
fn price(r: &mut SplitMix64) -> i64 {
    let base = r.range(5, 400) * 50;
    base - 1
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Spreads creation times of `n` rows over 150 days after the epoch; each row changed
/// again up to 30 days later.
struct Timeline {
    epoch_ms: i64,
}

impl Timeline {
    fn times(&self, r: &mut SplitMix64, i: usize, n: usize) -> Origin {
        let span = 150 * DAY_MS;
        let n = i64::try_from(n.max(1)).unwrap_or(i64::MAX);
        let i = i64::try_from(i).unwrap_or(0);
        let created_ms = self.epoch_ms + span / n * i + r.range(0, 3_600_000);
        let updated_ms = created_ms + r.range(0, 30 * DAY_MS);
        Origin::Seed {
            created_ms,
            updated_ms,
        }
    }
}

fn rng_for(seed: u64, table: TableId) -> SplitMix64 {
    SplitMix64::new(mix(seed ^ (0xA5A5_0000 + table.index() as u64)))
}

/// Fills an empty store with the dataset.
pub(crate) fn seed(store: &mut Store, config: &SandboxConfig) -> Result<(), SandboxError> {
    let counts = Counts::new(config)?;
    let mut seeder = Seeder {
        store,
        faker: Faker {
            emails: HashSet::new(),
        },
        time: Timeline {
            epoch_ms: config.epoch.timestamp_millis(),
        },
        seed: config.seed,
    };
    seeder.chargebee(&counts, config.chargebee_business_entities)?;
    seeder.poweroffice(&counts)?;
    seeder.webcrm(&counts)?;
    seeder.customerp(&counts)?;
    seeder.customwebshop(&counts)?;
    Ok(())
}

struct Seeder<'a> {
    store: &'a mut Store,
    faker: Faker,
    time: Timeline,
    seed: u64,
}

impl Seeder<'_> {
    fn put(
        &mut self,
        table: TableId,
        data: Map<String, Value>,
        origin: Origin,
    ) -> Result<String, SandboxError> {
        self.store
            .create(table, data, origin)
            .map(|row| row.key.clone())
            .map_err(|e| e.into_sandbox(table.def().label()))
    }

    fn chargebee(&mut self, counts: &Counts, business_entities: bool) -> Result<(), SandboxError> {
        let mut bes = Vec::new();
        if business_entities {
            let t = TableId::CbBusinessEntity;
            let mut r = rng_for(self.seed, t);
            let n = counts.of(t);
            for i in 0..n {
                let c = self.faker.company(&mut r);
                let data = obj(json!({"id": r.alnum(16), "name": c.name, "status": "active"}));
                let at = self.time.times(&mut r, i, n);
                bes.push(self.put(t, data, at)?);
            }
        }

        let t = TableId::CbItem;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut items: Vec<(String, String, i64)> = Vec::new();
        let mut taken = HashSet::new();
        for i in 0..n {
            let name = product_name(&mut r);
            let mut id = ascii_slug(&name, "-");
            if !taken.insert(id.clone()) {
                id = format!("{id}-{}", i + 1);
                taken.insert(id.clone());
            }
            let unit_price = price(&mut r) * 100;
            let data = obj(json!({
                "id": id, "name": name, "external_name": name,
                "description": format!("{name} – månedlig abonnement"),
                "status": "active", "type": pick(&mut r, &["plan", "addon", "charge"]),
                "item_family_id": pick(&mut r, &["software", "services", "support"]),
                "is_shippable": false, "is_giftable": false, "enabled_for_checkout": true,
                "enabled_in_portal": true, "metered": false, "unit": "license",
                "item_applicability": "all", "channel": "web",
            }));
            let at = self.time.times(&mut r, i, n);
            let key = self.put(t, data, at)?;
            items.push((key, name, unit_price));
        }

        let t = TableId::CbCustomer;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut customers: Vec<(String, String)> = Vec::new();
        for i in 0..n {
            let p = self.faker.person(&mut r, None);
            let company = if r.chance(0.5) {
                Some(self.faker.company(&mut r))
            } else {
                None
            };
            let currency = pick(&mut r, CURRENCIES);
            let (city, zip, country) = r.pick(PLACES).copied().unwrap_or(("Oslo", "0150", "NO"));
            let mut data = obj(json!({
                "id": r.alnum(16), "first_name": p.first, "last_name": p.last, "email": p.email,
                "phone": p.phone, "auto_collection": pick(&mut r, &["on", "off"]),
                "net_term_days": *r.pick(&[0, 14, 30]).unwrap_or(&0), "allow_direct_debit": false,
                "taxability": "taxable", "locale": pick(&mut r, &["nb-NO", "en-GB"]),
                "preferred_currency_code": currency, "card_status": "no_card",
                "billing_address": {
                    "first_name": p.first, "last_name": p.last,
                    "line1": format!("{} {}", pick(&mut r, STREETS), r.range(1, 120)),
                    "city": city, "zip": zip, "country": country, "object": "billing_address",
                },
            }));
            if let Some(c) = company {
                data.insert("company".into(), json!(c.name));
            }
            if let Some(be) = r.pick(&bes) {
                data.insert("business_entity_id".into(), json!(be));
            }
            let at = self.time.times(&mut r, i, n);
            let key = self.put(t, data, at)?;
            customers.push((key, currency.to_string()));
        }

        let t = TableId::CbOrder;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        for i in 0..n {
            let (customer, currency) = match r.pick(&customers) {
                Some((k, c)) => (json!(k), c.clone()),
                None => (Value::Null, "NOK".to_string()),
            };
            let mut lines = Vec::new();
            let mut sub_total = 0i64;
            for _ in 0..r.range(1, 3) {
                let Some((item, name, unit_price)) = r.pick(&items).cloned() else {
                    break;
                };
                let quantity = r.range(1, 5);
                let amount = unit_price * quantity;
                sub_total += amount;
                lines.push(json!({
                    "id": format!("li_{}", r.alnum(12)), "unit_price": unit_price,
                    "fulfillment_quantity": quantity, "amount": amount, "description": name,
                    "entity_type": "plan_item_price", "entity_id": item, "status": "queued",
                    "is_shippable": false, "object": "order_line_item",
                }));
            }
            let tax = sub_total / 4;
            let at = self.time.times(&mut r, i, n);
            let order_date = match at {
                Origin::Seed { created_ms, .. } => created_ms / 1000,
                Origin::Live => 0,
            };
            let status = pick(
                &mut r,
                &[
                    "queued",
                    "awaiting_shipment",
                    "on_hold",
                    "delivered",
                    "complete",
                ],
            );
            let data = obj(json!({
                "id": r.alnum(16), "document_number": format!("ORD-{}", 1001 + i),
                "customer_id": customer, "status": status, "currency_code": currency,
                "order_type": "manual", "fulfillment_status": status, "price_type": "tax_exclusive",
                "order_date": order_date, "sub_total": sub_total, "tax": tax,
                "total": sub_total + tax, "amount_paid": if r.chance(0.6) { sub_total + tax } else { 0 },
                "order_line_items": lines,
            }));
            self.put(t, data, at)?;
        }
        Ok(())
    }

    fn poweroffice(&mut self, counts: &Counts) -> Result<(), SandboxError> {
        let t = TableId::PoDepartment;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut departments = Vec::new();
        for i in 0..n {
            let base = DEPARTMENTS
                .get(i % DEPARTMENTS.len())
                .copied()
                .unwrap_or("Avdeling");
            let name = if i < DEPARTMENTS.len() {
                base.to_string()
            } else {
                format!("{base} {}", i / DEPARTMENTS.len() + 1)
            };
            let data = obj(json!({"Code": format!("D{}", 10 + i), "Name": name, "IsActive": true}));
            let at = self.time.times(&mut r, i, n);
            departments.push(json!(self.put(t, data, at)?.parse::<i64>().unwrap_or(0)));
        }

        let t = TableId::PoEmployee;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut employees = Vec::new();
        for i in 0..n {
            let p = self
                .faker
                .person(&mut r, Some("poweroffice-demo.example.no"));
            let data = obj(json!({
                "Number": 100 + i, "FirstName": p.first, "LastName": p.last,
                "EmailAddress": p.email, "PhoneNumber": p.phone, "JobTitle": pick(&mut r, TITLES),
                "DepartmentId": r.pick(&departments).cloned().unwrap_or(Value::Null),
                "DateOfBirth": format!("{}-{:02}-{:02}", r.range(1960, 2001), r.range(1, 12), r.range(1, 28)),
                "IsArchived": false,
            }));
            let at = self.time.times(&mut r, i, n);
            employees.push(json!(self.put(t, data, at)?.parse::<i64>().unwrap_or(0)));
        }

        let t = TableId::PoCustomer;
        let mut r = rng_for(self.seed, t);
        let orgs_n = counts.of_filtered(t, Some(false));
        let persons_n = counts.of_filtered(t, Some(true));
        let total = orgs_n + persons_n;
        let mut org_customers = Vec::new();
        for i in 0..orgs_n {
            let c = self.faker.company(&mut r);
            let post = self.faker.unique_email("post", &c.domain);
            let invoice = self.faker.unique_email("faktura", &c.domain);
            let data = obj(json!({
                "Number": 10_000 + i, "Name": c.name, "IsPerson": false, "EmailAddress": post,
                "InvoiceEmailAddress": invoice, "PhoneNumber": c.phone,
                "OrganizationNumber": c.org_number, "CurrencyCode": "NOK", "IsArchived": false,
                "MailAddress": {"AddressLine1": c.street, "AddressLine2": null, "City": c.city,
                                "ZipCode": c.zip, "CountryCode": c.country},
            }));
            let at = self.time.times(&mut r, i, total);
            let id = self.put(t, data, at)?.parse::<i64>().unwrap_or(0);
            org_customers.push(id);
        }
        for i in 0..persons_n {
            let p = self.faker.person(&mut r, None);
            let (city, zip, country) = r.pick(PLACES).copied().unwrap_or(("Oslo", "0150", "NO"));
            let data = obj(json!({
                "Number": 10_000 + orgs_n + i, "Name": format!("{} {}", p.first, p.last),
                "FirstName": p.first, "LastName": p.last, "IsPerson": true,
                "EmailAddress": p.email, "PhoneNumber": p.phone, "CurrencyCode": "NOK",
                "IsArchived": false,
                "MailAddress": {"AddressLine1": format!("{} {}", pick(&mut r, STREETS), r.range(1, 120)),
                                "AddressLine2": null, "City": city, "ZipCode": zip, "CountryCode": country},
            }));
            let at = self.time.times(&mut r, orgs_n + i, total);
            self.put(t, data, at)?;
        }

        let t = TableId::PoContactPerson;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut contacts_of: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for i in 0..n {
            let p = self.faker.person(&mut r, None);
            let contact = r.pick(&org_customers).copied();
            let data = obj(json!({
                "ContactId": contact, "FirstName": p.first, "LastName": p.last,
                "EmailAddress": p.email, "PhoneNumber": p.phone, "Title": pick(&mut r, TITLES),
                "IsActive": true,
            }));
            let at = self.time.times(&mut r, i, n);
            let id = self.put(t, data, at)?.parse::<i64>().unwrap_or(0);
            if let Some(c) = contact {
                contacts_of.entry(c).or_default().push(id);
            }
        }

        let t = TableId::PoProduct;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut products = Vec::new();
        for i in 0..n {
            let name = product_name(&mut r);
            let sales = price(&mut r) as f64;
            let code = format!("P{}", 1000 + i);
            let data = obj(json!({
                "Code": code, "Name": name, "Description": format!("{name} (PowerOffice)"),
                "SalesPrice": sales, "CostPrice": (sales * 0.6).round(),
                "Unit": pick(&mut r, &["stk", "time", "mnd"]),
                "ProductType": pick(&mut r, &["Product", "Service"]), "IsActive": true, "VatRate": 25.0,
            }));
            let at = self.time.times(&mut r, i, n);
            let id = self.put(t, data, at)?.parse::<i64>().unwrap_or(0);
            products.push((id, code, name, sales));
        }

        let t = TableId::PoSalesOrder;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        for i in 0..n {
            // The documents refer sales orders to `Customers` (companies): an order of a
            // person customer could never be linked through them.
            let customer = r.pick(&org_customers).copied();
            let contact = customer
                .and_then(|c| contacts_of.get(&c))
                .and_then(|cs| r.pick(cs).copied());
            let at = self.time.times(&mut r, i, n);
            let (created_ms, updated_ms) = match at {
                Origin::Seed {
                    created_ms,
                    updated_ms,
                } => (created_ms, updated_ms),
                Origin::Live => (0, 0),
            };
            let data = obj(json!({
                "OrderNo": 1 + i, "CustomerId": customer, "CustomerReferenceContactPersonId": contact,
                "OurReferenceEmployeeId": r.pick(&employees).cloned().unwrap_or(Value::Null),
                "DepartmentId": null, "CurrencyCode": "NOK",
                "OrderDate": iso_z(created_ms).get(..10).unwrap_or_default(),
                "SalesOrderStatus": pick(&mut r, &["Draft", "Confirmed", "Invoiced"]),
                "CustomerReference": if r.chance(0.4) { json!(format!("PO-{}", r.range(1000, 9999))) } else { Value::Null },
            }));
            let order = self.put(t, data, at)?;
            for j in 0..r.range(1, 3) {
                let Some((product, code, name, unit)) = r.pick(&products).cloned() else {
                    break;
                };
                let line = obj(json!({
                    "SalesOrderId": order, "ProductId": product, "ProductCode": code,
                    "Description": name, "Quantity": r.range(1, 10) as f64, "ProductUnitPrice": unit,
                    "DiscountPercent": if r.chance(0.2) { 10.0 } else { 0.0 }, "SortOrder": j + 1,
                    "VatRate": 25.0,
                }));
                self.put(
                    TableId::PoSalesOrderLine,
                    line,
                    Origin::Seed {
                        created_ms,
                        updated_ms,
                    },
                )?;
            }
        }
        Ok(())
    }

    fn webcrm(&mut self, counts: &Counts) -> Result<(), SandboxError> {
        let t = TableId::WcUser;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut users = Vec::new();
        for i in 0..n {
            let p = self.faker.person(&mut r, Some("crm-demo.example.no"));
            let initials: String = [&p.first, &p.last]
                .iter()
                .filter_map(|s| s.chars().next())
                .collect();
            let data = obj(json!({
                "UserName": format!("{} {}", p.first, p.last), "UserFirstName": p.first,
                "UserLastName": p.last, "UserEmail": p.email, "UserInitials": initials.to_uppercase(),
                "UserPhone": p.phone, "UserTitle": pick(&mut r, TITLES), "UserStatus": "Active",
            }));
            let at = self.time.times(&mut r, i, n);
            users.push(self.put(t, data, at)?.parse::<i64>().unwrap_or(0));
        }

        let t = TableId::WcOrganisation;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut orgs = Vec::new();
        for i in 0..n {
            let c = self.faker.company(&mut r);
            let data = obj(json!({
                "OrganisationName": c.name,
                "OrganisationVatNumber": format!("NO {} MVA", c.org_number),
                "OrganisationAddress": c.street, "OrganisationPostCode": c.zip,
                "OrganisationCity": c.city,
                "OrganisationCountry": if c.country == "NO" { "Norway" } else { "United Kingdom" },
                "OrganisationTelephone": c.phone,
                "OrganisationWww": format!("www.{}", c.domain),
                "OrganisationStatus": pick(&mut r, &["Customer", "Prospect", "Lead"]),
                "OrganisationType": "Company",
            }));
            let at = self.time.times(&mut r, i, n);
            orgs.push(self.put(t, data, at)?.parse::<i64>().unwrap_or(0));
        }

        let t = TableId::WcPerson;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut persons_of: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        let mut persons = Vec::new();
        for i in 0..n {
            let p = self.faker.person(&mut r, None);
            let org = r.pick(&orgs).copied();
            let data = obj(json!({
                "PersonOrganisationId": org, "PersonFirstName": p.first, "PersonLastName": p.last,
                "PersonName": format!("{} {}", p.first, p.last), "PersonEmail": p.email,
                "PersonDirectPhone": p.phone, "PersonMobilePhone": Faker::phone(&mut r),
                "PersonTitle": pick(&mut r, TITLES), "PersonStatus": "Active",
            }));
            let at = self.time.times(&mut r, i, n);
            let id = self.put(t, data, at)?.parse::<i64>().unwrap_or(0);
            persons.push(id);
            if let Some(o) = org {
                persons_of.entry(o).or_default().push(id);
            }
        }

        let t = TableId::WcProduct;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut products = Vec::new();
        for i in 0..n {
            let name = product_name(&mut r);
            let code = format!("WC-{}", 1000 + i);
            let unit = price(&mut r) as f64;
            let data = obj(json!({
                "ProductName": name, "ProductItemCode": code,
                "ProductDescription": format!("{name} (webCRM)"), "ProductPrice": unit,
                "ProductCurrency": "NOK", "ProductStatus": "Active",
            }));
            let at = self.time.times(&mut r, i, n);
            let id = self.put(t, data, at)?.parse::<i64>().unwrap_or(0);
            products.push((id, code, name, unit));
        }

        let t = TableId::WcOpportunity;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        for i in 0..n {
            let org = r.pick(&orgs).copied();
            let person = org
                .and_then(|o| persons_of.get(&o))
                .and_then(|ps| r.pick(ps).copied());
            let mut lines = Vec::new();
            let mut value = 0.0;
            for j in 0..r.range(1, 3) {
                let Some((product, code, name, unit)) = r.pick(&products).cloned() else {
                    break;
                };
                let quantity = r.range(1, 10) as f64;
                let discount = *r.pick(&[0.0, 5.0, 10.0]).unwrap_or(&0.0);
                value += unit * quantity * (1.0 - discount / 100.0);
                lines.push(obj(json!({
                    "QuotationLineProductId": product, "QuotationLineItemCode": code,
                    "QuotationLineDescription": name, "QuotationLinePrice": unit,
                    "QuotationLineQuantity": quantity, "QuotationLineDiscount": discount,
                    "QuotationLineSortOrder": j + 1,
                })));
            }
            let at = self.time.times(&mut r, i, n);
            let data = obj(json!({
                "OpportunityNumber": 1000 + i,
                "OpportunityDescription": format!("{} for {}", pick(&mut r, &["Lisensavtale", "Rammeavtale", "Oppgradering", "Pilotprosjekt"]), lines.first().and_then(|l| l.get("QuotationLineDescription")).and_then(Value::as_str).unwrap_or("tjenester")),
                "OpportunityOrganisationId": org, "OpportunityPersonId": person,
                "OpportunityResponsible": r.pick(&users).copied(),
                "OpportunityCurrencyName": "NOK", "OpportunityOrderValue": value.round(),
                "OpportunityLevel": r.range(1, 10) * 10,
                "OpportunityOrderDate": match at { Origin::Seed { created_ms, .. } => iso_z(created_ms + 14 * DAY_MS), Origin::Live => String::new() },
                "OpportunityStatus": pick(&mut r, &["Open", "Won", "Lost"]),
            }));
            let opp = self.put(t, data, at)?.parse::<i64>().unwrap_or(0);
            for mut line in lines {
                line.insert("QuotationLineOpportunityId".into(), json!(opp));
                self.put(TableId::WcQuotationLine, line, at)?;
            }
        }
        Ok(())
    }

    fn customerp(&mut self, counts: &Counts) -> Result<(), SandboxError> {
        let t = TableId::CpCustomer;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut customers = Vec::new();
        for i in 0..n {
            let c = self.faker.company(&mut r);
            let email = self.faker.unique_email("kontakt", &c.domain);
            let data = obj(json!({
                "name": c.name, "organization_number": c.org_number, "email": email,
                "phone": c.phone, "address_line": c.street, "postal_code": c.zip,
                "city": c.city, "country": c.country,
            }));
            let at = self.time.times(&mut r, i, n);
            customers.push(self.put(t, data, at)?.parse::<i64>().unwrap_or(0));
        }

        let t = TableId::CpContact;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut contacts_of: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for i in 0..n {
            let p = self.faker.person(&mut r, None);
            let customer = r.pick(&customers).copied();
            let data = obj(json!({
                "first_name": p.first, "last_name": p.last, "email": p.email, "phone": p.phone,
                "title": pick(&mut r, TITLES), "customer_id": customer,
            }));
            let at = self.time.times(&mut r, i, n);
            let id = self.put(t, data, at)?.parse::<i64>().unwrap_or(0);
            if let Some(c) = customer {
                contacts_of.entry(c).or_default().push(id);
            }
        }

        let t = TableId::CpEmployee;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        for i in 0..n {
            let p = self.faker.person(&mut r, Some("customerp-demo.example.no"));
            let data = obj(json!({
                "first_name": p.first, "last_name": p.last, "email": p.email, "phone": p.phone,
                "department": pick(&mut r, DEPARTMENTS), "job_title": pick(&mut r, TITLES),
            }));
            let at = self.time.times(&mut r, i, n);
            self.put(t, data, at)?;
        }

        let t = TableId::CpProduct;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut products = Vec::new();
        for i in 0..n {
            let name = product_name(&mut r);
            let unit = price(&mut r) as f64;
            let data = obj(json!({
                "sku": format!("CP-{}", 1000 + i), "name": name,
                "description": format!("{name} (Customerp)"), "price": unit, "currency": "NOK",
                "active": r.chance(0.9),
            }));
            let at = self.time.times(&mut r, i, n);
            products.push((
                self.put(t, data, at)?.parse::<i64>().unwrap_or(0),
                name,
                unit,
            ));
        }

        for (t, prefix, statuses, date_field) in [
            (
                TableId::CpQuote,
                "Q",
                &["draft", "sent", "accepted", "rejected"][..],
                "valid_until",
            ),
            (
                TableId::CpOrder,
                "SO",
                &["new", "confirmed", "shipped", "invoiced"][..],
                "order_date",
            ),
        ] {
            let mut r = rng_for(self.seed, t);
            let n = counts.of(t);
            for i in 0..n {
                let customer = r.pick(&customers).copied();
                let contact = customer
                    .and_then(|c| contacts_of.get(&c))
                    .and_then(|cs| r.pick(cs).copied());
                let mut lines = Vec::new();
                let mut total = 0.0;
                for _ in 0..r.range(1, 3) {
                    let Some((product, name, unit)) = r.pick(&products).cloned() else {
                        break;
                    };
                    let quantity = r.range(1, 10) as f64;
                    total += unit * quantity;
                    lines.push(json!({"product_id": product, "description": name, "quantity": quantity, "unit_price": unit}));
                }
                let at = self.time.times(&mut r, i, n);
                let date = match at {
                    Origin::Seed { created_ms, .. } => iso_z(created_ms + 30 * DAY_MS)
                        .get(..10)
                        .unwrap_or_default()
                        .to_string(),
                    Origin::Live => String::new(),
                };
                let mut data = obj(json!({
                    "number": format!("{prefix}-{}", 10_001 + i), "customer_id": customer,
                    "contact_id": contact, "currency": "NOK", "status": pick(&mut r, statuses),
                    "total": total, "lines": lines,
                }));
                data.insert(date_field.into(), json!(date));
                self.put(t, data, at)?;
            }
        }
        Ok(())
    }

    fn customwebshop(&mut self, counts: &Counts) -> Result<(), SandboxError> {
        let t = TableId::WsCustomer;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut customers = Vec::new();
        for i in 0..n {
            let p = self.faker.person(&mut r, None);
            let company = if r.chance(0.3) {
                Some(self.faker.company(&mut r).name)
            } else {
                None
            };
            let (city, _, country) = r.pick(PLACES).copied().unwrap_or(("Oslo", "0150", "NO"));
            let data = obj(json!({
                "first_name": p.first, "last_name": p.last, "email": p.email, "phone": p.phone,
                "company_name": company, "city": city, "country": country,
            }));
            let at = self.time.times(&mut r, i, n);
            customers.push(self.put(t, data, at)?.parse::<i64>().unwrap_or(0));
        }

        let t = TableId::WsProduct;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        let mut products = Vec::new();
        for i in 0..n {
            let name = product_name(&mut r);
            let sku = format!("WS-{}", 1000 + i);
            let unit = price(&mut r) as f64;
            let data = obj(json!({
                "sku": sku, "name": name, "description": format!("{name} (nettbutikk)"),
                "price": unit, "currency": "NOK", "stock": r.range(0, 500), "active": true,
            }));
            let at = self.time.times(&mut r, i, n);
            products.push((
                self.put(t, data, at)?.parse::<i64>().unwrap_or(0),
                sku,
                unit,
            ));
        }

        let t = TableId::WsOrder;
        let mut r = rng_for(self.seed, t);
        let n = counts.of(t);
        for i in 0..n {
            let mut lines = Vec::new();
            let mut total = 0.0;
            for _ in 0..r.range(1, 3) {
                let Some((product, sku, unit)) = r.pick(&products).cloned() else {
                    break;
                };
                let quantity = r.range(1, 4);
                total += unit * quantity as f64;
                lines.push(json!({"product_id": product, "sku": sku, "quantity": quantity, "unit_price": unit}));
            }
            let at = self.time.times(&mut r, i, n);
            let placed = match at {
                Origin::Seed { created_ms, .. } => iso_z(created_ms),
                Origin::Live => String::new(),
            };
            let data = obj(json!({
                "number": format!("WEB-{}", 100_001 + i),
                "customer_id": r.pick(&customers).copied(), "currency": "NOK",
                "status": pick(&mut r, &["pending", "paid", "shipped", "delivered", "cancelled"]),
                "placed_at": placed, "total": total, "lines": lines,
            }));
            self.put(t, data, at)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded(records: usize) -> Store {
        let config = SandboxConfig {
            records,
            ..SandboxConfig::default()
        };
        let mut store = Store::new(config.seed);
        seed(&mut store, &config).unwrap();
        store
    }

    #[test]
    fn same_seed_same_data() {
        let a = seeded(20);
        let b = seeded(20);
        for t in TableId::ALL {
            let ra: Vec<_> = a.table(t).rows().iter().map(|r| &r.data).collect();
            let rb: Vec<_> = b.table(t).rows().iter().map(|r| &r.data).collect();
            assert_eq!(ra, rb, "{t:?}");
        }
    }

    #[test]
    fn counts_and_references_hold() {
        let s = seeded(30);
        assert_eq!(s.table(TableId::CbCustomer).rows().len(), 30);
        assert_eq!(
            s.table(TableId::PoCustomer).rows().len(),
            60,
            "organisations and persons"
        );
        let lines = s.table(TableId::PoSalesOrderLine).rows().len();
        assert!((30..=90).contains(&lines), "{lines}");
        for t in TableId::ALL {
            for row in s.table(t).rows() {
                assert!(
                    s.check_references(t.def(), &row.data).is_ok(),
                    "{t:?} {:?}",
                    row.data
                );
            }
        }
        // Every order's contact person belongs to the order's customer.
        for order in s.table(TableId::PoSalesOrder).rows() {
            if let Some(cp) = order
                .data
                .get("CustomerReferenceContactPersonId")
                .and_then(Value::as_i64)
            {
                let person = s
                    .table(TableId::PoContactPerson)
                    .get(&cp.to_string())
                    .unwrap();
                assert_eq!(person.data.get("ContactId"), order.data.get("CustomerId"));
            }
        }
    }

    #[test]
    fn emails_are_unique_across_systems() {
        let s = seeded(40);
        let mut seen = HashSet::new();
        for t in TableId::ALL {
            for row in s.table(t).rows() {
                for key in ["email", "EmailAddress", "PersonEmail", "UserEmail"] {
                    if let Some(e) = row.data.get(key).and_then(Value::as_str) {
                        assert!(seen.insert(e.to_string()), "{e} twice");
                    }
                }
            }
        }
    }

    #[test]
    fn overrides_apply_and_bad_keys_are_refused() {
        let mut config = SandboxConfig {
            records: 5,
            ..SandboxConfig::default()
        };
        config
            .record_overrides
            .insert("powerofficego/Customers person".into(), 2);
        config
            .record_overrides
            .insert("chargebee/Business_entity".into(), 0);
        let mut store = Store::new(1);
        seed(&mut store, &config).unwrap();
        assert_eq!(store.table(TableId::PoCustomer).rows().len(), 7);
        assert_eq!(store.table(TableId::CbBusinessEntity).rows().len(), 0);
        config.record_overrides.insert("nosuch".into(), 1);
        assert!(Counts::new(&config).is_err());
    }

    #[test]
    fn slugs_are_ascii() {
        assert_eq!(ascii_slug("Bjørn Sæther", "."), "bjorn.saether");
        assert_eq!(ascii_slug("Håkon", "-"), "hakon");
        assert_eq!(ascii_slug("Cloud Backup Pro", "-"), "cloud-backup-pro");
    }
}
