//! RIFF/WAVE parsing: the `fmt `, `fact` and `data` chunks, read by seeking from chunk to chunk
//! so that only headers are ever in memory.

use std::io::{self, Read, Seek, SeekFrom};

/// `WAVE_FORMAT_PCM`.
pub(crate) const TAG_PCM: u16 = 0x0001;
/// `WAVE_FORMAT_ADPCM` (Microsoft).
pub(crate) const TAG_ADPCM_MS: u16 = 0x0002;
/// `WAVE_FORMAT_IEEE_FLOAT`.
pub(crate) const TAG_FLOAT: u16 = 0x0003;
/// `WAVE_FORMAT_ALAW`.
pub(crate) const TAG_ALAW: u16 = 0x0006;
/// `WAVE_FORMAT_MULAW`.
pub(crate) const TAG_MULAW: u16 = 0x0007;
/// `WAVE_FORMAT_IMA_ADPCM` (DVI).
pub(crate) const TAG_ADPCM_IMA: u16 = 0x0011;
/// `WAVE_FORMAT_MPEG` (Layer I/II).
pub(crate) const TAG_MPEG: u16 = 0x0050;
/// `WAVE_FORMAT_MPEGLAYER3`.
pub(crate) const TAG_MPEG_L3: u16 = 0x0055;
/// `WAVE_FORMAT_EXTENSIBLE`: the real tag is the first two bytes of the sub-format GUID.
pub(crate) const TAG_EXTENSIBLE: u16 = 0xFFFE;

/// The `fmt ` chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fmt {
    /// The format tag, with `WAVE_FORMAT_EXTENSIBLE` resolved to its sub-format.
    pub tag: u16,
    /// The tag as written.
    pub raw_tag: u16,
    pub channels: u16,
    pub sample_rate: u32,
    pub block_align: u16,
    pub bits_per_sample: u16,
    /// ADPCM: samples per channel in one block, from the extension.
    pub samples_per_block: Option<u16>,
}

impl Fmt {
    /// Short codec name, e.g. `pcm_s16le`, `pcm_f32le`, `adpcm_ms`; `None` for tags not handled here
    /// (MPEG tags are named by the frame walker).
    pub fn codec(&self) -> Option<String> {
        let container_bits = if self.channels > 0 {
            u32::from(self.block_align) * 8 / u32::from(self.channels)
        } else {
            u32::from(self.bits_per_sample)
        };
        Some(match self.tag {
            TAG_PCM if container_bits == 8 => "pcm_u8".to_owned(),
            TAG_PCM => format!("pcm_s{container_bits}le"),
            TAG_FLOAT => format!("pcm_f{container_bits}le"),
            TAG_ALAW => "pcm_alaw".to_owned(),
            TAG_MULAW => "pcm_mulaw".to_owned(),
            TAG_ADPCM_MS => "adpcm_ms".to_owned(),
            TAG_ADPCM_IMA => "adpcm_ima".to_owned(),
            _ => return None,
        })
    }

    /// PCM, float, A-law or µ-law: every block is one sample frame.
    pub fn is_pcm_like(&self) -> bool {
        matches!(self.tag, TAG_PCM | TAG_FLOAT | TAG_ALAW | TAG_MULAW)
    }

    /// Microsoft or IMA ADPCM.
    pub fn is_adpcm(&self) -> bool {
        matches!(self.tag, TAG_ADPCM_MS | TAG_ADPCM_IMA)
    }

    /// MPEG audio inside WAV (Layer III, or Layer I/II).
    pub fn is_mpeg(&self) -> bool {
        matches!(self.tag, TAG_MPEG | TAG_MPEG_L3)
    }
}

/// Where the audio lies and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub fmt: Fmt,
    /// `fact` chunk: sample frames (compressed formats).
    pub fact_samples: Option<u32>,
    /// Offset of the first `data` byte.
    pub data_start: u64,
    /// Data bytes present in the file (never past its end).
    pub data_len: u64,
    /// Data bytes the chunk header declares, when it declares a real size.
    pub declared_len: Option<u64>,
}

impl Layout {
    /// The data chunk declares more bytes than the file holds.
    pub fn is_cut(&self) -> bool {
        self.declared_len.is_some_and(|d| d > self.data_len)
    }

    /// Sample frames (per channel), for PCM-like and ADPCM data.
    pub fn sample_frames(&self) -> Option<u64> {
        let f = &self.fmt;
        if f.block_align == 0 {
            return None;
        }
        if f.is_pcm_like() {
            return Some(self.data_len / u64::from(f.block_align));
        }
        if f.is_adpcm() {
            if let Some(n) = self.fact_samples {
                return Some(u64::from(n));
            }
            let spb = u64::from(f.samples_per_block?);
            let blocks = self.data_len.div_ceil(u64::from(f.block_align));
            return Some(blocks * spb);
        }
        None
    }
}

/// Why a RIFF/WAVE file could not be laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Issue {
    /// Not `RIFF....WAVE`.
    NotWave,
    /// The file ends before the `fmt ` or `data` chunk does.
    Cut(String),
    /// Structurally wrong.
    Corrupt(String),
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads as many bytes as are there, up to `buf.len()`.
fn read_up_to<R: Read>(src: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn parse_fmt(body: &[u8]) -> Result<Fmt, Issue> {
    if body.len() < 16 {
        return Err(Issue::Corrupt(format!(
            "the fmt chunk is {} bytes, fewer than 16",
            body.len()
        )));
    }
    let raw_tag = le16(body, 0);
    let mut tag = raw_tag;
    let cb_size = if body.len() >= 18 {
        usize::from(le16(body, 16))
    } else {
        0
    };
    if raw_tag == TAG_EXTENSIBLE {
        if body.len() < 40 || cb_size < 22 {
            return Err(Issue::Corrupt(
                "WAVE_FORMAT_EXTENSIBLE without its 22-byte extension".to_owned(),
            ));
        }
        tag = le16(body, 24);
    }
    let samples_per_block =
        (matches!(tag, TAG_ADPCM_MS | TAG_ADPCM_IMA) && cb_size >= 2 && body.len() >= 20)
            .then(|| le16(body, 18));
    Ok(Fmt {
        tag,
        raw_tag,
        channels: le16(body, 2),
        sample_rate: le32(body, 4),
        block_align: le16(body, 12),
        bits_per_sample: le16(body, 14),
        samples_per_block,
    })
}

/// Walks the chunks of a RIFF/WAVE file of `file_len` bytes. Outer error: I/O; inner: structure.
pub(crate) fn layout<R: Read + Seek>(
    src: &mut R,
    file_len: u64,
) -> io::Result<Result<Layout, Issue>> {
    src.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; 12];
    if read_up_to(src, &mut head)? < 12 || &head[..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(Err(Issue::NotWave));
    }
    let mut fmt: Option<Fmt> = None;
    let mut fact = None;
    let mut data: Option<(u64, u64, Option<u64>)> = None;
    let mut pos = 12u64;
    loop {
        if let (Some(fmt), Some((data_start, data_len, declared_len))) = (fmt, data) {
            return Ok(Ok(Layout {
                fmt,
                fact_samples: fact,
                data_start,
                data_len,
                declared_len,
            }));
        }
        if pos + 8 > file_len {
            let missing = if fmt.is_none() { "fmt " } else { "data" };
            return Ok(Err(Issue::Cut(format!(
                "the file ends before its \"{missing}\" chunk"
            ))));
        }
        src.seek(SeekFrom::Start(pos))?;
        let mut ch = [0u8; 8];
        if read_up_to(src, &mut ch)? < 8 {
            return Ok(Err(Issue::Cut(
                "the file ends inside a chunk header".to_owned(),
            )));
        }
        let id = [ch[0], ch[1], ch[2], ch[3]];
        let size = u64::from(le32(&ch, 4));
        let body_start = pos + 8;
        let available = file_len - body_start;
        match &id {
            b"fmt " => {
                let mut body = vec![0u8; size.min(64) as usize];
                let got = read_up_to(src, &mut body)?;
                if (got as u64) < size.min(64) {
                    return Ok(Err(Issue::Cut(
                        "the file ends inside the fmt chunk".to_owned(),
                    )));
                }
                match parse_fmt(&body) {
                    Ok(f) => fmt = Some(f),
                    Err(issue) => return Ok(Err(issue)),
                }
            }
            b"fact" if size >= 4 => {
                let mut b = [0u8; 4];
                if read_up_to(src, &mut b)? == 4 {
                    fact = Some(u32::from_le_bytes(b));
                }
            }
            b"data" => {
                // 0 and 0xFFFFFFFF are what streaming writers leave: the data runs to the end.
                let open_ended = size == 0xFFFF_FFFF || (size == 0 && available > 0);
                let (len, declared) = if open_ended {
                    (available, None)
                } else {
                    (size.min(available), Some(size))
                };
                data = Some((body_start, len, declared));
                if fmt.is_none() && size > available {
                    return Ok(Err(Issue::Cut(
                        "the data chunk runs past the end of the file before any fmt chunk"
                            .to_owned(),
                    )));
                }
                if open_ended {
                    if fmt.is_none() {
                        return Ok(Err(Issue::Corrupt(
                            "an open-ended data chunk comes before the fmt chunk".to_owned(),
                        )));
                    }
                    continue;
                }
            }
            _ => {}
        }
        pos = body_start + size + (size & 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn wav(
        fmt_body: &[u8],
        extra: &[(&[u8; 4], Vec<u8>)],
        data: &[u8],
        declared: Option<u32>,
    ) -> Vec<u8> {
        let mut v = b"RIFF\0\0\0\0WAVE".to_vec();
        v.extend(b"fmt ");
        v.extend((fmt_body.len() as u32).to_le_bytes());
        v.extend(fmt_body);
        for (id, body) in extra {
            v.extend(*id);
            v.extend((body.len() as u32).to_le_bytes());
            v.extend(body);
            if body.len() % 2 == 1 {
                v.push(0);
            }
        }
        v.extend(b"data");
        v.extend(declared.unwrap_or(data.len() as u32).to_le_bytes());
        v.extend(data);
        v
    }

    fn pcm_fmt(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let align = channels * bits / 8;
        let mut b = Vec::new();
        b.extend(tag.to_le_bytes());
        b.extend(channels.to_le_bytes());
        b.extend(rate.to_le_bytes());
        b.extend((rate * u32::from(align)).to_le_bytes());
        b.extend(align.to_le_bytes());
        b.extend(bits.to_le_bytes());
        b
    }

    fn lay(bytes: &[u8]) -> Result<Layout, Issue> {
        layout(&mut Cursor::new(bytes), bytes.len() as u64).expect("in-memory read")
    }

    #[test]
    fn pcm_with_odd_chunk_before_data() {
        let bytes = wav(
            &pcm_fmt(TAG_PCM, 2, 44_100, 16),
            &[(b"LIST", vec![1, 2, 3])],
            &[0u8; 4000],
            None,
        );
        let l = lay(&bytes).expect("layout");
        assert_eq!(l.fmt.codec().as_deref(), Some("pcm_s16le"));
        assert_eq!(
            (l.data_len, l.sample_frames(), l.is_cut()),
            (4000, Some(1000), false)
        );
    }

    #[test]
    fn extensible_float_and_cut_data() {
        let mut f = pcm_fmt(TAG_EXTENSIBLE, 2, 48_000, 32);
        f.extend(22u16.to_le_bytes());
        f.extend(32u16.to_le_bytes());
        f.extend(3u32.to_le_bytes());
        f.extend([
            3, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
        ]);
        let bytes = wav(&f, &[], &[0u8; 800], Some(8000));
        let l = lay(&bytes).expect("layout");
        assert_eq!((l.fmt.tag, l.fmt.raw_tag), (TAG_FLOAT, TAG_EXTENSIBLE));
        assert_eq!(l.fmt.codec().as_deref(), Some("pcm_f32le"));
        assert!(l.is_cut());
        assert_eq!(l.sample_frames(), Some(100));
    }

    #[test]
    fn streaming_size_runs_to_the_end() {
        let bytes = wav(
            &pcm_fmt(TAG_PCM, 1, 8000, 8),
            &[],
            &[0x80; 333],
            Some(0xFFFF_FFFF),
        );
        let l = lay(&bytes).expect("layout");
        assert_eq!((l.data_len, l.declared_len, l.is_cut()), (333, None, false));
        assert_eq!(l.fmt.codec().as_deref(), Some("pcm_u8"));
    }

    #[test]
    fn adpcm_samples_from_fact_or_blocks() {
        let mut f = Vec::new();
        f.extend(TAG_ADPCM_IMA.to_le_bytes());
        f.extend(1u16.to_le_bytes());
        f.extend(22_050u32.to_le_bytes());
        f.extend(11_100u32.to_le_bytes());
        f.extend(512u16.to_le_bytes());
        f.extend(4u16.to_le_bytes());
        f.extend(2u16.to_le_bytes());
        f.extend(1017u16.to_le_bytes());
        let no_fact = lay(&wav(&f, &[], &[0u8; 1024], None)).expect("layout");
        assert_eq!(no_fact.sample_frames(), Some(2 * 1017));
        let with_fact = lay(&wav(
            &f,
            &[(b"fact", 2000u32.to_le_bytes().to_vec())],
            &[0u8; 1024],
            None,
        ))
        .expect("layout");
        assert_eq!(with_fact.sample_frames(), Some(2000));
        assert_eq!(with_fact.fmt.codec().as_deref(), Some("adpcm_ima"));
    }

    #[test]
    fn broken_files() {
        assert_eq!(lay(b"RIFF\0\0\0\0AVI LIST"), Err(Issue::NotWave));
        let bytes = wav(&pcm_fmt(TAG_PCM, 2, 44_100, 16), &[], &[], None);
        assert!(matches!(lay(&bytes[..30]), Err(Issue::Cut(_))));
        assert!(matches!(
            lay(&wav(&[1, 0, 2, 0], &[], &[0; 4], None)),
            Err(Issue::Corrupt(_))
        ));
    }
}
