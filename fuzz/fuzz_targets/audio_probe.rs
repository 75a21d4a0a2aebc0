//! The audio probe (MPEG frame walker, WAV chunk walker, container packet scans) on arbitrary
//! bytes, under each name whose extension hints a container. The first byte picks the name.
#![no_main]

use assetdrop::media::audio::{self, AudioProbe};
use assetdrop::media::BitrateMode;
use libfuzzer_sys::fuzz_target;

#[path = "guard.rs"]
mod guard;

const NAMES: [&str; 8] = [
    "a.mp3", "a.wav", "a.ogg", "a.flac", "a.m4a", "a.mka", "a.aiff", "a.aac",
];

fuzz_target!(|input: &[u8]| {
    guard::let_symphonia_panics_unwind();
    let Some((&pick, bytes)) = input.split_first() else {
        return;
    };
    let name = NAMES[usize::from(pick) % NAMES.len()];
    let probe: AudioProbe = audio::probe_bytes(name, bytes);
    if let Some(info) = &probe.info {
        if let Some(d) = info.duration_seconds {
            assert!(d.is_finite() && d >= 0.0, "duration {d}");
        }
        if info.bitrate_mode == BitrateMode::Constant {
            assert!(probe.detail.bitrate_changes == 0 || probe.detail.frame_bitrates.len() <= 1);
        }
    } else {
        assert!(!probe.problems.is_empty(), "no info and no problem");
    }
    // Every verdict can be turned into problems under every policy.
    for policy in [
        assetdrop::media::AudioPolicy::Reject,
        assetdrop::media::AudioPolicy::Warn,
        assetdrop::media::AudioPolicy::Convert,
    ] {
        let _ = audio::apply_policy(probe.clone(), policy);
    }
});
