//! Storage credentials at rest. The catalog keeps each storage's secret sealed with
//! XChaCha20-Poly1305 under a 256-bit key of its own in `.hub/storage-key` (mode 0600, beside the
//! hub's other keys), the storage's ID bound in as associated data so a sealed secret cannot be
//! moved to another row. A copy of `catalog.sqlite` (a backup, a support bundle, a WAL left on
//! a shared disk) holds no usable credential without that file.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// How a sealed value starts; anything else in the column is a secret stored before sealing.
const PREFIX: &str = "sealed:v1:";
/// The cipher's 24-byte nonce: random per seal, kept with the ciphertext.
const NONCE_BYTES: usize = 24;

/// The key that seals storage secrets.
#[derive(Clone)]
pub struct SealKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(<secret>)")
    }
}

/// A sealed value that does not open: another key, or a damaged value.
#[derive(Debug, thiserror::Error)]
#[error("the value does not open with this hub's storage key (.hub/storage-key was replaced, or the catalog damaged)")]
pub struct Unsealable;

impl SealKey {
    /// A key from its 32 bytes.
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    /// A fresh random key (an in-memory catalog's).
    pub fn random() -> Self {
        Self::new(rand::random())
    }

    /// Loads the key from `file`, creating a random one (readable only by the owner) if absent.
    pub fn load_or_create(file: &Path) -> std::io::Result<Self> {
        if let Ok(text) = fs_err::read_to_string(file) {
            let mut key = [0u8; 32];
            if hex::decode_to_slice(text.trim(), &mut key).is_ok() {
                return Ok(Self::new(key));
            }
            if !text.trim().is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{} is not a storage key (64 hex digits); restore it from a backup, or move it away to start without the stored credentials",
                        file.display()
                    ),
                ));
            }
        }
        let key: [u8; 32] = rand::random();
        super::write_private(file, hex::encode(key).as_bytes())?;
        Ok(Self::new(key))
    }

    /// `plain` sealed, bound to `context` (the storage's ID), as text for the column.
    pub fn seal(&self, plain: &[u8], context: &str) -> String {
        let nonce_bytes: [u8; NONCE_BYTES] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            // Encryption fails only for messages beyond 256 GiB.
            .expect("a storage secret is far below the cipher's message limit");
        let mut out = String::with_capacity(PREFIX.len() + 2 * (NONCE_BYTES + sealed.len()));
        out.push_str(PREFIX);
        out.push_str(&hex::encode(nonce_bytes));
        out.push_str(&hex::encode(sealed));
        out
    }

    /// Opens a value [`seal`](Self::seal) made with the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, Unsealable> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|h| hex::decode(h).ok())
            .ok_or(Unsealable)?;
        if bytes.len() < NONCE_BYTES {
            return Err(Unsealable);
        }
        let (nonce, body) = bytes.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Unsealable)
    }

    /// Whether a column value is sealed (rather than stored before sealing).
    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let key = SealKey::random();
        let sealed = key.seal(b"{\"privateKey\":\"s3cr3t\"}", "storage-1");
        assert!(SealKey::is_sealed(&sealed));
        assert!(!sealed.contains("s3cr3t"));
        assert_eq!(
            key.open(&sealed, "storage-1").expect("opens"),
            b"{\"privateKey\":\"s3cr3t\"}"
        );
        // Two seals of one value differ (fresh nonce).
        assert_ne!(
            sealed,
            key.seal(b"{\"privateKey\":\"s3cr3t\"}", "storage-1")
        );
        assert!(
            key.open(&sealed, "storage-2").is_err(),
            "moved to another row"
        );
        assert!(
            SealKey::random().open(&sealed, "storage-1").is_err(),
            "another key"
        );
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).expect("hex");
        assert!(key.open(&flipped, "storage-1").is_err(), "tampered");
        assert!(key.open("sealed:v1:00", "storage-1").is_err());
    }

    #[test]
    fn the_key_file_is_made_once_and_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("storage-key");
        let first = SealKey::load_or_create(&file).expect("create");
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = SealKey::load_or_create(&file).expect("load");
        let sealed = first.seal(b"x", "c");
        assert_eq!(again.open(&sealed, "c").expect("same key"), b"x");
        std::fs::write(&file, "not hex").expect("write");
        let err = SealKey::load_or_create(&file).expect_err("a damaged key is not replaced");
        assert!(err.to_string().contains("restore it"), "{err}");
    }
}
