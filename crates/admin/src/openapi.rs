//! The OpenAPI 3 description of every endpoint (SPEC §5.6), generated from the handlers'
//! `#[utoipa::path]` attributes and the request/response types, served at
//! `GET /api/openapi.json` (no login needed).

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::content::Content;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::{customers, explain, filters, lists, login, streams, suppliers, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "bidsieve admin API",
        description = "The control plane of bidsieve: log in with `POST /api/login`, then send \
            `Authorization: Bearer JWT` (or the `BIDSIEVE_SESSID` cookie). Success bodies are \
            `{\"data\": ...}`; errors are `{\"error\": {\"id\", \"message\", \"field\"?}}`. \
            Operators name the customer of customer-scoped calls with `?customer_id=N`."
    ),
    paths(
        login::login,
        login::logout,
        customers::get_customer,
        customers::put_customer,
        customers::create_customer,
        customers::list_customers,
        customers::get_customer_by_id,
        customers::put_customer_by_id,
        customers::delete_customer,
        streams::list_streams,
        streams::create_stream,
        streams::update_stream,
        streams::delete_stream,
        suppliers::list_suppliers,
        suppliers::create_supplier,
        suppliers::update_supplier,
        suppliers::delete_supplier,
        users::create_user,
        users::list_users,
        users::delete_user,
        filters::get_tree,
        filters::get_filter,
        filters::create_filters,
        filters::update_filter,
        filters::replace_tree,
        filters::delete_filter,
        explain::explain,
        lists::get_list,
        lists::put_list,
        lists::patch_list,
        openapi_json,
    ),
    modifiers(&Conventions),
    tags(
        (name = "auth", description = "Login and sessions"),
        (name = "customer", description = "The caller's customer, streams and suppliers"),
        (name = "filters", description = "The customer's filter tree"),
        (name = "lists", description = "Large filter lists"),
        (name = "operator", description = "Operators only: customers, suppliers, streams, users"),
        (name = "meta", description = "This description"),
    )
)]
struct ApiDoc;

/// What every operation shares: the two ways to authenticate, and the error body for any
/// status an operation does not list (`default`).
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::SESSION_COOKIE))),
        );
        let default_error = ResponseBuilder::new()
            .description("An error: `{\"error\": {\"id\", \"message\", \"field\"?}}`")
            .content(
                "application/json",
                Content::new(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody")))),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                conventions(operation, &default_error);
            }
        }
    }
}

fn conventions(operation: &mut Operation, default_error: &utoipa::openapi::Response) {
    if let Some(security) = &mut operation.security
        && !security.is_empty()
    {
        security.push(SecurityRequirement::new("cookie", Vec::<String>::new()));
    }
    operation
        .responses
        .responses
        .entry("default".to_owned())
        .or_insert_with(|| RefOr::T(default_error.clone()));
}

/// The OpenAPI description of the admin API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The OpenAPI 3 description of every endpoint.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    responses((status = 200, description = "This document", content_type = "application/json", body = Object))
)]
pub(crate) async fn openapi_json() -> Response {
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    let bytes = DOCUMENT
        .get_or_init(|| match openapi().to_json() {
            Ok(text) => Bytes::from(text),
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize the OpenAPI description");
                Bytes::new()
            }
        })
        .clone();
    if bytes.is_empty() {
        return crate::error::ApiError::internal("no OpenAPI description").into_response();
    }
    let mut response = Response::new(axum::body::Body::from(bytes));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described() {
        let doc = serde_json::to_value(openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let expected = [
            ("/api/login", vec!["post"]),
            ("/api/logout", vec!["post"]),
            ("/api/customer", vec!["get", "put"]),
            ("/api/customers", vec!["get", "post"]),
            ("/api/customers/{id}", vec!["get", "put", "delete"]),
            ("/api/streams", vec!["get", "post"]),
            ("/api/streams/{id}", vec!["put", "delete"]),
            ("/api/suppliers", vec!["get", "post"]),
            ("/api/suppliers/{id}", vec!["put", "delete"]),
            ("/api/users", vec!["get", "post"]),
            ("/api/users/{id}", vec!["delete"]),
            ("/api/filters", vec!["get", "post", "put"]),
            ("/api/filters/{id}", vec!["get", "put", "delete"]),
            ("/api/filters/explain", vec!["post"]),
            ("/api/filters/{id}/list", vec!["get", "put", "patch"]),
            ("/api/openapi.json", vec!["get"]),
        ];
        assert_eq!(paths.len(), expected.len(), "{:?}", paths.keys());
        for (path, methods) in expected {
            let item = paths.get(path).unwrap_or_else(|| panic!("{path} missing"));
            for method in methods {
                let op = &item[method];
                assert!(op.is_object(), "{method} {path}");
                assert!(op["responses"]["default"].is_object(), "{method} {path}");
                if path != "/api/login" && path != "/api/openapi.json" {
                    let security = op["security"].as_array().unwrap();
                    assert_eq!(security.len(), 2, "{method} {path}: bearer or cookie");
                }
            }
        }
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["cookie"]["in"], "cookie");
        assert_eq!(schemes["cookie"]["name"], "BIDSIEVE_SESSID");
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
        assert!(doc["components"]["schemas"]["Filter"].is_object());
    }
}
