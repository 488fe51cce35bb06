//! The CRM as the engine sees it: the [`Crm`] trait (reads as initial and delta page streams,
//! org facts for pre-flight, choices, the companion app, activity writes) and its error type.
//!
//! The engine never names a CRM product: everything it needs goes through this trait, so a second
//! CRM is one more implementation beside [`dynamics`]. Rows come back as the domain's mirror types
//! plus the row as the CRM sent it (kept for matching fields the rules do not read and for support).

pub mod dynamics;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::activity::ActivityKind;
use domain::crm::{
    CompanionApp, CrmAccount, CrmContact, CrmLead, CrmOpportunity, CrmTable, CrmUser, StageOption,
};
use domain::ids::{CrmAccountId, CrmActivityId, CrmContactId, CrmLeadId, CrmUserId};
use domain::settings::MoneyColumn;
use domain::writeback::{CrmActivityState, ExternalKey, Regarding, WritebackPlan};
use futures_util::stream::BoxStream;
use secrecy::SecretString;
use uuid::Uuid;

/// A CRM row as read: what the rules use, and the row as the CRM sent it.
#[derive(Clone, Debug, PartialEq)]
pub struct Read<R> {
    pub row: R,
    pub raw: serde_json::Value,
}

/// One page of a table read. An initial read has no deletes; the last page of any read carries
/// the token the next delta read starts from.
#[derive(Clone, Debug, PartialEq)]
pub struct CrmPage<R> {
    pub upserts: Vec<Read<R>>,
    pub deletes: Vec<Uuid>,
    pub delta_token: Option<String>,
    /// Rows the CRM sent that cannot be used (no id, an unknown state), each with why. They are
    /// reported on the sync run and left out; the rest of the page is applied.
    pub unreadable: Vec<String>,
}

/// Pages of one table, fetched as the stream is polled.
pub type Pages<R> = BoxStream<'static, Result<CrmPage<R>, CrmError>>;

/// How many rows a table holds, as far as the CRM will say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowCount {
    pub count: u64,
    /// The CRM caps its counts; there are at least `count` rows.
    pub at_least: bool,
}

/// Who a connection acts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmIdentity {
    pub user: CrmUserId,
    /// As the CRM names it, for the admin page ("# leadbridge", "Ana Souza").
    pub name: String,
}

/// How one pre-flight check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    Passed,
    /// The connection works; a feature (writeback, attribution, incremental sync) is limited.
    Warning,
    /// The connection cannot be used.
    Failed,
    /// Not checked because an earlier check failed.
    Skipped,
}

/// One line of the pre-flight report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreflightCheck {
    /// Stable id (`host`, `version`, `organization_type`, `read_account`, `companion_app`…).
    pub id: String,
    pub outcome: CheckOutcome,
    /// What was found, in plain words.
    pub detail: String,
    /// For a warning or failure: the message shown, with its next step.
    pub problem: Option<ConnectionProblem>,
}

/// Everything pre-flight found, check by check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preflight {
    pub checks: Vec<PreflightCheck>,
    pub identity: Option<CrmIdentity>,
    /// The identity may act on behalf of reps, so they show as creators of what is written back.
    pub can_act_on_behalf_of_reps: bool,
    pub companion_app: CompanionApp,
}

impl Preflight {
    /// No check failed: the connection can be saved.
    pub fn passed(&self) -> bool {
        self.checks
            .iter()
            .all(|c| c.outcome != CheckOutcome::Failed)
    }

    /// The first failure: what the admin is shown.
    pub fn failure(&self) -> Option<&PreflightCheck> {
        self.checks
            .iter()
            .find(|c| c.outcome == CheckOutcome::Failed)
    }
}

/// A workspace person to create in the CRM as a contact or lead (Unassigned Activities).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCrmPerson {
    /// The id to create it with, so a retried create finds the row it made instead of adding one.
    pub id: Uuid,
    pub first_name: Option<String>,
    pub last_name: String,
    pub email: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    /// A contact's account, when the person's company is matched to one.
    pub account: Option<CrmAccountId>,
    /// The rep's CRM user owns the new record.
    pub owner: Option<CrmUserId>,
}

/// An activity we wrote, as the CRM holds it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrmActivityRow {
    pub id: CrmActivityId,
    pub regarding: Option<Regarding>,
    pub state: CrmActivityState,
}

/// Cumulative counts of a connection's traffic trouble.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportCounts {
    pub throttled: u64,
    pub retries: u64,
}

/// What deleting an activity found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    /// Someone removed it in the CRM already.
    AlreadyGone,
}

/// A CRM. One value per connection; it holds the credentials and reuses its tokens.
#[async_trait]
pub trait Crm: Send + Sync + fmt::Debug {
    async fn who_am_i(&self) -> Result<CrmIdentity, CrmError>;

    /// Every check a connection must pass (online, version, not a sandbox, privileges, readable
    /// tables) and what limits it (delegate privilege, companion app). Never fails as a whole.
    async fn preflight(&self) -> Preflight;

    /// Turns change tracking on where it is off and can be turned on.
    async fn enable_change_tracking(&self) -> Result<(), CrmError>;

    async fn companion_app(&self) -> Result<CompanionApp, CrmError>;
    /// Installs the companion app, or completes and upgrades it; safe to repeat.
    async fn install_companion_app(&self) -> Result<CompanionApp, CrmError>;

    async fn count(&self, table: CrmTable) -> Result<RowCount, CrmError>;

    /// `delta`: the token of the last read, or `None` for a full read. A token the CRM no longer
    /// honours fails with [`CrmErrorKind::DeltaExpired`].
    fn users(&self, delta: Option<String>) -> Pages<CrmUser>;
    fn accounts(&self, delta: Option<String>) -> Pages<CrmAccount>;
    fn contacts(&self, delta: Option<String>) -> Pages<CrmContact>;
    fn leads(&self, delta: Option<String>) -> Pages<CrmLead>;
    fn opportunities(&self, delta: Option<String>) -> Pages<CrmOpportunity>;

    /// The opportunity sales stages the org uses, in its order.
    async fn stage_options(&self) -> Result<Vec<StageOption>, CrmError>;
    /// The money columns of opportunity.
    async fn money_columns(&self) -> Result<Vec<MoneyColumn>, CrmError>;

    /// Writes an activity by its key: created or updated in place, never duplicated; owner,
    /// link, texts (and the overflow note) and state as planned. `written_before` says the row
    /// may exist already (it was written, or an attempt failed), which costs a read first.
    async fn upsert_activity(
        &self,
        plan: &WritebackPlan,
        written_before: bool,
    ) -> Result<CrmActivityId, CrmError>;
    async fn activity(
        &self,
        kind: ActivityKind,
        key: &ExternalKey,
    ) -> Result<Option<CrmActivityRow>, CrmError>;
    async fn delete_activity(
        &self,
        kind: ActivityKind,
        key: &ExternalKey,
    ) -> Result<Deleted, CrmError>;

    /// Creates a contact (or finds the one a previous attempt created with the same id).
    async fn create_contact(&self, person: &NewCrmPerson) -> Result<CrmContactId, CrmError>;
    async fn create_lead(&self, person: &NewCrmPerson) -> Result<CrmLeadId, CrmError>;

    /// How often the CRM throttled this connection and how many requests were sent again, since
    /// it was opened.
    fn transport_counts(&self) -> TransportCounts;

    /// A credential the CRM rotated while being used (a signed-in admin's refresh token), to
    /// store in place of the one the connection was opened with.
    async fn rotated_credential(&self) -> Option<SecretString>;
}

/// How a connection authenticates.
#[derive(Clone, Debug)]
pub enum Credentials {
    ApplicationUser {
        entra_tenant: String,
        client_id: String,
        client_secret: SecretString,
    },
    /// An admin signed in; the refresh token kept from that sign-in (or its latest rotation).
    SignedInAdmin { refresh_token: SecretString },
}

/// What a connection is opened with.
#[derive(Clone, Debug)]
pub struct ConnectionTarget {
    /// The environment URL, e.g. `https://contoso.crm4.dynamics.com`.
    pub org_url: String,
    /// The Entra authority when it is not the public cloud's (a sovereign cloud, the emulator).
    pub authority_url: Option<String>,
    pub credentials: Credentials,
}

/// An admin sign-in started: send the browser to `url`; keep `state` and `verifier` until the
/// redirect comes back.
#[derive(Debug)]
pub struct SignInStarted {
    pub url: String,
    pub state: String,
    pub verifier: SecretString,
}

/// Opens connections to one kind of CRM.
#[async_trait]
pub trait CrmConnector: Send + Sync + fmt::Debug {
    /// A connection with stored credentials. Nothing is sent until it is used.
    fn open(&self, target: &ConnectionTarget) -> Result<Arc<dyn Crm>, CrmError>;

    /// Starts an admin sign-in to the org.
    fn begin_sign_in(
        &self,
        org_url: &str,
        authority_url: Option<&str>,
    ) -> Result<SignInStarted, CrmError>;

    /// Completes a sign-in with the code from the redirect: the connection, signed in. Its
    /// credential to keep is [`Crm::rotated_credential`].
    async fn finish_sign_in(
        &self,
        org_url: &str,
        authority_url: Option<&str>,
        code: &str,
        verifier: &SecretString,
    ) -> Result<Arc<dyn Crm>, CrmError>;
}

/// What kind of failure a CRM call ended in: what the engine decides on and what the admin sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrmErrorKind {
    /// The CRM could not be reached (DNS, TLS, refused, reset, timeout).
    CannotConnect,
    /// A server error, or an answer that cannot be understood.
    Api,
    /// The identity lacks a privilege.
    Privileges,
    /// A table the product needs does not exist or cannot be read.
    ObjectsUnreadable,
    /// The CRM's service protection limits refused the call.
    Throttled,
    /// A delta token the CRM no longer honours: read in full.
    DeltaExpired,
    NotFound,
    /// The row changed or already exists.
    Conflict,
    /// The CRM refused the request itself (a value too long, a bad reference).
    Rejected,
    /// The sign-in was refused: a revoked secret, an expired refresh token, no consent.
    Credentials,
    /// Something configured locally is unusable (a URL, a certificate).
    Config,
}

impl CrmErrorKind {
    /// Whether trying again later can succeed without anyone changing anything.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            CrmErrorKind::CannotConnect | CrmErrorKind::Api | CrmErrorKind::Throttled
        )
    }

    /// Whether the failure is about the connection as a whole (its credentials or privileges),
    /// so the connection shows as not working until it is fixed.
    pub fn breaks_connection(self) -> bool {
        matches!(
            self,
            CrmErrorKind::Credentials | CrmErrorKind::Privileges | CrmErrorKind::ObjectsUnreadable
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct CrmError {
    pub kind: CrmErrorKind,
    /// What the CRM said, for the admin and the logs; never holds a credential.
    pub detail: String,
    /// How long the CRM asked us to wait (throttling).
    pub retry_after: Option<Duration>,
}

impl CrmError {
    pub fn new(kind: CrmErrorKind, detail: impl Into<String>) -> CrmError {
        CrmError {
            kind,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// The documented message a connection failing this way shows.
    pub fn problem(&self) -> ConnectionProblem {
        match self.kind {
            CrmErrorKind::CannotConnect => ConnectionProblem::CannotConnect,
            CrmErrorKind::Privileges => ConnectionProblem::InsufficientPrivileges,
            CrmErrorKind::ObjectsUnreadable => ConnectionProblem::ObjectsUnreadable,
            _ => ConnectionProblem::ApiError,
        }
    }
}

/// Why a connection cannot be made or stopped working: the setup guide's four messages, each
/// with its next step, and the two kinds of org we refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionProblem {
    CannotConnect,
    ApiError,
    InsufficientPrivileges,
    ObjectsUnreadable,
    OnPremises,
    Sandbox,
}

impl ConnectionProblem {
    pub fn message(self) -> &'static str {
        match self {
            ConnectionProblem::CannotConnect => "Could not connect to CRM. Please try again later.",
            ConnectionProblem::ApiError => "The CRM API reported an error. Please try again later.",
            ConnectionProblem::InsufficientPrivileges => {
                "Your CRM account does not have sufficient access privileges. Please check with your CRM administrator."
            }
            ConnectionProblem::ObjectsUnreadable => {
                "Could not read the required CRM objects from your org."
            }
            ConnectionProblem::OnPremises => "Microsoft Dynamics on-premises is not supported.",
            ConnectionProblem::Sandbox => {
                "Sandbox environments are not supported yet. Connect your production environment."
            }
        }
    }

    pub fn next_step(self) -> &'static str {
        match self {
            ConnectionProblem::CannotConnect => {
                "There is a connection error with your CRM. Try again later."
            }
            ConnectionProblem::ApiError => {
                "Error with your API access. Check your CRM system's uptime or contact your CRM representative."
            }
            ConnectionProblem::InsufficientPrivileges => {
                "Contact your internal CRM administrator to obtain the needed access privileges."
            }
            ConnectionProblem::ObjectsUnreadable => {
                "Refer to the security white paper (docs/security.md) for the objects and privileges leadbridge needs."
            }
            ConnectionProblem::OnPremises => {
                "Connect a Microsoft Dynamics 365 online environment (its address ends in dynamics.com)."
            }
            ConnectionProblem::Sandbox => {
                "Use the URL of your production environment, or ask us when sandbox support is available."
            }
        }
    }
}
