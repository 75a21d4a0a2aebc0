//! Text input in the encodings spreadsheet programs and editors save: UTF-8 (with or without a
//! byte-order mark) as it is, and UTF-16 with its byte-order mark (Excel's "Unicode Text",
//! Notepad's "Unicode"), turned into UTF-8 as it is read, so the readers of cloud lists and tables
//! see one encoding. Streaming: a few KiB in memory whatever the size.

use std::io::{self, Read};

/// How much UTF-16 is decoded at a time.
const CHUNK: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The first bytes have not been read yet.
    Unknown,
    /// Anything but UTF-16 with a byte-order mark: passed through unchanged.
    Plain,
    /// UTF-16, decoded to UTF-8.
    Utf16 { big_endian: bool },
}

/// A reader giving UTF-8 for UTF-16 input that starts with a byte-order mark (which it drops),
/// and every other input's bytes unchanged. Broken UTF-16 (an unpaired surrogate, an odd last
/// byte) is an [`io::ErrorKind::InvalidData`] error that names the byte offset.
#[derive(Debug)]
pub struct Utf8Reader<R> {
    inner: R,
    mode: Mode,
    /// Decoded (or, for plain input, sniffed) bytes not handed out yet: `out[at..]`.
    out: Vec<u8>,
    at: usize,
    /// A first byte of a code unit whose second byte has not arrived.
    odd: Option<u8>,
    /// A high surrogate waiting for its low half.
    high: Option<u16>,
    /// Where the first code unit not yet decoded (a held high surrogate included) starts in
    /// the input, for error messages.
    offset: u64,
    done: bool,
    /// Where the input broke, once it did: every read after the text before it is an error.
    failed: Option<String>,
}

impl<R: Read> Utf8Reader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            mode: Mode::Unknown,
            out: Vec::new(),
            at: 0,
            odd: None,
            high: None,
            offset: 0,
            done: false,
            failed: None,
        }
    }

    /// Whether the input turned out to be UTF-16 (known once something was read).
    pub fn is_utf16(&self) -> bool {
        matches!(self.mode, Mode::Utf16 { .. })
    }

    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    /// Reads the first two bytes and decides the mode.
    fn sniff(&mut self) -> io::Result<()> {
        let mut head = [0u8; 2];
        let mut got = 0;
        while got < 2 {
            let n = self.read_some(&mut head[got..])?;
            if n == 0 {
                break;
            }
            got += n;
        }
        self.mode = match head[..got] {
            [0xFF, 0xFE] => Mode::Utf16 { big_endian: false },
            [0xFE, 0xFF] => Mode::Utf16 { big_endian: true },
            _ => {
                self.out.extend_from_slice(&head[..got]);
                Mode::Plain
            }
        };
        if self.is_utf16() {
            self.offset = 2;
        }
        Ok(())
    }

    /// Stops at broken input: the error now if nothing was decoded before it in this chunk,
    /// else once the text before it is read; and at every read after, so no reader takes the
    /// place it broke for the end of the text.
    fn stop(&mut self, what: &str, at: u64) -> io::Result<()> {
        self.done = true;
        let message = format!(
            "the UTF-16 text {what} at byte {at}; save the file as UTF-8 (or UTF-16 again from the program that made it)"
        );
        self.failed = Some(message.clone());
        if self.out.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
        Ok(())
    }

    /// Decodes the next chunk of UTF-16 into `out`; leaves `out` empty only at the end.
    fn decode(&mut self, big_endian: bool) -> io::Result<()> {
        let unit = |pair: &[u8]| {
            let pair = [pair[0], pair[1]];
            if big_endian {
                u16::from_be_bytes(pair)
            } else {
                u16::from_le_bytes(pair)
            }
        };
        self.out.clear();
        self.at = 0;
        let mut raw = [0u8; CHUNK];
        while self.out.is_empty() && !self.done {
            let mut n = 0;
            if let Some(b) = self.odd.take() {
                raw[0] = b;
                n = 1;
            }
            let got = self.read_some(&mut raw[n..])?;
            if got == 0 {
                self.done = true;
                if n == 1 {
                    let at = self.offset + if self.high.is_some() { 2 } else { 0 };
                    return self.stop("ends with half a character", at);
                }
                if self.high.is_some() {
                    return self.stop("ends with an unpaired surrogate", self.offset);
                }
                break;
            }
            n += got;
            let mut whole = n - n % 2;
            if whole < n {
                self.odd = Some(raw[n - 1]);
            }
            if whole == 0 {
                // One byte came: it waits in `odd`, and a held surrogate keeps waiting.
                continue;
            }
            // A high surrogate last in the chunk waits for its low half in the next.
            let held = self.high.take();
            if matches!(unit(&raw[whole - 2..whole]), 0xD800..=0xDBFF) {
                whole -= 2;
                self.high = Some(unit(&raw[whole..whole + 2]));
            }
            let units = held
                .into_iter()
                .chain(raw[..whole].chunks_exact(2).map(unit));
            for decoded in char::decode_utf16(units) {
                let Ok(c) = decoded else {
                    return self.stop("has an unpaired surrogate", self.offset);
                };
                let mut utf8 = [0u8; 4];
                self.out
                    .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                self.offset += 2 * c.len_utf16() as u64;
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.mode == Mode::Unknown {
            self.sniff()?;
        }
        if self.at == self.out.len() {
            if let Some(message) = &self.failed {
                return Err(io::Error::new(io::ErrorKind::InvalidData, message.clone()));
            }
            match self.mode {
                Mode::Utf16 { big_endian } => self.decode(big_endian)?,
                _ => return self.read_some(buf),
            }
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader handing out at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn read_all(data: &[u8], step: usize, buf_len: usize) -> io::Result<Vec<u8>> {
        let mut r = Utf8Reader::new(Trickle { data, step });
        let mut out = Vec::new();
        let mut buf = vec![0u8; buf_len];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        let mut out = if big_endian {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for u in text.encode_utf16() {
            out.extend_from_slice(&if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            });
        }
        out
    }

    #[test]
    fn utf16_of_either_byte_order_reads_as_utf8_however_it_arrives() {
        let text = "id\ttitle\n1\tCafé 🐈 — ünïcode\n".repeat(900);
        for big_endian in [false, true] {
            let input = utf16(&text, big_endian);
            for (step, buf_len) in [(1, 1), (3, 7), (CHUNK + 1, 5), (usize::MAX, 64 * 1024)] {
                let out = read_all(&input, step, buf_len).expect("read");
                assert_eq!(
                    String::from_utf8(out).expect("utf-8"),
                    text,
                    "big endian {big_endian}, step {step}, buffer {buf_len}"
                );
            }
        }
    }

    #[test]
    fn other_input_passes_through_unchanged() {
        for input in [
            &b""[..],
            b"[",
            b"[]",
            b"\xEF\xBB\xBF[1]",
            b"\xFF",
            b"\xFFx",
            b"\x00[\x00",
            b"latin1 \xE9",
        ] {
            for step in [1, 2, 100] {
                assert_eq!(read_all(input, step, 3).expect("read"), input);
            }
            let mut r = Utf8Reader::new(input);
            r.read_to_end(&mut Vec::new()).expect("read");
            assert!(!r.is_utf16());
        }
    }

    #[test]
    fn broken_utf16_is_an_error_naming_the_byte() {
        let mut lone_high = utf16("ab", false);
        lone_high.extend_from_slice(&0xD83Du16.to_le_bytes());
        lone_high.extend_from_slice(&u16::from(b'c').to_le_bytes());
        let mut lone_low = utf16("a", true);
        lone_low.extend_from_slice(&0xDC00u16.to_be_bytes());
        let mut trailing_high = utf16("a", false);
        trailing_high.extend_from_slice(&0xD800u16.to_le_bytes());
        let mut odd = utf16("ab", false);
        odd.push(b'c');
        for (input, what, at) in [
            (lone_high, "unpaired surrogate", 6),
            (lone_low, "unpaired surrogate", 4),
            (trailing_high, "ends with an unpaired surrogate", 4),
            (odd, "half a character", 6),
        ] {
            for step in [1, 5, 100] {
                let mut r = Utf8Reader::new(Trickle { data: &input, step });
                let mut text = Vec::new();
                let mut buf = [0u8; 4];
                let e = loop {
                    match r.read(&mut buf) {
                        Ok(0) => panic!("no error for {input:?}"),
                        Ok(n) => text.extend_from_slice(&buf[..n]),
                        Err(e) => break e,
                    }
                };
                assert!(b"ab".starts_with(&text) && !text.is_empty(), "{text:?}");
                let again = r.read(&mut buf).expect_err("still broken");
                assert_eq!(again.to_string(), e.to_string());
                assert_eq!(e.kind(), io::ErrorKind::InvalidData);
                let msg = e.to_string();
                assert!(
                    msg.contains(what) && msg.contains(&format!("at byte {at};")),
                    "step {step}: {msg}"
                );
            }
        }
    }
}
