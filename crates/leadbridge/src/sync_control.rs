//! The sync engine as the web layer drives it: `web::sync::SyncControl` implemented over
//! `sync::SyncEngine`, translating requests and errors and nothing else.

use domain::crm::CompanionApp;
use domain::ids::{ActivityId, TenantId};
use domain::purge::PurgeReceipt;
use domain::settings::{OrgChoices, PipelineStage};
use domain::timeline::Resolution;
use sync::SyncEngine;
use sync::writeback::Resolve as EngineResolve;
use web::sync::{
    ConnectOutcome, ConnectRequest, Preview, Resolve, SyncControl, SyncError, SyncResult,
};

pub struct EngineControl {
    pub engine: SyncEngine,
    /// The CA certificates the engine trusts besides the system's.
    pub extra_ca_pems: Vec<String>,
    /// The app registration admins sign in through, when sign-in is set up.
    pub sign_in_client_id: Option<String>,
}

impl EngineControl {
    /// A CA sent with a connect request must be one this server was started with: the engine
    /// trusts CAs per process, not per connection.
    fn check_ca(&self, ca_cert: Option<&str>) -> Result<(), SyncError> {
        match ca_cert {
            Some(pem) if !self.extra_ca_pems.iter().any(|p| p.trim() == pem.trim()) => {
                Err(SyncError::Refused {
                    message: "This server does not trust that CA certificate.".into(),
                    next_step: Some(
                        "Start leadbridge with --crm-ca-cert pointing at the certificate, then connect again."
                            .into(),
                    ),
                })
            }
            _ => Ok(()),
        }
    }
}

fn web_error(e: sync::SyncError) -> SyncError {
    match e {
        sync::SyncError::NotConnected => SyncError::NotConnected,
        sync::SyncError::AlreadyConnected => SyncError::Busy(e.to_string()),
        sync::SyncError::Refused { problem, .. } => SyncError::Crm {
            message: problem.message().into(),
            next_step: problem.next_step().into(),
        },
        sync::SyncError::Crm(crm) => {
            let problem = crm.problem();
            SyncError::Crm {
                message: problem.message().into(),
                next_step: problem.next_step().into(),
            }
        }
        sync::SyncError::Store(store) => SyncError::Store(store),
        sync::SyncError::NotFound(what) => SyncError::NotFound(what),
        sync::SyncError::Settings(_) | sync::SyncError::SignIn(_) | sync::SyncError::Invalid(_) => {
            SyncError::Refused {
                message: e.to_string(),
                next_step: None,
            }
        }
    }
}

impl SyncControl for EngineControl {
    fn connect(&self, tenant: TenantId, request: ConnectRequest) -> SyncResult<'_, ConnectOutcome> {
        Box::pin(async move {
            match request {
                ConnectRequest::Application {
                    org_url,
                    entra_tenant,
                    client_id,
                    client_secret,
                    authority_url,
                    ca_cert,
                } => {
                    self.check_ca(ca_cert.as_deref())?;
                    let user = sync::ApplicationUser {
                        org_url: org_url.into(),
                        entra_tenant,
                        client_id,
                        client_secret,
                        authority_url: authority_url.map(Into::into),
                    };
                    self.engine
                        .connect_application_user(tenant, user)
                        .await
                        .map_err(web_error)?;
                    Ok(ConnectOutcome::Connected)
                }
                ConnectRequest::Delegated {
                    org_url,
                    client_id,
                    authority_url,
                    ca_cert,
                    ..
                } => {
                    self.check_ca(ca_cert.as_deref())?;
                    match &self.sign_in_client_id {
                        Some(configured) if *configured == client_id => {}
                        Some(configured) => {
                            return Err(SyncError::Refused {
                                message: format!(
                                    "Admins sign in through the app registration {configured} on this server."
                                ),
                                next_step: Some(format!("Use client id {configured}.")),
                            });
                        }
                        None => {
                            return Err(SyncError::Refused {
                                message: "Admin sign-in is not set up on this server.".into(),
                                next_step: Some(
                                    "Set LEADBRIDGE_SIGN_IN_CLIENT_ID and LEADBRIDGE_SIGN_IN_REDIRECT_URI, or connect with an application user."
                                        .into(),
                                ),
                            });
                        }
                    }
                    let url = self
                        .engine
                        .begin_sign_in(
                            tenant,
                            org_url.as_str(),
                            authority_url.as_ref().map(url::Url::as_str),
                        )
                        .await
                        .map_err(web_error)?;
                    Ok(ConnectOutcome::SignIn { url })
                }
            }
        })
    }

    fn finish_sign_in(
        &self,
        tenant: TenantId,
        code: String,
        state: String,
    ) -> SyncResult<'_, ConnectOutcome> {
        Box::pin(async move {
            self.engine
                .finish_sign_in(tenant, &code, &state)
                .await
                .map_err(web_error)?;
            Ok(ConnectOutcome::Connected)
        })
    }

    fn disconnect(&self, tenant: TenantId, purge: bool) -> SyncResult<'_, Option<PurgeReceipt>> {
        Box::pin(async move {
            self.engine
                .disconnect(tenant, purge)
                .await
                .map_err(web_error)
        })
    }

    fn sync_now(&self, tenant: TenantId) -> SyncResult<'_, ()> {
        Box::pin(async move { self.engine.sync_now(tenant).await.map_err(web_error) })
    }

    fn choices(&self, tenant: TenantId) -> SyncResult<'_, OrgChoices> {
        Box::pin(async move { self.engine.choices(tenant).await.map_err(web_error) })
    }

    fn preview(&self, tenant: TenantId, stage: PipelineStage) -> SyncResult<'_, Preview> {
        Box::pin(async move {
            let p = self
                .engine
                .preview_stage(tenant, stage)
                .await
                .map_err(web_error)?;
            let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
            Ok(Preview {
                open_opportunities: count(p.open_opportunities),
                qualifying_opportunities: count(p.qualifying_opportunities),
                accounts: count(p.accounts),
                leads: count(p.leads),
                seats: count(p.seats),
            })
        })
    }

    fn companion_app(&self, tenant: TenantId) -> SyncResult<'_, CompanionApp> {
        Box::pin(async move { self.engine.companion_app(tenant).await.map_err(web_error) })
    }

    fn install_companion_app(&self, tenant: TenantId) -> SyncResult<'_, CompanionApp> {
        Box::pin(async move {
            self.engine
                .install_companion_app(tenant)
                .await
                .map_err(web_error)
        })
    }

    fn resolve_unassigned(
        &self,
        tenant: TenantId,
        activity: ActivityId,
        resolve: Resolve,
    ) -> SyncResult<'_, ()> {
        Box::pin(async move {
            let how = match resolve {
                Resolve::Create(Resolution::CreatedContact) => EngineResolve::CreateContact,
                Resolve::Create(Resolution::CreatedLead) => EngineResolve::CreateLead,
                Resolve::Create(Resolution::LinkedToRecord) => {
                    return Err(SyncError::Refused {
                        message: "Choose the CRM record to link the activity to.".into(),
                        next_step: None,
                    });
                }
                Resolve::Link(regarding) => EngineResolve::Link(regarding),
            };
            self.engine
                .resolve_unassigned(tenant, activity, how)
                .await
                .map_err(web_error)?;
            Ok(())
        })
    }
}
