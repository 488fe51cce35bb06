//! `leadbridge admin`: sets up a real installation — tenants and their first users.

use std::io::BufRead;

use anyhow::Context;
use clap::{Args, Subcommand};
use domain::ids::TenantId;
use secrecy::{ExposeSecret, SecretString};
use store::tenants::NewUser;
use store::{Backend, Store, StoreOptions};

use crate::database::DatabaseArgs;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create a tenant (a customer and its contract); prints its id.
    CreateTenant(CreateTenantArgs),
    /// Create a user of a tenant; prints the generated password once unless one is given.
    CreateUser(CreateUserArgs),
}

#[derive(Args)]
pub struct CreateTenantArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[arg(long)]
    name: String,
    /// Seats in the contract.
    #[arg(long)]
    seats: u32,
}

#[derive(Args)]
pub struct CreateUserArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The tenant's id, as printed by create-tenant.
    #[arg(long)]
    tenant: uuid::Uuid,
    #[arg(long)]
    email: String,
    #[arg(long)]
    name: String,
    /// Make the user an admin of the tenant.
    #[arg(long)]
    admin: bool,
    /// Give the user a seat (a rep).
    #[arg(long)]
    seat: bool,
    /// Read the password from the first line of standard input instead of generating one.
    #[arg(long)]
    password_stdin: bool,
}

pub fn run(command: AdminCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    match command {
        AdminCommand::CreateTenant(args) => runtime.block_on(create_tenant(args)),
        AdminCommand::CreateUser(args) => runtime.block_on(create_user(args)),
    }
}

/// SQLite is migrated on first use like `serve` does; PostgreSQL is migrated explicitly with
/// `leadbridge migrate`, so a rolling deploy decides when its schema changes.
pub(crate) async fn open(database: &DatabaseArgs) -> anyhow::Result<Store> {
    let url = database.url();
    let store = Store::connect(StoreOptions::new(url.clone()))
        .await
        .with_context(|| format!("cannot open {}", store::redact_url(&url)))?;
    if store.backend() == Backend::Sqlite {
        store.migrate().await?;
    } else if store.pending_migrations().await? > 0 {
        anyhow::bail!(
            "the database schema is not up to date: run `leadbridge migrate` against {} first",
            store::redact_url(&url)
        );
    }
    Ok(store)
}

async fn create_tenant(args: CreateTenantArgs) -> anyhow::Result<()> {
    let store = open(&args.database).await?;
    let tenant = store.create_tenant(&args.name, args.seats).await?;
    println!(
        "{}",
        serde_json::json!({
            "tenant_id": tenant.id.to_string(),
            "name": tenant.name,
            "seats": tenant.contract.seat_count,
        })
    );
    store.close().await;
    Ok(())
}

async fn create_user(args: CreateUserArgs) -> anyhow::Result<()> {
    let (password, generated) = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let password = line.trim_end_matches(['\n', '\r']).to_owned();
        (SecretString::from(password), false)
    } else {
        (store::accounts::generate_password(), true)
    };
    let store = open(&args.database).await?;
    let mut tenant = store.tenant(TenantId(args.tenant)).begin().await?;
    let user = tenant
        .create_user(NewUser {
            email: args.email,
            display_name: args.name,
            admin: args.admin,
            password: Some(password.clone()),
        })
        .await?;
    let seat = if args.seat {
        Some(tenant.assign_seat(user.id).await?.seat.id)
    } else {
        None
    };
    tenant.commit().await?;
    let mut out = serde_json::json!({
        "user_id": user.id.to_string(),
        "tenant_id": user.tenant.to_string(),
        "email": user.email,
        "admin": user.admin,
        "seat_id": seat.map(|s| s.to_string()),
    });
    if generated {
        // Shown this once: only its hash is stored.
        out["password"] = serde_json::Value::String(password.expose_secret().to_owned());
    }
    println!("{out}");
    store.close().await;
    Ok(())
}
