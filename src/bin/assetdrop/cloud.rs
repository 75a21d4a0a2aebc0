//! `assetdrop cloud import`: a JSON list of assets that live elsewhere, checked and registered
//! by reference (nothing is copied).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use assetdrop::cloud::{self, CheckConfig, DuplicatePolicy, ImportConfig, Severity};
use assetdrop::upload::CancellationToken;
use clap::Args;

use crate::Session;

#[derive(Args)]
pub struct CloudImportArgs {
    /// The JSON file: an array of {data, externalId, ...} entries.
    file: PathBuf,
    /// Project ID (with the embedded hub, defaults to its "Default project").
    #[arg(long)]
    project: Option<String>,
    /// A storage integration for entries that name none (private buckets).
    #[arg(long)]
    storage: Option<String>,
    /// Probe every public URL (HEAD, then a ranged GET) before importing.
    #[arg(long, overrides_with = "no_check")]
    check: bool,
    /// Do not probe URLs (the default).
    #[arg(long)]
    no_check: bool,
    /// URL checks at once.
    #[arg(long, default_value_t = 16)]
    check_concurrency: usize,
    /// Check URLs on loopback, private and link-local networks too (refused by default: an
    /// import file from elsewhere must not make this computer probe its own network).
    #[arg(long)]
    check_private: bool,
    /// Import the good entries even when others are bad (otherwise nothing is imported).
    #[arg(long)]
    skip_bad: bool,
    /// Leave out entries whose externalId repeats one earlier in the file or in the project.
    #[arg(long)]
    skip_duplicates: bool,
    /// Create batches the entries name that do not exist yet.
    #[arg(long)]
    create_batches: bool,
    /// Validate (and check) only; import nothing.
    #[arg(long)]
    dry_run: bool,
    /// Task priority, -1000..1000.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true, value_parser = clap::value_parser!(i64).range(-1000..=1000))]
    priority: i64,
}

pub async fn import(s: &Session, a: CloudImportArgs, json_out: bool) -> anyhow::Result<ExitCode> {
    let project = match &a.project {
        Some(p) => p.clone(),
        None if s.embedded.is_some() => assetdrop::upload::default_project(&s.client).await?.id,
        None => bail!("--project is required with --hub"),
    };
    let config = ImportConfig {
        storage: a.storage,
        check: (a.check && !a.no_check).then(|| CheckConfig {
            concurrency: a.check_concurrency.max(1),
            allow_private: a.check_private,
            ..CheckConfig::default()
        }),
        skip_bad: a.skip_bad,
        duplicates: if a.skip_duplicates {
            DuplicatePolicy::Skip
        } else {
            DuplicatePolicy::Warn
        },
        create_batches: a.create_batches,
        dry_run: a.dry_run,
        priority: a.priority,
        ..ImportConfig::new(project.clone())
    };
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let report = cloud::import(&s.client, &a.file, &config, &cancel)
        .await
        .map_err(crate::flag_hints)?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for p in &report.problems {
            println!(
                "{}: {}",
                crate::render::shown(&a.file),
                crate::render::printable(&p.to_string())
            );
        }
        let errors = report
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        if report.dry_run {
            println!(
                "dry run: {} entries, {} valid, {errors} errors; nothing imported",
                report.summary.entries, report.summary.valid
            );
        } else if report.imported == 0 && errors > 0 && !a.skip_bad {
            println!("nothing imported: {errors} errors (fix them, or pass --skip-bad to import the good entries)");
        } else {
            println!(
                "{} assets imported ({} new) into project {project}; {} entries not imported",
                report.imported, report.created, report.not_imported
            );
        }
    }
    Ok(if report.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
