//! Table and column definitions (the emulator's `EntityDefinitions`): the built-in tables leadbridge
//! and Microsoft's SDK touch, custom tables created at run time, alternate keys, and the naming rules
//! (entity sets, `_x_value` lookups, navigation properties, privilege names) Dataverse follows.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::value::ValueKind;

/// A column's Dataverse attribute type (`AttributeType` in metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttrType {
    Uniqueidentifier,
    String,
    Memo,
    Integer,
    BigInt,
    Decimal,
    Money,
    Double,
    Boolean,
    DateTime,
    DateOnly,
    Picklist,
    State,
    Status,
    Lookup,
    Owner,
    Customer,
    /// The hidden companion of a polymorphic lookup holding the target table's logical name.
    EntityName,
}

impl AttrType {
    pub fn kind(self) -> ValueKind {
        match self {
            AttrType::Uniqueidentifier
            | AttrType::Lookup
            | AttrType::Owner
            | AttrType::Customer => ValueKind::Guid,
            AttrType::String | AttrType::Memo | AttrType::EntityName => ValueKind::String,
            AttrType::Integer
            | AttrType::BigInt
            | AttrType::Picklist
            | AttrType::State
            | AttrType::Status => ValueKind::Int,
            AttrType::Decimal | AttrType::Money | AttrType::Double => ValueKind::Decimal,
            AttrType::Boolean => ValueKind::Bool,
            AttrType::DateTime => ValueKind::DateTime,
            AttrType::DateOnly => ValueKind::Date,
        }
    }

    pub fn is_lookup(self) -> bool {
        matches!(
            self,
            AttrType::Lookup | AttrType::Owner | AttrType::Customer
        )
    }

    /// `AttributeType` as the metadata API names it.
    pub fn metadata_name(self) -> &'static str {
        match self {
            AttrType::Uniqueidentifier => "Uniqueidentifier",
            AttrType::String => "String",
            AttrType::Memo => "Memo",
            AttrType::Integer => "Integer",
            AttrType::BigInt => "BigInt",
            AttrType::Decimal => "Decimal",
            AttrType::Money => "Money",
            AttrType::Double => "Double",
            AttrType::Boolean => "Boolean",
            AttrType::DateTime | AttrType::DateOnly => "DateTime",
            AttrType::Picklist => "Picklist",
            AttrType::State => "State",
            AttrType::Status => "Status",
            AttrType::Lookup => "Lookup",
            AttrType::Owner => "Owner",
            AttrType::Customer => "Customer",
            AttrType::EntityName => "EntityName",
        }
    }

    /// The derived metadata type (`@odata.type` of the attribute).
    pub fn metadata_odata_type(self) -> &'static str {
        match self {
            AttrType::Uniqueidentifier => {
                "#Microsoft.Dynamics.CRM.UniqueIdentifierAttributeMetadata"
            }
            AttrType::String => "#Microsoft.Dynamics.CRM.StringAttributeMetadata",
            AttrType::Memo => "#Microsoft.Dynamics.CRM.MemoAttributeMetadata",
            AttrType::Integer => "#Microsoft.Dynamics.CRM.IntegerAttributeMetadata",
            AttrType::BigInt => "#Microsoft.Dynamics.CRM.BigIntAttributeMetadata",
            AttrType::Decimal => "#Microsoft.Dynamics.CRM.DecimalAttributeMetadata",
            AttrType::Money => "#Microsoft.Dynamics.CRM.MoneyAttributeMetadata",
            AttrType::Double => "#Microsoft.Dynamics.CRM.DoubleAttributeMetadata",
            AttrType::Boolean => "#Microsoft.Dynamics.CRM.BooleanAttributeMetadata",
            AttrType::DateTime | AttrType::DateOnly => {
                "#Microsoft.Dynamics.CRM.DateTimeAttributeMetadata"
            }
            AttrType::Picklist => "#Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
            AttrType::State => "#Microsoft.Dynamics.CRM.StateAttributeMetadata",
            AttrType::Status => "#Microsoft.Dynamics.CRM.StatusAttributeMetadata",
            AttrType::Lookup | AttrType::Owner | AttrType::Customer => {
                "#Microsoft.Dynamics.CRM.LookupAttributeMetadata"
            }
            AttrType::EntityName => "#Microsoft.Dynamics.CRM.EntityNameAttributeMetadata",
        }
    }

    /// The CSDL type of the property in `$metadata`.
    pub fn edm_type(self) -> &'static str {
        match self {
            AttrType::Uniqueidentifier
            | AttrType::Lookup
            | AttrType::Owner
            | AttrType::Customer => "Edm.Guid",
            AttrType::String | AttrType::Memo | AttrType::EntityName => "Edm.String",
            AttrType::Integer | AttrType::Picklist | AttrType::State | AttrType::Status => {
                "Edm.Int32"
            }
            AttrType::BigInt => "Edm.Int64",
            AttrType::Decimal | AttrType::Money => "Edm.Decimal",
            AttrType::Double => "Edm.Double",
            AttrType::Boolean => "Edm.Boolean",
            AttrType::DateTime => "Edm.DateTimeOffset",
            AttrType::DateOnly => "Edm.Date",
        }
    }
}

/// How much a column must be filled (`RequiredLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequiredLevel {
    None,
    ApplicationRequired,
    SystemRequired,
}

impl RequiredLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RequiredLevel::None => "None",
            RequiredLevel::ApplicationRequired => "ApplicationRequired",
            RequiredLevel::SystemRequired => "SystemRequired",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attribute {
    pub metadata_id: Uuid,
    pub logical_name: String,
    pub schema_name: String,
    pub display_name: String,
    pub attr_type: AttrType,
    pub max_length: Option<u32>,
    pub required: RequiredLevel,
    /// Tables a lookup may point to.
    pub targets: Vec<String>,
    /// Choice values and their labels (picklist, state, status; status values carry their state).
    pub options: Vec<OptionValue>,
    pub valid_for_create: bool,
    pub valid_for_update: bool,
    /// Internal companions (a polymorphic lookup's target table) are never shown.
    pub hidden: bool,
    pub is_custom: bool,
    /// Position of the column's value in a row.
    pub ordinal: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptionValue {
    pub value: i64,
    pub label: String,
    /// For status reasons: the state they belong to.
    pub state: Option<i64>,
}

impl Attribute {
    /// The property name queries and JSON use: `_x_value` for lookups, the logical name otherwise.
    pub fn property_name(&self) -> String {
        if self.attr_type.is_lookup() {
            format!("_{}_value", self.logical_name)
        } else {
            self.logical_name.clone()
        }
    }

    pub fn label_of(&self, value: i64) -> Option<&str> {
        self.options
            .iter()
            .find(|o| o.value == value)
            .map(|o| o.label.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ownership {
    UserOwned,
    OrganizationOwned,
    None,
}

impl Ownership {
    pub fn as_str(self) -> &'static str {
        match self {
            Ownership::UserOwned => "UserOwned",
            Ownership::OrganizationOwned => "OrganizationOwned",
            Ownership::None => "None",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlternateKey {
    pub metadata_id: Uuid,
    pub logical_name: String,
    pub schema_name: String,
    pub display_name: String,
    pub key_attributes: Vec<String>,
}

/// A collection-valued navigation property: rows of `referencing_table` whose `lookup` points here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OneToMany {
    pub schema_name: String,
    pub referencing_table: String,
    pub lookup: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Table {
    pub metadata_id: Uuid,
    pub logical_name: String,
    pub schema_name: String,
    pub entity_set_name: String,
    pub logical_collection_name: String,
    pub display_name: String,
    pub display_collection_name: String,
    pub description: String,
    pub primary_id: String,
    pub primary_name: String,
    pub object_type_code: i64,
    pub is_activity: bool,
    pub is_custom: bool,
    pub is_managed: bool,
    pub ownership: Ownership,
    pub change_tracking: bool,
    pub can_change_tracking_be_enabled: bool,
    pub attributes: Vec<Attribute>,
    pub keys: Vec<AlternateKey>,
    pub one_to_many: Vec<OneToMany>,
    /// Whether CreateMultiple/UpdateMultiple/UpsertMultiple are registered for the table.
    pub supports_bulk: bool,
    /// The solution a custom table was created in (`MSCRM.SolutionUniqueName`).
    pub solution: Option<String>,
    /// Logical name → ordinal; derived from `attributes` (`reindex` after reading a table back).
    #[serde(skip)]
    by_name: HashMap<String, usize>,
}

impl Table {
    pub fn attribute(&self, logical_name: &str) -> Option<&Attribute> {
        self.by_name.get(logical_name).map(|&i| &self.attributes[i])
    }

    /// Resolves a property name as used on the wire (`name`, `_ownerid_value`).
    pub fn property(&self, name: &str) -> Option<&Attribute> {
        let logical = match name
            .strip_prefix('_')
            .and_then(|n| n.strip_suffix("_value"))
        {
            Some(inner) => {
                let attr = self.attribute(inner)?;
                return attr.attr_type.is_lookup().then_some(attr);
            }
            None => name,
        };
        self.attribute(logical)
            .filter(|a| !a.attr_type.is_lookup() && !a.hidden)
    }

    pub fn ordinal(&self, logical_name: &str) -> Option<usize> {
        self.by_name.get(logical_name).copied()
    }

    pub fn primary_id_ordinal(&self) -> usize {
        self.by_name[&self.primary_id]
    }

    /// The hidden column holding a polymorphic lookup's target table.
    pub fn lookup_type_ordinal(&self, lookup: &str) -> Option<usize> {
        self.ordinal(&format!("{lookup}type"))
            .filter(|&i| self.attributes[i].attr_type == AttrType::EntityName)
    }

    /// Appends a column (custom columns are added at run time); rows read it as null.
    pub fn push_attribute(&mut self, mut attribute: Attribute) {
        attribute.ordinal = self.attributes.len();
        self.by_name
            .insert(attribute.logical_name.clone(), attribute.ordinal);
        self.attributes.push(attribute);
    }

    /// Rebuilds the name index from the columns as they are (a deleted column keeps its
    /// ordinal; a later column with its name wins), after the table is read back from disk.
    pub fn reindex(&mut self) {
        self.by_name = self
            .attributes
            .iter()
            .map(|a| (a.logical_name.clone(), a.ordinal))
            .collect();
    }

    /// Replaces the column list (after a rename), keeping the ordinals in list order.
    pub fn rebuild_names(&mut self, attributes: Vec<Attribute>) {
        self.attributes.clear();
        self.by_name.clear();
        for a in attributes {
            self.push_attribute(a);
        }
    }

    /// The privilege-name suffix: `prvRead<suffix>`. Activities share activitypointer's.
    pub fn privilege_suffix(&self) -> String {
        if self.is_activity {
            return "Activity".into();
        }
        match self.logical_name.as_str() {
            "annotation" => "Note".into(),
            "systemuser" => "User".into(),
            "sdkmessagefilter" | "sdkmessage" => "SdkMessage".into(),
            _ => self.schema_name.clone(),
        }
    }

    /// Single-valued navigation properties: (name, lookup logical name, target table).
    pub fn navigation_properties(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for a in self.attributes.iter().filter(|a| a.attr_type.is_lookup()) {
            if a.logical_name == "regardingobjectid" {
                for t in &a.targets {
                    out.push((
                        format!("regardingobjectid_{t}_{}", self.logical_name),
                        a.logical_name.clone(),
                        t.clone(),
                    ));
                }
            } else if a.targets.len() > 1 {
                // Dataverse binds an owner as `ownerid@odata.bind` (its navigation property is
                // typed `principal`); a user is what gets assigned in practice.
                if a.attr_type == AttrType::Owner {
                    out.push((
                        a.logical_name.clone(),
                        a.logical_name.clone(),
                        "systemuser".into(),
                    ));
                }
                for t in &a.targets {
                    out.push((
                        format!("{}_{t}", a.logical_name),
                        a.logical_name.clone(),
                        t.clone(),
                    ));
                }
            } else if let Some(t) = a.targets.first() {
                out.push((a.logical_name.clone(), a.logical_name.clone(), t.clone()));
            }
        }
        out
    }

    /// Finds the lookup and target table a navigation property (used in `@odata.bind`) names.
    pub fn navigation_property(&self, nav: &str) -> Option<(String, String)> {
        self.navigation_properties()
            .into_iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(nav))
            .map(|(_, lookup, target)| (lookup, target))
    }
}

/// Builds a table definition; `TableBuilder::build` fills the columns every table has.
pub struct TableBuilder {
    table: Table,
}

/// A namespace-derived stable id, so metadata ids do not change between runs.
pub fn stable_id(parts: &[&str]) -> Uuid {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

pub struct TableSpec<'a> {
    pub logical_name: &'a str,
    pub schema_name: &'a str,
    pub entity_set_name: &'a str,
    pub display_name: &'a str,
    pub display_collection_name: &'a str,
    pub object_type_code: i64,
    pub ownership: Ownership,
    pub primary_name: &'a str,
    pub primary_name_length: u32,
}

impl TableBuilder {
    pub fn new(spec: TableSpec<'_>) -> Self {
        let primary_id = if spec.logical_name == "activitypointer" {
            "activityid".to_string()
        } else {
            format!("{}id", spec.logical_name)
        };
        let mut b = TableBuilder {
            table: Table {
                metadata_id: stable_id(&["table", spec.logical_name]),
                logical_name: spec.logical_name.into(),
                schema_name: spec.schema_name.into(),
                entity_set_name: spec.entity_set_name.into(),
                logical_collection_name: spec.entity_set_name.into(),
                display_name: spec.display_name.into(),
                display_collection_name: spec.display_collection_name.into(),
                description: String::new(),
                primary_id: primary_id.clone(),
                primary_name: spec.primary_name.into(),
                object_type_code: spec.object_type_code,
                is_activity: false,
                is_custom: false,
                is_managed: false,
                ownership: spec.ownership,
                change_tracking: false,
                can_change_tracking_be_enabled: true,
                attributes: Vec::new(),
                keys: Vec::new(),
                one_to_many: Vec::new(),
                supports_bulk: true,
                solution: None,
                by_name: HashMap::new(),
            },
        };
        b = b.col(&primary_id, AttrType::Uniqueidentifier, None);
        b.last_mut().valid_for_update = false;
        if !spec.primary_name.is_empty() && spec.primary_name != primary_id {
            b = b.col(
                spec.primary_name,
                AttrType::String,
                Some(spec.primary_name_length),
            );
        }
        b
    }

    fn last_mut(&mut self) -> &mut Attribute {
        let n = self.table.attributes.len() - 1;
        &mut self.table.attributes[n]
    }

    pub fn col(mut self, logical_name: &str, attr_type: AttrType, max_length: Option<u32>) -> Self {
        let table = self.table.logical_name.clone();
        self.table.push_attribute(Attribute {
            metadata_id: stable_id(&["attribute", &table, logical_name]),
            logical_name: logical_name.into(),
            schema_name: schema_name_of(logical_name),
            display_name: display_name_of(&table, logical_name),
            attr_type,
            max_length,
            required: RequiredLevel::None,
            targets: Vec::new(),
            options: Vec::new(),
            valid_for_create: true,
            valid_for_update: true,
            hidden: false,
            is_custom: false,
            ordinal: 0,
        });
        self
    }

    pub fn string(self, name: &str, max: u32) -> Self {
        self.col(name, AttrType::String, Some(max))
    }

    pub fn memo(self, name: &str, max: u32) -> Self {
        self.col(name, AttrType::Memo, Some(max))
    }

    pub fn lookup(mut self, name: &str, targets: &[&str]) -> Self {
        let attr_type = match name {
            "ownerid" => AttrType::Owner,
            _ if targets.len() > 1
                && targets.contains(&"account")
                && targets.contains(&"contact") =>
            {
                AttrType::Customer
            }
            _ => AttrType::Lookup,
        };
        self = self.col(name, attr_type, None);
        self.last_mut().targets = targets.iter().map(|t| t.to_string()).collect();
        if targets.len() > 1 {
            self = self.col(&format!("{name}type"), AttrType::EntityName, None);
            self.last_mut().hidden = true;
        }
        self
    }

    pub fn choice(mut self, name: &str, attr_type: AttrType, options: &[(i64, &str)]) -> Self {
        self = self.col(name, attr_type, None);
        self.last_mut().options = options
            .iter()
            .map(|(v, l)| OptionValue {
                value: *v,
                label: l.to_string(),
                state: None,
            })
            .collect();
        self
    }

    /// `statecode` and `statuscode` with status reasons tied to their states.
    pub fn state_status(mut self, states: &[(i64, &str)], statuses: &[(i64, &str, i64)]) -> Self {
        self = self.choice("statecode", AttrType::State, states);
        self.last_mut().valid_for_create = false;
        self = self.col("statuscode", AttrType::Status, None);
        self.last_mut().options = statuses
            .iter()
            .map(|(v, l, s)| OptionValue {
                value: *v,
                label: l.to_string(),
                state: Some(*s),
            })
            .collect();
        self
    }

    pub fn required(mut self) -> Self {
        self.last_mut().required = RequiredLevel::ApplicationRequired;
        self
    }

    pub fn read_only(mut self) -> Self {
        let a = self.last_mut();
        a.valid_for_create = false;
        a.valid_for_update = false;
        self
    }

    pub fn create_only(mut self) -> Self {
        self.last_mut().valid_for_update = false;
        self
    }

    /// Marks an activity table: every activity, system or custom, keys on `activityid`.
    pub fn activity(mut self) -> Self {
        self.table.is_activity = true;
        let old = std::mem::replace(&mut self.table.primary_id, "activityid".into());
        if let Some(o) = self.table.ordinal(&old) {
            let mut attrs = std::mem::take(&mut self.table.attributes);
            attrs[o].logical_name = "activityid".into();
            attrs[o].schema_name = "ActivityId".into();
            self.table.rebuild_names(attrs);
        }
        self
    }

    pub fn tracked(mut self) -> Self {
        self.table.change_tracking = true;
        self
    }

    pub fn no_bulk(mut self) -> Self {
        self.table.supports_bulk = false;
        self
    }

    pub fn one_to_many(mut self, schema_name: &str, referencing_table: &str, lookup: &str) -> Self {
        self.table.one_to_many.push(OneToMany {
            schema_name: schema_name.into(),
            referencing_table: referencing_table.into(),
            lookup: lookup.into(),
        });
        self
    }

    /// Adds the audit and ownership columns every table of its ownership type has.
    pub fn build(mut self) -> Table {
        self = self
            .col("createdon", AttrType::DateTime, None)
            .read_only()
            .col("modifiedon", AttrType::DateTime, None)
            .read_only()
            .col("overriddencreatedon", AttrType::DateTime, None)
            .create_only()
            .lookup("createdby", &["systemuser"])
            .read_only()
            .lookup("modifiedby", &["systemuser"])
            .read_only()
            .lookup("createdonbehalfby", &["systemuser"])
            .read_only()
            .lookup("modifiedonbehalfby", &["systemuser"])
            .read_only()
            .col("versionnumber", AttrType::BigInt, None)
            .read_only();
        if self.table.ownership == Ownership::UserOwned {
            self = self
                .lookup("ownerid", &["systemuser", "team"])
                .lookup("owninguser", &["systemuser"])
                .read_only()
                .lookup("owningbusinessunit", &["businessunit"])
                .read_only();
        } else if self.table.ownership == Ownership::OrganizationOwned {
            self = self.lookup("organizationid", &["organization"]).read_only();
        }
        self.table
    }
}

/// `parentcustomerid` → `ParentCustomerId`-like schema names for built-in columns.
fn schema_name_of(logical_name: &str) -> String {
    let mut out = String::with_capacity(logical_name.len());
    let mut upper = true;
    for c in logical_name.chars() {
        if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The label a Dynamics 365 Sales org shows for a built-in column (its `DisplayName`), so that code
/// and people reading `EntityDefinitions` see "Est. Revenue", not "Estimatedvalue". Columns the
/// table below does not know (custom ones, mostly) get their schema name, as a maker who typed only
/// a name would.
fn display_name_of(table: &str, logical_name: &str) -> String {
    let specific = match (table, logical_name) {
        ("account", "name") => Some("Account Name"),
        ("account", "telephone1") => Some("Main Phone"),
        ("account", "parentaccountid") => Some("Parent Account"),
        ("opportunity", "name") => Some("Topic"),
        ("opportunity", "parentaccountid") => Some("Account"),
        ("opportunity", "parentcontactid") => Some("Contact"),
        ("lead", "subject") => Some("Topic"),
        ("lead", "parentaccountid") => Some("Parent Account for lead"),
        ("lead", "parentcontactid") => Some("Parent Contact for lead"),
        ("systemuser", "isdisabled") => Some("Status"),
        ("systemuser", "fullname") => Some("Full Name"),
        ("annotation", "notetext") => Some("Description"),
        ("annotation", "subject") => Some("Title"),
        _ => None,
    };
    if let Some(label) = specific {
        return label.into();
    }
    let common = match logical_name {
        "accountnumber" => "Account Number",
        "actualclosedate" => "Actual Close Date",
        "actualvalue" => "Actual Revenue",
        "actualstart" => "Actual Start",
        "actualend" => "Actual End",
        "actualdurationminutes" => "Actual Duration",
        "activitytypecode" => "Activity Type",
        "address1_city" => "Address 1: City",
        "address1_country" => "Address 1: Country/Region",
        "address1_line1" => "Address 1: Street 1",
        "address1_postalcode" => "Address 1: ZIP/Postal Code",
        "address1_stateorprovince" => "Address 1: State/Province",
        "budgetamount" => "Budget Amount",
        "closeprobability" => "Probability",
        "companyname" => "Company Name",
        "createdby" => "Created By",
        "createdon" => "Created On",
        "customerid" => "Potential Customer",
        "description" => "Description",
        "domainname" => "User Name",
        "emailaddress1" => "Email",
        "emailaddress2" => "Email Address 2",
        "estimatedclosedate" => "Est. Close Date",
        "estimatedvalue" => "Est. Revenue",
        "exchangerate" => "Exchange Rate",
        "filename" => "File Name",
        "filesize" => "File Size (Bytes)",
        "firstname" => "First Name",
        "fullname" => "Full Name",
        "industrycode" => "Industry",
        "internalemailaddress" => "Primary Email",
        "isdocument" => "Is Document",
        "isregularactivity" => "Is Regular Activity",
        "jobtitle" => "Job Title",
        "lastname" => "Last Name",
        "middlename" => "Middle Name",
        "mimetype" => "Mime Type",
        "mobilephone" => "Mobile Phone",
        "modifiedby" => "Modified By",
        "modifiedon" => "Modified On",
        "numberofemployees" => "Number of Employees",
        "ownerid" => "Owner",
        "owningbusinessunit" => "Owning Business Unit",
        "owninguser" => "Owning User",
        "parentcustomerid" => "Company Name",
        "primarycontactid" => "Primary Contact",
        "prioritycode" => "Priority",
        "regardingobjectid" => "Regarding",
        "revenue" => "Annual Revenue",
        "salesstage" => "Sales Stage",
        "salesstagecode" => "Process Code",
        "scheduledend" => "Due Date",
        "scheduledstart" => "Start Date",
        "statecode" => "Status",
        "statuscode" => "Status Reason",
        "stepname" => "Pipeline Phase",
        "subject" => "Subject",
        "telephone1" => "Business Phone",
        "title" => "Title",
        "transactioncurrencyid" => "Currency",
        "versionnumber" => "Version Number",
        "websiteurl" => "Website",
        _ => return schema_name_of(logical_name),
    };
    common.into()
}

/// The activity columns every activity table (activitypointer, task, email, custom activities) has.
pub fn activity_columns(b: TableBuilder, regarding_targets: &[&str]) -> TableBuilder {
    b.memo("description", 2000)
        .lookup("regardingobjectid", regarding_targets)
        .col("scheduledstart", AttrType::DateTime, None)
        .col("scheduledend", AttrType::DateTime, None)
        .col("actualstart", AttrType::DateTime, None)
        .col("actualend", AttrType::DateTime, None)
        .col("actualdurationminutes", AttrType::Integer, None)
        .string("activitytypecode", 64)
        .read_only()
        .choice(
            "prioritycode",
            AttrType::Picklist,
            &[(0, "Low"), (1, "Normal"), (2, "High")],
        )
        .col("isregularactivity", AttrType::Boolean, None)
        .read_only()
        .state_status(
            &[
                (0, "Open"),
                (1, "Completed"),
                (2, "Canceled"),
                (3, "Scheduled"),
            ],
            &[
                (1, "Open", 0),
                (2, "Completed", 1),
                (3, "Canceled", 2),
                (4, "Scheduled", 3),
            ],
        )
}

/// The tables a regarding lookup may point to, for system and custom activities.
pub const REGARDING_TARGETS: &[&str] = &["account", "contact", "lead", "opportunity"];

/// The built-in tables of a Dynamics 365 Sales org, as far as leadbridge and the SDK reach.
pub fn builtin_tables() -> Vec<Table> {
    use AttrType::*;
    use Ownership::{OrganizationOwned, UserOwned};
    let spec = |logical_name,
                schema_name,
                entity_set_name,
                display_name,
                display_collection_name,
                object_type_code,
                ownership,
                primary_name,
                primary_name_length| TableSpec {
        logical_name,
        schema_name,
        entity_set_name,
        display_name,
        display_collection_name,
        object_type_code,
        ownership,
        primary_name,
        primary_name_length,
    };
    let active_inactive_states = [(0, "Active"), (1, "Inactive")];
    let active_inactive_statuses = [(1, "Active", 0), (2, "Inactive", 1)];

    let account = TableBuilder::new(spec(
        "account", "Account", "accounts", "Account", "Accounts", 1, UserOwned, "name", 160,
    ))
    .string("accountnumber", 20)
    .string("websiteurl", 200)
    .string("telephone1", 50)
    .string("emailaddress1", 100)
    .string("address1_line1", 250)
    .string("address1_city", 80)
    .string("address1_postalcode", 20)
    .string("address1_stateorprovince", 50)
    .string("address1_country", 80)
    .choice(
        "industrycode",
        Picklist,
        &INDUSTRIES.iter().map(|(v, l)| (*v, *l)).collect::<Vec<_>>(),
    )
    .col("numberofemployees", Integer, None)
    .col("revenue", Money, None)
    .lookup("parentaccountid", &["account"])
    .lookup("primarycontactid", &["contact"])
    .lookup("transactioncurrencyid", &["transactioncurrency"])
    .memo("description", 2000)
    .state_status(&active_inactive_states, &active_inactive_statuses)
    .one_to_many("contact_customer_accounts", "contact", "parentcustomerid")
    .one_to_many("opportunity_customer_accounts", "opportunity", "customerid")
    .one_to_many(
        "opportunity_parent_account",
        "opportunity",
        "parentaccountid",
    )
    .one_to_many("Account_Tasks", "task", "regardingobjectid")
    .one_to_many("Account_Emails", "email", "regardingobjectid")
    .tracked()
    .build();

    let contact = TableBuilder::new(spec(
        "contact", "Contact", "contacts", "Contact", "Contacts", 2, UserOwned, "fullname", 160,
    ))
    .read_only()
    .string("firstname", 50)
    .string("lastname", 50)
    .string("middlename", 50)
    .string("emailaddress1", 100)
    .string("emailaddress2", 100)
    .string("jobtitle", 100)
    .string("telephone1", 50)
    .string("mobilephone", 50)
    .string("address1_city", 80)
    .string("address1_country", 80)
    .lookup("parentcustomerid", &["account", "contact"])
    .lookup("transactioncurrencyid", &["transactioncurrency"])
    .memo("description", 2000)
    .state_status(&active_inactive_states, &active_inactive_statuses)
    .one_to_many(
        "opportunity_parent_contact",
        "opportunity",
        "parentcontactid",
    )
    .one_to_many("opportunity_customer_contacts", "opportunity", "customerid")
    .one_to_many("Contact_Tasks", "task", "regardingobjectid")
    .one_to_many("Contact_Emails", "email", "regardingobjectid")
    .tracked()
    .build();

    let lead = TableBuilder::new(spec(
        "lead", "Lead", "leads", "Lead", "Leads", 4, UserOwned, "fullname", 160,
    ))
    .read_only()
    .string("subject", 300)
    .string("firstname", 50)
    .string("lastname", 50)
    .string("emailaddress1", 100)
    .string("companyname", 100)
    .string("jobtitle", 100)
    .string("telephone1", 50)
    .string("address1_city", 80)
    .string("address1_country", 80)
    .lookup("parentaccountid", &["account"])
    .lookup("parentcontactid", &["contact"])
    .lookup("transactioncurrencyid", &["transactioncurrency"])
    .memo("description", 2000)
    .state_status(
        &[(0, "Open"), (1, "Qualified"), (2, "Disqualified")],
        &[
            (1, "New", 0),
            (2, "Contacted", 0),
            (3, "Qualified", 1),
            (4, "Lost", 2),
            (5, "Cannot Contact", 2),
            (6, "No Longer Interested", 2),
            (7, "Canceled", 2),
        ],
    )
    .tracked()
    .build();

    let opportunity = TableBuilder::new(spec(
        "opportunity",
        "Opportunity",
        "opportunities",
        "Opportunity",
        "Opportunities",
        3,
        UserOwned,
        "name",
        300,
    ))
    .required()
    .lookup("customerid", &["account", "contact"])
    .lookup("parentaccountid", &["account"])
    .lookup("parentcontactid", &["contact"])
    .lookup("originatingleadid", &["lead"])
    .lookup("transactioncurrencyid", &["transactioncurrency"])
    .choice(
        "salesstage",
        Picklist,
        &[(0, "Qualify"), (1, "Develop"), (2, "Propose"), (3, "Close")],
    )
    .choice("salesstagecode", Picklist, &[(1, "Default Value")])
    .string("stepname", 200)
    .col("estimatedvalue", Money, None)
    .col("actualvalue", Money, None)
    .col("budgetamount", Money, None)
    .col("estimatedclosedate", DateOnly, None)
    .col("actualclosedate", DateOnly, None)
    .col("closeprobability", Integer, None)
    .memo("description", 2000)
    .state_status(
        &[(0, "Open"), (1, "Won"), (2, "Lost")],
        &[
            (1, "In Progress", 0),
            (2, "On Hold", 0),
            (3, "Won", 1),
            (4, "Canceled", 2),
            (5, "Out-Sold", 2),
        ],
    )
    .tracked()
    .build();

    let systemuser = TableBuilder::new(spec(
        "systemuser",
        "SystemUser",
        "systemusers",
        "User",
        "Users",
        8,
        Ownership::None,
        "fullname",
        200,
    ))
    .read_only()
    .string("firstname", 64)
    .string("lastname", 64)
    .string("internalemailaddress", 100)
    .string("domainname", 1024)
    .string("title", 128)
    .col("isdisabled", Boolean, None)
    .col("azureactivedirectoryobjectid", Uniqueidentifier, None)
    .col("applicationid", Uniqueidentifier, None)
    .string("applicationiduri", 1024)
    .choice(
        "accessmode",
        Picklist,
        &[
            (0, "Read-Write"),
            (1, "Administrative"),
            (2, "Read"),
            (3, "Support User"),
            (4, "Non-interactive"),
            (5, "Delegated Admin"),
        ],
    )
    .lookup("businessunitid", &["businessunit"])
    .one_to_many("user_accounts", "account", "owninguser")
    .one_to_many("user_opportunities", "opportunity", "owninguser")
    .tracked()
    .build();

    let businessunit = TableBuilder::new(spec(
        "businessunit",
        "BusinessUnit",
        "businessunits",
        "Business Unit",
        "Business Units",
        10,
        Ownership::None,
        "name",
        160,
    ))
    .lookup("parentbusinessunitid", &["businessunit"])
    .col("isdisabled", Boolean, None)
    .build();

    let organization = TableBuilder::new(spec(
        "organization",
        "Organization",
        "organizations",
        "Organization",
        "Organizations",
        1019,
        Ownership::None,
        "name",
        160,
    ))
    .col("expirechangetrackingindays", Integer, None)
    .lookup("basecurrencyid", &["transactioncurrency"])
    .col("languagecode", Integer, None)
    .no_bulk()
    .build();

    let role = TableBuilder::new(spec(
        "role",
        "Role",
        "roles",
        "Security Role",
        "Security Roles",
        1036,
        Ownership::None,
        "name",
        100,
    ))
    .lookup("businessunitid", &["businessunit"])
    .no_bulk()
    .build();

    let currency = TableBuilder::new(spec(
        "transactioncurrency",
        "TransactionCurrency",
        "transactioncurrencies",
        "Currency",
        "Currencies",
        9105,
        OrganizationOwned,
        "currencyname",
        100,
    ))
    .string("isocurrencycode", 5)
    .string("currencysymbol", 10)
    .col("exchangerate", Decimal, None)
    .no_bulk()
    .build();

    let activitypointer = activity_columns(
        TableBuilder::new(spec(
            "activitypointer",
            "ActivityPointer",
            "activitypointers",
            "Activity",
            "Activities",
            4200,
            UserOwned,
            "subject",
            400,
        )),
        REGARDING_TARGETS,
    )
    .activity()
    .no_bulk()
    .build();

    let task = activity_columns(
        TableBuilder::new(spec(
            "task", "Task", "tasks", "Task", "Tasks", 4212, UserOwned, "subject", 200,
        )),
        REGARDING_TARGETS,
    )
    .activity()
    .build();

    let email = activity_columns(
        TableBuilder::new(spec(
            "email",
            "Email",
            "emails",
            "Email",
            "Email Messages",
            4202,
            UserOwned,
            "subject",
            200,
        )),
        REGARDING_TARGETS,
    )
    .col("directioncode", Boolean, None)
    .string("sender", 250)
    .activity()
    .build();

    let annotation = TableBuilder::new(spec(
        "annotation",
        "Annotation",
        "annotations",
        "Note",
        "Notes",
        5,
        UserOwned,
        "subject",
        500,
    ))
    .memo("notetext", 100_000)
    .lookup(
        "objectid",
        &["account", "contact", "lead", "opportunity", "task", "email"],
    )
    .string("objecttypecode", 64)
    .col("isdocument", Boolean, None)
    .string("filename", 255)
    .string("mimetype", 256)
    .memo("documentbody", 1_073_741_823)
    .col("filesize", Integer, None)
    .read_only()
    .build();

    let activityparty = TableBuilder::new(spec(
        "activityparty",
        "ActivityParty",
        "activityparties",
        "Activity Party",
        "Activity Parties",
        135,
        Ownership::None,
        "",
        0,
    ))
    .lookup("activityid", &["activitypointer"])
    .lookup("partyid", &["account", "contact", "lead", "systemuser"])
    .choice(
        "participationtypemask",
        Picklist,
        &[
            (1, "Sender"),
            (2, "To Recipient"),
            (3, "CC Recipient"),
            (4, "BCC Recipient"),
            (5, "Required attendee"),
            (6, "Optional attendee"),
            (7, "Organizer"),
            (8, "Regarding"),
            (9, "Owner"),
            (10, "Resource"),
            (11, "Customer"),
            (12, "Chat Participant"),
        ],
    )
    .string("addressused", 320)
    .no_bulk()
    .build();

    let publisher = TableBuilder::new(spec(
        "publisher",
        "Publisher",
        "publishers",
        "Publisher",
        "Publishers",
        7101,
        OrganizationOwned,
        "friendlyname",
        256,
    ))
    .string("uniquename", 256)
    .string("customizationprefix", 8)
    .col("customizationoptionvalueprefix", Integer, None)
    .memo("description", 2000)
    .no_bulk()
    .build();

    let solution = TableBuilder::new(spec(
        "solution",
        "Solution",
        "solutions",
        "Solution",
        "Solutions",
        7100,
        OrganizationOwned,
        "friendlyname",
        256,
    ))
    .string("uniquename", 65)
    .create_only()
    .string("version", 256)
    .col("ismanaged", Boolean, None)
    .read_only()
    .col("isvisible", Boolean, None)
    .col("installedon", DateTime, None)
    .read_only()
    .choice(
        "solutiontype",
        Picklist,
        &[(0, "None"), (1, "Snapshot"), (2, "Internal")],
    )
    .lookup("publisherid", &["publisher"])
    .memo("description", 2000)
    .no_bulk()
    .build();

    let sdkmessage = TableBuilder::new(spec(
        "sdkmessage",
        "SdkMessage",
        "sdkmessages",
        "Sdk Message",
        "Sdk Messages",
        4606,
        OrganizationOwned,
        "name",
        256,
    ))
    .no_bulk()
    .build();

    let sdkmessagefilter = TableBuilder::new(spec(
        "sdkmessagefilter",
        "SdkMessageFilter",
        "sdkmessagefilters",
        "Sdk Message Filter",
        "Sdk Message Filters",
        4607,
        OrganizationOwned,
        "name",
        256,
    ))
    .lookup("sdkmessageid", &["sdkmessage"])
    .string("primaryobjecttypecode", 64)
    .string("secondaryobjecttypecode", 64)
    .col("iscustomprocessingstepallowed", Boolean, None)
    .col("isvisible", Boolean, None)
    .no_bulk()
    .build();

    vec![
        account,
        contact,
        lead,
        opportunity,
        systemuser,
        businessunit,
        organization,
        role,
        currency,
        activitypointer,
        task,
        email,
        annotation,
        activityparty,
        publisher,
        solution,
        sdkmessage,
        sdkmessagefilter,
    ]
}

/// Dynamics' `industrycode` choices.
pub const INDUSTRIES: &[(i64, &str)] = &[
    (1, "Accounting"),
    (2, "Agriculture and Non-petrol Natural Resource Extraction"),
    (3, "Broadcasting Printing and Publishing"),
    (4, "Brokers"),
    (5, "Building Supply Retail"),
    (6, "Business Services"),
    (7, "Consulting"),
    (8, "Consumer Services"),
    (9, "Design, Direction and Creative Management"),
    (10, "Distributors, Dispatchers and Processors"),
    (11, "Doctor's Offices and Clinics"),
    (12, "Durable Manufacturing"),
    (13, "Eating and Drinking Places"),
    (14, "Entertainment Retail"),
    (15, "Equipment Rental and Leasing"),
    (16, "Financial"),
    (17, "Food and Tobacco Processing"),
    (18, "Inbound Capital Intensive Processing"),
    (19, "Inbound Repair and Services"),
    (20, "Insurance"),
    (21, "Legal Services"),
    (22, "Non-Durable Merchandise Retail"),
    (23, "Outbound Consumer Service"),
    (24, "Petrochemical Extraction and Distribution"),
    (25, "Service Retail"),
    (26, "SIG Affiliations"),
    (27, "Social Services"),
    (28, "Special Outbound Trade Contractors"),
    (29, "Specialty Realty"),
    (30, "Transportation"),
    (31, "Utility Creation and Distribution"),
    (32, "Vehicle Retail"),
    (33, "Wholesale"),
];
