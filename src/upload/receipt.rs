//! The receipt: what this machine registered into which hub and project, kept in a small
//! `SQLite` file so it survives crashes, `kill -9` and power cuts (each change is one
//! transaction). It is what makes imports exactly-once on a hub that offers nothing for it, as
//! Ango Hub does not: a re-run skips what the receipt says is registered; a registration whose
//! answer was lost is *sent* until a look at the project settles it; and contents sent before are
//! recognised without asking the hub.
//!
//! Each item is known by its key (the upload ID the importer derives from project, position and
//! content), so the same file, entry or row is the same item on every run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension as _};

use crate::error::{Error, ErrorCode};

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Its registration was sent and no answer confirmed it: the project must be looked at.
    Sent,
    /// It is an asset of the project.
    Registered,
}

/// One item of a registration, as the receipt keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The item's key.
    pub key: String,
    /// Its external ID.
    pub external_id: String,
    /// BLAKE3 of its file's bytes, for uploaded files.
    pub content_hash: Option<String>,
    /// A fingerprint of the `data` it was registered with ([`fingerprint`]).
    pub data: String,
    /// Where it stands.
    pub state: State,
    /// The asset, when known.
    pub asset_id: Option<String>,
    /// For a sent item: the newest asset of the project just before it was sent (`None` when the
    /// project had none). Any asset of it in the project is newer than that one.
    pub mark: Option<String>,
    /// When it last changed, seconds since the Unix epoch.
    pub updated: i64,
}

/// What the receipt keeps of an item being registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The item's key.
    pub key: String,
    /// Its external ID.
    pub external_id: String,
    /// BLAKE3 of its file's bytes, for uploaded files.
    pub content_hash: Option<String>,
    /// The [`fingerprint`] of its `data`.
    pub data: String,
}

/// A short fingerprint of an asset's `data`, to recognise it in a listing.
pub fn fingerprint(data: &str) -> String {
    blake3::hash(data.as_bytes()).to_hex()[..32].to_owned()
}

/// The receipt of one hub: a handle on the file, shared by every import to that hub.
pub struct Receipt {
    conn: Mutex<Connection>,
    path: PathBuf,
    hub: String,
}

impl std::fmt::Debug for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receipt")
            .field("path", &self.path)
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Receipt {
    /// The usual place: `receipts.sqlite` in the OS data folder (`~/.local/share/assetdrop` on
    /// Linux), or `None` when the OS names none.
    pub fn default_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "assetdrop")
            .map(|d| d.data_dir().join("receipts.sqlite"))
    }

    /// Opens (creating it when missing) the receipt file at `path`, for the hub known as `hub`
    /// (our hub's catalog ID, or a plain hub's base URL). Several processes may share one file.
    pub fn open(path: &Path, hub: &str) -> Result<Self, Error> {
        let fail = |e: &dyn std::fmt::Display| {
            Error::new(
                ErrorCode::Internal,
                format!(
                    "cannot open the import receipt {}: {e}; check that its folder is writable, \
                     or choose another receipt file",
                    path.display()
                ),
            )
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs_err::create_dir_all(dir).map_err(|e| fail(&e))?;
        }
        let conn = Connection::open(path).map_err(|e| fail(&e))?;
        Self::init(conn, path.to_path_buf(), hub).map_err(|e| fail(&e))
    }

    /// A receipt kept in memory only: exactly-once within one process, not across runs.
    pub fn in_memory(hub: &str) -> Result<Self, Error> {
        let conn = Connection::open_in_memory()
            .map_err(|e| Error::with_source(ErrorCode::Internal, "cannot make a receipt", e))?;
        Self::init(conn, PathBuf::from(":memory:"), hub)
            .map_err(|e| Error::with_source(ErrorCode::Internal, "cannot make a receipt", e))
    }

    fn init(conn: Connection, path: PathBuf, hub: &str) -> rusqlite::Result<Self> {
        conn.busy_timeout(Duration::from_secs(60))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS item (
                hub TEXT NOT NULL,
                project TEXT NOT NULL,
                key TEXT NOT NULL,
                external_id TEXT NOT NULL,
                content_hash TEXT,
                data TEXT NOT NULL,
                state INTEGER NOT NULL,
                asset_id TEXT,
                mark TEXT,
                updated INTEGER NOT NULL,
                PRIMARY KEY (hub, project, key)
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS item_content ON item (hub, project, content_hash)
                WHERE content_hash IS NOT NULL;
            CREATE INDEX IF NOT EXISTS item_sent ON item (hub, project, state);",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
            path,
            hub: hub.to_owned(),
        })
    }

    /// The file, or `:memory:`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The hub this receipt speaks of.
    pub fn hub(&self) -> &str {
        &self.hub
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fail(&self, e: &rusqlite::Error) -> Error {
        Error::new(
            ErrorCode::Internal,
            format!("the import receipt {}: {e}", self.path.display()),
        )
    }

    /// The item `key` of `project`, if the receipt has it.
    pub fn get(&self, project: &str, key: &str) -> Result<Option<Entry>, Error> {
        let conn = self.lock();
        conn.query_row(
            "SELECT key, external_id, content_hash, data, state, asset_id, mark, updated
             FROM item WHERE hub = ?1 AND project = ?2 AND key = ?3",
            params![self.hub, project, key],
            row_entry,
        )
        .optional()
        .map_err(|e| self.fail(&e))
    }

    /// Of these contents (BLAKE3 hex), the ones registered in `project`: hash → external ID.
    pub fn registered_contents(
        &self,
        project: &str,
        hashes: &[String],
    ) -> Result<HashMap<String, String>, Error> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT external_id FROM item WHERE hub = ?1 AND project = ?2
                 AND content_hash = ?3 AND state = 2 LIMIT 1",
            )
            .map_err(|e| self.fail(&e))?;
        let mut out = HashMap::new();
        for h in hashes {
            let found: Option<String> = stmt
                .query_row(params![self.hub, project, h], |r| r.get(0))
                .optional()
                .map_err(|e| self.fail(&e))?;
            if let Some(ext) = found {
                out.insert(h.clone(), ext);
            }
        }
        Ok(out)
    }

    /// Records that these items' registration is about to be sent, with the project's newest
    /// asset before it (`mark`). One transaction: all of them or none.
    pub fn sending(&self, project: &str, items: &[&Item], mark: Option<&str>) -> Result<(), Error> {
        self.upsert(
            project,
            "INSERT INTO item (hub, project, key, external_id, content_hash, data, state,
                               asset_id, mark, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, NULL, ?7, ?8)
             ON CONFLICT (hub, project, key) DO UPDATE SET
                external_id = excluded.external_id, content_hash = excluded.content_hash,
                data = excluded.data, state = 1, asset_id = NULL, mark = excluded.mark,
                updated = excluded.updated",
            items.iter().map(|i| (*i, mark)),
        )
    }

    /// Records these items (key, asset ID when known) as registered. One transaction.
    pub fn registered(&self, project: &str, items: &[(&Item, Option<&str>)]) -> Result<(), Error> {
        self.upsert(
            project,
            "INSERT INTO item (hub, project, key, external_id, content_hash, data, state,
                               asset_id, mark, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 2, ?7, NULL, ?8)
             ON CONFLICT (hub, project, key) DO UPDATE SET
                state = 2, asset_id = COALESCE(excluded.asset_id, item.asset_id),
                mark = NULL, updated = excluded.updated",
            items.iter().copied(),
        )
    }

    /// Runs `sql` for each item with its seventh parameter (a mark or an asset ID), in one
    /// transaction.
    fn upsert<'i>(
        &self,
        project: &str,
        sql: &str,
        items: impl Iterator<Item = (&'i Item, Option<&'i str>)>,
    ) -> Result<(), Error> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.fail(&e))?;
        {
            let mut stmt = tx.prepare_cached(sql).map_err(|e| self.fail(&e))?;
            let t = now();
            for (i, extra) in items {
                stmt.execute(params![
                    self.hub,
                    project,
                    i.key,
                    i.external_id,
                    i.content_hash,
                    i.data,
                    extra,
                    t
                ])
                .map_err(|e| self.fail(&e))?;
            }
        }
        tx.commit().map_err(|e| self.fail(&e))
    }

    /// Forgets these items: their registration surely did not happen.
    pub fn forget(&self, project: &str, keys: &[String]) -> Result<(), Error> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.fail(&e))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "DELETE FROM item WHERE hub = ?1 AND project = ?2 AND key = ?3 AND state = 1",
                )
                .map_err(|e| self.fail(&e))?;
            for k in keys {
                stmt.execute(params![self.hub, project, k])
                    .map_err(|e| self.fail(&e))?;
            }
        }
        tx.commit().map_err(|e| self.fail(&e))
    }

    /// How many items of `project` are registered and how many sent but unsettled.
    pub fn counts(&self, project: &str) -> Result<(u64, u64), Error> {
        let conn = self.lock();
        conn.query_row(
            "SELECT COALESCE(SUM(state = 2), 0), COALESCE(SUM(state = 1), 0) FROM item
             WHERE hub = ?1 AND project = ?2",
            params![self.hub, project],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )
        .map_err(|e| self.fail(&e))
    }

    /// Forgets everything recorded of `project` (after its assets were deleted on the hub, so
    /// the same files may be imported again). Returns how many items were forgotten.
    pub fn forget_project(&self, project: &str) -> Result<u64, Error> {
        let conn = self.lock();
        conn.execute(
            "DELETE FROM item WHERE hub = ?1 AND project = ?2",
            params![self.hub, project],
        )
        .map(|n| n as u64)
        .map_err(|e| self.fail(&e))
    }

    /// Every item of `project` whose registration was sent and not confirmed (a run that died
    /// or lost an answer), oldest first.
    pub fn unsettled(&self, project: &str) -> Result<Vec<Entry>, Error> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT key, external_id, content_hash, data, state, asset_id, mark, updated
                 FROM item WHERE hub = ?1 AND project = ?2 AND state = 1 ORDER BY updated",
            )
            .map_err(|e| self.fail(&e))?;
        let rows = stmt
            .query_map(params![self.hub, project], row_entry)
            .map_err(|e| self.fail(&e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.fail(&e))
    }
}

fn row_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        key: r.get(0)?,
        external_id: r.get(1)?,
        content_hash: r.get(2)?,
        data: r.get(3)?,
        state: if r.get::<_, i64>(4)? == 2 {
            State::Registered
        } else {
            State::Sent
        },
        asset_id: r.get(5)?,
        mark: r.get(6)?,
        updated: r.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, hash: Option<&str>) -> Item {
        Item {
            key: key.to_owned(),
            external_id: format!("{key}.png"),
            content_hash: hash.map(str::to_owned),
            data: fingerprint(key),
        }
    }

    #[test]
    fn items_go_from_sent_to_registered_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/receipts.sqlite");
        let r = Receipt::open(&path, "http://hub").expect("open");
        r.sending("p", &[&item("a", Some("h1")), &item("b", None)], Some("m1"))
            .expect("sending");
        let unsettled = r.unsettled("p").expect("unsettled");
        assert_eq!(unsettled.len(), 2);
        assert_eq!(unsettled[0].mark.as_deref(), Some("m1"));
        assert!(r
            .registered_contents("p", &["h1".into()])
            .expect("c")
            .is_empty());
        r.registered("p", &[(&item("a", Some("h1")), Some("asset-a"))])
            .expect("registered");
        r.forget("p", &["b".into()]).expect("forget");
        drop(r);

        let again = Receipt::open(&path, "http://hub").expect("reopen");
        let a = again.get("p", "a").expect("get").expect("a kept");
        assert_eq!(a.state, State::Registered);
        assert_eq!(a.asset_id.as_deref(), Some("asset-a"));
        assert_eq!(again.get("p", "b").expect("get"), None);
        assert!(again.unsettled("p").expect("unsettled").is_empty());
        assert_eq!(again.counts("p").expect("counts"), (1, 0));
        assert_eq!(
            again
                .registered_contents("p", &["h1".into(), "h2".into()])
                .expect("contents"),
            HashMap::from([("h1".to_owned(), "a.png".to_owned())])
        );
        // Another hub or project shares nothing.
        let other = Receipt::open(&path, "http://elsewhere").expect("other hub");
        assert_eq!(other.get("p", "a").expect("get"), None);
        assert_eq!(again.get("q", "a").expect("get"), None);
        assert_eq!(again.forget_project("p").expect("forget"), 1);
        assert_eq!(again.counts("p").expect("counts"), (0, 0));
    }

    #[test]
    fn forgetting_never_drops_a_registered_item() {
        let r = Receipt::in_memory("hub").expect("memory");
        let k = "a".to_owned();
        r.registered("p", &[(&item("a", None), None)])
            .expect("registered");
        r.forget("p", std::slice::from_ref(&k)).expect("forget");
        assert_eq!(
            r.get("p", &k).expect("get").map(|e| e.state),
            Some(State::Registered)
        );
    }

    #[test]
    fn an_unwritable_place_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, b"x").expect("write");
        let e = Receipt::open(&file.join("receipts.sqlite"), "hub").expect_err("refused");
        assert!(e.message.contains("not-a-folder"), "{}", e.message);
    }
}
