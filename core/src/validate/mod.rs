//! Claims validation: the checks `insforge_integrations.jwt_*` settings configure, run on
//! claims that are already trusted as JSON (e.g. `request.jwt.claims` set by
//! PostgREST, or the output of [`crate::jwt::verify`]).
//!
//! [`validate_claims`] returns the names of the failed checks, never an
//! error, so the SQL layer can report all of them at once:
//!
//! | problem | reported when |
//! |---|---|
//! | `missing_sub` | `sub` is absent, JSON null, not a string or number (bool, object, array), or a string that is empty or only whitespace. A numeric `sub` is accepted, as `claims ->> 'sub'` gives it as text. |
//! | `expired` | `exp` is present and `now >= exp + leeway`, or `exp` is present but not a JSON number (null included). A missing `exp` is not a problem. |
//! | `not_yet_valid` | `nbf` is present and `now < nbf - leeway`, or `nbf` is present but not a JSON number. |
//! | `audience` | [`Rules::audiences`] is non-empty and `aud` (a string, or an array of strings of which one must match) is missing, of another type, or not accepted. |
//! | `issuer` | [`Rules::issuers`] is non-empty and `iss` is missing, not a string, or not accepted. |
//! | `role` | [`Rules::roles`] is non-empty and `role` is not a string in the list. An absent `role` counts as `anon` (PostgREST falls back to its anonymous role), so it passes exactly when `anon` is listed; a JSON-null or non-string `role` never passes. An empty list disables the check. |
//! | `provider_mismatch` | [`Rules::providers`] is non-empty and [`auth_provider`] is None or not in the list. |
//!
//! Comparisons are exact and case-sensitive (RFC 7519 StringOrURI), except
//! provider names, which are compared ASCII-case-insensitively. Claims that
//! are not a JSON object are treated as an object with no members.

mod provider;

use serde_json::{Map, Value};

pub use provider::auth_provider;

/// `sub` missing, null, blank, or not a string/number.
pub const MISSING_SUB: &str = "missing_sub";
/// `exp` passed (or not a number).
pub const EXPIRED: &str = "expired";
/// `nbf` not reached (or not a number).
pub const NOT_YET_VALID: &str = "not_yet_valid";
/// `aud` not accepted.
pub const AUDIENCE: &str = "audience";
/// `iss` not accepted.
pub const ISSUER: &str = "issuer";
/// `role` not accepted.
pub const ROLE: &str = "role";
/// The provider recognised by [`auth_provider`] is not accepted.
pub const PROVIDER_MISMATCH: &str = "provider_mismatch";

/// Every problem name, in the order [`validate_claims`] reports them.
pub const ALL_PROBLEMS: [&str; 7] = [
    MISSING_SUB,
    EXPIRED,
    NOT_YET_VALID,
    AUDIENCE,
    ISSUER,
    ROLE,
    PROVIDER_MISMATCH,
];

/// The validation settings. Empty lists disable their check, except that
/// `roles` defaults to `anon,authenticated` (empty also disables it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Accepted `aud` values (`insforge_integrations.jwt_audience`).
    pub audiences: Vec<String>,
    /// Accepted `iss` values (`insforge_integrations.jwt_issuers`).
    pub issuers: Vec<String>,
    /// Accepted `role` values (`insforge_integrations.jwt_roles`).
    pub roles: Vec<String>,
    /// Seconds of clock skew allowed on `exp` and `nbf` (`insforge_integrations.jwt_leeway`);
    /// negative values count as 0.
    pub leeway: i64,
    /// Accepted providers (`insforge_integrations.jwt_providers`): names returned by
    /// [`auth_provider`].
    pub providers: Vec<String>,
}

/// Every provider name [`auth_provider`] can return (what
/// `insforge_integrations.jwt_providers` may list).
pub const PROVIDERS: [&str; 7] = [
    "clerk",
    "auth0",
    "workos",
    "kinde",
    "stytch",
    "better_auth",
    "insforge",
];

/// The role an absent `role` claim stands for (PostgREST's anonymous role).
pub const ANON_ROLE: &str = "anon";

/// Default leeway in seconds, the default of `insforge_integrations.jwt_leeway`.
pub const DEFAULT_LEEWAY: i64 = 30;

impl Default for Rules {
    /// No audience, issuer or provider check; roles `anon, authenticated`;
    /// leeway 30 s. These are the settings' defaults.
    fn default() -> Self {
        Rules {
            audiences: Vec::new(),
            issuers: Vec::new(),
            roles: vec!["anon".to_string(), "authenticated".to_string()],
            leeway: DEFAULT_LEEWAY,
            providers: Vec::new(),
        }
    }
}

impl Rules {
    /// Rules from the settings' text values (each a comma-separated list, see
    /// [`parse_list`]).
    pub fn from_settings(
        audiences: &str,
        issuers: &str,
        roles: &str,
        leeway: i64,
        providers: &str,
    ) -> Rules {
        Rules {
            audiences: parse_list(audiences),
            issuers: parse_list(issuers),
            roles: parse_list(roles),
            leeway,
            providers: parse_list(providers),
        }
    }
}

/// Splits a comma-separated setting: items are trimmed, empty items dropped,
/// order kept. `" a, ,b "` gives `["a", "b"]`; `""` gives `[]`.
pub fn parse_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The failed checks (see the module table), in the order of
/// [`ALL_PROBLEMS`]; empty when the claims pass. `now` is unix seconds.
pub fn validate_claims(claims: &Value, rules: &Rules, now: i64) -> Vec<&'static str> {
    let empty = Map::new();
    let obj = claims.as_object().unwrap_or(&empty);
    let mut problems = Vec::new();
    if !has_subject(obj) {
        problems.push(MISSING_SUB);
    }
    if check_exp(obj, now, rules.leeway) != TimeCheck::Ok {
        problems.push(EXPIRED);
    }
    if check_nbf(obj, now, rules.leeway) != TimeCheck::Ok {
        problems.push(NOT_YET_VALID);
    }
    if !rules.audiences.is_empty() && check_aud(obj, &rules.audiences) != ListCheck::Ok {
        problems.push(AUDIENCE);
    }
    if !rules.issuers.is_empty() && check_iss(obj, &rules.issuers) != ListCheck::Ok {
        problems.push(ISSUER);
    }
    if !rules.roles.is_empty() {
        let role = match obj.get("role") {
            None => Some(ANON_ROLE),
            Some(Value::String(r)) => Some(r.as_str()),
            Some(_) => None,
        };
        let ok = role.is_some_and(|r| rules.roles.iter().any(|a| a == r));
        if !ok {
            problems.push(ROLE);
        }
    }
    if !rules.providers.is_empty() {
        let ok = match auth_provider(claims) {
            Some(p) => rules.providers.iter().any(|a| a.eq_ignore_ascii_case(p)),
            None => false,
        };
        if !ok {
            problems.push(PROVIDER_MISMATCH);
        }
    }
    problems
}

fn has_subject(obj: &Map<String, Value>) -> bool {
    match obj.get("sub") {
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Number(_)) => true,
        _ => false,
    }
}

// ------------------------------------------------------------------
// Checks shared with `jwt::verify`, which turns them into messages.

/// Outcome of an `exp` / `nbf` check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeCheck {
    /// Absent, or within bounds.
    Ok,
    /// `exp` passed this many seconds ago (ignoring leeway).
    Expired(i64),
    /// `nbf` is this many seconds away (ignoring leeway).
    NotYetValid(i64),
    /// Present but not a JSON number.
    NotNumeric,
}

/// A JSON number as f64 (integers beyond 2^53 lose precision, which does not
/// matter for timestamps).
fn numeric_date(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Valid while `now < exp + leeway`.
pub(crate) fn check_exp(obj: &Map<String, Value>, now: i64, leeway: i64) -> TimeCheck {
    let Some(v) = obj.get("exp") else {
        return TimeCheck::Ok;
    };
    let Some(exp) = numeric_date(v) else {
        return TimeCheck::NotNumeric;
    };
    let now = now as f64;
    if now < exp + leeway.max(0) as f64 {
        TimeCheck::Ok
    } else {
        // `as` saturates; the value only feeds a message.
        TimeCheck::Expired((now - exp).floor() as i64)
    }
}

/// Valid when `now >= nbf - leeway`.
pub(crate) fn check_nbf(obj: &Map<String, Value>, now: i64, leeway: i64) -> TimeCheck {
    let Some(v) = obj.get("nbf") else {
        return TimeCheck::Ok;
    };
    let Some(nbf) = numeric_date(v) else {
        return TimeCheck::NotNumeric;
    };
    let now = now as f64;
    if now >= nbf - leeway.max(0) as f64 {
        TimeCheck::Ok
    } else {
        TimeCheck::NotYetValid((nbf - now).ceil() as i64)
    }
}

/// Outcome of an `aud` / `iss` check against a non-empty accepted list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ListCheck<'a> {
    Ok,
    Missing,
    /// Present but of the wrong JSON type.
    WrongType,
    /// The values found, none accepted.
    NotAccepted(Vec<&'a str>),
}

pub(crate) fn check_aud<'a>(obj: &'a Map<String, Value>, accepted: &[String]) -> ListCheck<'a> {
    let values: Vec<&str> = match obj.get("aud") {
        None => return ListCheck::Missing,
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => out.push(s.as_str()),
                    _ => return ListCheck::WrongType,
                }
            }
            out
        }
        Some(_) => return ListCheck::WrongType,
    };
    if values.iter().any(|v| accepted.iter().any(|a| a == v)) {
        ListCheck::Ok
    } else {
        ListCheck::NotAccepted(values)
    }
}

pub(crate) fn check_iss<'a>(obj: &'a Map<String, Value>, accepted: &[String]) -> ListCheck<'a> {
    match obj.get("iss") {
        None => ListCheck::Missing,
        Some(Value::String(s)) => {
            if accepted.iter().any(|a| a == s) {
                ListCheck::Ok
            } else {
                ListCheck::NotAccepted(vec![s.as_str()])
            }
        }
        Some(_) => ListCheck::WrongType,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn time_checks() {
        let c = obj(json!({"exp": 1000, "nbf": 900}));
        assert_eq!(check_exp(&c, 999, 0), TimeCheck::Ok);
        assert_eq!(check_exp(&c, 1000, 0), TimeCheck::Expired(0));
        assert_eq!(check_exp(&c, 1029, 30), TimeCheck::Ok);
        assert_eq!(check_exp(&c, 1030, 30), TimeCheck::Expired(30));
        assert_eq!(check_exp(&c, 1312, -5), TimeCheck::Expired(312));
        assert_eq!(check_nbf(&c, 900, 0), TimeCheck::Ok);
        assert_eq!(check_nbf(&c, 860, 0), TimeCheck::NotYetValid(40));
        assert_eq!(check_nbf(&c, 870, 30), TimeCheck::Ok);
        let f = obj(json!({"exp": 1000.5, "nbf": "900"}));
        assert_eq!(check_exp(&f, 1000, 0), TimeCheck::Ok);
        assert_eq!(check_nbf(&f, 1000, 0), TimeCheck::NotNumeric);
        let big = obj(json!({"exp": 1e300, "nbf": -1e300}));
        assert_eq!(check_exp(&big, i64::MAX, i64::MAX), TimeCheck::Ok);
        assert_eq!(check_nbf(&big, i64::MIN, i64::MAX), TimeCheck::Ok);
        let past = obj(json!({"exp": -1e300}));
        assert_eq!(check_exp(&past, 0, 0), TimeCheck::Expired(i64::MAX));
    }

    #[test]
    fn list_checks() {
        let acc = vec!["insforge-api".to_string()];
        assert_eq!(
            check_aud(&obj(json!({"aud": "insforge-api"})), &acc),
            ListCheck::Ok
        );
        assert_eq!(
            check_aud(&obj(json!({"aud": ["x", "insforge-api"]})), &acc),
            ListCheck::Ok
        );
        assert_eq!(
            check_aud(&obj(json!({"aud": ["x"]})), &acc),
            ListCheck::NotAccepted(vec!["x"])
        );
        assert_eq!(
            check_aud(&obj(json!({"aud": [1]})), &acc),
            ListCheck::WrongType
        );
        assert_eq!(check_aud(&obj(json!({})), &acc), ListCheck::Missing);
        assert_eq!(
            check_iss(&obj(json!({"iss": 5})), &acc),
            ListCheck::WrongType
        );
    }
}
