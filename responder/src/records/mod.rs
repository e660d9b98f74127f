//! Where tables come from: the records model (the `DNSRecord` schema shared
//! with the controller) and the loading of records files.

pub mod model;
