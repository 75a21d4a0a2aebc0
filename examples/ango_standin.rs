//! The strict stand-in of Ango Hub's documented v2 API (the one the integration tests use), as
//! a process: for the desktop end-to-end tests and for trying the client against a plain Ango
//! hub by hand. Prints `listening on URL key KEY store URL` on its first line and serves until
//! its standard input closes.
//!
//! `cargo run --example ango_standin`

#![allow(dead_code, clippy::unwrap_used)]

#[path = "../tests/support/ango.rs"]
mod ango;

use std::io::Read as _;

fn main() {
    let key = std::env::var("ANGO_STANDIN_KEY").unwrap_or_else(|_| "ango-test-key".to_owned());
    let hub = ango::AngoStandIn::start(ango::StandInConfig {
        key,
        ..ango::StandInConfig::default()
    });
    println!(
        "listening on {} key {} store {}",
        hub.url, hub.key, hub.store_url
    );
    // Serve until whoever started this closes our standard input (or dies).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}
