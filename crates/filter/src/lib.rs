//! bidsieve filter.
