//! Users of the admin API: the operator's `POST`/`GET /api/users` and
//! `DELETE /api/users/{id}` (SPEC §5.3). Passwords are stored as argon2id hashes and never
//! returned.

use axum::extract::State;
use bidsieve_store::{NewUser, StoreError, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::caller::{Operator, Role};
use crate::envelope::{Data, Deleted, Reply};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, RecordId};
use crate::password::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN, hash_password};
use crate::state::AdminState;

/// Longest email (RFC 5321 path limit).
const MAX_EMAIL_LEN: usize = 254;

/// A user (never with its password).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Store-generated id.
    pub id: i64,
    /// Lower-cased, unique.
    pub email: String,
    /// `operator` or `customer`.
    pub role: String,
    /// The customer of a customer user; null for operators.
    pub customer_id: Option<i64>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            role: u.role,
            customer_id: u.customer_id,
        }
    }
}

/// A new user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserFields {
    /// Login email (unique, case-insensitive).
    #[schema(max_length = 254, pattern = r"^[^@\s]+@[^@\s]+$")]
    pub email: String,
    /// At least 8 characters; stored as an argon2id hash.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    /// `operator` or `customer`.
    #[schema(pattern = "^(operator|customer)$")]
    pub role: String,
    /// Required for customer users, absent for operators.
    pub customer_id: Option<i64>,
}

/// `POST /api/users` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    /// The user.
    pub user: UserFields,
}

fn check_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let ok = email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if ok {
        Ok(email)
    } else {
        Err(ApiError::validation(
            "user.email",
            "email must look like name@domain",
        ))
    }
}

fn check_password(password: &str) -> Result<(), ApiError> {
    let len = password.chars().count();
    if (MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&len) {
        Ok(())
    } else {
        Err(ApiError::validation(
            "user.password",
            format!("password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"),
        ))
    }
}

fn check_role(role: &str, customer_id: Option<i64>) -> Result<Role, ApiError> {
    let role = Role::from_name(role)
        .ok_or_else(|| ApiError::validation("user.role", "role must be operator or customer"))?;
    match (role, customer_id) {
        (Role::Operator, None) | (Role::Customer, Some(_)) => Ok(role),
        (Role::Operator, Some(_)) => Err(ApiError::validation(
            "user.customer_id",
            "operators belong to no customer",
        )),
        (Role::Customer, None) => Err(ApiError::validation(
            "user.customer_id",
            "customer users need a customer_id",
        )),
    }
}

/// Creates a user (operators).
#[utoipa::path(
    post,
    path = "/api/users",
    tag = "operator",
    security(("bearer" = [])),
    request_body = UserBody,
    responses(
        (status = 201, description = "The created user", body = Data<UserView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub(crate) async fn create_user(
    State(state): State<AdminState>,
    _operator: Operator,
    ApiJson(body): ApiJson<UserBody>,
) -> Result<Reply<UserView>, ApiError> {
    let f = body.user;
    let email = check_email(&f.email)?;
    check_password(&f.password)?;
    let role = check_role(&f.role, f.customer_id)?;
    let password = f.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let user = NewUser {
        email,
        password_hash,
        role: role.as_str().to_owned(),
        customer_id: f.customer_id,
    };
    let created = state
        .store()
        .create_user(&user)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { field } => ApiError::Conflict {
                field: Some(format!("user.{field}")),
                message: format!("{field} is already taken"),
            },
            StoreError::MissingReference { field } | StoreError::Invalid { field, .. } => {
                ApiError::validation(
                    format!("user.{field}"),
                    format!("{field} refers to a record that does not exist or is not valid"),
                )
            }
            other => other.into(),
        })?;
    tracing::info!(user.id = created.id, role = role.as_str(), "user created");
    Ok(Reply::created(created.into()))
}

/// Every user (operators).
#[utoipa::path(
    get,
    path = "/api/users",
    tag = "operator",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "All users, by id", body = Data<Vec<UserView>>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    )
)]
pub(crate) async fn list_users(
    State(state): State<AdminState>,
    _operator: Operator,
) -> Result<Reply<Vec<UserView>>, ApiError> {
    let users = state.store().users().await?;
    Ok(Reply::ok(users.into_iter().map(Into::into).collect()))
}

/// Deletes a user and ends its sessions (operators).
#[utoipa::path(
    delete,
    path = "/api/users/{id}",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "user id")),
    responses(
        (status = 200, description = "Deleted", body = Data<Deleted>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub(crate) async fn delete_user(
    State(state): State<AdminState>,
    Operator(caller): Operator,
    RecordId(id): RecordId,
) -> Result<Reply<Deleted>, ApiError> {
    if id == caller.user_id {
        return Err(ApiError::Conflict {
            field: Some("id".into()),
            message: "an operator cannot delete its own user".into(),
        });
    }
    state.store().delete_user(id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::NotFound(format!("user {id} not found")),
        other => other.into(),
    })?;
    state.inner().sessions.end_user(id);
    tracing::info!(user.id = id, "user deleted");
    Ok(Reply::ok(Deleted { deleted: vec![id] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_passwords_roles() {
        assert_eq!(check_email(" Ops@Example.COM ").unwrap(), "ops@example.com");
        for bad in ["", "ops", "@x", "a@", "a b@x", "a@\u{0}x"] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
        assert!(check_password("12345678").is_ok());
        assert!(check_password("1234567").is_err());
        assert_eq!(check_role("operator", None).unwrap(), Role::Operator);
        assert_eq!(check_role("customer", Some(1)).unwrap(), Role::Customer);
        assert!(check_role("customer", None).is_err());
        assert!(check_role("operator", Some(1)).is_err());
        assert!(check_role("admin", None).is_err());
    }
}
