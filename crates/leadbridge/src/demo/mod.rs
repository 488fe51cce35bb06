//! `leadbridge demo` as a library: the product on SQLite over HTTPS with the Dataverse emulator
//! in the same process (seeded `small`), a tenant with an admin and a rep whose e-mails are CRM
//! users', and a directory derived from the seed. Everything lives in one data directory and is
//! reused by the next start; the tests start it exactly as the command does.

pub mod directory;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use dataverse_emulator::seed::{SeedOrg, SeedRole, SeedSize};
use dataverse_emulator::{EmulatorConfig, RunningEmulator};
use domain::ids::{CompanyId, TenantId};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use store::Store;
use store::tenants::NewUser;

use crate::engine_args::EngineArgs;
use crate::sync_control::EngineControl;

/// The seed number of the demo org (the same org on every machine).
pub const SEED_NUMBER: u64 = 1;
/// Seats in the demo tenant's contract.
const SEATS: u32 = 10;
const STATE_FILE: &str = "demo.json";
const EMULATOR_DIR: &str = "emulator";
const LEADBRIDGE_DIR: &str = "leadbridge";
/// Where the demo is served when nothing else is asked for.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// How to start the demo.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Holds `demo.json`, the database (`leadbridge/`) and the emulator's org (`emulator/`).
    pub data_dir: PathBuf,
    /// Where to serve; `None` is where the previous run served, or [`DEFAULT_LISTEN`].
    pub listen: Option<SocketAddr>,
    /// Delete the kept state and start over.
    pub reset: bool,
    /// How often the workers sync the tenant, in seconds.
    pub sync_interval_seconds: u64,
}

impl DemoConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> DemoConfig {
        DemoConfig {
            data_dir: data_dir.into(),
            listen: None,
            reset: false,
            sync_interval_seconds: 300,
        }
    }
}

/// A user's sign-in.
#[derive(Clone, Serialize, Deserialize)]
pub struct Login {
    pub email: String,
    pub name: String,
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("email", &self.email)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What the demo kept from its first run.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Kept {
    listen: SocketAddr,
    emulator_listen: SocketAddr,
    tenant_id: uuid::Uuid,
    admin: Login,
    rep: Login,
}

/// How to reach the running demo and its CRM.
#[derive(Clone, Debug)]
pub struct DemoInfo {
    /// The web UI, e.g. `https://127.0.0.1:8080`.
    pub url: String,
    pub tenant: TenantId,
    pub admin: Login,
    pub rep: Login,
    /// Whether this run set the demo up (false: reused the kept one).
    pub fresh: bool,
    /// The CA that signed both the demo's and the emulator's certificates.
    pub ca_cert: PathBuf,
    pub emulator: dataverse_emulator::EmulatorInfo,
    /// The CRM user the admin signs in as on the emulator's sign-in page.
    pub crm_admin: String,
}

/// A running demo: the web server and the sync workers over the store, and the emulator.
pub struct Demo {
    pub info: DemoInfo,
    pub store: Store,
    pub emulator: RunningEmulator,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<Result<(), web::ServeError>>,
    workers: tokio::task::JoinHandle<sync::Result<()>>,
}

fn read_kept(data_dir: &Path) -> anyhow::Result<Option<Kept>> {
    let path = data_dir.join(STATE_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
            format!("{} is not valid: start over with --reset", path.display())
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Removes what an earlier run left (only the demo's own files and directories).
fn remove_state(data_dir: &Path) -> anyhow::Result<()> {
    for dir in [EMULATOR_DIR, LEADBRIDGE_DIR] {
        let path = data_dir.join(dir);
        match std::fs::remove_dir_all(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", path.display()));
            }
            _ => {}
        }
    }
    let path = data_dir.join(STATE_FILE);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// The host part of a URL for an address: a wildcard listen address is reached on loopback.
fn url_host(addr: SocketAddr) -> String {
    match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".into(),
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => "127.0.0.1".into(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    }
}

/// Starts the demo, setting it up first unless the data directory holds a complete earlier one.
pub async fn start(config: DemoConfig) -> anyhow::Result<Demo> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let kept = if config.reset {
        None
    } else {
        read_kept(&config.data_dir)?
    };
    // demo.json is written last: without it, whatever is there is a setup that did not finish.
    if kept.is_none() {
        remove_state(&config.data_dir)?;
    }
    let fresh = kept.is_none();

    let emulator_dir = config.data_dir.join(EMULATOR_DIR);
    let emulator_listen = kept.as_ref().map_or_else(
        || SocketAddr::from(([127, 0, 0, 1], 0)),
        |k| k.emulator_listen,
    );
    let mut emulator_config = EmulatorConfig::new(emulator_listen, emulator_dir.clone());
    emulator_config.seed = Some(SeedSize::Small);
    emulator_config.seed_number = SEED_NUMBER;
    let emulator = dataverse_emulator::start(emulator_config)
        .await
        .with_context(|| {
            format!("starting the CRM emulator on {emulator_listen} (is another demo running?)")
        })?;
    let ca_cert = emulator
        .info
        .ca_cert
        .clone()
        .context("the emulator serves HTTPS, so it has a CA")?;

    let listen = config
        .listen
        .or(kept.as_ref().map(|k| k.listen))
        .map_or_else(|| DEFAULT_LISTEN.parse(), Ok)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (choose another with --listen)"))?;
    let local = listener.local_addr()?;
    let host = url_host(local);
    let url = format!("https://{host}:{}", local.port());
    let tls = dataverse_emulator::tls::server_config(
        &emulator_dir,
        &[host.trim_matches(['[', ']']).to_owned()],
    )?;

    let serve_config = web::ServeConfig {
        listen: local,
        data_dir: config.data_dir.join(LEADBRIDGE_DIR),
        database_url: None,
        secret_key: None,
        web: web::WebConfig {
            cookies: web::CookieSecurity::Always,
            // Connect to CRM starts filled in for the emulator, admin sign-in chosen.
            connect_defaults: Some(web::ConnectDefaults {
                delegated: true,
                org_url: emulator.info.org_url.clone(),
                tenant_id: emulator.info.tenant_id.to_string(),
                client_id: emulator.info.client_id.to_string(),
                authority_url: emulator.info.authority_url.clone(),
            }),
            ..web::WebConfig::default()
        },
    };
    let store = web::server::open_store(&serve_config).await?;
    let seed = dataverse_emulator::seed::generate(SeedSize::Small, SEED_NUMBER);
    let crm_admin = seed_admin(&seed)?;
    let kept = match kept {
        Some(kept) => kept,
        None => {
            let kept = set_up(&store, &seed, local, emulator.addr).await?;
            let path = config.data_dir.join(STATE_FILE);
            dataverse_emulator::tls::write_private(&path, &serde_json::to_vec_pretty(&kept)?)?;
            kept
        }
    };

    let engine_args = EngineArgs {
        sync_interval_seconds: config.sync_interval_seconds,
        crm_ca_cert: Some(ca_cert.clone()),
        allow_non_dynamics_host: true,
        job_lease_seconds: 300,
        sync_lease_seconds: 120,
        name: None,
        // The emulator's default app registration is a public client that accepts any redirect.
        sign_in_client_id: Some(emulator.info.client_id.to_string()),
        sign_in_client_secret: None,
        sign_in_redirect_uri: Some(format!("{url}/admin/crm/connect/callback")),
        sign_in_tenant: emulator.info.tenant_id.to_string(),
    };
    let built = engine_args.build(store.clone())?;
    let engine = built.engine.clone();
    let state = web::AppState::new(store.clone(), serve_config.web.clone()).with_sync(Arc::new(
        EngineControl {
            engine: built.engine,
            extra_ca_pems: built.extra_ca_pems,
            sign_in_client_id: built.sign_in_client_id,
        },
    ));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let mut stopped = shutdown.clone();
    let server = tokio::spawn(web::serve_tls_on(listener, tls, state, async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    let workers = tokio::spawn(async move { sync::worker::run_workers(&engine, shutdown).await });

    Ok(Demo {
        info: DemoInfo {
            url,
            tenant: TenantId(kept.tenant_id),
            admin: kept.admin,
            rep: kept.rep,
            fresh,
            ca_cert,
            emulator: emulator.info.clone(),
            crm_admin: crm_admin.name,
        },
        store,
        emulator,
        stop,
        server,
        workers,
    })
}

impl Demo {
    /// Stops serving and syncing, closes the database and saves the CRM org.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let served = self.server.await;
        let worked = self.workers.await;
        self.store.close().await;
        self.emulator.shutdown().await?;
        served??;
        worked??;
        Ok(())
    }
}

/// The seed's System Administrator: the demo's admin and the CRM user who signs in.
fn seed_admin(seed: &SeedOrg) -> anyhow::Result<Login> {
    seed.users
        .iter()
        .find(|u| !u.is_disabled && u.roles.contains(&SeedRole::SystemAdministrator))
        .map(|u| Login {
            email: u.email.clone(),
            name: format!("{} {}", u.first_name, u.last_name),
            password: String::new(),
        })
        .context("the seed has no system administrator")
}

/// The seed's first salesperson still working there: the demo's rep.
fn seed_rep(seed: &SeedOrg) -> anyhow::Result<Login> {
    seed.users
        .iter()
        .find(|u| !u.is_disabled && u.roles == [SeedRole::Salesperson])
        .map(|u| Login {
            email: u.email.clone(),
            name: format!("{} {}", u.first_name, u.last_name),
            password: String::new(),
        })
        .context("the seed has no salesperson")
}

/// Creates the tenant, its admin and rep, and the directory, all in one transaction.
async fn set_up(
    store: &Store,
    seed: &SeedOrg,
    listen: SocketAddr,
    emulator_listen: SocketAddr,
) -> anyhow::Result<Kept> {
    let tenant = store
        .create_tenant(&format!("{} (demo)", seed.name), SEATS)
        .await?;
    let mut t = store.tenant(tenant.id).begin().await?;
    let mut admin = seed_admin(seed)?;
    let mut rep = seed_rep(seed)?;
    for (login, is_admin) in [(&mut admin, true), (&mut rep, false)] {
        let password = store::accounts::generate_password();
        let user = t
            .create_user(NewUser {
                email: login.email.clone(),
                display_name: login.name.clone(),
                admin: is_admin,
                password: Some(password.clone()),
            })
            .await?;
        if !is_admin {
            t.assign_seat(user.id).await?;
        }
        login.password = password.expose_secret().to_owned();
    }
    let directory = directory::derive(seed);
    let company_ids = t.upsert_companies(&directory.companies).await?;
    let by_external: std::collections::HashMap<&str, CompanyId> = directory
        .companies
        .iter()
        .zip(company_ids)
        .filter_map(|(c, id)| c.external_id.as_deref().map(|e| (e, id)))
        .collect();
    let people: Vec<_> = directory
        .people
        .into_iter()
        .map(|(mut person, company)| {
            person.company = company.and_then(|c| by_external.get(c.as_str()).copied());
            person
        })
        .collect();
    t.upsert_people(&people).await?;
    t.commit().await?;
    Ok(Kept {
        listen,
        emulator_listen,
        tenant_id: tenant.id.0,
        admin,
        rep,
    })
}
