//! The browser UI over real HTTP: a small cookie-keeping client that posts forms the way a browser
//! does (with the page's form token), and checks on every page it reads (labels, languages).

mod browser;
mod crm;
mod dashboard;
mod engine;
mod languages;
mod rep;
mod seats;
mod signin;

pub use browser::{Browser, Page};

use domain::crm::{CompanionApp, CrmAuth, CrmUser};
use domain::ids::{CrmConnectionId, CrmUserId, TenantId};
use serde_json::json;
use store::crm::{Mirrored, NewConnection};
use uuid::Uuid;

use crate::harness::TestApp;

pub const CLIENT_ID: &str = "8d4f9a3e-5b1c-4f8e-9a2b-1c3d5e7f9a0b";

/// A tenant with five seats and its admin, signed in.
pub async fn signed_in_admin(app: &TestApp) -> (TenantId, Browser) {
    let tenant = app.tenant("Contoso", 5).await;
    app.admin(tenant, "ada@contoso.example").await;
    let mut browser = Browser::new(app);
    browser.sign_in("ada@contoso.example").await;
    (tenant, browser)
}

/// A live connection recorded in the store, as the engine records one after connecting.
pub async fn connect_in_store(app: &TestApp, tenant: TenantId) -> CrmConnectionId {
    app.store
        .tenant(tenant)
        .create_connection(NewConnection {
            org_url: "https://contoso.crm4.dynamics.com".into(),
            auth: CrmAuth::ApplicationUser {
                entra_tenant: "contoso.onmicrosoft.com".into(),
                client_id: CLIENT_ID.into(),
            },
            authority_url: None,
            connected_as: Some("leadbridge integration".into()),
            companion_app: CompanionApp::Missing,
            can_act_on_behalf_of_reps: false,
        })
        .await
        .unwrap()
        .connection
        .id
}

/// A CRM user as the mirror holds it.
pub fn crm_user(n: u128, name: &str, email: Option<&str>, disabled: bool) -> Mirrored<CrmUser> {
    Mirrored {
        row: CrmUser {
            id: CrmUserId(Uuid::from_u128(n)),
            full_name: name.into(),
            email: email.map(str::to_owned),
            disabled,
            application_user: false,
        },
        raw: json!({"systemuserid": Uuid::from_u128(n)}),
    }
}
