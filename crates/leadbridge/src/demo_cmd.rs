//! `leadbridge demo`: the whole product in one process on SQLite, with the CRM emulator seeded
//! `small`, until interrupted; prints where it is and how to sign in.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use leadbridge::demo::{self, DemoConfig, DemoInfo};
use leadbridge::engine_args::shutdown_signal;

#[derive(Args)]
pub struct DemoArgs {
    /// Where the demo keeps its database, its CRM org and its logins between runs.
    #[arg(long, default_value = "./leadbridge-demo")]
    data_dir: PathBuf,
    /// Address to serve on [default: the previous run's, else 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Delete the kept demo and set up a new one.
    #[arg(long)]
    reset: bool,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let mut config = DemoConfig::new(args.data_dir);
        config.listen = args.listen;
        config.reset = args.reset;
        let running = demo::start(config).await?;
        println!("{}", instructions(&running.info));
        shutdown_signal().await;
        println!("Stopping: the demo is kept for the next run.");
        running.shutdown().await
    })
}

fn instructions(info: &DemoInfo) -> String {
    let emu = &info.emulator;
    let state = if info.fresh {
        "set up a new demo"
    } else {
        "reusing the kept demo (--reset starts over)"
    };
    format!(
        "leadbridge demo: {state}\n\
         \n  Open {url}\n  \
         (its certificate is signed by the demo's own CA, {ca}: trust it, or accept the browser's warning)\n\
         \n  Admin  {admin_email}  password {admin_password}\n  \
         Rep    {rep_email}  password {rep_password}\n\
         \nAdmin Settings → CRM Settings → Connect to CRM comes filled in for the emulated Dynamics 365:\n  \
         Environment URL          {org}\n  \
         Microsoft Entra tenant   {tenant}\n  \
         Application (client) ID  {client}\n  \
         Client secret            {secret}   (for an application user; leave it empty to sign in)\n  \
         Sign-in authority        {authority}   (under Advanced)\n  \
         Signing in as an admin, pick {crm_admin} on the emulator's sign-in page.\n\
         \nCtrl-C stops the demo.",
        url = info.url,
        ca = info.ca_cert.display(),
        admin_email = info.admin.email,
        admin_password = info.admin.password,
        rep_email = info.rep.email,
        rep_password = info.rep.password,
        org = emu.org_url,
        tenant = emu.tenant_id,
        client = emu.client_id,
        secret = emu.client_secret,
        authority = emu.authority_url,
        crm_admin = info.crm_admin,
    )
}
