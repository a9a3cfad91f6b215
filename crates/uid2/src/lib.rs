//! bidsieve uid2.
