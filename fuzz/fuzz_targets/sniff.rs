//! The content sniffer and the whole per-file probe it starts (image, video, PDF, text and
//! medical-volume checks) on arbitrary bytes. The first byte picks the name the content claims.
#![no_main]

use assetdrop::media::{self, AudioPolicy, ProbeConfig};
use libfuzzer_sys::fuzz_target;

#[path = "guard.rs"]
mod guard;

const NAMES: [&str; 16] = [
    "a.jpg", "a.png", "a.tif", "a.mp4", "a.mov", "a.webm", "a.mkv", "a.mp3", "a.wav", "a.ogg",
    "a.pdf", "a.txt", "a.md", "a.dcm", "a.nrrd", "a.nii.gz",
];

fuzz_target!(|input: &[u8]| {
    guard::let_symphonia_panics_unwind();
    let Some((&pick, bytes)) = input.split_first() else {
        return;
    };
    let name = NAMES[usize::from(pick) % NAMES.len()];
    let by_content = media::sniff_bytes(bytes);
    let named = media::sniff_named(name, bytes);
    // The name only chooses within a family content cannot split.
    assert_eq!(by_content.is_some(), named.is_some());
    let mut config = ProbeConfig::default();
    config.audio = match pick >> 6 {
        0 | 1 => AudioPolicy::Reject,
        2 => AudioPolicy::Warn,
        _ => AudioPolicy::Convert,
    };
    let report = media::probe_bytes(name, bytes, &config);
    assert_eq!(report.size, bytes.len() as u64);
    // The probe reads past the head only to look behind a long ID3v2 tag (MP3 → FLAC/AAC).
    assert_eq!(report.format.is_some(), named.is_some());
    assert_eq!(report.kind.is_none(), report.format.is_none());
});
