//! The CRM side of a tenant: its connection (and encrypted credentials), the admin's settings, the
//! change-tracking token per table, and the mirror of the CRM rows read (the columns the rules use
//! plus each row as read).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use domain::activity::ActivityKind;
use domain::crm::{
    CompanionApp, ConnectionStatus, CrmAccount, CrmAuth, CrmConnection, CrmContact, CrmLead,
    CrmOpportunity, CrmOwner, CrmTable, CrmUser, DeltaToken, Money, OpportunityState,
};
use domain::ids::{CrmAccountId, CrmConnectionId, CrmUserId};
use domain::purge::MirrorCounts;
use domain::settings::{
    CrmSettings, PipelineStage, WonValueField, WritebackItems, WritebackSettings,
};
use secrecy::SecretString;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::TenantStore;
use crate::codec::Word;
use crate::db::{RowExt, chunk_rows, last_per_key, list_placeholders, millis, values_placeholders};
use crate::error::{Result, StoreError};
use crate::secrets::SecretOwner;
use crate::tenants::found;

/// A connection to record once connect and pre-flight succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewConnection {
    pub org_url: String,
    pub auth: CrmAuth,
    /// The sign-in authority when it is not the public cloud's (the emulator's, a sovereign cloud).
    pub authority_url: Option<String>,
    /// Who the connection acts as, as the CRM names it (shown to admins).
    pub connected_as: Option<String>,
    pub companion_app: CompanionApp,
    pub can_act_on_behalf_of_reps: bool,
}

/// A connection with what the admin page shows beyond the domain's view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub connection: CrmConnection,
    pub authority_url: Option<String>,
    pub connected_as: Option<String>,
    /// What the admin can do about `last_error`.
    pub last_error_next_step: Option<String>,
}

/// A mirrored row with the row as read from the CRM.
#[derive(Clone, Debug, PartialEq)]
pub struct Mirrored<R> {
    pub row: R,
    pub raw: serde_json::Value,
}

/// One page of a table read from the CRM, applied in one transaction with the delta token that
/// follows it, so a crash never stores a token whose rows are missing.
#[derive(Clone, Debug, PartialEq)]
pub struct CrmPage<R> {
    pub upserts: Vec<Mirrored<R>>,
    pub deletes: Vec<Uuid>,
    pub delta_token: Option<String>,
}

/// Names a secret may have; anything else is refused, so a typo cannot create a stray one.
pub const SECRET_NAMES: [&str; 4] = [
    "client_secret",
    "refresh_token",
    "access_token",
    "pkce_verifier",
];

mod sealed {
    use sqlx::Any;
    use sqlx::any::AnyArguments;
    use sqlx::query::Query;

    pub type AnyQuery<'q> = Query<'q, Any, AnyArguments>;

    /// How one mirrored table is stored.
    pub trait MirrorSql: Sized {
        const SQL_TABLE: &'static str;
        /// The table's own columns, after tenant_id, connection_id, id and before raw, read_at.
        const COLUMNS: &'static [&'static str];
        fn id(&self) -> uuid::Uuid;
        fn bind<'q>(&self, query: AnyQuery<'q>) -> AnyQuery<'q>;
        fn from_row(row: &sqlx::any::AnyRow) -> crate::Result<Self>;
    }
}

use sealed::{AnyQuery, MirrorSql};

/// A CRM table mirrored by the store: users, accounts, contacts, leads, opportunities.
pub trait MirrorRow: MirrorSql {
    const TABLE: CrmTable;
}

fn email_key(email: &Option<String>) -> Option<String> {
    email.as_deref().and_then(domain::tenant::normalize_email)
}

impl MirrorSql for CrmUser {
    const SQL_TABLE: &'static str = "crm_users";
    const COLUMNS: &'static [&'static str] = &[
        "full_name",
        "email",
        "email_key",
        "disabled",
        "application_user",
    ];

    fn id(&self) -> Uuid {
        self.id.0
    }

    fn bind<'q>(&self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query
            .bind(self.full_name.clone())
            .bind(self.email.clone())
            .bind(email_key(&self.email))
            .bind(self.disabled)
            .bind(self.application_user)
    }

    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(CrmUser {
            id: row.id("id")?,
            full_name: row.text("full_name")?,
            email: row.opt_text("email")?,
            disabled: row.flag("disabled")?,
            application_user: row.flag("application_user")?,
        })
    }
}

impl MirrorRow for CrmUser {
    const TABLE: CrmTable = CrmTable::SystemUser;
}

impl MirrorSql for CrmAccount {
    const SQL_TABLE: &'static str = "crm_accounts";
    const COLUMNS: &'static [&'static str] =
        &["name", "website", "industry", "location", "employees"];

    fn id(&self) -> Uuid {
        self.id.0
    }

    fn bind<'q>(&self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query
            .bind(self.name.clone())
            .bind(self.website.clone())
            .bind(self.industry.clone())
            .bind(self.location.clone())
            .bind(self.employees)
    }

    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(CrmAccount {
            id: row.id("id")?,
            name: row.text("name")?,
            website: row.opt_text("website")?,
            industry: row.opt_text("industry")?,
            location: row.opt_text("location")?,
            employees: row.opt_int("employees")?,
        })
    }
}

impl MirrorRow for CrmAccount {
    const TABLE: CrmTable = CrmTable::Account;
}

impl MirrorSql for CrmContact {
    const SQL_TABLE: &'static str = "crm_contacts";
    const COLUMNS: &'static [&'static str] = &[
        "full_name",
        "job_title",
        "email",
        "email_key",
        "phone",
        "location",
        "account_id",
    ];

    fn id(&self) -> Uuid {
        self.id.0
    }

    fn bind<'q>(&self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query
            .bind(self.full_name.clone())
            .bind(self.job_title.clone())
            .bind(self.email.clone())
            .bind(email_key(&self.email))
            .bind(self.phone.clone())
            .bind(self.location.clone())
            .bind(self.account.map(|a| a.to_string()))
    }

    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(CrmContact {
            id: row.id("id")?,
            full_name: row.text("full_name")?,
            job_title: row.opt_text("job_title")?,
            email: row.opt_text("email")?,
            phone: row.opt_text("phone")?,
            location: row.opt_text("location")?,
            account: row.opt_id("account_id")?,
        })
    }
}

impl MirrorRow for CrmContact {
    const TABLE: CrmTable = CrmTable::Contact;
}

impl MirrorSql for CrmLead {
    const SQL_TABLE: &'static str = "crm_leads";
    const COLUMNS: &'static [&'static str] = &[
        "full_name",
        "company_name",
        "job_title",
        "email",
        "email_key",
        "phone",
    ];

    fn id(&self) -> Uuid {
        self.id.0
    }

    fn bind<'q>(&self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query
            .bind(self.full_name.clone())
            .bind(self.company_name.clone())
            .bind(self.job_title.clone())
            .bind(self.email.clone())
            .bind(email_key(&self.email))
            .bind(self.phone.clone())
    }

    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(CrmLead {
            id: row.id("id")?,
            full_name: row.text("full_name")?,
            company_name: row.opt_text("company_name")?,
            job_title: row.opt_text("job_title")?,
            email: row.opt_text("email")?,
            phone: row.opt_text("phone")?,
        })
    }
}

impl MirrorRow for CrmLead {
    const TABLE: CrmTable = CrmTable::Lead;
}

fn state_code(state: OpportunityState) -> i64 {
    match state {
        OpportunityState::Open => 0,
        OpportunityState::Won => 1,
        OpportunityState::Lost => 2,
    }
}

fn money_json(money: &BTreeMap<String, Money>) -> String {
    let object: serde_json::Map<String, serde_json::Value> = money
        .iter()
        .map(|(column, amount)| {
            (
                column.clone(),
                serde_json::Value::String(amount.to_string()),
            )
        })
        .collect();
    serde_json::Value::Object(object).to_string()
}

fn money_from(text: &str) -> Result<BTreeMap<String, Money>> {
    let parsed: BTreeMap<String, String> = serde_json::from_str(text)
        .map_err(|e| StoreError::corrupt(format!("opportunity money: {e}")))?;
    parsed
        .into_iter()
        .map(|(column, amount)| {
            let money = Money::parse(&amount).map_err(StoreError::corrupt)?;
            Ok((column, money))
        })
        .collect()
}

impl MirrorSql for CrmOpportunity {
    const SQL_TABLE: &'static str = "crm_opportunities";
    const COLUMNS: &'static [&'static str] = &[
        "name",
        "state_code",
        "owner_kind",
        "owner_id",
        "sales_stage",
        "account_id",
        "contact_ids",
        "currency_id",
        "money",
    ];

    fn id(&self) -> Uuid {
        self.id.0
    }

    fn bind<'q>(&self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        let (owner_kind, owner_id) = match self.owner {
            CrmOwner::User(user) => ("user", user.0),
            CrmOwner::Team(team) => ("team", team.0),
        };
        let contacts: Vec<String> = self.contacts.iter().map(|c| c.to_string()).collect();
        query
            .bind(self.name.clone())
            .bind(state_code(self.state))
            .bind(owner_kind)
            .bind(owner_id.to_string())
            .bind(self.sales_stage.map(i64::from))
            .bind(self.account.map(|a| a.to_string()))
            .bind(serde_json::Value::from(contacts).to_string())
            .bind(self.currency.map(|c| c.to_string()))
            .bind(money_json(&self.money))
    }

    fn from_row(row: &AnyRow) -> Result<Self> {
        let code = row.int("state_code")?;
        let state = i32::try_from(code)
            .ok()
            .and_then(OpportunityState::from_statecode)
            .ok_or_else(|| StoreError::corrupt(format!("opportunity state {code}")))?;
        let owner_id = row.uuid("owner_id")?;
        let owner = match row.text("owner_kind")?.as_str() {
            "user" => CrmOwner::User(owner_id.into()),
            "team" => CrmOwner::Team(owner_id.into()),
            other => return Err(StoreError::corrupt(format!("owner kind {other:?}"))),
        };
        let contacts: Vec<Uuid> = serde_json::from_str(&row.text("contact_ids")?)
            .map_err(|e| StoreError::corrupt(format!("opportunity contacts: {e}")))?;
        Ok(CrmOpportunity {
            id: row.id("id")?,
            name: row.text("name")?,
            state,
            owner,
            sales_stage: row
                .opt_int("sales_stage")?
                .map(i32::try_from)
                .transpose()
                .map_err(|_| StoreError::corrupt("sales stage out of range"))?,
            account: row.opt_id("account_id")?,
            contacts: contacts.into_iter().map(Into::into).collect(),
            currency: row.opt_id("currency_id")?,
            money: money_from(&row.text("money")?)?,
        })
    }
}

impl MirrorRow for CrmOpportunity {
    const TABLE: CrmTable = CrmTable::Opportunity;
}

const CONNECTION_COLUMNS: &str = "tenant_id, id, org_url, auth_kind, admin_user_name, \
     entra_tenant, client_id, authority_url, connected_as, companion_app_version, \
     can_act_on_behalf_of_reps, connected_at, last_sync_at, last_error, last_error_next_step, \
     disconnected_at, purged";

fn connection_from_row(row: &AnyRow) -> Result<ConnectionInfo> {
    let auth = match row.text("auth_kind")?.as_str() {
        "signed_in_admin" => CrmAuth::SignedInAdmin {
            admin_user_name: row.opt_text("admin_user_name")?.unwrap_or_default(),
        },
        "application_user" => CrmAuth::ApplicationUser {
            entra_tenant: row.opt_text("entra_tenant")?.unwrap_or_default(),
            client_id: row.opt_text("client_id")?.unwrap_or_default(),
        },
        other => return Err(StoreError::corrupt(format!("auth kind {other:?}"))),
    };
    let status = match row.opt_time("disconnected_at")? {
        Some(at) => ConnectionStatus::Disconnected {
            at,
            purged: row.flag("purged")?,
        },
        None => ConnectionStatus::Connected {
            since: row.time("connected_at")?,
            last_sync: row.opt_time("last_sync_at")?,
            last_error: row.opt_text("last_error")?,
        },
    };
    Ok(ConnectionInfo {
        connection: CrmConnection {
            id: row.id("id")?,
            tenant: row.id("tenant_id")?,
            org_url: row.text("org_url")?,
            auth,
            companion_app: match row.opt_text("companion_app_version")? {
                Some(version) => CompanionApp::Installed { version },
                None => CompanionApp::Missing,
            },
            can_act_on_behalf_of_reps: row.flag("can_act_on_behalf_of_reps")?,
            status,
        },
        authority_url: row.opt_text("authority_url")?,
        connected_as: row.opt_text("connected_as")?,
        last_error_next_step: row.opt_text("last_error_next_step")?,
    })
}

fn writeback_items_word(items: &WritebackItems) -> String {
    match items {
        WritebackItems::All => "all".to_owned(),
        WritebackItems::Chosen(kinds) => {
            kinds.iter().map(|k| k.word()).collect::<Vec<_>>().join(",")
        }
    }
}

fn writeback_items_from(word: &str) -> Result<WritebackItems> {
    if word == "all" {
        return Ok(WritebackItems::All);
    }
    let kinds = word
        .split(',')
        .filter(|k| !k.is_empty())
        .map(ActivityKind::from_word)
        .collect::<Result<BTreeSet<_>>>()?;
    Ok(WritebackItems::Chosen(kinds))
}

fn done_rows(done: sqlx::any::AnyQueryResult) -> u64 {
    done.rows_affected()
}

fn valid_secret_name(name: &str) -> Result<()> {
    if SECRET_NAMES.contains(&name) {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{name:?} is not a CRM secret name"
        )))
    }
}

impl TenantStore {
    /// Records a new live connection. A tenant has at most one: connecting again while one is live
    /// is [`StoreError::Conflict`].
    pub async fn create_connection(&mut self, new: NewConnection) -> Result<ConnectionInfo> {
        let (tenant, now) = (self.tid(), self.now());
        let id = CrmConnectionId::new_random();
        let (kind, admin, entra_tenant, client_id) = match &new.auth {
            CrmAuth::SignedInAdmin { admin_user_name } => {
                ("signed_in_admin", Some(admin_user_name.clone()), None, None)
            }
            CrmAuth::ApplicationUser {
                entra_tenant,
                client_id,
            } => (
                "application_user",
                None,
                Some(entra_tenant.clone()),
                Some(client_id.clone()),
            ),
        };
        let version = match &new.companion_app {
            CompanionApp::Installed { version } => Some(version.clone()),
            CompanionApp::Missing => None,
        };
        sqlx::query(
            "INSERT INTO crm_connections (tenant_id, id, org_url, auth_kind, admin_user_name, \
             entra_tenant, client_id, authority_url, connected_as, companion_app_version, \
             can_act_on_behalf_of_reps, connected_at) \
             SELECT id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM tenants WHERE id = $1",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(new.org_url.trim_end_matches('/'))
        .bind(kind)
        .bind(admin)
        .bind(entra_tenant)
        .bind(client_id)
        .bind(new.authority_url.clone())
        .bind(new.connected_as.clone())
        .bind(version)
        .bind(new.can_act_on_behalf_of_reps)
        .bind(millis(now))
        .execute(&mut *self.conn().await?)
        .await
        .map_err(|e| {
            StoreError::from(e).on_unique("The CRM is already connected; disconnect it first.")
        })
        .and_then(|done| found(done.rows_affected(), "tenant"))?;
        self.connection(id)
            .await?
            .ok_or(StoreError::NotFound("connection"))
    }

    pub async fn connection(&mut self, id: CrmConnectionId) -> Result<Option<ConnectionInfo>> {
        let tenant = self.tid();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONNECTION_COLUMNS} FROM crm_connections WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(tenant)
        .bind(id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.as_ref().map(connection_from_row).transpose()
    }

    /// The connection in use, if the CRM is connected.
    pub async fn live_connection(&mut self) -> Result<Option<ConnectionInfo>> {
        let tenant = self.tid();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONNECTION_COLUMNS} FROM crm_connections WHERE tenant_id = $1 \
             AND disconnected_at IS NULL"
        )))
        .bind(tenant)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.as_ref().map(connection_from_row).transpose()
    }

    /// Every connection the tenant had, newest first.
    pub async fn connections(&mut self) -> Result<Vec<ConnectionInfo>> {
        let tenant = self.tid();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONNECTION_COLUMNS} FROM crm_connections WHERE tenant_id = $1 \
             ORDER BY connected_at DESC, id"
        )))
        .bind(tenant)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(connection_from_row).collect()
    }

    pub async fn set_companion_app(
        &mut self,
        id: CrmConnectionId,
        app: &CompanionApp,
    ) -> Result<()> {
        let tenant = self.tid();
        let version = match app {
            CompanionApp::Installed { version } => Some(version.clone()),
            CompanionApp::Missing => None,
        };
        let done = sqlx::query(
            "UPDATE crm_connections SET companion_app_version = $3 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(version)
        .execute(&mut *self.conn().await?)
        .await?;
        found(done.rows_affected(), "connection")
    }

    pub async fn set_can_act_on_behalf_of_reps(
        &mut self,
        id: CrmConnectionId,
        can: bool,
    ) -> Result<()> {
        let tenant = self.tid();
        let done = sqlx::query(
            "UPDATE crm_connections SET can_act_on_behalf_of_reps = $3 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(can)
        .execute(&mut *self.conn().await?)
        .await?;
        found(done.rows_affected(), "connection")
    }

    /// A sync finished: its date is the last sync date, and any earlier error is cleared.
    pub async fn record_sync_success(
        &mut self,
        id: CrmConnectionId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let tenant = self.tid();
        let done = sqlx::query(
            "UPDATE crm_connections SET last_sync_at = $3, last_error = NULL, \
             last_error_next_step = NULL WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(millis(at))
        .execute(&mut *self.conn().await?)
        .await?;
        found(done.rows_affected(), "connection")
    }

    /// Shows (or clears, with `None`) why the connection is not working and what to do about it.
    pub async fn set_connection_error(
        &mut self,
        id: CrmConnectionId,
        error: Option<(&str, &str)>,
    ) -> Result<()> {
        let tenant = self.tid();
        let done = sqlx::query(
            "UPDATE crm_connections SET last_error = $3, last_error_next_step = $4 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id.to_string())
        .bind(error.map(|(message, _)| message))
        .bind(error.map(|(_, next)| next))
        .execute(&mut *self.conn().await?)
        .await?;
        found(done.rows_affected(), "connection")
    }

    /// Disconnects without purging: imported data stays but stops updating; the credentials and
    /// delta tokens go (a reconnect starts with a full read).
    pub async fn disconnect(&mut self, id: CrmConnectionId) -> Result<()> {
        let (tenant, now) = (self.tid(), millis(self.now()));
        let mut tx = self.atomic().await?;
        let done = sqlx::query(
            "UPDATE crm_connections SET disconnected_at = COALESCE(disconnected_at, $3) \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(&tenant)
        .bind(id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        found(done.rows_affected(), "connection")?;
        for table in ["crm_secrets", "crm_delta_tokens"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND connection_id = $2"
            )))
            .bind(&tenant)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a connection and everything stored under it: secrets, delta tokens, mirror rows.
    pub async fn delete_connection(&mut self, id: CrmConnectionId) -> Result<()> {
        let tenant = self.tid();
        let done = sqlx::query("DELETE FROM crm_connections WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id.to_string())
            .execute(&mut *self.conn().await?)
            .await?;
        found(done.rows_affected(), "connection")
    }

    /// Stores a credential or token encrypted, bound to this tenant, connection and name.
    pub async fn put_secret(
        &mut self,
        connection: CrmConnectionId,
        name: &str,
        secret: &SecretString,
    ) -> Result<()> {
        valid_secret_name(name)?;
        let owner = SecretOwner {
            tenant: self.tenant,
            connection,
            name,
        };
        let sealed = self.store.keyring()?.seal(&owner, secret)?;
        let (tenant, now) = (self.tid(), millis(self.now()));
        let done = sqlx::query(
            "INSERT INTO crm_secrets (tenant_id, connection_id, name, sealed, updated_at) \
             SELECT tenant_id, id, $3, $4, $5 FROM crm_connections WHERE tenant_id = $1 AND id = $2 \
             ON CONFLICT (tenant_id, connection_id, name) DO UPDATE SET sealed = excluded.sealed, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(connection.to_string())
        .bind(name)
        .bind(sealed)
        .bind(now)
        .execute(&mut *self.conn().await?)
        .await?;
        found(done.rows_affected(), "connection")
    }

    /// A decrypted secret; `None` when none is stored under that name.
    pub async fn secret(
        &mut self,
        connection: CrmConnectionId,
        name: &str,
    ) -> Result<Option<SecretString>> {
        valid_secret_name(name)?;
        let tenant = self.tid();
        let row = sqlx::query(
            "SELECT sealed FROM crm_secrets WHERE tenant_id = $1 AND connection_id = $2 AND name = $3",
        )
        .bind(tenant)
        .bind(connection.to_string())
        .bind(name)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed = row.bytes("sealed")?;
        let owner = SecretOwner {
            tenant: self.tenant,
            connection,
            name,
        };
        Ok(Some(self.store.keyring()?.open(&owner, &sealed)?))
    }

    pub async fn delete_secret(&mut self, connection: CrmConnectionId, name: &str) -> Result<()> {
        let tenant = self.tid();
        sqlx::query(
            "DELETE FROM crm_secrets WHERE tenant_id = $1 AND connection_id = $2 AND name = $3",
        )
        .bind(tenant)
        .bind(connection.to_string())
        .bind(name)
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    /// The admin's answers, if given yet.
    pub async fn crm_settings(&mut self) -> Result<Option<CrmSettings>> {
        let tenant = self.tid();
        let row = sqlx::query(
            "SELECT auto_sync_all_seats, pipeline_stage, won_value_column, writeback_enabled, \
             writeback_items FROM crm_settings WHERE tenant_id = $1",
        )
        .bind(tenant)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let pipeline_stage = match row.opt_int("pipeline_stage")? {
            Some(stage) => PipelineStage::Stage(
                i32::try_from(stage).map_err(|_| StoreError::corrupt("stage out of range"))?,
            ),
            None => PipelineStage::NotSure,
        };
        Ok(Some(CrmSettings {
            auto_sync_all_seats: row.flag("auto_sync_all_seats")?,
            pipeline_stage,
            won_value_field: match row.opt_text("won_value_column")? {
                Some(column) => WonValueField::Column(column),
                None => WonValueField::NotSure,
            },
            writeback: WritebackSettings {
                enabled: row.flag("writeback_enabled")?,
                items: writeback_items_from(&row.text("writeback_items")?)?,
            },
        }))
    }

    /// Stores the admin's answers (validate them with [`domain::settings::validate`] first).
    pub async fn put_crm_settings(&mut self, settings: &CrmSettings) -> Result<()> {
        let (tenant, now) = (self.tid(), millis(self.now()));
        let stage = match settings.pipeline_stage {
            PipelineStage::Stage(stage) => Some(i64::from(stage)),
            PipelineStage::NotSure => None,
        };
        let won = match &settings.won_value_field {
            WonValueField::Column(column) => Some(column.clone()),
            WonValueField::NotSure => None,
        };
        let done = sqlx::query(
            "INSERT INTO crm_settings (tenant_id, auto_sync_all_seats, pipeline_stage, \
             won_value_column, writeback_enabled, writeback_items, updated_at) \
             SELECT id, $2, $3, $4, $5, $6, $7 FROM tenants WHERE id = $1 \
             ON CONFLICT (tenant_id) DO UPDATE SET auto_sync_all_seats = excluded.auto_sync_all_seats, \
             pipeline_stage = excluded.pipeline_stage, won_value_column = excluded.won_value_column, \
             writeback_enabled = excluded.writeback_enabled, \
             writeback_items = excluded.writeback_items, updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(settings.auto_sync_all_seats)
        .bind(stage)
        .bind(won)
        .bind(settings.writeback.enabled)
        .bind(writeback_items_word(&settings.writeback.items))
        .bind(now)
        .execute(&mut *self.conn().await?)
        .await?;
        found(done_rows(done), "tenant")
    }

    pub async fn delta_tokens(&mut self, connection: CrmConnectionId) -> Result<Vec<DeltaToken>> {
        let tenant = self.tid();
        let rows = sqlx::query(
            "SELECT table_name, token FROM crm_delta_tokens WHERE tenant_id = $1 AND connection_id = $2 \
             ORDER BY table_name",
        )
        .bind(tenant)
        .bind(connection.to_string())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeltaToken {
                    table: CrmTable::from_word(&row.text("table_name")?)?,
                    token: row.text("token")?,
                })
            })
            .collect()
    }

    pub async fn delta_token(
        &mut self,
        connection: CrmConnectionId,
        table: CrmTable,
    ) -> Result<Option<String>> {
        let tenant = self.tid();
        let row = sqlx::query(
            "SELECT token FROM crm_delta_tokens WHERE tenant_id = $1 AND connection_id = $2 \
             AND table_name = $3",
        )
        .bind(tenant)
        .bind(connection.to_string())
        .bind(table.word())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.map(|r| r.text("token")).transpose()
    }

    /// Forgets a table's token (the CRM said it expired): the next sync reads the table in full.
    pub async fn clear_delta_token(
        &mut self,
        connection: CrmConnectionId,
        table: CrmTable,
    ) -> Result<()> {
        let tenant = self.tid();
        sqlx::query(
            "DELETE FROM crm_delta_tokens WHERE tenant_id = $1 AND connection_id = $2 AND table_name = $3",
        )
        .bind(tenant)
        .bind(connection.to_string())
        .bind(table.word())
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    /// Applies one page read from the CRM: upserts, deletes, and the delta token, together.
    pub async fn apply_crm_page<R: MirrorRow>(
        &mut self,
        connection: CrmConnectionId,
        page: &CrmPage<R>,
    ) -> Result<()> {
        let started = self.enter().await?;
        let result = self.apply_crm_page_inside(connection, page).await;
        self.leave(started, result).await
    }

    async fn apply_crm_page_inside<R: MirrorRow>(
        &mut self,
        connection: CrmConnectionId,
        page: &CrmPage<R>,
    ) -> Result<()> {
        self.upsert_crm_rows(connection, &page.upserts).await?;
        self.delete_crm_rows::<R>(connection, &page.deletes).await?;
        if let Some(token) = &page.delta_token {
            let (tenant, now) = (self.tid(), millis(self.now()));
            let done = sqlx::query(
                "INSERT INTO crm_delta_tokens (tenant_id, connection_id, table_name, token, updated_at) \
                 SELECT tenant_id, id, $3, $4, $5 FROM crm_connections WHERE tenant_id = $1 AND id = $2 \
                 ON CONFLICT (tenant_id, connection_id, table_name) DO UPDATE SET \
                 token = excluded.token, updated_at = excluded.updated_at",
            )
            .bind(tenant)
            .bind(connection.to_string())
            .bind(R::TABLE.word())
            .bind(token)
            .bind(now)
            .execute(&mut *self.conn().await?)
            .await?;
            found(done_rows(done), "connection")?;
        }
        Ok(())
    }

    /// Inserts or replaces mirrored rows, in large batches, all or nothing.
    pub async fn upsert_crm_rows<R: MirrorRow>(
        &mut self,
        connection: CrmConnectionId,
        rows: &[Mirrored<R>],
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let columns = R::COLUMNS.len() + 5;
        let updates: Vec<String> = R::COLUMNS
            .iter()
            .chain(["raw", "read_at"].iter())
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let (tenant, now) = (self.tid(), millis(self.now()));
        let backend = self.backend();
        let rows = last_per_key(rows, |m| Some(m.row.id()));
        let mut tx = self.atomic().await?;
        for chunk in rows.chunks(chunk_rows(columns)) {
            let sql = format!(
                "INSERT INTO {} (tenant_id, connection_id, id, {}, raw, read_at) VALUES {} \
                 ON CONFLICT (tenant_id, connection_id, id) DO UPDATE SET {}",
                R::SQL_TABLE,
                R::COLUMNS.join(", "),
                values_placeholders(backend, chunk.len(), columns),
                updates.join(", ")
            );
            let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(columns));
            for mirrored in chunk {
                query = query
                    .bind(tenant.clone())
                    .bind(connection.to_string())
                    .bind(mirrored.row.id().to_string());
                query = mirrored.row.bind(query);
                query = query.bind(mirrored.raw.to_string()).bind(now);
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::from(e).on_foreign_key("No such CRM connection."))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes mirrored rows deleted in the CRM.
    pub async fn delete_crm_rows<R: MirrorRow>(
        &mut self,
        connection: CrmConnectionId,
        ids: &[Uuid],
    ) -> Result<u64> {
        let tenant = self.tid();
        let mut deleted = 0;
        let mut conn = self.conn().await?;
        for chunk in ids.chunks(chunk_rows(1)) {
            let sql = format!(
                "DELETE FROM {} WHERE tenant_id = $1 AND connection_id = $2 AND id IN ({})",
                R::SQL_TABLE,
                list_placeholders(3, chunk.len())
            );
            let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(1))
                .bind(tenant.clone())
                .bind(connection.to_string());
            for id in chunk {
                query = query.bind(id.to_string());
            }
            deleted += query.execute(&mut *conn).await?.rows_affected();
        }
        Ok(deleted)
    }

    /// Every mirrored row of a table under the connection, in id order.
    pub async fn crm_rows<R: MirrorRow>(&mut self, connection: CrmConnectionId) -> Result<Vec<R>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self.crm_rows_page::<R>(connection, after, 10_000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id());
            out.extend(page);
        }
        Ok(out)
    }

    /// A page of a table's mirrored rows in id order, after `after`: a large table read a slice
    /// at a time instead of held whole (a million contacts would be gigabytes as database rows).
    pub async fn crm_rows_page<R: MirrorRow>(
        &mut self,
        connection: CrmConnectionId,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<R>> {
        let tenant = self.tid();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, {} FROM {} WHERE tenant_id = $1 AND connection_id = $2 AND id > $3 \
             ORDER BY id LIMIT $4",
            R::COLUMNS.join(", "),
            R::SQL_TABLE
        )))
        .bind(tenant)
        .bind(connection.to_string())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(R::from_row).collect()
    }

    /// The mirrored rows with these ids (those the mirror has), in id order.
    pub async fn crm_rows_by_ids<R: MirrorRow>(
        &mut self,
        connection: CrmConnectionId,
        ids: &[Uuid],
    ) -> Result<Vec<R>> {
        let mut rows: Vec<R> = self.crm_rows_where_in(connection, "id", ids).await?;
        rows.dedup_by_key(|r| r.id());
        Ok(rows)
    }

    /// The mirrored opportunities owned by one of these CRM users (the only ones that can be in
    /// a rep's pipeline), in id order.
    pub async fn crm_opportunities_owned_by(
        &mut self,
        connection: CrmConnectionId,
        owners: &[CrmUserId],
    ) -> Result<Vec<CrmOpportunity>> {
        let owners: Vec<Uuid> = owners.iter().map(|o| o.0).collect();
        self.crm_rows_where_in(connection, "owner_id", &owners)
            .await
    }

    /// The mirrored contacts whose parent account is one of these, in id order.
    pub async fn crm_contacts_of_accounts(
        &mut self,
        connection: CrmConnectionId,
        accounts: &[CrmAccountId],
    ) -> Result<Vec<CrmContact>> {
        let accounts: Vec<Uuid> = accounts.iter().map(|a| a.0).collect();
        self.crm_rows_where_in(connection, "account_id", &accounts)
            .await
    }

    /// The mirrored rows of a table whose `column` holds one of `values`, in id order: one query
    /// per chunk of values.
    async fn crm_rows_where_in<R: MirrorRow>(
        &mut self,
        connection: CrmConnectionId,
        column: &'static str,
        values: &[Uuid],
    ) -> Result<Vec<R>> {
        let tenant = self.tid();
        let mut out = Vec::with_capacity(values.len());
        let mut conn = self.conn().await?;
        for chunk in values.chunks(chunk_rows(1)) {
            let sql = format!(
                "SELECT id, {} FROM {} WHERE tenant_id = $1 AND connection_id = $2 AND {column} IN ({})",
                R::COLUMNS.join(", "),
                R::SQL_TABLE,
                list_placeholders(3, chunk.len())
            );
            let mut query = crate::db::chunk_query(sql, chunk.len(), chunk_rows(1))
                .bind(tenant.clone())
                .bind(connection.to_string());
            for value in chunk {
                query = query.bind(value.to_string());
            }
            for row in query.fetch_all(&mut *conn).await? {
                out.push(R::from_row(&row)?);
            }
        }
        out.sort_by_key(|r| r.id());
        Ok(out)
    }

    /// The ids of every mirrored row of a table under the connection (what a full read compares
    /// against to find the rows deleted while no delta token was kept), read a slice at a time.
    pub async fn crm_row_ids<R: MirrorRow>(
        &mut self,
        connection: CrmConnectionId,
    ) -> Result<Vec<Uuid>> {
        let tenant = self.tid();
        let mut out = Vec::new();
        loop {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM {} WHERE tenant_id = $1 AND connection_id = $2 AND id > $3 \
                 ORDER BY id LIMIT 50000",
                R::SQL_TABLE
            )))
            .bind(tenant.clone())
            .bind(connection.to_string())
            .bind(out.last().map(Uuid::to_string).unwrap_or_default())
            .fetch_all(&mut *self.conn().await?)
            .await?;
            if rows.is_empty() {
                return Ok(out);
            }
            for row in &rows {
                out.push(row.uuid("id")?);
            }
        }
    }

    /// One mirrored row and the row as read.
    pub async fn crm_row<R: MirrorRow>(
        &mut self,
        connection: CrmConnectionId,
        id: Uuid,
    ) -> Result<Option<Mirrored<R>>> {
        let tenant = self.tid();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, {}, raw FROM {} WHERE tenant_id = $1 AND connection_id = $2 AND id = $3",
            R::COLUMNS.join(", "),
            R::SQL_TABLE
        )))
        .bind(tenant)
        .bind(connection.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let raw = serde_json::from_str(&row.text("raw")?)
            .map_err(|e| StoreError::corrupt(format!("raw CRM row: {e}")))?;
        Ok(Some(Mirrored {
            row: R::from_row(&row)?,
            raw,
        }))
    }

    /// How many mirrored rows the tenant holds per table, over all its connections.
    pub async fn mirror_counts(&mut self) -> Result<MirrorCounts> {
        let tenant = self.tid();
        let mut conn = self.conn().await?;
        let mut counts = [0usize; 5];
        for (i, table) in [
            "crm_users",
            "crm_accounts",
            "crm_contacts",
            "crm_leads",
            "crm_opportunities",
        ]
        .iter()
        .enumerate()
        {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) AS n FROM {table} WHERE tenant_id = $1"
            )))
            .bind(&tenant)
            .fetch_one(&mut *conn)
            .await?;
            counts[i] = usize::try_from(row.int("n")?).unwrap_or_default();
        }
        let [users, accounts, contacts, leads, opportunities] = counts;
        Ok(MirrorCounts {
            users,
            accounts,
            contacts,
            leads,
            opportunities,
        })
    }
}

impl crate::Store {
    /// Re-encrypts every stored secret not sealed with the current key (after adding a key
    /// version); returns how many were rewritten. Old key versions can be removed afterwards.
    pub async fn reseal_secrets(&self) -> Result<u64> {
        let keyring = self.keyring()?;
        let current = keyring.current_version();
        let rows = sqlx::query("SELECT tenant_id, connection_id, name, sealed FROM crm_secrets")
            .fetch_all(&self.pool)
            .await?;
        let mut resealed = 0;
        for row in &rows {
            let sealed = row.bytes("sealed")?;
            if crate::secrets::Keyring::version_of(&sealed) == Some(current) {
                continue;
            }
            let name = row.text("name")?;
            let owner = SecretOwner {
                tenant: row.id("tenant_id")?,
                connection: row.id("connection_id")?,
                name: &name,
            };
            let secret = keyring.open(&owner, &sealed)?;
            let done = sqlx::query(
                "UPDATE crm_secrets SET sealed = $4 WHERE tenant_id = $1 AND connection_id = $2 \
                 AND name = $3 AND sealed = $5",
            )
            .bind(owner.tenant.to_string())
            .bind(owner.connection.to_string())
            .bind(&name)
            .bind(keyring.seal(&owner, &secret)?)
            .bind(sealed)
            .execute(&self.pool)
            .await?;
            resealed += done.rows_affected();
        }
        Ok(resealed)
    }
}
