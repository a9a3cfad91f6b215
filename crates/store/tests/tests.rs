//! Black-box tests of the store, one suite run on SQLite and on PostgreSQL
//! (`BIDSIEVE_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/test`).

mod support;

mod background;
mod changes;
mod connect;
mod crud;
mod filters;
mod lists;
