//! bidsieve admin.
