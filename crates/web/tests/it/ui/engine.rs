//! A sync engine the test scripts, for the pages whose answers come from the engine (connect in
//! both modes, the org's choices, the what-if counts, Get it now, resolving) until the real engine
//! is wired into the web crate; the headless-browser walk of the guide runs against the real one.
//! Everything it records goes into the real store, as the engine would.

use std::sync::{Arc, Mutex};

use domain::crm::{CompanionApp, CrmAuth, StageOption};
use domain::ids::{ActivityId, CrmContactId, TenantId};
use domain::purge::PurgeReceipt;
use domain::settings::{MoneyColumn, OrgChoices, OrgStages, PipelineStage};
use domain::timeline::{Resolution, WritebackEvent};
use domain::writeback::Regarding;
use store::Store;
use store::crm::NewConnection;
use store::sync_runs::SyncTrigger;
use uuid::Uuid;
use web::sync::{
    ConnectOutcome, ConnectRequest, Preview, Resolve, StoreOnly, SyncControl, SyncError, SyncResult,
};

use crate::harness::{MakeSync, TestApp};

/// The state of the authorize page's redirect back.
pub const SIGN_IN_STATE: &str = "state-123";
/// Where the engine sends an admin who signs in.
pub const AUTHORIZE_URL: &str =
    "https://login.example.test/contoso/oauth2/v2.0/authorize?state=state-123";
/// The contact a resolved activity is linked to when the rep creates one.
pub const CREATED_CONTACT: u128 = 0xc0;

#[derive(Default)]
pub struct Script {
    /// The next connect fails with this documented error and its next step.
    pub connect_error: Option<(String, String)>,
    pub app_installed: bool,
    pub resolved: Vec<(ActivityId, Resolve)>,
}

pub struct Scripted {
    store: Store,
    pub script: Mutex<Script>,
}

impl Scripted {
    pub async fn app() -> (TestApp, Arc<Scripted>) {
        let slot: Arc<Mutex<Option<Arc<Scripted>>>> = Arc::default();
        let keep = slot.clone();
        let make: MakeSync = Box::new(move |store| {
            let engine = Arc::new(Scripted {
                store,
                script: Mutex::default(),
            });
            *keep.lock().unwrap() = Some(engine.clone());
            engine
        });
        let app = TestApp::sqlite_with_sync(make).await;
        let engine = slot.lock().unwrap().take().unwrap();
        (app, engine)
    }

    async fn connect_as(
        &self,
        tenant: TenantId,
        org_url: &str,
        auth: CrmAuth,
    ) -> Result<(), SyncError> {
        let app = if self.script.lock().unwrap().app_installed {
            CompanionApp::Installed {
                version: "1.0.0.0".into(),
            }
        } else {
            CompanionApp::Missing
        };
        let mut t = self.store.tenant(tenant);
        let live = t
            .create_connection(NewConnection {
                org_url: org_url.into(),
                auth,
                authority_url: None,
                connected_as: Some("leadbridge integration".into()),
                companion_app: app,
                can_act_on_behalf_of_reps: false,
            })
            .await?;
        let run = t
            .start_sync_run(live.connection.id, SyncTrigger::Connect)
            .await?;
        t.update_sync_progress(run.id, "Reading contacts", 40, Some(100))
            .await?;
        Ok(())
    }
}

fn stages() -> OrgStages {
    OrgStages::new(vec![
        StageOption {
            value: 0,
            label: "Qualify".into(),
        },
        StageOption {
            value: 1,
            label: "Develop".into(),
        },
        StageOption {
            value: 2,
            label: "Propose".into(),
        },
    ])
    .unwrap()
}

impl SyncControl for Scripted {
    fn connect(&self, tenant: TenantId, request: ConnectRequest) -> SyncResult<'_, ConnectOutcome> {
        Box::pin(async move {
            if let Some((message, next_step)) = self.script.lock().unwrap().connect_error.take() {
                return Err(SyncError::Crm { message, next_step });
            }
            match request {
                ConnectRequest::Application {
                    org_url,
                    entra_tenant,
                    client_id,
                    ..
                } => {
                    self.connect_as(
                        tenant,
                        org_url.as_str(),
                        CrmAuth::ApplicationUser {
                            entra_tenant,
                            client_id,
                        },
                    )
                    .await?;
                    Ok(ConnectOutcome::Connected)
                }
                ConnectRequest::Delegated { .. } => Ok(ConnectOutcome::SignIn {
                    url: AUTHORIZE_URL.into(),
                }),
            }
        })
    }

    fn finish_sign_in(
        &self,
        tenant: TenantId,
        _code: String,
        state: String,
    ) -> SyncResult<'_, ConnectOutcome> {
        Box::pin(async move {
            if state != SIGN_IN_STATE {
                return Err(SyncError::Refused {
                    message: "This sign-in is not the one leadbridge started.".into(),
                    next_step: Some("Connect again.".into()),
                });
            }
            self.connect_as(
                tenant,
                "https://contoso.crm4.dynamics.com",
                CrmAuth::SignedInAdmin {
                    admin_user_name: "integration@contoso.onmicrosoft.com".into(),
                },
            )
            .await?;
            Ok(ConnectOutcome::Connected)
        })
    }

    fn disconnect(&self, tenant: TenantId, purge: bool) -> SyncResult<'_, Option<PurgeReceipt>> {
        Box::pin(async move {
            StoreOnly::new(self.store.clone())
                .disconnect(tenant, purge)
                .await
        })
    }

    fn sync_now(&self, tenant: TenantId) -> SyncResult<'_, ()> {
        Box::pin(async move {
            let mut t = self.store.tenant(tenant);
            let live = t.live_connection().await?.ok_or(SyncError::NotConnected)?;
            t.start_sync_run(live.connection.id, SyncTrigger::SyncNow)
                .await?;
            Ok(())
        })
    }

    fn choices(&self, tenant: TenantId) -> SyncResult<'_, OrgChoices> {
        Box::pin(async move {
            let app = self.companion_app(tenant).await?;
            Ok(OrgChoices {
                stages: stages(),
                money_columns: vec![
                    MoneyColumn {
                        logical_name: "actualvalue".into(),
                        label: "Actual Revenue".into(),
                    },
                    MoneyColumn {
                        logical_name: "new_signedvalue".into(),
                        label: "Signed value".into(),
                    },
                ],
                companion_app: app,
            })
        })
    }

    fn preview(&self, tenant: TenantId, stage: PipelineStage) -> SyncResult<'_, Preview> {
        Box::pin(async move {
            self.store
                .tenant(tenant)
                .live_connection()
                .await?
                .ok_or(SyncError::NotConnected)?;
            // Twelve open opportunities; each later stage lets four fewer through.
            let qualifying = match stage {
                PipelineStage::NotSure => 12,
                PipelineStage::Stage(v) => 8_u64.saturating_sub(4 * u64::try_from(v).unwrap_or(0)),
            };
            Ok(Preview {
                open_opportunities: 12,
                qualifying_opportunities: qualifying,
                accounts: qualifying / 2,
                leads: qualifying * 2,
                seats: 3,
            })
        })
    }

    fn companion_app(&self, tenant: TenantId) -> SyncResult<'_, CompanionApp> {
        Box::pin(async move {
            let live = self
                .store
                .tenant(tenant)
                .live_connection()
                .await?
                .ok_or(SyncError::NotConnected)?;
            Ok(live.connection.companion_app)
        })
    }

    fn install_companion_app(&self, tenant: TenantId) -> SyncResult<'_, CompanionApp> {
        Box::pin(async move {
            let mut t = self.store.tenant(tenant);
            let live = t.live_connection().await?.ok_or(SyncError::NotConnected)?;
            let app = CompanionApp::Installed {
                version: "1.0.0.0".into(),
            };
            t.set_companion_app(live.connection.id, &app).await?;
            self.script.lock().unwrap().app_installed = true;
            Ok(app)
        })
    }

    fn resolve_unassigned(
        &self,
        tenant: TenantId,
        activity: ActivityId,
        resolve: Resolve,
    ) -> SyncResult<'_, ()> {
        Box::pin(async move {
            self.script
                .lock()
                .unwrap()
                .resolved
                .push((activity, resolve));
            let (how, regarding) = match resolve {
                Resolve::Create(how) => (
                    how,
                    Regarding::Contact(CrmContactId(Uuid::from_u128(CREATED_CONTACT))),
                ),
                Resolve::Link(regarding) => (Resolution::LinkedToRecord, regarding),
            };
            self.store
                .tenant(tenant)
                .apply_writeback_event(activity, &WritebackEvent::Resolved { how, regarding })
                .await?;
            Ok(())
        })
    }
}
