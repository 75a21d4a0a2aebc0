//! assetdrop imports assets (images, video, audio, PDF, text, markdown/HTML, DICOM, NIfTI/NRRD)
//! into an annotation project, the ways Ango Hub offers.
//!
//! - [`media`] says whether a file is what it claims and fit for annotation (sniffing, image size,
//!   audio bitrate mode, video frame rate) before anything is uploaded.
//! - [`hub`] is the server: catalog, blob storage, signed URLs and Ango's v2 import API.
//! - [`upload`] is the client side: [`upload::HubClient`] speaks the v2 API, and
//!   [`upload::upload`] validates, uploads and registers local files with bounded concurrency,
//!   retries and progress events.

pub mod error;
pub mod media;

pub use error::{Error, ErrorCode};
pub mod hub;
pub mod progress;
pub mod upload;
