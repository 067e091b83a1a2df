//! Claims validation and provider detection on arbitrary JSON.
//!
//! Input: one selector byte (rules and clock), then JSON text (the claims).
//! Also feeds the raw text to `parse_list` (the settings' list syntax).
//!
//! Invariants: the problems are distinct and in `ALL_PROBLEMS` order; only
//! enabled checks report; `provider_mismatch` is reported exactly when the
//! provider list is set and `auth_provider` is not in it; `auth_provider`
//! names a known provider; a non-object is "no members"; `parse_list` items
//! are trimmed, non-empty, comma-free and survive a join/split round trip.
#![no_main]

use insforge_core::validate::{auth_provider, parse_list, validate_claims, Rules, ALL_PROBLEMS};
use insforge_fuzz::{text, Input, NOW};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const PROVIDERS: [&str; 7] = [
    "clerk",
    "auth0",
    "workos",
    "kinde",
    "stytch",
    "better_auth",
    "insforge",
];

fn rules(sel: u8) -> Rules {
    let list = |s: &str| parse_list(s);
    match sel % 6 {
        0 => Rules::default(),
        1 => Rules {
            audiences: vec![],
            issuers: vec![],
            roles: vec![],
            leeway: 0,
            providers: vec![],
        },
        2 => Rules::from_settings(
            "insforge-api",
            "insforge,https://a.clerk.accounts.dev",
            "anon,authenticated",
            30,
            "clerk,auth0",
        ),
        3 => Rules::from_settings("a, b ,,c", "", "authenticated", -5, "insforge"),
        4 => Rules {
            audiences: list("x"),
            issuers: list("y"),
            roles: list("anon"),
            leeway: i64::MAX,
            providers: PROVIDERS.iter().map(|s| s.to_string()).collect(),
        },
        _ => Rules {
            audiences: vec![String::new()],
            issuers: vec![String::new()],
            roles: vec![String::new()],
            leeway: i64::MIN,
            providers: vec!["CLERK".into(), "Better_Auth".into()],
        },
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let sel = input.byte();
    let rest = input.rest();

    // parse_list on arbitrary text
    let raw = text(rest);
    let items = parse_list(&raw);
    for it in &items {
        assert!(
            !it.is_empty() && !it.contains(',') && it.trim() == it,
            "{it:?}"
        );
    }
    assert_eq!(parse_list(&items.join(",")), items);

    let Ok(claims) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    let now = match sel >> 5 {
        0 => NOW,
        1 => 0,
        2 => i64::MAX,
        3 => i64::MIN,
        4 => -1,
        _ => i64::from(sel) * 1_000_000_007,
    };
    let r = rules(sel);
    let problems = validate_claims(&claims, &r, now);

    // order and uniqueness
    let mut last = None;
    for p in &problems {
        let idx = ALL_PROBLEMS
            .iter()
            .position(|a| a == p)
            .expect("known problem");
        assert!(last.is_none_or(|l| idx > l), "{problems:?} out of order");
        last = Some(idx);
    }
    // disabled checks never report
    if r.audiences.is_empty() {
        assert!(!problems.contains(&"audience"));
    }
    if r.issuers.is_empty() {
        assert!(!problems.contains(&"issuer"));
    }
    if r.roles.is_empty() {
        assert!(!problems.contains(&"role"));
    }
    // provider
    let provider = auth_provider(&claims);
    if let Some(p) = provider {
        assert!(PROVIDERS.contains(&p), "{p}");
        assert!(claims.is_object());
    }
    let accepted = provider.is_some_and(|p| r.providers.iter().any(|a| a.eq_ignore_ascii_case(p)));
    assert_eq!(
        problems.contains(&"provider_mismatch"),
        !r.providers.is_empty() && !accepted
    );
    // a non-object is an object with no members
    if !claims.is_object() {
        let empty = Value::Object(Default::default());
        assert_eq!(problems, validate_claims(&empty, &r, now));
        assert!(problems.contains(&"missing_sub"));
    }
    // sub rule
    let has_sub = match claims.get("sub") {
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Number(_)) => true,
        _ => false,
    };
    assert_eq!(problems.contains(&"missing_sub"), !has_sub);
    // deterministic
    assert_eq!(problems, validate_claims(&claims, &r, now));
});
