//! A started emulator, clients configured for it, and its admin API.

use dataverse::auth::{Auth, Authority, ClientCredentials, UserSignIn};
use dataverse::{Client, ClientConfig};
use dataverse_emulator::EmulatorConfig;
use dataverse_emulator::seed::SeedSize;
use reqwest::Method;
use secrecy::SecretString;
use test_support::emulator::{self, Started};

pub use test_support::emulator::query_value;

/// A started emulator ([`Started`]: `emu`, `ca_pem`, `http`, `admin`, `pick_account`) with
/// clients configured for it.
pub struct Emulator(Started);

impl std::ops::Deref for Emulator {
    type Target = Started;

    fn deref(&self) -> &Started {
        &self.0
    }
}

impl Emulator {
    pub async fn start() -> Emulator {
        Self::with(|_| {}).await
    }

    /// The demo org: users (an administrator, a manager, reps), accounts, contacts, opportunities.
    pub async fn seeded() -> Emulator {
        Self::with(|c| c.seed = Some(SeedSize::Small)).await
    }

    pub async fn with(configure: impl FnOnce(&mut EmulatorConfig)) -> Emulator {
        Emulator(emulator::start(configure).await)
    }

    pub fn authority(&self) -> Authority {
        Authority::with_url(
            self.emu.info.authority_url.parse().unwrap(),
            self.emu.info.tenant_id.to_string(),
        )
    }

    pub fn config(&self, auth: Auth) -> ClientConfig {
        let mut config = ClientConfig::new(&self.emu.info.org_url, auth);
        config.extra_ca_pems = vec![self.ca_pem.clone()];
        config.allow_non_dynamics_host = true;
        config
    }

    pub fn app_auth(&self, client_id: &str, secret: &str) -> Auth {
        Auth::ClientCredentials(ClientCredentials {
            authority: self.authority(),
            client_id: client_id.into(),
            client_secret: SecretString::from(secret.to_string()),
        })
    }

    /// A client signed in as the emulator's default application user (System Administrator).
    pub fn client(&self) -> Client {
        let auth = self.app_auth(
            &self.emu.info.client_id.to_string(),
            &self.emu.info.client_secret,
        );
        Client::new(self.config(auth)).unwrap()
    }

    /// A client for a new app registration whose application user holds `roles`.
    pub async fn app_client(&self, name: &str, roles: &[&str]) -> Client {
        let app = self
            .admin(
                Method::POST,
                "apps",
                serde_json::json!({"display_name": name, "roles": roles}),
            )
            .await;
        let auth = self.app_auth(
            app["client_id"].as_str().unwrap(),
            app["client_secret"].as_str().unwrap(),
        );
        Client::new(self.config(auth)).unwrap()
    }

    pub fn sign_in(&self) -> UserSignIn {
        UserSignIn {
            authority: self.authority(),
            client_id: self.emu.info.client_id.to_string(),
            client_secret: None,
            redirect_uri: "https://leadbridge.test/connect/callback".into(),
        }
    }
}
