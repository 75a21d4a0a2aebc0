//! Embeds `ui/`, the capabilities and the icon into the app at compile time.

fn main() {
    tauri_build::build();
}
