//! Hand-written MPEG audio frame walker (reference `audio-cbr.md` §2.1): header parsing, the
//! Xing/Info/VBRI tag frame, free format, `ID3v2` skipping, tails and junk. It streams the file in
//! 1 MiB windows, so a file of any size costs one window of memory.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};

use serde::Serialize;

/// Size of one read window.
pub(crate) const WINDOW: usize = 1 << 20;
/// Give up looking for the first frame after this many bytes of junk.
pub(crate) const MAX_LEADING_JUNK: u64 = 1 << 20;
/// Longest free-format frame searched for (MPEG-2.5 at 8 kHz and 640 kb/s is 5760 bytes).
const MAX_FREE_FRAME: usize = 8192;

/// MPEG audio version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    Mpeg1,
    Mpeg2,
    Mpeg25,
}

/// MPEG audio layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layer {
    L1,
    L2,
    L3,
}

/// One parsed 4-byte MPEG audio frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub version: Version,
    pub layer: Layer,
    /// A 16-bit CRC follows the header.
    pub protected: bool,
    /// Bits 12–15: 0 is free format.
    pub bitrate_index: u8,
    /// Bitrate in kb/s (0 for free format).
    pub bitrate_kbps: u32,
    pub sample_rate: u32,
    pub padding: bool,
    pub mono: bool,
    /// The header bytes, for comparing fixed fields.
    pub raw: [u8; 4],
}

const BITRATES_V1: [[u32; 15]; 3] = [
    [
        0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
    ],
    [
        0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
    ],
    [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ],
];
const BITRATES_V2: [[u32; 15]; 3] = [
    [
        0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
    ],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];

impl FrameHeader {
    /// Parses a header; `None` unless it is a valid MPEG audio header (sync, version not `01`,
    /// layer not `00`, bitrate index not 15, sample-rate index not 3, emphasis not `10`).
    pub fn parse(b: [u8; 4]) -> Option<Self> {
        if b[0] != 0xFF || b[1] & 0xE0 != 0xE0 {
            return None;
        }
        let version = match (b[1] >> 3) & 3 {
            0 => Version::Mpeg25,
            2 => Version::Mpeg2,
            3 => Version::Mpeg1,
            _ => return None,
        };
        let layer = match (b[1] >> 1) & 3 {
            1 => Layer::L3,
            2 => Layer::L2,
            3 => Layer::L1,
            _ => return None,
        };
        let bitrate_index = b[2] >> 4;
        let sr_index = (b[2] >> 2) & 3;
        if bitrate_index == 15 || sr_index == 3 || b[3] & 3 == 2 {
            return None;
        }
        let layer_row = match layer {
            Layer::L1 => 0,
            Layer::L2 => 1,
            Layer::L3 => 2,
        };
        let bitrate_kbps = if version == Version::Mpeg1 {
            BITRATES_V1[layer_row][usize::from(bitrate_index)]
        } else {
            BITRATES_V2[layer_row][usize::from(bitrate_index)]
        };
        let base_rate = [44_100, 48_000, 32_000][usize::from(sr_index)];
        let sample_rate = match version {
            Version::Mpeg1 => base_rate,
            Version::Mpeg2 => base_rate / 2,
            Version::Mpeg25 => base_rate / 4,
        };
        Some(Self {
            version,
            layer,
            protected: b[1] & 1 == 0,
            bitrate_index,
            bitrate_kbps,
            sample_rate,
            padding: (b[2] >> 1) & 1 == 1,
            mono: b[3] >> 6 == 3,
            raw: b,
        })
    }

    /// Samples per channel in one frame.
    pub fn samples(&self) -> u32 {
        match (self.layer, self.version) {
            (Layer::L1, _) => 384,
            (Layer::L2, _) | (Layer::L3, Version::Mpeg1) => 1152,
            (Layer::L3, _) => 576,
        }
    }

    /// Bytes the padding bit adds.
    pub fn pad_bytes(&self) -> u32 {
        match (self.padding, self.layer) {
            (false, _) => 0,
            (true, Layer::L1) => 4,
            (true, _) => 1,
        }
    }

    /// Frame length in bytes, header included; `None` for free format.
    pub fn frame_len(&self) -> Option<u32> {
        if self.bitrate_index == 0 {
            return None;
        }
        let br = self.bitrate_kbps * 1000;
        let sr = self.sample_rate;
        Some(match (self.layer, self.version) {
            (Layer::L1, _) => (12 * br / sr) * 4 + self.pad_bytes(),
            (Layer::L2, _) | (Layer::L3, Version::Mpeg1) => 144 * br / sr + self.pad_bytes(),
            (Layer::L3, _) => 72 * br / sr + self.pad_bytes(),
        })
    }

    /// Free-format frame length without padding → kb/s (rounded).
    pub fn free_format_kbps(&self, nominal_len: u32) -> u32 {
        let bytes_per_sample_unit = match (self.layer, self.version) {
            (Layer::L1, _) => 48, // (12·br/sr)·4 bytes
            (Layer::L2, _) | (Layer::L3, Version::Mpeg1) => 144,
            (Layer::L3, _) => 72,
        };
        let bits_per_second =
            u64::from(nominal_len) * u64::from(self.sample_rate) / bytes_per_sample_unit;
        ((bits_per_second + 500) / 1000) as u32
    }

    /// Layer III side-information length in bytes.
    pub fn side_info_len(&self) -> usize {
        match (self.version == Version::Mpeg1, self.mono) {
            (true, true) | (false, false) => 17,
            (true, false) => 32,
            (false, true) => 9,
        }
    }

    /// Same version, layer and sample rate: frames of one stream.
    pub fn same_stream(&self, other: &Self) -> bool {
        self.version == other.version
            && self.layer == other.layer
            && self.sample_rate == other.sample_rate
    }

    /// Channel count.
    pub fn channels(&self) -> u16 {
        if self.mono {
            1
        } else {
            2
        }
    }

    /// Short codec name: `mp1`, `mp2` or `mp3`.
    pub fn codec(&self) -> &'static str {
        match self.layer {
            Layer::L1 => "mp1",
            Layer::L2 => "mp2",
            Layer::L3 => "mp3",
        }
    }

    /// Fixed fields that stay the same from frame to frame in a free-format stream.
    fn fixed_fields_match(&self, b: &[u8]) -> bool {
        b.len() >= 4
            && b[0] == self.raw[0]
            && b[1] == self.raw[1]
            && b[2] & 0xFC == self.raw[2] & 0xFC
            && b[3] & 0xCF == self.raw[3] & 0xCF
    }
}

/// Kind of the tag frame at the start of an MP3 stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VbrTagKind {
    /// `Xing`: the encoder says VBR or ABR.
    Xing,
    /// `Info`: the encoder says CBR (a hint only: a stream can be edited after encoding).
    Info,
    /// Fraunhofer `VBRI`: VBR.
    Vbri,
}

/// The Xing/Info/VBRI tag frame found at the start of an MP3 stream (a hint, never the verdict).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VbrTag {
    /// Which tag.
    pub kind: VbrTagKind,
    /// Frame count the tag claims, if it has one.
    pub frames: Option<u32>,
    /// Encoder string of the LAME extension (e.g. `LAME3.100`), if present.
    pub encoder: Option<String>,
    /// LAME VBR method (low nibble): 1 CBR, 2 ABR, 3–6 VBR, 8 CBR 2-pass, 9 ABR 2-pass, 0 unknown.
    pub vbr_method: Option<u8>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Looks for a Xing/Info tag (after the side information, also 2 bytes further for a CRC) or a
/// VBRI tag (byte 36) in the first frame `frame` (header included).
pub(crate) fn parse_tag(frame: &[u8], h: &FrameHeader) -> Option<VbrTag> {
    if h.layer != Layer::L3 {
        return None;
    }
    let base = 4 + h.side_info_len();
    let offsets = if h.protected {
        [base + 2, base]
    } else {
        [base, base + 2]
    };
    for off in offsets {
        let kind = match frame.get(off..off + 4) {
            Some(b"Xing") => VbrTagKind::Xing,
            Some(b"Info") => VbrTagKind::Info,
            _ => continue,
        };
        let Some(flags) = be32(frame, off + 4) else {
            continue;
        };
        let mut p = off + 8;
        let mut frames = None;
        if flags & 1 != 0 {
            frames = be32(frame, p);
            p += 4;
        }
        if flags & 2 != 0 {
            p += 4;
        }
        if flags & 4 != 0 {
            p += 100;
        }
        if flags & 8 != 0 {
            p += 4;
        }
        let (encoder, vbr_method) = match frame.get(p..p + 10) {
            Some(ext)
                if ext[0].is_ascii_alphabetic()
                    && ext[..9].iter().all(|c| (0x20..0x7F).contains(c)) =>
            {
                let name = String::from_utf8_lossy(&ext[..9]).trim_end().to_owned();
                (Some(name), Some(ext[9] & 0x0F))
            }
            _ => (None, None),
        };
        return Some(VbrTag {
            kind,
            frames,
            encoder,
            vbr_method,
        });
    }
    if frame.get(36..40) == Some(b"VBRI") {
        return Some(VbrTag {
            kind: VbrTagKind::Vbri,
            frames: be32(frame, 36 + 14),
            encoder: None,
            vbr_method: None,
        });
    }
    None
}

/// Size of an `ID3v2` tag starting at `b[0]` (header, body and footer), if `b` starts one.
pub(crate) fn id3v2_size(b: &[u8]) -> Option<u64> {
    if b.len() < 10
        || &b[..3] != b"ID3"
        || b[3] == 0xFF
        || b[4] == 0xFF
        || b[6..10].iter().any(|&x| x >= 0x80)
    {
        return None;
    }
    let body = b[6..10]
        .iter()
        .fold(0u64, |acc, &x| (acc << 7) | u64::from(x));
    let footer = if b[3] >= 4 && b[5] & 0x10 != 0 { 10 } else { 0 };
    Some(10 + body + footer)
}

/// What ended the walk before the end of the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Tail {
    /// A 128-byte `ID3v1` tag at the very end.
    Id3v1,
    /// An APEv1/v2 tag.
    Ape,
    /// A Lyrics3 tag.
    Lyrics3,
}

/// A structure (frame or `ID3v2` tag) that the region ends inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut {
    /// What was cut.
    pub what: &'static str,
    /// Bytes present.
    pub have: u64,
    /// Bytes it needs.
    pub need: u64,
}

/// Everything the walk found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mp3Scan {
    /// The first audio frame's header: the stream's version, layer and sample rate.
    pub first: Option<FrameHeader>,
    /// Audio frames (the tag frame not counted).
    pub frames: u64,
    /// Samples per channel over all audio frames.
    pub samples: u64,
    /// Sample rate → samples per channel at it.
    pub samples_by_rate: BTreeMap<u32, u64>,
    /// Times the stream's sample rate, MPEG version or layer changes (joined files).
    pub stream_changes: u64,
    /// Bytes of all audio frames.
    pub audio_bytes: u64,
    /// kb/s → frame count (0 = free format).
    pub bitrates: BTreeMap<u32, u64>,
    /// Bitrate-index changes between consecutive frames.
    pub changes: u64,
    /// Free-format frame length without padding.
    pub free_format_len: Option<u32>,
    /// The tag frame, if the first frame is one.
    pub tag: Option<VbrTag>,
    /// Bytes skipped as junk (before, between or after frames).
    pub junk_bytes: u64,
    /// Zero bytes before the first frame: padding, as stream captures have, not damage.
    pub padding_bytes: u64,
    /// Bytes of `ID3v2` tags skipped.
    pub id3v2_bytes: u64,
    /// The region ends inside a frame or tag.
    pub cut: Option<Cut>,
    /// A tail tag that ended the walk.
    pub tail: Option<Tail>,
    /// Offset of the first frame (the tag frame, if any).
    pub audio_start: u64,
    /// Offset of the first audio frame (after the tag frame, if any).
    pub first_audio: u64,
    /// Offset just past the last frame.
    pub audio_end: u64,
    /// The walk gave up looking for a first frame after [`MAX_LEADING_JUNK`] bytes.
    pub gave_up: bool,
}

impl Mp3Scan {
    /// Free format anywhere in the stream.
    pub fn is_free_format(&self) -> bool {
        self.bitrates.contains_key(&0)
    }

    /// One distinct, non-free bitrate, and one stream throughout.
    pub fn is_constant(&self) -> bool {
        self.bitrates.len() == 1 && !self.is_free_format() && self.stream_changes == 0
    }

    /// Few bitrate changes over many frames: several CBR parts joined (only improves the message).
    ///
    /// The reference (§2.1) asks for at most 8 changes over more than 100 frames; this asks for
    /// at least 20 frames per change, so that short files (2-second fixtures) read the same way.
    pub fn looks_joined(&self) -> bool {
        (1..=8).contains(&self.changes) && self.frames >= 20 * self.changes
    }

    /// Seconds from the frame count: samples / sample rate.
    pub fn duration_seconds(&self) -> Option<f64> {
        (self.frames > 0).then(|| {
            self.samples_by_rate
                .iter()
                .map(|(rate, n)| *n as f64 / f64::from(*rate))
                .sum()
        })
    }

    /// Where a decoder should start: at the tag frame when its frame count matches the frames
    /// (so that gapless trimming applies), else at the first audio frame, because a decoder that
    /// trusts a stale tag stops early (an `Info` tag in front of joined files).
    pub fn decode_start(&self) -> u64 {
        match &self.tag {
            Some(t) if t.frames.is_some_and(|n| u64::from(n) != self.frames) => self.first_audio,
            _ => self.audio_start,
        }
    }

    /// Average bits per second over the audio frames.
    pub fn average_bitrate(&self) -> Option<u64> {
        let secs = self.duration_seconds()?;
        (secs > 0.0).then(|| (self.audio_bytes as f64 * 8.0 / secs).round() as u64)
    }
}

/// A bounded read window over `[.., end)` of a seekable source.
pub(crate) struct Window<R> {
    src: R,
    buf: Vec<u8>,
    base: u64,
    end: u64,
    src_pos: Option<u64>,
}

impl<R: Read + Seek> Window<R> {
    pub fn new(src: R, end: u64) -> Self {
        Self {
            src,
            buf: Vec::new(),
            base: 0,
            end,
            src_pos: None,
        }
    }

    /// End of the region (lowered if the source turns out shorter).
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Up to `n` (≤ [`WINDOW`]) bytes from `pos`; fewer only at the end of the region.
    pub fn get(&mut self, pos: u64, n: usize) -> io::Result<&[u8]> {
        if pos >= self.end {
            return Ok(&[]);
        }
        let want_end = pos.saturating_add(n.min(WINDOW) as u64).min(self.end);
        let buf_end = self.base + self.buf.len() as u64;
        if pos < self.base || want_end > buf_end {
            self.fill(pos)?;
        }
        let start = (pos - self.base) as usize;
        let stop =
            ((want_end.min(self.end) - self.base) as usize).clamp(start, self.buf.len().max(start));
        Ok(self.buf.get(start..stop).unwrap_or(&[]))
    }

    fn fill(&mut self, pos: u64) -> io::Result<()> {
        if self.src_pos != Some(pos) {
            self.src.seek(SeekFrom::Start(pos))?;
        }
        let want = (self.end - pos).min(WINDOW as u64) as usize;
        self.buf.clear();
        self.buf.resize(want, 0);
        let mut got = 0;
        while got < want {
            match self.src.read(&mut self.buf[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.src_pos = None;
                    return Err(e);
                }
            }
        }
        self.buf.truncate(got);
        self.base = pos;
        self.src_pos = Some(pos + got as u64);
        if got < want {
            self.end = pos + got as u64;
        }
        Ok(())
    }
}

/// Bytes at which a skip over junk stops to look again: a possible frame or tag start.
fn is_candidate(b: u8) -> bool {
    matches!(b, 0xFF | b'T' | b'A' | b'L' | b'I')
}

fn next_candidate<R: Read + Seek>(w: &mut Window<R>, from: u64) -> io::Result<u64> {
    let mut p = from;
    loop {
        if p >= w.end() {
            return Ok(w.end());
        }
        let chunk = w.get(p, 64 * 1024)?;
        if chunk.is_empty() {
            return Ok(w.end());
        }
        if let Some(i) = chunk.iter().position(|&b| is_candidate(b)) {
            return Ok(p + i as u64);
        }
        p += chunk.len() as u64;
    }
}

/// Whether every byte in `from..to` is zero.
fn all_zero<R: Read + Seek>(w: &mut Window<R>, from: u64, to: u64) -> io::Result<bool> {
    let mut p = from;
    while p < to {
        let chunk = w.get(p, (to - p).min(64 * 1024) as usize)?;
        if chunk.is_empty() {
            return Ok(true);
        }
        if chunk.iter().any(|b| *b != 0) {
            return Ok(false);
        }
        p += chunk.len() as u64;
    }
    Ok(true)
}

/// A tail tag or `ID3v2` tag at `pos`: `Some(Ok(tail))` ends the walk, `Some(Err(size))` skips.
fn tag_at(b: &[u8], pos: u64, end: u64) -> Option<Result<Tail, u64>> {
    if b.starts_with(b"TAG") && end - pos == 128 {
        Some(Ok(Tail::Id3v1))
    } else if b.starts_with(b"APETAGEX") {
        Some(Ok(Tail::Ape))
    } else if b.starts_with(b"LYRICSBEGIN") {
        Some(Ok(Tail::Lyrics3))
    } else {
        id3v2_size(b).map(Err)
    }
}

/// Free-format frame length without padding: the distance to the next header with the same fixed
/// fields, minus this frame's padding, confirmed by the frame after that.
fn find_free_len<R: Read + Seek>(
    w: &mut Window<R>,
    pos: u64,
    h: &FrameHeader,
) -> io::Result<Option<u32>> {
    let data = w.get(pos, MAX_FREE_FRAME + 8)?.to_vec();
    let min = 4 + h.side_info_len();
    for i in min..data.len().saturating_sub(3) {
        if data[i] != 0xFF || !h.fixed_fields_match(&data[i..]) {
            continue;
        }
        let Some(nominal) = (i as u32).checked_sub(h.pad_bytes()) else {
            continue;
        };
        let Some(h2) = FrameHeader::parse([data[i], data[i + 1], data[i + 2], data[i + 3]]) else {
            continue;
        };
        let third = pos + i as u64 + u64::from(nominal + h2.pad_bytes());
        if third >= w.end() {
            return Ok(Some(nominal));
        }
        let b = w.get(third, 4)?;
        if h.fixed_fields_match(b) {
            return Ok(Some(nominal));
        }
        // `w.get` may have moved the window; `data` is our own copy, so the search goes on.
    }
    Ok(None)
}

/// Checks that what follows a frame of `len` bytes at `pos` is a frame of the same stream, a tag,
/// or the end of the region.
fn confirmed<R: Read + Seek>(
    w: &mut Window<R>,
    pos: u64,
    len: u32,
    h: &FrameHeader,
    have_first: bool,
) -> io::Result<bool> {
    let next = pos + u64::from(len);
    let end = w.end();
    if next == end {
        return Ok(true);
    }
    if next > end {
        // A cut last frame after junk still belongs to the stream.
        return Ok(have_first);
    }
    let b = w.get(next, 16)?;
    if tag_at(b, next, end).is_some() {
        return Ok(true);
    }
    Ok(b.len() >= 4
        && FrameHeader::parse([b[0], b[1], b[2], b[3]]).is_some_and(|h2| {
            h2.same_stream(h) && (h2.bitrate_index == 0) == (h.bitrate_index == 0)
        }))
}

/// Walks every MPEG audio frame in `[start, end)` of `src`.
pub(crate) fn walk<R: Read + Seek>(src: R, start: u64, end: u64) -> io::Result<Mp3Scan> {
    let mut w = Window::new(src, end);
    let mut scan = Mp3Scan {
        audio_start: start,
        audio_end: start,
        ..Mp3Scan::default()
    };
    let mut pos = start;
    let mut synced = false;
    let mut prev_index: Option<u8> = None;
    let mut prev: Option<FrameHeader> = None;
    while pos < w.end() {
        let mut head = [0u8; 16];
        let got = {
            let b = w.get(pos, 16)?;
            head[..b.len()].copy_from_slice(b);
            b.len()
        };
        if got >= 4 {
            if let Some(h) = FrameHeader::parse([head[0], head[1], head[2], head[3]]) {
                // A frame of another stream (sample rate, version, layer) is taken only when
                // the frame after it confirms it: joined files, not a damaged header.
                let same = prev.is_none_or(|p| p.same_stream(&h));
                let nominal = match (h.frame_len(), scan.free_format_len) {
                    (Some(_), _) => Some(0),
                    (None, Some(n)) if same => Some(n),
                    (None, _) => find_free_len(&mut w, pos, &h)?,
                };
                if let Some(nominal) = nominal {
                    let len = h.frame_len().unwrap_or(nominal + h.pad_bytes());
                    if (synced && same) || confirmed(&mut w, pos, len, &h, scan.first.is_some())? {
                        let frame_end = pos + u64::from(len);
                        if frame_end > w.end() {
                            scan.cut = Some(Cut {
                                what: "frame",
                                have: w.end() - pos,
                                need: u64::from(len),
                            });
                            break;
                        }
                        if h.bitrate_index == 0 {
                            scan.free_format_len = Some(nominal);
                        }
                        if !same {
                            scan.stream_changes += 1;
                        }
                        prev = Some(h);
                        if scan.first.is_none() {
                            scan.first = Some(h);
                            scan.audio_start = pos;
                            let frame = w.get(pos, len as usize)?;
                            if let Some(tag) = parse_tag(frame, &h) {
                                scan.tag = Some(tag);
                                pos = frame_end;
                                scan.audio_end = pos;
                                synced = true;
                                continue;
                            }
                        }
                        if scan.frames == 0 {
                            scan.first_audio = pos;
                        }
                        scan.frames += 1;
                        scan.samples += u64::from(h.samples());
                        *scan.samples_by_rate.entry(h.sample_rate).or_insert(0) +=
                            u64::from(h.samples());
                        scan.audio_bytes += u64::from(len);
                        let kbps = if h.bitrate_index == 0 {
                            0
                        } else {
                            h.bitrate_kbps
                        };
                        *scan.bitrates.entry(kbps).or_insert(0) += 1;
                        if prev_index.is_some_and(|p| p != h.bitrate_index) {
                            scan.changes += 1;
                        }
                        prev_index = Some(h.bitrate_index);
                        pos = frame_end;
                        scan.audio_end = pos;
                        synced = true;
                        continue;
                    }
                }
            }
        }
        match tag_at(&head[..got], pos, w.end()) {
            Some(Ok(tail)) => {
                scan.tail = Some(tail);
                break;
            }
            Some(Err(size)) => {
                if pos + size > w.end() {
                    scan.cut = Some(Cut {
                        what: "ID3v2 tag",
                        have: w.end() - pos,
                        need: size,
                    });
                    break;
                }
                scan.id3v2_bytes += size;
                pos += size;
                synced = false;
                continue;
            }
            None => {}
        }
        if scan.first.is_none() && scan.junk_bytes + scan.padding_bytes >= MAX_LEADING_JUNK {
            scan.gave_up = true;
            break;
        }
        synced = false;
        let next = next_candidate(&mut w, pos + 1)?;
        if scan.first.is_none() && scan.junk_bytes == 0 && all_zero(&mut w, pos, next)? {
            scan.padding_bytes += next - pos;
        } else {
            scan.junk_bytes += next - pos;
        }
        pos = next;
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// MPEG-1 Layer III, 44.1 kHz, joint stereo, no CRC, with the given bitrate index and padding.
    fn header(index: u8, pad: bool) -> [u8; 4] {
        [0xFF, 0xFB, (index << 4) | (u8::from(pad) << 1), 0x64]
    }

    /// A whole frame (header, then zeros) of the header's length.
    fn frame(index: u8, pad: bool) -> Vec<u8> {
        let h = FrameHeader::parse(header(index, pad)).expect("valid header");
        let mut f = vec![0u8; h.frame_len().expect("not free") as usize];
        f[..4].copy_from_slice(&header(index, pad));
        f
    }

    fn stream(indices: &[u8]) -> Vec<u8> {
        indices
            .iter()
            .enumerate()
            .flat_map(|(i, &x)| frame(x, i % 3 == 1))
            .collect()
    }

    fn scan(bytes: &[u8]) -> Mp3Scan {
        walk(Cursor::new(bytes), 0, bytes.len() as u64).expect("in-memory walk")
    }

    #[test]
    fn header_fields_and_lengths() {
        let h = FrameHeader::parse(header(9, false)).expect("128 kb/s header");
        assert_eq!(
            (h.version, h.layer, h.bitrate_kbps, h.sample_rate),
            (Version::Mpeg1, Layer::L3, 128, 44_100)
        );
        assert_eq!(h.frame_len(), Some(417));
        assert_eq!(
            FrameHeader::parse(header(9, true)).and_then(|h| h.frame_len()),
            Some(418)
        );
        assert_eq!(
            FrameHeader::parse(header(10, false)).and_then(|h| h.frame_len()),
            Some(522)
        );
        assert_eq!(h.samples(), 1152);
        assert_eq!(h.side_info_len(), 32);
        assert_eq!(h.codec(), "mp3");
        // MPEG-2 Layer III 22.05 kHz mono 64 kb/s: 72·64000/22050 = 208 bytes, 576 samples.
        let h2 = FrameHeader::parse([0xFF, 0xF3, 0x80, 0xC4]).expect("MPEG-2 header");
        assert_eq!(
            (h2.version, h2.sample_rate, h2.bitrate_kbps, h2.mono),
            (Version::Mpeg2, 22_050, 64, true)
        );
        assert_eq!(
            (h2.frame_len(), h2.samples(), h2.side_info_len()),
            (Some(208), 576, 9)
        );
        // MPEG-2.5 8 kHz.
        let h25 = FrameHeader::parse([0xFF, 0xE3, 0x88, 0xC4]).expect("MPEG-2.5 header");
        assert_eq!((h25.version, h25.sample_rate), (Version::Mpeg25, 8_000));
        // Layer I, 32 kHz, 32 kb/s: (12·32000/32000)·4 = 48 bytes; padding adds 4.
        let l1 = FrameHeader::parse([0xFF, 0xFF, 0x18, 0x00]).expect("Layer I header");
        assert_eq!(
            (l1.layer, l1.frame_len(), l1.samples()),
            (Layer::L1, Some(48), 384)
        );
        let l1p = FrameHeader::parse([0xFF, 0xFF, 0x1A, 0x00]).expect("padded Layer I header");
        assert_eq!(l1p.frame_len(), Some(52));
        // Layer II 48 kHz 192 kb/s: 144·192000/48000 = 576.
        let l2 = FrameHeader::parse([0xFF, 0xFD, 0xA4, 0x00]).expect("Layer II header");
        assert_eq!((l2.layer, l2.frame_len()), (Layer::L2, Some(576)));
        // CRC-protected: bit 0 of byte 1 clear.
        assert!(FrameHeader::parse([0xFF, 0xFA, 0x90, 0x64]).is_some_and(|h| h.protected));
        // Free format has no length in the header.
        assert_eq!(
            FrameHeader::parse(header(0, false)).and_then(|h| h.frame_len()),
            None
        );
    }

    #[test]
    fn header_rejects_invalid_fields() {
        assert!(
            FrameHeader::parse([0xFE, 0xFB, 0x90, 0x64]).is_none(),
            "no sync"
        );
        assert!(
            FrameHeader::parse([0xFF, 0xEB, 0x90, 0x64]).is_none(),
            "reserved version 01"
        );
        assert!(
            FrameHeader::parse([0xFF, 0xF9, 0x90, 0x64]).is_none(),
            "reserved layer 00 (ADTS)"
        );
        assert!(
            FrameHeader::parse([0xFF, 0xFB, 0xF0, 0x64]).is_none(),
            "bitrate index 15"
        );
        assert!(
            FrameHeader::parse([0xFF, 0xFB, 0x9C, 0x64]).is_none(),
            "sample-rate index 3"
        );
        assert!(
            FrameHeader::parse([0xFF, 0xFB, 0x90, 0x66]).is_none(),
            "emphasis 10"
        );
    }

    #[test]
    fn id3v2_sizes() {
        let mut tag = b"ID3\x03\x00\x00\x00\x00\x02\x01".to_vec();
        assert_eq!(id3v2_size(&tag), Some(10 + 257));
        tag[3] = 4;
        tag[5] = 0x10;
        assert_eq!(id3v2_size(&tag), Some(10 + 257 + 10), "v2.4 footer");
        tag[9] = 0x80;
        assert_eq!(id3v2_size(&tag), None, "not syncsafe");
        assert_eq!(id3v2_size(b"ID3"), None);
    }

    #[test]
    fn cbr_stream_is_constant() {
        let s = scan(&stream(&[9; 50]));
        assert!(s.is_constant());
        assert_eq!((s.frames, s.changes, s.junk_bytes), (50, 0, 0));
        assert_eq!(s.bitrates, BTreeMap::from([(128, 50)]));
        assert_eq!(s.samples, 50 * 1152);
        let secs = s.duration_seconds().expect("duration");
        assert!((secs - 50.0 * 1152.0 / 44_100.0).abs() < 1e-9);
        assert!(s.cut.is_none() && s.tail.is_none() && s.tag.is_none());
    }

    #[test]
    fn vbr_stream_is_variable() {
        let idx: Vec<u8> = (0..60).map(|i| [9, 11, 7, 14, 5][i % 5]).collect();
        let s = scan(&stream(&idx));
        assert!(!s.is_constant() && !s.is_free_format());
        assert_eq!(s.frames, 60);
        assert_eq!(s.changes, 59);
        assert_eq!(
            s.bitrates.keys().copied().collect::<Vec<_>>(),
            vec![64, 96, 128, 192, 320]
        );
        assert!(!s.looks_joined());
    }

    #[test]
    fn one_odd_frame_is_variable_and_joined_parts_are_recognised() {
        let mut idx = vec![9u8; 80];
        idx[40] = 10;
        let s = scan(&stream(&idx));
        assert!(!s.is_constant());
        assert_eq!((s.frames, s.changes), (80, 2));
        assert_eq!(s.bitrates, BTreeMap::from([(128, 79), (160, 1)]));
        assert!(s.looks_joined());

        let mut parts = vec![9u8; 60];
        parts.extend([11u8; 60]);
        let j = scan(&stream(&parts));
        assert_eq!((j.frames, j.changes), (120, 1));
        assert!(j.looks_joined());
    }

    fn xing_frame(magic: [u8; 4], frames: u32, method: u8) -> Vec<u8> {
        let mut f = frame(9, false);
        let off = 4 + 32;
        f[off..off + 4].copy_from_slice(&magic);
        f[off + 4..off + 8].copy_from_slice(&1u32.to_be_bytes());
        f[off + 8..off + 12].copy_from_slice(&frames.to_be_bytes());
        f[off + 12..off + 21].copy_from_slice(b"LAME3.100");
        f[off + 21] = 0x10 | method;
        f
    }

    #[test]
    fn tag_frame_is_left_out_and_read() {
        let mut bytes = xing_frame(*b"Info", 30, 1);
        bytes.extend(stream(&[9; 30]));
        let s = scan(&bytes);
        assert!(s.is_constant());
        assert_eq!(s.frames, 30, "the Info frame is not an audio frame");
        let tag = s.tag.clone().expect("Info tag");
        assert_eq!(
            (tag.kind, tag.frames, tag.vbr_method),
            (VbrTagKind::Info, Some(30), Some(1))
        );
        assert_eq!(tag.encoder.as_deref(), Some("LAME3.100"));

        // An Info tag in front of frames that vary: the frames decide.
        let mut mixed = xing_frame(*b"Info", 30, 1);
        mixed.extend(stream(&[9; 30]));
        mixed.extend(stream(&[11; 30]));
        let m = scan(&mixed);
        assert!(!m.is_constant());
        assert_eq!(m.tag.as_ref().map(|t| t.kind), Some(VbrTagKind::Info));
        assert_eq!(
            s.decode_start(),
            0,
            "a tag that matches the frames is kept for gapless decoding"
        );
        assert_eq!(
            m.decode_start(),
            417,
            "a stale tag (30 frames of 60) is skipped"
        );

        let mut xing = xing_frame(*b"Xing", 3, 4);
        xing.extend(stream(&[9, 11, 13]));
        let x = scan(&xing);
        assert_eq!(x.tag.and_then(|t| t.vbr_method), Some(4));
        assert_eq!(x.frames, 3);

        let mut vbri = frame(9, false);
        vbri[36..40].copy_from_slice(b"VBRI");
        vbri[50..54].copy_from_slice(&2u32.to_be_bytes());
        vbri.extend(stream(&[9, 11]));
        let v = scan(&vbri);
        assert_eq!(
            v.tag.map(|t| (t.kind, t.frames)),
            Some((VbrTagKind::Vbri, Some(2)))
        );
        assert_eq!(v.frames, 2);
    }

    #[test]
    fn id3v2_junk_and_tails() {
        let mut bytes = b"ID3\x03\x00\x00\x00\x00\x08\x00".to_vec(); // 1024-byte body
        bytes.extend(vec![0u8; 1024]);
        let body = stream(&[9; 40]);
        bytes.extend(&body[..417 * 20]);
        bytes.extend((0..=255u8).cycle().take(700)); // junk between frames
        bytes.extend(&body[417 * 20..]);
        let mut tail = b"TAG".to_vec();
        tail.resize(128, b' ');
        bytes.extend(&tail);
        let s = scan(&bytes);
        assert!(s.is_constant());
        assert_eq!(s.frames, 40);
        assert_eq!(s.id3v2_bytes, 1034);
        assert_eq!(s.audio_start, 1034);
        assert_eq!(s.junk_bytes, 700);
        assert_eq!(s.tail, Some(Tail::Id3v1));
        assert_eq!(s.audio_end, bytes.len() as u64 - 128);

        let mut ape = stream(&[9; 10]);
        ape.extend(b"APETAGEX");
        ape.extend([0u8; 24]);
        let a = scan(&ape);
        assert_eq!((a.frames, a.tail, a.junk_bytes), (10, Some(Tail::Ape), 0));
    }

    #[test]
    fn a_sample_rate_change_is_a_new_stream_not_junk() {
        let mut bytes = stream(&[9; 30]);
        for _ in 0..20 {
            // 48 kHz, 128 kb/s: 144·128000/48000 = 384 bytes.
            let mut f = vec![0u8; 384];
            f[..4].copy_from_slice(&[0xFF, 0xFB, 0x94, 0x64]);
            bytes.extend(f);
        }
        let s = scan(&bytes);
        assert_eq!((s.frames, s.junk_bytes, s.stream_changes), (50, 0, 1));
        assert!(!s.is_constant(), "one bitrate, but two streams");
        let secs = s.duration_seconds().expect("duration");
        assert!((secs - (30.0 * 1152.0 / 44_100.0 + 20.0 * 1152.0 / 48_000.0)).abs() < 1e-9);

        // One damaged header (sample-rate bits flipped) is junk, not a change.
        let mut damaged = stream(&[9; 30]);
        let tenth: usize = (0..10).map(|i| 417 + usize::from(i % 3 == 1)).sum();
        damaged[tenth + 2] |= 0x04;
        let d = scan(&damaged);
        assert_eq!((d.stream_changes, d.frames), (0, 29));
        assert!(d.junk_bytes >= 417);
        assert!(d.is_constant());
    }

    #[test]
    fn cut_last_frame_is_reported() {
        let mut bytes = stream(&[9; 10]);
        bytes.truncate(bytes.len() - 100);
        let s = scan(&bytes);
        assert_eq!(s.frames, 9);
        let cut = s.cut.expect("cut frame");
        assert_eq!(cut.need - cut.have, 100);
    }

    #[test]
    fn free_format_length_is_found() {
        // 480 kb/s at 44.1 kHz: 144·480000/44100 = 1567 bytes, plus padding.
        let mut bytes = Vec::new();
        for i in 0..20 {
            let pad = i % 3 == 0;
            let mut f = vec![0u8; 1567 + usize::from(pad)];
            f[..4].copy_from_slice(&header(0, pad));
            bytes.extend(f);
        }
        let s = scan(&bytes);
        assert!(s.is_free_format() && !s.is_constant());
        assert_eq!(s.free_format_len, Some(1567));
        assert_eq!((s.frames, s.junk_bytes), (20, 0));
        let h = s.first.expect("first frame");
        assert_eq!(h.free_format_kbps(1567), 480);
    }

    #[test]
    fn not_mpeg_finds_nothing() {
        let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 200) as u8).collect();
        let s = scan(&bytes);
        assert_eq!(s.frames, 0);
        assert!(s.first.is_none());
        // A lone valid-looking header without a following frame is junk, not a frame.
        let mut lone = vec![0u8; 100];
        lone[10..14].copy_from_slice(&header(9, false));
        assert_eq!(scan(&lone).frames, 0);
    }

    #[test]
    fn windows_are_crossed() {
        // More than one 1 MiB window: 3000 frames of 418 bytes.
        let bytes = stream(&[9; 3000]);
        assert!(bytes.len() > WINDOW);
        let s = scan(&bytes);
        assert_eq!((s.frames, s.junk_bytes), (3000, 0));
        assert!(s.is_constant());
    }
}
