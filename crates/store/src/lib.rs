//! bidsieve store.
