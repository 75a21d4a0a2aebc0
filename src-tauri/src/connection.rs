//! Which hub the app talks to. Local mode (the default) runs the hub inside the app on a
//! loopback port with its data under `ASSETDROP_ROOT` (default: the OS data folder), so a first
//! start needs no set-up. Remote mode talks to a shared hub; its API key is kept in the OS
//! keyring when a Secret Service answers on the session bus, otherwise in a file only the user
//! can read. Settings live in `settings.json` under `ASSETDROP_CONFIG_DIR` (default: the OS
//! config folder).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use assetdrop::hub::{self, HubConfig, RunningHub};
use assetdrop::upload::HubClient;
use assetdrop::{Error, ErrorCode};
use serde::{Deserialize, Serialize};

const KEYRING_SERVICE: &str = "assetdrop";
const KEY_FILE: &str = "remote-api-key";

/// Local (embedded hub) or remote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// The hub runs inside the app.
    #[default]
    Local,
    /// A hub elsewhere.
    Remote,
}

/// Where a remote hub's key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KeyStore {
    /// The OS keyring (Secret Service).
    Keyring,
    /// A file readable by the user only.
    File,
}

/// What is remembered between starts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// The mode to start in.
    #[serde(default)]
    pub mode: Mode,
    /// The remote hub's URL, once one was set.
    #[serde(default)]
    pub remote_url: Option<String>,
    /// Where its key was stored.
    #[serde(default)]
    pub key_store: Option<KeyStore>,
}

/// The app's folders.
#[derive(Debug, Clone)]
pub struct Folders {
    /// Settings and the key file.
    pub config: PathBuf,
    /// The local hub's root.
    pub root: PathBuf,
}

impl Folders {
    /// From `ASSETDROP_CONFIG_DIR` / `ASSETDROP_ROOT`, or the OS folders.
    pub fn from_env() -> Result<Self, Error> {
        let dirs = directories::ProjectDirs::from("", "", "assetdrop");
        let pick = |var: &str, fallback: Option<PathBuf>| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or(fallback)
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::InvalidInput,
                        format!("no home folder found; set {var} to a folder assetdrop may use"),
                    )
                })
        };
        Ok(Self {
            config: pick(
                "ASSETDROP_CONFIG_DIR",
                dirs.as_ref().map(|d| d.config_dir().to_path_buf()),
            )?,
            root: pick(
                "ASSETDROP_ROOT",
                dirs.as_ref().map(|d| d.data_dir().to_path_buf()),
            )?,
        })
    }

    /// The journal of the upload in progress.
    pub fn journal(&self) -> PathBuf {
        self.config.join("upload-journal.json")
    }

    fn settings_file(&self) -> PathBuf {
        self.config.join("settings.json")
    }

    /// The saved settings, or defaults when there are none (or they cannot be read).
    pub fn load(&self) -> Settings {
        fs_err::read_to_string(self.settings_file())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Saves settings atomically.
    pub fn save(&self, settings: &Settings) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(settings)
            .map_err(|e| Error::with_source(ErrorCode::Internal, "cannot write settings", e))?;
        write_private(&self.config, &self.settings_file(), text.as_bytes())
    }
}

/// Writes `path` through a temp file in `dir` and a rename, readable by the user only.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let io = |e: std::io::Error| {
        Error::with_source(
            ErrorCode::Internal,
            format!("cannot write {}", path.display()),
            e,
        )
    };
    fs_err::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Whether a Secret Service could answer: without a session bus, asking would only fail
/// (or try to start one).
fn keyring_available() -> bool {
    std::env::var_os("ASSETDROP_NO_KEYRING").is_none()
        && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty())
}

/// Stores a remote hub's key: in the keyring when it takes it, otherwise in a private file.
pub fn store_key(folders: &Folders, url: &str, key: &str) -> Result<KeyStore, Error> {
    store_key_with(folders, url, key, keyring_available())
}

fn store_key_with(
    folders: &Folders,
    url: &str,
    key: &str,
    keyring: bool,
) -> Result<KeyStore, Error> {
    if keyring {
        let stored = keyring::Entry::new(KEYRING_SERVICE, url).and_then(|e| e.set_password(key));
        if stored.is_ok() {
            // A key left in the file by an earlier fallback is no longer needed.
            let _ = fs_err::remove_file(folders.config.join(KEY_FILE));
            return Ok(KeyStore::Keyring);
        }
    }
    write_private(
        &folders.config,
        &folders.config.join(KEY_FILE),
        key.as_bytes(),
    )?;
    Ok(KeyStore::File)
}

/// The stored key of a remote hub.
pub fn stored_key(folders: &Folders, url: &str, store: KeyStore) -> Result<String, Error> {
    let missing = || {
        Error::new(
            ErrorCode::Unauthorized,
            format!("no API key is stored for {url}; enter it in Settings"),
        )
    };
    match store {
        KeyStore::Keyring => keyring::Entry::new(KEYRING_SERVICE, url)
            .and_then(|e| e.get_password())
            .map_err(|_| missing()),
        KeyStore::File => fs_err::read_to_string(folders.config.join(KEY_FILE))
            .map(|k| k.trim().to_owned())
            .map_err(|_| missing()),
    }
}

/// The hub in use.
pub struct Connection {
    /// A client for it.
    pub client: HubClient,
    /// Local or remote.
    pub mode: Mode,
    /// The embedded hub, in local mode.
    local: Option<RunningHub>,
}

/// What the page shows about the connection.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Local or remote.
    pub mode: Mode,
    /// The hub's URL.
    pub hub_url: String,
    /// The local hub's data folder, in local mode.
    pub root: Option<PathBuf>,
    /// The remote hub's URL, once one was set (also while local).
    pub remote_url: Option<String>,
    /// Where the remote key is kept.
    pub key_store: Option<KeyStore>,
    /// The app's version.
    pub version: &'static str,
}

impl Connection {
    /// Starts the embedded hub on a loopback port.
    pub async fn local(folders: &Folders) -> Result<Self, Error> {
        let running = hub::start(
            HubConfig::new(&folders.root),
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .await?;
        let client = HubClient::new(&running.url, &running.api_key)?;
        Ok(Self {
            client,
            mode: Mode::Local,
            local: Some(running),
        })
    }

    /// Connects to a remote hub, checking the URL and key with one request.
    pub async fn remote(url: &str, key: &str) -> Result<Self, Error> {
        let client = HubClient::new(url, key)?;
        client.list_projects(1, 1).await?;
        Ok(Self {
            client,
            mode: Mode::Remote,
            local: None,
        })
    }

    /// Stops the embedded hub, if any.
    pub async fn close(self) {
        if let Some(h) = self.local {
            if let Err(e) = h.shutdown().await {
                eprintln!("assetdrop: stopping the local hub: {e}");
            }
        }
    }

    /// The status for the page.
    pub fn status(&self, folders: &Folders, settings: &Settings) -> Status {
        Status {
            mode: self.mode,
            hub_url: self.client.base_url().to_owned(),
            root: self.local.as_ref().map(|_| folders.root.clone()),
            remote_url: settings.remote_url.clone(),
            key_store: settings.key_store,
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folders(dir: &Path) -> Folders {
        Folders {
            config: dir.join("config"),
            root: dir.join("root"),
        }
    }

    #[test]
    fn settings_round_trip_and_unreadable_ones_fall_back_to_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = folders(dir.path());
        assert_eq!(f.load().mode, Mode::Local, "no file: local mode");
        let s = Settings {
            mode: Mode::Remote,
            remote_url: Some("https://hub.example".into()),
            key_store: Some(KeyStore::File),
        };
        f.save(&s).unwrap();
        let back = f.load();
        assert_eq!(back.mode, Mode::Remote);
        assert_eq!(back.remote_url.as_deref(), Some("https://hub.example"));
        assert_eq!(back.key_store, Some(KeyStore::File));
        fs_err::write(f.config.join("settings.json"), "{not json").unwrap();
        assert_eq!(f.load().mode, Mode::Local);
    }

    #[test]
    fn without_a_keyring_the_key_goes_to_a_file_only_the_user_reads() {
        let dir = tempfile::tempdir().unwrap();
        let f = folders(dir.path());
        let store = store_key_with(&f, "https://hub.example", "s3cret", false).unwrap();
        assert_eq!(store, KeyStore::File);
        assert_eq!(
            stored_key(&f, "https://hub.example", store).unwrap(),
            "s3cret"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs_err::metadata(f.config.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Replaced, not appended, on the next store.
        store_key_with(&f, "https://hub.example", "other", false).unwrap();
        assert_eq!(
            stored_key(&f, "https://hub.example", store).unwrap(),
            "other"
        );
    }

    #[test]
    fn a_missing_key_says_where_to_enter_it() {
        let dir = tempfile::tempdir().unwrap();
        let e =
            stored_key(&folders(dir.path()), "https://hub.example", KeyStore::File).unwrap_err();
        assert_eq!(e.code, ErrorCode::Unauthorized);
        assert!(e.message.contains("Settings"), "{}", e.message);
    }
}
