//! A cloud-import list as text, for editing by hand (the desktop app loads it into its editor,
//! applies offered fixes there and checks the edited text). Only lists small enough to edit
//! comfortably are read whole; a larger one is refused with the reason, and is still checked and
//! imported by streaming from the file.

use std::io::Read as _;
use std::path::Path;

use super::CloudError;
use crate::error::{Error, ErrorCode};
use crate::text::Utf8Reader;

/// The largest list [`read_for_editing`] reads: 5 MiB.
pub const MAX_EDIT_BYTES: u64 = 5 * 1024 * 1024;

/// The text of the list at `path`, UTF-8 (a UTF-16 file with a byte-order mark is turned into
/// UTF-8; a UTF-8 byte-order mark is dropped, so lines and columns stay those the checks give).
/// Refused, saying why, when the file is larger than [`MAX_EDIT_BYTES`] or is not text.
pub fn read_for_editing(path: &Path) -> Result<String, Error> {
    let open = |source| CloudError::Open {
        path: path.to_owned(),
        source,
    };
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let file = fs_err::File::open(path).map_err(open)?;
    let size = file.metadata().map_err(open)?.len();
    if size > MAX_EDIT_BYTES {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "the list {name} is {}, too large to edit here (lists up to {} can be edited): fix it in a text editor, or import it as it is",
                megabytes(size),
                megabytes(MAX_EDIT_BYTES)
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    Utf8Reader::new(file)
        .take(MAX_EDIT_BYTES * 2 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("the list {name} cannot be edited here: it is not text ({e})"),
            )
        })?;
    let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    String::from_utf8(text.to_vec()).map_err(|e| {
        Error::new(
            ErrorCode::InvalidInput,
            format!(
                "the list {name} cannot be edited here: it is not UTF-8 text (byte {} is not); save it as UTF-8, or check it as it is to see where",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// A size in MB with one decimal, e.g. `5.0 MB`.
fn megabytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // a file size, shown to one decimal
    let mb = bytes as f64 / (1024.0 * 1024.0);
    format!("{mb:.1} MB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_lists_are_read_as_utf8_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("list.json");
        std::fs::write(&plain, "\u{feff}[{\"data\": \"https://h/é.jpg\"}]\n").expect("write");
        assert_eq!(
            read_for_editing(&plain).expect("read"),
            "[{\"data\": \"https://h/é.jpg\"}]\n",
            "the byte-order mark is dropped"
        );
        let wide = dir.path().join("wide.json");
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend("[1]".encode_utf16().flat_map(u16::to_le_bytes));
        std::fs::write(&wide, utf16).expect("write");
        assert_eq!(read_for_editing(&wide).expect("read"), "[1]");
    }

    #[test]
    fn large_or_binary_lists_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big.json");
        let file = std::fs::File::create(&big).expect("create");
        file.set_len(MAX_EDIT_BYTES + 1).expect("grow");
        let e = read_for_editing(&big).expect_err("too large");
        assert!(
            e.to_string()
                .contains("the list big.json is 5.0 MB, too large to edit here"),
            "{e}"
        );
        let latin1 = dir.path().join("latin1.json");
        std::fs::write(&latin1, b"[\"caf\xE9\"]").expect("write");
        let e = read_for_editing(&latin1).expect_err("not UTF-8");
        assert!(
            e.to_string().contains("not UTF-8 text (byte 5 is not)"),
            "{e}"
        );
        assert!(read_for_editing(&dir.path().join("gone.json")).is_err());
    }
}
