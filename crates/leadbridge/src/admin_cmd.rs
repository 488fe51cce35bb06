//! `leadbridge admin`: setting up a real installation from the shell — tenants and their users.

use std::io::BufRead;

use clap::{Args, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use store::tenants::NewUser;
use store::{Store, StoreOptions};

use crate::serve_cmd::DatabaseArgs;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create a tenant (a customer organisation) with its contract's seat count; prints its id.
    CreateTenant(CreateTenantArgs),
    /// Create a user of a tenant; prints the password when one is generated.
    CreateUser(CreateUserArgs),
}

#[derive(Args)]
pub struct CreateTenantArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[arg(long)]
    name: String,
    /// How many seats the contract has.
    #[arg(long)]
    seats: u32,
}

#[derive(Args)]
pub struct CreateUserArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The tenant's id (from create-tenant).
    #[arg(long)]
    tenant: uuid::Uuid,
    #[arg(long)]
    email: String,
    #[arg(long)]
    name: String,
    /// The user administers the tenant (CRM connection, settings, seats).
    #[arg(long)]
    admin: bool,
    /// Give the user a seat (makes them a rep).
    #[arg(long)]
    seat: bool,
    /// Read the password from the first line of standard input instead of generating one.
    #[arg(long)]
    password_stdin: bool,
}

pub fn run(command: AdminCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        match command {
            AdminCommand::CreateTenant(args) => create_tenant(args).await,
            AdminCommand::CreateUser(args) => create_user(args).await,
        }
    })
}

async fn open(database: &DatabaseArgs) -> anyhow::Result<Store> {
    let store = Store::connect(StoreOptions::new(database.url())).await?;
    store.migrate().await?;
    Ok(store)
}

async fn create_tenant(args: CreateTenantArgs) -> anyhow::Result<()> {
    let store = open(&args.database).await?;
    let tenant = store.create_tenant(&args.name, args.seats).await?;
    println!(
        "{}",
        json!({"id": tenant.id.to_string(), "name": tenant.name, "seats": tenant.contract.seat_count})
    );
    store.close().await;
    Ok(())
}

async fn create_user(args: CreateUserArgs) -> anyhow::Result<()> {
    let store = open(&args.database).await?;
    let (password, generated) = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        (SecretString::from(line), false)
    } else {
        (store::accounts::generate_password(), true)
    };
    let mut tenant = store.tenant(domain::ids::TenantId(args.tenant));
    let user = tenant
        .create_user(NewUser {
            email: args.email,
            display_name: args.name,
            admin: args.admin,
            password: Some(password.clone()),
        })
        .await?;
    let seat = if args.seat {
        Some(tenant.assign_seat(user.id).await?.seat.id.to_string())
    } else {
        None
    };
    let mut out = json!({
        "id": user.id.to_string(),
        "email": user.email,
        "admin": user.admin,
        "seat": seat,
    });
    if generated {
        // Printed once, for the admin to hand over; it is stored only as a hash.
        out["password"] = json!(password.expose_secret());
    }
    println!("{out}");
    store.close().await;
    Ok(())
}
