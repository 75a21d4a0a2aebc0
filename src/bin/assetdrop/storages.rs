//! `assetdrop storage add|list|rm|ls` and `assetdrop cloud import-prefix`: storage integrations
//! and bucket imports, through the hub's HTTP API like every other command. Credentials may come
//! from environment variables so they stay out of shell history; they are sent to the hub once
//! and never printed.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use assetdrop::upload::{PrefixImport, StorageListing};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

use crate::{render, Session, Target};

#[derive(Clone, Copy, ValueEnum)]
pub enum ProviderArg {
    /// Amazon S3, or an S3-compatible server with --endpoint.
    Aws,
    /// Google Cloud Storage.
    Gcp,
    /// Azure Blob Storage.
    Azure,
}

#[derive(Subcommand)]
pub enum StorageCmd {
    /// Register a storage integration (a private bucket the hub may read) and print its ID.
    Add(AddArgs),
    /// List storage integrations (never with their credentials).
    List,
    /// Remove a storage integration (refused while assets use it).
    Rm {
        /// Storage ID.
        id: String,
    },
    /// List the folders and files under a prefix of a storage's bucket.
    Ls {
        /// Storage ID.
        id: String,
        /// Folder path in the bucket (default: the top).
        #[arg(long, default_value = "")]
        prefix: String,
        /// Bucket (default: the storage's own).
        #[arg(long)]
        bucket: Option<String>,
    },
}

#[derive(Args)]
pub struct AddArgs {
    /// Unique name.
    #[arg(long)]
    name: String,
    /// Cloud provider.
    #[arg(long, value_enum)]
    provider: ProviderArg,
    /// The storage's bucket (Azure: container); others can still be named per request.
    #[arg(long)]
    bucket: Option<String>,
    /// Region (AWS; default us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// Custom endpoint: an S3-compatible server, a GCS or Azure emulator, a sovereign cloud.
    #[arg(long)]
    endpoint: Option<String>,
    /// Virtual-hosted S3 requests (BUCKET.ENDPOINT) instead of path-style (ENDPOINT/BUCKET).
    #[arg(long)]
    virtual_hosted: bool,
    /// AWS access key ID.
    #[arg(long, env = "ASSETDROP_AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key_id: Option<String>,
    /// AWS secret access key.
    #[arg(long, env = "ASSETDROP_AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: Option<String>,
    /// Azure storage account name.
    #[arg(long, env = "ASSETDROP_AZURE_ACCOUNT")]
    account: Option<String>,
    /// Azure account key.
    #[arg(
        long,
        env = "ASSETDROP_AZURE_ACCESS_KEY",
        hide_env_values = true,
        conflicts_with = "sas"
    )]
    access_key: Option<String>,
    /// Azure SAS token (reads and lists; cannot sign URLs).
    #[arg(long, env = "ASSETDROP_AZURE_SAS", hide_env_values = true)]
    sas: Option<String>,
    /// GCP service-account key JSON file.
    #[arg(long, env = "ASSETDROP_GCP_SERVICE_ACCOUNT")]
    service_account: Option<PathBuf>,
}

#[derive(Args)]
pub struct ImportPrefixArgs {
    /// Project ID.
    #[arg(long)]
    project: String,
    /// Storage ID.
    #[arg(long)]
    storage: String,
    /// Folder path in the bucket to import (default: the top).
    #[arg(long, default_value = "")]
    prefix: String,
    /// Bucket (default: the storage's own).
    #[arg(long)]
    bucket: Option<String>,
    /// Import sub-folders too.
    #[arg(long)]
    recursive: bool,
    /// Only these extensions, comma-separated (jpg,png).
    #[arg(long, value_delimiter = ',')]
    ext: Vec<String>,
    /// Put each asset in a batch named after the folder holding it (created when missing).
    #[arg(long)]
    folder_as_batch: bool,
    /// Show what would be imported; import nothing.
    #[arg(long)]
    dry_run: bool,
    /// Task priority, -1000..1000.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true, value_parser = clap::value_parser!(i64).range(-1000..=1000))]
    priority: i64,
}

fn add_body(a: AddArgs) -> anyhow::Result<Value> {
    let mut body = json!({"name": a.name});
    let provider = match a.provider {
        ProviderArg::Aws => {
            let (Some(id), Some(secret)) = (a.access_key_id, a.secret_access_key) else {
                bail!("aws needs --access-key-id and --secret-access-key (or ASSETDROP_AWS_ACCESS_KEY_ID and ASSETDROP_AWS_SECRET_ACCESS_KEY)");
            };
            body["publicKey"] = json!(id);
            body["privateKey"] = json!(secret);
            "AWS"
        }
        ProviderArg::Azure => {
            let account = a
                .account
                .context("azure needs --account (or ASSETDROP_AZURE_ACCOUNT)")?;
            body["publicKey"] = json!(account);
            match (a.access_key, a.sas) {
                (Some(k), _) => body["privateKey"] = json!(k),
                (None, Some(sas)) => body["credentials"] = json!({"sasToken": sas}),
                (None, None) => bail!("azure needs --access-key or --sas (or ASSETDROP_AZURE_ACCESS_KEY / ASSETDROP_AZURE_SAS)"),
            }
            "AZURE"
        }
        ProviderArg::Gcp => {
            let file = a.service_account.context(
                "gcp needs --service-account FILE (or ASSETDROP_GCP_SERVICE_ACCOUNT), the key JSON",
            )?;
            let text = fs_err::read_to_string(&file)?;
            serde_json::from_str::<Value>(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            body["credentials"] = json!(text);
            "GCP"
        }
    };
    body["provider"] = json!(provider);
    for (k, v) in [
        ("bucket", a.bucket),
        ("region", a.region),
        ("endpoint", a.endpoint),
    ] {
        if let Some(v) = v {
            body[k] = json!(v);
        }
    }
    if a.virtual_hosted {
        body["pathStyle"] = json!(false);
    }
    Ok(body)
}

fn listing_text(pages: &[StorageListing]) -> String {
    let mut lines = Vec::new();
    for p in pages {
        for f in &p.folders {
            lines.push(format!("{:>12}  {}", "-", f.key));
        }
    }
    for p in pages {
        for f in &p.files {
            lines.push(format!("{:>12}  {}", f.size, f.key));
        }
    }
    lines.join("\n")
}

pub async fn storage_cmd(
    target: &Target,
    cmd: StorageCmd,
    json_out: bool,
) -> anyhow::Result<ExitCode> {
    let s = Session::open(target).await?;
    let out = match cmd {
        StorageCmd::Add(a) => {
            let made = s.client.create_storage(&add_body(a)?).await?;
            render::value(json_out, &json!(made), &made.id)
        }
        StorageCmd::List => {
            let all = s.client.list_storages().await?;
            let text = all
                .iter()
                .map(|st| {
                    format!(
                        "{}  {}  {}{}",
                        st.id,
                        st.provider,
                        st.name,
                        st.bucket
                            .as_deref()
                            .map(|b| format!("  ({b})"))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            render::value(json_out, &json!(all), &text)
        }
        StorageCmd::Rm { id } => {
            let gone = s.client.delete_storage(&id).await?;
            render::value(json_out, &json!(gone), &format!("removed {}", gone.id))
        }
        StorageCmd::Ls { id, prefix, bucket } => {
            let mut pages = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = s
                    .client
                    .list_storage_files(&id, bucket.as_deref(), &prefix, token.as_deref(), false)
                    .await?;
                token.clone_from(&page.scroll_token);
                pages.push(page);
                if token.is_none() {
                    break;
                }
            }
            let json = json!({
                "bucket": pages.first().map(|p| p.bucket.clone()),
                "path": pages.first().map(|p| p.path.clone()),
                "folders": pages.iter().flat_map(|p| p.folders.iter()).collect::<Vec<_>>(),
                "files": pages.iter().flat_map(|p| p.files.iter()).collect::<Vec<_>>(),
            });
            render::value(json_out, &json, &listing_text(&pages))
        }
    };
    s.close().await?;
    out
}

pub async fn import_prefix(
    target: &Target,
    a: ImportPrefixArgs,
    json_out: bool,
) -> anyhow::Result<ExitCode> {
    let s = Session::open(target).await?;
    let job = PrefixImport {
        bucket: a.bucket,
        recursive: a.recursive,
        extensions: a.ext,
        folder_as_batch: a.folder_as_batch,
        dry_run: a.dry_run,
        priority: a.priority,
        ..PrefixImport::new(a.project, a.storage, a.prefix)
    };
    let summary = s.client.import_prefix(&job).await;
    s.close().await?;
    let summary = summary?;
    let verb = if summary.dry_run {
        "would import"
    } else {
        "imported"
    };
    let mut text: Vec<String> = summary
        .imported
        .iter()
        .map(|i| {
            let mut line = format!("{verb} {}", i.key);
            if let Some(id) = &i.asset_id {
                let _ = write!(line, "  -> {id}");
            }
            if let Some(b) = &i.batch {
                let _ = write!(line, "  [{b}]");
            }
            line
        })
        .collect();
    text.push(format!(
        "{} object(s) {verb} from {}, {} new asset(s), {} skipped",
        summary.imported.len(),
        summary.bucket,
        summary.created,
        summary.skipped.len()
    ));
    render::value(json_out, &serde_json::to_value(&summary)?, &text.join("\n"))
}
