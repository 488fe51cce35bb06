//! Microsoft Dynamics 365 (Dataverse) behind the [`Crm`] trait, on the `dataverse` client: which
//! columns are read, how rows become mirror rows, and how an activity is written by our key.
//!
//! Everything Dataverse-specific the engine relies on is here: table and column names, the
//! companion app's tables and alternate key, the pre-flight facts and how the org reports them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use dataverse::auth::{Auth, Authority, ClientCredentials, UserSignIn};
use dataverse::preflight::Status;
use dataverse::query::entity_path;
use dataverse::writes::Upserted;
use dataverse::{
    Change, Client, ClientConfig, CompanionState, ConnectionMessage, Key, PageOptions, Request,
    Row, Table,
};
use domain::activity::ActivityKind;
use domain::crm::{
    CompanionApp, CrmAccount, CrmContact, CrmLead, CrmOpportunity, CrmOwner, CrmTable, CrmUser,
    Money, OpportunityState, StageOption,
};
use domain::ids::{
    CrmAccountId, CrmActivityId, CrmContactId, CrmCurrencyId, CrmLeadId, CrmOpportunityId,
    CrmTeamId, CrmUserId,
};
use domain::settings::MoneyColumn;
use domain::writeback::{CrmActivityState, ExternalKey, Regarding, WritebackPlan};
use futures_util::{StreamExt, TryStreamExt};
use http::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    CheckOutcome, ConnectionProblem, ConnectionTarget, Credentials, Crm, CrmActivityRow,
    CrmConnector, CrmError, CrmErrorKind, CrmIdentity, CrmPage, Deleted, NewCrmPerson, Pages,
    Preflight, PreflightCheck, Read, RowCount, SignInStarted, TransportCounts,
};

/// The alternate-key column of the companion app's activity tables.
const EXTERNAL_KEY_COLUMN: &str = dataverse::companion::EXTERNAL_KEY;

/// How Dynamics connections are made: what to trust, how big a page is, and the app registration
/// admins sign in through.
#[derive(Clone, Debug)]
pub struct DynamicsConfig {
    /// PEM certificates trusted besides the system's (the emulator's CA).
    pub extra_ca_pems: Vec<String>,
    /// Accept an org outside Dynamics 365 online (the emulator on 127.0.0.1). Tests and the demo.
    pub allow_non_dynamics_host: bool,
    /// Rows per page when reading tables (at most 5000).
    pub page_size: u32,
    pub sign_in: Option<SignInApp>,
}

impl Default for DynamicsConfig {
    fn default() -> Self {
        DynamicsConfig {
            extra_ca_pems: Vec::new(),
            allow_non_dynamics_host: false,
            page_size: 5000,
            sign_in: None,
        }
    }
}

/// leadbridge's own Entra app registration, for admins who connect by signing in.
#[derive(Clone, Debug)]
pub struct SignInApp {
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub redirect_uri: String,
    /// `organizations` for the multi-tenant app; a tenant id or domain to pin one.
    pub entra_tenant: String,
}

fn problem_of(message: ConnectionMessage) -> ConnectionProblem {
    match message {
        ConnectionMessage::CannotConnect => ConnectionProblem::CannotConnect,
        ConnectionMessage::ApiError => ConnectionProblem::ApiError,
        ConnectionMessage::InsufficientPrivileges => ConnectionProblem::InsufficientPrivileges,
        ConnectionMessage::ObjectsUnreadable => ConnectionProblem::ObjectsUnreadable,
    }
}

/// Writeback needs every component of the app; an older version still works.
fn companion_app_of(state: &CompanionState) -> CompanionApp {
    match (&state.version, state.installed()) {
        (Some(version), true) => CompanionApp::Installed {
            version: version.clone(),
        },
        _ => CompanionApp::Missing,
    }
}

pub(crate) fn crm_error(e: dataverse::Error) -> CrmError {
    use dataverse::Error as E;
    let kind = match &e {
        E::CannotConnect { .. } => CrmErrorKind::CannotConnect,
        E::CrmApi(_) => CrmErrorKind::Api,
        E::InsufficientPrivileges(_) => CrmErrorKind::Privileges,
        E::ObjectsUnreadable(_) => CrmErrorKind::ObjectsUnreadable,
        E::Throttled { .. } => CrmErrorKind::Throttled,
        E::DeltaExpired(_) => CrmErrorKind::DeltaExpired,
        E::NotFound(_) => CrmErrorKind::NotFound,
        E::Conflict(_) => CrmErrorKind::Conflict,
        E::Validation(_) => CrmErrorKind::Rejected,
        E::Auth(_) => CrmErrorKind::Credentials,
        E::Config(_) | E::InvalidInput(_) => CrmErrorKind::Config,
    };
    let retry_after = match &e {
        E::Throttled { retry_after, .. } => *retry_after,
        _ => None,
    };
    CrmError {
        kind,
        detail: e.to_string(),
        retry_after,
    }
}

fn authority(url: Option<&str>, tenant: &str) -> Result<Authority, CrmError> {
    match url {
        None => Ok(Authority::new(tenant)),
        Some(url) => {
            let parsed = url::Url::parse(url).map_err(|e| {
                CrmError::new(
                    CrmErrorKind::Config,
                    format!("the sign-in authority {url} is not a URL: {e}"),
                )
            })?;
            Ok(Authority::with_url(parsed, tenant))
        }
    }
}

/// Opens Dynamics connections.
#[derive(Clone, Debug, Default)]
pub struct Dynamics {
    pub config: DynamicsConfig,
}

impl Dynamics {
    pub fn new(config: DynamicsConfig) -> Dynamics {
        Dynamics { config }
    }

    fn sign_in_app(&self, authority_url: Option<&str>) -> Result<UserSignIn, CrmError> {
        let app = self.config.sign_in.as_ref().ok_or_else(|| {
            CrmError::new(
                CrmErrorKind::Config,
                "signing in to Microsoft Dynamics is not configured on this server; connect with an application user",
            )
        })?;
        Ok(UserSignIn {
            authority: authority(authority_url, &app.entra_tenant)?,
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.clone(),
            redirect_uri: app.redirect_uri.clone(),
        })
    }

    fn client(&self, org_url: &str, auth: Auth) -> Result<Client, CrmError> {
        let mut config = ClientConfig::new(org_url, auth);
        config.extra_ca_pems = self.config.extra_ca_pems.clone();
        config.allow_non_dynamics_host = self.config.allow_non_dynamics_host;
        Client::new(config).map_err(crm_error)
    }

    /// A connection with stored credentials.
    pub fn open_dynamics(&self, target: &ConnectionTarget) -> Result<DynamicsCrm, CrmError> {
        let auth = match &target.credentials {
            Credentials::ApplicationUser {
                entra_tenant,
                client_id,
                client_secret,
            } => Auth::ClientCredentials(ClientCredentials {
                authority: authority(target.authority_url.as_deref(), entra_tenant)?,
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
            }),
            Credentials::SignedInAdmin { refresh_token } => Auth::User {
                sign_in: self.sign_in_app(target.authority_url.as_deref())?,
                refresh_token: Some(refresh_token.clone()),
            },
        };
        Ok(DynamicsCrm::new(
            self.client(&target.org_url, auth)?,
            self.config.page_size,
        ))
    }
}

#[async_trait]
impl CrmConnector for Dynamics {
    fn open(&self, target: &ConnectionTarget) -> Result<Arc<dyn Crm>, CrmError> {
        Ok(Arc::new(self.open_dynamics(target)?))
    }

    fn begin_sign_in(
        &self,
        org_url: &str,
        authority_url: Option<&str>,
    ) -> Result<SignInStarted, CrmError> {
        let client = self.client(
            org_url,
            Auth::User {
                sign_in: self.sign_in_app(authority_url)?,
                refresh_token: None,
            },
        )?;
        let request = client.authorize_url().map_err(crm_error)?;
        Ok(SignInStarted {
            url: request.url,
            state: request.state,
            verifier: request.verifier,
        })
    }

    async fn finish_sign_in(
        &self,
        org_url: &str,
        authority_url: Option<&str>,
        code: &str,
        verifier: &SecretString,
    ) -> Result<Arc<dyn Crm>, CrmError> {
        let client = self.client(
            org_url,
            Auth::User {
                sign_in: self.sign_in_app(authority_url)?,
                refresh_token: None,
            },
        )?;
        client
            .exchange_code(code, verifier)
            .await
            .map_err(crm_error)?;
        Ok(Arc::new(DynamicsCrm::new(client, self.config.page_size)))
    }
}

/// One connection to a Dynamics org.
#[derive(Clone, Debug)]
pub struct DynamicsCrm {
    client: Client,
    page_size: u32,
    /// `azureactivedirectoryobjectid` per CRM user, for `CallerObjectId`.
    object_ids: Arc<Mutex<HashMap<CrmUserId, Option<Uuid>>>>,
    /// The refresh token last handed out by [`Crm::rotated_credential`].
    last_credential: Arc<tokio::sync::Mutex<Option<String>>>,
    /// Activity writes of concurrent writebacks, gathered into UpsertMultiple calls.
    writes: Arc<WriteQueue>,
}

/// Upserts of one group sent at the same time at most. Writes that arrive while they are in flight
/// wait and go together in the next call: one request for many notes (one slot of the concurrency
/// window `x-ms-dop-hint` allows, one request against the service protection limits), and no
/// waiting at all when writes are few.
const SENDERS_PER_GROUP: usize = 2;
/// Rows per call; the client splits larger groups anyway.
const ROWS_PER_CALL: usize = 100;
/// How long a sender lets writes gather before it takes them: a note waits this much longer, and
/// a steady stream of notes goes out in a few calls a second rather than one per note (Dataverse
/// allows a user 6,000 requests in five minutes: 20 a second).
const GATHER: std::time::Duration = std::time::Duration::from_millis(25);

/// Writes waiting to be sent, per table and caller (`CallerObjectId` cannot vary within a call).
#[derive(Debug, Default)]
struct WriteQueue {
    groups: Mutex<HashMap<(String, Option<Uuid>), WriteGroup>>,
}

#[derive(Debug, Default)]
struct WriteGroup {
    queued: Vec<QueuedWrite>,
    senders: usize,
}

#[derive(Debug)]
struct QueuedWrite {
    key: Key,
    row: Value,
    done: tokio::sync::oneshot::Sender<Result<Upserted, dataverse::Error>>,
}

impl WriteQueue {
    /// Upserts one row by key, together with the other rows of its table queued meanwhile
    /// (UpsertMultiple where the table supports it, `$batch` otherwise; a call refused for one
    /// row's data is resent row by row, so each row gets its own answer).
    async fn upsert(
        self: &Arc<Self>,
        client: &Client,
        table: &Table,
        key: Key,
        row: Value,
    ) -> Result<Upserted, dataverse::Error> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let group = (table.logical_name.clone(), client.caller());
        let start_sender = {
            let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
            let queued = groups.entry(group.clone()).or_default();
            queued.queued.push(QueuedWrite { key, row, done });
            let start = queued.senders < SENDERS_PER_GROUP;
            if start {
                queued.senders += 1;
            }
            start
        };
        if start_sender {
            let queue = Arc::clone(self);
            let (client, table) = (client.clone(), table.clone());
            tokio::spawn(async move { queue.send(group, client, table).await });
        }
        answer.await.unwrap_or_else(|_| {
            Err(dataverse::Error::InvalidInput(
                "the write was dropped before it was sent".into(),
            ))
        })
    }

    /// Sends the group's queued rows, a call at a time, until none are left.
    async fn send(&self, group: (String, Option<Uuid>), client: Client, table: Table) {
        loop {
            tokio::time::sleep(GATHER).await;
            let writes: Vec<QueuedWrite> = {
                let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(queued) = groups.get_mut(&group) else {
                    return;
                };
                if queued.queued.is_empty() {
                    queued.senders -= 1;
                    if queued.senders == 0 {
                        groups.remove(&group);
                    }
                    return;
                }
                let n = queued.queued.len().min(ROWS_PER_CALL);
                queued.queued.drain(..n).collect()
            };
            let rows: Vec<(Key, Value)> = writes
                .iter()
                .map(|w| (w.key.clone(), w.row.clone()))
                .collect();
            tracing::debug!(table = %table.logical_name, rows = rows.len(), "writing a group");
            let results = match client.upsert_many(&table, &rows).await {
                Ok(results) => results,
                Err(e) => vec![Err(e); rows.len()],
            };
            let mut results = results.into_iter();
            for write in writes {
                let result = results.next().unwrap_or_else(|| {
                    Err(dataverse::Error::InvalidInput(
                        "the CRM answered fewer rows than were sent".into(),
                    ))
                });
                let _ = write.done.send(result);
            }
        }
    }
}

/// What is read of each table: the columns the mirror and matching use, nothing else.
struct TableSpec {
    entity_set: &'static str,
    select: &'static [&'static str],
}

const USERS: TableSpec = TableSpec {
    entity_set: "systemusers",
    select: &[
        "systemuserid",
        "fullname",
        "internalemailaddress",
        "isdisabled",
        "applicationid",
        "accessmode",
        "azureactivedirectoryobjectid",
    ],
};

const ACCOUNTS: TableSpec = TableSpec {
    entity_set: "accounts",
    select: &[
        "accountid",
        "name",
        "websiteurl",
        "telephone1",
        "industrycode",
        "address1_line1",
        "address1_city",
        "address1_postalcode",
        "address1_stateorprovince",
        "address1_country",
        "numberofemployees",
    ],
};

const CONTACTS: TableSpec = TableSpec {
    entity_set: "contacts",
    select: &[
        "contactid",
        "fullname",
        "firstname",
        "lastname",
        "jobtitle",
        "emailaddress1",
        "telephone1",
        "mobilephone",
        "address1_city",
        "address1_country",
        "_parentcustomerid_value",
    ],
};

const LEADS: TableSpec = TableSpec {
    entity_set: "leads",
    select: &[
        "leadid",
        "fullname",
        "firstname",
        "lastname",
        "companyname",
        "jobtitle",
        "emailaddress1",
        "telephone1",
        "address1_city",
        "address1_country",
    ],
};

const OPPORTUNITY_COLUMNS: &[&str] = &[
    "opportunityid",
    "name",
    "statecode",
    "salesstage",
    "_ownerid_value",
    "_customerid_value",
    "_parentaccountid_value",
    "_parentcontactid_value",
    "_transactioncurrencyid_value",
];

fn spec(table: CrmTable) -> &'static TableSpec {
    match table {
        CrmTable::SystemUser => &USERS,
        CrmTable::Account => &ACCOUNTS,
        CrmTable::Contact => &CONTACTS,
        CrmTable::Lead => &LEADS,
        CrmTable::Opportunity => &OPPORTUNITY,
    }
}

const OPPORTUNITY: TableSpec = TableSpec {
    entity_set: "opportunities",
    select: OPPORTUNITY_COLUMNS,
};

const FORMATTED: &str = "OData.Community.Display.V1.FormattedValue";
const LOOKUP_TABLE: &str = "Microsoft.Dynamics.CRM.lookuplogicalname";

fn text(row: &Row, column: &str) -> Option<String> {
    row.text(column)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// "City, Country" from whichever of the two is set.
fn location(row: &Row) -> Option<String> {
    let parts: Vec<String> = ["address1_city", "address1_country"]
        .iter()
        .filter_map(|c| text(row, c))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn id_of(row: &Row, column: &str) -> Result<Uuid, String> {
    row.guid(column)
        .ok_or_else(|| format!("a row without a valid {column}"))
}

fn parse_user(row: &Row) -> Result<CrmUser, String> {
    let id = id_of(row, "systemuserid")?;
    // Application users and other non-interactive identities (access mode 4) are not people.
    let application_user = row.get("applicationid").is_some() || row.int("accessmode") == Some(4);
    Ok(CrmUser {
        id: CrmUserId(id),
        full_name: text(row, "fullname").unwrap_or_default(),
        email: text(row, "internalemailaddress"),
        disabled: row.bool("isdisabled").unwrap_or(false),
        application_user,
    })
}

fn parse_account(row: &Row) -> Result<CrmAccount, String> {
    Ok(CrmAccount {
        id: CrmAccountId(id_of(row, "accountid")?),
        name: text(row, "name").unwrap_or_default(),
        website: text(row, "websiteurl"),
        industry: row.formatted("industrycode").map(str::to_owned),
        location: location(row),
        employees: row.int("numberofemployees"),
    })
}

fn parse_contact(row: &Row) -> Result<CrmContact, String> {
    let account = match row.lookup_table("parentcustomerid") {
        Some("account") => row.lookup("parentcustomerid").map(CrmAccountId),
        _ => None,
    };
    Ok(CrmContact {
        id: CrmContactId(id_of(row, "contactid")?),
        full_name: full_name(row),
        job_title: text(row, "jobtitle"),
        email: text(row, "emailaddress1"),
        phone: text(row, "telephone1").or_else(|| text(row, "mobilephone")),
        location: location(row),
        account,
    })
}

fn full_name(row: &Row) -> String {
    text(row, "fullname").unwrap_or_else(|| {
        [text(row, "firstname"), text(row, "lastname")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn parse_lead(row: &Row) -> Result<CrmLead, String> {
    Ok(CrmLead {
        id: CrmLeadId(id_of(row, "leadid")?),
        full_name: full_name(row),
        company_name: text(row, "companyname"),
        job_title: text(row, "jobtitle"),
        email: text(row, "emailaddress1"),
        phone: text(row, "telephone1"),
    })
}

fn parse_opportunity(row: &Row, money_columns: &[String]) -> Result<CrmOpportunity, String> {
    let id = id_of(row, "opportunityid")?;
    let state = row
        .int("statecode")
        .and_then(|code| i32::try_from(code).ok())
        .and_then(OpportunityState::from_statecode)
        .ok_or_else(|| format!("opportunity {id} has no known statecode"))?;
    let owner_id = row
        .lookup("ownerid")
        .ok_or_else(|| format!("opportunity {id} has no owner"))?;
    let owner = match row.lookup_table("ownerid") {
        Some("team") => CrmOwner::Team(CrmTeamId(owner_id)),
        _ => CrmOwner::User(CrmUserId(owner_id)),
    };
    let customer = row.lookup("customerid");
    let customer_table = row.lookup_table("customerid");
    let account = row
        .lookup("parentaccountid")
        .or(customer.filter(|_| customer_table == Some("account")))
        .map(CrmAccountId);
    let mut contacts: Vec<CrmContactId> = Vec::new();
    for contact in [
        row.lookup("parentcontactid"),
        customer.filter(|_| customer_table == Some("contact")),
    ]
    .into_iter()
    .flatten()
    {
        if !contacts.contains(&CrmContactId(contact)) {
            contacts.push(CrmContactId(contact));
        }
    }
    let mut money = BTreeMap::new();
    for column in money_columns {
        if let Some(Value::Number(amount)) = row.get(column) {
            let parsed = Money::parse(&amount.to_string())
                .map_err(|e| format!("opportunity {id}, {column}: {e}"))?;
            money.insert(column.clone(), parsed);
        }
    }
    Ok(CrmOpportunity {
        id: CrmOpportunityId(id),
        name: text(row, "name").unwrap_or_default(),
        state,
        owner,
        sales_stage: row.int("salesstage").and_then(|s| i32::try_from(s).ok()),
        account,
        contacts,
        currency: row.lookup("transactioncurrencyid").map(CrmCurrencyId),
        money,
    })
}

/// Rows into a page: usable ones read, the others reported.
fn to_page<R>(
    rows: Vec<Row>,
    deletes: Vec<Uuid>,
    delta_token: Option<String>,
    parse: &(dyn Fn(&Row) -> Result<R, String> + Send + Sync),
) -> CrmPage<R> {
    let mut page = CrmPage {
        upserts: Vec::with_capacity(rows.len()),
        deletes,
        delta_token,
        unreadable: Vec::new(),
    };
    for row in rows {
        match parse(&row) {
            Ok(parsed) => page.upserts.push(Read {
                row: parsed,
                raw: Value::Object(row.into_map()),
            }),
            Err(why) => page.unreadable.push(why),
        }
    }
    page
}

type Parser<R> = Arc<dyn Fn(&Row) -> Result<R, String> + Send + Sync>;

impl DynamicsCrm {
    fn new(client: Client, page_size: u32) -> DynamicsCrm {
        DynamicsCrm {
            client,
            page_size,
            object_ids: Arc::new(Mutex::new(HashMap::new())),
            last_credential: Arc::new(tokio::sync::Mutex::new(None)),
            writes: Arc::new(WriteQueue::default()),
        }
    }

    fn page_options(&self) -> PageOptions {
        PageOptions {
            page_size: self.page_size,
            annotations: vec![FORMATTED.to_owned(), LOOKUP_TABLE.to_owned()],
        }
    }

    fn read<R: Send + 'static>(
        &self,
        spec: &'static TableSpec,
        select: Vec<String>,
        delta: Option<String>,
        parse: Parser<R>,
    ) -> Pages<R> {
        let options = self.page_options();
        match delta {
            None => {
                let columns: Vec<&str> = select.iter().map(String::as_str).collect();
                self.client
                    .tracked_read(spec.entity_set, &columns, &options)
                    .map_err(crm_error)
                    .map_ok(move |page| to_page(page.rows, Vec::new(), page.delta_link, &*parse))
                    .boxed()
            }
            Some(link) => self
                .client
                .changes(&link, &options)
                .map_err(crm_error)
                .map_ok(move |page| {
                    let mut rows = Vec::new();
                    let mut deletes = Vec::new();
                    for change in page.changes {
                        match change {
                            Change::Upsert(row) => rows.push(row),
                            Change::Delete { id } => deletes.push(id),
                        }
                    }
                    to_page(rows, deletes, page.delta_link, &*parse)
                })
                .boxed(),
        }
    }

    fn read_fixed<R: Send + 'static>(
        &self,
        table: CrmTable,
        delta: Option<String>,
        parse: fn(&Row) -> Result<R, String>,
    ) -> Pages<R> {
        let spec = spec(table);
        let select = spec.select.iter().map(|c| (*c).to_owned()).collect();
        self.read(spec, select, delta, Arc::new(parse))
    }

    async fn activity_table(&self, kind: ActivityKind) -> Result<Table, CrmError> {
        self.client.table(kind.crm_table()).await.map_err(crm_error)
    }

    /// The Entra object id of a CRM user (cached): what `CallerObjectId` names.
    async fn object_id(&self, user: CrmUserId) -> Result<Option<Uuid>, CrmError> {
        if let Some(known) = self
            .object_ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&user)
        {
            return Ok(*known);
        }
        let path = format!(
            "{}?$select=azureactivedirectoryobjectid",
            entity_path("systemusers", &Key::Id(user.0)).map_err(crm_error)?
        );
        let row: Row = Row::new(self.client.get_json(&path).await.map_err(crm_error)?);
        let object_id = row.guid("azureactivedirectoryobjectid");
        self.object_ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user, object_id);
        Ok(object_id)
    }

    /// The activity's row by our key: its id and whether it is closed.
    async fn find_activity(
        &self,
        table: &Table,
        key: &ExternalKey,
    ) -> Result<Option<(Row, Uuid)>, CrmError> {
        let path = format!(
            "{}?$select={},statecode,_regardingobjectid_value",
            entity_path(
                &table.entity_set,
                &Key::alternate(EXTERNAL_KEY_COLUMN, key.as_str())
            )
            .map_err(crm_error)?,
            table.primary_id
        );
        let request = Request::get(path).header(
            "prefer",
            format!("odata.include-annotations=\"{LOOKUP_TABLE}\""),
        );
        match self.client.send(request).await {
            Ok(response) => {
                let row = Row::new(response.json().map_err(crm_error)?);
                let id = row.guid(&table.primary_id).ok_or_else(|| {
                    CrmError::new(
                        CrmErrorKind::Api,
                        format!("the {} row has no id", table.logical_name),
                    )
                })?;
                Ok(Some((row, id)))
            }
            Err(dataverse::Error::NotFound(_)) => Ok(None),
            Err(e) => Err(crm_error(e)),
        }
    }

    /// Reopens the activity if it exists completed: Dynamics lets nobody change a closed one.
    async fn reopen(
        &self,
        client: &Client,
        table: &Table,
        key: &ExternalKey,
    ) -> Result<(), CrmError> {
        if let Some((row, id)) = self.find_activity(table, key).await?
            && row.int("statecode") != Some(0)
        {
            client
                .update(table, id, &json!({"statecode": 0, "statuscode": 1}))
                .await
                .map_err(crm_error)?;
        }
        Ok(())
    }

    /// The `@odata.bind` pair that links an activity of `table` to a record.
    fn regarding_bind(table: &Table, regarding: Regarding) -> (String, String) {
        let (target, set, id) = match regarding {
            Regarding::Contact(c) => ("contact", "contacts", c.0),
            Regarding::Lead(l) => ("lead", "leads", l.0),
            Regarding::Account(a) => ("account", "accounts", a.0),
        };
        (
            format!(
                "regardingobjectid_{target}_{}@odata.bind",
                table.logical_name
            ),
            format!("/{set}({id})"),
        )
    }

    fn person_row(person: &NewCrmPerson, lead: bool) -> Value {
        let mut row = json!({
            "lastname": person.last_name,
        });
        let set = |row: &mut Value, column: &str, value: &Option<String>| {
            if let Some(v) = value {
                row[column] = json!(v);
            }
        };
        set(&mut row, "firstname", &person.first_name);
        set(&mut row, "emailaddress1", &person.email);
        set(&mut row, "jobtitle", &person.job_title);
        set(&mut row, "telephone1", &person.phone);
        if lead {
            set(&mut row, "companyname", &person.company_name);
            let name = [
                person.first_name.as_deref(),
                Some(person.last_name.as_str()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            row["subject"] = json!(name);
        } else if let Some(account) = person.account {
            row["parentcustomerid_account@odata.bind"] = json!(format!("/accounts({})", account.0));
        }
        if let Some(owner) = person.owner {
            row["ownerid@odata.bind"] = json!(format!("/systemusers({})", owner.0));
        }
        row
    }

    /// Creates a row with a chosen id; one a previous attempt created already counts as created.
    async fn create_with_id(
        &self,
        table: &str,
        id: Uuid,
        mut row: Value,
    ) -> Result<Uuid, CrmError> {
        let table = self.client.table(table).await.map_err(crm_error)?;
        row[table.primary_id.as_str()] = json!(id);
        match self.client.create(&table, &row).await {
            Ok(created) => Ok(created),
            Err(dataverse::Error::Conflict(_)) => {
                let path = entity_path(&table.entity_set, &Key::Id(id)).map_err(crm_error)?;
                self.client
                    .get_json::<serde_json::Map<String, Value>>(&format!(
                        "{path}?$select={}",
                        table.primary_id
                    ))
                    .await
                    .map_err(crm_error)?;
                Ok(id)
            }
            Err(e) => Err(crm_error(e)),
        }
    }
}

#[async_trait]
impl Crm for DynamicsCrm {
    async fn who_am_i(&self) -> Result<CrmIdentity, CrmError> {
        let who: Value = self.client.get_json("WhoAmI").await.map_err(crm_error)?;
        let user = who["UserId"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .map(CrmUserId)
            .ok_or_else(|| CrmError::new(CrmErrorKind::Api, "WhoAmI answered without a UserId"))?;
        let path = format!(
            "{}?$select=fullname",
            entity_path("systemusers", &Key::Id(user.0)).map_err(crm_error)?
        );
        let name = match self.client.get_json::<Value>(&path).await {
            Ok(row) => row["fullname"].as_str().unwrap_or_default().to_owned(),
            // Reading systemuser is checked by pre-flight; who we are does not depend on it.
            Err(dataverse::Error::InsufficientPrivileges(_)) => String::new(),
            Err(e) => return Err(crm_error(e)),
        };
        Ok(CrmIdentity { user, name })
    }

    async fn preflight(&self) -> Preflight {
        let report = self.client.preflight().await;
        let sandbox = report
            .organization_type
            .as_deref()
            .is_some_and(|t| matches!(t, "CustomerTest" | "CustomerFreeTest"));
        let checks = report
            .checks
            .iter()
            .map(|check| {
                let outcome = match check.status {
                    Status::Passed => CheckOutcome::Passed,
                    Status::Warning => CheckOutcome::Warning,
                    Status::Failed => CheckOutcome::Failed,
                    Status::Skipped => CheckOutcome::Skipped,
                };
                // The guide gives on-premises and sandbox orgs their own refusal.
                let problem = match (check.id.as_str(), outcome) {
                    ("host", CheckOutcome::Failed) => Some(ConnectionProblem::OnPremises),
                    ("organization_type", CheckOutcome::Failed) if sandbox => {
                        Some(ConnectionProblem::Sandbox)
                    }
                    _ => check.message.map(problem_of),
                };
                PreflightCheck {
                    id: check.id.clone(),
                    outcome,
                    detail: check.detail.clone(),
                    problem,
                }
            })
            .collect();
        let delegate = report
            .check("delegate_privilege")
            .is_some_and(|c| c.status == Status::Passed);
        Preflight {
            checks,
            identity: report.identity.as_ref().map(|i| CrmIdentity {
                user: CrmUserId(i.user_id),
                name: i.name.clone().unwrap_or_default(),
            }),
            can_act_on_behalf_of_reps: delegate,
            companion_app: report
                .companion
                .as_ref()
                .map_or(CompanionApp::Missing, companion_app_of),
        }
    }

    async fn enable_change_tracking(&self) -> Result<(), CrmError> {
        let tables: Vec<&str> = CrmTable::ALL.iter().map(|t| t.logical_name()).collect();
        for table in self
            .client
            .change_tracking(&tables)
            .await
            .map_err(crm_error)?
        {
            if !table.enabled && table.can_be_enabled {
                self.client
                    .enable_change_tracking(&table.logical_name)
                    .await
                    .map_err(crm_error)?;
            }
        }
        Ok(())
    }

    async fn companion_app(&self) -> Result<CompanionApp, CrmError> {
        let state = self.client.companion_state().await.map_err(crm_error)?;
        Ok(companion_app_of(&state))
    }

    async fn install_companion_app(&self) -> Result<CompanionApp, CrmError> {
        let state = self.client.install_companion().await.map_err(crm_error)?;
        Ok(companion_app_of(&state))
    }

    async fn count(&self, table: CrmTable) -> Result<RowCount, CrmError> {
        let count = self
            .client
            .count(spec(table).entity_set)
            .await
            .map_err(crm_error)?;
        Ok(RowCount {
            count: count.count,
            at_least: count.at_least,
        })
    }

    fn users(&self, delta: Option<String>) -> Pages<CrmUser> {
        self.read_fixed(CrmTable::SystemUser, delta, parse_user)
    }

    fn accounts(&self, delta: Option<String>) -> Pages<CrmAccount> {
        self.read_fixed(CrmTable::Account, delta, parse_account)
    }

    fn contacts(&self, delta: Option<String>) -> Pages<CrmContact> {
        self.read_fixed(CrmTable::Contact, delta, parse_contact)
    }

    fn leads(&self, delta: Option<String>) -> Pages<CrmLead> {
        self.read_fixed(CrmTable::Lead, delta, parse_lead)
    }

    fn opportunities(&self, delta: Option<String>) -> Pages<CrmOpportunity> {
        // The money columns are asked for on every read (a delta keeps the columns of the read
        // that started it), so a column the admin picks later is already there.
        let this = self.clone();
        futures_util::stream::once(async move {
            let money: Vec<String> = this
                .money_columns()
                .await?
                .into_iter()
                .map(|c| c.logical_name)
                .collect();
            let mut select: Vec<String> = OPPORTUNITY_COLUMNS
                .iter()
                .map(|c| (*c).to_owned())
                .collect();
            select.extend(money.iter().cloned());
            let parse: Parser<CrmOpportunity> =
                Arc::new(move |row: &Row| parse_opportunity(row, &money));
            Ok::<_, CrmError>(this.read(&OPPORTUNITY, select, delta, parse))
        })
        .try_flatten()
        .boxed()
    }

    async fn stage_options(&self) -> Result<Vec<StageOption>, CrmError> {
        // The cast segment lists each picklist with its options; Dataverse filters it to the one
        // asked for, and the list is filtered here too so either answer reads the same.
        let body: Value = self
            .client
            .get_json(
                "EntityDefinitions(LogicalName='opportunity')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$filter=LogicalName%20eq%20'salesstage'&$expand=OptionSet",
            )
            .await
            .map_err(crm_error)?;
        let attribute = body["value"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["LogicalName"] == "salesstage")
            .ok_or_else(|| {
                CrmError::new(
                    CrmErrorKind::ObjectsUnreadable,
                    "opportunity has no salesstage choice column",
                )
            })?;
        let mut stages = Vec::new();
        for option in attribute["OptionSet"]["Options"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(value) = option["Value"].as_i64().and_then(|v| i32::try_from(v).ok()) else {
                continue;
            };
            let label = option["Label"]["UserLocalizedLabel"]["Label"]
                .as_str()
                .or_else(|| option["Label"]["LocalizedLabels"][0]["Label"].as_str())
                .unwrap_or_default()
                .to_owned();
            stages.push(StageOption { value, label });
        }
        Ok(stages)
    }

    async fn money_columns(&self) -> Result<Vec<MoneyColumn>, CrmError> {
        let body: Value = self
            .client
            .get_json(
                "EntityDefinitions(LogicalName='opportunity')/Attributes/Microsoft.Dynamics.CRM.MoneyAttributeMetadata?$select=LogicalName,DisplayName",
            )
            .await
            .map_err(crm_error)?;
        let mut columns = Vec::new();
        for attribute in body["value"].as_array().into_iter().flatten() {
            let Some(name) = attribute["LogicalName"].as_str() else {
                continue;
            };
            // `<column>_base` is the same amount in the org's base currency, not a choice of its own.
            if name.ends_with("_base") {
                continue;
            }
            let label = attribute["DisplayName"]["UserLocalizedLabel"]["Label"]
                .as_str()
                .unwrap_or(name)
                .to_owned();
            columns.push(MoneyColumn {
                logical_name: name.to_owned(),
                label,
            });
        }
        Ok(columns)
    }

    async fn upsert_activity(
        &self,
        plan: &WritebackPlan,
        written_before: bool,
    ) -> Result<CrmActivityId, CrmError> {
        let table = self.activity_table(plan.kind).await?;
        let client = match plan.on_behalf_of {
            Some(rep) => match self.object_id(rep).await? {
                Some(object_id) => self.client.on_behalf_of(object_id),
                None => self.client.clone(),
            },
            None => self.client.clone(),
        };
        if written_before {
            self.reopen(&client, &table, &plan.key).await?;
        }
        let mut row = json!({
            "subject": plan.subject,
            "description": plan.description,
            "actualend": plan.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        // Acting as the rep, the rep owns what it creates; assigning needs rights a rep may lack.
        if client.caller().is_none() {
            row["ownerid@odata.bind"] = json!(format!("/systemusers({})", plan.owner.0));
        }
        if let Some(regarding) = plan.regarding {
            let (bind, target) = Self::regarding_bind(&table, regarding);
            row[bind] = json!(target);
        }
        let key = Key::alternate(EXTERNAL_KEY_COLUMN, plan.key.as_str());
        let upserted = match self
            .writes
            .upsert(&client, &table, key.clone(), row.clone())
            .await
        {
            // A first write can still find a completed row: an attempt whose worker died after
            // writing it. Dynamics refuses changes to a completed activity; reopen and write again.
            Err(dataverse::Error::Validation(_)) if !written_before => {
                self.reopen(&client, &table, &plan.key).await?;
                client.upsert(&table, &key, &row).await
            }
            other => other,
        }
        .map_err(crm_error)?;
        let id = match upserted.id {
            Some(id) => id,
            None => {
                self.find_activity(&table, &plan.key)
                    .await?
                    .ok_or_else(|| {
                        CrmError::new(CrmErrorKind::Api, "the activity written cannot be found")
                    })?
                    .1
            }
        };
        if let Some(overflow) = &plan.overflow {
            let notes = self.client.table("annotation").await.map_err(crm_error)?;
            let note = json!({
                "subject": format!("Full text of {}", plan.kind.label()),
                "notetext": overflow.text,
                format!("objectid_{}@odata.bind", table.logical_name): format!("/{}({id})", table.entity_set),
            });
            client
                .upsert(&notes, &Key::Id(overflow.note_id), &note)
                .await
                .map_err(crm_error)?;
        }
        if plan.state == CrmActivityState::Completed {
            self.writes
                .upsert(
                    &client,
                    &table,
                    Key::Id(id),
                    json!({"statecode": 1, "statuscode": 2}),
                )
                .await
                .map_err(crm_error)?;
        }
        Ok(CrmActivityId(id))
    }

    async fn activity(
        &self,
        kind: ActivityKind,
        key: &ExternalKey,
    ) -> Result<Option<CrmActivityRow>, CrmError> {
        let table = self.activity_table(kind).await?;
        let Some((row, id)) = self.find_activity(&table, key).await? else {
            return Ok(None);
        };
        let regarding = row.lookup("regardingobjectid").and_then(|target| {
            match row.lookup_table("regardingobjectid") {
                Some("contact") => Some(Regarding::Contact(CrmContactId(target))),
                Some("lead") => Some(Regarding::Lead(CrmLeadId(target))),
                Some("account") => Some(Regarding::Account(CrmAccountId(target))),
                _ => None,
            }
        });
        let state = if row.int("statecode") == Some(1) {
            CrmActivityState::Completed
        } else {
            CrmActivityState::Open
        };
        Ok(Some(CrmActivityRow {
            id: CrmActivityId(id),
            regarding,
            state,
        }))
    }

    async fn delete_activity(
        &self,
        kind: ActivityKind,
        key: &ExternalKey,
    ) -> Result<Deleted, CrmError> {
        let table = self.activity_table(kind).await?;
        let path = entity_path(
            &table.entity_set,
            &Key::alternate(EXTERNAL_KEY_COLUMN, key.as_str()),
        )
        .map_err(crm_error)?;
        match self
            .client
            .send(Request::new(Method::DELETE, path).idempotent())
            .await
        {
            Ok(_) => Ok(Deleted::Deleted),
            Err(dataverse::Error::NotFound(_)) => Ok(Deleted::AlreadyGone),
            Err(e) => Err(crm_error(e)),
        }
    }

    async fn create_contact(&self, person: &NewCrmPerson) -> Result<CrmContactId, CrmError> {
        let row = Self::person_row(person, false);
        self.create_with_id("contact", person.id, row)
            .await
            .map(CrmContactId)
    }

    async fn create_lead(&self, person: &NewCrmPerson) -> Result<CrmLeadId, CrmError> {
        let row = Self::person_row(person, true);
        self.create_with_id("lead", person.id, row)
            .await
            .map(CrmLeadId)
    }

    fn transport_counts(&self) -> TransportCounts {
        let stats = self.client.throttle_stats();
        TransportCounts {
            throttled: stats.throttled,
            retries: stats.retries,
        }
    }

    async fn rotated_credential(&self) -> Option<SecretString> {
        use secrecy::ExposeSecret;
        let current = self.client.refresh_token().await?;
        let mut last = self.last_credential.lock().await;
        if last.as_deref() == Some(current.expose_secret()) {
            return None;
        }
        *last = Some(current.expose_secret().to_owned());
        Some(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(value: Value) -> Row {
        Row::new(value.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn an_opportunity_reads_its_account_contacts_owner_and_money() {
        let id = Uuid::from_u128(1);
        let owner = Uuid::from_u128(2);
        let account = Uuid::from_u128(3);
        let contact = Uuid::from_u128(4);
        let opp = parse_opportunity(
            &row(json!({
                "opportunityid": id.to_string(),
                "name": "Renewal",
                "statecode": 0,
                "salesstage": 2,
                "_ownerid_value": owner.to_string(),
                "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "systemuser",
                "_customerid_value": contact.to_string(),
                "_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "contact",
                "_parentaccountid_value": account.to_string(),
                "_parentcontactid_value": contact.to_string(),
                "estimatedvalue": 1234.5,
                "actualvalue": null,
            })),
            &["estimatedvalue".into(), "actualvalue".into()],
        )
        .unwrap();
        assert_eq!(opp.state, OpportunityState::Open);
        assert_eq!(opp.owner, CrmOwner::User(CrmUserId(owner)));
        assert_eq!(opp.account, Some(CrmAccountId(account)));
        assert_eq!(opp.contacts, vec![CrmContactId(contact)]);
        assert_eq!(opp.sales_stage, Some(2));
        assert_eq!(
            opp.money.get("estimatedvalue"),
            Some(&Money::from_ten_thousandths(12_345_000))
        );
        assert!(!opp.money.contains_key("actualvalue"));
    }

    #[test]
    fn an_account_customer_and_a_team_owner_are_recognised() {
        let account = Uuid::from_u128(3);
        let opp = parse_opportunity(
            &row(json!({
                "opportunityid": Uuid::from_u128(1).to_string(),
                "statecode": 1,
                "_ownerid_value": Uuid::from_u128(9).to_string(),
                "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "team",
                "_customerid_value": account.to_string(),
                "_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account",
            })),
            &[],
        )
        .unwrap();
        assert_eq!(opp.state, OpportunityState::Won);
        assert_eq!(opp.owner, CrmOwner::Team(CrmTeamId(Uuid::from_u128(9))));
        assert_eq!(opp.account, Some(CrmAccountId(account)));
        assert!(opp.contacts.is_empty());
    }

    #[test]
    fn rows_that_cannot_be_used_are_reported_not_applied() {
        let rows = vec![
            row(json!({"opportunityid": "not-a-guid", "statecode": 0})),
            row(
                json!({"opportunityid": Uuid::from_u128(1).to_string(), "statecode": 7,
                       "_ownerid_value": Uuid::from_u128(2).to_string()}),
            ),
            row(json!({"opportunityid": Uuid::from_u128(1).to_string(), "statecode": 0})),
            row(
                json!({"opportunityid": Uuid::from_u128(1).to_string(), "statecode": 0,
                       "_ownerid_value": Uuid::from_u128(2).to_string(), "estimatedvalue": 1e300}),
            ),
        ];
        let page = to_page(rows, Vec::new(), None, &|r: &Row| {
            parse_opportunity(r, &["estimatedvalue".into()])
        });
        assert!(page.upserts.is_empty());
        assert_eq!(page.unreadable.len(), 4, "{:?}", page.unreadable);
    }

    #[test]
    fn users_that_are_not_people_are_marked() {
        let app = parse_user(&row(json!({
            "systemuserid": Uuid::from_u128(1).to_string(),
            "fullname": "# leadbridge",
            "applicationid": Uuid::from_u128(5).to_string(),
        })))
        .unwrap();
        assert!(app.application_user);
        let person = parse_user(&row(json!({
            "systemuserid": Uuid::from_u128(2).to_string(),
            "fullname": "Ana Souza",
            "internalemailaddress": "ana@contoso.example",
            "isdisabled": false,
            "accessmode": 0,
        })))
        .unwrap();
        assert!(!person.application_user);
        assert_eq!(person.email.as_deref(), Some("ana@contoso.example"));
    }

    #[test]
    fn a_contact_links_its_account_but_not_a_parent_contact() {
        let account = Uuid::from_u128(3);
        let contact = parse_contact(&row(json!({
            "contactid": Uuid::from_u128(1).to_string(),
            "firstname": "Ana", "lastname": "Souza",
            "address1_city": "Lisboa", "address1_country": "Portugal",
            "_parentcustomerid_value": account.to_string(),
            "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account",
        })))
        .unwrap();
        assert_eq!(contact.full_name, "Ana Souza");
        assert_eq!(contact.account, Some(CrmAccountId(account)));
        assert_eq!(contact.location.as_deref(), Some("Lisboa, Portugal"));
        let child = parse_contact(&row(json!({
            "contactid": Uuid::from_u128(2).to_string(),
            "_parentcustomerid_value": Uuid::from_u128(1).to_string(),
            "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "contact",
        })))
        .unwrap();
        assert_eq!(child.account, None);
    }
}
