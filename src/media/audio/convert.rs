//! The fix for audio that is not constant-bitrate: decode with symphonia and stream 16-bit PCM WAV
//! out with hound (reference §7). One decoded packet is in memory at a time, and the output goes
//! to a temporary file next to the destination that is renamed into place only on success.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::default::formats::MpaReader;

use super::source::RangeSource;
use super::{container, inspect, Route};
use crate::media::Severity;

/// What [`convert_to_wav`] wrote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvertSummary {
    /// Sample frames (samples per channel) written.
    pub frames: u64,
    /// Sample rate of the WAV in Hz.
    pub sample_rate: u32,
    /// Channels of the WAV.
    pub channels: u16,
    /// `frames / sample_rate`.
    pub duration_seconds: f64,
}

/// Why a conversion to WAV failed. Each variant names the file; the cause, where there is one, is
/// the error's source.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The source could not be opened or read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The source file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The source is not something this tool can decode (Opus, free-format MP3, not audio, …).
    #[error("cannot convert {} to WAV: {reason}", path.display())]
    NotConvertible {
        /// The source file.
        path: PathBuf,
        /// Why, for people.
        reason: String,
    },
    /// symphonia could not read the container or stream.
    #[error("cannot read the audio stream of {}", path.display())]
    Demux {
        /// The source file.
        path: PathBuf,
        /// symphonia's error.
        #[source]
        source: SymError,
    },
    /// symphonia could not set up a decoder or failed in a way it cannot recover from.
    #[error("cannot decode the audio of {}", path.display())]
    Decode {
        /// The source file.
        path: PathBuf,
        /// symphonia's error.
        #[source]
        source: SymError,
    },
    /// The sample rate or channel count changes partway (e.g. chained Ogg streams); one WAV cannot
    /// hold that.
    #[error("{} changes its sample rate or channel count partway, which one WAV file cannot hold", path.display())]
    FormatChanged {
        /// The source file.
        path: PathBuf,
    },
    /// The decoder panicked on this file (a damaged file meeting a decoder bug).
    #[error("the audio decoder crashed on {}; the file is probably damaged", path.display())]
    Crashed {
        /// The source file.
        path: PathBuf,
    },
    /// Decoding produced no audio at all.
    #[error("{} decoded to no audio", path.display())]
    NoAudio {
        /// The source file.
        path: PathBuf,
    },
    /// The audio needs more than the 4 GiB a RIFF WAV can hold (about 6.7 h of stereo 44.1 kHz).
    #[error("{} is too long for one WAV file (more than 4 GiB of 16-bit PCM)", path.display())]
    TooLong {
        /// The source file.
        path: PathBuf,
    },
    /// The temporary output file next to the destination could not be created.
    #[error("cannot create a temporary file next to {}", path.display())]
    TempFile {
        /// The destination.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// Writing the WAV failed.
    #[error("cannot write the WAV for {}", path.display())]
    Write {
        /// The destination.
        path: PathBuf,
        /// hound's error.
        #[source]
        source: hound::Error,
    },
    /// The finished WAV could not be renamed to the destination.
    #[error("cannot move the converted WAV into place at {}", path.display())]
    Persist {
        /// The destination.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
}

/// Largest data chunk hound can describe (its sizes are 32-bit), with room for the header.
const MAX_WAV_DATA: u64 = u32::MAX as u64 - 1024;

/// Decode with symphonia and write 16-bit PCM WAV with hound, streaming (bounded memory: never
/// the whole file in memory). Writes to a temp file next to `dst` and renames it on success.
pub fn convert_to_wav(src: &Path, dst: &Path) -> Result<ConvertSummary, AudioError> {
    let read_err = |source| AudioError::Read {
        path: src.to_path_buf(),
        source,
    };
    drop(File::open(src).map_err(read_err)?);
    let (probe, route) = inspect(src);
    let route = match route {
        Some(r) if probe.convertible => r,
        _ => {
            let reason = probe
                .detail
                .not_convertible_because
                .or_else(|| {
                    probe
                        .problems
                        .iter()
                        .find(|p| p.severity == Severity::Error)
                        .map(|p| p.message.clone())
                })
                .unwrap_or_else(|| "it is not audio this tool can decode".to_owned());
            return Err(AudioError::NotConvertible {
                path: src.to_path_buf(),
                reason,
            });
        }
    };
    let file = File::open(src).map_err(read_err)?;
    // symphonia is not proven panic-free on damaged input; one bad file must not end a batch.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        open_and_decode(file, route, src, dst)
    }))
    .unwrap_or_else(|_| {
        Err(AudioError::Crashed {
            path: src.to_path_buf(),
        })
    })
}

fn open_and_decode(
    file: File,
    route: Route,
    src: &Path,
    dst: &Path,
) -> Result<ConvertSummary, AudioError> {
    let demux = |source| AudioError::Demux {
        path: src.to_path_buf(),
        source,
    };
    let mut reader: Box<dyn FormatReader> = match route {
        Route::Mpeg { start, end } => {
            let range = RangeSource::new(file, start, end).map_err(|source| AudioError::Read {
                path: src.to_path_buf(),
                source,
            })?;
            let mss = MediaSourceStream::new(Box::new(range), MediaSourceStreamOptions::default());
            Box::new(MpaReader::try_new(mss, FormatOptions::default()).map_err(demux)?)
        }
        Route::Container {
            start,
            end,
            extension,
        } => container::open(file, start, end, extension.as_deref()).map_err(demux)?,
    };
    decode_into_wav(reader.as_mut(), src, dst)
}

fn decode_into_wav(
    reader: &mut dyn FormatReader,
    src: &Path,
    dst: &Path,
) -> Result<ConvertSummary, AudioError> {
    let no_audio = || AudioError::NoAudio {
        path: src.to_path_buf(),
    };
    let track = reader
        .default_track(TrackType::Audio)
        .cloned()
        .ok_or_else(no_audio)?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|c| c.audio())
        .cloned()
        .ok_or_else(no_audio)?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|source| AudioError::Decode {
            path: src.to_path_buf(),
            source,
        })?;

    let dir = match dst.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".assetdrop-").suffix(".wav.part");
    // An ordinary file once renamed (temp files default to owner-only); the umask still applies.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let tmp = builder
        .tempfile_in(dir)
        .map_err(|source| AudioError::TempFile {
            path: dst.to_path_buf(),
            source,
        })?;
    let write_err = |source| AudioError::Write {
        path: dst.to_path_buf(),
        source,
    };
    let out = tmp
        .as_file()
        .try_clone()
        .map_err(|e| write_err(hound::Error::IoError(e)))?;

    let mut writer: Option<hound::WavWriter<BufWriter<File>>> = None;
    let mut spec = (0u32, 0u16);
    let mut samples: Vec<i16> = Vec::new();
    let mut frames = 0u64;
    let mut out_file = Some(out);
    loop {
        let packet = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A cut last packet: keep what came before, as players do.
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => {
                return Err(AudioError::FormatChanged {
                    path: src.to_path_buf(),
                })
            }
            Err(source) => {
                return Err(AudioError::Demux {
                    path: src.to_path_buf(),
                    source,
                })
            }
        };
        if packet.track_id != track.id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A damaged packet: skip it, as players do.
            Err(SymError::DecodeError(_) | SymError::IoError(_)) => continue,
            Err(SymError::ResetRequired) => {
                return Err(AudioError::FormatChanged {
                    path: src.to_path_buf(),
                })
            }
            Err(source) => {
                return Err(AudioError::Decode {
                    path: src.to_path_buf(),
                    source,
                })
            }
        };
        let n = decoded.frames() as u64;
        if n == 0 {
            continue;
        }
        let this = (
            decoded.spec().rate(),
            decoded.spec().channels().count() as u16,
        );
        if writer.is_none() {
            let Some(file) = out_file.take() else {
                return Err(no_audio());
            };
            // A WAV header stores bytes per second in 32 bits; a damaged stream can claim more.
            if u64::from(this.0) * u64::from(this.1) * 2 > u64::from(u32::MAX) {
                return Err(AudioError::NotConvertible {
                    path: src.to_path_buf(),
                    reason: format!(
                        "the decoded audio claims an impossible format ({} Hz, {} channels)",
                        this.0, this.1
                    ),
                });
            }
            spec = this;
            let wav_spec = hound::WavSpec {
                channels: this.1,
                sample_rate: this.0,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            writer =
                Some(hound::WavWriter::new(BufWriter::new(file), wav_spec).map_err(write_err)?);
        } else if this != spec {
            return Err(AudioError::FormatChanged {
                path: src.to_path_buf(),
            });
        }
        let Some(w) = writer.as_mut() else {
            return Err(no_audio());
        };
        if (frames + n) * u64::from(spec.1) * 2 > MAX_WAV_DATA {
            return Err(AudioError::TooLong {
                path: src.to_path_buf(),
            });
        }
        decoded.copy_to_vec_interleaved::<i16>(&mut samples);
        let mut w16 = w.get_i16_writer(samples.len() as u32);
        for &s in &samples {
            w16.write_sample(s);
        }
        w16.flush().map_err(write_err)?;
        frames += n;
    }
    let Some(writer) = writer else {
        return Err(no_audio());
    };
    writer.finalize().map_err(write_err)?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| write_err(hound::Error::IoError(e)))?;
    tmp.persist(dst).map_err(|e| AudioError::Persist {
        path: dst.to_path_buf(),
        source: e.error,
    })?;
    Ok(ConvertSummary {
        frames,
        sample_rate: spec.0,
        channels: spec.1,
        duration_seconds: frames as f64 / f64::from(spec.0),
    })
}
