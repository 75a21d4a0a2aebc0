//! One file in, one [`Report`] out. [`probe_with`] reads a head, decides the format by content,
//! checks the name against it, then runs the checks of that kind (truncation, image size, frame
//! rate, audio bitrate, UTF-8, volume headers). It reads bounded amounts: the head, the tail, and
//! the few structures it walks with seeks, so a 1 GiB video costs a handful of small reads.

use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use super::audio::Input;
use super::sniff::{self, Format, Identity};
use super::{
    audio, medical, video, AudioPolicy, ImageInfo, Kind, ProbeConfig, Problem, ProblemCode, Report,
    Severity, Verdict,
};

/// How much of a file sniffing looks at.
pub(super) const HEAD_LEN: usize = 8 * 1024;
/// How much of a text file is checked for UTF-8. The hub's guidance for text is about 1 MB, so
/// 16 MiB covers every reasonable file while keeping the probe of a huge one bounded.
const TEXT_CHECK_LEN: u64 = 16 << 20;
/// The cache window of [`Source`] when reading on.
const WINDOW: usize = 64 * 1024;
/// The cache window of [`Source`] after a jump.
const JUMP_WINDOW: usize = 4 * 1024;

/// Probes a file with the default settings (variable-bitrate audio is rejected).
pub fn probe(path: &Path) -> Report {
    probe_with(path, &ProbeConfig::default())
}

/// Probes a file: what it is by content, whether its name agrees, and whether it is fit for
/// annotation. Never fails and never panics: everything wrong is a [`Problem`] in the report.
pub fn probe_with(path: &Path, config: &ProbeConfig) -> Report {
    let mut report = empty_report(path);
    if let Err(e) = examine(path, config, &mut report) {
        report.problems.push(Problem::error(
            ProblemCode::Unreadable,
            format!("cannot read the file: {e}"),
        ));
    }
    finish(report)
}

/// [`probe_with`] for content already in memory (a received upload, a buffer): the same checks,
/// with `name` standing for the file (its extension is checked against the content, as a file
/// name's would be).
pub fn probe_bytes(name: &str, bytes: &[u8], config: &ProbeConfig) -> Report {
    let path = Path::new(name);
    let mut report = empty_report(path);
    let input = Cursor::new(Arc::<[u8]>::from(bytes));
    if let Err(e) = examine_input(input, bytes.len() as u64, path, config, &mut report) {
        report.problems.push(Problem::error(
            ProblemCode::Unreadable,
            format!("cannot read the content: {e}"),
        ));
    }
    finish(report)
}

fn empty_report(path: &Path) -> Report {
    Report {
        path: path.to_path_buf(),
        size: 0,
        kind: None,
        format: None,
        verdict: Verdict::Ok,
        problems: Vec::new(),
        image: None,
        audio: None,
        video: None,
        convert_to_wav: false,
    }
}

/// Sorts the problems worst first and sets the verdict from them.
fn finish(mut report: Report) -> Report {
    report
        .problems
        .sort_by_key(|p| std::cmp::Reverse(p.severity));
    report.verdict = match report.problems.iter().map(|p| p.severity).max() {
        Some(Severity::Error) => Verdict::Reject,
        Some(Severity::Warning) => Verdict::Warn,
        None => Verdict::Ok,
    };
    report
}

fn examine(path: &Path, config: &ProbeConfig, report: &mut Report) -> io::Result<()> {
    let file = fs_err::File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        report.problems.push(Problem::error(
            ProblemCode::Unreadable,
            format!(
                "cannot read {}: it is a directory, not a file",
                path.display()
            ),
        ));
        return Ok(());
    }
    let (file, _) = file.into_parts();
    examine_input(file, meta.len(), path, config, report)
}

/// [`examine`] of `len` bytes of `input`, which `path` names.
fn examine_input<R: Input>(
    input: R,
    len: u64,
    path: &Path,
    config: &ProbeConfig,
    report: &mut Report,
) -> io::Result<()> {
    report.size = len;
    if report.size == 0 {
        report.problems.push(Problem::error(
            ProblemCode::Empty,
            "the file is empty (0 bytes)",
        ));
        return Ok(());
    }
    let mut src = Source::new(input, report.size);
    let head = src.bytes(0, HEAD_LEN)?.to_vec();
    let mut identity = sniff::identify(path, &head);
    refine_after_id3(&mut src, &head, &mut identity)?;

    let Some(format) = identity.format else {
        unrecognised(&mut src, &head, &identity, report)?;
        return Ok(());
    };
    report.format = Some(format);
    report.kind = Some(format.kind());
    check_name(&identity, format, report);
    match format.kind() {
        Kind::Image => check_image(&mut src, path, &head, format, report)?,
        Kind::Video => {
            let found = video::probe(&mut src, format)?;
            report.video = found.info;
            report.problems.extend(found.problems);
            if found.audio_only {
                // A browser recording or an .m4a named .mp4 is audio by content; the hub takes
                // audio only as MP3, WAV or Ogg, so it is judged as audio in a foreign container.
                report.kind = Some(Kind::Audio);
                let container = match format {
                    Format::Mov => "a QuickTime",
                    Format::Webm => "a WebM",
                    Format::Mkv | Format::Mka => "a Matroska",
                    _ => "an MP4",
                };
                let what = format!("audio with no video track, in {container} container");
                check_audio(&src, path, &what, false, config, report);
            }
        }
        Kind::Audio => {
            let accepted = format.accepted();
            check_audio(&src, path, format.describe(), accepted, config, report);
        }
        Kind::Pdf => check_pdf(&mut src, report)?,
        Kind::Text | Kind::Markdown | Kind::Html => check_text(&mut src, format, report)?,
        Kind::Dicom => report.problems.extend(medical::check_dicom(&mut src)?),
        Kind::Nrrd => report.problems.extend(medical::check_nrrd(&mut src)?),
        Kind::Nifti => report.problems.extend(medical::check_nifti(
            &mut src,
            &head,
            format == Format::Niigz,
        )?),
    }
    Ok(())
}

/// An `ID3v2` tag longer than the head (cover art) hides what follows it: look there.
fn refine_after_id3<R: Read + Seek>(
    src: &mut Source<R>,
    head: &[u8],
    identity: &mut Identity,
) -> io::Result<()> {
    if identity.format != Some(Format::Mp3) {
        return Ok(());
    }
    let Some(end) = sniff::id3v2_end(head) else {
        return Ok(());
    };
    if end < head.len() as u64 || end >= src.len() {
        return Ok(());
    }
    let after = src.bytes(end, 4096)?.to_vec();
    if let Some(format @ (Format::Flac | Format::Aac)) = sniff::sniff_bytes(&after) {
        identity.format = Some(format);
    }
    Ok(())
}

/// The hub's accepted types, for messages about anything else.
const ACCEPTED: &str =
    "images (jpg, png, tiff), video (mp4, mov, webm, mkv), audio (mp3, wav, ogg), pdf, txt, md, \
                        html, dcm, nrrd, nii and nii.gz";

fn file_name(report: &Report) -> String {
    report.path.file_name().map_or_else(
        || report.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Content the probe does not recognise: not UTF-8 when the name says text, else unsupported.
fn unrecognised<R: Read + Seek>(
    src: &mut Source<R>,
    head: &[u8],
    identity: &Identity,
    report: &mut Report,
) -> io::Result<()> {
    let looks_like = sniff::describe_unsupported(head);
    let named_text = matches!(
        identity.named,
        Some(Format::Txt | Format::Md | Format::Html)
    );
    if named_text && looks_like.as_deref().is_none_or(|l| l == "UTF-16 text") {
        let named = identity.named.map_or("text", Format::describe);
        if looks_like.is_some() {
            report.problems.push(Problem::error(
                ProblemCode::NotUtf8,
                format!("the file is UTF-16 text, but {named} must be UTF-8; re-save it as UTF-8"),
            ));
        } else if let Some(offset) = first_invalid_utf8(src)? {
            report.problems.push(not_utf8(offset, named));
        } else {
            let offset = head
                .iter()
                .position(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B));
            let at = offset.map_or_else(String::new, |o| {
                format!(" (control byte 0x{:02x} at byte {o})", head[o])
            });
            report.problems.push(Problem::error(
                ProblemCode::UnsupportedType,
                format!("the file holds binary data{at}, not {named}"),
            ));
        }
        return Ok(());
    }
    let name = file_name(report);
    let message = match looks_like {
        Some(what) => {
            format!("{name} is {what}, which the hub does not accept; it takes {ACCEPTED}")
        }
        None => format!("the content of {name} is not a recognised type; the hub takes {ACCEPTED}"),
    };
    report
        .problems
        .push(Problem::error(ProblemCode::UnsupportedType, message));
    Ok(())
}

fn not_utf8(offset: u64, named: &str) -> Problem {
    Problem::error(
        ProblemCode::NotUtf8,
        format!("not valid UTF-8 at byte offset {offset}; {named} must be UTF-8: re-save it with UTF-8 encoding"),
    )
}

/// The name must agree with the content: another format's extension is an error (the hub and
/// browsers would treat the file as what its name says); no or an unknown extension is a warning.
fn check_name(identity: &Identity, format: Format, report: &mut Report) {
    let name = file_name(report);
    let suggested = format.extensions()[0];
    match (identity.named, identity.extension.as_deref()) {
        (Some(named), _) if named == format => {}
        (Some(named), ext) => report.problems.push(Problem::error(
            ProblemCode::ExtensionMismatch,
            format!(
                "{name} is named .{} ({}) but it really is {}; rename it to .{suggested}",
                ext.unwrap_or_default(),
                named.describe(),
                format.describe()
            ),
        )),
        (None, Some(ext)) => report.problems.push(Problem::warning(
            ProblemCode::ExtensionMismatch,
            format!("{name} has the unknown extension .{ext}; by content it is {}: rename it to .{suggested}", format.describe()),
        )),
        (None, None) => report.problems.push(Problem::warning(
            ProblemCode::ExtensionMismatch,
            format!("{name} has no extension; by content it is {}: name it .{suggested}", format.describe()),
        )),
    }
}

fn check_image<R: Input>(
    src: &mut Source<R>,
    path: &Path,
    head: &[u8],
    format: Format,
    report: &mut Report,
) -> io::Result<()> {
    let truncated = image_truncation(src, format)?;
    if let Some(message) = &truncated {
        report
            .problems
            .push(Problem::error(ProblemCode::Truncated, message.clone()));
    }
    let truncated = truncated.is_some();
    // The head holds the size of nearly every image; a TIFF may keep it further on.
    let size = imagesize::blob_size(head).or_else(|_| {
        let mut whole = src.duplicate()?;
        whole.seek(SeekFrom::Start(0))?;
        imagesize::reader_size(BufReader::new(whole))
    });
    match size {
        Ok(size) => {
            report.image = Some(ImageInfo {
                width: size.width as u64,
                height: size.height as u64,
            });
        }
        Err(imagesize::ImageError::IoError(e)) if e.kind() != io::ErrorKind::UnexpectedEof => {
            return Err(io::Error::new(
                e.kind(),
                format!("failed to read `{}`: {e}", path.display()),
            ));
        }
        Err(_) if truncated => {}
        Err(_) if format == Format::Tiff => report.problems.push(Problem::warning(
            ProblemCode::Corrupt,
            "could not read the TIFF's width and height; the hub will not get them",
        )),
        Err(_) => report.problems.push(Problem::error(
            ProblemCode::Corrupt,
            format!(
                "could not read the width and height of {}: its header is damaged",
                format.describe()
            ),
        )),
    }
    Ok(())
}

/// Whether an image ends where its format says it must: PNG with `IEND`, JPEG with the
/// end-of-image marker (both looked for in the last 4 KiB, as some writers pad), TIFF with its
/// first directory and image data inside the file.
fn image_truncation<R: Read + Seek>(
    src: &mut Source<R>,
    format: Format,
) -> io::Result<Option<String>> {
    Ok(match format {
        Format::Png => sniff::find(src.tail(4096)?, b"IEND")
            .is_none()
            .then(|| "the PNG has no IEND chunk at its end: it was cut short; export or download it again".to_owned()),
        Format::Jpeg => sniff::find(src.tail(4096)?, &[0xFF, 0xD9])
            .is_none()
            .then(|| "the JPEG has no end-of-image marker: it was cut short; export or download it again".to_owned()),
        _ => tiff_truncation(src)?,
    })
}

/// A classic TIFF is whole when its first directory and the strips or tiles of the first image
/// lie inside the file. `BigTIFF` is not walked.
fn tiff_truncation<R: Read + Seek>(src: &mut Source<R>) -> io::Result<Option<String>> {
    let size = src.len();
    let Some(h) = src.exact(0, 8)?.map(<[u8]>::to_vec) else {
        return Ok(Some(
            "the TIFF is shorter than its 8-byte header".to_owned(),
        ));
    };
    let le = h[0] == b'I';
    let u16_at = |b: &[u8], at: usize| {
        take::<2>(b, at).map(|a| {
            if le {
                u16::from_le_bytes(a)
            } else {
                u16::from_be_bytes(a)
            }
        })
    };
    let u32_at = |b: &[u8], at: usize| {
        take::<4>(b, at).map(|a| {
            if le {
                u32::from_le_bytes(a)
            } else {
                u32::from_be_bytes(a)
            }
        })
    };
    if u16_at(&h, 2) != Some(42) {
        return Ok(None);
    }
    let ifd = u64::from(u32_at(&h, 4).unwrap_or(0));
    let Some(count) = src.exact(ifd, 2)?.and_then(|b| u16_at(b, 0)) else {
        return Ok(Some(format!("the TIFF's first directory (at byte {ifd}) lies past the end of the file ({size} bytes): it was cut short")));
    };
    let Some(entries) = src
        .exact(ifd + 2, usize::from(count) * 12)?
        .map(<[u8]>::to_vec)
    else {
        return Ok(Some(format!("the TIFF's first directory (at byte {ifd}) runs past the end of the file ({size} bytes): it was cut short")));
    };
    let mut offsets = Vec::new();
    let mut counts = Vec::new();
    for entry in entries.chunks_exact(12) {
        let (Some(tag), Some(kind), Some(n)) =
            (u16_at(entry, 0), u16_at(entry, 2), u32_at(entry, 4))
        else {
            continue;
        };
        let target = match tag {
            273 | 324 => &mut offsets,
            279 | 325 => &mut counts,
            _ => continue,
        };
        let width = match kind {
            3 => 2usize,
            4 => 4,
            _ => continue,
        };
        let n = n.min(1 << 16) as usize;
        let bytes = if n * width <= 4 {
            entry[8..12].to_vec()
        } else {
            let at = u64::from(u32_at(entry, 8).unwrap_or(0));
            match src.exact(at, n * width)? {
                Some(b) => b.to_vec(),
                None => return Ok(Some(format!("the TIFF's strip table (at byte {at}) runs past the end of the file: it was cut short"))),
            }
        };
        target.extend(bytes.chunks_exact(width).take(n).map(|c| {
            if width == 2 {
                u64::from(u16_at(c, 0).unwrap_or(0))
            } else {
                u64::from(u32_at(c, 0).unwrap_or(0))
            }
        }));
    }
    let end = offsets
        .iter()
        .zip(&counts)
        .map(|(o, c)| o + c)
        .max()
        .unwrap_or(0);
    Ok((end > size).then(|| format!("the TIFF's image data runs to byte {end} but the file has only {size} bytes: it was cut short")))
}

/// Audio: the audio module's verdict under the policy when the hub takes the format (`accepted`);
/// otherwise the file is refused, or converted under the policy `convert`. `what` names it.
fn check_audio<R: Input>(
    src: &Source<R>,
    path: &Path,
    what: &str,
    accepted: bool,
    config: &ProbeConfig,
    report: &mut Report,
) {
    let probed = match src.duplicate() {
        Ok(input) => audio::probe_input(input, src.len(), path),
        Err(e) => audio::unreadable(path, "read", &e),
    };
    report.audio.clone_from(&probed.info);
    if accepted {
        let (problems, convert) = audio::apply_policy(probed, config.audio);
        report.problems.extend(problems);
        report.convert_to_wav = convert;
        return;
    }
    if config.audio == AudioPolicy::Convert && probed.convertible {
        let (problems, _) = audio::apply_policy(probed, AudioPolicy::Convert);
        let announced = problems.iter().any(|p| p.code == ProblemCode::WillConvert);
        report.problems.extend(problems);
        if !announced {
            report.problems.push(Problem::warning(
                ProblemCode::WillConvert,
                format!("the hub does not take {what} (only MP3, WAV and Ogg); it will be converted to PCM WAV before upload"),
            ));
        }
        report.convert_to_wav = true;
        return;
    }
    // Damage is worth reporting even when the type is refused; bitrate remarks are not.
    report
        .problems
        .extend(probed.problems.into_iter().filter(|p| {
            matches!(
                p.code,
                ProblemCode::Truncated | ProblemCode::Corrupt | ProblemCode::Unreadable
            )
        }));
    let fix = if config.audio == AudioPolicy::Convert {
        "it cannot be decoded here to convert it, so convert it to WAV or MP3 yourself"
    } else {
        "convert it to WAV or MP3, or import with the audio policy `convert`"
    };
    report.problems.push(Problem::error(
        ProblemCode::UnsupportedType,
        format!("the file is {what}, which the hub does not accept (only MP3, WAV and Ogg audio); {fix}"),
    ));
}

fn check_pdf<R: Read + Seek>(src: &mut Source<R>, report: &mut Report) -> io::Result<()> {
    // The PDF specification puts `%%EOF` within the last 1024 bytes; readers look there first.
    let tail = src.tail(1024)?;
    if sniff::find(tail, b"%%EOF").is_none() {
        report.problems.push(Problem::error(
            ProblemCode::Truncated,
            "the PDF has no %%EOF marker in its last 1024 bytes: it was cut short; export or download it again",
        ));
    }
    Ok(())
}

fn check_text<R: Read + Seek>(
    src: &mut Source<R>,
    format: Format,
    report: &mut Report,
) -> io::Result<()> {
    if let Some(offset) = first_invalid_utf8(src)? {
        report.problems.push(not_utf8(offset, format.describe()));
    }
    Ok(())
}

/// The byte offset of the first invalid UTF-8 sequence within the first [`TEXT_CHECK_LEN`] bytes
/// (a character cut by the end of the whole file counts as invalid; one cut by the limit does not).
fn first_invalid_utf8<R: Read + Seek>(src: &mut Source<R>) -> io::Result<Option<u64>> {
    let len = src.len();
    let limit = len.min(TEXT_CHECK_LEN);
    let mut pos = 0u64;
    while pos < limit {
        let at_end = pos + WINDOW as u64 >= len;
        let chunk = src.bytes(pos, WINDOW)?;
        if chunk.is_empty() {
            break;
        }
        match std::str::from_utf8(chunk) {
            Ok(_) => pos += chunk.len() as u64,
            // A character cut by the window, not by the end of the file: read on from its start.
            Err(e) if e.error_len().is_none() && !at_end && e.valid_up_to() > 0 => {
                pos += e.valid_up_to() as u64;
            }
            Err(e) => return Ok(Some(pos + e.valid_up_to() as u64)),
        }
    }
    Ok(None)
}

/// Reads a file at offsets through a small window, so walking boxes, elements or directories
/// costs one system call per 64 KiB rather than one per field.
pub(super) struct Source<R> {
    inner: R,
    len: u64,
    window: Vec<u8>,
    start: u64,
}

impl<R: Read + Seek> Source<R> {
    /// A source of `len` bytes.
    pub(super) fn new(inner: R, len: u64) -> Self {
        Self {
            inner,
            len,
            window: Vec::new(),
            start: 0,
        }
    }

    /// The file's length.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Up to `n` bytes at `offset`; fewer at the end of the file, none past it.
    pub(super) fn bytes(&mut self, offset: u64, n: usize) -> io::Result<&[u8]> {
        if offset >= self.len || n == 0 {
            return Ok(&[]);
        }
        let want_end = offset.saturating_add(n as u64).min(self.len);
        let have_end = self.start + self.window.len() as u64;
        if offset < self.start || want_end > have_end {
            // Read ahead a full window when reading on from the last one (walking elements or
            // text), but only a little after a jump (box headers far apart in a large video).
            let sequential =
                offset >= self.start && offset <= have_end.saturating_add(WINDOW as u64);
            let ahead = if sequential { WINDOW } else { JUMP_WINDOW };
            let fill = (want_end - offset).max(ahead as u64).min(self.len - offset);
            self.inner.seek(SeekFrom::Start(offset))?;
            self.window.clear();
            self.window
                .resize(usize::try_from(fill).unwrap_or(usize::MAX), 0);
            let mut got = 0;
            while got < self.window.len() {
                match self.inner.read(&mut self.window[got..]) {
                    Ok(0) => break,
                    Ok(k) => got += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.window.clear();
                        return Err(e);
                    }
                }
            }
            self.window.truncate(got);
            self.start = offset;
        }
        let from = usize::try_from(offset - self.start)
            .unwrap_or(usize::MAX)
            .min(self.window.len());
        let to = usize::try_from(want_end - self.start)
            .unwrap_or(usize::MAX)
            .min(self.window.len());
        Ok(&self.window[from..to])
    }

    /// Exactly `n` bytes at `offset`, or `None` when the file ends first.
    pub(super) fn exact(&mut self, offset: u64, n: usize) -> io::Result<Option<&[u8]>> {
        let bytes = self.bytes(offset, n)?;
        Ok((bytes.len() == n).then_some(bytes))
    }

    /// The last `n` bytes (the whole file when it is shorter).
    pub(super) fn tail(&mut self, n: usize) -> io::Result<&[u8]> {
        let offset = self.len.saturating_sub(n as u64);
        self.bytes(offset, n)
    }
}

impl<R: Input> Source<R> {
    /// Another handle on the whole input, for a reader that walks it on its own.
    fn duplicate(&self) -> io::Result<R> {
        self.inner.duplicate()
    }
}

impl<R: Read + Seek> Source<R> {
    /// A reader from `offset` to the end of the file, through the window.
    pub(super) fn reader(&mut self, offset: u64) -> SourceReader<'_, R> {
        SourceReader {
            src: self,
            pos: offset,
            failed: None,
        }
    }
}

/// Reads a [`Source`] sequentially. A read error of the file itself is kept apart (in `failed`)
/// so that a decoder's complaint about its input is not mistaken for an unreadable file.
pub(super) struct SourceReader<'a, R> {
    src: &'a mut Source<R>,
    pos: u64,
    /// The file's own read error, if one happened.
    pub(super) failed: Option<io::Error>,
}

impl<R: Read + Seek> Read for SourceReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(WINDOW);
        match self.src.bytes(self.pos, n) {
            Ok(bytes) => {
                buf[..bytes.len()].copy_from_slice(bytes);
                self.pos += bytes.len() as u64;
                Ok(bytes.len())
            }
            Err(e) => {
                let kind = e.kind();
                self.failed = Some(e);
                Err(io::Error::new(kind, "read failed"))
            }
        }
    }
}

/// `N` bytes of `bytes` at `at`, if there are that many.
pub(super) fn take<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(bytes).unwrap();
        path
    }

    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut v = (data.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(data);
        v.extend_from_slice(&[0, 0, 0, 0]); // CRC: not checked here
        v
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        v.extend(chunk(b"IHDR", &ihdr));
        v.extend(chunk(b"IDAT", &[0x78, 0x9c, 1, 2, 3, 4, 5, 6, 7, 8]));
        v.extend(chunk(b"IEND", &[]));
        v
    }

    fn codes(report: &Report) -> Vec<ProblemCode> {
        report.problems.iter().map(|p| p.code).collect()
    }

    #[test]
    fn source_windows_and_tails() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut src = Source::new(Cursor::new(data.clone()), data.len() as u64);
        assert_eq!(src.bytes(10, 5).unwrap(), &data[10..15]);
        assert_eq!(src.bytes(70_000, 3).unwrap(), &data[70_000..70_003]);
        assert_eq!(src.bytes(10, 3).unwrap(), &data[10..13]);
        assert_eq!(src.bytes(199_990, 100).unwrap(), &data[199_990..]);
        assert_eq!(src.bytes(300_000, 10).unwrap(), &[] as &[u8]);
        assert_eq!(src.exact(199_999, 2).unwrap(), None);
        assert_eq!(src.tail(4).unwrap(), &data[199_996..]);
        assert_eq!(src.bytes(0, 100_000).unwrap().len(), 100_000);
        // After a jump only a small window is read; reading on still works across its end.
        assert_eq!(src.bytes(180_000, 8).unwrap(), &data[180_000..180_008]);
        assert_eq!(src.window.len(), JUMP_WINDOW);
        assert_eq!(src.bytes(184_090, 10).unwrap(), &data[184_090..184_100]);
    }

    #[test]
    fn good_png_and_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let report = probe(&write(&dir, "a.png", &png(4, 3)));
        assert_eq!(report.verdict, Verdict::Ok, "{report:?}");
        assert_eq!(report.format, Some(Format::Png));
        assert_eq!(report.kind, Some(Kind::Image));
        assert_eq!(
            report.image,
            Some(ImageInfo {
                width: 4,
                height: 3
            })
        );
    }

    /// A 16-bit mono PCM WAV of `samples` samples at 8 kHz.
    fn pcm_wav(samples: u32) -> Vec<u8> {
        let data = samples * 2;
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&(36 + data).to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        for (n, width) in [(1, 2), (1, 2), (8000, 4), (16000, 4), (2, 2), (16, 2)] {
            v.extend_from_slice(&u32::to_le_bytes(n)[..width]);
        }
        v.extend_from_slice(b"data");
        v.extend_from_slice(&data.to_le_bytes());
        v.resize(v.len() + data as usize, 0);
        v
    }

    #[test]
    fn bytes_in_memory_get_the_report_a_file_gets() {
        let dir = tempfile::tempdir().unwrap();
        let config = ProbeConfig::default();
        let cases: [(&str, Vec<u8>); 6] = [
            ("a.png", png(4, 3)),
            ("a.jpg", png(4, 3)),
            ("b.wav", pcm_wav(800)),
            ("c.txt", b"caf\xc3\xa9 \xff".to_vec()),
            ("d.pdf", b"%PDF-1.4\n".to_vec()),
            ("e", Vec::new()),
        ];
        for (name, bytes) in cases {
            let from_file = probe_with(&write(&dir, name, &bytes), &config);
            let in_memory = probe_bytes(name, &bytes, &config);
            assert_eq!(in_memory.path, Path::new(name));
            assert_eq!(
                Report {
                    path: from_file.path.clone(),
                    ..in_memory
                },
                from_file,
                "{name}"
            );
        }
    }

    #[test]
    fn truncation_of_images_and_pdfs() {
        let dir = tempfile::tempdir().unwrap();
        let mut cut = png(4, 3);
        cut.truncate(cut.len() - 12);
        let report = probe(&write(&dir, "cut.png", &cut));
        assert_eq!(
            (report.verdict, codes(&report)),
            (Verdict::Reject, vec![ProblemCode::Truncated])
        );
        assert_eq!(
            report.image,
            Some(ImageInfo {
                width: 4,
                height: 3
            })
        );

        let mut jpeg = vec![
            0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, 0, 2, 0, 3, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
        ];
        jpeg.extend_from_slice(&[0xFF, 0xDA, 0, 2, 1, 2, 3, 0xFF, 0xD9]);
        let report = probe(&write(&dir, "ok.jpg", &jpeg));
        assert_eq!(report.verdict, Verdict::Ok, "{report:?}");
        assert_eq!(
            report.image,
            Some(ImageInfo {
                width: 3,
                height: 2
            })
        );
        jpeg.truncate(jpeg.len() - 2);
        assert_eq!(
            codes(&probe(&write(&dir, "cut.jpg", &jpeg))),
            vec![ProblemCode::Truncated]
        );

        let pdf = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";
        assert_eq!(probe(&write(&dir, "ok.pdf", pdf)).verdict, Verdict::Ok);
        assert_eq!(
            codes(&probe(&write(&dir, "cut.pdf", &pdf[..30]))),
            vec![ProblemCode::Truncated]
        );
    }

    #[test]
    fn tiff_strips_past_the_end() {
        // Little-endian TIFF, IFD at 8 with width, length, strip offset 100, strip count 50.
        let mut t = b"II*\0\x08\0\0\0".to_vec();
        let entries: [(u16, u16, u32, u32); 4] = [
            (256, 4, 1, 10),
            (257, 4, 1, 5),
            (273, 4, 1, 100),
            (279, 4, 1, 50),
        ];
        t.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, kind, n, value) in entries {
            t.extend_from_slice(&tag.to_le_bytes());
            t.extend_from_slice(&kind.to_le_bytes());
            t.extend_from_slice(&n.to_le_bytes());
            t.extend_from_slice(&value.to_le_bytes());
        }
        t.extend_from_slice(&[0, 0, 0, 0]);
        t.resize(150, 0);
        let mut src = Source::new(Cursor::new(t.clone()), t.len() as u64);
        assert_eq!(tiff_truncation(&mut src).unwrap(), None);
        t.truncate(120);
        let mut src = Source::new(Cursor::new(t.clone()), t.len() as u64);
        assert!(tiff_truncation(&mut src)
            .unwrap()
            .is_some_and(|m| m.contains("byte 150")));
    }

    #[test]
    fn names_content_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let report = probe(&write(&dir, "song.mp3", &png(2, 2)));
        assert_eq!(report.verdict, Verdict::Reject);
        assert_eq!(report.format, Some(Format::Png));
        assert_eq!(codes(&report), vec![ProblemCode::ExtensionMismatch]);
        assert!(
            report.problems[0].message.contains("rename it to .png"),
            "{}",
            report.problems[0].message
        );

        let report = probe(&write(&dir, "picture", &png(2, 2)));
        assert_eq!(
            (report.verdict, codes(&report)),
            (Verdict::Warn, vec![ProblemCode::ExtensionMismatch])
        );

        let report = probe(&write(&dir, "empty.txt", b""));
        assert_eq!(
            (report.verdict, codes(&report)),
            (Verdict::Reject, vec![ProblemCode::Empty])
        );

        let report = probe(&write(&dir, "latin1.txt", b"caf\xe9 au lait"));
        assert_eq!(codes(&report), vec![ProblemCode::NotUtf8]);
        assert!(
            report.problems[0].message.contains("byte offset 3"),
            "{}",
            report.problems[0].message
        );

        // Valid in the head, broken later.
        let mut late = "a".repeat(100_000).into_bytes();
        late.extend_from_slice(b"\xff\xfe");
        let report = probe(&write(&dir, "late.md", &late));
        assert_eq!(
            (report.format, codes(&report)),
            (Some(Format::Md), vec![ProblemCode::NotUtf8])
        );
        assert!(report.problems[0].message.contains("byte offset 100000"));

        // A multi-byte character across the window boundary is fine.
        let mut across = "a".repeat(WINDOW - 1).into_bytes();
        across.extend_from_slice("€ and more".as_bytes());
        assert_eq!(
            probe(&write(&dir, "across.txt", &across)).verdict,
            Verdict::Ok
        );

        let report = probe(&write(
            &dir,
            "page.html",
            b"<!doctype html><title>x</title>",
        ));
        assert_eq!(
            (report.kind, report.verdict),
            (Some(Kind::Html), Verdict::Ok)
        );
        let report = probe(&write(&dir, "readme.md", b"# Title\n"));
        assert_eq!(
            (report.format, report.verdict),
            (Some(Format::Md), Verdict::Ok)
        );
        let report = probe(&write(&dir, "utf16.txt", b"\xff\xfeh\0i\0"));
        assert_eq!(codes(&report), vec![ProblemCode::NotUtf8]);
        let report = probe(&write(&dir, "data.txt", b"abc\0\x01\x02"));
        assert_eq!(codes(&report), vec![ProblemCode::UnsupportedType]);
    }

    #[test]
    fn unsupported_unreadable_and_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let report = probe(&write(
            &dir,
            "a.zip",
            b"PK\x03\x04\x14\0\0\0\x08\0rest of it",
        ));
        assert_eq!(
            (report.verdict, codes(&report)),
            (Verdict::Reject, vec![ProblemCode::UnsupportedType])
        );
        assert!(report.problems[0].message.contains("a ZIP archive"));

        let missing = dir.path().join("missing.png");
        let report = probe(&missing);
        assert_eq!(codes(&report), vec![ProblemCode::Unreadable]);
        assert!(
            report.problems[0].message.contains("missing.png"),
            "{}",
            report.problems[0].message
        );
        let report = probe(dir.path());
        assert_eq!(codes(&report), vec![ProblemCode::Unreadable]);

        let sorted = finish(Report {
            problems: vec![
                Problem::warning(ProblemCode::VariableFrameRate, "w"),
                Problem::error(ProblemCode::Truncated, "e"),
            ],
            ..probe(&write(&dir, "x.txt", b"x"))
        });
        assert_eq!(sorted.verdict, Verdict::Reject);
        assert_eq!(sorted.problems[0].severity, Severity::Error);
    }
}
