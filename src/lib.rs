//! assetdrop imports assets (images, video, audio, PDF, text, markdown/HTML, DICOM, NIfTI/NRRD)
//! into an annotation project, the ways Ango Hub offers.
//!
//! - [`media`] says whether a file is what it claims and fit for annotation (sniffing, image size,
//!   audio bitrate mode, video frame rate) before anything is uploaded.
//! - [`hub`] is the server: catalog, blob storage, signed URLs and Ango's v2 import API.
//! - [`upload`] is the client side: [`upload::HubClient`] speaks the v2 API, and
//!   [`upload::upload`] validates, uploads and registers local files with bounded concurrency,
//!   retries and progress events.
//!
//! Uploading a folder into a project of a running hub:
//!
//! ```no_run
//! use assetdrop::progress::Discard;
//! use assetdrop::upload::{self, CancellationToken, HubClient, UploadConfig};
//!
//! # async fn demo() -> Result<(), assetdrop::Error> {
//! let client = HubClient::new("http://127.0.0.1:8080", "API-KEY")?;
//! let project = client.create_project("Cats", "").await?;
//! let config = UploadConfig::new(project.id);
//! let summary = upload::upload(&client, &["photos/".into()], &config, &Discard, &CancellationToken::new()).await?;
//! for r in &summary.rejected {
//!     eprintln!("{}: {:?}", r.path.display(), r.problems);
//! }
//! # Ok(()) }
//! ```
//!
//! Checking one file without uploading it:
//!
//! ```no_run
//! let report = assetdrop::media::probe(std::path::Path::new("talk.mp3"));
//! if let Some(audio) = &report.audio {
//!     println!("{:?} bitrate, {:?} s", audio.bitrate_mode, audio.duration_seconds);
//! }
//! ```
//!
//! Running a hub inside a program (the CLI's `serve` and local mode do this):
//!
//! ```no_run
//! # async fn demo() -> Result<(), assetdrop::Error> {
//! let hub = assetdrop::hub::start(assetdrop::hub::HubConfig::new("/srv/assets"), "127.0.0.1:0".parse().unwrap()).await?;
//! println!("{} (key {})", hub.url, hub.api_key);
//! hub.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod builder;
pub mod cloud;
pub mod error;
pub mod hub;
pub mod media;
pub mod net;
pub mod progress;
pub mod text;
pub mod upload;
pub mod wire;

pub use error::{Error, ErrorCode};
