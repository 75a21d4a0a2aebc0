//! A record of an upload in progress, written before the first byte is sent and removed when
//! the upload ends, so a front end can offer to resume one that a crash, a power cut or a
//! `kill -9` interrupted. Resuming is safe because uploads are idempotent: files whose content
//! the project holds already are skipped, and each file's upload ID is derived from the
//! project, its external ID and its content.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::PlannedFile;
use crate::error::{Error, ErrorCode};
use crate::media::AudioPolicy;

/// What an upload was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Journal {
    /// The project ID.
    pub project: String,
    /// Batches every asset goes into.
    #[serde(default)]
    pub batches: Vec<String>,
    /// The audio policy.
    pub audio: AudioPolicy,
    /// Whether files already in the project are skipped.
    pub skip_existing: bool,
    /// The files and their external IDs.
    pub files: Vec<PlannedFile>,
    /// When the upload started (RFC 3339, UTC).
    pub started: String,
}

impl Journal {
    /// Writes the journal atomically (a temp file in the same folder, then a rename), so a
    /// crash leaves the old journal or the new one, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let io = |e: std::io::Error| {
            Error::with_source(
                ErrorCode::Internal,
                format!("cannot write the upload journal {}", path.display()),
                e,
            )
        };
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        fs_err::create_dir_all(dir).map_err(io)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        serde_json::to_writer(std::io::BufWriter::new(tmp.as_file_mut()), self)
            .map_err(|e| io(e.into()))?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// The journal at `path`, if an upload left one. A journal that cannot be read (a foreign
    /// or damaged file) is an error naming the file, so it is not silently dropped.
    pub fn load(path: &Path) -> Result<Option<Self>, Error> {
        let text = match fs_err::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::with_source(
                    ErrorCode::Internal,
                    format!("cannot read the upload journal {}", path.display()),
                    e,
                ))
            }
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::with_source(
                ErrorCode::InvalidInput,
                format!(
                    "the upload journal {} is damaged; delete it to start afresh",
                    path.display()
                ),
                e,
            )
        })
    }

    /// Removes the journal: the upload ended (or the user gave it up).
    pub fn remove(path: &Path) -> Result<(), Error> {
        match fs_err::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::with_source(
                ErrorCode::Internal,
                format!("cannot remove the upload journal {}", path.display()),
                e,
            )),
        }
    }

    /// The current time as the journal records it.
    pub fn now() -> String {
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Journal {
        Journal {
            project: "p1".into(),
            batches: vec!["week 1".into()],
            audio: AudioPolicy::Convert,
            skip_existing: true,
            files: vec![PlannedFile {
                path: "/data/a/b.png".into(),
                external_id: "a/b.png".into(),
                size: 12,
                audio: None,
            }],
            started: Journal::now(),
        }
    }

    #[test]
    fn saves_loads_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/upload.json");
        assert_eq!(Journal::load(&path).unwrap(), None);
        let j = sample();
        j.save(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap(), Some(j.clone()));
        // Saving again replaces it whole, and leaves no temp files behind.
        let mut k = j;
        k.files.clear();
        k.save(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap(), Some(k));
        assert_eq!(fs_err::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        Journal::remove(&path).unwrap();
        Journal::remove(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap(), None);
    }

    #[test]
    fn a_damaged_journal_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upload.json");
        fs_err::write(&path, "{\"project\": ").unwrap();
        let e = Journal::load(&path).unwrap_err();
        assert!(
            e.message.contains("upload.json") && e.message.contains("delete it"),
            "{}",
            e.message
        );
    }
}
