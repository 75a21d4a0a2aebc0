//! Real storage servers on 127.0.0.1 for the storage tests: s3s-fs (S3; checks signatures and
//! presigned-URL expiry), Azurite (Azure Blob; checks shared-key and SAS signatures and expiry) and
//! fake-gcs-server (GCS; checks neither). `scripts/servers.sh` installs them under the cargo target
//! dir; a missing one fails the test with a message naming that script.
//!
//! Each server runs under a small `bash` guard that kills it when our end of its stdin closes, so
//! a server never outlives its test, even when the test binary dies without unwinding.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::azure::{MicrosoftAzure, MicrosoftAzureBuilder};

/// Access key and secret s3s-fs is started with.
pub const S3_ACCESS_KEY: &str = "AKIDASSETDROPTEST";
/// Secret key s3s-fs is started with.
pub const S3_SECRET_KEY: &str = "s3s-fs-test-secret-key-0123456789abcdef";
/// Azurite's built-in account.
pub const AZURE_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known key for that account (public, documented by Microsoft).
pub const AZURE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Where `scripts/servers.sh` links the server binaries: `<target>/servers/bin`, or
/// `$ASSETDROP_TEST_SERVERS` when set.
pub fn servers_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ASSETDROP_TEST_SERVERS") {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("servers/bin")
}

/// The path of an installed server binary; panics (failing the test) when it is missing.
pub fn server_binary(name: &str) -> PathBuf {
    binary_in(&servers_dir(), name)
}

/// The path of server binary `name` in `dir`; panics naming `scripts/servers.sh` when missing.
pub fn binary_in(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    assert!(
        p.exists(),
        "the test server `{name}` is not installed at {}: run scripts/servers.sh (it installs s3s-fs, Azurite and fake-gcs-server under the cargo target dir; scripts/test.sh runs it)",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A server process under its guard; stopped when dropped.
pub struct Process {
    guard: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
    /// Temp dir holding its data and log.
    pub dir: tempfile::TempDir,
}

impl Process {
    fn start(
        dir: tempfile::TempDir,
        program: &Path,
        args: &[String],
        port: u16,
        what: &str,
    ) -> Self {
        let log = dir.path().join("server.log");
        let out = File::create(&log).expect("server log");
        let err = out.try_clone().expect("server log");
        let mut guard = Command::new("bash")
            .arg("-c")
            .arg(r#""$@" & child=$!; trap 'kill $child 2>/dev/null' EXIT; read -r _; exit 0"#)
            .arg("guard")
            .arg(program)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let stdin = guard.stdin.take();
        let p = Self {
            guard,
            stdin,
            log,
            dir,
        };
        p.wait_ready(port, what);
        p
    }

    fn wait_ready(&self, port: u16, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(
                &([127, 0, 0, 1], port).into(),
                Duration::from_millis(200),
            )
            .is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{what} did not listen on 127.0.0.1:{port} within 60 s; its log:\n{}",
            self.log_text()
        );
    }

    /// What the server printed so far.
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut s) = self.stdin.take() {
            let _ = s.write_all(b"\n");
        }
        let _ = self.guard.wait();
    }
}

/// s3s-fs on a random loopback port, with buckets as folders of its data dir.
pub struct S3Server {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    process: Process,
}

impl S3Server {
    /// Starts s3s-fs with the given (empty) buckets.
    pub fn start(buckets: &[&str]) -> Self {
        let bin = server_binary("s3s-fs");
        let port = free_port();
        let dir = tempfile::tempdir().expect("s3 dir");
        let root = dir.path().join("data");
        for b in buckets {
            std::fs::create_dir_all(root.join(b)).expect("bucket dir");
        }
        let args = [
            "--host".to_owned(),
            "127.0.0.1".to_owned(),
            "--port".to_owned(),
            port.to_string(),
            "--access-key".to_owned(),
            S3_ACCESS_KEY.to_owned(),
            "--secret-key".to_owned(),
            S3_SECRET_KEY.to_owned(),
            root.display().to_string(),
        ];
        let process = Process::start(dir, &bin, &args, port, "s3s-fs");
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            process,
        }
    }

    /// An `object_store` client for a bucket, to put test objects in place.
    pub fn store(&self, bucket: &str) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id(S3_ACCESS_KEY)
            .with_secret_access_key(S3_SECRET_KEY)
            .with_bucket_name(bucket)
            .with_virtual_hosted_style_request(false)
            .build()
            .expect("s3 client")
    }

    /// The server's log.
    pub fn log_text(&self) -> String {
        self.process.log_text()
    }
}

/// Azurite's blob service on a random loopback port, in memory.
pub struct AzureServer {
    /// `http://127.0.0.1:PORT/devstoreaccount1`: the account's endpoint.
    pub endpoint: String,
    port: u16,
    process: Process,
}

/// Creates a container with a shared-key-signed request (`object_store` cannot create one).
const CREATE_CONTAINER_JS: &str = r"
const http = require('http'), crypto = require('crypto');
const [port, account, key, container] = process.argv.slice(1);
const date = new Date().toUTCString(), version = '2021-08-06';
const path = `/${account}/${container}`;
const sts = ['PUT', '', '', '', '', '', '', '', '', '', '', '',
  `x-ms-date:${date}\nx-ms-version:${version}\n/${account}${path}\nrestype:container`].join('\n');
const sig = crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(sts, 'utf8').digest('base64');
const req = http.request({host: '127.0.0.1', port, method: 'PUT', path: `${path}?restype=container`,
  headers: {'x-ms-date': date, 'x-ms-version': version, 'Content-Length': 0,
            'Authorization': `SharedKey ${account}:${sig}`}}, res => {
  let body = ''; res.on('data', d => body += d);
  res.on('end', () => { if (res.statusCode !== 201) { console.error(res.statusCode, body); process.exit(1); } });
});
req.on('error', e => { console.error(e.message); process.exit(1); });
req.end();
";

/// Makes an account SAS (service blob, resource types service/container/object) for `perms`.
const ACCOUNT_SAS_JS: &str = r"
const crypto = require('crypto');
const [account, key, perms, seconds] = process.argv.slice(1);
const fmt = d => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const st = fmt(new Date(Date.now() - 60000)), se = fmt(new Date(Date.now() + seconds * 1000));
const sv = '2019-12-12', ss = 'b', srt = 'sco', spr = 'http,https';
const sts = [account, perms, ss, srt, st, se, '', spr, sv, ''].join('\n');
const sig = crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(sts, 'utf8').digest('base64');
const q = new URLSearchParams({sv, ss, srt, sp: perms, st, se, spr, sig});
process.stdout.write(q.toString());
";

fn node(script: &str, args: &[&str]) -> String {
    let out = Command::new("node")
        .arg("-e")
        .arg(script)
        .args(args)
        .output()
        .expect("run node (Azurite needs it too)");
    assert!(
        out.status.success(),
        "node script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

impl AzureServer {
    /// Starts Azurite's blob service.
    pub fn start() -> Self {
        let bin = server_binary("azurite-blob");
        let port = free_port();
        let args = [
            "--blobHost".to_owned(),
            "127.0.0.1".to_owned(),
            "--blobPort".to_owned(),
            port.to_string(),
            "--inMemoryPersistence".to_owned(),
            "--disableTelemetry".to_owned(),
            "--skipApiVersionCheck".to_owned(),
            "--loose".to_owned(),
            "--silent".to_owned(),
        ];
        let dir = tempfile::tempdir().expect("azurite dir");
        let process = Process::start(dir, &bin, &args, port, "azurite-blob");
        Self {
            endpoint: format!("http://127.0.0.1:{port}/{AZURE_ACCOUNT}"),
            port,
            process,
        }
    }

    /// Creates a container.
    pub fn create_container(&self, name: &str) {
        node(
            CREATE_CONTAINER_JS,
            &[&self.port.to_string(), AZURE_ACCOUNT, AZURE_KEY, name],
        );
    }

    /// An account SAS token (without `?`) with permissions `perms` (e.g. `rl`) for `seconds`.
    pub fn account_sas(perms: &str, seconds: u64) -> String {
        node(
            ACCOUNT_SAS_JS,
            &[AZURE_ACCOUNT, AZURE_KEY, perms, &seconds.to_string()],
        )
    }

    /// An `object_store` client for a container, to put test objects in place.
    pub fn store(&self, container: &str) -> MicrosoftAzure {
        MicrosoftAzureBuilder::new()
            .with_account(AZURE_ACCOUNT)
            .with_access_key(AZURE_KEY)
            .with_container_name(container)
            .with_endpoint(self.endpoint.clone())
            .with_allow_http(true)
            .build()
            .expect("azure client")
    }

    /// The server's log.
    pub fn log_text(&self) -> String {
        self.process.log_text()
    }
}

/// fake-gcs-server on a random loopback port, in memory, plain HTTP.
pub struct GcsServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    process: Process,
}

impl GcsServer {
    /// Starts fake-gcs-server (bound to 127.0.0.1: its default is every interface).
    pub fn start() -> Self {
        let bin = server_binary("fake-gcs-server");
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let args = [
            "-host".to_owned(),
            "127.0.0.1".to_owned(),
            "-port".to_owned(),
            port.to_string(),
            "-scheme".to_owned(),
            "http".to_owned(),
            "-backend".to_owned(),
            "memory".to_owned(),
            "-public-host".to_owned(),
            host.clone(),
            "-external-url".to_owned(),
            format!("http://{host}"),
            "-log-level".to_owned(),
            "error".to_owned(),
        ];
        let dir = tempfile::tempdir().expect("fake-gcs dir");
        let process = Process::start(dir, &bin, &args, port, "fake-gcs-server");
        Self {
            endpoint: format!("http://{host}"),
            process,
        }
    }

    /// Creates a bucket through the JSON API (the emulator takes no credentials).
    pub async fn create_bucket(&self, name: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/storage/v1/b?project=test", self.endpoint))
            .json(&serde_json::json!({"name": name}))
            .send()
            .await
            .expect("create bucket");
        assert!(r.status().is_success(), "create bucket: {}", r.status());
    }

    /// Uploads an object through the JSON API (`object_store`'s GCS writes are refused by the
    /// emulator, see the README).
    pub async fn upload(&self, bucket: &str, name: &str, bytes: &[u8]) {
        let url = format!(
            "{}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={}",
            self.endpoint,
            percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
        );
        let r = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload object");
        assert!(r.status().is_success(), "upload: {}", r.status());
    }

    /// The server's log.
    pub fn log_text(&self) -> String {
        self.process.log_text()
    }
}

/// A GCP service-account key JSON with a freshly generated RSA key (openssl), so signed URLs are
/// made locally, as with a real key. `endpoint` is not put in it: the storage's `endpoint` says
/// where the emulator is.
pub fn service_account_json() -> String {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("run openssl (Debian: apt-get install openssl)");
    assert!(out.status.success(), "openssl genpkey failed");
    let pem = String::from_utf8(out.stdout).expect("pem");
    serde_json::json!({
        "type": "service_account",
        "project_id": "assetdrop-test",
        "private_key_id": "test-key",
        "private_key": pem,
        "client_email": "assetdrop-test@assetdrop-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "http://127.0.0.1:9/token"
    })
    .to_string()
}
