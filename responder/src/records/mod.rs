//! Where tables come from: the records model, records files, and hot reload.
//!
//! - [`model`]: the `DNSRecord` schema, shared with the controller, so that a
//!   file `kubectl apply -f` accepts is a file the responder serves.
//! - [`load`]: reads a records file (YAML or JSON `DNSRecord` manifests, or
//!   the benchmark harness's zone format) into a table, rejecting bad
//!   documents and records by name while serving the rest.
//! - [`watch`]: hot reload. Watches the file (inotify on its directory, with
//!   a periodic check as fallback), rebuilds on change, and publishes the new
//!   table through [`crate::table::handle::TableHandle`]; a file that fails
//!   to load is logged and counted, and the last good table keeps serving.
//!
//! Both the loading and the watching run on the control side, never on a
//! worker: a worker only ever sees whole, validated tables.

pub mod load;
pub mod model;
pub mod watch;
