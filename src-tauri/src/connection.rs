//! Which hub the app talks to. Local mode (the default) runs the hub inside the app on a
//! loopback port with its data under `ASSETDROP_ROOT` (default: the OS data folder), so a first
//! start needs no set-up. Ango mode talks to a hosted Ango Hub chosen by region; self-hosted mode
//! to any hub by its URL (Ango Hub on premises, or an assetdrop hub). A remote hub's API key is
//! kept in the OS keyring when a Secret Service answers on the session bus, otherwise in a file
//! only the user can read. Settings live in `settings.json` under `ASSETDROP_CONFIG_DIR`
//! (default: the OS config folder), beside the import receipt (`receipts.sqlite`): on a hub that
//! cannot tell which contents it holds (Ango Hub), the receipt is what keeps a second upload of
//! the same files, a resumed one or a repeated import from creating anything twice.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use assetdrop::hub::{self, HubConfig, RunningHub};
use assetdrop::upload::{self, Hub, HubClient, RetryPolicy, ANGO_HUBS};
use assetdrop::{Error, ErrorCode};
use serde::{Deserialize, Serialize};

const KEYRING_SERVICE: &str = "assetdrop";

/// Which hub the app uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// The hub runs inside the app.
    #[default]
    Local,
    /// A hosted Ango Hub.
    Ango,
    /// A hub at a URL of the user's: Ango Hub on premises or an assetdrop hub. Settings written
    /// before hosted Ango Hubs were offered call it `remote`.
    #[serde(alias = "remote")]
    SelfHosted,
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

/// What is remembered between starts. Each kind of remote hub keeps its own last choice and key,
/// so switching between them (or to the local hub and back) asks for nothing again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// The mode to start in.
    #[serde(default)]
    pub mode: Mode,
    /// The hosted Ango Hub last connected to, by its short name (`ango-eu`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ango_hub: Option<String>,
    /// Where that hub's key is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ango_key_store: Option<KeyStore>,
    /// The self-hosted hub's URL, once one was set.
    #[serde(default, alias = "remoteUrl", skip_serializing_if = "Option::is_none")]
    pub self_hosted_url: Option<String>,
    /// Where its key is kept.
    #[serde(default, alias = "keyStore", skip_serializing_if = "Option::is_none")]
    pub self_hosted_key_store: Option<KeyStore>,
}

impl Settings {
    /// The remote hub the saved mode uses, when it is a remote mode and its hub was set.
    pub fn remote(&self) -> Option<Remote> {
        match self.mode {
            Mode::Local => None,
            Mode::Ango => self.ango_hub.clone().map(|region| Remote::Ango { region }),
            Mode::SelfHosted => self
                .self_hosted_url
                .clone()
                .map(|url| Remote::SelfHosted { url }),
        }
    }
}

/// A remote hub as the user chooses it in Settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Remote {
    /// A hosted Ango Hub by the short name of its region (see [`ANGO_HUBS`]).
    Ango {
        /// `ango-eu`, `ango-us`, `ango-in` or `ango-test`.
        region: String,
    },
    /// Any hub by its URL.
    SelfHosted {
        /// The hub's API URL.
        url: String,
    },
}

impl Remote {
    fn mode(&self) -> Mode {
        match self {
            Self::Ango { .. } => Mode::Ango,
            Self::SelfHosted { .. } => Mode::SelfHosted,
        }
    }

    /// The hub's API URL.
    fn url(&self) -> Result<String, Error> {
        match self {
            Self::Ango { region } => ango_hub(region).map(|(_, _, url)| url.to_owned()),
            Self::SelfHosted { url } if url.trim().is_empty() => Err(Error::new(
                ErrorCode::InvalidInput,
                "enter the URL of the hub",
            )),
            Self::SelfHosted { url } => upload::hub_url(url),
        }
    }

    /// The file the key goes to when there is no keyring. A self-hosted hub's keeps the name it
    /// had when it was the only remote hub.
    fn key_file(&self) -> &'static str {
        match self {
            Self::Ango { .. } => "ango-api-key",
            Self::SelfHosted { .. } => "remote-api-key",
        }
    }

    /// Where the key of this very hub was stored, if it was.
    fn stored_in(&self, settings: &Settings, url: &str) -> Option<KeyStore> {
        match self {
            Self::Ango { region } => settings
                .ango_key_store
                .filter(|_| settings.ango_hub.as_deref() == Some(region.as_str())),
            Self::SelfHosted { .. } => settings
                .self_hosted_key_store
                .filter(|_| settings.self_hosted_url.as_deref() == Some(url)),
        }
    }

    /// Makes this hub, reached at `url` with a key kept in `store`, the one to start with.
    fn remember(&self, settings: &mut Settings, url: String, store: KeyStore) {
        match self {
            Self::Ango { region } => {
                settings.ango_hub = Some(region.clone());
                settings.ango_key_store = Some(store);
            }
            Self::SelfHosted { .. } => {
                settings.self_hosted_url = Some(url);
                settings.self_hosted_key_store = Some(store);
            }
        }
        settings.mode = self.mode();
    }

    /// What people call the hub: the hosted hub's region, or the kind of hub the URL answered
    /// as and where it is.
    fn label(&self, hub: &Hub, url: &str) -> String {
        match self {
            Self::Ango { region } => {
                ango_hub(region).map_or_else(|_| "Ango Hub".to_owned(), |(_, l, _)| l.to_owned())
            }
            Self::SelfHosted { .. } => {
                let host = url.split_once("://").map_or(url, |(_, rest)| rest);
                let host = host.split('/').next().unwrap_or(host);
                format!("Self-hosted {} ({host})", describe(hub).0)
            }
        }
    }
}

/// The hosted Ango Hub of a region's short name.
fn ango_hub(region: &str) -> Result<(&'static str, &'static str, &'static str), Error> {
    ANGO_HUBS
        .iter()
        .find(|(name, _, _)| *name == region)
        .copied()
        .ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "{region:?} is not a hosted Ango Hub; choose one of {}",
                    ANGO_HUBS.map(|h| h.1).join(", ")
                ),
            )
        })
}

/// A hosted Ango Hub, for the region choice.
#[derive(Debug, Clone, Serialize)]
pub struct AngoHub {
    /// Its short name, as [`Remote::Ango`] takes it.
    pub name: &'static str,
    /// What people read.
    pub label: &'static str,
    /// Its API URL.
    pub url: &'static str,
}

/// The hosted Ango Hubs.
pub fn ango_hubs() -> Vec<AngoHub> {
    ANGO_HUBS
        .iter()
        .map(|&(name, label, url)| AngoHub { name, label, url })
        .collect()
}

/// The hub's own line about itself, split into its name and what it does to keep imports
/// exactly once (the whole line as the latter if it has no name part).
fn describe(hub: &Hub) -> (String, String) {
    let line = hub.describe();
    match line.split_once(": ") {
        Some((name, supports)) => (name.to_owned(), supports.to_owned()),
        None => (String::new(), line),
    }
}

/// The app's folders.
#[derive(Debug, Clone)]
pub struct Folders {
    /// Settings, the key file and the import receipt.
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

    /// The import receipt every client of the app keeps.
    pub fn receipts(&self) -> PathBuf {
        self.config.join("receipts.sqlite")
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

/// Stores a remote hub's key: in the keyring when it takes it, otherwise in the private file
/// `file` of the settings folder.
fn store_key(folders: &Folders, file: &str, url: &str, key: &str) -> Result<KeyStore, Error> {
    store_key_with(folders, file, url, key, keyring_available())
}

fn store_key_with(
    folders: &Folders,
    file: &str,
    url: &str,
    key: &str,
    keyring: bool,
) -> Result<KeyStore, Error> {
    if keyring {
        let stored = keyring::Entry::new(KEYRING_SERVICE, url).and_then(|e| e.set_password(key));
        if stored.is_ok() {
            // A key left in the file by an earlier fallback is no longer needed.
            let _ = fs_err::remove_file(folders.config.join(file));
            return Ok(KeyStore::Keyring);
        }
    }
    write_private(&folders.config, &folders.config.join(file), key.as_bytes())?;
    Ok(KeyStore::File)
}

/// The stored key of a remote hub.
fn stored_key(folders: &Folders, file: &str, url: &str, store: KeyStore) -> Result<String, Error> {
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
        KeyStore::File => fs_err::read_to_string(folders.config.join(file))
            .map(|k| k.trim().to_owned())
            .map_err(|_| missing()),
    }
}

/// Connects to `remote` with `key`, or without one with the key stored for this very hub. Once
/// the hub has answered, a new key is stored and the choice saved in `settings`, so the app
/// starts with this hub next time.
pub async fn connect(
    folders: &Folders,
    settings: &mut Settings,
    remote: &Remote,
    key: Option<&str>,
) -> Result<Connection, Error> {
    let url = remote.url()?;
    let given = key.map(str::trim).filter(|k| !k.is_empty());
    let saved = remote.stored_in(settings, &url);
    let key = match (given, saved) {
        (Some(k), _) => k.to_owned(),
        (None, Some(store)) => stored_key(folders, remote.key_file(), &url, store)?,
        (None, None) => {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("enter the API key of {url}"),
            ))
        }
    };
    let conn = Connection::remote(folders, remote, &url, &key).await?;
    let store = match (given, saved) {
        (None, Some(store)) => store,
        _ => store_key(folders, remote.key_file(), &url, &key)?,
    };
    remote.remember(settings, url, store);
    folders.save(settings)?;
    Ok(conn)
}

/// Retries of the first look at a hub: one, soon.
const FIRST_LOOK: RetryPolicy = RetryPolicy {
    max_retries: 1,
    base: std::time::Duration::from_millis(200),
    max: std::time::Duration::from_millis(500),
};

/// A failed first look at a hub, said in terms of what to check.
fn not_connected(url: &str, e: Error) -> Error {
    let message = match e.code {
        ErrorCode::Unauthorized => format!("{url} refused the API key; check the key"),
        ErrorCode::NotFound | ErrorCode::InvalidInput => {
            format!("{url} does not answer like a hub (no v2 API there); check the URL")
        }
        ErrorCode::Network => format!("no hub answered at {url}"),
        _ => return e,
    };
    Error::with_source(e.code, message, e)
}

/// Whether the hub is an assetdrop hub (with its extensions) or offers Ango's documented API
/// only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum HubKind {
    /// An assetdrop hub.
    Assetdrop,
    /// Ango Hub, hosted or on premises.
    Ango,
}

/// The hub in use.
pub struct Connection {
    /// A client for it.
    pub client: HubClient,
    /// Which mode.
    pub mode: Mode,
    /// What the hub said it is.
    hub: Hub,
    /// What people call it.
    label: String,
    /// The embedded hub, in local mode.
    local: Option<RunningHub>,
}

/// What the page shows about the connection.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Which mode.
    pub mode: Mode,
    /// The hub's URL.
    pub hub_url: String,
    /// What people call the hub: "Local hub", "Ango Hub (EU)", "Self-hosted Ango Hub (host)".
    pub hub_label: String,
    /// Which kind of hub answered.
    pub hub_kind: HubKind,
    /// What the hub does to keep imports exactly once, in the hub's own words.
    pub supports: String,
    /// The local hub's data folder, in local mode.
    pub root: Option<PathBuf>,
    /// The hosted Ango Hub last connected to (also while on another hub).
    pub ango_hub: Option<String>,
    /// The self-hosted hub's URL, once one was set (also while on another hub).
    pub self_hosted_url: Option<String>,
    /// Where the key of the hub in use is kept (none for the local hub).
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
        let asked = async {
            let client =
                HubClient::new(&running.url, &running.api_key)?.with_receipt(folders.receipts());
            let hub = client.hub().await?.clone();
            Ok::<_, Error>((client, hub))
        };
        match asked.await {
            Ok((client, hub)) => Ok(Self {
                client,
                mode: Mode::Local,
                hub,
                label: "Local hub".to_owned(),
                local: Some(running),
            }),
            Err(e) => {
                if let Err(stop) = running.shutdown().await {
                    eprintln!("assetdrop: stopping the local hub: {stop}");
                }
                Err(e)
            }
        }
    }

    /// Connects to a remote hub at `url`, checking the URL and key by asking which hub it is
    /// and for a page of projects.
    async fn remote(
        folders: &Folders,
        remote: &Remote,
        url: &str,
        key: &str,
    ) -> Result<Self, Error> {
        // The first look fails fast: a closed port or a wrong address is said at once, not after
        // the minute of retries an upload gets for a hub that stops answering mid-way.
        let client = HubClient::new(url, key)?
            .with_receipt(folders.receipts())
            .with_retry(FIRST_LOOK);
        let hub = client
            .hub()
            .await
            .map_err(|e| not_connected(url, e))?
            .clone();
        client
            .list_projects(1, 1)
            .await
            .map_err(|e| not_connected(url, e))?;
        Ok(Self {
            label: remote.label(&hub, url),
            client: client.with_retry(RetryPolicy::default()),
            mode: remote.mode(),
            hub,
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
        let key_store = match self.mode {
            Mode::Local => None,
            Mode::Ango => settings.ango_key_store,
            Mode::SelfHosted => settings.self_hosted_key_store,
        };
        Status {
            mode: self.mode,
            hub_url: self.client.base_url().to_owned(),
            hub_label: self.label.clone(),
            hub_kind: match self.hub {
                Hub::Assetdrop(_) => HubKind::Assetdrop,
                Hub::Ango => HubKind::Ango,
            },
            supports: describe(&self.hub).1,
            root: self.local.as_ref().map(|_| folders.root.clone()),
            ango_hub: settings.ango_hub.clone(),
            self_hosted_url: settings.self_hosted_url.clone(),
            key_store,
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
    fn new_settings_round_trip_and_unreadable_ones_fall_back_to_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = folders(dir.path());
        assert_eq!(f.load(), Settings::default(), "no file: local mode");
        assert_eq!(f.load().remote(), None);
        let both = Settings {
            mode: Mode::Ango,
            ango_hub: Some("ango-us".into()),
            ango_key_store: Some(KeyStore::Keyring),
            self_hosted_url: Some("https://hub.example".into()),
            self_hosted_key_store: Some(KeyStore::File),
        };
        for mode in [Mode::Local, Mode::Ango, Mode::SelfHosted] {
            let s = Settings {
                mode,
                ..both.clone()
            };
            f.save(&s).unwrap();
            assert_eq!(f.load(), s);
        }
        let written: serde_json::Value =
            serde_json::from_str(&fs_err::read_to_string(f.config.join("settings.json")).unwrap())
                .unwrap();
        assert_eq!(
            written,
            serde_json::json!({
                "mode": "selfHosted",
                "angoHub": "ango-us",
                "angoKeyStore": "keyring",
                "selfHostedUrl": "https://hub.example",
                "selfHostedKeyStore": "file",
            })
        );
        assert_eq!(
            f.load().remote(),
            Some(Remote::SelfHosted {
                url: "https://hub.example".into()
            })
        );
        f.save(&Settings {
            mode: Mode::Ango,
            ..both
        })
        .unwrap();
        assert_eq!(
            f.load().remote(),
            Some(Remote::Ango {
                region: "ango-us".into()
            })
        );
        fs_err::write(f.config.join("settings.json"), "{not json").unwrap();
        assert_eq!(f.load(), Settings::default());
    }

    #[test]
    fn settings_from_before_hosted_ango_hubs_load_as_self_hosted() {
        let dir = tempfile::tempdir().unwrap();
        let f = folders(dir.path());
        fs_err::create_dir_all(&f.config).unwrap();
        let old = r#"{"mode": "remote", "remoteUrl": "https://hub.example", "keyStore": "file"}"#;
        fs_err::write(f.config.join("settings.json"), old).unwrap();
        let s = f.load();
        assert_eq!(s.mode, Mode::SelfHosted);
        assert_eq!(s.self_hosted_url.as_deref(), Some("https://hub.example"));
        assert_eq!(s.self_hosted_key_store, Some(KeyStore::File));
        assert_eq!(s.ango_hub, None);
        let remote = s.remote().unwrap();
        assert_eq!(
            remote.stored_in(&s, "https://hub.example"),
            Some(KeyStore::File)
        );
        // Its key file is still the one it reads.
        fs_err::write(f.config.join("remote-api-key"), "old-key\n").unwrap();
        assert_eq!(
            stored_key(&f, remote.key_file(), "https://hub.example", KeyStore::File).unwrap(),
            "old-key"
        );
        let old_local =
            r#"{"mode": "local", "remoteUrl": "https://hub.example", "keyStore": "file"}"#;
        fs_err::write(f.config.join("settings.json"), old_local).unwrap();
        let s = f.load();
        assert_eq!(s.mode, Mode::Local);
        assert_eq!(s.self_hosted_url.as_deref(), Some("https://hub.example"));
    }

    #[test]
    fn each_hub_kind_remembers_its_own_choice_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = folders(dir.path());
        let mut s = Settings::default();
        let eu = Remote::Ango {
            region: "ango-eu".into(),
        };
        let mine = Remote::SelfHosted {
            url: "https://hub.example/".into(),
        };
        let eu_url = eu.url().unwrap();
        let mine_url = mine.url().unwrap();
        assert_eq!(eu_url, ANGO_HUBS[0].2);
        assert_eq!(mine_url, "https://hub.example");
        let store = store_key_with(&f, eu.key_file(), &eu_url, "ango-key", false).unwrap();
        eu.remember(&mut s, eu_url.clone(), store);
        let store = store_key_with(&f, mine.key_file(), &mine_url, "own-key", false).unwrap();
        mine.remember(&mut s, mine_url.clone(), store);
        assert_eq!(s.mode, Mode::SelfHosted);
        assert_eq!(s.ango_hub.as_deref(), Some("ango-eu"));
        for (remote, url, key) in [(&eu, &eu_url, "ango-key"), (&mine, &mine_url, "own-key")] {
            let store = remote.stored_in(&s, url).unwrap();
            assert_eq!(stored_key(&f, remote.key_file(), url, store).unwrap(), key);
        }
        // Another region or URL has no stored key yet.
        let us = Remote::Ango {
            region: "ango-us".into(),
        };
        assert_eq!(us.stored_in(&s, &us.url().unwrap()), None);
        assert_eq!(
            mine.stored_in(&s, "https://other.example"),
            None,
            "a key is used for the URL it was entered for only"
        );
    }

    #[test]
    fn a_hub_must_be_a_hosted_region_or_a_url() {
        let e = Remote::Ango {
            region: "https://imeritapi.ango.ai".into(),
        }
        .url()
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("Ango Hub (EU)"), "{}", e.message);
        for bad in ["", "  ", "hub.example"] {
            let e = Remote::SelfHosted { url: bad.into() }.url().unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad:?}");
        }
        let hubs = ango_hubs();
        assert_eq!(hubs.len(), ANGO_HUBS.len());
        assert!(hubs.iter().all(|h| Remote::Ango {
            region: h.name.into()
        }
        .url()
        .is_ok_and(|u| u == h.url)));
    }

    #[test]
    fn labels_say_which_hub_and_what_it_does() {
        let ango = Remote::Ango {
            region: "ango-eu".into(),
        };
        assert_eq!(ango.label(&Hub::Ango, ANGO_HUBS[0].2), "Ango Hub (EU)");
        let own = Remote::SelfHosted {
            url: "https://hub.example:8443/api".into(),
        };
        assert_eq!(
            own.label(&Hub::Ango, "https://hub.example:8443/api"),
            "Self-hosted Ango Hub (hub.example:8443)"
        );
        let (name, supports) = describe(&Hub::Ango);
        assert_eq!(name, "Ango Hub");
        assert!(
            supports.starts_with("duplicate check by receipt"),
            "{supports}"
        );
    }

    #[test]
    fn without_a_keyring_the_key_goes_to_a_file_only_the_user_reads() {
        let dir = tempfile::tempdir().unwrap();
        let f = folders(dir.path());
        let file = "remote-api-key";
        let store = store_key_with(&f, file, "https://hub.example", "s3cret", false).unwrap();
        assert_eq!(store, KeyStore::File);
        assert_eq!(
            stored_key(&f, file, "https://hub.example", store).unwrap(),
            "s3cret"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs_err::metadata(f.config.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Replaced, not appended, on the next store.
        store_key_with(&f, file, "https://hub.example", "other", false).unwrap();
        assert_eq!(
            stored_key(&f, file, "https://hub.example", store).unwrap(),
            "other"
        );
    }

    #[test]
    fn a_missing_key_says_where_to_enter_it() {
        let dir = tempfile::tempdir().unwrap();
        let e = stored_key(
            &folders(dir.path()),
            "remote-api-key",
            "https://hub.example",
            KeyStore::File,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::Unauthorized);
        assert!(e.message.contains("Settings"), "{}", e.message);
    }

    #[test]
    fn a_failed_connect_says_what_to_check_and_keeps_the_hubs_answer() {
        let url = "https://hub.example";
        for (code, says) in [
            (ErrorCode::Unauthorized, "refused the API key"),
            (ErrorCode::NotFound, "does not answer like a hub"),
            (ErrorCode::Network, "no hub answered"),
        ] {
            let e = not_connected(url, Error::new(code, "GET /v2/listProjects: (HTTP 4xx)"));
            assert_eq!(e.code, code);
            assert!(
                e.message.starts_with(url) || e.message.ends_with(url),
                "{}",
                e.message
            );
            assert!(e.message.contains(says), "{}", e.message);
            let cause = std::error::Error::source(&e).map(ToString::to_string);
            assert_eq!(cause.as_deref(), Some("GET /v2/listProjects: (HTTP 4xx)"));
        }
        let other = not_connected(url, Error::new(ErrorCode::Internal, "a bug"));
        assert_eq!(other.message, "a bug");
    }

    #[tokio::test]
    async fn connecting_without_a_key_asks_for_one_and_saves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let f = folders(dir.path());
        let mut s = Settings::default();
        let remote = Remote::SelfHosted {
            url: "http://127.0.0.1:9".into(),
        };
        let e = connect(&f, &mut s, &remote, Some("  "))
            .await
            .err()
            .unwrap();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("API key"), "{}", e.message);
        assert_eq!(s, Settings::default());
        assert!(!f.config.join("settings.json").exists());
    }
}
