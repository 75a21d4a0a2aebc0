//! The `assetdrop` command line: parses arguments into core config, runs one core call, and
//! renders its events (progress bars on a terminal, or one JSON document with `--json`).
//! Exit codes: 0 all imported, 1 some files rejected or failed, 2 usage or fatal error.

mod build;
mod cloud;
mod render;
mod storages;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use assetdrop::hub::{self, HubConfig, RunningHub};
use assetdrop::media::{self, AudioPolicy, ProbeConfig, Verdict};
use assetdrop::upload::{self, CancellationToken, HubClient, UploadConfig};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "assetdrop",
    version,
    about = "Import assets into annotation projects (Ango Hub's import API)"
)]
struct Cli {
    #[command(flatten)]
    target: Target,
    /// Print one JSON document instead of progress and text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Which hub to talk to.
#[derive(Args, Clone)]
struct Target {
    /// The hub: a hosted Ango Hub (ango-eu, ango-us, ango-in, ango-test), any hub's URL (Ango
    /// on-prem or an assetdrop hub), or `local`; without it (or with `local`), the embedded hub
    /// at --root runs in-process.
    #[arg(long, global = true, env = "ASSETDROP_HUB")]
    hub: Option<String>,
    /// The hub's API key (needed with --hub).
    #[arg(long, global = true, env = "ASSETDROP_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The embedded hub's folder (default: the OS data folder).
    #[arg(long, global = true, env = "ASSETDROP_ROOT")]
    root: Option<PathBuf>,
    /// Seconds to wait for the hub's next bytes before a request is given up and sent again
    /// (default 120; a long upload is never cut while bytes flow).
    #[arg(long, global = true, env = "ASSETDROP_TIMEOUT", value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: Option<u64>,
    /// How many times a request that failed on the way (a reset, a timeout, 5xx, 429) is sent
    /// again before its file or call fails (default 6, with growing waits up to 20 s).
    #[arg(long, global = true, env = "ASSETDROP_RETRIES", value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=100))]
    retries: Option<u32>,
    /// The import receipt: what this computer registered where, so that re-runs, crashes and
    /// lost answers register nothing twice on hubs that cannot tell (default: receipts.sqlite in
    /// the OS data folder).
    #[arg(long, global = true, env = "ASSETDROP_RECEIPTS", value_name = "FILE")]
    receipts: Option<PathBuf>,
    /// Requests a minute to the hub at most (0: no limit but the hub's own). Default: Ango's
    /// documented 100 a minute on Ango Hub, none on an assetdrop hub.
    #[arg(long, global = true, env = "ASSETDROP_RATE", value_name = "N")]
    rate: Option<u32>,
}

impl Target {
    /// A client for `url` with this command line's timeout and retries.
    fn client(&self, url: &str, key: &str) -> anyhow::Result<HubClient> {
        let mut client = HubClient::new(url, key)?;
        if let Some(path) = self.receipts.clone().or_else(upload::Receipt::default_path) {
            client = client.with_receipt(path);
        }
        match self.rate {
            Some(0) => client = client.with_rate_limit(upload::RateLimit::Off),
            Some(n) => {
                client = client.with_rate_limit(upload::RateLimit::Fixed(
                    n,
                    std::time::Duration::from_secs(60),
                ));
            }
            None => {}
        }
        if let Some(secs) = self.timeout {
            let read = std::time::Duration::from_secs(secs);
            client = client.with_timeouts(read.min(std::time::Duration::from_secs(10)), read)?;
        }
        if let Some(n) = self.retries {
            let mut retry = client.retry_policy();
            retry.max_retries = n;
            client = client.with_retry(retry);
        }
        Ok(client)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a hub server.
    Serve(ServeArgs),
    /// Say which hub --hub reaches and what it offers beyond Ango's documented API.
    Hub,
    /// The import receipt: what this computer registered into a project of the hub.
    #[command(subcommand)]
    Receipt(ReceiptCmd),
    /// Create or list projects.
    #[command(subcommand)]
    Project(ProjectCmd),
    /// Create batches.
    #[command(subcommand)]
    Batch(BatchCmd),
    /// Validate and upload files and folders into a project.
    Upload(UploadArgs),
    /// Build one asset per row of a table with an HTML template, and import them.
    Build(build::BuildArgs),
    /// Validate files and print the report; nothing is uploaded.
    Probe(ProbeArgs),
    /// List a project's assets.
    #[command(subcommand)]
    Assets(AssetsCmd),
    /// Storage integrations: private S3, GCS and Azure buckets the hub may read.
    #[command(subcommand)]
    Storage(storages::StorageCmd),
    /// Import assets that live in the cloud (nothing is copied).
    #[command(subcommand)]
    Cloud(CloudCmd),
}

#[derive(Subcommand)]
enum ReceiptCmd {
    /// How many items of a project the receipt holds as registered, and as sent but unsettled.
    Show {
        /// Project ID.
        #[arg(long)]
        project: String,
    },
    /// Forget a project's items (after deleting its assets on the hub, to import them again).
    Forget {
        /// Project ID.
        #[arg(long)]
        project: String,
    },
}

#[derive(Subcommand)]
enum CloudCmd {
    /// Import a JSON list of assets ({data, externalId, ...}) by reference.
    Import(cloud::CloudImportArgs),
    /// Import every object under a prefix of a storage's bucket.
    ImportPrefix(storages::ImportPrefixArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// URL clients reach the hub at, if not the listening address (behind a proxy).
    #[arg(long)]
    public_url: Option<String>,
    /// Largest upload accepted, in bytes.
    #[arg(long, default_value_t = hub::DEFAULT_MAX_UPLOAD_BYTES)]
    max_upload_bytes: u64,
    /// Largest JSON request body, in bytes.
    #[arg(long, default_value_t = hub::DEFAULT_MAX_JSON_BYTES)]
    max_json_bytes: usize,
    /// Bytes of large JSON bodies worked on at once (more wait their turn): bounds the hub's
    /// memory under parallel registrations.
    #[arg(long, value_name = "BYTES", default_value_t = hub::DEFAULT_JSON_IN_FLIGHT)]
    json_in_flight: usize,
    /// Lifetime of signed URLs, in seconds.
    #[arg(long, default_value_t = hub::DEFAULT_URL_TTL_SECS)]
    url_ttl: u64,
    /// Let uploadLocal downloads reach loopback, private, link-local and metadata addresses
    /// (refused by default: import files could otherwise read the hub's own network).
    #[arg(long)]
    allow_private_downloads: bool,
    /// Store new storage integrations without trying their credentials on the bucket (their
    /// form is still checked): for a hub that signs URLs for buckets it cannot reach itself.
    #[arg(long)]
    skip_storage_check: bool,
    /// The longest one uploadLocal download may take, in seconds, retries included.
    #[arg(long, value_name = "SECS", default_value_t = hub::DEFAULT_DOWNLOAD_DEADLINE_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    download_deadline: u64,
    /// Client connections held at once (default: below the process's open-file limit). When
    /// full, the connection silent the longest is closed for a new one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
    /// Seconds a client may take to send a request's header, or stay silent between requests.
    #[arg(long, value_name = "SECS", default_value_t = hub::serve::DEFAULT_HEADER_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
}

#[derive(Subcommand)]
enum ProjectCmd {
    /// Create a project and print its ID.
    Create {
        /// Project name.
        name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List projects.
    List,
}

#[derive(Subcommand)]
enum BatchCmd {
    /// Create batches (existing names are kept).
    Create {
        /// Project ID.
        project: String,
        /// Batch names.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Subcommand)]
enum AssetsCmd {
    /// List a project's assets, oldest first.
    List {
        /// Project ID.
        #[arg(long)]
        project: String,
        /// Page (1-based).
        #[arg(long, default_value_t = 1)]
        page: u64,
        /// Assets per page.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        /// Only assets with this external ID.
        #[arg(long)]
        external_id: Option<String>,
        /// Only assets in every one of these batches (names or IDs).
        #[arg(long = "batch")]
        batches: Vec<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum AudioArg {
    /// Refuse variable-bitrate audio.
    Reject,
    /// Import it with a warning.
    Warn,
    /// Convert it to PCM WAV before upload.
    Convert,
}

impl From<AudioArg> for AudioPolicy {
    fn from(a: AudioArg) -> Self {
        match a {
            AudioArg::Reject => AudioPolicy::Reject,
            AudioArg::Warn => AudioPolicy::Warn,
            AudioArg::Convert => AudioPolicy::Convert,
        }
    }
}

#[derive(Args)]
struct UploadArgs {
    /// Project ID (with the embedded hub, defaults to its "Default project").
    #[arg(long)]
    project: Option<String>,
    /// Put every asset in this batch (repeatable).
    #[arg(long = "batch")]
    batches: Vec<String>,
    /// Create batches that do not exist yet.
    #[arg(long)]
    create_batches: bool,
    /// What to do with variable-bitrate audio.
    #[arg(long, value_enum, default_value = "reject")]
    audio: AudioArg,
    /// Files uploaded at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Task priority, -1000..1000.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true, value_parser = clap::value_parser!(i64).range(-1000..=1000))]
    priority: i64,
    /// Upload files even when the project holds their content already (by default they are
    /// skipped). The same file under the same external ID still becomes one asset.
    #[arg(long)]
    allow_duplicates: bool,
    /// Files and folders (folders are walked recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Args)]
struct ProbeArgs {
    /// Audio policy to judge by.
    #[arg(long, value_enum, default_value = "reject")]
    audio: AudioArg,
    /// Files and folders.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// The hub a command talks to; an embedded one is shut down when the command ends.
struct Session {
    client: HubClient,
    embedded: Option<RunningHub>,
}

impl Session {
    async fn open(target: &Target) -> anyhow::Result<Self> {
        if let Some(hub) = target.hub.as_deref().filter(|h| *h != "local") {
            let url = upload::hub_url(hub)?;
            let key = target
                .api_key
                .as_deref()
                .context("--hub needs --api-key (or ASSETDROP_API_KEY)")?;
            return Ok(Self {
                client: target.client(&url, key)?,
                embedded: None,
            });
        }
        let root = root_dir(target)?;
        let config = HubConfig {
            api_key: target.api_key.clone(),
            ..HubConfig::new(root)
        };
        let running = hub::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let client = target.client(&running.url, &running.api_key)?;
        Ok(Self {
            client,
            embedded: Some(running),
        })
    }

    async fn close(self) -> anyhow::Result<()> {
        if let Some(h) = self.embedded {
            h.shutdown().await?;
        }
        Ok(())
    }
}

fn root_dir(target: &Target) -> anyhow::Result<PathBuf> {
    if let Some(r) = &target.root {
        return Ok(r.clone());
    }
    let dirs = directories::ProjectDirs::from("", "", "assetdrop")
        .context("cannot find the OS data folder; pass --root DIR")?;
    Ok(dirs.data_dir().to_path_buf())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ASSETDROP_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", render::printable(&error_chain(&e)));
            ExitCode::from(2)
        }
    }
}

/// A core error with the command line's own control named where the core says what to do.
pub(crate) fn flag_hints(e: assetdrop::Error) -> anyhow::Error {
    if e.message.ends_with("ask for missing batches to be created") {
        let message = format!("{} (--create-batches)", e.message);
        return anyhow::Error::new(e).context(message);
    }
    e.into()
}

/// The error and its causes, leaving out a cause whose text the message above already holds
/// (core errors carry their cause's text in their own message).
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let json_out = cli.json;
    match cli.command {
        Command::Serve(a) => serve(&cli.target, a).await,
        Command::Probe(a) => probe(&a, json_out).await,
        Command::Receipt(cmd) => {
            let s = Session::open(&cli.target).await?;
            let receipt = s.client.receipt().await?;
            let out = match cmd {
                ReceiptCmd::Show { project } => {
                    let (registered, sent) = receipt.counts(&project)?;
                    render::value(
                        json_out,
                        &json!({"receipt": receipt.path(), "project": project, "registered": registered, "unsettled": sent}),
                        &format!(
                            "{}: {registered} registered into project {project}, {sent} sent and not yet settled",
                            receipt.path().display()
                        ),
                    )
                }
                ReceiptCmd::Forget { project } => {
                    let n = receipt.forget_project(&project)?;
                    render::value(
                        json_out,
                        &json!({"receipt": receipt.path(), "project": project, "forgotten": n}),
                        &format!("forgot {n} items of project {project}"),
                    )
                }
            };
            s.close().await?;
            out
        }
        Command::Hub => {
            let s = Session::open(&cli.target).await?;
            let hub = s.client.hub().await?.clone();
            let receipt = s.client.receipt().await?;
            let (kind, extensions) = match &hub {
                upload::Hub::Assetdrop(info) => ("assetdrop", info.extensions.clone()),
                upload::Hub::Ango => ("ango", Vec::new()),
            };
            let v = json!({
                "url": s.client.base_url(),
                "kind": kind,
                "description": hub.describe(),
                "extensions": extensions,
                "receipt": receipt.path(),
            });
            let text = format!(
                "{}\n{}\nreceipt: {}",
                s.client.base_url(),
                hub.describe(),
                receipt.path().display()
            );
            s.close().await?;
            render::value(json_out, &v, &text)
        }
        Command::Project(cmd) => {
            let s = Session::open(&cli.target).await?;
            let out = match cmd {
                ProjectCmd::Create { name, description } => {
                    let p = s.client.create_project(&name, &description).await?;
                    render::value(json_out, &json!(p), &p.id)
                }
                ProjectCmd::List => {
                    let mut all = Vec::new();
                    let mut page = 1;
                    loop {
                        let got = s.client.list_projects(page, 100).await?;
                        let n = got.items.len();
                        all.extend(got.items);
                        if n == 0 || all.len() as u64 >= got.total {
                            break;
                        }
                        page += 1;
                    }
                    let text = all
                        .iter()
                        .map(|p| format!("{}  {}", p.id, render::printable(&p.name)))
                        .collect::<Vec<_>>()
                        .join("\n");
                    render::value(json_out, &json!(all), &text)
                }
            };
            s.close().await?;
            out
        }
        Command::Batch(BatchCmd::Create { project, names }) => {
            let s = Session::open(&cli.target).await?;
            let mut made = Vec::new();
            for n in &names {
                made.push(s.client.create_batch(&project, n).await?);
            }
            let text = made
                .iter()
                .map(|b| format!("{}  {}", b.id, render::printable(&b.name)))
                .collect::<Vec<_>>()
                .join("\n");
            s.close().await?;
            render::value(json_out, &json!(made), &text)
        }
        Command::Assets(AssetsCmd::List {
            project,
            page,
            limit,
            external_id,
            batches,
        }) => {
            let s = Session::open(&cli.target).await?;
            let filter = assetdrop::wire::AssetFilter {
                external_id,
                batches,
                ..Default::default()
            };
            let (assets, total) = s
                .client
                .assets_window(&project, page.saturating_sub(1) * limit, limit, &filter)
                .await?;
            s.close().await?;
            let assets: Vec<serde_json::Value> = assets.into_iter().map(|a| json!(a)).collect();
            let text = render::assets_table(&assets, total);
            render::value(json_out, &json!({"assets": assets, "total": total}), &text)
        }
        Command::Upload(a) => upload_cmd(&cli.target, a, json_out).await,
        Command::Build(a) => {
            let s = Session::open(&cli.target).await?;
            let out = build::run(&s, a, json_out).await;
            s.close().await?;
            out
        }
        Command::Storage(cmd) => storages::storage_cmd(&cli.target, cmd, json_out).await,
        Command::Cloud(CloudCmd::Import(a)) => {
            let s = Session::open(&cli.target).await?;
            let out = cloud::import(&s, a, json_out).await;
            s.close().await?;
            out
        }
        Command::Cloud(CloudCmd::ImportPrefix(a)) => {
            storages::import_prefix(&cli.target, a, json_out).await
        }
    }
}

async fn serve(target: &Target, a: ServeArgs) -> anyhow::Result<ExitCode> {
    if target.hub.is_some() {
        bail!("--hub makes no sense with serve: serve runs a hub; use --listen");
    }
    let root = root_dir(target)?;
    let config = HubConfig {
        api_key: target.api_key.clone(),
        public_url: a.public_url,
        max_upload_bytes: a.max_upload_bytes,
        max_json_bytes: a.max_json_bytes,
        json_in_flight: a.json_in_flight,
        url_ttl_secs: a.url_ttl,
        allow_private_downloads: a.allow_private_downloads,
        try_storages: !a.skip_storage_check,
        download_deadline_secs: a.download_deadline,
        max_connections: a.max_connections.map(|n| n as usize),
        header_timeout_secs: a.header_timeout,
        ..HubConfig::new(&root)
    };
    let running = hub::start(config, a.listen).await?;
    // Whoever started us may stop reading stdout; the hub must keep serving regardless.
    let mut out = std::io::stdout().lock();
    // The bound address first (what this machine listens on), then the address clients are
    // told, when a proxy stands in front.
    let bound = format!("http://{}", running.addr);
    let _ = writeln!(out, "listening on {bound}");
    if running.url != bound {
        let _ = writeln!(out, "public URL: {}", running.url);
    }
    if running.key_generated {
        let _ = writeln!(
            out,
            "api key: {} (generated; stored in {})",
            running.api_key,
            root.join(".hub/api-key").display()
        );
    } else if target.api_key.is_none() {
        let _ = writeln!(
            out,
            "api key: stored in {}",
            root.join(".hub/api-key").display()
        );
    }
    let _ = writeln!(out, "root: {}", root.display());
    let c = running.cleaned;
    if c.partial_files + c.abandoned_uploads > 0 {
        let _ = writeln!(
            out,
            "cleaned: {} partial blob(s) and {} abandoned upload(s) left by an earlier run",
            c.partial_files, c.abandoned_uploads
        );
    }
    let _ = out.flush();
    drop(out);
    running.serve_until_signal().await?;
    Ok(ExitCode::SUCCESS)
}

async fn probe(a: &ProbeArgs, json_out: bool) -> anyhow::Result<ExitCode> {
    let planned = upload::plan(&a.paths);
    let config = ProbeConfig {
        audio: a.audio.into(),
    };
    let files: Vec<PathBuf> = planned.files.iter().map(|f| f.path.clone()).collect();
    let rejected = if json_out {
        // Reports are written as they are made, in the files' order, so memory stays flat
        // however many files there are.
        tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut rejected = false;
            let mut first = true;
            out.write_all(b"[")?;
            probe_in_order(&files, &config, |report| {
                rejected |= report.verdict == Verdict::Reject;
                let text = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
                out.write_all(if first { b"\n  " } else { b",\n  " })?;
                out.write_all(text.replace('\n', "\n  ").as_bytes())?;
                first = false;
                Ok(())
            })?;
            out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
            out.flush()?;
            Ok(rejected)
        })
        .await??
    } else {
        let reports = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<_>> {
            let mut reports = Vec::with_capacity(files.len());
            probe_in_order(&files, &config, |r| {
                reports.push(r);
                Ok(())
            })?;
            Ok(reports)
        })
        .await??;
        print!("{}", render::probe_table(&reports));
        reports.iter().any(|r| r.verdict == Verdict::Reject)
    };
    for f in &planned.failed {
        eprintln!("error: {}", f.error.message);
    }
    Ok(if rejected || !planned.failed.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Probes `files` on one thread per core and hands each report to `each` in the files' order.
fn probe_in_order(
    files: &[PathBuf],
    config: &ProbeConfig,
    mut each: impl FnMut(media::Report) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let next = AtomicUsize::new(0);
    // Reports that arrive ahead of a slower file wait in `waiting` until it is done.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, media::Report)>(threads * 16);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = files.get(i) else { break };
                if tx.send((i, media::probe_with(path, config))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut waiting = std::collections::BTreeMap::new();
        let mut due = 0;
        for (i, report) in rx {
            waiting.insert(i, report);
            while let Some(report) = waiting.remove(&due) {
                each(report)?;
                due += 1;
            }
        }
        Ok(())
    })
}

async fn upload_cmd(target: &Target, a: UploadArgs, json_out: bool) -> anyhow::Result<ExitCode> {
    let s = Session::open(target).await?;
    let project = match a.project {
        Some(p) => p,
        None if s.embedded.is_some() => upload::default_project(&s.client).await?.id,
        None => bail!("--project is required with --hub"),
    };
    let config = UploadConfig {
        batches: a.batches,
        create_batches: a.create_batches,
        audio: a.audio.into(),
        concurrency: usize::from(a.concurrency),
        priority: a.priority,
        skip_existing: !a.allow_duplicates,
        ..UploadConfig::new(project.clone())
    };
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let bars = render::Bars::new(!json_out);
    let summary = upload::upload(&s.client, &a.paths, &config, &bars, &cancel).await;
    bars.finish();
    s.close().await?;
    let summary = summary.map_err(flag_hints)?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", render::upload_summary(&summary, &project));
    }
    Ok(if summary.all_imported() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
