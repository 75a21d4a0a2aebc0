//! A real hub for tests: either the `assetdrop serve` binary as a child process on
//! 127.0.0.1:0 (what users run), or the library's server started in-process (for tests that
//! need custom limits). Both serve real HTTP on loopback.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use assetdrop::hub::{self, HubConfig, RunningHub};

/// The path of the built CLI.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_assetdrop"))
}

/// A hub process; killed when dropped.
pub struct ServeProcess {
    child: Child,
    /// Base URL.
    pub url: String,
    /// API key.
    pub key: String,
    /// Its root folder (kept alive by the owner of the temp dir).
    pub root: PathBuf,
}

impl ServeProcess {
    /// Starts `assetdrop serve` on a random port with the given key and extra args.
    pub fn start(root: &Path, key: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--root"])
            .arg(root)
            .args(["--api-key", key])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn assetdrop serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader.read_line(&mut first).expect("read first line");
        // Keep reading, so the hub never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                panic!("first line of serve must be `listening on URL`, got {first:?}")
            })
            .to_owned();
        Self {
            child,
            url,
            key: key.to_owned(),
            root: root.to_path_buf(),
        }
    }

    /// The process's ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The most memory the process has held so far (`VmHWM`), in bytes.
    pub fn peak_memory(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmHWM in /proc/PID/status")
            * 1024
    }

    /// Kills the process the hard way (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts the hub in-process on 127.0.0.1:0 with `config`.
pub async fn in_process(config: HubConfig) -> RunningHub {
    hub::start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("start hub")
}

/// The blob file on disk behind an asset's `data` URL of hub `url` rooted at `root`.
pub fn blob_file(root: &Path, url: &str, data: &str) -> PathBuf {
    let rest = data
        .strip_prefix(url)
        .expect("data URL on this hub")
        .trim_start_matches('/');
    let mut p = root.to_path_buf();
    for part in rest.split('/') {
        p.push(
            percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .expect("utf8")
                .as_ref(),
        );
    }
    p
}

/// The exit code and the JSON document a CLI run printed (`--json`); panics with both streams
/// when stdout is not JSON.
pub fn json_output(out: &std::process::Output) -> (i32, serde_json::Value) {
    let code = out.status.code().expect("exit code");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, v)
}

/// Runs the CLI with `--json` against the hub at `url` with `key`.
pub fn cli_json_at(url: &str, key: &str, args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(bin())
        .args(["--hub", url, "--api-key", key, "--json"])
        .args(args)
        .output()
        .expect("run assetdrop");
    json_output(&out)
}
