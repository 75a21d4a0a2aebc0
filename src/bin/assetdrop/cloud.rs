//! `assetdrop cloud import`: a JSON list of assets that live elsewhere, checked and registered
//! by reference (nothing is copied).

use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::bail;
use assetdrop::cloud::{self, CheckConfig, DuplicatePolicy, ImportConfig, Problem};
use assetdrop::progress::{Discard, EventSink};
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
    /// Write every problem to FILE as it is found, one JSON object a line (the printed report
    /// names the first 20 of each kind and counts the rest).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// Every problem of an import, one JSON object a line, written as it comes; the first write
/// error is kept for the end and stops further writes.
struct ProblemFile {
    out: Mutex<(BufWriter<fs_err::File>, Option<std::io::Error>)>,
}

impl ProblemFile {
    fn create(path: &std::path::Path) -> anyhow::Result<Self> {
        let file = fs_err::File::create(path).map_err(|e| {
            anyhow::anyhow!("{e}; check that the folder exists and is writable, or choose another --report file")
        })?;
        Ok(Self {
            out: Mutex::new((BufWriter::new(file), None)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (BufWriter<fs_err::File>, Option<std::io::Error>)> {
        self.out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn finish(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let mut out = self.lock();
        let flushed = out.0.flush();
        match out.1.take().map_or(flushed, Err) {
            Ok(()) => Ok(()),
            Err(e) => bail!(
                "cannot write the problem report {}: {e}; check that its disk has room, or choose another --report file",
                crate::render::shown(path)
            ),
        }
    }
}

impl EventSink<Problem> for ProblemFile {
    fn send(&self, problem: Problem) {
        let mut out = self.lock();
        if out.1.is_some() {
            return;
        }
        let written = serde_json::to_writer(&mut out.0, &problem)
            .map_err(std::io::Error::from)
            .and_then(|()| out.0.write_all(b"\n"));
        if let Err(e) = written {
            out.1 = Some(e);
        }
    }
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
    let problem_file = a.report.as_deref().map(ProblemFile::create).transpose()?;
    let report = cloud::import_reporting(
        &s.client,
        &a.file,
        &config,
        &Discard,
        problem_file
            .as_ref()
            .map_or(&Discard as &dyn EventSink<Problem>, |f| f),
        &cancel,
    )
    .await
    .map_err(crate::flag_hints)?;
    if let (Some(f), Some(path)) = (&problem_file, &a.report) {
        f.finish(path)?;
    }
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let file = crate::render::shown(&a.file);
        for p in &report.problems {
            println!("{file}: {}", crate::render::printable(&p.to_string()));
        }
        for s in &report.summarised {
            println!(
                "{file}: {}",
                crate::render::summarised(s, a.report.as_deref())
            );
        }
        let errors = report.errors();
        if report.dry_run {
            println!(
                "dry run: {} entries, {} ready, {} with errors ({errors} errors); nothing imported",
                report.summary.entries, report.ready, report.with_errors
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
