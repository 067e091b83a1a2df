//! SQL text the extension writes for statements it runs (`src/citus.rs`).

/// `value` as an SQL string literal: `'…'` with quotes doubled, or `E'…'`
/// with backslashes doubled too when it has any, so that it reads back as the
/// same bytes whatever `standard_conforming_strings` says. Works on bytes (a
/// value in the server encoding; every server encoding keeps `'` and `\` as
/// the single bytes they are in ASCII, never inside a multibyte character).
pub fn literal(value: &[u8]) -> Vec<u8> {
    let backslash = value.contains(&b'\\');
    let mut out = Vec::with_capacity(value.len() + 4);
    if backslash {
        out.push(b'E');
    }
    out.push(b'\'');
    for &b in value {
        match b {
            b'\'' => out.extend_from_slice(b"''"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
    out.push(b'\'');
    out
}

#[cfg(test)]
mod tests {
    use super::literal;

    #[test]
    fn literals() {
        assert_eq!(literal(b"{}"), b"'{}'");
        assert_eq!(literal(b""), b"''");
        assert_eq!(literal(b"O'Brien"), b"'O''Brien'");
        assert_eq!(literal(br#"{"a":"\"q\\"}"#), br#"E'{"a":"\\"q\\\\"}'"#);
        assert_eq!(literal("é'".as_bytes()), "'é'''".as_bytes());
    }
}
