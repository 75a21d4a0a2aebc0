//! Signed URLs for blobs kept on the hub's own disk: a keyed BLAKE3 MAC over the method, the path,
//! the expiry and the size limit, so a URL can be handed to any HTTP client (curl, the official
//! SDK's `requests.put`) without an API key, and cannot be reused for another path or after expiry.

use std::fmt::Write as _;
use std::path::Path;

/// Why a signed URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A required query parameter is absent.
    #[error("the URL is not signed (missing `{0}`); ask the hub for a fresh URL")]
    Missing(&'static str),
    /// The signature does not match (the URL was altered).
    #[error("the URL signature does not match; the URL was altered or is for another path")]
    Mismatch,
    /// The URL is past its expiry.
    #[error("the signed URL expired; ask the hub for a fresh one")]
    Expired,
}

/// The parameters a signature covers, as they travel in the query string.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SignedQuery {
    /// Unix seconds after which the URL is refused.
    pub expires: Option<u64>,
    /// Largest body accepted, for upload URLs.
    #[serde(rename = "maxSize")]
    pub max_size: Option<u64>,
    /// Hex MAC.
    pub sig: Option<String>,
}

/// Signs and checks URLs with the hub's secret.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<secret>)")
    }
}

impl Signer {
    /// A signer with the given secret.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// Loads the secret from `file`, creating a random one (readable only by the owner) if absent.
    pub fn load_or_create(file: &Path) -> std::io::Result<Self> {
        if let Ok(text) = fs_err::read_to_string(file) {
            let mut key = [0u8; 32];
            if hex::decode_to_slice(text.trim(), &mut key).is_ok() {
                return Ok(Self::new(key));
            }
        }
        let key: [u8; 32] = rand::random();
        super::write_private(file, hex::encode(key).as_bytes())?;
        Ok(Self::new(key))
    }

    fn mac(&self, method: &str, path: &str, expires: u64, max_size: Option<u64>) -> blake3::Hash {
        let mut msg = String::with_capacity(path.len() + 48);
        let _ = write!(
            msg,
            "{method}\n{path}\n{expires}\n{}",
            max_size.unwrap_or(0)
        );
        blake3::keyed_hash(&self.key, msg.as_bytes())
    }

    /// The query string (without `?`) that signs `method path` until `expires`.
    pub fn query(&self, method: &str, path: &str, expires: u64, max_size: Option<u64>) -> String {
        let sig = self.mac(method, path, expires, max_size).to_hex();
        match max_size {
            Some(max) => format!("expires={expires}&maxSize={max}&sig={sig}"),
            None => format!("expires={expires}&sig={sig}"),
        }
    }

    /// Checks a signed request; `now` is Unix seconds (injected for tests).
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        q: &SignedQuery,
        now: u64,
    ) -> Result<(), SignatureError> {
        let expires = q.expires.ok_or(SignatureError::Missing("expires"))?;
        let sig = q.sig.as_deref().ok_or(SignatureError::Missing("sig"))?;
        let given = blake3::Hash::from_hex(sig).map_err(|_| SignatureError::Mismatch)?;
        // `blake3::Hash` compares in constant time.
        if given != self.mac(method, path, expires, q.max_size) {
            return Err(SignatureError::Mismatch);
        }
        if now > expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> SignedQuery {
        let mut out = SignedQuery::default();
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').expect("pair");
            match k {
                "expires" => out.expires = v.parse().ok(),
                "maxSize" => out.max_size = v.parse().ok(),
                "sig" => out.sig = Some(v.to_owned()),
                _ => panic!("unexpected {k}"),
            }
        }
        out
    }

    #[test]
    fn round_trip_and_refusals() {
        let s = Signer::new([7; 32]);
        let q = parse(&s.query("PUT", "/uploaded-data/p/a.png", 100, Some(10)));
        assert_eq!(s.verify("PUT", "/uploaded-data/p/a.png", &q, 100), Ok(()));
        assert_eq!(
            s.verify("PUT", "/uploaded-data/p/a.png", &q, 101),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            s.verify("GET", "/uploaded-data/p/a.png", &q, 1),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            s.verify("PUT", "/uploaded-data/p/b.png", &q, 1),
            Err(SignatureError::Mismatch)
        );
        let mut bigger = q.clone();
        bigger.max_size = Some(11);
        assert_eq!(
            s.verify("PUT", "/uploaded-data/p/a.png", &bigger, 1),
            Err(SignatureError::Mismatch)
        );
        let mut later = q.clone();
        later.expires = Some(1000);
        assert_eq!(
            s.verify("PUT", "/uploaded-data/p/a.png", &later, 1),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            s.verify("PUT", "/x", &SignedQuery::default(), 1),
            Err(SignatureError::Missing("expires"))
        );
        let other = Signer::new([8; 32]);
        assert_eq!(
            other.verify("PUT", "/uploaded-data/p/a.png", &q, 1),
            Err(SignatureError::Mismatch)
        );
    }
}
