//! The URL rules of reference §4.3: absolute `http(s)`, percent-encoded UTF-8, a space as
//! `%20` and never `+`. Fixes are computed here, once, so that the message, the [`Fix`] and
//! [`fix_url`] always agree.
//!
//! [`Fix`]: super::Fix

use std::borrow::Cow;
use std::fmt::Write as _;

use super::ProblemCode;
use crate::media::{Format, Kind};

/// What a `+` in a URL's path stands for when fixing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Plus {
    /// A plus sign: leave it (a `+` in a path is a plus to every server).
    #[default]
    Keep,
    /// A space written the form-encoding way: make it `%20`, as Ango requires.
    Space,
}

/// The URL percent-encoded as reference §4.3 asks — spaces, non-ASCII characters (as UTF-8),
/// quotes, braces and stray `%` escaped, surrounding whitespace trimmed, an international host
/// name in its ASCII form — or `None` when it needs nothing. Escapes already there are kept.
///
/// ```
/// use assetdrop::cloud::{fix_url, Plus};
/// assert_eq!(fix_url("https://h/my cat é.jpg", Plus::Keep).as_deref(), Some("https://h/my%20cat%20%C3%A9.jpg"));
/// assert_eq!(fix_url("https://h/a+b.jpg", Plus::Space).as_deref(), Some("https://h/a%20b.jpg"));
/// assert_eq!(fix_url("https://h/a%20b.jpg", Plus::Keep), None);
/// ```
pub fn fix_url(url: &str, plus: Plus) -> Option<String> {
    match encode(url, plus) {
        Cow::Borrowed(_) => None,
        Cow::Owned(s) => (s != url).then_some(s),
    }
}

/// The asset kind a URL's extension names (`.jpg` → image, `.nii.gz` → `NIfTI`), ignoring the
/// query and fragment; `None` for no or an unknown extension.
pub fn expected_kind(url: &str) -> Option<Kind> {
    let path = path_of(url).to_ascii_lowercase();
    let name = path.rsplit('/').next().unwrap_or(&path);
    if name.ends_with(".nii.gz") {
        return Some(Kind::Nifti);
    }
    let (_, ext) = name.rsplit_once('.')?;
    Format::from_extension(ext).map(Format::kind)
}

/// The format a URL's extension names, for the few checks that need more than the kind.
pub(crate) fn expected_format(url: &str) -> Option<Format> {
    let path = path_of(url).to_ascii_lowercase();
    let name = path.rsplit('/').next().unwrap_or(&path);
    if name.ends_with(".nii.gz") {
        return Some(Format::Niigz);
    }
    Format::from_extension(name.rsplit_once('.')?.1)
}

/// One thing wrong with a URL, before it is placed in a file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Issue {
    pub code: ProblemCode,
    pub error: bool,
    /// Reads after the field name: "is not percent-encoded: ...".
    pub message: String,
    pub fix: Option<String>,
}

/// What a `data` text is, by its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `http://` or `https://`.
    Url,
    /// Markdown or HTML content.
    Inline,
    /// Looks like a file path or host without a scheme.
    Relative,
    /// Another scheme: `s3://`, `file:`, `data:`...
    OtherScheme(String),
}

/// Tells a URL from inline content. Markdown may well start with `Note:`, so only a scheme
/// followed by `//`, or one of a few schemes that never start prose, counts as a URL.
pub(crate) fn shape(text: &str) -> Shape {
    let t = text.trim();
    if t.starts_with('<') {
        return Shape::Inline;
    }
    if let Some(scheme) = scheme_of(t) {
        let lower = scheme.to_ascii_lowercase();
        let rest = &t[scheme.len() + 1..];
        if rest.starts_with("//") {
            return if lower == "http" || lower == "https" {
                Shape::Url
            } else {
                Shape::OtherScheme(lower)
            };
        }
        if matches!(
            lower.as_str(),
            "data" | "javascript" | "vbscript" | "file" | "blob" | "mailto"
        ) {
            return Shape::OtherScheme(lower);
        }
    }
    let one_line = !t.contains('\n');
    let pathish = t.starts_with("www.")
        || t.starts_with('/')
        || t.starts_with("./")
        || t.starts_with("../")
        || expected_kind(t).is_some()
        || (!t.contains(char::is_whitespace) && t.contains('/'));
    if one_line && pathish {
        Shape::Relative
    } else {
        Shape::Inline
    }
}

/// Whether the text starts with `scheme://`.
pub(crate) fn looks_absolute(text: &str) -> bool {
    scheme_of(text.trim()).is_some_and(|s| text.trim()[s.len() + 1..].starts_with("//"))
}

/// The checks for a URL the hub will fetch. Returns the URL to keep (fixed when `fix` is set and
/// the only errors were encoding) and the issues found; an error issue means "do not import".
pub(crate) fn check(url: &str, fix: bool) -> (String, Vec<Issue>) {
    let mut issues = Vec::new();
    match shape(url) {
        Shape::Url => {}
        Shape::OtherScheme(scheme) => {
            issues.push(Issue {
                code: ProblemCode::UnsupportedScheme,
                error: true,
                message: unsupported_scheme(&scheme, url),
                fix: None,
            });
            return (url.to_owned(), issues);
        }
        Shape::Inline => {
            issues.push(Issue {
                code: ProblemCode::BadUrl,
                error: true,
                message: format!(
                    "is not a URL: {}; give the file's full address, e.g. https://host/folder/file.jpg",
                    quoted(url)
                ),
                fix: None,
            });
            return (url.to_owned(), issues);
        }
        Shape::Relative => {
            let t = url.trim();
            let guess = if t.starts_with("www.") {
                format!("https://{t}")
            } else {
                format!(
                    "https://HOST/{}",
                    t.trim_start_matches("./").trim_start_matches('/')
                )
            };
            issues.push(Issue {
                code: ProblemCode::BadUrl,
                error: true,
                message: format!(
                    "is not an absolute URL: {} has no `https://` (the hub cannot tell which server it is on); write the full address, e.g. {}",
                    quoted(url),
                    shown(&guess)
                ),
                fix: None,
            });
            return (url.to_owned(), issues);
        }
    }
    let mut kept = url.to_owned();
    if let Some(fixed) = fix_url(url, Plus::Keep) {
        let what = unencoded_part(url);
        if fix {
            issues.push(Issue {
                code: ProblemCode::UrlNotEncoded,
                error: false,
                message: format!(
                    "was not percent-encoded ({what}); it is imported as {}",
                    shown(&fixed)
                ),
                fix: Some(fixed.clone()),
            });
            kept.clone_from(&fixed);
        } else {
            issues.push(Issue {
                code: ProblemCode::UrlNotEncoded,
                error: true,
                message: format!(
                    "is not percent-encoded: it has {what}; URLs must be percent-encoded UTF-8 (a space is %20). Use {}",
                    shown(&fixed)
                ),
                fix: Some(fixed.clone()),
            });
        }
    }
    // The rest judges the URL as it will be sent, so one problem is not reported twice.
    let target = if fix {
        kept.clone()
    } else {
        encode(url, Plus::Keep).into_owned()
    };
    if path_of(&target).contains('+') {
        let spaced = fix_url(&target, Plus::Space).unwrap_or_else(|| target.clone());
        issues.push(Issue {
            code: ProblemCode::UrlPlus,
            error: false,
            message: format!(
                "has `+` in its path, which is a plus sign, not a space: if the file's name has spaces write %20 ({}); if it really has a plus sign, write %2B to be clear",
                shown(&spaced)
            ),
            fix: Some(spaced),
        });
    }
    if let Some(utf8) = latin1_to_utf8(&target) {
        issues.push(Issue {
            code: ProblemCode::UrlNotUtf8,
            error: false,
            message: format!(
                "has percent-escapes that are not UTF-8 (Latin-1, perhaps); URLs must be percent-encoded UTF-8. If the server stores the name as UTF-8, use {}",
                shown(&utf8)
            ),
            fix: Some(utf8),
        });
    }
    if authority_of(&target).is_some_and(str::is_empty) {
        issues.push(bad_url(url, "it has no host after `//`"));
        return (kept, issues);
    }
    match url::Url::parse(&target) {
        Ok(parsed) => {
            if parsed.host_str().is_none_or(str::is_empty) {
                issues.push(bad_url(url, "it has no host"));
            } else if !parsed.username().is_empty() || parsed.password().is_some() {
                issues.push(Issue {
                    code: ProblemCode::UrlHasCredentials,
                    error: false,
                    message: "has a user name or password in it, which would be stored with the asset and shown to everyone who sees it; use a storage integration (`storage`) or a signed URL instead".to_owned(),
                    fix: None,
                });
            }
        }
        Err(e) => issues.push(bad_url(url, &e.to_string())),
    }
    (kept, issues)
}

fn bad_url(url: &str, why: &str) -> Issue {
    Issue {
        code: ProblemCode::BadUrl,
        error: true,
        message: format!("is not a valid URL ({why}): {}", quoted(url)),
        fix: None,
    }
}

fn unsupported_scheme(scheme: &str, url: &str) -> String {
    let hint = match scheme {
        "s3" => "for an S3 object use its https address (https://BUCKET.s3.REGION.amazonaws.com/KEY) and give the storage integration in `storage`",
        "gs" | "gcs" => "for a GCS object use https://storage.googleapis.com/BUCKET/OBJECT and give the storage integration in `storage`",
        "az" | "azure" | "abfs" | "abfss" | "wasb" | "wasbs" => "for an Azure blob use https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB and give the storage integration in `storage`",
        "file" => "local files are not fetched by the hub: upload them with `assetdrop upload` instead",
        "data" => "put markdown/HTML content directly in `data`; upload other files with `assetdrop upload`",
        "ftp" | "sftp" => "serve the file over https, or upload it with `assetdrop upload`",
        _ => "the hub fetches only http and https URLs",
    };
    format!(
        "uses `{scheme}:`, which the hub cannot fetch ({}); {hint}",
        quoted(url)
    )
}

/// The scheme (before `:`) when the text starts with one.
fn scheme_of(s: &str) -> Option<&str> {
    let end = s.find(':')?;
    let scheme = &s[..end];
    let mut chars = scheme.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then_some(scheme)
}

/// The authority (`user@host:port`) of an absolute URL.
fn authority_of(url: &str) -> Option<&str> {
    let scheme = scheme_of(url)?;
    let after = url[scheme.len() + 1..].strip_prefix("//")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    Some(&after[..end])
}

/// The path of a URL (or of a relative reference): after the authority, before `?` and `#`.
fn path_of(url: &str) -> &str {
    let rest = match url.find("://") {
        Some(i) if scheme_of(url).is_some_and(|s| s.len() == i) => {
            let after = &url[i + 3..];
            let auth_end = after.find(['/', '?', '#']).unwrap_or(after.len());
            &after[auth_end..]
        }
        _ => url,
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// ASCII that may stand in a URL as it is. `[`/`]` are left alone: they are common in paths and
/// harmless to every server the hub talks to.
fn is_clean(b: u8) -> bool {
    b.is_ascii_graphic()
        && !matches!(
            b,
            b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
        )
}

fn is_escape(bytes: &[u8], i: usize) -> bool {
    bytes.len() > i + 2 && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit()
}

fn needs_encoding(url: &str, plus: Plus) -> bool {
    let bytes = url.as_bytes();
    url.trim().len() != url.len()
        || bytes
            .iter()
            .enumerate()
            .any(|(i, &b)| !is_clean(b) || (b == b'%' && !is_escape(bytes, i)))
        || url.matches('#').count() > 1
        || (plus == Plus::Space && path_of(url).contains('+'))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Path,
    Query,
    Fragment,
}

fn push_escaped(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    for b in c.encode_utf8(&mut buf).bytes() {
        // Writing to a String cannot fail.
        let _ = write!(out, "%{b:02X}");
    }
}

fn encode(url: &str, plus: Plus) -> Cow<'_, str> {
    if !needs_encoding(url, plus) {
        return Cow::Borrowed(url);
    }
    let s = url.trim();
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    if let Some(scheme) = scheme_of(s) {
        if s[scheme.len() + 1..].starts_with("//") {
            let after = &s[scheme.len() + 3..];
            let auth_end = after.find(['/', '?', '#']).unwrap_or(after.len());
            out.push_str(&s[..scheme.len() + 3]);
            out.push_str(&ascii_authority(&after[..auth_end]));
            rest = &after[auth_end..];
        }
    }
    let bytes = rest.as_bytes();
    let mut part = Part::Path;
    for (i, c) in rest.char_indices() {
        match c {
            '%' if is_escape(bytes, i) => out.push('%'),
            '%' => out.push_str("%25"),
            '?' if part == Part::Path => {
                part = Part::Query;
                out.push('?');
            }
            '#' if part != Part::Fragment => {
                part = Part::Fragment;
                out.push('#');
            }
            '#' => out.push_str("%23"),
            '+' if part == Part::Path && plus == Plus::Space => out.push_str("%20"),
            c if c.is_ascii() && is_clean(c as u8) => out.push(c),
            c => push_escaped(&mut out, c),
        }
    }
    Cow::Owned(out)
}

/// `user:pass@host:port` with a non-ASCII host in its IDNA (punycode) form and the user info
/// escaped; an ASCII authority is returned as it is.
fn ascii_authority(auth: &str) -> Cow<'_, str> {
    if auth.is_ascii() {
        return Cow::Borrowed(auth);
    }
    let (user, host_port) = match auth.rfind('@') {
        Some(i) => (Some(&auth[..i]), &auth[i + 1..]),
        None => (None, auth),
    };
    let (host, port) = match host_port.rfind(':') {
        Some(i)
            if !host_port.starts_with('[')
                && host_port[i + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            (&host_port[..i], &host_port[i..])
        }
        _ => (host_port, ""),
    };
    let mut out = String::new();
    if let Some(user) = user {
        for c in user.chars() {
            if c.is_ascii() && is_clean(c as u8) {
                out.push(c);
            } else {
                push_escaped(&mut out, c);
            }
        }
        out.push('@');
    }
    match url::Host::parse(host) {
        Ok(h) => out.push_str(&h.to_string()),
        // Left as it is: URL parsing then reports the bad host.
        Err(_) => out.push_str(host),
    }
    out.push_str(port);
    Cow::Owned(out)
}

/// What makes the URL unencoded, for the message: the first offending thing.
fn unencoded_part(url: &str) -> String {
    if url.trim().len() != url.len() {
        return "spaces at its start or end".to_owned();
    }
    let bytes = url.as_bytes();
    for (i, c) in url.char_indices() {
        let what = match c {
            ' ' => "a space".to_owned(),
            '%' if !is_escape(bytes, i) => {
                "a `%` that does not start an escape like %20 (write %25 for a percent sign)"
                    .to_owned()
            }
            c if c.is_ascii_control() || (!c.is_ascii() && c.is_whitespace()) => {
                format!("a control or whitespace character (U+{:04X})", c as u32)
            }
            c if !c.is_ascii() => format!("`{c}`, which is not ASCII"),
            c if !is_clean(c as u8) => format!("the character `{c}`"),
            _ => continue,
        };
        return what;
    }
    "a second `#`".to_owned()
}

/// Re-encodes percent-escapes that are not UTF-8 as if they were Latin-1 (the usual cause);
/// `None` when every escaped run is UTF-8.
fn latin1_to_utf8(url: &str) -> Option<String> {
    let bytes = url.as_bytes();
    if !bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'%' && is_escape(bytes, i) && bytes[i + 1] >= b'8')
    {
        return None;
    }
    let mut out = String::with_capacity(url.len() + 8);
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && is_escape(bytes, i) {
            let start = i;
            let mut run = Vec::new();
            while i < bytes.len() && bytes[i] == b'%' && is_escape(bytes, i) {
                run.push(hex(bytes[i + 1]) << 4 | hex(bytes[i + 2]));
                i += 3;
            }
            if std::str::from_utf8(&run).is_ok() {
                out.push_str(&url[start..i]);
                continue;
            }
            for chunk in run.utf8_chunks() {
                for b in chunk.valid().bytes() {
                    let _ = write!(out, "%{b:02X}");
                }
                for &b in chunk.invalid() {
                    push_escaped(&mut out, char::from(b));
                    changed = true;
                }
            }
        } else {
            let c = url[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(c);
            i += c.len_utf8();
        }
    }
    changed.then_some(out)
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// Query parameters that carry a signature or a secret.
const SECRET_PARAMS: [&str; 9] = [
    "signature",
    "sig=",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-credential",
    "token",
    "apikey",
    "api_key",
    "key=",
];

/// A URL as it may appear in a message or a log: user info and signed query strings redacted,
/// and cut short when very long. The full URL only ever travels in a [`super::Fix`].
pub(crate) fn shown(url: &str) -> String {
    const MAX: usize = 300;
    let mut s = url.to_owned();
    if let Some(i) = s.find("://") {
        let auth_end = s[i + 3..]
            .find(['/', '?', '#'])
            .map_or(s.len(), |e| i + 3 + e);
        if let Some(at) = s[i + 3..auth_end].rfind('@') {
            s.replace_range(i + 3..i + 3 + at, "***");
        }
    }
    if let Some(q) = s.find('?') {
        let end = s[q..].find('#').map_or(s.len(), |e| q + e);
        let lower = s[q..end].to_ascii_lowercase();
        if SECRET_PARAMS.iter().any(|p| lower.contains(p)) {
            s.replace_range(q + 1..end, "<redacted>");
        }
    }
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        return format!("{cut}…");
    }
    s
}

/// Text quoted for a message, shortened when long, never multi-line.
pub(crate) fn quoted(text: &str) -> String {
    const MAX: usize = 120;
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX + 1)
        .collect();
    if flat.chars().count() > MAX {
        let cut: String = flat.chars().take(MAX).collect();
        format!("\"{cut}…\"")
    } else {
        format!("\"{flat}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(url: &str, fix: bool) -> Vec<(ProblemCode, bool)> {
        check(url, fix)
            .1
            .into_iter()
            .map(|i| (i.code, i.error))
            .collect()
    }

    #[test]
    fn clean_urls_pass_without_allocating_a_fix() {
        for u in [
            "https://host/img/cat.jpg",
            "http://host:8080/a%20b.png?x=1&y=a+b#frag",
            "https://bucket.s3.eu-central-1.amazonaws.com/file%202.jpg",
            "https://h/%C3%A9t%C3%A9.jpg",
            "https://[::1]:9000/a.jpg",
        ] {
            assert!(fix_url(u, Plus::Keep).is_none(), "{u}");
            assert_eq!(codes(u, false), [], "{u}");
        }
    }

    #[test]
    fn encoding_fixes() {
        let cases = [
            ("https://h/my cat.jpg", "https://h/my%20cat.jpg"),
            (" https://h/a.jpg\n", "https://h/a.jpg"),
            ("https://h/été.jpg", "https://h/%C3%A9t%C3%A9.jpg"),
            ("https://h/50%off.jpg", "https://h/50%25off.jpg"),
            ("https://h/a\"b{c}|d.jpg", "https://h/a%22b%7Bc%7D%7Cd.jpg"),
            ("https://h/a.jpg?q=a b#x#y", "https://h/a.jpg?q=a%20b#x%23y"),
            (
                "https://bücher.de/a b.jpg",
                "https://xn--bcher-kva.de/a%20b.jpg",
            ),
        ];
        for (bad, good) in cases {
            assert_eq!(fix_url(bad, Plus::Keep).as_deref(), Some(good), "{bad}");
            assert_eq!(fix_url(good, Plus::Keep), None, "{good}");
        }
        // `+` only in the path, and only when asked: a `+` in a query is form-encoding's space.
        assert_eq!(
            fix_url("https://h/a+b.jpg?q=c+d", Plus::Space).as_deref(),
            Some("https://h/a%20b.jpg?q=c+d")
        );
        assert_eq!(fix_url("https://h/a+b.jpg", Plus::Keep), None);
    }

    #[test]
    fn issues_name_the_problem_and_the_fix() {
        let (kept, issues) = check("https://h/my cat.jpg", false);
        assert_eq!(kept, "https://h/my cat.jpg");
        assert_eq!(issues.len(), 1);
        assert!(issues[0].error);
        assert!(
            issues[0].message.contains("a space"),
            "{}",
            issues[0].message
        );
        assert!(issues[0].message.contains("https://h/my%20cat.jpg"));
        assert_eq!(issues[0].fix.as_deref(), Some("https://h/my%20cat.jpg"));
        // With fixing on, the fixed URL is kept and the issue is a warning.
        let (kept, issues) = check("https://h/my cat.jpg", true);
        assert_eq!(kept, "https://h/my%20cat.jpg");
        assert!(!issues[0].error);

        assert_eq!(
            codes("https://h/a+b.jpg", false),
            [(ProblemCode::UrlPlus, false)]
        );
        assert_eq!(
            check("https://h/caf%E9.jpg", false).1[0].fix.as_deref(),
            Some("https://h/caf%C3%A9.jpg")
        );
        assert_eq!(
            codes("https://user:pw@h/a.jpg", false),
            [(ProblemCode::UrlHasCredentials, false)]
        );
        assert_eq!(
            codes("s3://bucket/key.jpg", false),
            [(ProblemCode::UnsupportedScheme, true)]
        );
        assert_eq!(
            codes("data:image/png;base64,AAAA", false),
            [(ProblemCode::UnsupportedScheme, true)]
        );
        assert_eq!(
            codes("images/cat.jpg", false),
            [(ProblemCode::BadUrl, true)]
        );
        assert_eq!(
            codes("https:///cat.jpg", false),
            [(ProblemCode::BadUrl, true)]
        );
        assert_eq!(
            codes("https://h:99999/cat.jpg", false),
            [(ProblemCode::BadUrl, true)]
        );
    }

    #[test]
    fn shapes() {
        assert_eq!(shape("https://h/a.jpg"), Shape::Url);
        assert_eq!(shape("HTTP://h/a.jpg"), Shape::Url);
        assert_eq!(shape("<p>hi</p>"), Shape::Inline);
        assert_eq!(shape("# Title\n\nNote: text"), Shape::Inline);
        assert_eq!(shape("Note: this is markdown"), Shape::Inline);
        assert_eq!(shape("**bold**"), Shape::Inline);
        assert_eq!(shape("www.host.com/a.jpg"), Shape::Relative);
        assert_eq!(shape("images/my cat.jpg"), Shape::Relative);
        assert_eq!(shape("my-storage/scenes/001"), Shape::Relative);
        assert_eq!(shape("gs://b/o.png"), Shape::OtherScheme("gs".into()));
        assert_eq!(
            shape("file:///tmp/a.png"),
            Shape::OtherScheme("file".into())
        );
    }

    #[test]
    fn kinds_from_extensions() {
        assert_eq!(expected_kind("https://h/a.JPG?x=1.mp4"), Some(Kind::Image));
        assert_eq!(expected_kind("https://h/v/a.mp4#t=1"), Some(Kind::Video));
        assert_eq!(expected_kind("https://h/brain.nii.gz"), Some(Kind::Nifti));
        assert_eq!(expected_kind("https://h/dir.d/file"), None);
        assert_eq!(expected_kind("https://h.com"), None);
    }

    #[test]
    fn shown_redacts_secrets_only() {
        assert_eq!(shown("https://h/a.jpg?w=1"), "https://h/a.jpg?w=1");
        assert_eq!(
            shown("https://h/a.jpg?X-Amz-Signature=abc&X-Amz-Credential=k#f"),
            "https://h/a.jpg?<redacted>#f"
        );
        assert_eq!(shown("https://u:p@h/a.jpg"), "https://***@h/a.jpg");
        assert!(shown(&format!("https://h/{}", "a".repeat(1000))).ends_with('…'));
    }
}
