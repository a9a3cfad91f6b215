//! `POST /api/login` and `POST /api/logout` (SPEC §5.1).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::caller::{Caller, Role, SESSION_COOKIE};
use crate::envelope::{Data, Reply};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ClientAddr};
use crate::password::{MAX_PASSWORD_LEN, decoy_hash, verify_password};
use crate::session::SessionInfo;
use crate::state::AdminState;
use crate::token::{AUDIENCE, Claims, ISSUER, unix_now};

/// The login body.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The user's email (any case).
    pub email: String,
    /// The user's password.
    pub password: String,
}

/// The login answer (the token is also in the `authorization` header and the cookie).
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// The session token (HS256 JWT).
    pub jwt: String,
    /// The hard expiry of the session (unix seconds), also in `x-expires`.
    pub exp: u64,
}

/// What logout did.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedOut {
    /// Always true: the session is over.
    pub logged_out: bool,
}

/// Logs in: a session token in the `authorization` header, `x-expires`, the body and the
/// `BIDSIEVE_SESSID` cookie.
#[utoipa::path(
    post,
    path = "/api/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; the token is also in the `authorization` header and the `BIDSIEVE_SESSID` cookie",
            body = Data<LoginResponse>,
            headers(("authorization" = String, description = "Bearer JWT"),
                    ("x-expires" = u64, description = "the session's hard expiry, unix seconds"))),
        (status = 400, description = "Unparsable body or missing field", body = ErrorBody),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 429, description = "Too many logins or failed attempts",
            body = ErrorBody, headers(("retry-after" = u64))),
    )
)]
pub(crate) async fn login(
    State(state): State<AdminState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    state.note_login();
    let inner = state.inner();
    let email = body.email.trim().to_lowercase();
    inner
        .limiter
        .check_attempt(&email, client)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let user = state.store().user_by_email(&email).await?;
    let password = body.password;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || {
        // A wrong email costs one hash check too, so timing does not reveal which emails exist.
        let hash = hash.as_deref().unwrap_or_else(|| decoy_hash());
        password.len() <= MAX_PASSWORD_LEN && verify_password(hash, &password)
    })
    .await
    .map_err(ApiError::internal)?;
    let user = match user {
        Some(user) if matches => user,
        _ => {
            inner.limiter.failed(&email, client);
            return Err(ApiError::NoAuth("wrong email or password"));
        }
    };
    inner
        .limiter
        .succeeded(user.id, &email)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let role = Role::from_name(&user.role)
        .ok_or_else(|| ApiError::internal(format!("user {} has role {:?}", user.id, user.role)))?;

    let iat = unix_now();
    let exp = iat.saturating_add(inner.sessions.max().as_secs().max(1));
    let jti = random_jti();
    let claims = Claims {
        sub: user.id.to_string(),
        role: role.as_str().to_owned(),
        cid: user.customer_id,
        jti: jti.clone(),
        iat,
        exp,
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
    };
    let jwt = inner.tokens.sign(&claims).map_err(ApiError::internal)?;
    inner.sessions.start(
        &jti,
        SessionInfo {
            user_id: user.id,
            role,
            customer_id: user.customer_id,
        },
    );
    tracing::info!(user.id = user.id, role = role.as_str(), "login");

    let bearer = HeaderValue::from_str(&format!("Bearer {jwt}")).map_err(ApiError::internal)?;
    let cookie = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={jwt}; HttpOnly; SameSite=Strict; Path=/api; Max-Age={}",
        inner.sessions.max().as_secs()
    ))
    .map_err(ApiError::internal)?;
    let mut response = Reply::ok(LoginResponse { jwt, exp }).into_response();
    let headers = response.headers_mut();
    headers.insert(header::AUTHORIZATION, bearer);
    headers.insert("x-expires", HeaderValue::from(exp));
    headers.insert(header::SET_COOKIE, cookie);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Ends the caller's session at once and clears the cookie.
#[utoipa::path(
    post,
    path = "/api/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The session is over", body = Data<LoggedOut>),
        (status = 401, description = "No valid session", body = ErrorBody),
    )
)]
pub(crate) async fn logout(State(state): State<AdminState>, caller: Caller) -> Response {
    state.inner().sessions.end(&caller.jti);
    tracing::info!(user.id = caller.user_id, "logout");
    let mut response = Reply::ok(LoggedOut { logged_out: true }).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "BIDSIEVE_SESSID=; HttpOnly; SameSite=Strict; Path=/api; Max-Age=0",
        ),
    );
    response
}

/// 128 random bits as 32 hex chars.
fn random_jti() -> String {
    let bytes: [u8; 16] = rand::random();
    let mut out = String::with_capacity(32);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jtis_are_32_hex_and_differ() {
        let a = random_jti();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_jti());
    }
}
