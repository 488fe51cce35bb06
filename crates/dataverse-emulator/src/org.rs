//! One emulated Dataverse organization: its tables (definitions and rows), its security model, its
//! identity (`OrganizationType`, version) and the rows every org starts with (root business unit,
//! currency, roles, SDK messages), plus loading a generated seed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::metadata::{Ownership, Table, builtin_tables, stable_id};
use crate::security::{Role, Security, VERBS, standard_roles};
use crate::seed::{SeedOrg, SeedRole};
use crate::store::{Store, TableState};
use crate::value::Value;

/// `OrganizationType` (0 Customer … 16 Platform), serialized by member name.
pub const ORGANIZATION_TYPES: &[&str] = &[
    "Customer",
    "Monitoring",
    "Support",
    "BackEnd",
    "Secondary",
    "CustomerTest",
    "CustomerFreeTest",
    "CustomerPreview",
    "Placeholder",
    "TestDrive",
    "MsftInvestigation",
    "EmailTrial",
    "Default",
    "Developer",
    "Trial",
    "Teams",
    "Platform",
];

/// The messages bulk support is registered for, per table, in `sdkmessagefilters`.
pub const BULK_MESSAGES: &[&str] = &["CreateMultiple", "UpdateMultiple", "UpsertMultiple"];

/// What identifies an org besides its tables and roles (saved to disk with them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgIdentity {
    pub id: Uuid,
    pub name: String,
    pub unique_name: String,
    pub tenant_id: Uuid,
    pub environment_id: Uuid,
    pub organization_type: usize,
    pub version: String,
    pub root_business_unit: Uuid,
    pub base_currency: Uuid,
    pub next_object_type_code: i64,
}

#[derive(Clone)]
pub struct Org {
    pub store: Store,
    by_logical: HashMap<String, usize>,
    by_set: HashMap<String, usize>,
    pub security: Security,
    pub id: Uuid,
    pub name: String,
    pub unique_name: String,
    pub tenant_id: Uuid,
    pub environment_id: Uuid,
    /// Index into `ORGANIZATION_TYPES`.
    pub organization_type: usize,
    pub version: String,
    pub root_business_unit: Uuid,
    pub base_currency: Uuid,
    pub next_object_type_code: i64,
}

impl Org {
    pub fn new(name: &str, tenant_id: Uuid, now: DateTime<Utc>) -> Org {
        let unique_name = format!(
            "org{}",
            &stable_id(&["org", name]).simple().to_string()[..8]
        );
        let mut org = Org {
            store: Store::default(),
            by_logical: HashMap::new(),
            by_set: HashMap::new(),
            security: Security::default(),
            id: stable_id(&["organization", name]),
            name: name.into(),
            unique_name,
            tenant_id,
            environment_id: stable_id(&["environment", name]),
            organization_type: 0,
            version: "9.2.25103.00191".into(),
            root_business_unit: stable_id(&["businessunit", name]),
            base_currency: stable_id(&["transactioncurrency", "USD"]),
            next_object_type_code: 10_000,
        };
        for t in builtin_tables() {
            org.register_table(t);
        }
        let org_id = org.id;
        org.put(
            "organization",
            org_id,
            &[
                ("name", s(name)),
                ("expirechangetrackingindays", Value::Int(7)),
                ("languagecode", Value::Int(1033)),
                ("basecurrencyid", Value::Guid(org.base_currency)),
            ],
            None,
            now,
        );
        let root_bu = org.root_business_unit;
        org.put(
            "businessunit",
            root_bu,
            &[("name", s(name)), ("isdisabled", Value::Bool(false))],
            None,
            now,
        );
        for (code, currency, symbol, rate) in
            [("USD", "US Dollar", "$", 1.0), ("EUR", "Euro", "€", 0.92)]
        {
            let id = stable_id(&["transactioncurrency", code]);
            org.put(
                "transactioncurrency",
                id,
                &[
                    ("currencyname", s(currency)),
                    ("isocurrencycode", s(code)),
                    ("currencysymbol", s(symbol)),
                    ("exchangerate", Value::Decimal(rate)),
                ],
                None,
                now,
            );
        }
        for role in standard_roles(root_bu) {
            org.add_role(role, now);
        }
        for message in BULK_MESSAGES {
            let id = stable_id(&["sdkmessage", message]);
            org.put("sdkmessage", id, &[("name", s(message))], None, now);
        }
        org.refresh_bulk_filters(now);
        org.store.commit();
        org
    }

    pub fn table_index(&self, logical_name: &str) -> Option<usize> {
        self.by_logical.get(logical_name).copied()
    }

    pub fn table_by_set(&self, entity_set: &str) -> Option<usize> {
        self.by_set.get(entity_set).copied()
    }

    pub fn table(&self, index: usize) -> &TableState {
        &self.store.tables[index]
    }

    pub fn def(&self, index: usize) -> &Table {
        &self.store.tables[index].def
    }

    pub fn def_by_name(&self, logical_name: &str) -> Option<&Table> {
        self.table_index(logical_name).map(|i| self.def(i))
    }

    /// The tables that exist (deleted custom tables keep their slot but are gone from here).
    pub fn live_tables(&self) -> impl Iterator<Item = &Table> {
        self.store
            .tables
            .iter()
            .enumerate()
            .filter(|(i, _)| self.is_live(*i))
            .map(|(_, t)| &t.def)
    }

    /// Whether the table in slot `index` exists (a deleted custom table's slot does not).
    pub fn is_live(&self, index: usize) -> bool {
        self.store
            .tables
            .get(index)
            .is_some_and(|t| self.by_set.get(&t.def.entity_set_name) == Some(&index))
    }

    /// The org's own facts, as saved to disk with its rows.
    pub fn identity(&self) -> OrgIdentity {
        OrgIdentity {
            id: self.id,
            name: self.name.clone(),
            unique_name: self.unique_name.clone(),
            tenant_id: self.tenant_id,
            environment_id: self.environment_id,
            organization_type: self.organization_type,
            version: self.version.clone(),
            root_business_unit: self.root_business_unit,
            base_currency: self.base_currency,
            next_object_type_code: self.next_object_type_code,
        }
    }

    /// An org read back from disk: `live[i]` tells whether table slot `i` exists.
    pub fn restore(identity: OrgIdentity, security: Security, store: Store, live: &[bool]) -> Org {
        let mut by_logical = HashMap::new();
        let mut by_set = HashMap::new();
        for (index, table) in store.tables.iter().enumerate() {
            if live.get(index).copied().unwrap_or(false) {
                by_logical.insert(table.def.logical_name.clone(), index);
                by_set.insert(table.def.entity_set_name.clone(), index);
            }
        }
        Org {
            store,
            by_logical,
            by_set,
            security,
            id: identity.id,
            name: identity.name,
            unique_name: identity.unique_name,
            tenant_id: identity.tenant_id,
            environment_id: identity.environment_id,
            organization_type: identity.organization_type,
            version: identity.version,
            root_business_unit: identity.root_business_unit,
            base_currency: identity.base_currency,
            next_object_type_code: identity.next_object_type_code,
        }
    }

    pub fn table_count(&self) -> usize {
        self.store.tables.len()
    }

    /// Adds a table (built-in or created at run time) and its privileges.
    pub fn register_table(&mut self, def: Table) -> usize {
        let index = self.store.tables.len();
        self.by_logical.insert(def.logical_name.clone(), index);
        self.by_set.insert(def.entity_set_name.clone(), index);
        let suffix = def.privilege_suffix();
        for verb in VERBS {
            let name = format!("prv{verb}{suffix}");
            if !self.security.known_privileges.contains(&name) {
                self.security.known_privileges.push(name);
            }
        }
        for extra in [
            crate::security::ACT_ON_BEHALF,
            "prvCreateEntity",
            "prvReadEntity",
            "prvWriteEntity",
        ] {
            if !self.security.known_privileges.iter().any(|p| p == extra) {
                self.security.known_privileges.push(extra.into());
            }
        }
        self.store.tables.push(TableState::new(def));
        index
    }

    /// Unregisters a deleted custom table's names (its index stays, empty).
    pub fn forget_table(&mut self, index: usize) {
        self.by_logical.retain(|_, i| *i != index);
        self.by_set.retain(|_, i| *i != index);
    }

    /// Keeps one `sdkmessagefilter` row per bulk message and table that supports it.
    pub fn refresh_bulk_filters(&mut self, now: DateTime<Utc>) {
        let supported: Vec<String> = self
            .store
            .tables
            .iter()
            .filter(|t| t.def.supports_bulk)
            .map(|t| t.def.logical_name.clone())
            .collect();
        for message in BULK_MESSAGES {
            let message_id = stable_id(&["sdkmessage", message]);
            for table in &supported {
                let id = stable_id(&["sdkmessagefilter", message, table]);
                let Some(t) = self.table_index("sdkmessagefilter") else {
                    return;
                };
                if self.store.tables[t].rows.contains_key(&id) {
                    continue;
                }
                self.put(
                    "sdkmessagefilter",
                    id,
                    &[
                        ("name", s(&format!("{message} {table}"))),
                        ("sdkmessageid", Value::Guid(message_id)),
                        ("primaryobjecttypecode", s(table)),
                        ("secondaryobjecttypecode", s("none")),
                        ("isvisible", Value::Bool(true)),
                        ("iscustomprocessingstepallowed", Value::Bool(true)),
                    ],
                    None,
                    now,
                );
            }
        }
    }

    pub fn add_role(&mut self, role: Role, now: DateTime<Utc>) {
        let (id, name, bu) = (role.id, role.name.clone(), role.business_unit);
        self.security.roles.insert(role.id, role);
        self.put(
            "role",
            id,
            &[("name", s(&name)), ("businessunitid", Value::Guid(bu))],
            None,
            now,
        );
    }

    /// Writes a row with the system columns filled in, outside of any request (setup and seed).
    pub fn put(
        &mut self,
        table: &str,
        id: Uuid,
        values: &[(&str, Value)],
        owner: Option<Uuid>,
        now: DateTime<Utc>,
    ) {
        let Some(t) = self.table_index(table) else {
            return;
        };
        let mut row = vec![Value::Null; self.def(t).attributes.len()];
        for (name, value) in values {
            if let Some(o) = self.def(t).ordinal(name) {
                row[o] = value.clone();
            }
        }
        self.stamp_new_row(t, &mut row, id, owner, None, None, now);
        // Setup writes never collide on keys: the tables they fill have none.
        let _ = self.store.insert(t, id, row);
    }

    /// Fills the primary key, audit, ownership and computed columns of a row being created.
    #[allow(clippy::too_many_arguments)]
    pub fn stamp_new_row(
        &self,
        t: usize,
        row: &mut [Value],
        id: Uuid,
        owner: Option<Uuid>,
        creator: Option<Uuid>,
        on_behalf_of: Option<Uuid>,
        now: DateTime<Utc>,
    ) {
        let def = self.def(t);
        let set = |row: &mut [Value], name: &str, v: Value| {
            if let Some(o) = def.ordinal(name) {
                row[o] = v;
            }
        };
        set(row, &def.primary_id, Value::Guid(id));
        set(row, "createdon", Value::DateTime(now));
        set(row, "modifiedon", Value::DateTime(now));
        if let Some(c) = creator {
            set(row, "createdby", Value::Guid(c));
            set(row, "modifiedby", Value::Guid(c));
        }
        if let Some(c) = on_behalf_of {
            set(row, "createdonbehalfby", Value::Guid(c));
            set(row, "modifiedonbehalfby", Value::Guid(c));
        }
        if def.ownership == Ownership::UserOwned {
            let owner_ordinal = def.ordinal("ownerid");
            let current = owner_ordinal.map(|o| row[o].clone()).unwrap_or(Value::Null);
            let owner = match current {
                Value::Guid(g) => Some(g),
                _ => owner.or(creator),
            };
            if let Some(owner) = owner {
                set(row, "ownerid", Value::Guid(owner));
                set(row, "owneridtype", s("systemuser"));
                set(row, "owninguser", Value::Guid(owner));
                let bu = self
                    .user_business_unit(owner)
                    .unwrap_or(self.root_business_unit);
                set(row, "owningbusinessunit", Value::Guid(bu));
            }
        }
        if def.ownership == Ownership::OrganizationOwned {
            set(row, "organizationid", Value::Guid(self.id));
        }
        if def.is_activity {
            set(row, "activitytypecode", s(&def.logical_name));
            set(row, "isregularactivity", Value::Bool(true));
            if let Some(o) = def.ordinal("statecode")
                && row[o].is_null()
            {
                row[o] = Value::Int(0);
            }
        }
        if let (Some(st), Some(sc)) = (def.ordinal("statecode"), def.ordinal("statuscode")) {
            if row[st].is_null() {
                row[st] = Value::Int(0);
            }
            if row[sc].is_null()
                && let Value::Int(state) = row[st]
            {
                row[sc] = default_status(def, state).map_or(Value::Null, Value::Int);
            }
        }
        self.compute_columns(t, row);
    }

    /// Columns Dataverse computes from others (`fullname`).
    pub fn compute_columns(&self, t: usize, row: &mut [Value]) {
        let def = self.def(t);
        if let (Some(full), Some(first), Some(last)) = (
            def.ordinal("fullname"),
            def.ordinal("firstname"),
            def.ordinal("lastname"),
        ) {
            let part = |v: &Value| match v {
                Value::String(s) => s.to_string(),
                _ => String::new(),
            };
            let name = format!("{} {}", part(&row[first]), part(&row[last]))
                .trim()
                .to_string();
            row[full] = if name.is_empty() {
                Value::Null
            } else {
                Value::String(name.into())
            };
        }
    }

    /// A row's value by column name.
    pub fn get(&self, t: usize, id: Uuid, column: &str) -> Option<&Value> {
        let def = self.def(t);
        let o = def.ordinal(column)?;
        let row = self.table(t).rows.get(&id)?;
        Some(crate::value::cell(&row.values, o))
    }

    pub fn user_business_unit(&self, user: Uuid) -> Option<Uuid> {
        let t = self.table_index("systemuser")?;
        match self.get(t, user, "businessunitid") {
            Some(Value::Guid(g)) => Some(*g),
            _ => None,
        }
    }

    /// The systemuser whose column `column` equals `value` (Entra object id or application id).
    pub fn user_where(&self, column: &str, value: Uuid) -> Option<Uuid> {
        let t = self.table_index("systemuser")?;
        let o = self.def(t).ordinal(column)?;
        self.table(t)
            .rows
            .iter()
            .find(|(_, r)| crate::value::cell(&r.values, o) == &Value::Guid(value))
            .map(|(id, _)| *id)
    }

    /// Business units at or below `bu`.
    pub fn business_unit_subtree(&self, bu: Uuid) -> Vec<Uuid> {
        let Some(t) = self.table_index("businessunit") else {
            return vec![bu];
        };
        let Some(parent) = self.def(t).ordinal("parentbusinessunitid") else {
            return vec![bu];
        };
        let mut out = vec![bu];
        let mut i = 0;
        while i < out.len() {
            let current = out[i];
            for (id, row) in &self.table(t).rows {
                if crate::value::cell(&row.values, parent) == &Value::Guid(current)
                    && !out.contains(id)
                {
                    out.push(*id);
                }
            }
            i += 1;
        }
        out
    }

    /// Creates a systemuser with the given roles.
    #[allow(clippy::too_many_arguments)]
    pub fn add_user(
        &mut self,
        id: Uuid,
        first: &str,
        last: &str,
        email: &str,
        entra_object_id: Option<Uuid>,
        application_id: Option<Uuid>,
        business_unit: Uuid,
        roles: &[Uuid],
        disabled: bool,
        now: DateTime<Utc>,
    ) {
        let mut values = vec![
            ("firstname", s(first)),
            ("lastname", s(last)),
            ("businessunitid", Value::Guid(business_unit)),
            ("isdisabled", Value::Bool(disabled)),
            (
                "accessmode",
                Value::Int(if application_id.is_some() { 4 } else { 0 }),
            ),
        ];
        if !email.is_empty() {
            values.push(("internalemailaddress", s(email)));
            values.push(("domainname", s(email)));
        }
        if let Some(oid) = entra_object_id {
            values.push(("azureactivedirectoryobjectid", Value::Guid(oid)));
        }
        if let Some(app) = application_id {
            values.push(("applicationid", Value::Guid(app)));
            values.push(("applicationiduri", s(&format!("api://{app}"))));
        }
        self.put("systemuser", id, &values, None, now);
        self.security.user_roles.insert(id, roles.to_vec());
    }

    /// Loads a generated org: business units, users with their roles, and the sales data.
    pub fn load_seed(&mut self, seed: SeedOrg, now: DateTime<Utc>) {
        let role_id = |r: SeedRole| {
            stable_id(&[
                "role",
                match r {
                    SeedRole::SystemAdministrator => "System Administrator",
                    SeedRole::SalesManager => "Sales Manager",
                    SeedRole::Salesperson => "Salesperson",
                },
            ])
        };
        let root = self.root_business_unit;
        let mut bu_map: HashMap<Uuid, Uuid> = HashMap::new();
        for (i, bu) in seed.business_units.iter().enumerate() {
            if i == 0 {
                bu_map.insert(bu.id, root);
                continue;
            }
            bu_map.insert(bu.id, bu.id);
            let parent = bu
                .parent
                .and_then(|p| bu_map.get(&p).copied())
                .unwrap_or(root);
            self.put(
                "businessunit",
                bu.id,
                &[
                    ("name", s(&bu.name)),
                    ("parentbusinessunitid", Value::Guid(parent)),
                    ("isdisabled", Value::Bool(false)),
                ],
                None,
                now,
            );
        }
        for u in &seed.users {
            let roles: Vec<Uuid> = u.roles.iter().map(|r| role_id(*r)).collect();
            let bu = bu_map.get(&u.business_unit).copied().unwrap_or(root);
            self.add_user(
                u.id,
                &u.first_name,
                &u.last_name,
                &u.email,
                Some(u.entra_object_id),
                None,
                bu,
                &roles,
                u.is_disabled,
                now,
            );
            if let (Some(title), Some(t)) = (&u.title, self.table_index("systemuser"))
                && let (Some(o), Some(row)) = (
                    self.def(t).ordinal("title"),
                    self.store.tables[t].rows.get_mut(&u.id),
                )
            {
                // Just written, so not shared: this changes the row in place.
                std::sync::Arc::make_mut(&mut row.values)[o] = s(title);
            }
        }
        let opt = |v: &Option<String>| v.as_deref().map_or(Value::Null, s);
        let opt_i = |v: Option<i64>| v.map_or(Value::Null, Value::Int);
        for a in seed.accounts {
            self.put(
                "account",
                a.id,
                &[
                    ("name", s(&a.name)),
                    ("accountnumber", opt(&a.account_number)),
                    ("websiteurl", opt(&a.website)),
                    ("telephone1", opt(&a.phone)),
                    ("address1_line1", opt(&a.street)),
                    ("address1_city", opt(&a.city)),
                    ("address1_postalcode", opt(&a.postal_code)),
                    ("address1_stateorprovince", opt(&a.region)),
                    ("address1_country", opt(&a.country)),
                    ("industrycode", opt_i(a.industry_code)),
                    ("numberofemployees", opt_i(a.employees)),
                    ("transactioncurrencyid", Value::Guid(self.base_currency)),
                ],
                Some(a.owner),
                now,
            );
        }
        for c in seed.contacts {
            let mut values = vec![
                ("firstname", s(&c.first_name)),
                ("lastname", s(&c.last_name)),
                ("emailaddress1", opt(&c.email)),
                ("jobtitle", opt(&c.job_title)),
                ("telephone1", opt(&c.phone)),
                ("address1_city", opt(&c.city)),
                ("address1_country", opt(&c.country)),
            ];
            if let Some(parent) = c.parent_account {
                values.push(("parentcustomerid", Value::Guid(parent)));
                values.push(("parentcustomeridtype", s("account")));
            }
            self.put("contact", c.id, &values, Some(c.owner), now);
        }
        for l in seed.leads {
            self.put(
                "lead",
                l.id,
                &[
                    ("subject", s(&l.subject)),
                    ("firstname", s(&l.first_name)),
                    ("lastname", s(&l.last_name)),
                    ("emailaddress1", opt(&l.email)),
                    ("companyname", opt(&l.company_name)),
                    ("jobtitle", opt(&l.job_title)),
                    ("telephone1", opt(&l.phone)),
                    ("address1_city", opt(&l.city)),
                    ("address1_country", opt(&l.country)),
                    ("statecode", Value::Int(l.state)),
                    ("statuscode", Value::Int(l.status)),
                ],
                Some(l.owner),
                now,
            );
        }
        for o in seed.opportunities {
            self.put(
                "opportunity",
                o.id,
                &[
                    ("name", s(&o.name)),
                    ("customerid", Value::Guid(o.account)),
                    ("customeridtype", s("account")),
                    ("parentaccountid", Value::Guid(o.account)),
                    (
                        "parentcontactid",
                        o.contact.map_or(Value::Null, Value::Guid),
                    ),
                    ("statecode", Value::Int(o.state)),
                    ("statuscode", Value::Int(o.status)),
                    ("salesstage", Value::Int(o.sales_stage)),
                    ("salesstagecode", Value::Int(1)),
                    ("stepname", s(&o.step_name)),
                    ("estimatedvalue", Value::Decimal(o.estimated_value)),
                    (
                        "actualvalue",
                        o.actual_value.map_or(Value::Null, Value::Decimal),
                    ),
                    ("closeprobability", Value::Int(o.close_probability)),
                    ("estimatedclosedate", Value::Date(o.estimated_close_date)),
                    (
                        "actualclosedate",
                        o.actual_close_date.map_or(Value::Null, Value::Date),
                    ),
                    ("transactioncurrencyid", Value::Guid(self.base_currency)),
                ],
                Some(o.owner),
                now,
            );
        }
        self.store.commit();
    }
}

pub fn s(text: &str) -> Value {
    Value::String(text.into())
}

/// The first status reason of a state: what Dataverse applies when only the state is given.
pub fn default_status(def: &Table, state: i64) -> Option<i64> {
    def.attribute("statuscode")?
        .options
        .iter()
        .find(|o| o.state == Some(state))
        .map(|o| o.value)
}
