//! The cloud-import benchmark's workhorse (driven by `benches/cloud.sh`):
//!
//! - `cloud_bench serve` — an HTTP server on 127.0.0.1 answering every path with a small JPEG
//!   (`HEAD` and `GET`), printing `listening on http://127.0.0.1:PORT`;
//! - `cloud_bench gen N FILE BASE_URL` — writes a cloud-import file of N entries naming
//!   `BASE_URL/img/<i>.jpg`, with metadata, batches and context data;
//! - `cloud_bench read FILE` — reads it with `CloudReader`, printing entries per second;
//! - `cloud_bench check FILE [CONCURRENCY]` — reads it and checks every URL with `Checker`.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use assetdrop::cloud::{CheckConfig, Checker, CloudReader, ReadConfig, Target};
use axum::http::header;
use axum::Router;
use tokio_util::sync::CancellationToken;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn usage() -> Box<dyn std::error::Error> {
    "usage: cloud_bench serve | gen N FILE BASE_URL | read FILE | check FILE [CONCURRENCY]".into()
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve().await,
        Some("gen") => {
            let [_, n, file, base] = args.as_slice() else {
                return Err(usage());
            };
            generate(n.parse()?, Path::new(file), base)
        }
        Some("read") => {
            let [_, file] = args.as_slice() else {
                return Err(usage());
            };
            read(Path::new(file))
        }
        Some("check") => {
            let (file, concurrency) = match args.as_slice() {
                [_, file] => (file, 16),
                [_, file, c] => (file, c.parse()?),
                _ => return Err(usage()),
            };
            check(Path::new(file), concurrency).await
        }
        _ => Err(usage()),
    }
}

async fn serve() -> Result<()> {
    let app = Router::new().fallback(|| async {
        (
            [(header::CONTENT_TYPE, "image/jpeg")],
            &b"\xFF\xD8\xFF\xE0 tiny jpeg"[..],
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn generate(n: usize, file: &Path, base: &str) -> Result<()> {
    let mut w = BufWriter::new(fs_err::File::create(file)?);
    w.write_all(b"[\n")?;
    for i in 0..n {
        let sep = if i + 1 == n { "" } else { "," };
        writeln!(
            w,
            r#"  {{"data": "{base}/img/{i:07}.jpg", "externalId": "img-{i:07}.jpg", "metadata": {{"width": 640, "height": 480}}, "batches": ["bench"], "contextData": {{"row": {i}}}}}{sep}"#
        )?;
    }
    w.write_all(b"]\n")?;
    w.flush()?;
    Ok(())
}

fn read(file: &Path) -> Result<()> {
    let start = Instant::now();
    let mut reader = CloudReader::open(file, ReadConfig::default())?;
    let mut problems = 0usize;
    for entry in reader.by_ref() {
        problems += entry.problems.len();
    }
    let secs = start.elapsed().as_secs_f64();
    let s = reader.summary();
    println!(
        "read {} entries ({} valid, {problems} problems) in {secs:.2} s: {:.0} entries/s",
        s.entries,
        s.valid,
        s.entries as f64 / secs
    );
    Ok(())
}

async fn check(file: &Path, concurrency: usize) -> Result<()> {
    let start = Instant::now();
    let checker = Checker::new(CheckConfig {
        concurrency,
        // The benchmark's servers are on loopback.
        allow_private: true,
        ..CheckConfig::default()
    })?;
    let mut reader = CloudReader::open(file, ReadConfig::default())?;
    let targets = reader.by_ref().flat_map(|e| Target::of_entry(&e));
    let report = checker.check(targets, &CancellationToken::new()).await;
    let secs = start.elapsed().as_secs_f64();
    let s = reader.summary();
    println!(
        "checked {} URLs of {} entries ({} ok, {} problems) in {secs:.2} s: {:.0} entries/s",
        report.checked,
        s.entries,
        report.ok,
        report.problems.len(),
        s.entries as f64 / secs
    );
    if let Some(p) = report.problems.first() {
        println!("first problem: {p}");
    }
    Ok(())
}
