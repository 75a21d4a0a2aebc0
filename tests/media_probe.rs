//! `media::probe` on real files of every supported kind, made by `tests/data/make_media_fixtures.sh`
//! with ffmpeg, lame, sox, opusenc and python3: the good ones pass with the right format, kind,
//! size and frame rate; each bad one is rejected with its own problem code.

use std::path::{Path, PathBuf};

use assetdrop::media::{
    probe, probe_with, AudioPolicy, Format, ImageInfo, Kind, ProbeConfig, ProblemCode, Report,
    Severity, Verdict,
};

fn fixtures() -> PathBuf {
    crate::support::fixtures::generated("make_media_fixtures.sh")
}

fn probed(rel: &str) -> Report {
    probe(&fixtures().join(rel))
}

fn codes(report: &Report) -> Vec<ProblemCode> {
    report.problems.iter().map(|p| p.code).collect()
}

fn show(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{report:?} ({e})"))
}

#[test]
fn good_files_get_their_format_kind_and_verdict() {
    let cases = [
        ("good/photo.jpg", Format::Jpeg, Kind::Image),
        ("good/photo.png", Format::Png, Kind::Image),
        ("good/scan.tiff", Format::Tiff, Kind::Image),
        ("good/sub/dir/nested.png", Format::Png, Kind::Image),
        ("good/clip.mp4", Format::Mp4, Kind::Video),
        ("good/clip.mov", Format::Mov, Kind::Video),
        ("good/clip.webm", Format::Webm, Kind::Video),
        ("good/clip.mkv", Format::Mkv, Kind::Video),
        ("good/tone.mp3", Format::Mp3, Kind::Audio),
        ("good/tone.wav", Format::Wav, Kind::Audio),
        ("good/tone.ogg", Format::Ogg, Kind::Audio),
        ("good/doc.pdf", Format::Pdf, Kind::Pdf),
        ("good/notes.txt", Format::Txt, Kind::Text),
        ("good/readme.md", Format::Md, Kind::Markdown),
        ("good/page.html", Format::Html, Kind::Html),
        ("good/scan.dcm", Format::Dcm, Kind::Dicom),
        ("good/volume.nrrd", Format::Nrrd, Kind::Nrrd),
        ("good/volume.nii", Format::Nii, Kind::Nifti),
        ("good/volume.nii.gz", Format::Niigz, Kind::Nifti),
    ];
    for (rel, format, kind) in cases {
        let report = probed(rel);
        assert_eq!(report.format, Some(format), "{rel}: {}", show(&report));
        assert_eq!(report.kind, Some(kind), "{rel}: {}", show(&report));
        assert_eq!(report.verdict, Verdict::Ok, "{rel}: {}", show(&report));
        assert!(report.problems.is_empty(), "{rel}: {}", show(&report));
        assert!(
            report.size > 0 && !report.convert_to_wav,
            "{rel}: {}",
            show(&report)
        );
    }
}

#[test]
fn images_report_their_size() {
    for rel in [
        "good/photo.jpg",
        "good/photo.png",
        "good/scan.tiff",
        "good/sub/dir/nested.png",
    ] {
        let report = probed(rel);
        assert_eq!(
            report.image,
            Some(ImageInfo {
                width: 64,
                height: 48
            }),
            "{rel}: {}",
            show(&report)
        );
    }
}

#[test]
fn videos_report_frame_rate_and_size() {
    for rel in [
        "good/clip.mp4",
        "good/clip.mov",
        "good/clip.mkv",
        "good/clip.webm",
    ] {
        let report = probed(rel);
        let video = report
            .video
            .clone()
            .unwrap_or_else(|| panic!("{rel}: no video facts: {}", show(&report)));
        assert!(!video.variable_frame_rate, "{rel}: {}", show(&report));
        assert_eq!(
            (video.width, video.height),
            (Some(64), Some(48)),
            "{rel}: {}",
            show(&report)
        );
        assert_eq!(video.frame_rate, Some(25.0), "{rel}: {}", show(&report));
    }
}

#[test]
fn variable_frame_rate_video_is_imported_with_a_warning() {
    let report = probed("good/vfr.mp4");
    assert_eq!(report.format, Some(Format::Mp4), "{}", show(&report));
    assert_eq!(report.verdict, Verdict::Warn, "{}", show(&report));
    assert_eq!(
        codes(&report),
        vec![ProblemCode::VariableFrameRate],
        "{}",
        show(&report)
    );
    assert_eq!(report.problems[0].severity, Severity::Warning);
    assert!(
        report.problems[0].message.contains("approximate"),
        "{}",
        report.problems[0].message
    );
    assert!(
        report.problems[0].message.contains("-vsync cfr"),
        "{}",
        report.problems[0].message
    );
    let video = report
        .video
        .clone()
        .unwrap_or_else(|| panic!("no video facts: {}", show(&report)));
    assert!(video.variable_frame_rate);
    // 25 frames in 1 s, then 10 in 1 s: an average between the two rates.
    let rate = video.frame_rate.unwrap_or_default();
    assert!(rate > 10.0 && rate < 25.0, "{}", show(&report));
}

#[test]
fn bad_files_are_rejected_with_their_own_code() {
    let cases = [
        (
            "bad/vbr.mp3",
            ProblemCode::VariableBitrate,
            Some(Format::Mp3),
        ),
        (
            "bad/png_named.mp3",
            ProblemCode::ExtensionMismatch,
            Some(Format::Png),
        ),
        ("bad/empty.txt", ProblemCode::Empty, None),
        ("bad/archive.zip", ProblemCode::UnsupportedType, None),
        (
            "bad/truncated.png",
            ProblemCode::Truncated,
            Some(Format::Png),
        ),
        (
            "bad/truncated.mp4",
            ProblemCode::Truncated,
            Some(Format::Mp4),
        ),
        ("bad/not_utf8.txt", ProblemCode::NotUtf8, None),
        (
            "bad/volume4d.nrrd",
            ProblemCode::UnsupportedVolume,
            Some(Format::Nrrd),
        ),
    ];
    for (rel, code, format) in cases {
        let report = probed(rel);
        assert_eq!(report.verdict, Verdict::Reject, "{rel}: {}", show(&report));
        assert_eq!(report.format, format, "{rel}: {}", show(&report));
        assert!(
            codes(&report).contains(&code),
            "{rel}: expected {code:?}: {}",
            show(&report)
        );
        assert_eq!(
            report.problems[0].severity,
            Severity::Error,
            "{rel}: worst first: {}",
            show(&report)
        );
    }
}

#[test]
fn messages_say_what_the_file_really_is_and_what_to_do() {
    let message = |rel: &str| {
        probed(rel)
            .problems
            .first()
            .map(|p| p.message.clone())
            .unwrap_or_default()
    };
    let renamed = message("bad/png_named.mp3");
    assert!(
        renamed.contains("PNG") && renamed.contains("rename it to .png"),
        "{renamed}"
    );
    let zip = message("bad/archive.zip");
    assert!(zip.contains("a ZIP archive"), "{zip}");
    let latin1 = message("bad/not_utf8.txt");
    assert!(latin1.contains("byte offset 3"), "{latin1}");
    let four_d = probed("bad/volume4d.nrrd");
    assert!(
        four_d
            .problems
            .iter()
            .any(|p| p.message.contains("dimension: 4")),
        "{}",
        show(&four_d)
    );
    assert!(
        four_d
            .problems
            .iter()
            .all(|p| p.code == ProblemCode::UnsupportedVolume),
        "{}",
        show(&four_d)
    );
    let cut = message("bad/truncated.png");
    assert!(cut.contains("IEND"), "{cut}");
}

#[test]
fn the_audio_policy_decides_what_happens_to_variable_bitrate() {
    let vbr = fixtures().join("bad/vbr.mp3");
    let warned = probe_with(
        &vbr,
        &ProbeConfig {
            audio: AudioPolicy::Warn,
        },
    );
    assert_eq!(warned.verdict, Verdict::Warn, "{}", show(&warned));
    assert!(
        codes(&warned).contains(&ProblemCode::VariableBitrate),
        "{}",
        show(&warned)
    );
    let converted = probe_with(
        &vbr,
        &ProbeConfig {
            audio: AudioPolicy::Convert,
        },
    );
    assert!(converted.convert_to_wav, "{}", show(&converted));
    assert!(
        codes(&converted).contains(&ProblemCode::WillConvert),
        "{}",
        show(&converted)
    );
    assert_ne!(converted.verdict, Verdict::Reject, "{}", show(&converted));
    let info = converted
        .audio
        .clone()
        .unwrap_or_else(|| panic!("no audio facts: {}", show(&converted)));
    assert_eq!(info.codec, "mp3");
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.map_or_else(|e| panic!("read {}: {e}", dir.display()), |e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_file_gets_one_report_and_bad_ones_do_not_stop_the_batch() {
    let mut files = Vec::new();
    files_under(&fixtures(), &mut files);
    assert!(files.len() >= 28, "{files:?}");
    let reports: Vec<Report> = files.iter().map(|f| probe(f)).collect();
    for (file, report) in files.iter().zip(&reports) {
        assert_eq!(&report.path, file);
        let good = file.components().any(|c| c.as_os_str() == "good");
        if good {
            assert_ne!(report.verdict, Verdict::Reject, "{}", show(report));
        } else {
            assert_eq!(report.verdict, Verdict::Reject, "{}", show(report));
        }
        // Worst first, and the verdict is the worst severity.
        let severities: Vec<Severity> = report.problems.iter().map(|p| p.severity).collect();
        let mut sorted = severities.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(severities, sorted, "{}", show(report));
        let json = serde_json::to_value(report).unwrap_or_default();
        assert!(
            json.get("verdict").is_some() && json.get("problems").is_some(),
            "{json}"
        );
    }
}

#[test]
fn a_missing_file_or_a_directory_is_a_report_too() {
    let missing = fixtures().join("good/no-such-file.png");
    let report = probe(&missing);
    assert_eq!(
        (report.verdict, codes(&report)),
        (Verdict::Reject, vec![ProblemCode::Unreadable])
    );
    assert!(
        report.problems[0].message.contains("no-such-file.png"),
        "{}",
        show(&report)
    );
    let dir = probe(&fixtures().join("good/sub"));
    assert_eq!(codes(&dir), vec![ProblemCode::Unreadable], "{}", show(&dir));
}

/// `assetdrop probe --json` over the whole fixture folder: one report per file in the planner's
/// order (reports are made on several threads and written as they come), each equal to what the
/// library says of that file, and exit code 1 because bad files are among them.
#[test]
fn the_probe_command_reports_every_file_in_order() {
    let root = fixtures();
    let planned = assetdrop::upload::plan(std::slice::from_ref(&root));
    assert!(
        planned.files.len() > 20,
        "fixtures: {}",
        planned.files.len()
    );
    let out = std::process::Command::new(crate::support::hub::bin())
        .args(["--json", "probe"])
        .arg(&root)
        .output()
        .expect("run assetdrop probe");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let reports: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("probe --json prints a JSON array");
    assert_eq!(reports.len(), planned.files.len());
    for (file, report) in planned.files.iter().zip(&reports) {
        let expected = serde_json::to_value(probe(&file.path)).expect("report serialises");
        assert_eq!(report, &expected, "{}", file.path.display());
    }

    // An empty folder is an empty array.
    let empty = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(crate::support::hub::bin())
        .args(["--json", "probe"])
        .arg(empty.path())
        .output()
        .expect("run assetdrop probe");
    let reports: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("probe --json prints a JSON array");
    assert!(
        reports.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
