//! [`JwtError`]: every failure of key parsing and token verification.

use std::fmt;

/// What kind of failure a [`JwtError`] is; each kind maps to one SQLSTATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JwtErrorKind {
    /// The token failed a verification or validation check (bad format,
    /// algorithm, key choice, signature, `exp`, `nbf`, `aud`, `iss`, …).
    /// SQLSTATE `28000` (invalid_authorization_specification).
    Invalid,
    /// The key text looks like a PEM key, a JWK or a JWKS but does not parse,
    /// or holds nothing usable for verification (an empty secret, a private
    /// key, a certificate, an unsupported curve, …).
    /// SQLSTATE `22023` (invalid_parameter_value).
    MalformedKey,
}

impl JwtErrorKind {
    /// The SQLSTATE the SQL layer raises for this kind.
    pub fn sqlstate(self) -> &'static str {
        match self {
            JwtErrorKind::Invalid => "28000",
            JwtErrorKind::MalformedKey => "22023",
        }
    }

    /// `"Invalid"` or `"MalformedKey"`.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtErrorKind::Invalid => "Invalid",
            JwtErrorKind::MalformedKey => "MalformedKey",
        }
    }
}

impl fmt::Display for JwtErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed key parse or token verification.
///
/// `message` names the failing check precisely ("JWT expired 312 s ago",
/// "JWT signature does not match", "JWK RSA key has no 'n'", …). Values taken
/// from the token or key are quoted, stripped of control characters and
/// shortened (see [`quote`]), so a hostile token cannot flood a log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtError {
    pub kind: JwtErrorKind,
    pub message: String,
}

impl JwtError {
    /// A [`JwtErrorKind::Invalid`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        JwtError {
            kind: JwtErrorKind::Invalid,
            message: message.into(),
        }
    }

    /// A [`JwtErrorKind::MalformedKey`] error.
    pub fn malformed_key(message: impl Into<String>) -> Self {
        JwtError {
            kind: JwtErrorKind::MalformedKey,
            message: message.into(),
        }
    }

    /// Shorthand for `self.kind.sqlstate()`.
    pub fn sqlstate(&self) -> &'static str {
        self.kind.sqlstate()
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JwtError {}

/// Longest quoted value (in characters) put into an error message.
const QUOTE_MAX_CHARS: usize = 64;

/// `'value'` for an error message: see [`clean`].
pub fn quote(value: &str) -> String {
    format!("'{}'", clean(value))
}

/// A value from a token or key made fit for an error message: control
/// characters become `?`, and values longer than 64 characters are cut with `…`.
pub fn clean(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(QUOTE_MAX_CHARS * 4));
    for (n, c) in value.chars().enumerate() {
        if n == QUOTE_MAX_CHARS {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}

/// Joins at most `max` items with `", "`, adding `", …"` if there were more.
pub(crate) fn join_limited<I: IntoIterator<Item = String>>(items: I, max: usize) -> String {
    let mut out = String::new();
    for (n, item) in items.into_iter().enumerate() {
        if n == max {
            out.push_str(", …");
            break;
        }
        if n > 0 {
            out.push_str(", ");
        }
        out.push_str(&item);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_sanitises_and_truncates() {
        assert_eq!(quote("abc"), "'abc'");
        assert_eq!(quote("a\nb\u{0}"), "'a?b?'");
        let long = "x".repeat(200);
        let q = quote(&long);
        assert_eq!(q.chars().count(), 64 + 3);
        assert!(q.ends_with("…'"));
    }

    #[test]
    fn join_limited_cuts() {
        let items = (0..5).map(|n| n.to_string());
        assert_eq!(join_limited(items, 3), "0, 1, 2, …");
        assert_eq!(join_limited(Vec::<String>::new(), 3), "");
    }

    #[test]
    fn kinds_map_to_sqlstates() {
        assert_eq!(JwtError::invalid("x").sqlstate(), "28000");
        assert_eq!(JwtError::malformed_key("x").sqlstate(), "22023");
        assert_eq!(JwtErrorKind::MalformedKey.to_string(), "MalformedKey");
    }
}
