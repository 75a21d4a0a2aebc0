//! Video facts the hub wants (frame rate, whether it varies, frame size) and the structural checks
//! of the two container families: MP4/MOV by walking ISO boxes with seeks (the index, `moov`, is
//! often at the end of a large file), WebM/MKV by reading the EBML `Tracks` element.

use std::io::{self, Read, Seek};

use super::probe::{take, Source};
use super::sniff::{ebml_id, ebml_size, Format};
use super::{Problem, ProblemCode, VideoInfo};

/// Most top-level boxes walked (a fragmented MP4 has one `moof` + `mdat` pair per fragment).
const MAX_TOP_LEVEL: usize = 1_000_000;
/// Most children listed in one box.
const MAX_CHILDREN: usize = 4096;
/// Most movie fragments read for frame durations when the index itself has none.
const MAX_FRAGMENTS: usize = 32;
/// Most `stts` entries read (16 MiB), enough for hours of per-frame entries.
const MAX_STTS_ENTRIES: u64 = 2 << 20;
/// The largest `Tracks` element read whole.
const MAX_TRACKS_BYTES: u64 = 1 << 20;

/// What probing a video found.
#[derive(Debug, Default)]
pub(super) struct VideoProbe {
    /// The facts, when the container could be read.
    pub(super) info: Option<VideoInfo>,
    /// Truncation, damage, a missing video track, a variable frame rate.
    pub(super) problems: Vec<Problem>,
    /// No video track but an audio one: the caller judges the file as audio instead.
    pub(super) audio_only: bool,
}

/// Probes an MP4/MOV or WebM/MKV file.
pub(super) fn probe<R: Read + Seek>(src: &mut Source<R>, format: Format) -> io::Result<VideoProbe> {
    match format {
        Format::Mp4 | Format::Mov | Format::M4a => iso(src),
        Format::Webm | Format::Mkv => matroska(src),
        _ => Ok(VideoProbe::default()),
    }
}

fn vfr_warning(min_delta: u64, max_delta: u64, timescale: u32) -> Problem {
    let ms = |d: u64| d as f64 * 1000.0 / f64::from(timescale);
    Problem::warning(
        ProblemCode::VariableFrameRate,
        format!(
            "the video has a variable frame rate (frames last from {:.1} to {:.1} ms): frame numbers will be \
             approximate and frame-accurate work (tracking, keyframes, interpolation) is not supported; convert it \
             to a constant frame rate first, e.g. ffmpeg -i in.mp4 -vsync cfr -r 30 out.mp4",
            ms(min_delta),
            ms(max_delta)
        ),
    )
}

fn no_video_track() -> Problem {
    Problem::error(
        ProblemCode::UnsupportedType,
        "the file has no video track (audio only?); import audio as mp3, wav or ogg",
    )
}

/// Frames per second rounded to thousandths: 29.97002997 reads better as 29.97.
fn round_rate(fps: f64) -> f64 {
    (fps * 1000.0).round() / 1000.0
}

// ---------------------------------------------------------------------------------------------
// ISO base media (MP4, MOV)

/// One box: its type, where it starts, where its body starts and where it ends (as declared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IsoBox {
    kind: [u8; 4],
    start: u64,
    body: u64,
    end: u64,
}

enum Next {
    Box(IsoBox),
    End,
    Bad(String),
}

/// Reads the box header at `pos` in a parent ending at `limit`. Size 1 means a 64-bit size
/// follows; size 0 means "to the end of the parent" (at top level, to the end of the file).
fn read_box<R: Read + Seek>(src: &mut Source<R>, pos: u64, limit: u64) -> io::Result<Next> {
    if pos.saturating_add(8) > limit {
        return Ok(Next::End);
    }
    let Some(h) = src
        .exact(pos, 16.min(usize::try_from(limit - pos).unwrap_or(16)))?
        .map(<[u8]>::to_vec)
    else {
        return Ok(Next::End);
    };
    let size = u64::from(u32::from_be_bytes(take(&h, 0).unwrap_or_default()));
    let kind: [u8; 4] = take(&h, 4).unwrap_or_default();
    let (body, end) = match size {
        0 => (pos + 8, limit),
        1 => match take::<8>(&h, 8) {
            Some(large) => (pos + 16, pos.saturating_add(u64::from_be_bytes(large))),
            None => {
                return Ok(Next::Bad(format!(
                    "the '{}' box at byte {pos} is cut in its header",
                    show(kind)
                )))
            }
        },
        _ => (pos + 8, pos + size),
    };
    if end < body {
        return Ok(Next::Bad(format!(
            "the '{}' box at byte {pos} has an impossible size",
            show(kind)
        )));
    }
    Ok(Next::Box(IsoBox {
        kind,
        start: pos,
        body,
        end,
    }))
}

fn show(kind: [u8; 4]) -> String {
    kind.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

/// The child boxes of `parent` that lie inside it and inside the file.
fn children<R: Read + Seek>(src: &mut Source<R>, parent: &IsoBox) -> io::Result<Vec<IsoBox>> {
    let limit = parent.end.min(src.len());
    let mut found = Vec::new();
    let mut pos = parent.body;
    while found.len() < MAX_CHILDREN {
        match read_box(src, pos, limit)? {
            Next::Box(b) if b.end <= limit && b.end > pos => {
                pos = b.end;
                found.push(b);
            }
            _ => break,
        }
    }
    Ok(found)
}

fn child<R: Read + Seek>(
    src: &mut Source<R>,
    parent: &IsoBox,
    kind: [u8; 4],
) -> io::Result<Option<IsoBox>> {
    Ok(children(src, parent)?.into_iter().find(|b| b.kind == kind))
}

/// Follows a path of box types down from `parent`.
fn path<R: Read + Seek>(
    src: &mut Source<R>,
    parent: &IsoBox,
    kinds: &[&[u8; 4]],
) -> io::Result<Option<IsoBox>> {
    let mut at = *parent;
    for kind in kinds {
        match child(src, &at, **kind)? {
            Some(b) => at = b,
            None => return Ok(None),
        }
    }
    Ok(Some(at))
}

/// The first `n` body bytes of a box (fewer if the box is shorter).
fn body<R: Read + Seek>(src: &mut Source<R>, b: &IsoBox, n: u64) -> io::Result<Vec<u8>> {
    let len = b.end.saturating_sub(b.body).min(n);
    Ok(src
        .bytes(b.body, usize::try_from(len).unwrap_or(0))?
        .to_vec())
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    take(bytes, at).map(u32::from_be_bytes)
}

/// Runs of frames: how many frames last how many ticks.
type Runs = Vec<(u64, u64)>;

fn iso<R: Read + Seek>(src: &mut Source<R>) -> io::Result<VideoProbe> {
    let len = src.len();
    let mut out = VideoProbe::default();
    let mut moov = None;
    let mut moofs = Vec::new();
    let mut pos = 0;
    for _ in 0..MAX_TOP_LEVEL {
        match read_box(src, pos, len)? {
            Next::End => break,
            Next::Bad(message) => {
                if moov.is_none() {
                    out.problems.push(Problem::error(
                        ProblemCode::Corrupt,
                        format!("{message}: the file is damaged"),
                    ));
                }
                break;
            }
            Next::Box(b) => {
                if b.end > len {
                    out.problems.push(Problem::error(
                        ProblemCode::Truncated,
                        format!(
                            "the '{}' box at byte {} needs {} bytes but only {} remain: the file was cut short; \
                             export or download it again",
                            show(b.kind),
                            b.start,
                            b.end - b.start,
                            len - b.start
                        ),
                    ));
                    break;
                }
                match &b.kind {
                    b"moov" => moov = Some(b),
                    b"moof" if moofs.len() < MAX_FRAGMENTS => moofs.push(b),
                    _ => {}
                }
                if b.end <= pos {
                    break;
                }
                pos = b.end;
            }
        }
    }
    let Some(moov) = moov else {
        if out.problems.is_empty() {
            out.problems.push(Problem::error(
                ProblemCode::Truncated,
                "the video has no 'moov' box (its index): the recording was not finished or the file was cut short",
            ));
        }
        return Ok(out);
    };
    let Some(track) = video_track(src, &moov)? else {
        if has_track(src, &moov, *b"soun")? {
            out.audio_only = true;
        } else {
            out.problems.push(no_video_track());
        }
        return Ok(out);
    };
    let mut runs = track.runs.clone();
    if runs.iter().all(|&(count, _)| count == 0) {
        runs = fragment_runs(src, &moov, &moofs, track.id)?;
    }
    let (frame_rate, spread) = rate(&runs, track.timescale);
    if let Some((min, max)) = spread {
        out.problems.push(vfr_warning(min, max, track.timescale));
    }
    out.info = Some(VideoInfo {
        frame_rate,
        variable_frame_rate: spread.is_some(),
        width: track.width,
        height: track.height,
    });
    Ok(out)
}

/// What the first video track's boxes say.
#[derive(Debug, Clone)]
struct Track {
    id: u32,
    timescale: u32,
    runs: Runs,
    width: Option<u64>,
    height: Option<u64>,
}

/// Whether `moov` holds a track whose handler is `handler` (`vide`, `soun`...).
fn has_track<R: Read + Seek>(
    src: &mut Source<R>,
    moov: &IsoBox,
    handler: [u8; 4],
) -> io::Result<bool> {
    for trak in children(src, moov)?
        .into_iter()
        .filter(|b| &b.kind == b"trak")
    {
        if let Some(hdlr) = path(src, &trak, &[b"mdia", b"hdlr"])? {
            if body(src, &hdlr, 12)?.get(8..12) == Some(handler.as_slice()) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn video_track<R: Read + Seek>(src: &mut Source<R>, moov: &IsoBox) -> io::Result<Option<Track>> {
    for trak in children(src, moov)?
        .into_iter()
        .filter(|b| &b.kind == b"trak")
    {
        let Some(mdia) = child(src, &trak, *b"mdia")? else {
            continue;
        };
        let Some(hdlr) = child(src, &mdia, *b"hdlr")? else {
            continue;
        };
        if body(src, &hdlr, 12)?.get(8..12) != Some(b"vide") {
            continue;
        }
        let mut track = Track {
            id: 0,
            timescale: 0,
            runs: Vec::new(),
            width: None,
            height: None,
        };
        if let Some(tkhd) = child(src, &trak, *b"tkhd")? {
            let b = body(src, &tkhd, 96)?;
            let (id_at, size_at) = if b.first() == Some(&1) {
                (20, 88)
            } else {
                (12, 76)
            };
            track.id = be32(&b, id_at).unwrap_or(0);
            // 16.16 fixed point; zero means "not set".
            track.width = be32(&b, size_at)
                .map(|w| u64::from(w >> 16))
                .filter(|&w| w > 0);
            track.height = be32(&b, size_at + 4)
                .map(|h| u64::from(h >> 16))
                .filter(|&h| h > 0);
        }
        if let Some(mdhd) = child(src, &mdia, *b"mdhd")? {
            let b = body(src, &mdhd, 32)?;
            let at = if b.first() == Some(&1) { 20 } else { 12 };
            track.timescale = be32(&b, at).unwrap_or(0);
        }
        if let Some(stbl) = path(src, &mdia, &[b"minf", b"stbl"])? {
            if let Some(stsd) = child(src, &stbl, *b"stsd")? {
                // The first visual sample entry: 8 bytes of stsd header, 8 of entry header,
                // 6 reserved, 2 data reference index, 16 pre-defined/reserved, then width, height.
                let b = body(src, &stsd, 44)?;
                let w = take(&b, 40)
                    .map(u16::from_be_bytes)
                    .map(u64::from)
                    .filter(|&w| w > 0);
                let h = take(&b, 42)
                    .map(u16::from_be_bytes)
                    .map(u64::from)
                    .filter(|&h| h > 0);
                if track.width.is_none() || track.height.is_none() {
                    (track.width, track.height) = (w, h);
                }
            }
            if let Some(stts) = child(src, &stbl, *b"stts")? {
                track.runs = read_stts(src, &stts)?;
            }
        }
        return Ok(Some(track));
    }
    Ok(None)
}

fn read_stts<R: Read + Seek>(src: &mut Source<R>, stts: &IsoBox) -> io::Result<Runs> {
    let head = body(src, stts, 8)?;
    let count = u64::from(be32(&head, 4).unwrap_or(0)).min(MAX_STTS_ENTRIES);
    let table = body(src, stts, 8 + count * 8)?;
    Ok(table
        .get(8..)
        .unwrap_or_default()
        .chunks_exact(8)
        .map(|e| {
            (
                u64::from(be32(e, 0).unwrap_or(0)),
                u64::from(be32(e, 4).unwrap_or(0)),
            )
        })
        .collect())
}

/// Frame durations of a fragmented MP4 (empty `stts`), from the first fragments' `trun` boxes,
/// falling back to the defaults in `tfhd` and `trex`.
fn fragment_runs<R: Read + Seek>(
    src: &mut Source<R>,
    moov: &IsoBox,
    moofs: &[IsoBox],
    track_id: u32,
) -> io::Result<Runs> {
    let mut default_duration = 0u64;
    if let Some(mvex) = child(src, moov, *b"mvex")? {
        for trex in children(src, &mvex)?
            .into_iter()
            .filter(|b| &b.kind == b"trex")
        {
            let b = body(src, &trex, 16)?;
            if be32(&b, 4) == Some(track_id) {
                default_duration = u64::from(be32(&b, 12).unwrap_or(0));
            }
        }
    }
    let mut runs = Runs::new();
    for moof in moofs {
        for traf in children(src, moof)?
            .into_iter()
            .filter(|b| &b.kind == b"traf")
        {
            let boxes = children(src, &traf)?;
            let Some(tfhd) = boxes.iter().find(|b| &b.kind == b"tfhd") else {
                continue;
            };
            let b = body(src, tfhd, 32)?;
            if be32(&b, 4) != Some(track_id) {
                continue;
            }
            let flags = be32(&b, 0).unwrap_or(0) & 0x00FF_FFFF;
            let mut at = 8;
            at += if flags & 0x01 != 0 { 8 } else { 0 };
            at += if flags & 0x02 != 0 { 4 } else { 0 };
            let track_default = if flags & 0x08 != 0 {
                u64::from(be32(&b, at).unwrap_or(0))
            } else {
                default_duration
            };
            for trun in boxes.iter().filter(|b| &b.kind == b"trun") {
                runs.extend(read_trun(src, trun, track_default)?);
            }
        }
    }
    Ok(runs)
}

fn read_trun<R: Read + Seek>(
    src: &mut Source<R>,
    trun: &IsoBox,
    default_duration: u64,
) -> io::Result<Runs> {
    let head = body(src, trun, 8)?;
    let flags = be32(&head, 0).unwrap_or(0) & 0x00FF_FFFF;
    let count = u64::from(be32(&head, 4).unwrap_or(0)).min(MAX_STTS_ENTRIES);
    if flags & 0x100 == 0 {
        return Ok(vec![(count, default_duration)]);
    }
    let mut at = 8 + if flags & 0x01 != 0 { 4 } else { 0 } + if flags & 0x04 != 0 { 4 } else { 0 };
    let per_sample = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|&&f| flags & f != 0)
        .count()
        * 4;
    let table = body(src, trun, at as u64 + count * per_sample as u64)?;
    let mut runs = Runs::new();
    for _ in 0..count {
        let Some(duration) = be32(&table, at) else {
            break;
        };
        match runs.last_mut() {
            Some((n, d)) if *d == u64::from(duration) => *n += 1,
            _ => runs.push((1, u64::from(duration))),
        }
        at += per_sample;
    }
    Ok(runs)
}

/// The average frame rate (frames × timescale / total duration) and, when the rate varies, the
/// shortest and longest frame duration.
///
/// The last frame is left out of the comparison: muxers often give it whatever duration is left.
/// A spread of one tick on durations of ten ticks or more is timestamp rounding, not a varying
/// rate: 29.97 fps at timescale 1000 is stored as 33- and 34-tick frames.
fn rate(runs: &[(u64, u64)], timescale: u32) -> (Option<f64>, Option<(u64, u64)>) {
    let frames: u64 = runs.iter().map(|&(n, _)| n).sum();
    let duration: u64 = runs
        .iter()
        .map(|&(n, d)| n.saturating_mul(d))
        .fold(0, u64::saturating_add);
    if frames == 0 || duration == 0 || timescale == 0 {
        return (None, None);
    }
    let fps = round_rate(frames as f64 * f64::from(timescale) / duration as f64);
    let mut trimmed = runs.to_vec();
    if let Some(last) = trimmed.last_mut() {
        if last.0 > 1 {
            last.0 -= 1;
        } else {
            trimmed.pop();
        }
    }
    let deltas = trimmed.iter().filter(|&&(n, _)| n > 0).map(|&(_, d)| d);
    let (min, max) = deltas.fold((u64::MAX, 0), |(lo, hi), d| (lo.min(d), hi.max(d)));
    let varies = min != u64::MAX && (max - min > 1 || (max - min == 1 && min < 10));
    (Some(fps), varies.then_some((min, max)))
}

// ---------------------------------------------------------------------------------------------
// Matroska (WebM, MKV)

const SEGMENT: u32 = 0x1853_8067;
const TRACKS: u32 = 0x1654_AE6B;
const CLUSTER: u32 = 0x1F43_B675;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_TYPE: u32 = 0x83;
const DEFAULT_DURATION: u32 = 0x0023_E383;
const VIDEO: u32 = 0xE0;
const PIXEL_WIDTH: u32 = 0xB0;
const PIXEL_HEIGHT: u32 = 0xBA;

/// One element: its ID, where its data starts and how long it is (`None` = unknown size).
struct Element {
    id: u32,
    data: u64,
    size: Option<u64>,
}

fn read_element<R: Read + Seek>(src: &mut Source<R>, pos: u64) -> io::Result<Option<Element>> {
    let h = src.bytes(pos, 12)?.to_vec();
    let Some((id, id_len)) = ebml_id(&h) else {
        return Ok(None);
    };
    let Some((size, size_len)) = ebml_size(&h[id_len..]) else {
        return Ok(None);
    };
    Ok(Some(Element {
        id,
        data: pos + (id_len + size_len) as u64,
        size: (size != u64::MAX).then_some(size),
    }))
}

/// The elements inside an in-memory element body.
fn elements(bytes: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let Some((id, id_len)) = ebml_id(&bytes[pos..]) else {
            break;
        };
        let Some((size, size_len)) = ebml_size(&bytes[pos + id_len..]) else {
            break;
        };
        let data = pos + id_len + size_len;
        let end =
            usize::try_from(size).map_or(bytes.len(), |s| data.saturating_add(s).min(bytes.len()));
        out.push((id, &bytes[data.min(end)..end]));
        pos = end;
    }
    out
}

fn uint(bytes: &[u8]) -> Option<u64> {
    (!bytes.is_empty() && bytes.len() <= 8)
        .then(|| bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

fn matroska<R: Read + Seek>(src: &mut Source<R>) -> io::Result<VideoProbe> {
    let len = src.len();
    let mut out = VideoProbe::default();
    let truncated = |what: &str, end: u64| {
        Problem::error(
            ProblemCode::Truncated,
            format!("the {what} needs {end} bytes but the file has only {len}: it was cut short; export or download it again"),
        )
    };
    let Some(header) = read_element(src, 0)? else {
        return Ok(out);
    };
    let Some(header_size) = header.size else {
        return Ok(out);
    };
    let Some(segment) = read_element(src, header.data + header_size)? else {
        out.problems.push(truncated(
            "segment after the EBML header",
            header.data + header_size + 12,
        ));
        return Ok(out);
    };
    if segment.id != SEGMENT {
        out.problems.push(Problem::error(
            ProblemCode::Corrupt,
            "no Segment follows the EBML header: the file is damaged",
        ));
        return Ok(out);
    }
    let segment_end = segment.size.map_or(len, |s| segment.data.saturating_add(s));
    if segment_end > len {
        out.problems.push(truncated("Segment", segment_end));
    }
    let mut tracks = None;
    let mut pos = segment.data;
    for _ in 0..MAX_CHILDREN {
        if pos >= segment_end.min(len) {
            break;
        }
        let Some(el) = read_element(src, pos)? else {
            break;
        };
        if el.id == TRACKS {
            let size = el.size.unwrap_or(MAX_TRACKS_BYTES).min(MAX_TRACKS_BYTES);
            tracks = Some(
                src.bytes(el.data, usize::try_from(size).unwrap_or(0))?
                    .to_vec(),
            );
        }
        let Some(size) = el.size else { break };
        let end = el.data.saturating_add(size);
        if end > len {
            if out.problems.is_empty() {
                out.problems.push(truncated(
                    &format!("element 0x{:X} at byte {pos}", el.id),
                    end,
                ));
            }
            break;
        }
        if tracks.is_some() && el.id == CLUSTER {
            break;
        }
        pos = end;
    }
    let Some(tracks) = tracks else {
        // Without Tracks there is nothing to say about the video; the hub assumes 30 fps.
        out.info = Some(VideoInfo {
            frame_rate: None,
            variable_frame_rate: false,
            width: None,
            height: None,
        });
        return Ok(out);
    };
    let entries: Vec<Vec<(u32, &[u8])>> = elements(&tracks)
        .into_iter()
        .filter(|&(id, _)| id == TRACK_ENTRY)
        .map(|(_, entry)| elements(entry))
        .collect();
    // Track types: 1 video, 2 audio.
    let of_type = |fields: &&Vec<(u32, &[u8])>, kind: u64| {
        fields
            .iter()
            .any(|&(id, v)| id == TRACK_TYPE && uint(v) == Some(kind))
    };
    let Some(fields) = entries.iter().find(|f| of_type(f, 1)) else {
        if entries.iter().any(|f| of_type(&f, 2)) {
            out.audio_only = true;
        } else {
            out.problems.push(no_video_track());
        }
        return Ok(out);
    };
    let frame_rate = fields
        .iter()
        .find(|&&(id, _)| id == DEFAULT_DURATION)
        .and_then(|&(_, v)| uint(v))
        .filter(|&ns| ns > 0)
        .map(|ns| round_rate(1e9 / ns as f64));
    let picture = fields
        .iter()
        .find(|&&(id, _)| id == VIDEO)
        .map(|&(_, v)| elements(v))
        .unwrap_or_default();
    let dimension = |wanted: u32| {
        picture
            .iter()
            .find(|&&(id, _)| id == wanted)
            .and_then(|&(_, v)| uint(v))
            .filter(|&n| n > 0)
    };
    out.info = Some(VideoInfo {
        frame_rate,
        variable_frame_rate: false,
        width: dimension(PIXEL_WIDTH),
        height: dimension(PIXEL_HEIGHT),
    });
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use std::io::Cursor;

    fn bx(kind: &[u8], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn full(kind: &[u8], version: u8, rest: &[u8]) -> Vec<u8> {
        let mut body = vec![version, 0, 0, 0];
        body.extend_from_slice(rest);
        bx(kind, &body)
    }

    fn tkhd(id: u32, width: u32, height: u32) -> Vec<u8> {
        let mut b = vec![0u8; 80];
        b[8..12].copy_from_slice(&id.to_be_bytes());
        b[72..76].copy_from_slice(&(width << 16).to_be_bytes());
        b[76..80].copy_from_slice(&(height << 16).to_be_bytes());
        full(b"tkhd", 0, &b)
    }

    fn mdhd(timescale: u32) -> Vec<u8> {
        let mut b = vec![0u8; 20];
        b[8..12].copy_from_slice(&timescale.to_be_bytes());
        full(b"mdhd", 0, &b)
    }

    fn hdlr(handler: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 21];
        b[4..8].copy_from_slice(handler);
        full(b"hdlr", 0, &b)
    }

    fn stts(runs: &[(u32, u32)]) -> Vec<u8> {
        let mut b = (runs.len() as u32).to_be_bytes().to_vec();
        for (n, d) in runs {
            b.extend_from_slice(&n.to_be_bytes());
            b.extend_from_slice(&d.to_be_bytes());
        }
        full(b"stts", 0, &b)
    }

    fn stsd_visual(width: u16, height: u16) -> Vec<u8> {
        let mut entry = vec![0u8; 78];
        entry[6..8].copy_from_slice(&1u16.to_be_bytes());
        entry[24..26].copy_from_slice(&width.to_be_bytes());
        entry[26..28].copy_from_slice(&height.to_be_bytes());
        let mut b = 1u32.to_be_bytes().to_vec();
        b.extend(bx(b"avc1", &entry));
        full(b"stsd", 0, &b)
    }

    fn trak(handler: &[u8], timescale: u32, runs: &[(u32, u32)], tk: (u32, u32)) -> Vec<u8> {
        let stbl = bx(b"stbl", &[stsd_visual(640, 360), stts(runs)].concat());
        let minf = bx(b"minf", &stbl);
        let mdia = bx(b"mdia", &[mdhd(timescale), hdlr(handler), minf].concat());
        bx(b"trak", &[tkhd(1, tk.0, tk.1), mdia].concat())
    }

    fn ftyp() -> Vec<u8> {
        bx(b"ftyp", b"isom\0\0\x02\0isomiso2avc1mp41")
    }

    fn probe_bytes(bytes: Vec<u8>) -> VideoProbe {
        let len = bytes.len() as u64;
        probe(&mut Source::new(Cursor::new(bytes), len), Format::Mp4).unwrap()
    }

    fn codes(p: &VideoProbe) -> Vec<ProblemCode> {
        p.problems.iter().map(|p| p.code).collect()
    }

    #[test]
    fn constant_rate_with_moov_at_the_end() {
        let moov = bx(
            b"moov",
            &[
                trak(b"soun", 44100, &[(100, 1024)], (0, 0)),
                trak(b"vide", 12800, &[(50, 512)], (320, 240)),
            ]
            .concat(),
        );
        let file = [ftyp(), bx(b"mdat", &[0u8; 5000]), moov].concat();
        let p = probe_bytes(file);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let info = p.info.unwrap();
        assert_eq!(info.frame_rate, Some(25.0));
        assert!(!info.variable_frame_rate);
        assert_eq!((info.width, info.height), (Some(320), Some(240)));
    }

    #[test]
    fn size_from_the_sample_entry_when_tkhd_has_none() {
        let moov = bx(b"moov", &trak(b"vide", 30000, &[(10, 1001)], (0, 0)));
        let info = probe_bytes([ftyp(), moov].concat()).info.unwrap();
        assert_eq!((info.width, info.height), (Some(640), Some(360)));
        assert_eq!(info.frame_rate, Some(29.97));
    }

    #[test]
    fn variable_rate_and_its_exceptions() {
        let vfr = bx(
            b"moov",
            &trak(b"vide", 12800, &[(25, 512), (10, 1280)], (64, 48)),
        );
        let p = probe_bytes([ftyp(), vfr].concat());
        assert_eq!(codes(&p), vec![ProblemCode::VariableFrameRate]);
        let info = p.info.unwrap();
        assert!(info.variable_frame_rate);
        assert_eq!(
            info.frame_rate,
            Some(round_rate(35.0 * 12800.0 / (25.0 * 512.0 + 10.0 * 1280.0)))
        );
        assert!(p.problems[0].message.contains("-vsync cfr"));

        // Only the last frame differs: constant.
        let last = bx(
            b"moov",
            &trak(b"vide", 12800, &[(49, 512), (1, 300)], (64, 48)),
        );
        let p = probe_bytes([ftyp(), last].concat());
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert!(!p.info.unwrap().variable_frame_rate);

        // One-tick rounding of 29.97 fps at timescale 1000: constant.
        assert_eq!(rate(&[(2, 33), (1, 34), (2, 33), (1, 34)], 1000).1, None);
        // One tick on one-tick frames is a real change.
        assert_eq!(rate(&[(5, 1), (5, 2), (1, 1)], 25).1, Some((1, 2)));
        assert_eq!(rate(&[], 1000), (None, None));
        assert_eq!(rate(&[(10, 0)], 1000), (None, None));
    }

    #[test]
    fn large_sizes_and_size_zero() {
        let moov = bx(b"moov", &trak(b"vide", 25, &[(5, 1)], (16, 16)));
        // mdat with a 64-bit size.
        let mut mdat = 1u32.to_be_bytes().to_vec();
        mdat.extend_from_slice(b"mdat");
        mdat.extend_from_slice(&(16u64 + 100).to_be_bytes());
        mdat.extend_from_slice(&[0u8; 100]);
        let p = probe_bytes([ftyp(), mdat, moov.clone()].concat());
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.info.unwrap().frame_rate, Some(25.0));
        // A last mdat of size 0 runs to the end of the file.
        let mut open = 0u32.to_be_bytes().to_vec();
        open.extend_from_slice(b"mdat");
        open.extend_from_slice(&[7u8; 300]);
        let p = probe_bytes([ftyp(), moov, open].concat());
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.info.unwrap().frame_rate, Some(25.0));
    }

    #[test]
    fn truncation_and_damage() {
        let moov = bx(b"moov", &trak(b"vide", 25, &[(5, 1)], (16, 16)));
        let mut cut = [ftyp(), moov.clone(), bx(b"mdat", &[0u8; 1000])].concat();
        cut.truncate(cut.len() - 400);
        let p = probe_bytes(cut);
        assert_eq!(codes(&p), vec![ProblemCode::Truncated]);
        assert!(
            p.problems[0].message.contains("'mdat'"),
            "{}",
            p.problems[0].message
        );

        let no_moov = [ftyp(), bx(b"mdat", &[0u8; 100])].concat();
        assert_eq!(codes(&probe_bytes(no_moov)), vec![ProblemCode::Truncated]);

        let mut bad = ftyp();
        bad.extend_from_slice(&[0, 0, 0, 3, b'b', b'a', b'd', b'!', 0, 0]);
        assert_eq!(codes(&probe_bytes(bad)), vec![ProblemCode::Corrupt]);

        let audio_only = bx(b"moov", &trak(b"soun", 44100, &[(10, 1024)], (0, 0)));
        let p = probe_bytes([ftyp(), audio_only].concat());
        assert!(p.audio_only && p.problems.is_empty() && p.info.is_none());
        let neither = bx(b"moov", &trak(b"text", 1000, &[(10, 1000)], (0, 0)));
        assert_eq!(
            codes(&probe_bytes([ftyp(), neither].concat())),
            vec![ProblemCode::UnsupportedType]
        );
    }

    #[test]
    fn fragmented_mp4() {
        let mut trex = 1u32.to_be_bytes().to_vec();
        trex.extend_from_slice(&1u32.to_be_bytes());
        trex.extend_from_slice(&1000u32.to_be_bytes());
        trex.extend_from_slice(&[0u8; 8]);
        let moov = bx(
            b"moov",
            &[
                trak(b"vide", 25_000, &[], (32, 32)),
                bx(b"mvex", &full(b"trex", 0, &trex)),
            ]
            .concat(),
        );
        // tfhd with no optional fields; trun with per-sample durations (flag 0x100).
        let tfhd = full(b"tfhd", 0, &1u32.to_be_bytes());
        let mut trun = vec![0, 0, 0x01, 0x00];
        trun.extend_from_slice(&4u32.to_be_bytes());
        for d in [1000u32, 1000, 2500, 1000] {
            trun.extend_from_slice(&d.to_be_bytes());
        }
        let moof = bx(
            b"moof",
            &bx(b"traf", &[tfhd.clone(), bx(b"trun", &trun)].concat()),
        );
        let p = probe_bytes([ftyp(), moov.clone(), moof, bx(b"mdat", &[0; 10])].concat());
        assert_eq!(codes(&p), vec![ProblemCode::VariableFrameRate]);
        // trun without durations: trex default, constant 25 fps.
        let mut plain = vec![0, 0, 0, 0];
        plain.extend_from_slice(&8u32.to_be_bytes());
        let moof = bx(
            b"moof",
            &bx(b"traf", &[tfhd, full(b"trun", 0, &plain[4..])].concat()),
        );
        let p = probe_bytes([ftyp(), moov, moof, bx(b"mdat", &[0; 10])].concat());
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.info.unwrap().frame_rate, Some(25.0));
    }

    fn el(id: &[u8], body: &[u8]) -> Vec<u8> {
        let mut v = id.to_vec();
        v.push(0x01);
        v.extend_from_slice(&(body.len() as u64).to_be_bytes()[1..]);
        v.extend_from_slice(body);
        v
    }

    fn mkv(tracks: &[u8], cut: usize) -> VideoProbe {
        let header = el(&[0x1A, 0x45, 0xDF, 0xA3], &el(&[0x42, 0x82], b"webm"));
        let segment = el(
            &[0x18, 0x53, 0x80, 0x67],
            &[
                el(&[0x16, 0x54, 0xAE, 0x6B], tracks),
                el(&[0x1F, 0x43, 0xB6, 0x75], &[0u8; 200]),
            ]
            .concat(),
        );
        let mut file = [header, segment].concat();
        file.truncate(file.len() - cut);
        let len = file.len() as u64;
        probe(&mut Source::new(Cursor::new(file), len), Format::Webm).unwrap()
    }

    #[test]
    fn matroska_tracks() {
        let video = el(
            &[0xE0],
            &[el(&[0xB0], &[0x01, 0x40]), el(&[0xBA], &[0xF0])].concat(),
        );
        let entry = el(
            &[0xAE],
            &[
                el(&[0x83], &[1]),
                el(&[0x23, 0xE3, 0x83], &40_000_000u32.to_be_bytes()),
                video.clone(),
            ]
            .concat(),
        );
        let audio = el(&[0xAE], &[el(&[0x83], &[2])].concat());
        let p = mkv(&[audio.clone(), entry].concat(), 0);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(
            p.info,
            Some(VideoInfo {
                frame_rate: Some(25.0),
                variable_frame_rate: false,
                width: Some(320),
                height: Some(240)
            })
        );

        let no_rate = el(&[0xAE], &[el(&[0x83], &[1]), video].concat());
        assert_eq!(mkv(&no_rate, 0).info.unwrap().frame_rate, None);
        let p = mkv(&audio, 0);
        assert!(p.audio_only && p.problems.is_empty());
        let subtitles = el(&[0xAE], &el(&[0x83], &[0x11]));
        assert_eq!(
            codes(&mkv(&subtitles, 0)),
            vec![ProblemCode::UnsupportedType]
        );
        assert_eq!(codes(&mkv(&no_rate, 100)), vec![ProblemCode::Truncated]);
    }
}
