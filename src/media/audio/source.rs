//! A byte range of a file seen as a whole file, so that symphonia can read the MP3 stream inside a
//! WAV `data` chunk, or an MP3 stream behind an `ID3v2` tag it would not skip on its own; and
//! [`Input`], what the probe reads: an open file, or bytes already in memory.

use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::sync::Arc;

use symphonia::core::io::MediaSource;

/// What the audio probe reads: a file, or bytes in memory. The probe walks one handle while a
/// decoder reads another, so an input can hand out a second, independent handle.
pub(crate) trait Input: Read + Seek + Send + Sync + 'static {
    /// Another handle on the same bytes (its position is not shared for memory; for a file it
    /// is, and every reader seeks before it reads).
    fn duplicate(&self) -> io::Result<Self>
    where
        Self: Sized;
}

impl Input for File {
    fn duplicate(&self) -> io::Result<Self> {
        self.try_clone()
    }
}

impl Input for Cursor<Arc<[u8]>> {
    fn duplicate(&self) -> io::Result<Self> {
        Ok(Cursor::new(Arc::clone(self.get_ref())))
    }
}

/// `[start, end)` of `file`, positioned at its own offset 0.
pub(crate) struct RangeSource<R> {
    file: R,
    start: u64,
    end: u64,
    /// Position relative to `start`.
    pos: u64,
}

impl<R: Input> RangeSource<R> {
    pub fn new(mut file: R, start: u64, end: u64) -> io::Result<Self> {
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

impl<R: Input> Read for RangeSource<R> {
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

impl<R: Input> Seek for RangeSource<R> {
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

impl<R: Input> MediaSource for RangeSource<R> {
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
