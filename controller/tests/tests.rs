//! The integration tests of `xcc-controller`: one binary, one module per
//! theme.

mod crd_in_sync;
