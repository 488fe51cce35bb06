//! Pre-flight: one call that checks everything a connection needs (online host, version, not a
//! sandbox, identity, privileges with their depth, change tracking, the companion app) and returns
//! a report the UI renders, each failed item with one of the four documented messages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;

use crate::client::Client;
use crate::companion::{CompanionState, compare_versions};
use crate::error::{ConnectionMessage, Error};
use crate::query::{Key, Query, entity_path};
use crate::tracking::TableTracking;

/// The oldest Dynamics version leadbridge supports.
pub const MIN_VERSION: &str = "8.2";

/// Host suffixes of Dynamics 365 online: the commercial cloud (any region), GCC High, DoD,
/// China (21Vianet) and the former German cloud.
const ONLINE_SUFFIXES: &[&str] = &[
    ".dynamics.com",
    ".crm.microsoftdynamics.us",
    ".crm.appsplatform.us",
    ".crm.dynamics.cn",
    ".crm.microsoftdynamics.de",
];

/// The tables leadbridge reads: (logical name, entity set, read privilege).
const READ_TABLES: [(&str, &str, &str); 5] = [
    ("account", "accounts", "prvReadAccount"),
    ("contact", "contacts", "prvReadContact"),
    ("lead", "leads", "prvReadLead"),
    ("opportunity", "opportunities", "prvReadOpportunity"),
    ("systemuser", "systemusers", "prvReadUser"),
];

/// What writing activities back needs: the custom activities inherit activitypointer's
/// privileges; they are linked to contacts, leads and accounts; long texts go into notes.
const WRITEBACK_PRIVILEGES: [&str; 9] = [
    "prvCreateActivity",
    "prvWriteActivity",
    "prvAppendActivity",
    "prvAppendToContact",
    "prvAppendToLead",
    "prvAppendToAccount",
    "prvCreateNote",
    "prvAppendNote",
    "prvAppendToActivity",
];

pub const ACT_ON_BEHALF: &str = "prvActOnBehalfOfAnotherUser";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    /// The connection works; a feature (writeback, attribution, incremental sync) is limited.
    Warning,
    /// The connection cannot be used.
    Failed,
    /// Not checked because an earlier check failed.
    Skipped,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Stable id: `host`, `connect`, `version`, `organization_type`, `read_account`, …,
    /// `writeback_privileges`, `delegate_privilege`, `change_tracking`, `companion_app`.
    pub id: String,
    pub status: Status,
    /// What was found, in plain words.
    pub detail: String,
    /// For a warning or failure: which documented message it shows, with its text and next step.
    pub message: Option<ConnectionMessage>,
    pub message_text: Option<&'static str>,
    pub next_step: Option<&'static str>,
}

impl Check {
    fn new(
        id: &str,
        status: Status,
        detail: impl Into<String>,
        message: Option<ConnectionMessage>,
    ) -> Check {
        Check {
            id: id.into(),
            status,
            detail: detail.into(),
            message,
            message_text: message.map(ConnectionMessage::text),
            next_step: message.map(ConnectionMessage::next_step),
        }
    }

    fn passed(id: &str, detail: impl Into<String>) -> Check {
        Check::new(id, Status::Passed, detail, None)
    }

    fn failed(id: &str, detail: impl Into<String>, message: ConnectionMessage) -> Check {
        Check::new(id, Status::Failed, detail, Some(message))
    }

    fn warning(id: &str, detail: impl Into<String>, message: Option<ConnectionMessage>) -> Check {
        Check::new(id, Status::Warning, detail, message)
    }

    fn error(id: &str, e: &Error) -> Check {
        Check::failed(id, e.to_string(), e.connection_message())
    }
}

/// Who the connection acts as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub user_id: Uuid,
    pub business_unit_id: Uuid,
    pub organization_id: Uuid,
    pub name: Option<String>,
    /// An application user (client credentials) rather than a person.
    pub application_user: bool,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub org_url: String,
    pub checks: Vec<Check>,
    pub identity: Option<Identity>,
    pub version: Option<String>,
    pub organization_type: Option<String>,
    /// Read privilege depth per table (`Global`, `Local`…), absent when not held.
    pub read_depth: BTreeMap<String, Option<String>>,
    pub change_tracking: Vec<TableTracking>,
    pub companion: Option<CompanionState>,
}

impl Report {
    /// No check failed: the connection can be saved and a sync started.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Failed)
    }

    /// The message to show for the connection as a whole: the first failure's.
    pub fn message(&self) -> Option<ConnectionMessage> {
        self.checks
            .iter()
            .find(|c| c.status == Status::Failed)
            .and_then(|c| c.message)
    }

    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// Whether a host belongs to Dynamics 365 online.
pub fn is_online_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    ONLINE_SUFFIXES.iter().any(|s| host.ends_with(s))
}

/// `OrganizationType` as a name (Dataverse serializes the enum by name; some clients see numbers).
fn organization_type_name(value: &serde_json::Value) -> Option<String> {
    const NAMES: [&str; 17] = [
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
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => n
            .as_u64()
            .and_then(|i| NAMES.get(usize::try_from(i).ok()?))
            .map(|s| s.to_string()),
        _ => None,
    }
}

fn is_sandbox(organization_type: &str) -> bool {
    matches!(organization_type, "CustomerTest" | "CustomerFreeTest")
}

#[derive(Deserialize)]
struct WhoAmI {
    #[serde(rename = "UserId")]
    user_id: Uuid,
    #[serde(rename = "BusinessUnitId")]
    business_unit_id: Uuid,
    #[serde(rename = "OrganizationId")]
    organization_id: Uuid,
}

#[derive(Deserialize)]
struct RolePrivilege {
    #[serde(rename = "PrivilegeName")]
    name: String,
    #[serde(rename = "Depth")]
    depth: serde_json::Value,
}

#[derive(Deserialize)]
struct Privileges {
    #[serde(rename = "RolePrivileges")]
    privileges: Vec<RolePrivilege>,
}

/// `PrivilegeDepth` by name (numbers are accepted too).
fn depth_name(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Number(n) => match n.as_u64() {
            Some(0) => "Basic",
            Some(1) => "Local",
            Some(2) => "Deep",
            Some(3) => "Global",
            _ => "Unknown",
        }
        .to_string(),
        serde_json::Value::String(s) => s.clone(),
        _ => "Unknown".to_string(),
    }
}

impl Client {
    /// Runs every pre-flight check. Never fails as a whole: each problem is a line of the report.
    pub async fn preflight(&self) -> Report {
        let mut report = Report {
            org_url: self.org_url().to_string(),
            checks: Vec::new(),
            identity: None,
            version: None,
            organization_type: None,
            read_depth: BTreeMap::new(),
            change_tracking: Vec::new(),
            companion: None,
        };
        let host = Url::parse(self.org_url())
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        if is_online_host(&host) {
            report.checks.push(Check::passed(
                "host",
                format!("{host} is Dynamics 365 online"),
            ));
        } else if self.config().allow_non_dynamics_host {
            report.checks.push(Check::passed(
                "host",
                format!(
                    "{host} is not a Dynamics 365 online host; allowed by the test configuration"
                ),
            ));
        } else {
            report.checks.push(Check::failed(
                "host",
                format!("{host} is not a Dynamics 365 online host. Microsoft Dynamics on-premises is not supported."),
                ConnectionMessage::ApiError,
            ));
            return skip_rest(report);
        }

        let who: WhoAmI = match self.get_json("WhoAmI").await {
            Ok(w) => w,
            Err(e) => {
                report.checks.push(Check::error("connect", &e));
                return skip_rest(report);
            }
        };
        report.checks.push(Check::passed(
            "connect",
            format!("signed in as user {}", who.user_id),
        ));
        self.check_version(&mut report).await;
        self.check_organization_type(&mut report).await;
        report.identity = Some(self.identity(&who).await);
        let privileges = self.privileges(who.user_id).await;
        self.check_reads(&mut report, &privileges).await;
        check_writeback(&mut report, &privileges);
        self.check_change_tracking(&mut report).await;
        self.check_companion(&mut report).await;
        report
    }

    async fn check_version(&self, report: &mut Report) {
        match self.get_json::<serde_json::Value>("RetrieveVersion").await {
            Ok(v) => {
                let version = v["Version"].as_str().unwrap_or_default().to_string();
                if compare_versions(&version, MIN_VERSION) == std::cmp::Ordering::Less {
                    report.checks.push(Check::failed(
                        "version",
                        format!("Dynamics {version} is older than {MIN_VERSION}, which leadbridge needs."),
                        ConnectionMessage::ApiError,
                    ));
                } else {
                    report
                        .checks
                        .push(Check::passed("version", format!("Dynamics {version}")));
                }
                report.version = Some(version);
            }
            Err(e) => report.checks.push(Check::error("version", &e)),
        }
    }

    async fn check_organization_type(&self, report: &mut Report) {
        let path = "RetrieveCurrentOrganization(AccessType=@p)?@p=Microsoft.Dynamics.CRM.EndpointAccessType'Default'";
        match self.get_json::<serde_json::Value>(path).await {
            Ok(v) => {
                let Some(kind) = organization_type_name(&v["Detail"]["OrganizationType"]) else {
                    report.checks.push(Check::failed(
                        "organization_type",
                        "the organization did not say what type it is",
                        ConnectionMessage::ApiError,
                    ));
                    return;
                };
                if is_sandbox(&kind) {
                    report.checks.push(Check::failed(
                        "organization_type",
                        format!("{kind} is a sandbox environment; sandboxes are not supported yet. Connect a production environment."),
                        ConnectionMessage::ApiError,
                    ));
                } else {
                    report
                        .checks
                        .push(Check::passed("organization_type", kind.clone()));
                }
                report.organization_type = Some(kind);
            }
            Err(e) => report.checks.push(Check::error("organization_type", &e)),
        }
    }

    async fn identity(&self, who: &WhoAmI) -> Identity {
        let row = match entity_path("systemusers", &Key::Id(who.user_id)) {
            Ok(path) => self
                .get_json::<serde_json::Value>(&format!("{path}?$select=fullname,applicationid"))
                .await
                .ok(),
            Err(_) => None,
        };
        Identity {
            user_id: who.user_id,
            business_unit_id: who.business_unit_id,
            organization_id: who.organization_id,
            name: row
                .as_ref()
                .and_then(|r| r["fullname"].as_str())
                .map(str::to_string),
            application_user: row.as_ref().is_some_and(|r| r["applicationid"].is_string()),
        }
    }

    /// The user's privileges by name with their depth, or why they could not be read.
    async fn privileges(&self, user: Uuid) -> Result<BTreeMap<String, String>, Error> {
        let path = format!(
            "{}/Microsoft.Dynamics.CRM.RetrieveUserPrivileges",
            entity_path("systemusers", &Key::Id(user))?
        );
        let found: Privileges = self.get_json(&path).await?;
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for p in found.privileges {
            let depth = depth_name(&p.depth);
            // The same privilege can come from several roles; keep the deepest.
            let rank = |d: &str| {
                ["Basic", "Local", "Deep", "Global"]
                    .iter()
                    .position(|x| *x == d)
            };
            let key = p.name.to_ascii_lowercase();
            let deeper = out.get(&key).is_none_or(|old| rank(&depth) > rank(old));
            if deeper {
                out.insert(key, depth);
            }
        }
        Ok(out)
    }

    async fn check_reads(
        &self,
        report: &mut Report,
        privileges: &Result<BTreeMap<String, String>, Error>,
    ) {
        for (table, set, privilege) in READ_TABLES {
            let id = format!("read_{table}");
            let depth = match privileges {
                Ok(p) => p.get(&privilege.to_ascii_lowercase()).cloned(),
                Err(e) => {
                    report.checks.push(Check::error(&id, e));
                    continue;
                }
            };
            report.read_depth.insert(table.to_string(), depth.clone());
            let Some(depth) = depth else {
                report.checks.push(Check::failed(
                    &id,
                    format!("the connection does not hold {privilege}"),
                    ConnectionMessage::InsufficientPrivileges,
                ));
                continue;
            };
            let probe = Query::new(set).top(1).path();
            let read = match probe {
                Ok(path) => self.get_json::<serde_json::Value>(&path).await.map(|_| ()),
                Err(e) => Err(e),
            };
            match read {
                Err(e) => {
                    let message = match e.connection_message() {
                        ConnectionMessage::CannotConnect => ConnectionMessage::CannotConnect,
                        ConnectionMessage::InsufficientPrivileges => ConnectionMessage::InsufficientPrivileges,
                        _ => ConnectionMessage::ObjectsUnreadable,
                    };
                    report.checks.push(Check::failed(&id, format!("{set} cannot be read: {e}"), message));
                }
                Ok(()) if depth != "Global" => report.checks.push(Check::failed(
                    &id,
                    format!("{privilege} is held at {depth} depth; change tracking needs organization-wide (Global) read"),
                    ConnectionMessage::InsufficientPrivileges,
                )),
                Ok(()) => report.checks.push(Check::passed(&id, format!("{privilege} at Global depth"))),
            }
        }
    }

    async fn check_change_tracking(&self, report: &mut Report) {
        let tables: Vec<&str> = READ_TABLES.iter().map(|(t, _, _)| *t).collect();
        match self.change_tracking(&tables).await {
            Ok(state) => {
                let off: Vec<&str> = state
                    .iter()
                    .filter(|t| !t.enabled)
                    .map(|t| t.logical_name.as_str())
                    .collect();
                let unavailable: Vec<&str> = state
                    .iter()
                    .filter(|t| !t.enabled && !t.can_be_enabled)
                    .map(|t| t.logical_name.as_str())
                    .collect();
                let missing: Vec<&str> = tables
                    .iter()
                    .copied()
                    .filter(|t| !state.iter().any(|s| s.logical_name == *t))
                    .collect();
                if !missing.is_empty() {
                    report.checks.push(Check::failed(
                        "change_tracking",
                        format!("the org has no table {}", missing.join(", ")),
                        ConnectionMessage::ObjectsUnreadable,
                    ));
                } else if !unavailable.is_empty() {
                    report.checks.push(Check::warning(
                        "change_tracking",
                        format!("change tracking cannot be enabled on {}; those tables are read in full on every sync", unavailable.join(", ")),
                        None,
                    ));
                } else if !off.is_empty() {
                    report.checks.push(Check::warning(
                        "change_tracking",
                        format!("change tracking is off on {}; it is enabled when the connection is saved (needs the privilege to customize tables)", off.join(", ")),
                        None,
                    ));
                } else {
                    report.checks.push(Check::passed(
                        "change_tracking",
                        "on for every table leadbridge reads",
                    ));
                }
                report.change_tracking = state;
            }
            Err(e) => report.checks.push(Check::error("change_tracking", &e)),
        }
    }

    async fn check_companion(&self, report: &mut Report) {
        match self.companion_state().await {
            Ok(state) => {
                let check = if state.up_to_date() {
                    Check::passed(
                        "companion_app",
                        format!(
                            "leadbridge for Dynamics {} is installed",
                            state.version.as_deref().unwrap_or("")
                        ),
                    )
                } else if state.installed() {
                    Check::warning(
                        "companion_app",
                        format!(
                            "leadbridge for Dynamics {} is installed; {} is available",
                            state.version.as_deref().unwrap_or("?"),
                            crate::companion::VERSION
                        ),
                        None,
                    )
                } else {
                    Check::warning(
                        "companion_app",
                        format!(
                            "leadbridge for Dynamics is not installed (missing: {}); activity writeback needs it",
                            state.missing.join(", ")
                        ),
                        None,
                    )
                };
                report.checks.push(check);
                report.companion = Some(state);
            }
            Err(e) => report.checks.push(Check::new(
                "companion_app",
                Status::Warning,
                format!("the companion app could not be looked up: {e}"),
                Some(e.connection_message()),
            )),
        }
    }
}

fn check_writeback(report: &mut Report, privileges: &Result<BTreeMap<String, String>, Error>) {
    let Ok(held) = privileges else {
        report.checks.push(Check::new(
            "writeback_privileges",
            Status::Skipped,
            "privileges could not be read",
            None,
        ));
        report.checks.push(Check::new(
            "delegate_privilege",
            Status::Skipped,
            "privileges could not be read",
            None,
        ));
        return;
    };
    let missing: Vec<&str> = WRITEBACK_PRIVILEGES
        .iter()
        .copied()
        .filter(|p| !held.contains_key(&p.to_ascii_lowercase()))
        .collect();
    report.checks.push(if missing.is_empty() {
        Check::passed(
            "writeback_privileges",
            "activities can be created and linked to contacts, leads and accounts",
        )
    } else {
        Check::warning(
            "writeback_privileges",
            format!("activity writeback needs {}", missing.join(", ")),
            Some(ConnectionMessage::InsufficientPrivileges),
        )
    });
    report.checks.push(if held.contains_key(&ACT_ON_BEHALF.to_ascii_lowercase()) {
        Check::passed("delegate_privilege", "activities are written on behalf of each rep, who shows as their creator")
    } else {
        Check::warning(
            "delegate_privilege",
            format!("without {ACT_ON_BEHALF} the connecting identity shows as the creator of written-back activities"),
            Some(ConnectionMessage::InsufficientPrivileges),
        )
    });
}

/// Marks every check not run because an earlier one failed.
fn skip_rest(mut report: Report) -> Report {
    let mut ids = vec!["host", "connect", "version", "organization_type"];
    let reads: Vec<String> = READ_TABLES
        .iter()
        .map(|(t, _, _)| format!("read_{t}"))
        .collect();
    ids.extend(reads.iter().map(String::as_str));
    ids.extend([
        "writeback_privileges",
        "delegate_privilege",
        "change_tracking",
        "companion_app",
    ]);
    for id in ids {
        if report.check(id).is_none() {
            report
                .checks
                .push(Check::new(id, Status::Skipped, "not checked", None));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_hosts_include_every_region_and_sovereign_cloud() {
        for host in [
            "contoso.crm.dynamics.com",
            "contoso.crm4.dynamics.com",
            "contoso.crm17.dynamics.com",
            "contoso.crm.microsoftdynamics.us",
            "contoso.crm.appsplatform.us",
            "contoso.crm.dynamics.cn",
            "contoso.crm.microsoftdynamics.de",
            "CONTOSO.CRM.DYNAMICS.COM.",
        ] {
            assert!(is_online_host(host), "{host}");
        }
        for host in [
            "crm.contoso.local",
            "127.0.0.1",
            "dynamics.com.evil.example",
            "evildynamics.com",
            "contoso.microsoftdynamics.de",
        ] {
            assert!(!is_online_host(host), "{host}");
        }
    }

    #[test]
    fn sandbox_types_are_recognised_by_name_or_number() {
        assert_eq!(
            organization_type_name(&serde_json::json!(5)).as_deref(),
            Some("CustomerTest")
        );
        assert_eq!(
            organization_type_name(&serde_json::json!("CustomerFreeTest")).as_deref(),
            Some("CustomerFreeTest")
        );
        assert!(is_sandbox("CustomerTest") && is_sandbox("CustomerFreeTest"));
        assert!(!is_sandbox("Customer") && !is_sandbox("Secondary") && !is_sandbox("Developer"));
    }

    #[test]
    fn a_report_fails_on_its_first_failed_check() {
        let report = skip_rest(Report {
            org_url: "https://x".into(),
            checks: vec![
                Check::passed("host", "ok"),
                Check::failed(
                    "connect",
                    "refused",
                    ConnectionMessage::InsufficientPrivileges,
                ),
            ],
            identity: None,
            version: None,
            organization_type: None,
            read_depth: BTreeMap::new(),
            change_tracking: vec![],
            companion: None,
        });
        assert!(!report.passed());
        assert_eq!(
            report.message(),
            Some(ConnectionMessage::InsufficientPrivileges)
        );
        assert_eq!(report.check("version").unwrap().status, Status::Skipped);
        assert_eq!(report.checks.len(), 13);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["checks"][1]["message"], "insufficient_privileges");
        assert_eq!(
            json["checks"][1]["next_step"],
            "Contact your internal CRM administrator to obtain the needed access privileges."
        );
    }
}
