//! Audio must have a constant bitrate, or annotation timings come out wrong: [`probe`] tells
//! constant from variable exactly (a hand-written MP3 frame walker, WAV `fmt ` parsing, symphonia
//! packet scans for other containers), [`apply_policy`] turns the findings into problems for the
//! user's `--audio` policy, and [`convert_to_wav`] offers the fix: decode to 16-bit PCM WAV.
//! The rules and measurements behind it are in `shared/reference/audio-cbr.md`.

mod container;
mod convert;
mod mp3;
mod source;
mod wav;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::media::{AudioInfo, AudioPolicy, BitrateMode, Problem, ProblemCode, Severity};

pub use convert::{convert_to_wav, AudioError, ConvertSummary};
pub use mp3::{VbrTag, VbrTagKind};

pub(crate) use source::Input;

/// What the probe found about one audio file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudioProbe {
    /// Codec, bitrate mode, average bitrate and duration; `None` when the file could not be parsed.
    pub info: Option<AudioInfo>,
    /// Facts found; "not constant bitrate" and "needs conversion" findings are errors here, and
    /// [`apply_policy`] adjusts them to the user's policy.
    pub problems: Vec<Problem>,
    /// True when [`convert_to_wav`] can fix the file (symphonia can decode it).
    pub convertible: bool,
    /// The measurements behind the verdict, so that a UI can say why.
    pub detail: AudioDetail,
}

/// The measurements behind a verdict (reference §8.1).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioDetail {
    /// Container: `mp3` (raw MPEG audio), `wav`, `aiff`, `ogg`, `flac`, `mp4`, `matroska`, `adts`.
    pub container: Option<String>,
    /// Sample rate in Hz.
    pub sample_rate: Option<u32>,
    /// Channel count.
    pub channels: Option<u16>,
    /// MPEG audio frames (the Xing/Info/VBRI tag frame not counted), or packets in a container.
    pub frames: Option<u64>,
    /// Samples per channel, where counted (MPEG frames, PCM and ADPCM data, container totals).
    pub samples: Option<u64>,
    /// MPEG audio: bitrate in kb/s → number of frames at it (0 stands for free format).
    pub frame_bitrates: BTreeMap<u32, u64>,
    /// MPEG audio: how often the bitrate changes from one frame to the next.
    pub bitrate_changes: u64,
    /// Containers: smallest and largest packet in bytes.
    pub packet_bytes: Option<(u64, u64)>,
    /// Compressed containers: lowest and highest kb/s over whole one-second windows.
    pub window_kbps: Option<(u64, u64)>,
    /// MP3: the Xing/Info/VBRI tag of the first frame (a hint; the frames decide).
    pub mp3_tag: Option<VbrTag>,
    /// MP3: bytes skipped between frames because they were not frames (junk).
    pub junk_bytes: u64,
    /// Free-format MP3: frame length in bytes, without padding.
    pub free_format_frame_len: Option<u32>,
    /// MP3: the bitrate changes only a few times, as when CBR files of different bitrates are joined.
    pub joined_parts: bool,
    /// Why [`convert_to_wav`] cannot fix this file, when it cannot.
    pub not_convertible_because: Option<String>,
}

impl AudioProbe {
    /// A file that could not be parsed at all.
    fn failed(problem: Problem) -> Self {
        Self {
            info: None,
            problems: vec![problem],
            convertible: false,
            detail: AudioDetail::default(),
        }
    }
}

/// Where the decodable audio stream lies, for [`convert_to_wav`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// Raw MPEG audio frames in `[start, end)` (an MP3 file, or the `data` chunk of a WAV-MP3).
    Mpeg { start: u64, end: u64 },
    /// A container symphonia opens, in `[start, end)`.
    Container {
        start: u64,
        end: u64,
        extension: Option<String>,
    },
}

/// Probe a file already known (by content sniffing) to be audio. Never panics; I/O errors become a
/// problem with code `Unreadable` naming the path, and truncated files give `Truncated`.
pub fn probe(path: &Path) -> AudioProbe {
    inspect(path).0
}

/// [`probe`] for audio already in memory (a received upload, a buffer): the same checks, with
/// `name` standing for the file in messages and its extension as the container hint.
pub fn probe_bytes(name: &str, bytes: &[u8]) -> AudioProbe {
    let len = bytes.len() as u64;
    let input = Cursor::new(Arc::<[u8]>::from(bytes));
    inspect_input(input, len, Path::new(name)).0
}

fn read_up_to<R: Read>(file: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

pub(crate) fn unreadable(path: &Path, what: &str, e: &std::io::Error) -> AudioProbe {
    AudioProbe::failed(Problem::error(
        ProblemCode::Unreadable,
        format!("cannot {what} {}: {e}", path.display()),
    ))
}

/// Content-based routing: `(probe, where a decoder should read)`.
fn inspect(path: &Path) -> (AudioProbe, Option<Route>) {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return (unreadable(path, "open", &e), None),
    };
    let len = match file.metadata() {
        Ok(m) => m.len(),
        Err(e) => return (unreadable(path, "read the size of", &e), None),
    };
    inspect_input(file, len, path)
}

/// [`probe`] of `len` bytes of `input`, which `path` names (in messages, and by its extension).
pub(crate) fn probe_input<R: Input>(input: R, len: u64, path: &Path) -> AudioProbe {
    inspect_input(input, len, path).0
}

/// [`inspect`] of `len` bytes of `file`, which `path` names (in messages, and by its extension).
fn inspect_input<R: Input>(mut file: R, len: u64, path: &Path) -> (AudioProbe, Option<Route>) {
    if len == 0 {
        return (
            AudioProbe::failed(Problem::error(ProblemCode::Empty, "the file is empty")),
            None,
        );
    }
    let mut head = [0u8; 64];
    // A duplicated file handle shares its position with the one it came from.
    if let Err(e) = file.seek(std::io::SeekFrom::Start(0)) {
        return (unreadable(path, "read", &e), None);
    }
    let n = match read_up_to(&mut file, &mut head) {
        Ok(n) => n,
        Err(e) => return (unreadable(path, "read", &e), None),
    };
    let head = &head[..n];
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let io_failed = |e: std::io::Error| (unreadable(path, "read", &e), None);

    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        return match probe_wav(file, len) {
            Ok(found) => found,
            Err(e) => io_failed(e),
        };
    }
    let container_magic = head.starts_with(b"fLaC")
        || head.starts_with(b"OggS")
        || head.starts_with(b"FORM")
        || head.starts_with(b"caff")
        || head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3])
        || head.get(4..8) == Some(b"ftyp")
        || is_adts(head);
    if container_magic {
        let route = Route::Container {
            start: 0,
            end: len,
            extension: extension.clone(),
        };
        return (
            container::probe_guarded(file, 0, len, extension.as_deref()),
            Some(route),
        );
    }
    // Raw MPEG audio, possibly behind ID3v2 tags or junk; anything else falls back to symphonia.
    let fallback = match file.duplicate() {
        Ok(f) => f,
        Err(e) => return io_failed(e),
    };
    let scan = match mp3::walk(file, 0, len) {
        Ok(s) => s,
        Err(e) => return io_failed(e),
    };
    if scan.first.is_none() {
        let start = mp3::id3v2_size(head).filter(|&s| s < len).unwrap_or(0);
        let probe = container::probe_guarded(fallback, start, len, extension.as_deref());
        if probe.info.is_some() {
            return (
                probe,
                Some(Route::Container {
                    start,
                    end: len,
                    extension,
                }),
            );
        }
        let why = if scan.gave_up {
            "in its first MiB"
        } else {
            "anywhere"
        };
        let problem = Problem::error(
            ProblemCode::Corrupt,
            format!("no MPEG audio frames {why}, and not a recognised audio container either"),
        );
        return (AudioProbe::failed(problem), None);
    }
    let route = Route::Mpeg {
        start: scan.decode_start(),
        end: scan.audio_end,
    };
    (from_scan(&scan, "mp3", "MP3"), Some(route))
}

/// ADTS sync: 12 one-bits and layer `00`.
fn is_adts(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] == 0xFF && b[1] & 0xF6 == 0xF0
}

/// "128 kb/s" or "96–320 kb/s".
pub(crate) fn kbps_range(lo: u64, hi: u64) -> String {
    if lo == hi {
        format!("{lo} kb/s")
    } else {
        format!("{lo}–{hi} kb/s")
    }
}

/// "128 and 192" / "96, 128 and 160".
fn list_and(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The fact about an MPEG stream whose frames are not all at one bitrate, e.g.
/// "variable-bitrate MP3 (frames at 96–320 kb/s)".
pub(crate) fn mpeg_variable_fact(
    label: &str,
    bitrates: &BTreeMap<u32, u64>,
    changes: u64,
    joined: bool,
) -> String {
    let rates: Vec<u32> = bitrates.keys().copied().filter(|&k| k > 0).collect();
    let (lo, hi) = (
        rates.first().copied().unwrap_or(0),
        rates.last().copied().unwrap_or(0),
    );
    let free = if bitrates.contains_key(&0) {
        ", some in free format"
    } else {
        ""
    };
    if joined {
        let list = list_and(&rates.iter().map(u32::to_string).collect::<Vec<_>>());
        let s = if changes == 1 { "" } else { "s" };
        format!("{label} made of constant-bitrate parts joined together ({list} kb/s, {changes} bitrate change{s}{free})")
    } else {
        format!(
            "variable-bitrate {label} (frames at {}{free})",
            kbps_range(u64::from(lo), u64::from(hi))
        )
    }
}

/// Builds the probe of an MPEG audio stream from the frame walk.
fn from_scan(scan: &mp3::Mp3Scan, container: &str, label: &str) -> AudioProbe {
    let Some(h) = scan.first else {
        return AudioProbe::failed(Problem::error(
            ProblemCode::Corrupt,
            format!("no MPEG audio frames in the {label} data"),
        ));
    };
    let mut problems = Vec::new();
    if let Some(cut) = scan.cut {
        problems.push(Problem::warning(
            ProblemCode::Truncated,
            format!(
                "the file ends inside an MPEG {} ({} of {} bytes): it was cut short",
                cut.what, cut.have, cut.need
            ),
        ));
    }
    if scan.junk_bytes > 0 {
        problems.push(Problem::warning(
            ProblemCode::Corrupt,
            format!("{} bytes of junk between MPEG frames were skipped (a damaged or carelessly joined file)", scan.junk_bytes),
        ));
    }
    let mut not_convertible_because = None;
    let free_only = scan.bitrates.len() == 1 && scan.is_free_format() && scan.stream_changes == 0;
    let mode = if scan.is_constant() || free_only {
        BitrateMode::Constant
    } else {
        BitrateMode::Variable
    };
    if scan.frames == 0 {
        problems.push(Problem::error(
            ProblemCode::Corrupt,
            format!("the {label} stream holds only a Xing/Info/VBRI header frame and no audio"),
        ));
    } else if scan.is_free_format() {
        let len = scan.free_format_len.unwrap_or(0);
        not_convertible_because = Some(
            "free-format MP3 cannot be decoded (symphonia and ffmpeg both refuse it)".to_owned(),
        );
        problems.push(Problem::error(
            ProblemCode::FreeFormatMp3,
            format!(
                "free-format {label} ({} kb/s, {len}-byte frames): its bitrate is constant, but browsers and decoders \
                 (symphonia, ffmpeg) cannot play free format, so it cannot be converted here either; re-encode it \
                 at a standard bitrate (e.g. lame -b 320)",
                h.free_format_kbps(len)
            ),
        ));
        if mode == BitrateMode::Variable {
            problems.push(Problem::error(
                ProblemCode::VariableBitrate,
                format!(
                    "{}: annotation timings would drift",
                    mpeg_variable_fact(label, &scan.bitrates, scan.changes, false)
                ),
            ));
        }
    } else if scan.stream_changes > 0 {
        let rates: Vec<String> = scan.samples_by_rate.keys().map(u32::to_string).collect();
        let s = if scan.stream_changes == 1 { "" } else { "s" };
        not_convertible_because = Some(
            "its sample rate changes partway, and one WAV file cannot hold that; split it at the change first"
                .to_owned(),
        );
        problems.push(Problem::error(
            ProblemCode::VariableBitrate,
            format!(
                "{label} made of parts with different sample rates or MPEG versions ({} Hz, {} change{s}), \
                 as when different files are joined: annotation timings would drift",
                list_and(&rates),
                scan.stream_changes
            ),
        ));
    } else if mode == BitrateMode::Variable {
        let mut fact = mpeg_variable_fact(label, &scan.bitrates, scan.changes, scan.looks_joined());
        if scan
            .tag
            .as_ref()
            .is_some_and(|t| t.kind == VbrTagKind::Info)
        {
            fact.push_str(", although its Info tag says constant bitrate");
        }
        problems.push(Problem::error(
            ProblemCode::VariableBitrate,
            format!("{fact}: annotation timings would drift"),
        ));
    }
    if not_convertible_because.is_none() && h.codec() != "mp3" {
        not_convertible_because = Some(format!(
            "there is no {} (MPEG Layer I/II) decoder built in",
            h.codec()
        ));
    }
    let bitrate = if mode == BitrateMode::Constant && !scan.is_free_format() {
        scan.bitrates.keys().next().map(|k| u64::from(*k) * 1000)
    } else {
        scan.average_bitrate()
    };
    AudioProbe {
        info: Some(AudioInfo {
            codec: h.codec().to_owned(),
            bitrate_mode: mode,
            bitrate,
            duration_seconds: scan.duration_seconds(),
        }),
        problems,
        convertible: not_convertible_because.is_none() && scan.frames > 0,
        detail: AudioDetail {
            container: Some(container.to_owned()),
            sample_rate: Some(h.sample_rate),
            channels: Some(h.channels()),
            frames: Some(scan.frames),
            samples: Some(scan.samples),
            frame_bitrates: scan.bitrates.clone(),
            bitrate_changes: scan.changes,
            mp3_tag: scan.tag.clone(),
            junk_bytes: scan.junk_bytes,
            free_format_frame_len: scan.free_format_len,
            joined_parts: mode == BitrateMode::Variable && scan.looks_joined(),
            not_convertible_because,
            ..AudioDetail::default()
        },
    }
}

/// RIFF/WAVE: PCM-like and ADPCM from the `fmt ` chunk, MPEG inside WAV with the frame walker.
fn probe_wav<R: Input>(mut file: R, len: u64) -> std::io::Result<(AudioProbe, Option<Route>)> {
    let layout = match wav::layout(&mut file, len)? {
        Ok(l) => l,
        Err(wav::Issue::NotWave) => {
            return Ok((
                AudioProbe::failed(Problem::error(ProblemCode::Corrupt, "not a RIFF/WAVE file")),
                None,
            ));
        }
        Err(wav::Issue::Cut(why)) => {
            return Ok((
                AudioProbe::failed(Problem::error(ProblemCode::Truncated, why)),
                None,
            ))
        }
        Err(wav::Issue::Corrupt(why)) => {
            return Ok((
                AudioProbe::failed(Problem::error(ProblemCode::Corrupt, why)),
                None,
            ))
        }
    };
    let fmt = layout.fmt;
    let cut = layout.is_cut().then(|| {
        Problem::error(
            ProblemCode::Truncated,
            format!(
                "the WAV data chunk declares {} bytes but the file holds only {}: it was cut short",
                layout.declared_len.unwrap_or(0),
                layout.data_len
            ),
        )
    });
    if fmt.is_mpeg() {
        let data_end = layout.data_start + layout.data_len;
        let scan = mp3::walk(file, layout.data_start, data_end)?;
        let mut probe = from_scan(&scan, "wav", "MP3 inside WAV");
        if scan.first.is_some() {
            probe.problems.push(Problem::error(
                ProblemCode::AudioNeedsConversion,
                format!(
                    "MPEG audio inside WAV (format tag 0x{:04X}): browsers rarely play it",
                    fmt.tag
                ),
            ));
        }
        probe.problems.extend(cut);
        let route = probe.info.is_some().then_some(Route::Mpeg {
            start: scan.decode_start(),
            end: scan.audio_end,
        });
        return Ok((probe, route));
    }
    let Some(codec) = fmt.codec() else {
        let problem = Problem::error(
            ProblemCode::UndecodableAudio,
            format!(
                "WAV with audio format tag 0x{:04X}, which this tool can neither check nor decode; export it as PCM WAV",
                fmt.tag
            ),
        );
        return Ok((AudioProbe::failed(problem), None));
    };
    if fmt.sample_rate == 0 || fmt.channels == 0 || fmt.block_align == 0 {
        let problem = Problem::error(
            ProblemCode::Corrupt,
            format!(
                "the WAV fmt chunk is impossible ({} Hz, {} channels, {}-byte blocks)",
                fmt.sample_rate, fmt.channels, fmt.block_align
            ),
        );
        return Ok((AudioProbe::failed(problem), None));
    }
    let samples = layout.sample_frames();
    let duration = samples.map(|s| s as f64 / f64::from(fmt.sample_rate));
    let bitrate = if fmt.is_pcm_like() {
        Some(u64::from(fmt.sample_rate) * u64::from(fmt.block_align) * 8)
    } else {
        duration
            .filter(|d| *d > 0.0)
            .map(|d| (layout.data_len as f64 * 8.0 / d).round() as u64)
    };
    let mut problems = Vec::new();
    if fmt.is_adpcm() {
        problems.push(Problem::error(
            ProblemCode::AudioNeedsConversion,
            format!(
                "{} WAV is constant-bitrate, but browser support for ADPCM is patchy",
                adpcm_label(&codec)
            ),
        ));
    }
    problems.extend(cut);
    let probe = AudioProbe {
        info: Some(AudioInfo {
            codec,
            bitrate_mode: BitrateMode::Constant,
            bitrate,
            duration_seconds: duration,
        }),
        problems,
        convertible: true,
        detail: AudioDetail {
            container: Some("wav".to_owned()),
            sample_rate: Some(fmt.sample_rate),
            channels: Some(fmt.channels),
            samples,
            ..AudioDetail::default()
        },
    };
    Ok((
        probe,
        Some(Route::Container {
            start: 0,
            end: len,
            extension: Some("wav".to_owned()),
        }),
    ))
}

/// "IMA ADPCM" for `adpcm_ima`, and so on.
pub(crate) fn adpcm_label(codec: &str) -> &str {
    match codec {
        "adpcm_ms" => "Microsoft ADPCM",
        "adpcm_ima" => "IMA ADPCM",
        "adpcm_ima_qt" => "QuickTime IMA ADPCM",
        other => other,
    }
}

/// The problems a conversion to PCM WAV would fix.
fn conversion_reason(p: &Problem) -> bool {
    matches!(
        p.code,
        ProblemCode::VariableBitrate | ProblemCode::AudioNeedsConversion
    )
}

/// Apply the user's policy: returns the final problem list and whether the uploader must convert
/// to WAV first.
///
/// - `Reject`: "not constant" (and "needs conversion") problems stay errors, each message saying
///   what is wrong and the fix, e.g. "variable-bitrate MP3 (frames at 96–320 kb/s): annotation
///   timings would drift; convert it to WAV".
/// - `Warn`: those problems become warnings.
/// - `Convert`: if the file is convertible they are replaced by one `WillConvert` warning and the
///   bool is true; if not (Opus, free-format MP3), they stay errors saying why it cannot be
///   converted.
///
/// Other problems (unreadable, truncated, free format, …) pass through unchanged.
pub fn apply_policy(probe: AudioProbe, policy: AudioPolicy) -> (Vec<Problem>, bool) {
    let AudioProbe {
        problems,
        convertible,
        detail,
        ..
    } = probe;
    let why_not = detail
        .not_convertible_because
        .unwrap_or_else(|| "it cannot be decoded here".to_owned());
    let has_reasons = problems.iter().any(conversion_reason);
    match policy {
        AudioPolicy::Reject => {
            let out = problems
                .into_iter()
                .map(|p| {
                    if !conversion_reason(&p) {
                        return p;
                    }
                    let fix = if convertible {
                        "convert it to WAV".to_owned()
                    } else {
                        format!("it cannot be converted here: {why_not}")
                    };
                    Problem {
                        message: format!("{}; {fix}", p.message),
                        ..p
                    }
                })
                .collect();
            (out, false)
        }
        AudioPolicy::Warn => {
            let out = problems
                .into_iter()
                .map(|p| {
                    if conversion_reason(&p) {
                        Problem::warning(
                            p.code,
                            format!("{}; imported anyway, as asked", p.message),
                        )
                    } else {
                        p
                    }
                })
                .collect();
            (out, false)
        }
        AudioPolicy::Convert if convertible && has_reasons => {
            let (reasons, mut out): (Vec<Problem>, Vec<Problem>) =
                problems.into_iter().partition(conversion_reason);
            let why: Vec<String> = reasons.into_iter().map(|p| p.message).collect();
            out.push(Problem::warning(
                ProblemCode::WillConvert,
                format!(
                    "will be converted to 16-bit PCM WAV before upload: {}",
                    why.join("; ")
                ),
            ));
            (out, true)
        }
        AudioPolicy::Convert => {
            let out = problems
                .into_iter()
                .map(|p| {
                    if conversion_reason(&p) {
                        Problem {
                            severity: Severity::Error,
                            message: format!("{}; it cannot be converted: {why_not}", p.message),
                            ..p
                        }
                    } else {
                        p
                    }
                })
                .collect();
            (out, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vbr_probe(convertible: bool) -> AudioProbe {
        AudioProbe {
            info: Some(AudioInfo {
                codec: "mp3".to_owned(),
                bitrate_mode: BitrateMode::Variable,
                bitrate: Some(113_000),
                duration_seconds: Some(2.0),
            }),
            problems: vec![
                Problem::error(
                    ProblemCode::VariableBitrate,
                    "variable-bitrate MP3 (frames at 96–320 kb/s): annotation timings would drift",
                ),
                Problem::warning(ProblemCode::Corrupt, "12 bytes of junk"),
            ],
            convertible,
            detail: AudioDetail {
                not_convertible_because: (!convertible).then(|| "no decoder".to_owned()),
                ..AudioDetail::default()
            },
        }
    }

    #[test]
    fn reject_keeps_errors_and_names_the_fix() {
        let (p, convert) = apply_policy(vbr_probe(true), AudioPolicy::Reject);
        assert!(!convert);
        assert_eq!(p[0].severity, Severity::Error);
        assert_eq!(
            p[0].message,
            "variable-bitrate MP3 (frames at 96–320 kb/s): annotation timings would drift; convert it to WAV"
        );
        assert_eq!(
            p[1],
            Problem::warning(ProblemCode::Corrupt, "12 bytes of junk")
        );
        let (p, _) = apply_policy(vbr_probe(false), AudioPolicy::Reject);
        assert!(p[0]
            .message
            .ends_with("it cannot be converted here: no decoder"));
    }

    #[test]
    fn warn_downgrades() {
        let (p, convert) = apply_policy(vbr_probe(true), AudioPolicy::Warn);
        assert!(!convert);
        assert!(p.iter().all(|p| p.severity == Severity::Warning));
        assert_eq!(p[0].code, ProblemCode::VariableBitrate);
    }

    #[test]
    fn convert_replaces_or_explains() {
        let (p, convert) = apply_policy(vbr_probe(true), AudioPolicy::Convert);
        assert!(convert);
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|p| p.code != ProblemCode::VariableBitrate));
        let will = p
            .iter()
            .find(|p| p.code == ProblemCode::WillConvert)
            .map(|p| p.severity);
        assert_eq!(will, Some(Severity::Warning));

        let (p, convert) = apply_policy(vbr_probe(false), AudioPolicy::Convert);
        assert!(!convert);
        assert_eq!(
            (p[0].code, p[0].severity),
            (ProblemCode::VariableBitrate, Severity::Error)
        );
        assert!(p[0].message.ends_with("it cannot be converted: no decoder"));

        // Nothing to fix: nothing to convert.
        let mut ok = vbr_probe(true);
        ok.problems.clear();
        assert_eq!(apply_policy(ok, AudioPolicy::Convert), (Vec::new(), false));
    }

    #[test]
    fn messages() {
        let m = BTreeMap::from([(128, 78), (192, 78)]);
        assert_eq!(
            mpeg_variable_fact("MP3", &m, 1, true),
            "MP3 made of constant-bitrate parts joined together (128 and 192 kb/s, 1 bitrate change)"
        );
        let v = BTreeMap::from([(96, 3), (128, 5), (320, 1)]);
        assert_eq!(
            mpeg_variable_fact("MP3", &v, 6, false),
            "variable-bitrate MP3 (frames at 96–320 kb/s)"
        );
        assert_eq!(
            list_and(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
    }

    #[test]
    fn bytes_in_memory_are_probed_like_a_file() {
        // Three 128 kb/s MPEG-1 Layer III frames (44.1 kHz, stereo), then a 160 kb/s one.
        let frame = |index: u8| {
            let mut f = vec![0xFF, 0xFB, index << 4, 0x04];
            let len =
                144 * [0, 0, 0, 0, 0, 0, 0, 0, 0, 128, 160][usize::from(index)] * 1000 / 44100;
            f.resize(len, 0);
            f
        };
        let mut mp3: Vec<u8> = [9, 9, 9].into_iter().flat_map(frame).collect();
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, bytes) in [
            ("cbr.mp3", mp3.clone()),
            ("vbr.mp3", {
                mp3.extend(frame(10));
                mp3
            }),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).expect("write");
            assert_eq!(probe_bytes(name, &bytes), probe(&path), "{name}");
        }
        let empty = probe_bytes("a.wav", &[]);
        assert_eq!(empty.problems[0].code, ProblemCode::Empty);
    }

    #[test]
    fn missing_and_empty_files() {
        let p = probe(Path::new("/nonexistent/assetdrop/audio.mp3"));
        assert!(p.info.is_none() && !p.convertible);
        assert_eq!(p.problems[0].code, ProblemCode::Unreadable);
        assert!(p.problems[0]
            .message
            .contains("/nonexistent/assetdrop/audio.mp3"));
        let empty = tempfile::NamedTempFile::new().expect("temp file");
        assert_eq!(probe(empty.path()).problems[0].code, ProblemCode::Empty);
    }
}
