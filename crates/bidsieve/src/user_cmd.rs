//! `bidsieve user add`: creates an admin API user (the first operator is made this way).

use std::io::BufRead;

use anyhow::{Context, bail};
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use bidsieve_store::NewUser;
use clap::{Args, ValueEnum};

/// Flags of `user add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The login email (unique, case-insensitive).
    #[arg(long)]
    email: String,
    /// The user's role.
    #[arg(long, value_enum)]
    role: Role,
    /// The customer a customer user belongs to.
    #[arg(long, value_name = "N")]
    customer_id: Option<i64>,
    /// Read the password from standard input (its first line).
    #[arg(long, required = true)]
    password_stdin: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Role {
    Operator,
    Customer,
}

/// Hashes a password with argon2id and the crate's default (OWASP-recommended) parameters.
pub(crate) fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Creates the user; returns its id.
pub(crate) async fn add(store: &bidsieve_store::Store, args: AddArgs) -> anyhow::Result<i64> {
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.len() < 8 {
        bail!("the password must be at least 8 characters");
    }
    let (role, customer_id) = match (args.role, args.customer_id) {
        (Role::Operator, None) => ("operator", None),
        (Role::Operator, Some(_)) => bail!("--customer-id is only for customer users"),
        (Role::Customer, Some(id)) => ("customer", Some(id)),
        (Role::Customer, None) => bail!("a customer user needs --customer-id"),
    };
    if let Some(id) = customer_id {
        store
            .customer(id)
            .await
            .with_context(|| format!("no customer with id {id}"))?;
    }
    let user = NewUser {
        email: args.email.clone(),
        password_hash: hash_password(password)?,
        role: role.to_owned(),
        customer_id,
    };
    let user = store
        .create_user(&user)
        .await
        .with_context(|| format!("cannot create user {}", args.email))?;
    Ok(user.id)
}
