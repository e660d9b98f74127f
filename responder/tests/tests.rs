//! Integration tests of xcc-responder.
