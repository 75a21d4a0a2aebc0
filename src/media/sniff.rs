//! What a file is, by its first bytes: [`sniff_bytes`] looks at content only (the hub calls it on
//! the head of an uploaded blob), and [`identify`] adds the file name for the few choices content
//! cannot make (plain text vs Markdown) and for the extension check.

use std::io::Read;
use std::path::Path;

use serde::Serialize;

use super::Kind;

/// A concrete file format, recognised by content.
///
/// The audio formats [`Format::Flac`], [`Format::M4a`], [`Format::Aac`], [`Format::Mka`] and
/// [`Format::Aiff`] are recognised so that the report can say what they are, but the hub does not accept them as they
/// are ([`Format::accepted`]); only the audio policy `convert` makes them importable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// JPEG image.
    Jpeg,
    /// PNG image.
    Png,
    /// TIFF image (classic or `BigTIFF`).
    Tiff,
    /// MP4 (ISO base media) video.
    Mp4,
    /// `QuickTime` video.
    Mov,
    /// `WebM` video (Matroska with the `webm` doctype).
    Webm,
    /// Matroska video.
    Mkv,
    /// MPEG audio layer III.
    Mp3,
    /// RIFF WAVE audio (also RF64/BW64).
    Wav,
    /// Ogg audio (Vorbis, Opus or FLAC inside; the codec is the audio probe's business).
    Ogg,
    /// Native FLAC audio.
    Flac,
    /// MPEG-4 audio (`.m4a`): AAC or ALAC in an ISO base media file.
    M4a,
    /// Raw AAC in ADTS frames.
    Aac,
    /// Matroska audio (`.mka`): a Matroska file the name says is audio only.
    Mka,
    /// AIFF or AIFF-C audio.
    Aiff,
    /// PDF document.
    Pdf,
    /// Plain UTF-8 text.
    Txt,
    /// Markdown (UTF-8 text named `.md`).
    Md,
    /// HTML page.
    Html,
    /// DICOM Part 10 file (128-byte preamble and `DICM`).
    Dcm,
    /// NRRD volume with the data attached.
    Nrrd,
    /// Uncompressed single-file `NIfTI`-1 or `NIfTI`-2 volume.
    Nii,
    /// Gzip-compressed single-file `NIfTI` volume (`.nii.gz`).
    Niigz,
}

/// Every format, for lookups by extension.
const ALL: [Format; 23] = [
    Format::Jpeg,
    Format::Png,
    Format::Tiff,
    Format::Mp4,
    Format::Mov,
    Format::Webm,
    Format::Mkv,
    Format::Mp3,
    Format::Wav,
    Format::Ogg,
    Format::Flac,
    Format::M4a,
    Format::Aac,
    Format::Mka,
    Format::Aiff,
    Format::Pdf,
    Format::Txt,
    Format::Md,
    Format::Html,
    Format::Dcm,
    Format::Nrrd,
    Format::Nii,
    Format::Niigz,
];

impl Format {
    /// Lower-case name, as in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Tiff => "tiff",
            Format::Mp4 => "mp4",
            Format::Mov => "mov",
            Format::Webm => "webm",
            Format::Mkv => "mkv",
            Format::Mp3 => "mp3",
            Format::Wav => "wav",
            Format::Ogg => "ogg",
            Format::Flac => "flac",
            Format::M4a => "m4a",
            Format::Aac => "aac",
            Format::Mka => "mka",
            Format::Aiff => "aiff",
            Format::Pdf => "pdf",
            Format::Txt => "txt",
            Format::Md => "md",
            Format::Html => "html",
            Format::Dcm => "dcm",
            Format::Nrrd => "nrrd",
            Format::Nii => "nii",
            Format::Niigz => "niigz",
        }
    }

    /// The asset kind this format is imported as.
    pub fn kind(self) -> Kind {
        match self {
            Format::Jpeg | Format::Png | Format::Tiff => Kind::Image,
            Format::Mp4 | Format::Mov | Format::Webm | Format::Mkv => Kind::Video,
            Format::Mp3
            | Format::Wav
            | Format::Ogg
            | Format::Flac
            | Format::M4a
            | Format::Aac
            | Format::Mka
            | Format::Aiff => Kind::Audio,
            Format::Pdf => Kind::Pdf,
            Format::Txt => Kind::Text,
            Format::Md => Kind::Markdown,
            Format::Html => Kind::Html,
            Format::Dcm => Kind::Dicom,
            Format::Nrrd => Kind::Nrrd,
            Format::Nii | Format::Niigz => Kind::Nifti,
        }
    }

    /// File extensions (lower case, no dot) that rightly name this content; the first is the one
    /// to suggest when renaming. `nii.gz` is one extension. For the formats the hub accepts these
    /// are the extensions it lists (reference §3, plus `.htm`), so that a name passing here also
    /// passes there; other aliases (`.jfif`, `.oga`, `.opus`, `.m4v`) get a "rename it" warning.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Jpeg => &["jpg", "jpeg"],
            Format::Png => &["png"],
            Format::Tiff => &["tiff", "tif"],
            Format::Mp4 => &["mp4"],
            Format::Mov => &["mov"],
            Format::Webm => &["webm"],
            Format::Mkv => &["mkv"],
            Format::Mp3 => &["mp3"],
            Format::Wav => &["wav"],
            Format::Ogg => &["ogg"],
            Format::Flac => &["flac"],
            Format::M4a => &["m4a"],
            Format::Aac => &["aac"],
            Format::Mka => &["mka"],
            Format::Aiff => &["aiff", "aif", "aifc"],
            Format::Pdf => &["pdf"],
            Format::Txt => &["txt"],
            Format::Md => &["md"],
            Format::Html => &["html", "htm"],
            Format::Dcm => &["dcm"],
            Format::Nrrd => &["nrrd"],
            Format::Nii => &["nii"],
            Format::Niigz => &["nii.gz"],
        }
    }

    /// The format an extension (lower or upper case, without the dot; `nii.gz` whole) names.
    pub fn from_extension(extension: &str) -> Option<Format> {
        let extension = extension.to_ascii_lowercase();
        ALL.into_iter()
            .find(|f| f.extensions().contains(&extension.as_str()))
    }

    /// Whether the hub accepts this format as it is (reference §3). The other audio formats are
    /// importable only by converting them to WAV first.
    pub fn accepted(self) -> bool {
        !matches!(
            self,
            Format::Flac | Format::M4a | Format::Aac | Format::Mka | Format::Aiff
        )
    }

    /// What this is, for messages: "a PNG image", "MP3 audio".
    pub fn describe(self) -> &'static str {
        match self {
            Format::Jpeg => "a JPEG image",
            Format::Png => "a PNG image",
            Format::Tiff => "a TIFF image",
            Format::Mp4 => "an MP4 video",
            Format::Mov => "a QuickTime (MOV) video",
            Format::Webm => "a WebM video",
            Format::Mkv => "a Matroska (MKV) video",
            Format::Mp3 => "MP3 audio",
            Format::Wav => "WAV audio",
            Format::Ogg => "Ogg audio",
            Format::Flac => "FLAC audio",
            Format::M4a => "MPEG-4 (M4A) audio",
            Format::Aac => "raw AAC (ADTS) audio",
            Format::Mka => "Matroska (MKA) audio",
            Format::Aiff => "AIFF audio",
            Format::Pdf => "a PDF document",
            Format::Txt => "plain text",
            Format::Md => "Markdown text",
            Format::Html => "an HTML page",
            Format::Dcm => "a DICOM file",
            Format::Nrrd => "an NRRD volume",
            Format::Nii => "a NIfTI volume",
            Format::Niigz => "a gzip-compressed NIfTI volume",
        }
    }

    /// Formats that share one container, where the name rightly picks the member: the content of
    /// an MP4 and a MOV, or of a `WebM` and an MKV, differs only in a brand or doctype that
    /// tools set loosely, and txt/md/html are all UTF-8 text.
    fn family(self) -> Option<u8> {
        match self {
            Format::Mp4 | Format::Mov | Format::M4a => Some(0),
            Format::Webm | Format::Mkv | Format::Mka => Some(1),
            Format::Txt | Format::Md | Format::Html => Some(2),
            _ => None,
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a file is, by content and by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The format by content; within a family (MP4/MOV/M4A, WebM/MKV, txt/md/html) the name
    /// picks the member.
    pub format: Option<Format>,
    /// The extension, lower case, `nii.gz` whole.
    pub extension: Option<String>,
    /// The format the extension names, if any.
    pub named: Option<Format>,
}

/// Decides the format from the file name and the head of its content.
///
/// Content decides; the name only chooses within a family. In particular plain text and Markdown
/// cannot be told apart by content (both are UTF-8 text), so for text content the extension
/// decides between txt, md and html, and HTML sniffing applies only when the name does not say.
pub(crate) fn identify(path: &Path, head: &[u8]) -> Identity {
    let extension = extension(path);
    let named = extension.as_deref().and_then(Format::from_extension);
    let mut format = sniff_bytes(head);
    if let (Some(content), Some(name)) = (format, named) {
        if content.family().is_some() && content.family() == name.family() {
            format = Some(name);
        }
    }
    Identity {
        format,
        extension,
        named,
    }
}

/// The lower-case extension of a path, treating `.nii.gz` as one extension.
pub(crate) fn extension(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.len() > ".nii.gz".len() && name.ends_with(".nii.gz") {
        return Some("nii.gz".to_owned());
    }
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() {
        return None;
    }
    Some(ext.to_owned())
}

/// Recognises a format from the first bytes of a file, by content only.
///
/// Works on any head; 8 KiB is plenty for everything except an MP3 whose ID3 tag is longer (it
/// is still reported as MP3). Text is [`Format::Txt`] or, when it opens like an HTML document,
/// [`Format::Html`]; never [`Format::Md`], which content alone cannot tell from plain text (the
/// file name decides that, when there is one). A DICOM file is recognised only with its 128-byte
/// preamble and `DICM` marker: a bare data set has no signature to sniff.
pub fn sniff_bytes(head: &[u8]) -> Option<Format> {
    if head.len() >= 132 && &head[128..132] == b"DICM" {
        return Some(Format::Dcm);
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Format::Jpeg);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    if is_tiff(head) {
        return Some(Format::Tiff);
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return iso_brand(head);
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return match ebml_doctype(head) {
            Some(b"webm") => Some(Format::Webm),
            Some(b"matroska") => Some(Format::Mkv),
            _ => None,
        };
    }
    if let Some(format) = sniff_audio(head) {
        return Some(format);
    }
    if head.len() >= 12
        && (head.starts_with(b"RIFF") || head.starts_with(b"RF64") || head.starts_with(b"BW64"))
        && &head[8..12] == b"WAVE"
    {
        return Some(Format::Wav);
    }
    if head.len() >= 12
        && head.starts_with(b"FORM")
        && (&head[8..12] == b"AIFF" || &head[8..12] == b"AIFC")
    {
        return Some(Format::Aiff);
    }
    if head.starts_with(b"OggS") {
        // Theora video in Ogg is not a kind the hub takes; everything else in Ogg is audio.
        return if find(&head[..head.len().min(512)], b"\x80theora").is_some() {
            None
        } else {
            Some(Format::Ogg)
        };
    }
    if head.starts_with(b"%PDF-") {
        return Some(Format::Pdf);
    }
    if is_nrrd(head) {
        return Some(Format::Nrrd);
    }
    if nifti_version(head).is_some() {
        return Some(Format::Nii);
    }
    if head.starts_with(&[0x1F, 0x8B, 0x08]) {
        let mut inflated = Vec::with_capacity(NIFTI2_HEADER);
        // A short or damaged stream simply yields fewer bytes; the header check below decides.
        let _ = flate2::read::GzDecoder::new(head)
            .take(NIFTI2_HEADER as u64)
            .read_to_end(&mut inflated);
        return nifti_version(&inflated).map(|_| Format::Niigz);
    }
    if is_text(head) {
        return text_format(head);
    }
    // The weaker signatures come after text, so that text which happens to contain "%PDF-" or
    // to open with "I'm free" (a `free` atom, by the bytes) stays text.
    if is_quicktime_without_ftyp(head) {
        return Some(Format::Mov);
    }
    // Readers accept junk before the PDF header, within the first 1024 bytes.
    if find(&head[..head.len().min(1024)], b"%PDF-").is_some() {
        return Some(Format::Pdf);
    }
    None
}

/// The size of a `NIfTI`-1 header.
pub(crate) const NIFTI1_HEADER: usize = 348;
/// The size of a `NIfTI`-2 header.
pub(crate) const NIFTI2_HEADER: usize = 540;

/// 1 or 2 when `bytes` open with a single-file `NIfTI`-1/2 header (magic `n+1`/`n+2`).
pub(crate) fn nifti_version(bytes: &[u8]) -> Option<u8> {
    if bytes.len() >= NIFTI1_HEADER {
        let size = [348u32.to_le_bytes(), 348u32.to_be_bytes()];
        if size.iter().any(|s| bytes.starts_with(s)) && &bytes[344..348] == b"n+1\0" {
            return Some(1);
        }
    }
    if bytes.len() >= 12 && &bytes[4..12] == b"n+2\0\r\n\x1a\n" {
        let size = [540u32.to_le_bytes(), 540u32.to_be_bytes()];
        if size.iter().any(|s| bytes.starts_with(s)) {
            return Some(2);
        }
    }
    None
}

fn is_nrrd(head: &[u8]) -> bool {
    head.len() >= 9
        && head.starts_with(b"NRRD000")
        && head[7].is_ascii_digit()
        && (head[8] == b'\n' || head[8] == b'\r')
}

fn is_tiff(head: &[u8]) -> bool {
    let classic = head.starts_with(b"II*\0") || head.starts_with(b"MM\0*");
    let big = head.starts_with(b"II+\0") || head.starts_with(b"MM\0+");
    // Canon CR2 raw files are TIFF-shaped but no browser or editor shows them as TIFF.
    let cr2 = head.len() >= 10 && &head[8..10] == b"CR";
    (classic || big) && !cr2
}

/// MP4, MOV or M4A by the `ftyp` brands; `None` for ISO files that are not video or audio
/// (HEIC, AVIF, CR3, 3GP...).
fn iso_brand(head: &[u8]) -> Option<Format> {
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let end = size.min(head.len());
    let major = &head[8..12];
    let compatible: Vec<&[u8]> = head
        .get(16..end)
        .unwrap_or_default()
        .chunks_exact(4)
        .collect();
    let foreign = |b: &[u8]| {
        matches!(
            b,
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"avif" | b"avis" | b"crx " | b"jp2 "
        ) || b.starts_with(b"3g")
    };
    if foreign(major) {
        return None;
    }
    match major {
        b"qt  " => Some(Format::Mov),
        b"M4A " | b"M4B " | b"M4P " => Some(Format::M4a),
        _ if compatible.iter().any(|b| foreign(b))
            && !compatible
                .iter()
                .any(|b| b.starts_with(b"iso") || b.starts_with(b"mp4")) =>
        {
            None
        }
        _ => Some(Format::Mp4),
    }
}

/// Old `QuickTime` files start straight with a top-level atom instead of `ftyp`.
fn is_quicktime_without_ftyp(head: &[u8]) -> bool {
    if head.len() < 8 {
        return false;
    }
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    matches!(
        &head[4..8],
        b"moov" | b"mdat" | b"wide" | b"free" | b"skip" | b"pnot"
    ) && (size == 0 || size == 1 || size >= 8)
}

/// The `DocType` string of an EBML header, if the head holds it.
fn ebml_doctype(head: &[u8]) -> Option<&[u8]> {
    let (_, id_len) = ebml_id(head)?;
    let (size, size_len) = ebml_size(&head[id_len..])?;
    let start = id_len + size_len;
    let end = usize::try_from(size)
        .ok()
        .map_or(head.len(), |s| start.saturating_add(s).min(head.len()));
    let mut pos = start;
    while pos < end {
        let (id, id_len) = ebml_id(&head[pos..end])?;
        let (size, size_len) = ebml_size(&head[pos + id_len..end])?;
        let data = pos + id_len + size_len;
        let data_end = data.checked_add(usize::try_from(size).ok()?)?;
        if id == 0x4282 {
            let value = head.get(data..data_end)?;
            // Some muxers pad the string with NULs.
            let trimmed = value
                .iter()
                .position(|&b| b == 0)
                .map_or(value, |n| &value[..n]);
            return Some(trimmed);
        }
        pos = data_end;
    }
    None
}

/// An EBML element ID (marker bits kept) and its length in bytes.
pub(crate) fn ebml_id(bytes: &[u8]) -> Option<(u32, usize)> {
    let first = *bytes.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 4 || bytes.len() < len {
        return None;
    }
    let id = bytes[..len]
        .iter()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    Some((id, len))
}

/// An EBML size (marker bit removed; `u64::MAX` for "unknown") and its length in bytes.
pub(crate) fn ebml_size(bytes: &[u8]) -> Option<(u64, usize)> {
    let first = *bytes.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 || bytes.len() < len {
        return None;
    }
    let mask = if len == 8 { 0 } else { 0xFFu8 >> len };
    let mut value = u64::from(first & mask);
    for &b in &bytes[1..len] {
        value = (value << 8) | u64::from(b);
    }
    let all_ones = (1u64 << (7 * len)) - 1;
    Some((if value == all_ones { u64::MAX } else { value }, len))
}

/// MP3 (with or without `ID3v2`), FLAC and ADTS AAC.
fn sniff_audio(head: &[u8]) -> Option<Format> {
    if let Some(end) = id3v2_end(head) {
        // Look past the tag when the head holds it; a tag longer than the head (cover art) is
        // almost always in front of MP3, and the caller may look again at the tag's end.
        return match usize::try_from(end)
            .ok()
            .and_then(|end| head.get(end..))
            .filter(|rest| rest.len() >= 4)
        {
            Some(rest) => match sniff_audio(rest) {
                Some(format) => Some(format),
                None => Some(Format::Mp3),
            },
            None => Some(Format::Mp3),
        };
    }
    if head.starts_with(b"fLaC") {
        return Some(Format::Flac);
    }
    if let Some(len) = mpeg_frame_len(head) {
        // A second header right after the first makes the match sure; with free-format frames
        // (length unknown) or a head too short to hold the next frame, one header must do.
        return match head.get(len..len + 4) {
            Some(next) if len > 0 && mpeg_frame_len(next).is_none() => None,
            _ => Some(Format::Mp3),
        };
    }
    if let Some(len) = adts_frame_len(head) {
        return match head.get(len..).filter(|next| next.len() >= 7) {
            Some(next) => adts_frame_len(next).map(|_| Format::Aac),
            None => Some(Format::Aac),
        };
    }
    // Stream captures often start with a run of zero bytes before the first frame; players,
    // ffprobe and mediainfo scan past it. Two frames in a row after it make the match sure.
    let padding = head.iter().take_while(|b| **b == 0).count();
    if padding > 0 {
        let rest = &head[padding..];
        if let Some(len) = mpeg_frame_len(rest).filter(|len| *len > 0) {
            if rest.get(len..len + 4).and_then(mpeg_frame_len).is_some() {
                return Some(Format::Mp3);
            }
        }
    }
    None
}

/// Where an `ID3v2` tag at the start of `head` ends (its total length including header and
/// footer), or `None` when there is no tag.
pub(crate) fn id3v2_end(head: &[u8]) -> Option<u64> {
    if head.len() < 10 || !head.starts_with(b"ID3") || head[3] == 0xFF || head[4] == 0xFF {
        return None;
    }
    let size_bytes = &head[6..10];
    if size_bytes.iter().any(|b| b & 0x80 != 0) {
        return None;
    }
    let size = size_bytes
        .iter()
        .fold(0u64, |acc, &b| (acc << 7) | u64::from(b));
    let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
    Some(10 + size + footer)
}

/// The length of the MPEG audio layer III frame whose header starts `bytes` (0 for free
/// format), or `None` if `bytes` do not start with a valid layer III header.
fn mpeg_frame_len(bytes: &[u8]) -> Option<usize> {
    const V1: [usize; 15] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    const V2: [usize; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] & 0xE0 != 0xE0 {
        return None;
    }
    let version = (bytes[1] >> 3) & 3; // 0 = 2.5, 1 reserved, 2 = MPEG-2, 3 = MPEG-1
    let layer = (bytes[1] >> 1) & 3; // 1 = layer III
    let bitrate_index = usize::from(bytes[2] >> 4);
    let rate_index = usize::from((bytes[2] >> 2) & 3);
    let padding = usize::from((bytes[2] >> 1) & 1);
    if version == 1 || layer != 1 || bitrate_index == 15 || rate_index == 3 || bytes[3] & 3 == 2 {
        return None;
    }
    let rates = [44_100usize, 48_000, 32_000];
    let (kbps, rate, factor) = match version {
        3 => (V1[bitrate_index], rates[rate_index], 144),
        2 => (V2[bitrate_index], rates[rate_index] / 2, 72),
        _ => (V2[bitrate_index], rates[rate_index] / 4, 72),
    };
    if kbps == 0 {
        return Some(0);
    }
    Some(factor * kbps * 1000 / rate + padding)
}

/// The length of the ADTS frame whose header starts `bytes`.
fn adts_frame_len(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < 7 || bytes[0] != 0xFF || bytes[1] & 0xF6 != 0xF0 {
        return None;
    }
    let rate_index = (bytes[2] >> 2) & 0xF;
    let len = (usize::from(bytes[3] & 3) << 11)
        | (usize::from(bytes[4]) << 3)
        | usize::from(bytes[5] >> 5);
    (rate_index < 13 && len >= 7).then_some(len)
}

/// Plain text or HTML, if `head` is UTF-8 text.
fn text_format(head: &[u8]) -> Option<Format> {
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if !is_text(head) || is_svg(body) {
        return None;
    }
    if is_html(body) {
        return Some(Format::Html);
    }
    Some(Format::Txt)
}

/// Whether `head` (after an optional UTF-8 byte order mark) is UTF-8 text.
fn is_text(head: &[u8]) -> bool {
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    !body.is_empty() && looks_like_utf8_text(body)
}

/// UTF-8 without NULs or control characters other than tab, newlines, form feed and escape. A
/// multi-byte character cut by the end of the head is fine: the head may end anywhere.
fn looks_like_utf8_text(bytes: &[u8]) -> bool {
    let valid = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() => {
            // Only an incomplete sequence at the very end: keep what is valid.
            match std::str::from_utf8(&bytes[..e.valid_up_to()]) {
                Ok(text) => text,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    !valid
        .bytes()
        .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B))
}

/// HTML by its opening, after whitespace: a doctype, a comment or one of the tags the WHATWG
/// MIME sniffing algorithm looks for, followed by a space or `>`. XHTML opens with `<?xml`.
fn is_html(text: &[u8]) -> bool {
    const TAGS: [&[u8]; 17] = [
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<script",
        b"<iframe",
        b"<h1",
        b"<div",
        b"<font",
        b"<table",
        b"<a",
        b"<style",
        b"<title",
        b"<b",
        b"<body",
        b"<br",
        b"<p",
        b"<!--",
    ];
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let text = &text[start..];
    let opens = TAGS.iter().any(|tag| {
        text.len() > tag.len()
            && text[..tag.len()].eq_ignore_ascii_case(tag)
            && (tag == b"<!--" || matches!(text[tag.len()], b' ' | b'>' | b'\t' | b'\n' | b'\r'))
    });
    if opens {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    lower.starts_with(b"<?xml")
        && (find(&lower, b"<!doctype html").is_some() || find(&lower, b"<html").is_some())
}

fn is_svg(text: &[u8]) -> bool {
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let lower = text[start..].to_ascii_lowercase();
    lower.starts_with(b"<svg") || (lower.starts_with(b"<?xml") && find(&lower, b"<svg").is_some())
}

/// The first position of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What unrecognised or unsupported content looks like, for messages ("a ZIP archive").
pub(crate) fn describe_unsupported(head: &[u8]) -> Option<String> {
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return Some("UTF-16 text".to_owned());
    }
    if head.len() >= 348 && &head[344..348] == b"ni1\0" {
        return Some("the header half of a NIfTI .hdr/.img pair".to_owned());
    }
    if looks_like_bare_dicom(head) {
        return Some("a DICOM data set without the 128-byte preamble and DICM marker".to_owned());
    }
    if head.starts_with(b"OggS") {
        return Some("an Ogg Theora video".to_owned());
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some("an EBML file that is neither WebM nor Matroska".to_owned());
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = String::from_utf8_lossy(&head[8..12]).trim().to_owned();
        return Some(match brand.as_str() {
            "heic" | "heix" | "mif1" | "msf1" => "a HEIC/HEIF image".to_owned(),
            "avif" | "avis" => "an AVIF image".to_owned(),
            "crx" => "a Canon CR3 raw photo".to_owned(),
            b if b.starts_with("3g") => "a 3GP video".to_owned(),
            b => format!("an ISO media file of brand '{b}'"),
        });
    }
    if head.len() >= 10 && is_tiff_shaped(head) && &head[8..10] == b"CR" {
        return Some("a Canon CR2 raw photo".to_owned());
    }
    if head.starts_with(&[0x1F, 0x8B]) {
        return Some("a gzip archive (not a NIfTI volume)".to_owned());
    }
    if text_format(head).is_none() && is_svg(head) {
        return Some("an SVG image".to_owned());
    }
    let found = infer::get(head)?;
    let ext = found.extension();
    let name = match ext {
        "zip" => "a ZIP archive",
        "gz" => "a gzip archive",
        "tar" => "a tar archive",
        "rar" => "a RAR archive",
        "7z" => "a 7-Zip archive",
        "bz2" => "a bzip2 archive",
        "xz" => "an xz archive",
        "zst" => "a Zstandard archive",
        "gif" => "a GIF image",
        "webp" => "a WebP image",
        "bmp" => "a BMP image",
        "heif" => "a HEIC/HEIF image",
        "avif" => "an AVIF image",
        "jxl" => "a JPEG XL image",
        "jp2" => "a JPEG 2000 image",
        "psd" => "a Photoshop document",
        "ico" => "an icon file",
        "avi" => "an AVI video",
        "wmv" => "a Windows Media video",
        "mpg" => "an MPEG program stream video",
        "flv" => "a Flash video",
        "midi" => "a MIDI file",
        "amr" => "AMR audio",
        "ape" => "Monkey's Audio",
        "doc" => "a Word document",
        "docx" => "a Word document (docx)",
        "xls" => "an Excel workbook",
        "xlsx" => "an Excel workbook (xlsx)",
        "ppt" => "a PowerPoint presentation",
        "pptx" => "a PowerPoint presentation (pptx)",
        "odt" | "ods" | "odp" => "an OpenDocument file",
        "epub" => "an EPUB book",
        "rtf" => "an RTF document",
        "sqlite" => "an SQLite database",
        "exe" | "dll" => "a Windows program",
        "elf" => "a Linux program",
        "mach" => "a macOS program",
        "dcm" => "a DICOM file",
        _ => return Some(format!("a .{ext} file ({})", found.mime_type())),
    };
    Some(name.to_owned())
}

fn is_tiff_shaped(head: &[u8]) -> bool {
    head.starts_with(b"II*\0") || head.starts_with(b"MM\0*")
}

/// A DICOM data set written without the Part 10 preamble usually opens with an explicit-VR
/// element of group 0x0002 or 0x0008: tag bytes `02 00`/`08 00`, then two upper-case letters.
fn looks_like_bare_dicom(head: &[u8]) -> bool {
    head.len() >= 8
        && (head.starts_with(&[0x02, 0x00]) || head.starts_with(&[0x08, 0x00]))
        && head[3] == 0x00
        && head[4].is_ascii_uppercase()
        && head[5].is_ascii_uppercase()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use std::io::Write;

    fn png() -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        v.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 3, 8, 2, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    fn nifti1() -> Vec<u8> {
        let mut h = vec![0u8; 352];
        h[..4].copy_from_slice(&348u32.to_le_bytes());
        h[344..348].copy_from_slice(b"n+1\0");
        h
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn mp3_frame() -> Vec<u8> {
        // MPEG-1 layer III, 128 kb/s, 44.1 kHz, no padding: 417 bytes.
        let mut f = vec![0u8; 417];
        f[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        f
    }

    #[test]
    fn images() {
        assert_eq!(sniff_bytes(&png()), Some(Format::Png));
        assert_eq!(
            sniff_bytes(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F']),
            Some(Format::Jpeg)
        );
        assert_eq!(sniff_bytes(b"II*\0\x08\0\0\0rest"), Some(Format::Tiff));
        assert_eq!(sniff_bytes(b"MM\0*\0\0\0\x08rest"), Some(Format::Tiff));
        assert_eq!(sniff_bytes(b"II*\0\x10\0\0\0CR\x02\0"), None);
        assert_eq!(sniff_bytes(b"GIF89a\x01\0\x01\0"), None);
    }

    #[test]
    fn iso_brands() {
        let ftyp = |brand: &[u8; 4], compat: &[u8]| {
            let mut v = ((16 + compat.len()) as u32).to_be_bytes().to_vec();
            v.extend_from_slice(b"ftyp");
            v.extend_from_slice(brand);
            v.extend_from_slice(&[0, 0, 2, 0]);
            v.extend_from_slice(compat);
            v
        };
        assert_eq!(
            sniff_bytes(&ftyp(b"isom", b"isomiso2avc1mp41")),
            Some(Format::Mp4)
        );
        assert_eq!(sniff_bytes(&ftyp(b"qt  ", b"qt  ")), Some(Format::Mov));
        assert_eq!(
            sniff_bytes(&ftyp(b"M4A ", b"M4A mp42isom")),
            Some(Format::M4a)
        );
        assert_eq!(sniff_bytes(&ftyp(b"heic", b"mif1heic")), None);
        assert_eq!(sniff_bytes(&ftyp(b"3gp4", b"3gp4")), None);
        assert_eq!(
            describe_unsupported(&ftyp(b"heic", b"mif1heic")).as_deref(),
            Some("a HEIC/HEIF image")
        );
        assert_eq!(
            sniff_bytes(b"\0\0\0\x08wide\0\0\0\x10mdat"),
            Some(Format::Mov)
        );
    }

    #[test]
    fn matroska_doctypes() {
        let ebml = |doctype: &[u8]| {
            let mut body = vec![
                0x42,
                0x86,
                0x81,
                0x01,
                0x42,
                0x82,
                0x80 | doctype.len() as u8,
            ];
            body.extend_from_slice(doctype);
            let mut v = vec![0x1A, 0x45, 0xDF, 0xA3, 0x80 | body.len() as u8];
            v.extend_from_slice(&body);
            v.extend_from_slice(&[
                0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            ]);
            v
        };
        assert_eq!(sniff_bytes(&ebml(b"webm")), Some(Format::Webm));
        assert_eq!(sniff_bytes(&ebml(b"matroska")), Some(Format::Mkv));
        assert_eq!(sniff_bytes(&ebml(b"other")), None);
        assert_eq!(
            ebml_size(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
            Some((u64::MAX, 8))
        );
        assert_eq!(ebml_size(&[0x40, 0x02]), Some((2, 2)));
    }

    #[test]
    fn audio() {
        let mut two = mp3_frame();
        two.extend(mp3_frame());
        assert_eq!(sniff_bytes(&two), Some(Format::Mp3));
        let mut bad_second = mp3_frame();
        bad_second.extend_from_slice(b"not a frame");
        assert_eq!(sniff_bytes(&bad_second), None);
        // Zero padding before the first frame (a stream capture): two frames after it are MP3;
        // one header alone after zeros is not enough.
        let mut padded = vec![0u8; 3000];
        padded.extend(mp3_frame());
        padded.extend(mp3_frame());
        assert_eq!(sniff_bytes(&padded), Some(Format::Mp3));
        let mut lone = vec![0u8; 3000];
        lone.extend(&mp3_frame()[..8]);
        assert_eq!(sniff_bytes(&lone), None);
        let mut id3 = b"ID3\x04\0\0\0\0\0\x05hello".to_vec();
        id3.extend(mp3_frame());
        assert_eq!(id3v2_end(&id3), Some(15));
        assert_eq!(sniff_bytes(&id3), Some(Format::Mp3));
        let mut id3_flac = b"ID3\x04\0\0\0\0\0\x00".to_vec();
        id3_flac.extend_from_slice(b"fLaC\0\0\0\x22");
        assert_eq!(sniff_bytes(&id3_flac), Some(Format::Flac));
        assert_eq!(
            sniff_bytes(b"ID3\x04\0\0\0\x7f\x7f\x7fcover art follows"),
            Some(Format::Mp3)
        );
        assert_eq!(sniff_bytes(b"RIFF\x24\0\0\0WAVEfmt "), Some(Format::Wav));
        assert_eq!(sniff_bytes(b"RIFF\x24\0\0\0AVI LIST"), None);
        assert_eq!(
            describe_unsupported(b"RIFF\x24\0\0\0AVI LIST").as_deref(),
            Some("an AVI video")
        );
        assert_eq!(
            sniff_bytes(
                b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\x02\x03\x04\0\0\0\0\0\0\0\0\x01\x1e\x01vorbis"
            ),
            Some(Format::Ogg)
        );
        assert_eq!(
            sniff_bytes(
                b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\x02\x03\x04\0\0\0\0\0\0\0\0\x01\x2a\x80theora"
            ),
            None
        );
        assert_eq!(sniff_bytes(b"fLaC\0\0\0\x22"), Some(Format::Flac));
        assert_eq!(sniff_bytes(b"FORM\0\0\0\x10AIFFCOMM"), Some(Format::Aiff));
        // Two ADTS frames of 9 bytes each.
        let adts = [0xFF, 0xF1, 0x50, 0x80, 0x01, 0x3F, 0xFC, 0, 0];
        assert_eq!(sniff_bytes(&[adts, adts].concat()), Some(Format::Aac));
    }

    #[test]
    fn documents_and_volumes() {
        assert_eq!(
            sniff_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"),
            Some(Format::Pdf)
        );
        assert_eq!(
            sniff_bytes(b"NRRD0004\n# comment\ntype: float\n"),
            Some(Format::Nrrd)
        );
        let mut dicom = vec![0u8; 128];
        dicom.extend_from_slice(b"DICM\x02\0\0\0UL\x04\0");
        assert_eq!(sniff_bytes(&dicom), Some(Format::Dcm));
        assert_eq!(sniff_bytes(&dicom[128..]), None);
        assert!(describe_unsupported(b"\x08\0\x05\0CS\x0a\0ISO_IR 100")
            .is_some_and(|d| d.contains("without the 128-byte preamble")));
        assert_eq!(sniff_bytes(&nifti1()), Some(Format::Nii));
        let mut be = nifti1();
        be[..4].copy_from_slice(&348u32.to_be_bytes());
        assert_eq!(sniff_bytes(&be), Some(Format::Nii));
        let mut n2 = vec![0u8; 544];
        n2[..4].copy_from_slice(&540u32.to_le_bytes());
        n2[4..12].copy_from_slice(b"n+2\0\r\n\x1a\n");
        assert_eq!(sniff_bytes(&n2), Some(Format::Nii));
        assert_eq!(sniff_bytes(&gzip(&nifti1())), Some(Format::Niigz));
        assert_eq!(sniff_bytes(&gzip(b"just some text, compressed")), None);
        assert_eq!(
            describe_unsupported(&gzip(b"x")).as_deref(),
            Some("a gzip archive (not a NIfTI volume)")
        );
        let mut pair = nifti1();
        pair[344..348].copy_from_slice(b"ni1\0");
        assert_eq!(sniff_bytes(&pair), None);
    }

    #[test]
    fn text_and_html() {
        assert_eq!(
            sniff_bytes(b"Hello, world.\nSecond line\n"),
            Some(Format::Txt)
        );
        assert_eq!(
            sniff_bytes("# Title\n\nSome *markdown* — with UTF-8.\n".as_bytes()),
            Some(Format::Txt)
        );
        assert_eq!(
            sniff_bytes(b"\xEF\xBB\xBF  <!DOCTYPE html>\n<html>"),
            Some(Format::Html)
        );
        assert_eq!(sniff_bytes(b"<html lang=en>"), Some(Format::Html));
        assert_eq!(sniff_bytes(b"<p>hello</p>"), Some(Format::Html));
        assert_eq!(
            sniff_bytes(b"<?xml version=\"1.0\"?>\n<!DOCTYPE html PUBLIC>"),
            Some(Format::Html)
        );
        assert_eq!(sniff_bytes(b"<pre>not a listed tag"), Some(Format::Txt));
        assert_eq!(
            sniff_bytes(b"I'm free to mention %PDF-1.4 in text"),
            Some(Format::Txt)
        );
        assert_eq!(sniff_bytes(b"junk\0\x01\n%PDF-1.4\n"), Some(Format::Pdf));
        assert_eq!(
            sniff_bytes(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            None
        );
        assert_eq!(
            describe_unsupported(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>").as_deref(),
            Some("an SVG image")
        );
        assert_eq!(sniff_bytes(b"caf\xe9 latin-1"), None);
        assert_eq!(sniff_bytes(b"binary\0data"), None);
        // A head may end in the middle of a character.
        assert_eq!(sniff_bytes(&"ab€".as_bytes()[..4]), Some(Format::Txt));
        assert_eq!(
            describe_unsupported(b"\xFF\xFEh\0i\0").as_deref(),
            Some("UTF-16 text")
        );
    }

    #[test]
    fn unsupported_descriptions() {
        assert_eq!(
            describe_unsupported(b"PK\x03\x04\x14\0\0\0\x08\0").as_deref(),
            Some("a ZIP archive")
        );
        assert_eq!(
            describe_unsupported(b"GIF89a\x01\0\x01\0\0\0\0").as_deref(),
            Some("a GIF image")
        );
        assert_eq!(describe_unsupported(b"\x00\x01\x02\x03"), None);
    }

    #[test]
    fn extensions_and_identity() {
        assert_eq!(
            extension(Path::new("a/b/Volume.NII.GZ")).as_deref(),
            Some("nii.gz")
        );
        assert_eq!(extension(Path::new("x.tar.gz")).as_deref(), Some("gz"));
        assert_eq!(extension(Path::new(".nii.gz")).as_deref(), Some("gz"));
        assert_eq!(extension(Path::new("README")), None);
        assert_eq!(extension(Path::new(".hidden")), None);
        assert_eq!(Format::from_extension("JPG"), Some(Format::Jpeg));
        assert_eq!(Format::from_extension("nii.gz"), Some(Format::Niigz));
        assert_eq!(Format::from_extension("zip"), None);
        for f in ALL {
            assert_eq!(
                f.extensions()
                    .iter()
                    .filter_map(|e| Format::from_extension(e))
                    .collect::<Vec<_>>(),
                vec![f; f.extensions().len()]
            );
            assert_eq!(
                serde_json::to_value(f).unwrap(),
                serde_json::Value::from(f.as_str())
            );
        }

        let md = identify(Path::new("readme.md"), b"<div align=center>\n# Title\n");
        assert_eq!((md.format, md.named), (Some(Format::Md), Some(Format::Md)));
        let html = identify(Path::new("page.html"), b"just words\n");
        assert_eq!(html.format, Some(Format::Html));
        let unnamed = identify(Path::new("notes"), b"just words\n");
        assert_eq!(
            (unnamed.format, unnamed.extension, unnamed.named),
            (Some(Format::Txt), None, None)
        );
        let png_as_mp3 = identify(Path::new("song.mp3"), &png());
        assert_eq!(
            (png_as_mp3.format, png_as_mp3.named),
            (Some(Format::Png), Some(Format::Mp3))
        );
        let nii_gz = identify(Path::new("brain.nii.gz"), &gzip(&nifti1()));
        assert_eq!(
            (nii_gz.format, nii_gz.named),
            (Some(Format::Niigz), Some(Format::Niigz))
        );
        let gz_as_nii = identify(Path::new("brain.nii"), &gzip(&nifti1()));
        assert_eq!(
            (gz_as_nii.format, gz_as_nii.named),
            (Some(Format::Niigz), Some(Format::Nii))
        );
    }

    #[test]
    fn eight_kib_head_of_a_larger_file() {
        let mut text = "word ".repeat(5000).into_bytes();
        text.truncate(8192);
        assert_eq!(sniff_bytes(&text), Some(Format::Txt));
        let mut big = png();
        big.resize(8192, 0xAB);
        assert_eq!(sniff_bytes(&big), Some(Format::Png));
    }
}
