//! Integration tests of `xcc-wire`, one binary with one module per theme
//! (the allocation test is its own binary, `no_alloc.rs`, because it
//! installs a global allocator).

mod corpus;
mod malformed;
mod properties;
mod vectors;
