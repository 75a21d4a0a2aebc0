//! Containers other than raw MPEG audio and WAV (Ogg, FLAC, MP4/M4A, Matroska/WebM, ADTS, AIFF):
//! open them with symphonia and scan packet sizes without decoding (reference §4 "classify").

use std::collections::BTreeMap;

use symphonia::core::codecs::audio::well_known as ids;
use symphonia::core::codecs::audio::AudioCodecId;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::mp3::FrameHeader;
use super::source::{Input, RangeSource};
use super::{kbps_range, AudioDetail, AudioProbe};
use crate::media::{AudioInfo, BitrateMode, Problem, ProblemCode};

/// What a codec is, for the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// Uncompressed PCM, A-law, µ-law.
    Pcm,
    /// MS or IMA ADPCM.
    Adpcm,
    /// MPEG audio Layer I/II/III.
    Mpeg,
    /// AAC.
    Aac,
    /// Vorbis.
    Vorbis,
    /// Opus.
    Opus,
    /// FLAC and other lossless codecs.
    Lossless,
    /// Anything else.
    Other,
}

/// Short codec name and family for a symphonia codec id.
pub(crate) fn codec_name(id: AudioCodecId) -> (&'static str, Family) {
    let pcm: &[(AudioCodecId, &str)] = &[
        (ids::CODEC_ID_PCM_S16LE, "pcm_s16le"),
        (ids::CODEC_ID_PCM_S16BE, "pcm_s16be"),
        (ids::CODEC_ID_PCM_S24LE, "pcm_s24le"),
        (ids::CODEC_ID_PCM_S24BE, "pcm_s24be"),
        (ids::CODEC_ID_PCM_S32LE, "pcm_s32le"),
        (ids::CODEC_ID_PCM_S32BE, "pcm_s32be"),
        (ids::CODEC_ID_PCM_U8, "pcm_u8"),
        (ids::CODEC_ID_PCM_S8, "pcm_s8"),
        (ids::CODEC_ID_PCM_U16LE, "pcm_u16le"),
        (ids::CODEC_ID_PCM_U16BE, "pcm_u16be"),
        (ids::CODEC_ID_PCM_U24LE, "pcm_u24le"),
        (ids::CODEC_ID_PCM_U24BE, "pcm_u24be"),
        (ids::CODEC_ID_PCM_U32LE, "pcm_u32le"),
        (ids::CODEC_ID_PCM_U32BE, "pcm_u32be"),
        (ids::CODEC_ID_PCM_F32LE, "pcm_f32le"),
        (ids::CODEC_ID_PCM_F32BE, "pcm_f32be"),
        (ids::CODEC_ID_PCM_F64LE, "pcm_f64le"),
        (ids::CODEC_ID_PCM_F64BE, "pcm_f64be"),
        (ids::CODEC_ID_PCM_ALAW, "pcm_alaw"),
        (ids::CODEC_ID_PCM_MULAW, "pcm_mulaw"),
    ];
    if let Some((_, name)) = pcm.iter().find(|(c, _)| *c == id) {
        return (name, Family::Pcm);
    }
    match id {
        ids::CODEC_ID_ADPCM_MS => ("adpcm_ms", Family::Adpcm),
        ids::CODEC_ID_ADPCM_IMA_WAV => ("adpcm_ima", Family::Adpcm),
        ids::CODEC_ID_ADPCM_IMA_QT => ("adpcm_ima_qt", Family::Adpcm),
        ids::CODEC_ID_MP1 => ("mp1", Family::Mpeg),
        ids::CODEC_ID_MP2 => ("mp2", Family::Mpeg),
        ids::CODEC_ID_MP3 => ("mp3", Family::Mpeg),
        ids::CODEC_ID_AAC => ("aac", Family::Aac),
        ids::CODEC_ID_VORBIS => ("vorbis", Family::Vorbis),
        ids::CODEC_ID_OPUS => ("opus", Family::Opus),
        ids::CODEC_ID_FLAC => ("flac", Family::Lossless),
        ids::CODEC_ID_ALAC => ("alac", Family::Lossless),
        ids::CODEC_ID_WAVPACK => ("wavpack", Family::Lossless),
        _ => ("unknown", Family::Other),
    }
}

/// Human name of a symphonia format reader.
fn container_label(short_name: &str) -> &'static str {
    match short_name {
        "ogg" => "Ogg",
        "flac" => "FLAC",
        "isomp4" => "MP4",
        "matroska" => "Matroska/WebM",
        "aac" => "ADTS",
        "aiff" => "AIFF",
        "wave" => "WAV",
        "mp3" | "mpa" => "MPEG audio",
        "caf" => "CAF",
        _ => "container",
    }
}

/// Short container name for [`AudioDetail::container`].
fn container_id(short_name: &str) -> &'static str {
    match short_name {
        "ogg" => "ogg",
        "flac" => "flac",
        "isomp4" => "mp4",
        "matroska" => "matroska",
        "aac" => "adts",
        "aiff" => "aiff",
        "wave" => "wav",
        "mp3" | "mpa" => "mp3",
        "caf" => "caf",
        _ => "other",
    }
}

/// Opus packet duration in 48 kHz samples, from its TOC byte (RFC 6716 §3.1).
fn opus_packet_samples(data: &[u8]) -> u64 {
    let Some(&toc) = data.first() else { return 0 };
    let config = toc >> 3;
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let count = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => data.get(1).map_or(0, |b| u64::from(b & 0x3F)),
    };
    frame * count
}

/// Vorbis identification header fields (max, nominal, min bitrate) from the codec's extra data.
fn vorbis_bitrates(extra: &[u8]) -> Option<(i32, i32, i32)> {
    let p = extra.windows(7).position(|w| w == b"\x01vorbis")?;
    let field = |at: usize| {
        extra
            .get(p + at..p + at + 4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    Some((field(16)?, field(20)?, field(24)?))
}

/// Everything counted over the packets of one track.
#[derive(Debug, Default)]
struct Packets {
    count: u64,
    bytes: u64,
    min: u64,
    max: u64,
    first_size: Option<u64>,
    last_size: u64,
    /// Packets whose size differs from the first one's.
    differing: u64,
    /// MPEG packets: kb/s → count, changes, samples, channels and rate of the first.
    mpeg: BTreeMap<u32, u64>,
    mpeg_changes: u64,
    mpeg_prev: Option<u8>,
    mpeg_samples: u64,
    mpeg_first: Option<FrameHeader>,
    /// Packets whose data does not start with an MPEG header (MPEG tracks only).
    mpeg_bad: u64,
    /// Sum of trimmed packet durations, in time-base units.
    dur_sum: u64,
    first_pts: Option<i64>,
    last_pts: i64,
    /// Codec-derived sample count (Opus TOC, AAC 1024 per packet), where packets carry no duration.
    est_samples: u64,
    /// Bytes per whole second of presentation time.
    windows: BTreeMap<i64, u64>,
    /// Reading stopped on an error.
    error: Option<SymError>,
}

impl Packets {
    fn add(&mut self, data: &[u8], family: Family, pts: i64, dur: u64, trim: u64, tb: f64) {
        let size = data.len() as u64;
        self.count += 1;
        self.bytes += size;
        self.min = if self.count == 1 {
            size
        } else {
            self.min.min(size)
        };
        self.max = self.max.max(size);
        match self.first_size {
            None => self.first_size = Some(size),
            Some(first) if first != size => self.differing += 1,
            Some(_) => {}
        }
        self.last_size = size;
        self.dur_sum += dur.saturating_sub(trim);
        self.first_pts.get_or_insert(pts);
        self.last_pts = self.last_pts.max(pts);
        let second = ((pts as f64 * tb).floor() as i64).max(0);
        *self.windows.entry(second).or_insert(0) += size;
        match family {
            Family::Mpeg => match data
                .get(..4)
                .and_then(|b| FrameHeader::parse([b[0], b[1], b[2], b[3]]))
            {
                Some(h) => {
                    *self.mpeg.entry(h.bitrate_kbps).or_insert(0) += 1;
                    if self.mpeg_prev.is_some_and(|p| p != h.bitrate_index) {
                        self.mpeg_changes += 1;
                    }
                    self.mpeg_prev = Some(h.bitrate_index);
                    self.mpeg_samples += u64::from(h.samples());
                    self.mpeg_first.get_or_insert(h);
                }
                None => self.mpeg_bad += 1,
            },
            Family::Opus => self.est_samples += opus_packet_samples(data),
            Family::Aac => self.est_samples += 1024,
            _ => {}
        }
    }

    /// Every packet the same size, except perhaps the last.
    fn same_size(&self) -> bool {
        self.count > 0
            && (self.differing == 0
                || (self.differing == 1 && Some(self.last_size) != self.first_size))
    }

    /// Lowest and highest kb/s over the whole seconds before `duration`.
    fn window_kbps(&self, duration: f64) -> Option<(u64, u64)> {
        let whole = duration.floor() as i64;
        let rates: Vec<u64> = self
            .windows
            .range(..whole)
            .map(|(_, b)| b * 8 / 1000)
            .collect();
        Some((*rates.iter().min()?, *rates.iter().max()?))
    }
}

fn open_error(e: &SymError) -> Problem {
    match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Problem::error(
            ProblemCode::Truncated,
            "the file ends before its audio headers do",
        ),
        SymError::IoError(io) => {
            Problem::error(ProblemCode::Unreadable, format!("reading failed: {io}"))
        }
        other => Problem::error(
            ProblemCode::Corrupt,
            format!("not a recognised audio stream ({other})"),
        ),
    }
}

/// Opens `[start, end)` of `file` with symphonia.
pub(crate) fn open<R: Input>(
    file: R,
    start: u64,
    end: u64,
    extension: Option<&str>,
) -> Result<Box<dyn FormatReader>, SymError> {
    let src = RangeSource::new(file, start, end).map_err(SymError::IoError)?;
    let mss = MediaSourceStream::new(
        Box::new(src),
        symphonia::core::io::MediaSourceStreamOptions::default(),
    );
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    symphonia::default::get_probe().probe(
        &hint,
        mss,
        FormatOptions::default(),
        MetadataOptions::default(),
    )
}

/// True when symphonia has a decoder for the codec.
pub(crate) fn decodable(id: AudioCodecId) -> bool {
    symphonia::default::get_codecs()
        .get_audio_decoder(id)
        .is_some()
}

/// [`probe`], with a panic inside symphonia turned into a problem: one damaged file must not
/// take a whole batch down.
pub(crate) fn probe_guarded<R: Input>(
    file: R,
    start: u64,
    end: u64,
    extension: Option<&str>,
) -> AudioProbe {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        probe(file, start, end, extension)
    }))
    .unwrap_or_else(|_| {
        AudioProbe::failed(Problem::error(
            ProblemCode::Corrupt,
            "the audio library crashed while reading this file; it is probably damaged",
        ))
    })
}

/// Probes a file whose content symphonia should recognise.
pub(crate) fn probe<R: Input>(
    file: R,
    start: u64,
    end: u64,
    extension: Option<&str>,
) -> AudioProbe {
    let mut reader = match open(file, start, end, extension) {
        Ok(r) => r,
        Err(e) => return AudioProbe::failed(open_error(&e)),
    };
    let short = reader.format_info().short_name;
    let label = container_label(short);
    let Some(track) = reader.default_track(TrackType::Audio).cloned() else {
        return AudioProbe::failed(Problem::error(
            ProblemCode::Corrupt,
            format!("the {label} file has no audio track"),
        ));
    };
    let Some(params) = track.codec_params.as_ref().and_then(|c| c.audio()).cloned() else {
        return AudioProbe::failed(Problem::error(
            ProblemCode::Corrupt,
            format!("the {label} audio track has no codec parameters"),
        ));
    };
    let (codec, family) = codec_name(params.codec);
    let sample_rate = params.sample_rate.filter(|&r| r > 0);
    let tb = track.time_base.map_or(0.0, f64::from);

    // PCM, ADPCM and lossless verdicts need no packets when the container states the length.
    let known_len = track.num_frames.filter(|&n| n > 0 && sample_rate.is_some());
    let scan_packets =
        !(matches!(family, Family::Pcm | Family::Adpcm | Family::Lossless) && known_len.is_some());
    let mut pk = Packets::default();
    if scan_packets {
        loop {
            match reader.next_packet() {
                Ok(Some(p)) if p.track_id == track.id => {
                    let trim = p.trim_start.get().saturating_add(p.trim_end.get());
                    pk.add(&p.data, family, p.pts.get(), p.dur.get(), trim, tb);
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    pk.error = Some(e);
                    break;
                }
            }
        }
    }

    let sample_rate = sample_rate.or(pk.mpeg_first.map(|h| h.sample_rate));
    let channels = params
        .channels
        .as_ref()
        .map(|c| c.count() as u16)
        .filter(|&c| c > 0)
        .or(pk.mpeg_first.map(|h| h.channels()));
    let duration = duration_seconds(&pk, family, known_len, sample_rate, channels, &params, tb);

    let mut problems = Vec::new();
    match pk.error.as_ref() {
        Some(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => problems
            .push(Problem::warning(
                ProblemCode::Truncated,
                format!(
                    "the {label} file ends inside a packet (after {} packets); the rest is lost",
                    pk.count
                ),
            )),
        Some(e) => problems.push(Problem::warning(
            ProblemCode::Corrupt,
            format!(
                "reading the {label} packets stopped after {} packets: {e}",
                pk.count
            ),
        )),
        None => {}
    }

    let window_kbps = duration.and_then(|d| pk.window_kbps(d));
    let packet_range = (pk.count > 0).then_some((pk.min, pk.max));
    let sizes = packet_range.map_or(String::new(), |(a, b)| {
        let w = window_kbps.map_or(String::new(), |(lo, hi)| {
            format!("; 1 s windows {}", kbps_range(lo, hi))
        });
        format!(
            " ({}{w})",
            if a == b {
                format!("{a} bytes")
            } else {
                format!("{a}–{b} bytes")
            }
        )
    });
    let in_label = match (short, family) {
        ("aac", _) => "raw ADTS AAC".to_owned(),
        ("flac", _) => "FLAC".to_owned(),
        ("ogg", Family::Vorbis | Family::Opus | Family::Lossless) => {
            format!("Ogg {}", codec_label(family, codec))
        }
        _ => format!("{} in {label}", codec_label(family, codec)),
    };
    let timing = if short == "aac" {
        "raw ADTS has no index, so players estimate positions from the bitrate and annotation timings would drift"
    } else {
        "the hub needs constant-bitrate audio for exact annotation timing"
    };

    let mut verdict = BitrateMode::Constant;
    let mut not_convertible_because = None;
    match family {
        Family::Pcm => {
            if short == "aiff" {
                problems.push(Problem::warning(
                    ProblemCode::AudioNeedsConversion,
                    "AIFF is constant-bitrate PCM, but browsers other than Safari may not play it",
                ));
            }
        }
        Family::Adpcm => problems.push(Problem::error(
            ProblemCode::AudioNeedsConversion,
            format!(
                "{} in {label} is constant-bitrate, but browser support for ADPCM is patchy",
                super::adpcm_label(codec)
            ),
        )),
        Family::Mpeg => {
            let distinct = pk.mpeg.len();
            if pk.mpeg_bad > 0 || distinct != 1 || pk.mpeg.contains_key(&0) {
                verdict = BitrateMode::Variable;
                let joined = (1..=8).contains(&pk.mpeg_changes) && pk.count >= 20 * pk.mpeg_changes;
                problems.push(Problem::error(
                    ProblemCode::VariableBitrate,
                    format!(
                        "{}: {timing}",
                        super::mpeg_variable_fact(&in_label, &pk.mpeg, pk.mpeg_changes, joined)
                    ),
                ));
            }
        }
        Family::Aac | Family::Opus => {
            if !pk.same_size() {
                verdict = BitrateMode::Variable;
                let what = if family == Family::Opus {
                    format!("variable-bitrate {in_label}: packets vary in size{sizes}, so it was encoded as VBR or constrained VBR, not hard CBR")
                } else {
                    format!("variable-bitrate {in_label}: packets vary in size{sizes}")
                };
                problems.push(Problem::error(
                    ProblemCode::VariableBitrate,
                    format!("{what}; {timing}"),
                ));
            }
        }
        Family::Vorbis => {
            verdict = BitrateMode::Variable;
            let mode = match params.extra_data.as_deref().and_then(vorbis_bitrates) {
                Some((max, nom, min)) if max > 0 && max == nom && nom == min => {
                    format!(", even in managed {} kb/s mode", nom / 1000)
                }
                Some((_, nom, _)) if nom > 0 => format!(", nominal {} kb/s", nom / 1000),
                _ => String::new(),
            };
            problems.push(Problem::error(
                ProblemCode::VariableBitrate,
                format!(
                    "{in_label} is variable-bitrate at the packet level{mode}{sizes}; {timing}"
                ),
            ));
        }
        Family::Lossless => {
            verdict = BitrateMode::Variable;
            problems.push(Problem::error(
                ProblemCode::VariableBitrate,
                format!(
                    "{in_label} is lossless, so its bitrate follows the content{sizes}; {timing}"
                ),
            ));
        }
        Family::Other => {
            verdict = BitrateMode::Variable;
            not_convertible_because = Some(format!(
                "no decoder for this codec ({:?}) is built in",
                params.codec
            ));
            problems.push(Problem::error(
                ProblemCode::UndecodableAudio,
                format!("the {label} file holds an audio codec this tool does not know, so its bitrate cannot be checked"),
            ));
        }
    }
    if family == Family::Opus {
        not_convertible_because =
            Some("there is no Opus decoder built in (symphonia has none); re-encode it yourself with opusenc --hard-cbr or to WAV".to_owned());
    } else if not_convertible_because.is_none() && !decodable(params.codec) {
        not_convertible_because = Some(format!("there is no {codec} decoder built in"));
    }
    if family == Family::Mpeg && pk.mpeg.contains_key(&0) {
        not_convertible_because = Some("free-format MP3 cannot be decoded".to_owned());
    }

    let bitrate = match family {
        Family::Pcm => {
            let bits = params.bits_per_coded_sample.or(params.bits_per_sample);
            match (sample_rate, channels, bits) {
                (Some(sr), Some(ch), Some(b)) => Some(u64::from(sr) * u64::from(ch) * u64::from(b)),
                _ => average(pk.bytes, duration),
            }
        }
        Family::Mpeg if verdict == BitrateMode::Constant => {
            pk.mpeg.keys().next().map(|k| u64::from(*k) * 1000)
        }
        _ if pk.count > 0 => average(pk.bytes, duration),
        _ => average(end - start, duration),
    };

    let convertible = not_convertible_because.is_none();
    AudioProbe {
        info: Some(AudioInfo {
            codec: codec.to_owned(),
            bitrate_mode: verdict,
            bitrate,
            duration_seconds: duration,
        }),
        problems,
        convertible,
        detail: AudioDetail {
            container: Some(container_id(short).to_owned()),
            sample_rate,
            channels,
            frames: (pk.count > 0).then_some(pk.count),
            samples: if pk.mpeg_samples > 0 {
                Some(pk.mpeg_samples)
            } else {
                known_len
            },
            frame_bitrates: pk.mpeg.clone(),
            bitrate_changes: if family == Family::Mpeg {
                pk.mpeg_changes
            } else {
                0
            },
            packet_bytes: packet_range,
            window_kbps,
            not_convertible_because,
            ..AudioDetail::default()
        },
    }
}

fn average(bytes: u64, duration: Option<f64>) -> Option<u64> {
    duration
        .filter(|d| *d > 0.0)
        .map(|d| (bytes as f64 * 8.0 / d).round() as u64)
}

fn codec_label(family: Family, codec: &str) -> String {
    match family {
        Family::Pcm => "PCM".to_owned(),
        Family::Adpcm => "ADPCM".to_owned(),
        Family::Aac => "AAC".to_owned(),
        Family::Vorbis => "Vorbis".to_owned(),
        Family::Opus => "Opus".to_owned(),
        Family::Mpeg | Family::Lossless | Family::Other => codec.to_uppercase(),
    }
}

/// Seconds of audio, from sample counts where possible.
fn duration_seconds(
    pk: &Packets,
    family: Family,
    known_len: Option<u64>,
    sample_rate: Option<u32>,
    channels: Option<u16>,
    params: &symphonia::core::codecs::audio::AudioCodecParameters,
    tb: f64,
) -> Option<f64> {
    let sr = f64::from(sample_rate?);
    if family == Family::Mpeg && pk.mpeg_samples > 0 {
        let rate = pk.mpeg_first.map_or(sr, |h| f64::from(h.sample_rate));
        return Some(pk.mpeg_samples as f64 / rate);
    }
    if let Some(n) = known_len {
        return Some(n as f64 / sr);
    }
    if pk.dur_sum > 0 && tb > 0.0 {
        return Some(pk.dur_sum as f64 * tb);
    }
    match family {
        Family::Opus if pk.est_samples > 0 => {
            // Opus always runs at 48 kHz; take off the pre-skip from the OpusHead.
            let pre_skip = params
                .extra_data
                .as_deref()
                .filter(|e| e.len() >= 12 && e.starts_with(b"OpusHead"))
                .map_or(0, |e| u64::from(u16::from_le_bytes([e[10], e[11]])));
            return Some(pk.est_samples.saturating_sub(pre_skip) as f64 / 48_000.0);
        }
        Family::Aac if pk.est_samples > 0 => return Some(pk.est_samples as f64 / sr),
        Family::Pcm => {
            let bits = params.bits_per_coded_sample.or(params.bits_per_sample)?;
            let frame_bytes = u64::from(channels?) * u64::from(bits).div_ceil(8);
            if frame_bytes > 0 && pk.bytes > 0 {
                return Some((pk.bytes / frame_bytes) as f64 / sr);
            }
        }
        _ => {}
    }
    // Last resort: the span of timestamps, stretched by one average packet.
    let first = pk.first_pts?;
    (pk.count >= 2 && tb > 0.0).then(|| {
        let span = pk.last_pts.saturating_sub(first) as f64 * tb;
        span * pk.count as f64 / (pk.count - 1) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_toc_durations() {
        // CELT 20 ms, one frame.
        assert_eq!(opus_packet_samples(&[31 << 3]), 960);
        // SILK 60 ms, two frames.
        assert_eq!(opus_packet_samples(&[(3 << 3) | 1]), 5760);
        // Code 3: frame count in the second byte.
        assert_eq!(opus_packet_samples(&[(16 << 3) | 3, 0x05]), 600);
        assert_eq!(opus_packet_samples(&[]), 0);
    }

    #[test]
    fn vorbis_header_fields() {
        let mut h = b"\x01vorbis".to_vec();
        h.extend([0, 0, 0, 0, 2, 0x44, 0xAC, 0, 0]);
        for v in [128_000i32, 128_000, 128_000] {
            h.extend(v.to_le_bytes());
        }
        assert_eq!(vorbis_bitrates(&h), Some((128_000, 128_000, 128_000)));
        assert_eq!(vorbis_bitrates(b"nothing here"), None);
    }

    #[test]
    fn same_size_allows_a_different_last_packet() {
        let mut p = Packets::default();
        for size in [160, 160, 160, 97] {
            p.add(&vec![0; size], Family::Opus, 0, 0, 0, 0.0);
        }
        assert!(p.same_size());
        p.add(&[0; 160], Family::Opus, 0, 0, 0, 0.0);
        assert!(!p.same_size());
    }
}
