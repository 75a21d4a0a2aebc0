//! Medical files: DICOM (walked element by element to find where it is cut), NRRD (the header
//! rules of the hub's medical editor, reference §9, and the data length) and `NIfTI`-1/2 (a 3-D
//! header and the data length, also through gzip for `.nii.gz`).
//!
//! DICOM is recognised only as a Part 10 file, with the 128-byte preamble and `DICM`: a bare data
//! set has no signature, and the viewers the hub feeds expect Part 10.

use std::fmt::Write as _;
use std::io::{self, Read, Seek};

use super::probe::{take, Source};
use super::sniff::{nifti_version, NIFTI2_HEADER};
use super::{Problem, ProblemCode};

/// Compressed data up to this size is inflated in full (streaming, bounded memory) to measure
/// it; beyond it only the gzip size trailer is consulted, so a huge volume is never read whole.
const MAX_INFLATE: u64 = 64 << 20;
/// Nor is more than this unpacked: beyond it the trailer is consulted too.
const MAX_INFLATED: u64 = 1 << 30;
/// The longest NRRD header read.
const MAX_NRRD_HEADER: usize = 64 * 1024;
/// Most DICOM elements walked, and the deepest nesting of sequences followed.
const MAX_ELEMENTS: u32 = 200_000;
const MAX_DEPTH: u32 = 32;

fn volume(message: impl Into<String>) -> Problem {
    Problem::error(ProblemCode::UnsupportedVolume, message)
}

fn truncated(message: impl Into<String>) -> Problem {
    Problem::error(ProblemCode::Truncated, message)
}

// ---------------------------------------------------------------------------------------------
// DICOM

const ITEM: u32 = 0xFFFE_E000;
const ITEM_END: u32 = 0xFFFE_E00D;
const SEQUENCE_END: u32 = 0xFFFE_E0DD;
const UNDEFINED: u32 = u32::MAX;

/// Value representations whose length is 4 bytes after 2 reserved ones (explicit VR).
const LONG_VRS: [&[u8; 2]; 13] = [
    b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV",
];

/// Why a walk stopped early.
enum Stop {
    /// The file ends inside an element: the message says which.
    Cut(String),
    /// Too many elements or too deep: give up quietly (not a verdict on the file).
    Limit,
}

struct Element {
    tag: u32,
    length: u32,
    value: u64,
}

fn tag_name(tag: u32) -> String {
    let name = match tag {
        0x7FE0_0010 => " (Pixel Data)",
        0x0002_0010 => " (Transfer Syntax UID)",
        _ => "",
    };
    format!("({:04X},{:04X}){name}", tag >> 16, tag & 0xFFFF)
}

struct Walker<'a, R> {
    src: &'a mut Source<R>,
    explicit: bool,
    elements: u32,
}

impl<R: Read + Seek> Walker<'_, R> {
    fn header(&mut self, pos: u64) -> io::Result<Result<Element, Stop>> {
        let len = self.src.len();
        let h = self.src.bytes(pos, 12)?.to_vec();
        let cut = || {
            Stop::Cut(format!(
                "the file ends inside the element header at byte {pos} (of {len} bytes)"
            ))
        };
        let (Some(group), Some(number)) = (
            take(&h, 0).map(u16::from_le_bytes),
            take(&h, 2).map(u16::from_le_bytes),
        ) else {
            return Ok(Err(cut()));
        };
        let tag = (u32::from(group) << 16) | u32::from(number);
        let u32_at = |at| take(&h, at).map(u32::from_le_bytes);
        let parsed = if group == 0xFFFE || !self.explicit {
            u32_at(4).map(|length| (length, pos + 8))
        } else if h
            .get(4..6)
            .is_some_and(|vr| LONG_VRS.iter().any(|long| long.as_slice() == vr))
        {
            u32_at(8).map(|length| (length, pos + 12))
        } else {
            take(&h, 6).map(|b| (u32::from(u16::from_le_bytes(b)), pos + 8))
        };
        Ok(parsed
            .map(|(length, value)| Element { tag, length, value })
            .ok_or_else(cut))
    }

    /// Walks elements from `pos` to the end of the file, or to the delimiter `until`; returns the
    /// position after the delimiter (or the end).
    fn walk(
        &mut self,
        mut pos: u64,
        until: Option<u32>,
        depth: u32,
    ) -> io::Result<Result<u64, Stop>> {
        let len = self.src.len();
        if depth > MAX_DEPTH {
            return Ok(Err(Stop::Limit));
        }
        loop {
            if pos >= len {
                return Ok(match until {
                    None => Ok(pos),
                    Some(_) => Err(Stop::Cut(format!(
                        "the file ends inside a sequence (at byte {len})"
                    ))),
                });
            }
            self.elements += 1;
            if self.elements > MAX_ELEMENTS {
                return Ok(Err(Stop::Limit));
            }
            let el = match self.header(pos)? {
                Ok(el) => el,
                Err(stop) => return Ok(Err(stop)),
            };
            if Some(el.tag) == until {
                return Ok(Ok(el.value));
            }
            if el.length == UNDEFINED {
                // A sequence, an item or encapsulated pixel data: walk to its delimiter.
                let end = if el.tag == ITEM {
                    ITEM_END
                } else {
                    SEQUENCE_END
                };
                pos = match self.walk(el.value, Some(end), depth + 1)? {
                    Ok(next) => next,
                    Err(stop) => return Ok(Err(stop)),
                };
                continue;
            }
            let end = el.value + u64::from(el.length);
            if end > len {
                return Ok(Err(Stop::Cut(format!(
                    "element {} at byte {pos} needs {} bytes but the file ends after {} of them",
                    tag_name(el.tag),
                    el.length,
                    len.saturating_sub(el.value)
                ))));
            }
            pos = end;
        }
    }
}

/// Finds where a DICOM Part 10 file is cut, by walking its elements with seeks: a cut file ends
/// inside an element (usually the pixel data).
pub(super) fn check_dicom<R: Read + Seek>(src: &mut Source<R>) -> io::Result<Vec<Problem>> {
    // The file meta group is always explicit VR little endian.
    let mut walker = Walker {
        src,
        explicit: true,
        elements: 0,
    };
    let mut pos = 132;
    let mut syntax = String::new();
    loop {
        let group = walker.src.bytes(pos, 2)?.to_vec();
        if group != [0x02, 0x00] {
            break;
        }
        let el = match walker.header(pos)? {
            Ok(el) if el.length != UNDEFINED => el,
            Ok(_) => {
                return Ok(vec![Problem::error(
                    ProblemCode::Corrupt,
                    "the DICOM file meta group has an element of undefined length",
                )])
            }
            Err(Stop::Cut(message)) => return Ok(vec![cut_dicom(&message)]),
            Err(Stop::Limit) => return Ok(Vec::new()),
        };
        let end = el.value + u64::from(el.length);
        if end > walker.src.len() {
            return Ok(vec![cut_dicom(&format!(
                "element {} at byte {pos} runs past the end of the file",
                tag_name(el.tag)
            ))]);
        }
        if el.tag == 0x0002_0010 {
            let value = walker.src.bytes(el.value, el.length.min(64) as usize)?;
            syntax.clear();
            syntax.push_str(String::from_utf8_lossy(value).trim_end_matches(['\0', ' ']));
        }
        pos = end;
    }
    walker.explicit = match syntax.as_str() {
        "1.2.840.10008.1.2" => false,
        // Big endian (retired) and deflated data sets are not walked.
        "1.2.840.10008.1.2.2" | "1.2.840.10008.1.2.1.99" => return Ok(Vec::new()),
        "" => {
            // No transfer syntax: guess from whether a VR follows the first tag.
            let h = walker.src.bytes(pos, 6)?;
            h.len() == 6 && h[4].is_ascii_uppercase() && h[5].is_ascii_uppercase()
        }
        _ => true,
    };
    Ok(match walker.walk(pos, None, 0)? {
        Ok(_) | Err(Stop::Limit) => Vec::new(),
        Err(Stop::Cut(message)) => vec![cut_dicom(&message)],
    })
}

fn cut_dicom(detail: &str) -> Problem {
    truncated(format!(
        "the DICOM file was cut short: {detail}; export or download it again"
    ))
}

// ---------------------------------------------------------------------------------------------
// Gzip-compressed data (NRRD `encoding: gzip`, `.nii.gz`)

/// What the compressed data at `start` unpacks to.
enum Inflated {
    /// Its length, measured up to the length needed.
    Measured(u64),
    /// Too large to measure: the size trailer of the last gzip member (length mod 2^32).
    Trailer(u32),
    /// The stream is cut or damaged.
    Broken(String),
}

fn inflated_len<R: Read + Seek>(
    src: &mut Source<R>,
    start: u64,
    need: u64,
) -> io::Result<Inflated> {
    let compressed = src.len().saturating_sub(start);
    if compressed > MAX_INFLATE || need > MAX_INFLATED {
        let tail = src.tail(4)?;
        return Ok(Inflated::Trailer(
            take(tail, 0).map_or(0, u32::from_le_bytes),
        ));
    }
    let mut reader = src.reader(start);
    // Never unpack more than needed: a small file can unpack to gigabytes.
    let result = io::copy(
        &mut flate2::read::MultiGzDecoder::new(&mut reader).take(need),
        &mut io::sink(),
    );
    if let Some(e) = reader.failed.take() {
        return Err(e);
    }
    Ok(match result {
        Ok(n) => Inflated::Measured(n),
        Err(e) => Inflated::Broken(e.to_string()),
    })
}

/// Checks that gzip-compressed data unpacks to at least `need` bytes. `what` names the data.
fn check_gzip<R: Read + Seek>(
    src: &mut Source<R>,
    start: u64,
    need: u64,
    what: &str,
) -> io::Result<Option<Problem>> {
    Ok(match inflated_len(src, start, need)? {
        Inflated::Measured(n) if n < need => Some(truncated(format!(
            "the compressed data unpacks to {n} bytes but {what} needs {need}: the file was cut short; export or download it again"
        ))),
        Inflated::Trailer(n) if need < 1 << 32 && u64::from(n) < need => Some(truncated(format!(
            "the gzip size trailer says {n} bytes but {what} needs {need}: the file was cut short or is damaged"
        ))),
        Inflated::Broken(e) => Some(truncated(format!(
            "the compressed data is cut short or damaged ({e}); export or download it again"
        ))),
        _ => None,
    })
}

// ---------------------------------------------------------------------------------------------
// NRRD

/// How the voxels are stored, once the header has passed the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NrrdLayout {
    voxels: u64,
    voxel_bytes: u64,
    encoding: NrrdEncoding,
    /// Bytes to skip after the header; `None` for `-1` (data at the end) or a `line skip`.
    byte_skip: Option<u64>,
    sizes: String,
    type_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NrrdEncoding {
    Raw,
    Text,
    Gzip,
}

/// Bytes per voxel of a scalar NRRD type name the editor supports, or the reason it does not.
fn nrrd_type(name: &str) -> Result<u64, String> {
    let n = name.to_ascii_lowercase();
    match n.as_str() {
        "signed char" | "int8" | "int8_t" | "uchar" | "unsigned char" | "uint8" | "uint8_t" => Ok(1),
        "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" | "ushort"
        | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => Ok(2),
        "int" | "signed int" | "int32" | "int32_t" | "uint" | "unsigned int" | "uint32" | "uint32_t" | "float" => Ok(4),
        "double" => Ok(8),
        "longlong" | "long long" | "long long int" | "signed long long" | "signed long long int" | "int64" | "int64_t"
        | "ulonglong" | "unsigned long long" | "unsigned long long int" | "uint64" | "uint64_t" => {
            Err(format!("type: {name}: 64-bit integers are not supported; save as 32-bit integers, float or double"))
        }
        "block" => Err("type: block: block voxels are not supported; only scalar 8/16/32-bit integers, float or double".to_owned()),
        _ => Err(format!("type: {name}: not a voxel type the editor reads (scalar 8/16/32-bit integers, float or double)")),
    }
}

/// The entries of a `space directions` or `space origin` value: vectors as their components,
/// `none` as an empty list.
fn nrrd_vectors(value: &str) -> Option<Vec<Vec<f64>>> {
    let mut out = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('(') {
            let close = inner.find(')')?;
            let parts: Option<Vec<f64>> = inner[..close]
                .split(',')
                .map(|p| p.trim().parse().ok())
                .collect();
            out.push(parts?);
            rest = inner[close + 1..].trim_start();
        } else {
            let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            if !rest[..word_end].eq_ignore_ascii_case("none") {
                return None;
            }
            out.push(Vec::new());
            rest = rest[word_end..].trim_start();
        }
    }
    Some(out)
}

/// Applies the editor's NRRD header rules (reference §9) to the header lines after the magic.
/// Returns the problems, and the data layout when the header is acceptable.
fn nrrd_rules(lines: &[&str]) -> (Vec<Problem>, Option<NrrdLayout>) {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in lines {
        let line = line.trim_end_matches('\r');
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        // `key:=value` pairs are free-form metadata; fields are `name: value`.
        if line.contains(":=") && !line.contains(": ") {
            continue;
        }
        if let Some((name, value)) = line.split_once(": ") {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let mut problems = Vec::new();

    if let Some(file) = get("data file").or_else(|| get("datafile")) {
        problems.push(volume(format!(
            "data file: {file}: a detached header (the voxels are in another file) is not supported; save the volume as one .nrrd with the data attached"
        )));
    }
    match get("dimension") {
        Some("3") => {}
        Some(d) => problems.push(volume(format!("dimension: {d}: only 3-D volumes are supported (no 2-D, 4-D, time series or vector volumes)"))),
        None => problems.push(volume("dimension: missing; only 3-D volumes are supported")),
    }
    let sizes: Vec<u64> = get("sizes")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let sizes_text = get("sizes").unwrap_or_default();
    if sizes_text.is_empty() {
        problems.push(volume(
            "sizes: missing; exactly 3 sizes are needed for a 3-D volume",
        ));
    } else if sizes.len() != 3 || sizes_text.split_whitespace().count() != 3 {
        problems.push(volume(format!(
            "sizes: {sizes_text}: exactly 3 sizes are needed for a 3-D volume"
        )));
    }
    let type_name = get("type").unwrap_or_default();
    let voxel_bytes = if type_name.is_empty() {
        problems.push(volume("type: missing; the voxel type is required"));
        None
    } else {
        match nrrd_type(type_name) {
            Ok(n) => Some(n),
            Err(message) => {
                problems.push(volume(message));
                None
            }
        }
    };
    let encoding = match get("encoding").map(str::to_ascii_lowercase).as_deref() {
        Some("raw") => Some(NrrdEncoding::Raw),
        Some("txt" | "text" | "ascii") => Some(NrrdEncoding::Text),
        Some("gzip" | "gz") => Some(NrrdEncoding::Gzip),
        Some(e @ ("hex" | "bzip2" | "bz2")) => {
            problems.push(volume(format!("encoding: {e}: hex and bzip2 encodings are not supported; save with raw or gzip encoding")));
            None
        }
        Some(e) => {
            problems.push(volume(format!(
                "encoding: {e}: unknown; use raw, ascii or gzip"
            )));
            None
        }
        None => {
            problems.push(volume("encoding: missing; use raw, ascii or gzip"));
            None
        }
    };
    match get("space") {
        Some(space)
            if matches!(
                space.to_ascii_lowercase().as_str(),
                "left-posterior-superior" | "lps" | "right-anterior-superior" | "ras" | "left-anterior-superior" | "las"
            ) => {}
        Some(space) => problems.push(volume(format!(
            "space: {space}: only LPS, RAS or LAS (long or short names) are supported, not scanner or 3D-* spaces"
        ))),
        None => problems.push(volume(
            "space: missing (\"Space information is missing in the NRRD file\"); add space: LPS, RAS or LAS",
        )),
    }
    let three_by_three = |v: &Vec<Vec<f64>>| v.len() == 3 && v.iter().all(|c| c.len() == 3);
    match get("space directions") {
        Some(value) if nrrd_vectors(value).is_some_and(|v| three_by_three(&v)) => {}
        Some(value) => problems.push(volume(format!(
            "space directions: {value}: the matrix is of incorrect shape; 3 vectors of 3 numbers are needed"
        ))),
        None => problems.push(volume("space directions: missing; a 3×3 matrix is needed")),
    }
    match get("space origin") {
        Some(value) if nrrd_vectors(value).is_some_and(|v| v.len() == 1 && v[0].len() == 3) => {}
        Some(value) => problems.push(volume(format!(
            "space origin: {value}: 3 values are needed, as (x,y,z)"
        ))),
        None => problems.push(volume(
            "space origin: missing; 3 values are needed, as (x,y,z)",
        )),
    }
    if let Some(kinds) = get("kinds") {
        let spatial = |k: &str| {
            matches!(
                k.to_ascii_lowercase().as_str(),
                "domain" | "space" | "???" | "none"
            )
        };
        if !kinds.split_whitespace().all(spatial) {
            problems.push(volume(format!("kinds: {kinds}: only scalar volumes are supported (kinds domain or space), not vector or time axes")));
        }
    }
    if let (Some(bytes), Some(NrrdEncoding::Raw | NrrdEncoding::Gzip), None) =
        (voxel_bytes, encoding, get("endian"))
    {
        if bytes > 1 {
            problems.push(volume(format!(
                "endian: missing; it is required for {}-bit data (add endian: little or big)",
                bytes * 8
            )));
        }
    }
    if !problems.is_empty() {
        return (problems, None);
    }
    let (Some(voxel_bytes), Some(encoding)) = (voxel_bytes, encoding) else {
        return (problems, None);
    };
    let line_skip = get("line skip")
        .or_else(|| get("lineskip"))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let byte_skip = match get("byte skip")
        .or_else(|| get("byteskip"))
        .map(str::parse::<i64>)
    {
        None => Some(0),
        Some(Ok(n)) if n >= 0 && line_skip == 0 => Some(n as u64),
        Some(_) => None,
    };
    let byte_skip = if line_skip > 0 { None } else { byte_skip };
    let layout = NrrdLayout {
        voxels: sizes.iter().fold(1u64, |a, &s| a.saturating_mul(s)),
        voxel_bytes,
        encoding,
        byte_skip,
        sizes: sizes_text.to_owned(),
        type_name: type_name.to_owned(),
    };
    (problems, Some(layout))
}

/// Applies the header rules, then checks the attached data is as long as the header says.
pub(super) fn check_nrrd<R: Read + Seek>(src: &mut Source<R>) -> io::Result<Vec<Problem>> {
    let len = src.len();
    let head = src.bytes(0, MAX_NRRD_HEADER)?.to_vec();
    // The header ends at the first empty line.
    let blank = crate::media::sniff::find(&head, b"\n\n")
        .map(|i| (i, i + 2))
        .into_iter()
        .chain(crate::media::sniff::find(&head, b"\n\r\n").map(|i| (i, i + 3)))
        .min();
    let header_text = String::from_utf8_lossy(&head[..blank.map_or(head.len(), |(i, _)| i)]);
    let lines: Vec<&str> = header_text.split('\n').skip(1).collect();
    let (mut problems, layout) = nrrd_rules(&lines);
    let Some(layout) = layout else {
        return Ok(problems);
    };
    let Some((_, data_start)) = blank else {
        problems.push(if (head.len() as u64) < len {
            Problem::error(
                ProblemCode::Corrupt,
                format!("the NRRD header has no end within its first {MAX_NRRD_HEADER} bytes"),
            )
        } else {
            truncated(
                "the NRRD header is not followed by a blank line and data: the file was cut short",
            )
        });
        return Ok(problems);
    };
    let Some(skip) = layout.byte_skip else {
        return Ok(problems);
    };
    let start = data_start as u64 + skip;
    let need = layout.voxels.saturating_mul(layout.voxel_bytes);
    let what = format!(
        "sizes {} of type {} ({} bytes each)",
        layout.sizes, layout.type_name, layout.voxel_bytes
    );
    match layout.encoding {
        NrrdEncoding::Raw => {
            let have = len.saturating_sub(start);
            if have < need {
                problems.push(truncated(format!(
                    "the NRRD data is {have} bytes but {what} need {need}: the file was cut short; export or download it again"
                )));
            }
        }
        NrrdEncoding::Gzip => problems.extend(check_gzip(src, start, need, &what)?),
        NrrdEncoding::Text => {}
    }
    Ok(problems)
}

// ---------------------------------------------------------------------------------------------
// NIfTI

/// The fields of a `NIfTI` header this module uses.
#[derive(Debug, Clone, PartialEq)]
struct NiftiHeader {
    dim: [i64; 8],
    datatype: i16,
    bitpix: i16,
    vox_offset: f64,
}

fn parse_nifti(bytes: &[u8]) -> Option<NiftiHeader> {
    let version = nifti_version(bytes)?;
    let little = if version == 1 {
        bytes.starts_with(&348u32.to_le_bytes())
    } else {
        bytes.starts_with(&540u32.to_le_bytes())
    };
    let i16_at = |at| {
        take::<2>(bytes, at).map(|b| {
            if little {
                i16::from_le_bytes(b)
            } else {
                i16::from_be_bytes(b)
            }
        })
    };
    let mut dim = [0i64; 8];
    if version == 1 {
        for (i, d) in dim.iter_mut().enumerate() {
            *d = i64::from(i16_at(40 + 2 * i)?);
        }
        let vox = take::<4>(bytes, 108).map(|b| {
            if little {
                f32::from_le_bytes(b)
            } else {
                f32::from_be_bytes(b)
            }
        })?;
        Some(NiftiHeader {
            dim,
            datatype: i16_at(70)?,
            bitpix: i16_at(72)?,
            vox_offset: f64::from(vox),
        })
    } else {
        let i64_at = |at| {
            take::<8>(bytes, at).map(|b| {
                if little {
                    i64::from_le_bytes(b)
                } else {
                    i64::from_be_bytes(b)
                }
            })
        };
        for (i, d) in dim.iter_mut().enumerate() {
            *d = i64_at(16 + 8 * i)?;
        }
        Some(NiftiHeader {
            dim,
            datatype: i16_at(12)?,
            bitpix: i16_at(14)?,
            vox_offset: i64_at(168)? as f64,
        })
    }
}

/// Bytes per voxel of a `NIfTI` datatype code, and whether it is a scalar of the kinds the
/// editor reads (the same as for NRRD: 8/16/32-bit integers, float, double).
fn nifti_datatype(code: i16) -> Option<(u64, bool, &'static str)> {
    Some(match code {
        2 => (1, true, "uint8"),
        4 => (2, true, "int16"),
        8 => (4, true, "int32"),
        16 => (4, true, "float32"),
        64 => (8, true, "float64"),
        256 => (1, true, "int8"),
        512 => (2, true, "uint16"),
        768 => (4, true, "uint32"),
        1024 => (8, false, "int64"),
        1280 => (8, false, "uint64"),
        128 => (3, false, "RGB24"),
        2304 => (4, false, "RGBA32"),
        32 => (8, false, "complex64"),
        1792 => (16, false, "complex128"),
        1536 => (16, false, "float128"),
        2048 => (32, false, "complex256"),
        _ => return None,
    })
}

/// Checks a `NIfTI` header is a 3-D volume and the data is as long as it says. `head` is the
/// start of the file; for `.nii.gz` it is inflated here.
pub(super) fn check_nifti<R: Read + Seek>(
    src: &mut Source<R>,
    head: &[u8],
    gzipped: bool,
) -> io::Result<Vec<Problem>> {
    let header_bytes = if gzipped {
        let mut out = Vec::with_capacity(NIFTI2_HEADER);
        let _ = flate2::read::GzDecoder::new(head)
            .take(NIFTI2_HEADER as u64)
            .read_to_end(&mut out);
        out
    } else {
        head.get(..NIFTI2_HEADER.min(head.len()))
            .unwrap_or_default()
            .to_vec()
    };
    let Some(header) = parse_nifti(&header_bytes) else {
        let cut = gzipped && header_bytes.len() < NIFTI2_HEADER && head.len() as u64 == src.len();
        return Ok(vec![if cut {
            truncated("the compressed file ends before its NIfTI header does: it was cut short")
        } else {
            Problem::error(ProblemCode::Corrupt, "the NIfTI header could not be read")
        }]);
    };
    let (mut problems, need) = nifti_rules(&header);
    let Some(need) = need else {
        return Ok(problems);
    };
    let what = format!(
        "the header (vox_offset {} + dim {} × {} bytes)",
        header.vox_offset,
        dims_text(&header),
        nifti_datatype(header.datatype)
            .map_or(u64::from(header.bitpix.unsigned_abs()) / 8, |d| d.0)
    );
    if gzipped {
        problems.extend(check_gzip(src, 0, need, &what)?);
    } else if src.len() < need {
        let len = src.len();
        problems.push(truncated(format!(
            "the NIfTI file is {len} bytes but {what} needs {need}: it was cut short; export or download it again"
        )));
    }
    Ok(problems)
}

fn dims_text(h: &NiftiHeader) -> String {
    let n = usize::try_from(h.dim[0].clamp(1, 7)).unwrap_or(1);
    let mut text = String::new();
    for (i, d) in h.dim[1..=n].iter().enumerate() {
        if i > 0 {
            text.push('×');
        }
        let _ = write!(text, "{d}");
    }
    text
}

/// The header rules; the second value is the file length the header needs, when it is sound.
fn nifti_rules(h: &NiftiHeader) -> (Vec<Problem>, Option<u64>) {
    let mut problems = Vec::new();
    let n = h.dim[0];
    if !(1..=7).contains(&n) {
        return (
            vec![Problem::error(
                ProblemCode::Corrupt,
                format!("dim[0] = {n} is not a valid number of dimensions (1 to 7)"),
            )],
            None,
        );
    }
    let n = n as usize;
    if h.dim[1..=n].iter().any(|&d| d < 1) {
        return (
            vec![Problem::error(
                ProblemCode::Corrupt,
                format!("dim = {}: every size must be at least 1", dims_text(h)),
            )],
            None,
        );
    }
    if n < 3 {
        problems.push(volume(format!(
            "dim[0] = {n}: a {n}-D image; only 3-D volumes are supported"
        )));
    } else if let Some((i, d)) = h
        .dim
        .iter()
        .enumerate()
        .take(n + 1)
        .skip(4)
        .find(|&(_, &d)| d > 1)
    {
        // Trailing dimensions of size 1 are still a 3-D volume.
        problems.push(volume(format!(
            "dim[0] = {n} with dim[{i}] = {d}: a {n}-D (time series or vector) volume; only 3-D volumes are supported"
        )));
    }
    let bytes = match nifti_datatype(h.datatype) {
        Some((bytes, true, _)) => bytes,
        Some((bytes, false, name)) => {
            // Documented for NRRD only; NIfTI goes through the same editor, so say so, but do
            // not refuse on an undocumented rule.
            problems.push(Problem::warning(
                ProblemCode::UnsupportedVolume,
                format!("datatype {} ({name}): the medical editor reads scalar 8/16/32-bit integers, float and double; this may not open", h.datatype),
            ));
            bytes
        }
        None => {
            problems.push(Problem::error(
                ProblemCode::Corrupt,
                format!("datatype {} is not a NIfTI data type", h.datatype),
            ));
            return (problems, None);
        }
    };
    if h.vox_offset < 0.0 || !h.vox_offset.is_finite() {
        problems.push(Problem::error(
            ProblemCode::Corrupt,
            format!("vox_offset {} is not a valid data offset", h.vox_offset),
        ));
        return (problems, None);
    }
    let voxels = h.dim[1..=n]
        .iter()
        .fold(1u64, |a, &d| a.saturating_mul(d as u64));
    let need = (h.vox_offset as u64).saturating_add(voxels.saturating_mul(bytes));
    (problems, Some(need))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn source(bytes: Vec<u8>) -> Source<Cursor<Vec<u8>>> {
        let len = bytes.len() as u64;
        Source::new(Cursor::new(bytes), len)
    }

    fn codes(problems: &[Problem]) -> Vec<ProblemCode> {
        problems.iter().map(|p| p.code).collect()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    const GOOD: &str = "NRRD0004\n# made by hand\ntype: short\ndimension: 3\nspace: left-posterior-superior\nsizes: 4 3 2\n\
                        space directions: (1,0,0) (0,1,0) (0,0,2.5)\nkinds: domain domain domain\nendian: little\n\
                        encoding: raw\nspace origin: (0,0,0)\nmeta:=anything\n\n";

    fn nrrd(header: &str, data: &[u8]) -> Vec<Problem> {
        let mut file = header.as_bytes().to_vec();
        file.extend_from_slice(data);
        check_nrrd(&mut source(file)).unwrap()
    }

    #[test]
    fn nrrd_good_and_cut() {
        assert_eq!(nrrd(GOOD, &[0; 48]), vec![]);
        let cut = nrrd(GOOD, &[0; 47]);
        assert_eq!(codes(&cut), vec![ProblemCode::Truncated]);
        assert!(cut[0].message.contains("need 48"), "{}", cut[0].message);
        let crlf = GOOD.replace('\n', "\r\n");
        assert_eq!(nrrd(&crlf, &[0; 48]), vec![]);
        let gz = GOOD.replace("encoding: raw", "encoding: gzip");
        assert_eq!(nrrd(&gz, &gzip(&[0; 48])), vec![]);
        assert_eq!(
            codes(&nrrd(&gz, &gzip(&[0; 40]))),
            vec![ProblemCode::Truncated]
        );
        let mut cut_stream = gzip(&[7; 4800]);
        cut_stream.truncate(cut_stream.len() / 2);
        let big = gz.replace("sizes: 4 3 2", "sizes: 40 30 2");
        assert_eq!(
            codes(&nrrd(&big, &cut_stream)),
            vec![ProblemCode::Truncated]
        );
        let skip = GOOD.replace("encoding: raw", "encoding: raw\nbyte skip: -1");
        assert_eq!(nrrd(&skip, &[0; 10]), vec![]);
        let text = GOOD.replace("encoding: raw", "encoding: ascii");
        assert_eq!(nrrd(&text, b"1 2 3"), vec![]);
        assert_eq!(
            codes(&nrrd(&GOOD[..GOOD.len() - 1], &[])),
            vec![ProblemCode::Truncated]
        );
    }

    #[test]
    fn nrrd_rules_name_the_field() {
        let cases = [
            ("dimension: 3", "dimension: 4", "dimension: 4"),
            ("sizes: 4 3 2", "sizes: 4 3", "sizes: 4 3"),
            (
                "space: left-posterior-superior",
                "space: scanner-xyz",
                "space: scanner-xyz",
            ),
            ("space: left-posterior-superior\n", "", "space: missing"),
            ("(0,0,2.5)", "(0,0)", "space directions"),
            ("(0,0,2.5)", "none", "space directions"),
            (
                "space origin: (0,0,0)",
                "space origin: (0,0)",
                "space origin",
            ),
            ("space origin: (0,0,0)\n", "", "space origin: missing"),
            ("encoding: raw", "encoding: hex", "encoding: hex"),
            ("encoding: raw", "encoding: bzip2", "encoding: bzip2"),
            ("type: short", "type: int64", "type: int64"),
            ("type: short", "type: unsigned long long", "64-bit"),
            ("type: short", "type: block", "type: block"),
            ("endian: little\n", "", "endian: missing"),
            (
                "kinds: domain domain domain",
                "kinds: vector domain domain",
                "kinds:",
            ),
            (
                "encoding: raw",
                "encoding: raw\ndata file: brain.raw",
                "data file: brain.raw",
            ),
        ];
        for (from, to, expect) in cases {
            let header = GOOD.replacen(from, to, 1);
            assert_ne!(header, GOOD, "{from}");
            let problems = nrrd(&header, &[0; 48]);
            assert_eq!(
                codes(&problems),
                vec![ProblemCode::UnsupportedVolume],
                "{to}: {problems:?}"
            );
            assert!(
                problems[0].message.contains(expect),
                "{to}: {}",
                problems[0].message
            );
        }
        // Accepted spellings.
        for space in ["RAS", "las", "right-anterior-superior"] {
            assert_eq!(
                nrrd(&GOOD.replace("left-posterior-superior", space), &[0; 48]),
                vec![]
            );
        }
        for encoding in ["gz", "txt", "text"] {
            let (problems, layout) = nrrd_rules(
                &GOOD
                    .replace("encoding: raw", &format!("encoding: {encoding}"))
                    .lines()
                    .collect::<Vec<_>>(),
            );
            assert!(problems.is_empty() && layout.is_some(), "{encoding}");
        }
        // A 4-D volume is reported once per field it breaks.
        let four_d = GOOD
            .replace("dimension: 3", "dimension: 4")
            .replace("sizes: 4 3 2", "sizes: 4 3 2 5");
        assert_eq!(nrrd(&four_d, &[0; 48]).len(), 2);
    }

    fn nifti1(dims: &[i16], datatype: i16, bitpix: i16) -> Vec<u8> {
        let mut h = vec![0u8; 352];
        h[..4].copy_from_slice(&348u32.to_le_bytes());
        h[40..42].copy_from_slice(&(dims.len() as i16).to_le_bytes());
        for (i, d) in dims.iter().enumerate() {
            h[42 + 2 * i..44 + 2 * i].copy_from_slice(&d.to_le_bytes());
        }
        h[70..72].copy_from_slice(&datatype.to_le_bytes());
        h[72..74].copy_from_slice(&bitpix.to_le_bytes());
        h[108..112].copy_from_slice(&352f32.to_le_bytes());
        h[344..348].copy_from_slice(b"n+1\0");
        h
    }

    fn nifti(file: Vec<u8>, gz: bool) -> Vec<Problem> {
        let head = file[..file.len().min(8192)].to_vec();
        check_nifti(&mut source(file), &head, gz).unwrap()
    }

    #[test]
    fn nifti1_volumes() {
        let mut good = nifti1(&[4, 3, 2], 4, 16);
        good.extend_from_slice(&[0; 48]);
        assert_eq!(nifti(good.clone(), false), vec![]);
        assert_eq!(nifti(gzip(&good), true), vec![]);
        let cut = nifti(good[..good.len() - 1].to_vec(), false);
        assert_eq!(codes(&cut), vec![ProblemCode::Truncated]);
        assert!(cut[0].message.contains("needs 400"), "{}", cut[0].message);
        let noise: Vec<u8> = (0u32..5000)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let noisy = [nifti1(&[50, 50, 2], 2, 8), noise].concat();
        assert_eq!(nifti(gzip(&noisy), true), vec![]);
        let mut cut_gz = gzip(&noisy);
        cut_gz.truncate(cut_gz.len() - 20);
        assert_eq!(codes(&nifti(cut_gz, true)), vec![ProblemCode::Truncated]);
        // Data beyond what the header needs is not read, even if damaged.
        let mut long = gzip(&[good.clone(), vec![1; 100]].concat());
        long.truncate(long.len() - 4);
        assert_eq!(nifti(long, true), vec![]);
        let mut headless = gzip(&good);
        headless.truncate(20);
        assert_eq!(codes(&nifti(headless, true)), vec![ProblemCode::Truncated]);

        let mut big_endian = good.clone();
        big_endian[..4].copy_from_slice(&348u32.to_be_bytes());
        for i in 0..4 {
            big_endian.swap(40 + 2 * i, 41 + 2 * i);
        }
        big_endian.swap(70, 71);
        big_endian.swap(72, 73);
        big_endian[108..112].copy_from_slice(&352f32.to_be_bytes());
        assert_eq!(nifti(big_endian, false), vec![]);

        let mut time = nifti1(&[4, 3, 2, 5], 4, 16);
        time.extend_from_slice(&[0; 240]);
        let problems = nifti(time, false);
        assert_eq!(codes(&problems), vec![ProblemCode::UnsupportedVolume]);
        assert!(problems[0].message.contains("dim[4] = 5"));
        let mut trailing_one = nifti1(&[4, 3, 2, 1], 4, 16);
        trailing_one.extend_from_slice(&[0; 48]);
        assert_eq!(nifti(trailing_one, false), vec![]);
        let mut flat = nifti1(&[4, 3], 4, 16);
        flat.extend_from_slice(&[0; 24]);
        assert_eq!(
            codes(&nifti(flat, false)),
            vec![ProblemCode::UnsupportedVolume]
        );
        let mut rgb = nifti1(&[4, 3, 2], 128, 24);
        rgb.extend_from_slice(&[0; 72]);
        let problems = nifti(rgb, false);
        assert_eq!(
            (codes(&problems), problems[0].severity),
            (
                vec![ProblemCode::UnsupportedVolume],
                super::super::Severity::Warning
            )
        );
        assert_eq!(
            codes(&nifti(nifti1(&[4, 3, 2], 3, 8), false)),
            vec![ProblemCode::Corrupt]
        );
    }

    #[test]
    fn nifti2_volume() {
        let mut h = vec![0u8; 544];
        h[..4].copy_from_slice(&540u32.to_le_bytes());
        h[4..12].copy_from_slice(b"n+2\0\r\n\x1a\n");
        h[12..14].copy_from_slice(&16i16.to_le_bytes());
        h[14..16].copy_from_slice(&32i16.to_le_bytes());
        for (i, d) in [3i64, 2, 2, 2].iter().enumerate() {
            h[16 + 8 * i..24 + 8 * i].copy_from_slice(&d.to_le_bytes());
        }
        h[168..176].copy_from_slice(&544i64.to_le_bytes());
        let mut good = h.clone();
        good.extend_from_slice(&[0; 32]);
        assert_eq!(nifti(good, false), vec![]);
        let mut cut = h;
        cut.extend_from_slice(&[0; 31]);
        assert_eq!(codes(&nifti(cut, false)), vec![ProblemCode::Truncated]);
    }

    fn element(tag: (u16, u16), vr: &[u8], value: &[u8]) -> Vec<u8> {
        let mut v = tag.0.to_le_bytes().to_vec();
        v.extend_from_slice(&tag.1.to_le_bytes());
        v.extend_from_slice(vr);
        if LONG_VRS.iter().any(|long| long.as_slice() == vr) {
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            v.extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        v.extend_from_slice(value);
        v
    }

    fn dicom(syntax: &str, data_set: &[u8]) -> Vec<u8> {
        let mut file = vec![0u8; 128];
        file.extend_from_slice(b"DICM");
        let mut uid = syntax.as_bytes().to_vec();
        if uid.len() % 2 == 1 {
            uid.push(0);
        }
        let meta = [
            element((2, 1), b"OB", &[0, 1]),
            element((2, 0x10), b"UI", &uid),
        ]
        .concat();
        file.extend(element((2, 0), b"UL", &(meta.len() as u32).to_le_bytes()));
        file.extend(meta);
        file.extend_from_slice(data_set);
        file
    }

    #[test]
    fn dicom_walks_to_the_end() {
        let pixels = element((0x7FE0, 0x10), b"OW", &[0; 64]);
        let explicit = [
            element((8, 0x60), b"CS", b"OT"),
            element((0x28, 0x10), b"US", &[8, 0]),
            pixels.clone(),
        ]
        .concat();
        let file = dicom("1.2.840.10008.1.2.1", &explicit);
        assert_eq!(check_dicom(&mut source(file.clone())).unwrap(), vec![]);
        let cut = check_dicom(&mut source(file[..file.len() - 10].to_vec())).unwrap();
        assert_eq!(codes(&cut), vec![ProblemCode::Truncated]);
        assert!(
            cut[0].message.contains("(7FE0,0010) (Pixel Data)"),
            "{}",
            cut[0].message
        );

        // Implicit VR, with a sequence of undefined length holding an item of undefined length.
        let implicit_el = |tag: (u16, u16), value: &[u8]| {
            let mut v = tag.0.to_le_bytes().to_vec();
            v.extend_from_slice(&tag.1.to_le_bytes());
            v.extend_from_slice(&(value.len() as u32).to_le_bytes());
            v.extend_from_slice(value);
            v
        };
        let mut seq = vec![0x08, 0x00, 0x15, 0x11, 0xFF, 0xFF, 0xFF, 0xFF];
        seq.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        seq.extend(implicit_el((8, 0x1150), b"1.2.3\0"));
        seq.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        seq.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        let data = [seq.clone(), implicit_el((0x7FE0, 0x10), &[1; 16])].concat();
        let file = dicom("1.2.840.10008.1.2", &data);
        assert_eq!(check_dicom(&mut source(file)).unwrap(), vec![]);
        let unclosed = dicom("1.2.840.10008.1.2", &seq[..seq.len() - 8]);
        assert_eq!(
            codes(&check_dicom(&mut source(unclosed)).unwrap()),
            vec![ProblemCode::Truncated]
        );

        // Encapsulated pixel data: items of defined length up to the sequence delimiter.
        let mut encapsulated = vec![
            0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        encapsulated.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
        encapsulated.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 4, 0, 0, 0, 1, 2, 3, 4]);
        encapsulated.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        let file = dicom("1.2.840.10008.1.2.4.50", &encapsulated);
        assert_eq!(check_dicom(&mut source(file.clone())).unwrap(), vec![]);
        assert_eq!(
            codes(&check_dicom(&mut source(file[..file.len() - 14].to_vec())).unwrap()),
            vec![ProblemCode::Truncated]
        );
    }
}
