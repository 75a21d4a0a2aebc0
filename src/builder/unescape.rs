//! Python's `html.unescape`, exactly: the official SDK unescapes a template before parsing it
//! (reference §8.4 item 1), so `&#123;&#123;name&#125;&#125;` is a placeholder there and must be
//! one here. Cell values never pass through this.

use std::borrow::Cow;

use html5ever::data::{C1_REPLACEMENTS, NAMED_ENTITIES};

/// Replaces every character reference in `text` the way Python's `html.unescape` does
/// (HTML5 named references, legacy names without `;`, numeric references with the
/// Windows-1252 fix-ups for 0x80–0x9F).
pub(crate) fn unescape(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        if let Some((replacement, used)) = reference(after) {
            out.push_str(&replacement);
            rest = &after[used..];
        } else {
            out.push('&');
            rest = after;
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Decodes the reference that starts right after an `&`: the replacement text and how many
/// bytes of `after` it used, or `None` when Python's pattern does not match at all.
fn reference(after: &str) -> Option<(String, usize)> {
    let bytes = after.as_bytes();
    if bytes.first() == Some(&b'#') {
        return numeric(after);
    }
    // `[^\t\n\f <&#;]{1,32};?`
    let mut end = 0;
    for (count, (i, c)) in after.char_indices().enumerate() {
        if count == 32 || matches!(c, '\t' | '\n' | '\u{c}' | ' ' | '<' | '&' | '#' | ';') {
            break;
        }
        end = i + c.len_utf8();
    }
    if end == 0 {
        return None;
    }
    let name_end = if after[end..].starts_with(';') {
        end + 1
    } else {
        end
    };
    let name = &after[..name_end];
    if let Some(text) = entity(name) {
        return Some((text, name_end));
    }
    // Python: the longest prefix (of at least two characters) that is an entity, then the rest
    // unchanged.
    let boundaries: Vec<usize> = name.char_indices().map(|(i, _)| i).skip(2).collect();
    for &cut in boundaries.iter().rev() {
        if let Some(text) = entity(&name[..cut]) {
            return Some((text + &name[cut..], name_end));
        }
    }
    Some((format!("&{name}"), name_end))
}

fn entity(name: &str) -> Option<String> {
    let &(first, second) = NAMED_ENTITIES.get(name)?;
    if first == 0 {
        // A prefix html5ever keeps for its own matching, not an entity.
        return None;
    }
    let mut text = String::new();
    text.push(char::from_u32(first)?);
    if second != 0 {
        text.push(char::from_u32(second)?);
    }
    Some(text)
}

fn numeric(after: &str) -> Option<(String, usize)> {
    let bytes = after.as_bytes();
    let (radix, start) = match bytes.get(1) {
        Some(b'x' | b'X') => (16, 2),
        _ => (10, 1),
    };
    let digits = bytes[start..]
        .iter()
        .take_while(|b| {
            if radix == 16 {
                b.is_ascii_hexdigit()
            } else {
                b.is_ascii_digit()
            }
        })
        .count();
    if digits == 0 {
        return None;
    }
    let mut used = start + digits;
    if bytes.get(used) == Some(&b';') {
        used += 1;
    }
    // Saturate: Python's int is unbounded, and anything above 0x10FFFF becomes U+FFFD anyway.
    let number = bytes[start..start + digits].iter().fold(0u32, |acc, &b| {
        let digit = (b as char).to_digit(radix).unwrap_or(0);
        acc.saturating_mul(radix).saturating_add(digit)
    });
    Some((numeric_text(number), used))
}

fn numeric_text(number: u32) -> String {
    match number {
        0x00 => return "\u{fffd}".to_owned(),
        0x0d => return "\r".to_owned(),
        0x80..=0x9f => {
            let fixed = C1_REPLACEMENTS[(number - 0x80) as usize];
            return fixed
                .or_else(|| char::from_u32(number))
                .map(String::from)
                .unwrap_or_default();
        }
        _ => {}
    }
    if (0xd800..=0xdfff).contains(&number) || number > 0x0010_ffff {
        return "\u{fffd}".to_owned();
    }
    let invalid = matches!(number, 0x01..=0x08 | 0x0b | 0x0e..=0x1f | 0x7f..=0x9f | 0xfdd0..=0xfdef)
        || (number & 0xfffe) == 0xfffe;
    if invalid {
        return String::new();
    }
    char::from_u32(number).map(String::from).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn matches_python() {
        // Expected values produced by CPython 3.11 `html.unescape`.
        let cases = [
            ("a &amp; b", "a & b"),
            ("&lt;p&gt;", "<p>"),
            ("&#123;&#123;name&#125;&#125;", "{{name}}"),
            ("&#x7B;&#X7b;x}}", "{{x}}"),
            ("&ampx", "&x"),
            ("&amp;x", "&x"),
            ("&notit;", "¬it;"),
            ("&nosuch;", "&nosuch;"),
            ("&", "&"),
            ("& b", "& b"),
            ("&#;", "&#;"),
            ("&#x;", "&#x;"),
            ("&#128;", "€"),
            ("&#0;", "\u{fffd}"),
            ("&#1;", ""),
            ("&#xd800;", "\u{fffd}"),
            ("&#99999999999999;", "\u{fffd}"),
            ("&#65", "A"),
            ("&quot;&apos;", "\"'"),
            ("&NotEqualTilde;", "\u{2242}\u{338}"),
            ("&copy2024", "©2024"),
            ("caf&eacute;", "café"),
            ("&#x1F600;", "😀"),
        ];
        for (input, expected) in cases {
            assert_eq!(unescape(input), expected, "{input}");
        }
    }
}
