//! `assetdrop build`: a table and an HTML template become one asset per row.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use assetdrop::builder::{self, BuildConfig, BuildEvent, TableOptions, TemplateConfig};
use assetdrop::progress::EventSink;
use assetdrop::upload::CancellationToken;
use clap::Args;
use serde_json::{json, Value};

use crate::Session;

#[derive(Args)]
pub struct BuildArgs {
    /// The table: .csv, .tsv, .xlsx, .xls or .json (an array of objects); first row = header.
    table: PathBuf,
    /// Project ID (with the embedded hub, defaults to its "Default project").
    #[arg(long)]
    project: Option<String>,
    /// The HTML template with {{column}} placeholders.
    #[arg(long, requires = "config", conflicts_with = "template_id")]
    template: Option<PathBuf>,
    /// The template settings: dataConfig, selectedExternalId, batchColumn, preLabelConfig (a
    /// template object saved from Ango or from this hub works as it is).
    #[arg(long, requires = "template")]
    config: Option<PathBuf>,
    /// A template saved on the project, by ID.
    #[arg(long)]
    template_id: Option<String>,
    /// Save --template/--config on the project under this name and print its ID.
    #[arg(long, requires = "template")]
    save_as: Option<String>,
    /// The CSV delimiter (detected when absent); `\t` for tab.
    #[arg(long)]
    delimiter: Option<String>,
    /// The XLSX/XLS sheet (first when absent).
    #[arg(long)]
    sheet: Option<String>,
    /// Render the first N rows and print them; nothing is imported.
    #[arg(long)]
    preview: Option<usize>,
    /// Print the assets the hub would receive (with --json, the JSON array); nothing is imported.
    #[arg(long)]
    dry_run: bool,
    /// Task priority, -1000..1000.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true, value_parser = clap::value_parser!(i64).range(-1000..=1000))]
    priority: i64,
}

fn delimiter(text: Option<&str>) -> anyhow::Result<Option<char>> {
    let Some(t) = text else { return Ok(None) };
    let c = match t {
        "\\t" | "tab" | "TAB" => '\t',
        "space" => ' ',
        _ => {
            let mut chars = t.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => c,
                _ => bail!("--delimiter takes one character (or \\t, tab, space), got {t:?}"),
            }
        }
    };
    Ok(Some(c))
}

/// The template config: from --template + --config, or a saved template by ID.
async fn load_template(
    s: &Session,
    project: &str,
    a: &BuildArgs,
) -> anyhow::Result<TemplateConfig> {
    if let Some(id) = &a.template_id {
        let p = s.client.project(project).await?;
        let found = p
            .asset_builder_templates
            .iter()
            .find(|t| t.get("_id").and_then(Value::as_str) == Some(id.as_str()))
            .with_context(|| format!("project {project} has no saved template {id}"))?;
        return Ok(TemplateConfig::from_json(&found.to_string())?);
    }
    let (Some(html), Some(cfg)) = (&a.template, &a.config) else {
        bail!("give --template FILE.html --config CONFIG.json, or --template-id ID");
    };
    let html = fs_err::read_to_string(html)?;
    let mut value: Value = serde_json::from_str(&fs_err::read_to_string(cfg)?)
        .with_context(|| format!("{} is not JSON", cfg.display()))?;
    let obj = value
        .as_object_mut()
        .with_context(|| format!("{} must hold a JSON object", cfg.display()))?;
    obj.insert("template".into(), Value::String(html));
    if !obj.contains_key("name") {
        let name = a.save_as.clone().unwrap_or_else(|| {
            a.table
                .file_name()
                .map_or_else(|| "template".into(), |n| n.to_string_lossy().into_owned())
        });
        obj.insert("name".into(), Value::String(name));
    }
    Ok(TemplateConfig::from_json(&value.to_string())?)
}

struct Printer {
    json: bool,
}

impl EventSink<BuildEvent> for Printer {
    fn send(&self, event: BuildEvent) {
        if self.json {
            return;
        }
        match event {
            BuildEvent::RowFailed { failure } => {
                eprintln!("row failed: {}", crate::render::printable(&failure.message));
            }
            BuildEvent::BatchCreated { name } => eprintln!("created batch {name:?}"),
            BuildEvent::Progress { .. } | BuildEvent::Finished { .. } => {}
        }
    }
}

pub async fn run(s: &Session, a: BuildArgs, json_out: bool) -> anyhow::Result<ExitCode> {
    let project = match &a.project {
        Some(p) => p.clone(),
        None if s.embedded.is_some() => assetdrop::upload::default_project(&s.client).await?.id,
        None => bail!("--project is required with --hub"),
    };
    let config = load_template(s, &project, &a).await?;
    let template = Arc::new(builder::compile(&config)?);
    let options = TableOptions {
        delimiter: delimiter(a.delimiter.as_deref())?,
        sheet: a.sheet.clone(),
        ..TableOptions::default()
    };

    if let Some(name) = &a.save_as {
        let mut body = serde_json::to_value(&config)?;
        if let Some(o) = body.as_object_mut() {
            o.remove("_id");
            o.insert("name".into(), Value::String(name.clone()));
        }
        let saved = s.client.save_template(&project, &body).await?;
        eprintln!(
            "saved template {}",
            saved.get("_id").and_then(Value::as_str).unwrap_or("?")
        );
    }

    if a.dry_run || a.preview.is_some() {
        let limit = a.preview.unwrap_or(usize::MAX);
        let (table, tmpl) = (a.table.clone(), template.clone());
        // Stream the array: a million-row dry run never holds every asset.
        let failed = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
            // The header check comes first, so a misfit table prints nothing on stdout.
            let items = builder::wire_assets(&table, &options, &tmpl)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut failed = false;
            let mut first = true;
            if json_out {
                out.write_all(b"[")?;
            }
            for item in items.take(limit) {
                match item {
                    Ok(row) if json_out => {
                        if !first {
                            out.write_all(b",")?;
                        }
                        first = false;
                        out.write_all(b"\n")?;
                        serde_json::to_writer(&mut out, &row.asset)?;
                    }
                    Ok(row) => writeln!(
                        out,
                        "--- line {} · {}\n{}",
                        row.line,
                        crate::render::printable(&row.asset.external_id),
                        crate::render::printable_block(&row.asset.data)
                    )?,
                    Err(e) => {
                        failed = true;
                        eprintln!("row failed: {}", crate::render::printable(&e.to_string()));
                    }
                }
            }
            if json_out {
                out.write_all(b"\n]\n")?;
            }
            out.flush()?;
            Ok(failed)
        })
        .await??;
        return Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }

    let build_config = BuildConfig {
        priority: a.priority,
        table: options,
        ..BuildConfig::new(project.clone())
    };
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let summary = builder::build(
        &s.client,
        &a.table,
        template,
        &build_config,
        &Printer { json: json_out },
        &cancel,
    )
    .await?;
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"project": project, "summary": summary}))?
        );
    } else {
        println!(
            "{} rows: {} assets registered ({} new) in project {project}, {} rows failed",
            summary.rows,
            summary.registered,
            summary.created,
            summary.failed.len()
        );
    }
    Ok(if summary.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
