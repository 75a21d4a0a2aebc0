//! Fixtures made by the scripts in `tests/data/`, generated once per script version and cached
//! under Cargo's per-target temp dir, so a second run costs nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// Runs `tests/data/<script> OUTDIR` once (per content of the script) and returns OUTDIR.
///
/// The output appears under its final name only when the script succeeded, so an interrupted
/// run never leaves half a fixture set behind.
pub fn generated(script: &str) -> PathBuf {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let _guard = LOCK
        .get_or_init(|| Mutex::new(()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(script);
    let text = std::fs::read(&src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
    let hash = blake3::hash(&text).to_hex();
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    let out = base.join(format!(
        "{}-{}",
        script.trim_end_matches(".sh"),
        &hash[..16]
    ));
    if out.is_dir() {
        return out;
    }
    std::fs::create_dir_all(&base).expect("create fixture base dir");
    let tmp = base.join(format!(".tmp-{}-{}", script, std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("create fixture temp dir");
    let status = Command::new("bash")
        .arg(&src)
        .arg(&tmp)
        .status()
        .unwrap_or_else(|e| panic!("run {}: {e}", src.display()));
    assert!(
        status.success(),
        "{} failed ({status}); are lame, ffmpeg, sox, opus-tools, vorbis-tools and flac installed?",
        src.display()
    );
    std::fs::rename(&tmp, &out).expect("move fixtures into place");
    out
}

/// Writes `n` files into `dir`; `file(i)` gives the name, a line of text and a size, and the file
/// holds that line repeated up to the size. Returns name → path.
pub fn write_numbered(
    dir: &Path,
    n: usize,
    file: impl Fn(usize) -> (String, String, usize),
) -> std::collections::BTreeMap<String, PathBuf> {
    (0..n)
        .map(|i| {
            let (name, line, size) = file(i);
            let body: Vec<u8> = line.bytes().cycle().take(size).collect();
            let path = dir.join(&name);
            std::fs::write(&path, body).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            (name, path)
        })
        .collect()
}

/// Writes `n` distinct text files named `{prefix}{i:04}.txt` into `dir`: a few KB each, and every
/// twentieth a few hundred KB, so a reset can land while a body is still on its way. Returns
/// external ID → path.
pub fn write_text_files(
    dir: &Path,
    prefix: &str,
    n: usize,
) -> std::collections::BTreeMap<String, PathBuf> {
    write_numbered(dir, n, |i| {
        let size = if i % 20 == 7 {
            200 * 1024 + i * 97
        } else {
            2 * 1024 + (i * 37) % 3000
        };
        let line = format!("{prefix} file {i}: nothing lost, nothing twice\n");
        (format!("{prefix}{i:04}.txt"), line, size)
    })
}
