//! "Is this file what it claims, and fit for annotation?" — content sniffing, kind and extension
//! checks, image size, audio bitrate mode and video frame rate, gathered into one [`Report`] per
//! file. Nothing here uploads or stops a batch: a bad file is a report with problems, never an error.

pub mod audio;
mod medical;
mod probe;
mod sniff;
mod video;

use serde::Serialize;

pub use probe::{probe, probe_bytes, probe_with};
pub use sniff::{sniff_bytes, Format};

/// The asset kinds the hub accepts (Ango's supported types, reference §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// jpg, png, tiff.
    Image,
    /// mp4, webm, mov, mkv.
    Video,
    /// mp3, wav, ogg (and converted WAV).
    Audio,
    /// PDF documents.
    Pdf,
    /// Plain UTF-8 text (NER).
    Text,
    /// Markdown.
    Markdown,
    /// HTML.
    Html,
    /// DICOM images.
    Dicom,
    /// NRRD volumes.
    Nrrd,
    /// `NIfTI` volumes (`.nii`, `.nii.gz`).
    Nifti,
}

impl Kind {
    /// Lower-case name, as in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
            Kind::Audio => "audio",
            Kind::Pdf => "pdf",
            Kind::Text => "text",
            Kind::Markdown => "markdown",
            Kind::Html => "html",
            Kind::Dicom => "dicom",
            Kind::Nrrd => "nrrd",
            Kind::Nifti => "nifti",
        }
    }
}

/// What to do with audio whose bitrate is not constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioPolicy {
    /// Refuse the file (the default: annotation timings would be wrong).
    #[default]
    Reject,
    /// Import it anyway, with a warning.
    Warn,
    /// Decode it and upload a PCM WAV instead, keeping the original name as the external ID.
    Convert,
}

/// Settings for [`probe_with`].
#[derive(Debug, Clone, Default)]
pub struct ProbeConfig {
    /// What to do with variable-bitrate audio.
    pub audio: AudioPolicy,
}

/// The overall verdict on one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Fit for import as it is.
    Ok,
    /// Importable, but the user should know something.
    Warn,
    /// Not importable as it is.
    Reject,
}

/// How serious one problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; the file is still imported.
    Warning,
    /// The file is not imported as it is.
    Error,
}

/// Machine-readable problem codes; stable strings in JSON (`kebab-case`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemCode {
    /// The file has zero bytes.
    Empty,
    /// The file could not be opened or read.
    Unreadable,
    /// The content is not a kind the hub accepts.
    UnsupportedType,
    /// The extension says one thing and the content another.
    ExtensionMismatch,
    /// The file ends before its structure does.
    Truncated,
    /// The structure is damaged in a way other than truncation.
    Corrupt,
    /// Audio whose bitrate varies (VBR, ABR, or parts joined).
    VariableBitrate,
    /// MP3 in free format: constant, but nothing downstream can decode it.
    FreeFormatMp3,
    /// Audio that needs converting for another reason (e.g. MP3 inside WAV, ADPCM).
    AudioNeedsConversion,
    /// A codec that cannot be decoded here (e.g. Opus), so it cannot be converted either.
    UndecodableAudio,
    /// Video whose frame rate varies: frame numbers will be approximate.
    VariableFrameRate,
    /// Text that is not valid UTF-8.
    NotUtf8,
    /// A medical volume the editor cannot open (e.g. 4-D NRRD).
    UnsupportedVolume,
    /// The file will be converted before upload (audio policy `convert`).
    WillConvert,
}

/// One thing wrong with (or worth knowing about) a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// Stable code to branch on.
    pub code: ProblemCode,
    /// Whether this blocks the import.
    pub severity: Severity,
    /// What is wrong and how to fix it, for people.
    pub message: String,
}

impl Problem {
    /// A problem that blocks the import.
    pub fn error(code: ProblemCode, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: Severity::Error,
            message: message.into(),
        }
    }
    /// A problem that does not block the import.
    pub fn warning(code: ProblemCode, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: Severity::Warning,
            message: message.into(),
        }
    }
}

/// Image facts sent to the hub as `metadata.width/height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    /// Width in pixels.
    pub width: u64,
    /// Height in pixels.
    pub height: u64,
}

/// Whether audio has a constant bitrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BitrateMode {
    /// Every frame/packet at the same rate (or PCM).
    Constant,
    /// Anything else.
    Variable,
}

/// Audio facts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioInfo {
    /// Codec name, e.g. `mp3`, `pcm_s16le`, `vorbis`, `aac`, `flac`, `opus`.
    pub codec: String,
    /// Constant or variable.
    pub bitrate_mode: BitrateMode,
    /// Average bitrate in bits per second, where known.
    pub bitrate: Option<u64>,
    /// Duration in seconds, computed from frames or samples where possible.
    pub duration_seconds: Option<f64>,
}

/// Video facts sent to the hub as `metadata.frameRate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoInfo {
    /// Frames per second (average over the video track), where known.
    pub frame_rate: Option<f64>,
    /// True when frame durations differ.
    pub variable_frame_rate: bool,
    /// Frame width in pixels, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u64>,
    /// Frame height in pixels, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
}

/// The validation report for one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The file, as given.
    pub path: std::path::PathBuf,
    /// Size in bytes (0 when unreadable).
    pub size: u64,
    /// The kind by content, if recognised.
    pub kind: Option<Kind>,
    /// The concrete format by content, if recognised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// The overall verdict: the worst of the problems, after the audio policy.
    pub verdict: Verdict,
    /// Everything found, worst first.
    pub problems: Vec<Problem>,
    /// Image facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageInfo>,
    /// Audio facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioInfo>,
    /// Video facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoInfo>,
    /// True when the uploader must convert the file to PCM WAV first (audio policy `convert`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub convert_to_wav: bool,
}

/// The format of content whose file name is `name`: content decides, and the name only chooses
/// within a family content cannot split (txt/md/html, MP4/MOV, WebM/MKV). The hub uses this on
/// the first bytes of an upload.
pub fn sniff_named(name: &str, head: &[u8]) -> Option<Format> {
    sniff::identify(std::path::Path::new(name), head).format
}
