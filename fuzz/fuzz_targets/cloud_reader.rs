//! The cloud-import reader (streaming JSON array scanner, entry parser, duplicate checks) on
//! arbitrary bytes; the first byte picks the settings. Every good asset's wire form must read
//! back as the same asset.
#![no_main]

use assetdrop::cloud::{CloudReader, DuplicatePolicy, ReadConfig, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&pick, bytes)) = input.split_first() else {
        return;
    };
    let mut config = ReadConfig::default().with_duplicates(match pick % 3 {
        0 => DuplicatePolicy::Warn,
        1 => DuplicatePolicy::Skip,
        _ => DuplicatePolicy::Error,
    });
    config.fix_urls = pick & 0x04 != 0;
    if pick & 0x08 != 0 {
        config = config.with_existing_ids(["a", "1", ""]);
    }
    if pick & 0x10 != 0 {
        // Small limits, so that the limit paths are reached by small inputs.
        config.max_entry_bytes = 64;
        config.max_depth = 3;
    }
    let fix_urls = config.fix_urls;
    let mut reader = CloudReader::new(bytes, config);
    let mut wire = Vec::new();
    let mut entries = 0usize;
    for entry in reader.by_ref() {
        entries += 1;
        assert!(entry.line >= 1 && entry.column >= 1, "{entry:?}");
        for problem in &entry.problems {
            assert!(!problem.message.is_empty());
            assert_eq!(problem.index, entry.index);
        }
        if let Some(asset) = &entry.asset {
            assert!(!entry.has_errors(), "an asset with errors: {entry:?}");
            for target in Target::of_entry(&entry) {
                // The check's address guard judges any URL an entry can carry.
                if let Some(refused) = assetdrop::net::refuse_url(&target.url) {
                    assert!(!refused.why.is_empty());
                }
            }
            wire.push((asset.clone(), asset.to_wire()));
        }
        // A reader never loops: it cannot give more items than there are bytes (and one more
        // for the file as a whole).
        assert!(entries <= bytes.len() + 2, "too many entries");
    }
    let summary = reader.summary();
    assert_eq!(summary.valid, wire.len());
    if wire.is_empty() {
        return;
    }
    // What we would send reads back as itself.
    let text =
        serde_json::to_vec(&wire.iter().map(|(_, w)| w).collect::<Vec<_>>()).expect("wire JSON");
    let mut again = ReadConfig::default();
    again.fix_urls = fix_urls;
    let back: Vec<_> = CloudReader::new(text.as_slice(), again)
        .filter_map(|e| e.asset)
        .collect();
    assert_eq!(back.len(), wire.len(), "{}", String::from_utf8_lossy(&text));
    for ((asset, _), read) in wire.iter().zip(&back) {
        assert_eq!(
            asset.to_wire(),
            read.to_wire(),
            "{}",
            String::from_utf8_lossy(&text)
        );
    }
});
