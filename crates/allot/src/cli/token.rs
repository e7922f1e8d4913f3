//! `allot token create`: makes an API token by writing straight to the
//! database (there is no API route for it), which is also how the very first
//! token is made on PostgreSQL.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::auth::{TokenStore, generate_secret, hash_secret, validate_scopes};
use crate::clock::Clock;
use crate::store::{Db, DbOptions};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is printed once.
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A name to recognise the token by.
    #[arg(long)]
    pub name: String,
    /// Scopes (repeatable): jobs:read, jobs:write, admin, or * for all (default: *).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// The database to write to (default sqlite://allot.db).
    #[arg(long, env = "ALLOT_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Print the token as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cmd: TokenCommand) -> ExitCode {
    match cmd {
        TokenCommand::Create(args) => create(args).await,
    }
}

async fn create(args: CreateArgs) -> ExitCode {
    let scopes = if args.scopes.is_empty() {
        vec!["*".to_string()]
    } else {
        args.scopes.clone()
    };
    if let Err(e) = validate_scopes(&scopes) {
        eprintln!("error: {e}");
        return ExitCode::from(super::EXIT_USAGE);
    }
    if args.name.trim().is_empty() || args.name.len() > 200 {
        eprintln!("error: --name must be 1 to 200 characters");
        return ExitCode::from(super::EXIT_USAGE);
    }
    // Someone who set ALLOT_SERVER may expect the token to be made there;
    // without a database URL it would land in a local allot.db instead.
    if args.database_url.is_none() && std::env::var_os("ALLOT_SERVER").is_some() {
        eprintln!(
            "note: tokens are written to the database, not through ALLOT_SERVER; using {} (set --database-url or ALLOT_DATABASE_URL to the server's database)",
            crate::config::DEFAULT_DATABASE_URL
        );
    }
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| crate::config::DEFAULT_DATABASE_URL.to_string());
    let db = match Db::connect(
        &url,
        &DbOptions {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await
    {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::EXIT_FAILED);
        }
    };
    if let Err(e) = db.migrate().await {
        eprintln!("error: {e}");
        return ExitCode::from(super::EXIT_FAILED);
    }
    let secret = generate_secret();
    let store = TokenStore::new(db.clone());
    let now = crate::clock::SystemClock.now();
    let record = match store
        .insert(args.name.trim(), &hash_secret(&secret), &scopes, now)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot store the token: {e}");
            return ExitCode::from(super::EXIT_FAILED);
        }
    };
    db.close().await;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"id": record.id.0, "name": record.name, "scopes": scopes, "token": secret})
        );
    } else {
        println!("{secret}");
        eprintln!(
            "token {:?} created with scopes {} (the secret is shown only now)",
            record.name,
            scopes.join(", ")
        );
    }
    ExitCode::SUCCESS
}
