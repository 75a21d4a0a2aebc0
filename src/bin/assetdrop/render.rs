//! How the CLI shows things: progress bars on a terminal, plain text otherwise, JSON on request.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use assetdrop::media::{Report, Verdict};
use assetdrop::progress::EventSink;
use assetdrop::upload::{UploadEvent, UploadSummary};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

/// Prints `json` with `--json`, else `text`.
pub fn value(json_out: bool, json: &Value, text: &str) -> anyhow::Result<ExitCode> {
    if json_out {
        println!("{}", serde_json::to_string_pretty(json)?);
    } else if !text.is_empty() {
        println!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Text from outside (names, paths, messages naming them) as a terminal should show it: control
/// characters (ESC, CR, LF, …) written as escapes, so a file name or an external ID can neither
/// recolour the terminal nor overwrite or forge lines. JSON output needs none of this.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    escaped(s, char::is_control)
}

/// Several lines of text from outside (a rendered asset): as [`printable`], but line breaks and
/// tabs kept.
pub fn printable_block(s: &str) -> std::borrow::Cow<'_, str> {
    escaped(s, |c| c.is_control() && c != '\n' && c != '\t')
}

fn escaped(s: &str, bad: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(&bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A path as [`printable`] text.
pub fn shown(p: &std::path::Path) -> String {
    printable(&p.display().to_string()).into_owned()
}

fn human_bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

/// One line per asset.
pub fn assets_table(assets: &[Value], total: u64) -> String {
    let mut out = String::new();
    for a in assets {
        let s = |k: &str| printable(a.get(k).and_then(Value::as_str).unwrap_or("")).into_owned();
        let batches = a
            .get("batches")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let _ = writeln!(
            out,
            "{}  {:<8} {:<40} batches:{batches}  {}",
            s("_id"),
            s("kind"),
            s("externalId"),
            s("createdAt")
        );
    }
    let _ = write!(out, "{} of {total} assets", assets.len());
    out
}

/// The validation report as text.
pub fn probe_table(reports: &[Report]) -> String {
    let mut out = String::new();
    for r in reports {
        let verdict = match r.verdict {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Reject => "REJECT",
        };
        let kind = r.kind.map_or("?", |k| k.as_str());
        let mut facts = String::new();
        if let Some(i) = &r.image {
            let _ = write!(facts, " {}x{}", i.width, i.height);
        }
        if let Some(a) = &r.audio {
            let mode = match a.bitrate_mode {
                assetdrop::media::BitrateMode::Constant => "constant",
                assetdrop::media::BitrateMode::Variable => "variable",
            };
            let _ = write!(facts, " {} {mode} bitrate", a.codec);
        }
        if let Some(v) = &r.video {
            if let Some(fps) = v.frame_rate {
                let _ = write!(facts, " {fps:.3} fps");
            }
        }
        let _ = writeln!(out, "{verdict:<6} {kind:<8} {}{facts}", shown(&r.path));
        for p in &r.problems {
            let _ = writeln!(out, "       - {}", problem_text(p));
        }
    }
    out
}

/// A problem as the command line says it: the core's message, and for a file that can be
/// converted, the flag that does it.
pub fn problem_text(p: &assetdrop::media::Problem) -> String {
    use assetdrop::media::ProblemCode;
    let convertible = matches!(
        p.code,
        ProblemCode::VariableBitrate | ProblemCode::AudioNeedsConversion
    ) && p.message.ends_with("convert it to WAV");
    if convertible {
        format!(
            "{} (--audio convert; --audio warn imports it as it is)",
            p.message
        )
    } else {
        p.message.clone()
    }
}

/// The end-of-upload summary as text.
pub fn upload_summary(s: &UploadSummary, project: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} uploaded into project {}",
        plural(s.uploaded.len(), "file"),
        printable(project)
    );
    if !s.skipped.is_empty() {
        let _ = writeln!(out, "{} skipped:", plural(s.skipped.len(), "path"));
        // A re-run of a big folder skips everything: name a few, count the rest.
        for k in s.skipped.iter().take(20) {
            let _ = writeln!(out, "  {}: {}", shown(&k.path), printable(&k.reason));
        }
        if s.skipped.len() > 20 {
            let _ = writeln!(out, "  ... and {} more", s.skipped.len() - 20);
        }
    }
    if !s.rejected.is_empty() {
        let _ = writeln!(out, "{} rejected:", plural(s.rejected.len(), "file"));
        for r in &s.rejected {
            let why: Vec<String> = r.problems.iter().map(problem_text).collect();
            let _ = writeln!(out, "  {}: {}", shown(&r.path), why.join("; "));
        }
    }
    if !s.failed.is_empty() {
        let _ = writeln!(out, "{} failed:", plural(s.failed.len(), "file"));
        for f in &s.failed {
            let _ = writeln!(out, "  {}: {}", shown(&f.path), printable(&f.error.message));
        }
    }
    out
}

/// One line for the problems of one kind that a cloud-import report counts beyond those it
/// names, e.g. "300000 entries already in the project (existing-external-id warnings); the first
/// 20 are named above, --report FILE writes every one".
pub fn summarised(s: &assetdrop::cloud::Summarised, report: Option<&std::path::Path>) -> String {
    use assetdrop::cloud::{ProblemCode, Severity};
    let kind = match s.severity {
        Severity::Error => "errors",
        Severity::Warning => "warnings",
    };
    let what = match s.code {
        ProblemCode::ExistingExternalId => format!(
            "{} entries already in the project (their externalId is taken: {} {kind})",
            s.total, s.code
        ),
        ProblemCode::DuplicateExternalId => format!(
            "{} entries repeat the externalId of an earlier entry ({} {kind})",
            s.total, s.code
        ),
        code => format!("{} {code} {kind}", s.total),
    };
    let named = match s.named {
        0 => "none is named".to_owned(),
        1 => "the first is named above".to_owned(),
        n => format!("the first {n} are named above"),
    };
    let all = match report {
        Some(path) => format!("every one is in {}", shown(path)),
        None => "--report FILE writes every one".to_owned(),
    };
    format!("{what}; {named}, {all}")
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Progress bars for an upload: one overall bar plus one per file in flight. Draws nothing
/// when stderr is not a terminal or bars are off.
pub struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    files: Mutex<HashMap<PathBuf, ProgressBar>>,
}

impl Bars {
    pub fn new(enabled: bool) -> Self {
        let target = if enabled && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self {
            multi,
            overall,
            files: Mutex::new(HashMap::new()),
        }
    }

    pub fn finish(&self) {
        self.overall.finish_and_clear();
    }

    fn files(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, ProgressBar>> {
        self.files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl EventSink<UploadEvent> for Bars {
    fn send(&self, event: UploadEvent) {
        match event {
            UploadEvent::Planned { files, bytes } => {
                self.overall.set_length(bytes);
                self.overall.set_message(format!("{files} files"));
            }
            UploadEvent::Started { path, bytes } => {
                let bar = self.multi.add(ProgressBar::new(bytes));
                bar.set_style(
                    ProgressStyle::with_template("  {bar:20} {bytes:>10} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_message(shown(&path));
                self.files().insert(path, bar);
            }
            UploadEvent::Progress {
                path,
                sent,
                overall_sent,
                ..
            } => {
                if let Some(b) = self.files().get(&path) {
                    b.set_position(sent);
                }
                self.overall.set_position(overall_sent);
            }
            UploadEvent::Uploaded { path, .. } | UploadEvent::Failed { path, .. } => {
                if let Some(b) = self.files().remove(&path) {
                    b.finish_and_clear();
                }
            }
            UploadEvent::Rejected { path, problems } => {
                let why: Vec<String> = problems.iter().map(problem_text).collect();
                let _ =
                    self.multi
                        .println(format!("rejected {}: {}", shown(&path), why.join("; ")));
            }
            UploadEvent::Finished { bytes, .. } => self
                .overall
                .set_message(format!("done, {}", human_bytes(bytes))),
            UploadEvent::Probed { .. }
            | UploadEvent::Skipped { .. }
            | UploadEvent::Converting { .. }
            | UploadEvent::Sent { .. } => {}
        }
    }
}
