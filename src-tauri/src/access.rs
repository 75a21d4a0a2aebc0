//! Which files the app may read for the page: only the ones the user handed over.
//!
//! The page does not decide. A script running in it (through an asset's name, a table cell or a
//! template) must not make the app read, upload, thumbnail or parse any other file, so the Rust
//! side keeps the list itself, from what it saw happen:
//!
//! - paths dropped onto the window, taken from the window's own drag-and-drop event (`lib.rs`);
//! - paths chosen in a file dialog the app opened (`commands::pick`);
//! - the files named by the journal of an upload an earlier run did not finish: the app wrote
//!   that journal, and only after the upload's files had passed this same check.
//!
//! Text pasted into the window goes through a temp file the app makes and reads itself; its path
//! never comes from the page.
//!
//! A dropped or chosen folder allows everything under it. Paths are compared once `.`, `..` and
//! symbolic links are resolved (canonical form), so what counts is the file a path really names:
//!
//! - a dropped or chosen symbolic link allows what it points at (the user handed over that link);
//! - a symbolic link inside an allowed folder is followed only when it leads to a place that is
//!   itself allowed; one leading out of the folder is refused, and so is a `..` that climbs out;
//! - a path that does not exist (a file deleted since it was dropped) is judged by its deepest
//!   existing folder, resolved the same way, plus the names after it; a `..` among those names
//!   is refused. The command then reports the missing file as it would any other;
//! - a relative path is refused: the page has no working folder.
//!
//! Every command that takes a path asks [`Access::check`] before it reads anything, and the
//! `thumb` protocol asks again before it serves an image.

use std::collections::HashSet;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use assetdrop::upload::{ErrorInfo, Failed, Plan};
use assetdrop::ErrorCode;

use crate::error::IpcError;

/// The files and folders the user handed over.
#[derive(Debug, Default)]
pub struct Access {
    granted: Mutex<Granted>,
}

#[derive(Debug, Default)]
struct Granted {
    /// Dropped or chosen files, canonical.
    files: HashSet<PathBuf>,
    /// Dropped or chosen folders, canonical: everything under them is allowed.
    folders: HashSet<PathBuf>,
    /// The files of the interrupted upload the app may resume, resolved.
    resumable: HashSet<PathBuf>,
}

impl Granted {
    fn covers(&self, real: &Path) -> bool {
        self.files.contains(real)
            || self.resumable.contains(real)
            || real.ancestors().any(|a| self.folders.contains(a))
    }

    /// The allowed folder `lexical` lies in by its names alone, for saying what a symbolic
    /// link or `..` left.
    fn folder_of(&self, lexical: &Path) -> Option<PathBuf> {
        lexical
            .ancestors()
            .find(|a| self.folders.contains(*a))
            .map(Path::to_path_buf)
    }
}

/// Where the user hands over a file of some kind, for the message a refusal gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Files and folders to upload (the Upload view).
    Upload,
    /// A cloud-import list (the Cloud import view).
    CloudList,
    /// A table for the asset builder (the Asset builder view).
    Table,
}

impl Via {
    fn how(self) -> &'static str {
        match self {
            Self::Upload => {
                "drop it onto the window or choose it with “Choose files…” or “Choose a folder…” \
                 in Upload"
            }
            Self::CloudList => {
                "drop it onto the window in Cloud import or choose it with “Choose a JSON file…”"
            }
            Self::Table => {
                "drop it onto the window in Asset builder or choose it with “Choose a table…”"
            }
        }
    }
}

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Not an absolute path.
    Relative,
    /// Neither dropped nor chosen, nor under a folder that was.
    NotHandedOver,
    /// Under an allowed folder by its names, but a symbolic link or `..` leads out of it.
    LeadsOut {
        /// The folder it leaves.
        folder: PathBuf,
    },
    /// Under an allowed folder by its names, but a `..` follows a folder that does not exist,
    /// so where it leads cannot be told.
    Unresolvable {
        /// The folder its names point into.
        folder: PathBuf,
    },
}

/// A path the app will not read for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The path as the page gave it.
    pub path: PathBuf,
    /// Why.
    pub why: Why,
    /// Where the user hands such a file over.
    pub via: Via,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.why {
            Why::Relative => write!(
                f,
                "refused {path:?}: not an absolute path. The app reads only files dropped onto \
                 its window or chosen in its file dialog"
            )?,
            Why::NotHandedOver => write!(
                f,
                "refused {path}: it was not dropped onto the window or chosen in the app's file \
                 dialog, nor is it inside a folder that was, and the app reads no other file"
            )?,
            Why::LeadsOut { folder } => write!(
                f,
                "refused {path}: a symbolic link or “..” leads out of {}, which was dropped or \
                 chosen, to a file that was not, and the app reads no other file",
                folder.display()
            )?,
            Why::Unresolvable { folder } => write!(
                f,
                "refused {path}: a “..” in it follows a folder that does not exist, so whether \
                 it stays inside {}, which was dropped or chosen, cannot be told",
                folder.display()
            )?,
        }
        write!(f, ". To use it, {}", self.via.how())
    }
}

impl From<Refused> for IpcError {
    fn from(r: Refused) -> Self {
        IpcError::new(ErrorCode::InvalidInput, r.to_string())
    }
}

impl Access {
    fn granted(&self) -> MutexGuard<'_, Granted> {
        // The sets stay consistent whatever panicked while holding them: each change is one
        // insert or clear.
        self.granted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Allows paths the user dropped onto the window or chose in a file dialog: a file itself,
    /// a folder with everything under it. A path that no longer exists allows nothing.
    pub fn grant(&self, paths: &[PathBuf]) {
        let resolved: Vec<(PathBuf, bool)> = paths
            .iter()
            .filter(|p| p.is_absolute())
            .filter_map(|p| p.canonicalize().ok())
            .map(|real| {
                let folder = real.is_dir();
                (real, folder)
            })
            .collect();
        let mut g = self.granted();
        for (real, folder) in resolved {
            if folder {
                g.folders.insert(real);
            } else {
                g.files.insert(real);
            }
        }
    }

    /// Allows the files of the interrupted upload the app may resume (its journal's files).
    pub fn grant_resumable<'a>(&self, paths: impl IntoIterator<Item = &'a Path>) {
        let resolved: Vec<PathBuf> = paths
            .into_iter()
            .filter(|p| p.is_absolute())
            .filter_map(resolve)
            .collect();
        self.granted().resumable.extend(resolved);
    }

    /// Forgets the interrupted upload's files (the user discarded it).
    pub fn forget_resumable(&self) {
        self.granted().resumable.clear();
    }

    /// Whether the page may have the app read `path`; `via` says, in a refusal, how the user
    /// hands such a file over.
    pub fn check(&self, path: &Path, via: Via) -> Result<(), Refused> {
        let refused = |why| Refused {
            path: path.to_path_buf(),
            why,
            via,
        };
        if !path.is_absolute() {
            return Err(refused(Why::Relative));
        }
        let real = resolve(path);
        let g = self.granted();
        if real.as_deref().is_some_and(|r| g.covers(r)) {
            return Ok(());
        }
        // Only a path whose names point into an allowed folder is told more than "not handed
        // over": the page learns nothing about the rest of the disk.
        Err(refused(match (g.folder_of(&lexical(path)), real) {
            (Some(folder), Some(_)) => Why::LeadsOut { folder },
            (Some(folder), None) => Why::Unresolvable { folder },
            (None, _) => Why::NotHandedOver,
        }))
    }

    /// Checks every path; the first refused one is the error, with how many others were.
    pub fn check_all<'a>(
        &self,
        paths: impl IntoIterator<Item = &'a Path>,
        via: Via,
    ) -> Result<(), IpcError> {
        let mut refused = paths.into_iter().filter_map(|p| self.check(p, via).err());
        let Some(first) = refused.next() else {
            return Ok(());
        };
        let more = refused.count();
        let mut e = IpcError::from(first);
        if more > 0 {
            e.message = format!("{} ({more} more path(s) refused)", e.message);
        }
        Err(e)
    }

    /// Moves the files of `plan` the page may not have read (a symbolic link in a dropped
    /// folder leading out of it) to its failures, each with the refusal.
    pub fn keep_allowed(&self, plan: &mut Plan, via: Via) {
        let files = std::mem::take(&mut plan.files);
        for f in files {
            match self.check(&f.path, via) {
                Ok(()) => plan.files.push(f),
                Err(r) => plan.failed.push(Failed {
                    path: f.path,
                    error: ErrorInfo {
                        code: ErrorCode::InvalidInput,
                        message: r.to_string(),
                    },
                }),
            }
        }
    }
}

/// The canonical form of an absolute path; for a path that does not exist, the canonical form
/// of its deepest existing folder joined with the names after it. `None` when no folder of it
/// exists or a `..` follows the existing part.
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(real) = path.canonicalize() {
        return Some(real);
    }
    let mut names = Vec::new();
    let mut at = path;
    loop {
        // `file_name` is `None` for a path ending in `..`: nothing to judge it by.
        names.push(at.file_name()?);
        at = at.parent()?;
        if let Ok(mut real) = at.canonicalize() {
            for n in names.iter().rev() {
                real.push(n);
            }
            return Some(real);
        }
    }
}

/// `path` with `.` and `..` applied to its names, without asking the file system.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use assetdrop::upload::PlannedFile;

    /// A folder with `photos/` (two files), `photos-old/` (one), `secret.txt` beside them,
    /// all under a canonical root.
    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical temp dir");
        for (p, text) in [
            ("photos/a.txt", "a"),
            ("photos/sub/b.txt", "b"),
            ("photos-old/c.txt", "c"),
            ("secret.txt", "secret"),
        ] {
            let p = root.join(p);
            fs_err::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs_err::write(&p, text).expect("write");
        }
        (dir, root)
    }

    fn refused(access: &Access, path: &Path) -> Why {
        access
            .check(path, Via::Upload)
            .expect_err(&format!("{} was allowed", path.display()))
            .why
    }

    #[test]
    fn nothing_is_allowed_before_the_user_hands_something_over() {
        let (_dir, root) = tree();
        let access = Access::default();
        for p in ["secret.txt", "photos", "photos/a.txt"] {
            assert_eq!(refused(&access, &root.join(p)), Why::NotHandedOver, "{p}");
        }
        assert_eq!(
            refused(&access, Path::new("/etc/passwd")),
            Why::NotHandedOver
        );
    }

    #[test]
    fn a_folder_allows_itself_and_everything_under_it_and_nothing_beside_it() {
        let (_dir, root) = tree();
        let access = Access::default();
        access.grant(&[root.join("photos")]);
        for p in ["photos", "photos/a.txt", "photos/sub", "photos/sub/b.txt"] {
            assert_eq!(access.check(&root.join(p), Via::Upload), Ok(()), "{p}");
        }
        // A prefix of the name is not a parent folder.
        assert_eq!(
            refused(&access, &root.join("photos-old/c.txt")),
            Why::NotHandedOver
        );
        assert_eq!(
            refused(&access, &root.join("secret.txt")),
            Why::NotHandedOver
        );
        assert_eq!(refused(&access, &root), Why::NotHandedOver, "the parent");
    }

    #[test]
    fn a_file_allows_itself_only() {
        let (_dir, root) = tree();
        let access = Access::default();
        access.grant(&[root.join("photos/a.txt")]);
        assert_eq!(
            access.check(&root.join("photos/a.txt"), Via::Upload),
            Ok(())
        );
        assert_eq!(
            refused(&access, &root.join("photos/sub/b.txt")),
            Why::NotHandedOver
        );
        assert_eq!(refused(&access, &root.join("photos")), Why::NotHandedOver);
    }

    #[test]
    fn paths_are_compared_in_canonical_form() {
        let (_dir, root) = tree();
        let access = Access::default();
        // Granted through `.` and `..`, checked in plain form, and the other way round.
        access.grant(&[root.join("photos-old/../photos/./sub")]);
        assert_eq!(
            access.check(&root.join("photos/sub/b.txt"), Via::Upload),
            Ok(())
        );
        assert_eq!(
            access.check(&root.join("photos/./sub/../sub/b.txt"), Via::Upload),
            Ok(())
        );
        assert_eq!(
            refused(&access, &root.join("photos/a.txt")),
            Why::NotHandedOver
        );
    }

    #[test]
    fn a_dot_dot_that_climbs_out_of_a_folder_is_refused() {
        let (_dir, root) = tree();
        let access = Access::default();
        access.grant(&[root.join("photos")]);
        let escape = root.join("photos/../secret.txt");
        assert_eq!(refused(&access, &escape), Why::NotHandedOver);
        let deep = root.join("photos/sub/../../photos-old/c.txt");
        assert_eq!(refused(&access, &deep), Why::NotHandedOver);
        // Climbing and coming back in stays inside.
        assert_eq!(
            access.check(&root.join("photos/sub/../a.txt"), Via::Upload),
            Ok(())
        );
        // After a folder that does not exist, `..` is not applied but refused.
        let ghost = root.join("photos/missing/../../secret.txt");
        assert_eq!(refused(&access, &ghost), Why::NotHandedOver);
        let ghost_in = root.join("photos/missing/../a.txt");
        assert_eq!(
            refused(&access, &ghost_in),
            Why::Unresolvable {
                folder: root.join("photos")
            }
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_out_of_an_allowed_folder_is_refused_one_inside_it_is_followed() {
        use std::os::unix::fs::symlink;
        let (_dir, root) = tree();
        symlink(root.join("secret.txt"), root.join("photos/leak.txt")).expect("symlink");
        symlink(root.join("photos-old"), root.join("photos/old")).expect("symlink");
        symlink(root.join("photos/a.txt"), root.join("photos/sub/same.txt")).expect("symlink");
        let access = Access::default();
        access.grant(&[root.join("photos")]);
        let inside = || Why::LeadsOut {
            folder: root.join("photos"),
        };
        assert_eq!(refused(&access, &root.join("photos/leak.txt")), inside());
        assert_eq!(refused(&access, &root.join("photos/old/c.txt")), inside());
        assert_eq!(refused(&access, &root.join("photos/old")), inside());
        assert_eq!(
            access.check(&root.join("photos/sub/same.txt"), Via::Upload),
            Ok(())
        );
        let e = access
            .check(&root.join("photos/leak.txt"), Via::Upload)
            .expect_err("leak.txt was allowed")
            .to_string();
        assert!(e.contains("leak.txt"), "{e}");
        assert!(e.contains("symbolic link"), "{e}");
        assert!(e.contains("drop it onto the window"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_dropped_symbolic_link_allows_what_it_points_at() {
        use std::os::unix::fs::symlink;
        let (_dir, root) = tree();
        symlink(root.join("photos-old"), root.join("shortcut")).expect("symlink");
        let access = Access::default();
        access.grant(&[root.join("shortcut")]);
        assert_eq!(
            access.check(&root.join("shortcut/c.txt"), Via::Upload),
            Ok(())
        );
        assert_eq!(
            access.check(&root.join("photos-old/c.txt"), Via::Upload),
            Ok(())
        );
        assert_eq!(
            refused(&access, &root.join("secret.txt")),
            Why::NotHandedOver
        );
    }

    #[test]
    fn a_missing_file_is_judged_by_its_folder() {
        let (_dir, root) = tree();
        let access = Access::default();
        access.grant(&[root.join("photos")]);
        assert_eq!(
            access.check(&root.join("photos/gone/deeper.txt"), Via::Upload),
            Ok(()),
            "the command reports it missing"
        );
        assert_eq!(
            refused(&access, &root.join("elsewhere/gone.txt")),
            Why::NotHandedOver
        );
        // Dropping something that is gone allows nothing.
        access.grant(&[root.join("vanished")]);
        assert_eq!(refused(&access, &root.join("vanished")), Why::NotHandedOver);
    }

    #[test]
    fn relative_paths_are_refused() {
        let (_dir, root) = tree();
        let access = Access::default();
        access.grant(&[root.join("photos")]);
        for p in ["photos/a.txt", "../../etc/passwd", "."] {
            assert_eq!(refused(&access, Path::new(p)), Why::Relative, "{p}");
        }
        // And grant nothing.
        access.grant(&[PathBuf::from(".")]);
        assert_eq!(
            refused(&access, &root.join("secret.txt")),
            Why::NotHandedOver
        );
    }

    #[test]
    fn an_interrupted_uploads_files_are_allowed_until_it_is_discarded() {
        let (_dir, root) = tree();
        let access = Access::default();
        let files = [root.join("photos/a.txt"), root.join("photos/deleted.txt")];
        access.grant_resumable(files.iter().map(PathBuf::as_path));
        for f in &files {
            assert_eq!(access.check(f, Via::Upload), Ok(()), "{}", f.display());
        }
        assert_eq!(
            refused(&access, &root.join("photos/sub/b.txt")),
            Why::NotHandedOver,
            "the files, not their folder"
        );
        access.forget_resumable();
        for f in &files {
            assert_eq!(refused(&access, f), Why::NotHandedOver);
        }
    }

    #[test]
    fn a_refusal_names_the_path_why_and_how_to_hand_it_over() {
        let access = Access::default();
        let e = access
            .check(Path::new("/etc/passwd"), Via::Table)
            .expect_err("allowed");
        let text = e.to_string();
        assert!(text.starts_with("refused /etc/passwd: "), "{text}");
        assert!(text.contains("not dropped onto the window"), "{text}");
        assert!(text.ends_with("“Choose a table…”"), "{text}");
        let ipc = IpcError::from(e);
        assert_eq!(ipc.code, ErrorCode::InvalidInput);
        let all = access
            .check_all(
                [Path::new("/etc/passwd"), Path::new("/etc/shadow")],
                Via::CloudList,
            )
            .expect_err("allowed");
        assert!(all.message.contains("/etc/passwd"), "{}", all.message);
        assert!(all.message.contains("1 more path(s)"), "{}", all.message);
        assert!(
            all.message.contains("Choose a JSON file"),
            "{}",
            all.message
        );
    }

    #[test]
    fn files_of_a_dropped_folder_that_lead_out_of_it_become_failures() {
        let (_dir, root) = tree();
        let access = Access::default();
        access.grant(&[root.join("photos")]);
        let planned = |p: &str| PlannedFile {
            path: root.join(p),
            external_id: p.to_owned(),
            size: 1,
            audio: None,
        };
        let mut plan = Plan {
            files: vec![planned("photos/a.txt"), planned("photos/../secret.txt")],
            ..Plan::default()
        };
        access.keep_allowed(&mut plan, Via::Upload);
        assert_eq!(plan.files, vec![planned("photos/a.txt")]);
        assert_eq!(plan.failed.len(), 1);
        assert_eq!(plan.failed[0].path, root.join("photos/../secret.txt"));
        assert!(
            plan.failed[0].error.message.contains("refused"),
            "{}",
            plan.failed[0].error.message
        );
    }
}
