//! [`auth_provider`]: which identity provider minted a set of claims.

use serde_json::Value;

/// The identity provider that minted `claims`: `"clerk"`, `"auth0"`,
/// `"workos"`, `"kinde"`, `"stytch"`, `"better_auth"`, `"insforge"`, or None.
///
/// The issuer decides first, when it clearly names a provider; otherwise the
/// shape of a string `sub` does. This is a classification for settings such
/// as `insforge_integrations.jwt_providers`, not an authentication: it trusts the claims.
///
/// **By issuer** (`iss` is a string; the host is read from `https://host/…`
/// or a scheme-less `host/…`, ignoring case, port and path):
///
/// | provider | `iss` |
/// |---|---|
/// | `clerk` | `https://<instance>.clerk.accounts.dev`, or a custom `https://clerk.<domain>` (host starts with `clerk.` and has at least 3 labels) |
/// | `auth0` | `https://<tenant>.auth0.com/`, regional `https://<tenant>.<region>.auth0.com/` |
/// | `workos` | host `api.workos.com` or any `*.workos.com` (e.g. `https://api.workos.com/user_management/client_…`) |
/// | `kinde` | `https://<business>.kinde.com` |
/// | `stytch` | `stytch.com/<project_id>`, `https://stytch.com/…`, or any `*.stytch.com` |
/// | `insforge` | exactly `insforge` (InsForge's own tokens) |
///
/// **By `sub` shape** (when the issuer names no provider; a non-string `sub`
/// gives None):
///
/// | provider | `sub` | example |
/// |---|---|---|
/// | `clerk` | `user_` + 27 base62 (`[A-Za-z0-9]`) | `user_2NNEqL2nrIRdJ194ndJqAHwEfxC` |
/// | `workos` | `user_` + 26-character ULID (Crockford base32, upper case, first character `0`–`7`) | `user_01E4ZCR3C56J083X43JQXF3JK5` |
/// | `kinde` | `kp_` + 32 hex digits | `kp_c3143a4b50ad43c88e541d9077681782` |
/// | `stytch` | `user-test-` or `user-live-` + UUID | `user-test-16d9ba61-97a1-4ba4-9720-b03761dc50c6` |
/// | `auth0` | `<connection>\|<id>`: connection 1–64 of `[A-Za-z0-9_.-]`, id non-empty without whitespace (`auth0\|` + 24 hex for database users; `google-oauth2\|<digits>`, `github\|<digits>`, `samlp\|…` for others) | `auth0\|507f1f77bcf86cd799439011` |
/// | `better_auth` | exactly 32 `[A-Za-z0-9]` | `x3Jp0TqV8mKf2LwZ9rYb7nHc4dGs1aEu` |
/// | `insforge` | UUID (`8-4-4-4-12` hex digits, any case) | `550e8400-e29b-41d4-a716-446655440000` |
///
/// The `sub` shapes are mutually exclusive, so their order does not matter.
pub fn auth_provider(claims: &Value) -> Option<&'static str> {
    let obj = claims.as_object()?;
    if let Some(Value::String(iss)) = obj.get("iss") {
        if let Some(p) = provider_from_issuer(iss) {
            return Some(p);
        }
    }
    match obj.get("sub") {
        Some(Value::String(sub)) => provider_from_sub(sub),
        _ => None,
    }
}

fn provider_from_issuer(iss: &str) -> Option<&'static str> {
    if iss.eq_ignore_ascii_case("insforge") {
        return Some("insforge");
    }
    let host = issuer_host(iss)?;
    let labels = host.split('.').count();
    let under = |suffix: &str| host.len() > suffix.len() && host.ends_with(suffix);
    if under(".clerk.accounts.dev") || (host.starts_with("clerk.") && labels >= 3) {
        Some("clerk")
    } else if under(".auth0.com") {
        Some("auth0")
    } else if under(".workos.com") {
        Some("workos")
    } else if under(".kinde.com") {
        Some("kinde")
    } else if host == "stytch.com" || under(".stytch.com") {
        Some("stytch")
    } else {
        None
    }
}

/// The lower-cased host of `https://host[:port]/…` or `host/…`; None for
/// other schemes, user info, or empty labels.
fn issuer_host(iss: &str) -> Option<String> {
    let rest = match iss.get(..8) {
        Some(scheme) if scheme.eq_ignore_ascii_case("https://") => iss.get(8..)?,
        _ if iss.contains("://") => return None,
        _ => iss,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.contains('@') {
        return None;
    }
    let host = authority.split(':').next()?;
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty()
        || host.split('.').any(str::is_empty)
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

fn provider_from_sub(sub: &str) -> Option<&'static str> {
    if let Some(rest) = sub.strip_prefix("user_") {
        if rest.len() == 27 && rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Some("clerk");
        }
        if is_ulid(rest) {
            return Some("workos");
        }
        return None;
    }
    if let Some(rest) = sub.strip_prefix("kp_") {
        return (rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some("kinde");
    }
    if let Some(rest) = sub
        .strip_prefix("user-test-")
        .or_else(|| sub.strip_prefix("user-live-"))
    {
        return is_uuid(rest).then_some("stytch");
    }
    if let Some((connection, id)) = sub.split_once('|') {
        let connection_ok = (1..=64).contains(&connection.len())
            && connection
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        let id_ok = !id.is_empty() && !id.chars().any(|c| c.is_whitespace() || c.is_control());
        return (connection_ok && id_ok).then_some("auth0");
    }
    if sub.len() == 32 && sub.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some("better_auth");
    }
    if is_uuid(sub) {
        return Some("insforge");
    }
    None
}

/// 26 Crockford base32 characters (upper case, no I L O U), first `0`–`7`.
fn is_ulid(s: &str) -> bool {
    s.len() == 26
        && s.bytes().next().is_some_and(|b| (b'0'..=b'7').contains(&b))
        && s.bytes().all(|b| {
            b.is_ascii_digit()
                || (b.is_ascii_uppercase() && !matches!(b, b'I' | b'L' | b'O' | b'U'))
        })
}

/// `8-4-4-4-12` hex digits, any case.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(claims: Value) -> Option<&'static str> {
        auth_provider(&claims)
    }

    #[test]
    fn issuers() {
        assert_eq!(
            p(json!({"iss": "https://happy-cat-12.clerk.accounts.dev"})),
            Some("clerk")
        );
        assert_eq!(
            p(json!({"iss": "https://clerk.example.com"})),
            Some("clerk")
        );
        assert_eq!(p(json!({"iss": "https://clerk.com"})), None);
        assert_eq!(p(json!({"iss": "https://acme.auth0.com/"})), Some("auth0"));
        assert_eq!(
            p(json!({"iss": "https://acme.eu.auth0.com/"})),
            Some("auth0")
        );
        assert_eq!(p(json!({"iss": "https://auth0.com.evil.io/"})), None);
        assert_eq!(p(json!({"iss": "https://evilauth0.com/"})), None);
        assert_eq!(
            p(json!({"iss": "https://api.workos.com/user_management/client_01H"})),
            Some("workos")
        );
        assert_eq!(p(json!({"iss": "https://acme.kinde.com"})), Some("kinde"));
        assert_eq!(
            p(json!({"iss": "stytch.com/project-test-1234"})),
            Some("stytch")
        );
        assert_eq!(
            p(json!({"iss": "https://stytch.com/project-live-1"})),
            Some("stytch")
        );
        assert_eq!(p(json!({"iss": "insforge"})), Some("insforge"));
        assert_eq!(p(json!({"iss": "http://acme.auth0.com/"})), None);
        assert_eq!(p(json!({"iss": "https://user@acme.auth0.com/"})), None);
        assert_eq!(
            p(json!({"iss": "https://ACME.Auth0.com:443/"})),
            Some("auth0")
        );
        assert_eq!(p(json!({"iss": "https://"})), None);
        assert_eq!(p(json!({"iss": ""})), None);
    }

    #[test]
    fn issuer_beats_sub() {
        let c = json!({"iss": "https://acme.kinde.com", "sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC"});
        assert_eq!(p(c), Some("kinde"));
    }

    #[test]
    fn subs() {
        assert_eq!(
            p(json!({"sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC"})),
            Some("clerk")
        );
        assert_eq!(
            p(json!({"sub": "user_01E4ZCR3C56J083X43JQXF3JK5"})),
            Some("workos")
        );
        assert_eq!(p(json!({"sub": "user_01E4ZCR3C56J083X43JQXF3JKU"})), None);
        assert_eq!(
            p(json!({"sub": "kp_c3143a4b50ad43c88e541d9077681782"})),
            Some("kinde")
        );
        assert_eq!(
            p(json!({"sub": "kp_c3143a4b50ad43c88e541d907768178"})),
            None
        );
        assert_eq!(
            p(json!({"sub": "user-test-16d9ba61-97a1-4ba4-9720-b03761dc50c6"})),
            Some("stytch")
        );
        assert_eq!(
            p(json!({"sub": "user-live-16d9ba61-97a1-4ba4-9720-b03761dc50c6"})),
            Some("stytch")
        );
        assert_eq!(
            p(json!({"sub": "auth0|507f1f77bcf86cd799439011"})),
            Some("auth0")
        );
        assert_eq!(
            p(json!({"sub": "google-oauth2|103547991597142817347"})),
            Some("auth0")
        );
        assert_eq!(p(json!({"sub": "github|1234"})), Some("auth0"));
        assert_eq!(p(json!({"sub": "|1234"})), None);
        assert_eq!(p(json!({"sub": "github|"})), None);
        assert_eq!(
            p(json!({"sub": "x3Jp0TqV8mKf2LwZ9rYb7nHc4dGs1aEu"})),
            Some("better_auth")
        );
        assert_eq!(
            p(json!({"sub": "550e8400-e29b-41d4-a716-446655440000"})),
            Some("insforge")
        );
        assert_eq!(p(json!({"sub": 42})), None);
        assert_eq!(p(json!({"sub": "bob"})), None);
        assert_eq!(p(json!([1])), None);
        assert_eq!(p(json!({"sub": "user_é"})), None);
    }
}
