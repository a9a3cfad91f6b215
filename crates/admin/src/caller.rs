//! `Caller`: the authenticated user of a request (token from `Authorization: Bearer` or the
//! `BIDSIEVE_SESSID` cookie, checked against the session table), and the customer its
//! customer-scoped calls act on (SPEC §5.2).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::error::ApiError;
use crate::extract::QueryIds;
use crate::session::SessionInfo;
use crate::state::AdminState;
use crate::token::TokenError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "BIDSIEVE_SESSID";

/// A user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Runs bidsieve: may act on any customer.
    Operator,
    /// A customer's user: acts on its own customer only.
    Customer,
}

impl Role {
    /// The stored / JWT name.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Customer => "customer",
        }
    }

    /// The role named `name`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "operator" => Some(Self::Operator),
            "customer" => Some(Self::Customer),
            _ => None,
        }
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The user.
    pub(crate) user_id: i64,
    /// The role.
    pub(crate) role: Role,
    /// The customer of a customer user.
    pub(crate) customer_id: Option<i64>,
    /// The session id (for logout).
    pub(crate) jti: String,
}

impl FromRequestParts<AdminState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AdminState,
    ) -> Result<Self, Self::Rejection> {
        let token = token_of(&parts.headers)?;
        let claims = state.inner().tokens.verify(token).map_err(|e| match e {
            TokenError::Expired => ApiError::NoAuth("the session has expired; log in again"),
            TokenError::Invalid => ApiError::NoAuth("invalid token; log in again"),
        })?;
        let SessionInfo {
            user_id,
            role,
            customer_id,
        } = state
            .inner()
            .sessions
            .touch(&claims.jti)
            .map_err(|end| ApiError::NoAuth(end.message()))?;
        // The signed claims and the session must agree (they always do unless the key leaked).
        if claims.sub != user_id.to_string()
            || claims.role != role.as_str()
            || claims.cid != customer_id
        {
            state.inner().sessions.end(&claims.jti);
            return Err(ApiError::NoAuth("invalid token; log in again"));
        }
        Ok(Caller {
            user_id,
            role,
            customer_id,
            jti: claims.jti,
        })
    }
}

/// An authenticated operator: the extractor of operator-only routes (a customer user gets 403
/// `UNAUTH` before its body is even read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Operator(pub(crate) Caller);

impl FromRequestParts<AdminState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AdminState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_operator()?;
        Ok(Operator(caller))
    }
}

/// The token of a request: `Authorization: Bearer T`, else the session cookie.
///
/// # Errors
/// `NOAUTH` when there is none, or the `Authorization` header is not a bearer token.
fn token_of(headers: &HeaderMap) -> Result<&str, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::NoAuth("malformed Authorization header"))?;
        let (scheme, token) = value
            .trim()
            .split_once(' ')
            .ok_or(ApiError::NoAuth("expected Authorization: Bearer TOKEN"))?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::NoAuth("expected Authorization: Bearer TOKEN"));
        }
        return Ok(token.trim());
    }
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for pair in value.split(';') {
            if let Some((name, token)) = pair.trim().split_once('=')
                && name == SESSION_COOKIE
                && !token.is_empty()
            {
                return Ok(token);
            }
        }
    }
    Err(ApiError::NoAuth(
        "authentication required: log in with POST /api/login and send Authorization: Bearer TOKEN",
    ))
}

// === impl Caller ===

impl Caller {
    /// True for operators.
    pub(crate) fn is_operator(&self) -> bool {
        self.role == Role::Operator
    }

    /// Operators only.
    ///
    /// # Errors
    /// `UNAUTH` for a customer user.
    pub(crate) fn require_operator(&self) -> Result<(), ApiError> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(ApiError::Unauth("only operators may do this"))
        }
    }

    /// The customer a customer-scoped call acts on: a customer user's own (naming another is a
    /// 404), or the one an operator names with `?customer_id=N`, which must exist.
    ///
    /// # Errors
    /// `VALIDATION` when an operator names none; `NOT_FOUND` for an unknown customer or another
    /// customer's id; `INTERNAL` when the store fails.
    pub(crate) async fn scope(&self, state: &AdminState, query: QueryIds) -> Result<i64, ApiError> {
        match (self.role, self.customer_id, query.customer_id) {
            (Role::Customer, Some(own), None) => Ok(own),
            (Role::Customer, Some(own), Some(named)) if named == own => Ok(own),
            (Role::Customer, _, Some(named)) => Err(customer_not_found(named)),
            (Role::Customer, None, None) => Err(ApiError::internal(
                "a customer user's session has no customer id",
            )),
            (Role::Operator, _, None) => Err(ApiError::validation(
                "customer_id",
                "operators name the customer of this call with ?customer_id=N",
            )),
            (Role::Operator, _, Some(named)) => match state.store().customer(named).await {
                Ok(_) => Ok(named),
                Err(bidsieve_store::StoreError::NotFound) => Err(customer_not_found(named)),
                Err(e) => Err(e.into()),
            },
        }
    }
}

/// The 404 for a customer the caller cannot see.
pub(crate) fn customer_not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("customer {id} not found"))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn bearer_header_first_then_cookie() {
        let mut headers = HeaderMap::new();
        assert_eq!(token_of(&headers).unwrap_err().id(), "NOAUTH");
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; BIDSIEVE_SESSID=tok.en.x; c=d"),
        );
        assert_eq!(token_of(&headers).unwrap(), "tok.en.x");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer h.e.y"),
        );
        assert_eq!(token_of(&headers).unwrap(), "h.e.y");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  h.e.y "),
        );
        assert_eq!(token_of(&headers).unwrap(), "h.e.y");
        for bad in ["Basic abc", "Bearer", "Bearer   ", "h.e.y"] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(bad));
            assert_eq!(token_of(&headers).unwrap_err().id(), "NOAUTH", "{bad}");
        }
    }

    #[test]
    fn roles_round_trip() {
        for role in [Role::Operator, Role::Customer] {
            assert_eq!(Role::from_name(role.as_str()), Some(role));
        }
        assert_eq!(Role::from_name("admin"), None);
    }
}
