//! A byte range of a file seen as a whole file, so that symphonia can read the MP3 stream inside a
//! WAV `data` chunk, or an MP3 stream behind an `ID3v2` tag it would not skip on its own.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;

/// `[start, end)` of `file`, positioned at its own offset 0.
pub(crate) struct RangeSource {
    file: File,
    start: u64,
    end: u64,
    /// Position relative to `start`.
    pos: u64,
}

impl RangeSource {
    pub fn new(mut file: File, start: u64, end: u64) -> io::Result<Self> {
        file.seek(SeekFrom::Start(start))?;
        Ok(Self {
            file,
            start,
            end: end.max(start),
            pos: 0,
        })
    }

    fn len(&self) -> u64 {
        self.end - self.start
    }
}

impl Read for RangeSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len().saturating_sub(self.pos);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if n == 0 {
            return Ok(0);
        }
        let got = self.file.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Seek for RangeSource {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the audio range",
            )
        })?;
        self.file
            .seek(SeekFrom::Start(self.start.saturating_add(target)))?;
        self.pos = target;
        Ok(target)
    }
}

impl MediaSource for RangeSource {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_and_seeks_inside_the_range() {
        let mut tmp = tempfile::tempfile().expect("temp file");
        tmp.write_all(b"0123456789abcdef").expect("write");
        let mut r = RangeSource::new(tmp, 4, 10).expect("range");
        let mut s = String::new();
        r.read_to_string(&mut s).expect("read");
        assert_eq!(s, "456789");
        assert_eq!(r.seek(SeekFrom::End(-2)).expect("seek"), 4);
        let mut b = [0u8; 8];
        assert_eq!(r.read(&mut b).expect("read"), 2);
        assert_eq!(&b[..2], b"89");
        assert!(r.seek(SeekFrom::Current(-100)).is_err());
        assert_eq!(r.byte_len(), Some(6));
    }
}
