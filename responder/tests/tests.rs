//! Integration tests of `xcc-responder`, one binary with one module per
//! theme (the allocation test is its own binary, `alloc.rs`).

mod building;
mod corpus;
mod model;
mod prefetch;
mod reload;
mod scenarios;
mod support;
