//! Black-box tests of the admin API: the real server on 127.0.0.1:0 over a fresh SQLite store,
//! spoken to over HTTP.

mod support;

mod auth;
mod end_to_end;
mod errors;
mod explain;
mod filters;
mod lists;
mod openapi;
mod records;
mod serve;
