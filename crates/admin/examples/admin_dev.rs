//! The admin API alone, for development and API checkers (schemathesis): a fresh SQLite store
//! in a temp directory with an operator, a customer with a user, a supplier and a stream. Prints
//! the address and a token for each user, then serves until Ctrl-C.
//!
//! ```text
//! cargo run -p bidsieve-admin --example admin_dev [-- 127.0.0.1:8081]
//! ```
//!
//! Logins: `ops@dev.example` (operator) and `user@acme.example` (customer), password
//! `dev password`. The login limits are raised so that checkers may log in often.

#![allow(clippy::print_stdout)]

use std::error::Error;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};
use bidsieve_admin::{AdminSettings, AdminState};
use bidsieve_store::{CustomerInput, NewUser, Store, StreamInput};

const PASSWORD: &str = "dev password";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "bidsieve_admin=info,warn".into()),
        )
        .init();
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".into());
    let dir = std::env::temp_dir().join(format!("bidsieve-admin-dev-{}", std::process::id()));
    let store = Store::connect(&format!("sqlite://{}/dev.db", dir.display())).await?;

    let customer = store
        .create_customer(&CustomerInput {
            name: "ACME".into(),
            slug: "acme".into(),
            qps: 1000,
            redirect_wins: false,
            inject_tag: false,
            keep_nurl: false,
        })
        .await?;
    let supplier = store.create_supplier("OpenX").await?;
    store
        .create_stream(&StreamInput {
            client_id: None,
            supplier_id: supplier.id,
            customer_id: customer.id,
            seat_id: "123".into(),
            customer_endpoint: "http://127.0.0.1:9000/bids".into(),
        })
        .await?;
    for (email, role, customer_id) in [
        ("ops@dev.example", "operator", None),
        ("user@acme.example", "customer", Some(customer.id)),
    ] {
        let salt = SaltString::generate(&mut OsRng);
        let hash = argon2::Argon2::default()
            .hash_password(PASSWORD.as_bytes(), &salt)
            .map_err(|e| e.to_string())?
            .to_string();
        store
            .create_user(&NewUser {
                email: email.into(),
                password_hash: hash,
                role: role.into(),
                customer_id,
            })
            .await?;
    }

    let mut settings = AdminSettings::new(Vec::new());
    settings.login_limits.successes_per_user = 1_000_000;
    let state = AdminState::new(store.clone(), settings);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("admin API on http://{addr} (store {})", dir.display());
    println!(
        "log in: curl -s -X POST http://{addr}/api/login -H 'content-type: application/json' -d '{{\"email\":\"ops@dev.example\",\"password\":\"{PASSWORD}\"}}'"
    );
    println!("customer id {}", customer.id);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    bidsieve_admin::serve(listener, state, shutdown).await?;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
