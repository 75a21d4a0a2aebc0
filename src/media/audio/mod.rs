//! Audio bitrate checks.
