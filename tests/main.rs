//! The one integration-test binary: library, CLI and hub together, against real servers on
//! 127.0.0.1. Each module below is one area; `support` holds what they share.

mod support;

mod ango_standin;
mod any_hub;
mod audio_verdicts;
mod build_cli;
mod builder;
mod cloud_cli;
mod cloud_reader;
mod faults;
mod hub_api;
mod malformed;
mod media_probe;
mod storage;
mod upload_cli;
