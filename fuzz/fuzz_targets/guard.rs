//! The audio probe runs symphonia inside `catch_unwind` on purpose (one damaged file must not
//! end a batch), and libFuzzer's panic hook would count those caught panics as crashes. This
//! hook lets a panic raised inside symphonia unwind to that guard and treats every other panic
//! (ours) as the crash it is. Panics in symphonia still show in the log.

use std::sync::Once;

/// Installs the hook once per process.
pub fn let_symphonia_panics_unwind() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let crash = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_symphonia = info
                .location()
                .is_some_and(|l| l.file().contains("/symphonia"));
            if in_symphonia {
                eprintln!("caught by the probe's guard: {info}");
            } else {
                crash(info);
            }
        }));
    });
}
