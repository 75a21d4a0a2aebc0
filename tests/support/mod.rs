//! What the integration tests share: generated fixtures, a hub on 127.0.0.1:0, event recorders.
#![allow(dead_code)]

pub mod ango;
pub mod events;
pub mod fault_proxy;
pub mod fixtures;
pub mod hub;
pub mod hubs;
pub mod servers;
