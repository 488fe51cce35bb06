//! Connecting a tenant to its CRM, both ways the guide allows (an application user's credentials,
//! or an admin signing in), pre-flight first; the first sync is queued with the connection.
//!
//! A sign-in in progress is kept nowhere but in the `state` it sends through the browser: the
//! PKCE verifier and the org are sealed with the store's keys, so any process can finish it.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::crm::CrmAuth;
use domain::ids::{CrmConnectionId, TenantId};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use store::crm::NewConnection;
use store::secrets::SecretOwner;
use uuid::Uuid;

use crate::crm::{
    ConnectionProblem, ConnectionTarget, Credentials, Crm, CrmError, CrmErrorKind, Preflight,
};
use crate::engine::{CLIENT_SECRET, Result, SyncEngine, SyncError};
use crate::jobs::{SyncJob, Trigger};

/// An admin's application user: the Entra tenant, the app's client id and a secret.
#[derive(Clone, Debug)]
pub struct ApplicationUser {
    /// The environment URL, e.g. `https://contoso.crm4.dynamics.com`.
    pub org_url: String,
    pub entra_tenant: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// The sign-in authority when it is not the public cloud's (a sovereign cloud, the emulator).
    pub authority_url: Option<String>,
}

/// A successful connect: the connection and what pre-flight found (warnings included).
#[derive(Clone, Debug)]
pub struct Connected {
    pub connection: CrmConnectionId,
    pub preflight: Preflight,
}

/// What travels in the sign-in's `state`, sealed.
#[derive(Serialize, Deserialize)]
struct PendingSignIn {
    org_url: String,
    authority_url: Option<String>,
    verifier: String,
    issued_at: DateTime<Utc>,
}

/// What the sealed state is bound to besides the tenant.
const SIGN_IN_SECRET: &str = "pkce_verifier";

/// The first failed check, as the message the admin sees.
fn refusal(report: &Preflight) -> Option<SyncError> {
    let failed = report.failure()?;
    Some(SyncError::Refused {
        problem: failed.problem.unwrap_or(ConnectionProblem::ApiError),
        detail: failed.detail.clone(),
    })
}

impl SyncEngine {
    /// Connects with an application user: pre-flight, then the connection and its encrypted
    /// secret are stored and the first sync queued, together.
    pub async fn connect_application_user(
        &self,
        tenant: TenantId,
        request: ApplicationUser,
    ) -> Result<Connected> {
        if self.tenant(tenant).live_connection().await?.is_some() {
            return Err(SyncError::AlreadyConnected);
        }
        let target = ConnectionTarget {
            org_url: request.org_url.clone(),
            authority_url: request.authority_url.clone(),
            credentials: Credentials::ApplicationUser {
                entra_tenant: request.entra_tenant.clone(),
                client_id: request.client_id.clone(),
                client_secret: request.client_secret.clone(),
            },
        };
        let crm = self.connector.open(&target).map_err(SyncError::refused)?;
        let report = self.checked(&crm).await?;
        let auth = CrmAuth::ApplicationUser {
            entra_tenant: request.entra_tenant,
            client_id: request.client_id,
        };
        let connection = self
            .record_connection(
                tenant,
                &request.org_url,
                request.authority_url,
                auth,
                &report,
                (CLIENT_SECRET, &request.client_secret),
            )
            .await?;
        Ok(Connected {
            connection,
            preflight: report,
        })
    }

    /// Starts an admin sign-in: the URL to send the admin's browser to.
    pub async fn begin_sign_in(
        &self,
        tenant: TenantId,
        org_url: &str,
        authority_url: Option<&str>,
    ) -> Result<String> {
        let started = self
            .connector
            .begin_sign_in(org_url, authority_url)
            .map_err(SyncError::refused)?;
        let pending = PendingSignIn {
            org_url: org_url.to_owned(),
            authority_url: authority_url.map(str::to_owned),
            verifier: started.verifier.expose_secret().to_owned(),
            issued_at: self.store.now(),
        };
        let id = Uuid::new_v4();
        let json = serde_json::to_string(&pending)
            .map_err(|e| SyncError::Invalid(format!("sign-in state: {e}")))?;
        let sealed = self.store.keyring()?.seal(
            &SecretOwner {
                tenant,
                connection: CrmConnectionId(id),
                name: SIGN_IN_SECRET,
            },
            &SecretString::from(json),
        )?;
        let state = format!("{}.{}", id.simple(), URL_SAFE_NO_PAD.encode(sealed));
        let mut url = url::Url::parse(&started.url)
            .map_err(|e| SyncError::Invalid(format!("the sign-in URL is not valid: {e}")))?;
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "state" {
                    state.clone()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        Ok(url.into())
    }

    /// Completes the sign-in with the redirect's `code` and `state`. A tenant already connected
    /// through a sign-in to the same org is signed in again (its expired or revoked refresh token
    /// replaced); otherwise pre-flight runs and the connection is stored.
    pub async fn finish_sign_in(
        &self,
        tenant: TenantId,
        code: &str,
        state: &str,
    ) -> Result<Connected> {
        let pending = self.open_state(tenant, state)?;
        let crm = self
            .connector
            .finish_sign_in(
                &pending.org_url,
                pending.authority_url.as_deref(),
                code,
                &SecretString::from(pending.verifier),
            )
            .await
            .map_err(SyncError::refused)?;
        let report = self.checked(&crm).await?;
        let token = crm.rotated_credential().await.ok_or_else(|| {
            SyncError::refused(CrmError::new(
                CrmErrorKind::Credentials,
                "the sign-in gave no refresh token",
            ))
        })?;
        if let Some(live) = self.tenant(tenant).live_connection().await? {
            let same_org = live.connection.org_url.trim_end_matches('/')
                == pending.org_url.trim_end_matches('/');
            if !same_org || !matches!(live.connection.auth, CrmAuth::SignedInAdmin { .. }) {
                return Err(SyncError::AlreadyConnected);
            }
            let id = live.connection.id;
            self.forget(tenant);
            let mut store = self.tenant(tenant).begin().await?;
            store
                .put_secret(id, crate::engine::REFRESH_TOKEN, &token)
                .await?;
            store.set_connection_error(id, None).await?;
            store
                .set_can_act_on_behalf_of_reps(id, report.can_act_on_behalf_of_reps)
                .await?;
            store
                .enqueue(&SyncJob {
                    trigger: Trigger::SyncNow,
                })
                .await?;
            store.commit().await?;
            return Ok(Connected {
                connection: id,
                preflight: report,
            });
        }
        let auth = CrmAuth::SignedInAdmin {
            admin_user_name: report
                .identity
                .as_ref()
                .map(|i| i.name.clone())
                .unwrap_or_default(),
        };
        let connection = self
            .record_connection(
                tenant,
                &pending.org_url,
                pending.authority_url,
                auth,
                &report,
                (crate::engine::REFRESH_TOKEN, &token),
            )
            .await?;
        Ok(Connected {
            connection,
            preflight: report,
        })
    }

    fn open_state(&self, tenant: TenantId, state: &str) -> Result<PendingSignIn> {
        let bad = || SyncError::SignIn("the sign-in answer does not belong to this page.".into());
        let (id, sealed) = state.split_once('.').ok_or_else(bad)?;
        let id = Uuid::parse_str(id).map_err(|_| bad())?;
        let sealed = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| bad())?;
        let json = self
            .store
            .keyring()?
            .open(
                &SecretOwner {
                    tenant,
                    connection: CrmConnectionId(id),
                    name: SIGN_IN_SECRET,
                },
                &sealed,
            )
            .map_err(|_| bad())?;
        let pending: PendingSignIn =
            serde_json::from_str(json.expose_secret()).map_err(|_| bad())?;
        if pending.issued_at + self.config.sign_in_timeout < self.store.now() {
            return Err(SyncError::SignIn("the sign-in took too long.".into()));
        }
        Ok(pending)
    }

    /// Pre-flight, refusing on the first failure; change tracking is turned on where it is off.
    async fn checked(&self, crm: &Arc<dyn Crm>) -> Result<Preflight> {
        let report = crm.preflight().await;
        if let Some(refused) = refusal(&report) {
            return Err(refused);
        }
        if let Err(e) = crm.enable_change_tracking().await {
            // Tables without it are reported by pre-flight; reading them tells the rest.
            tracing::warn!(error = %e, "change tracking could not be turned on");
        }
        Ok(report)
    }

    async fn record_connection(
        &self,
        tenant: TenantId,
        org_url: &str,
        authority_url: Option<String>,
        auth: CrmAuth,
        report: &Preflight,
        secret: (&str, &SecretString),
    ) -> Result<CrmConnectionId> {
        let mut store = self.tenant(tenant).begin().await?;
        let info = store
            .create_connection(NewConnection {
                org_url: org_url.to_owned(),
                auth,
                authority_url,
                connected_as: report.identity.as_ref().map(|i| i.name.clone()),
                companion_app: report.companion_app.clone(),
                can_act_on_behalf_of_reps: report.can_act_on_behalf_of_reps,
            })
            .await
            .map_err(|e| match e {
                store::StoreError::Conflict(_) => SyncError::AlreadyConnected,
                other => other.into(),
            })?;
        let id = info.connection.id;
        store.put_secret(id, secret.0, secret.1).await?;
        store
            .enqueue(&SyncJob {
                trigger: Trigger::Connect,
            })
            .await?;
        store.commit().await?;
        self.forget(tenant);
        tracing::info!(%tenant, connection = %id, "CRM connected");
        Ok(id)
    }
}
