//! `validate::{validate_claims, parse_list, auth_provider, Rules}`.

use insforge_core::validate::{
    auth_provider, parse_list, validate_claims, Rules, ALL_PROBLEMS, ANON_ROLE, AUDIENCE,
    DEFAULT_LEEWAY, EXPIRED, ISSUER, MISSING_SUB, NOT_YET_VALID, PROVIDER_MISMATCH, ROLE,
};
use serde_json::{json, Value};

const NOW: i64 = 1_750_000_000;

fn good() -> Value {
    json!({"sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC", "role": "authenticated",
           "aud": "insforge-api", "iss": "https://happy-cat-12.clerk.accounts.dev",
           "iat": NOW, "nbf": NOW, "exp": NOW + 60})
}

fn strict() -> Rules {
    Rules {
        audiences: vec!["insforge-api".into()],
        issuers: vec!["https://happy-cat-12.clerk.accounts.dev".into()],
        roles: vec!["anon".into(), "authenticated".into()],
        leeway: 30,
        providers: vec!["clerk".into()],
    }
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    if let Some(obj) = claims.as_object_mut() {
        obj.insert(key.to_string(), value);
    }
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    if let Some(obj) = claims.as_object_mut() {
        obj.remove(key);
    }
    claims
}

#[test]
fn parse_list_rules() {
    assert_eq!(parse_list(""), Vec::<String>::new());
    assert_eq!(parse_list(" , ,"), Vec::<String>::new());
    assert_eq!(
        parse_list("anon,authenticated"),
        vec!["anon", "authenticated"]
    );
    assert_eq!(
        parse_list("  insforge-api ,, https://x.auth0.com/ "),
        vec!["insforge-api", "https://x.auth0.com/"]
    );
    assert_eq!(parse_list("a b"), vec!["a b"]);
}

#[test]
fn defaults_match_the_settings() {
    let r = Rules::default();
    assert!(r.audiences.is_empty() && r.issuers.is_empty() && r.providers.is_empty());
    assert_eq!(r.roles, vec!["anon", "authenticated"]);
    assert_eq!(r.leeway, DEFAULT_LEEWAY);
    assert_eq!(r.leeway, 30);
    assert_eq!(
        Rules::from_settings("", "", "anon,authenticated", 30, ""),
        Rules::default()
    );
    let r = Rules::from_settings("insforge-api", " a , b ", "", 5, "clerk,auth0");
    assert_eq!(r.audiences, vec!["insforge-api"]);
    assert_eq!(r.issuers, vec!["a", "b"]);
    assert!(r.roles.is_empty());
    assert_eq!(r.providers, vec!["clerk", "auth0"]);
}

#[test]
fn clean_claims_pass() {
    assert!(validate_claims(&good(), &strict(), NOW).is_empty());
    assert!(validate_claims(&good(), &Rules::default(), NOW).is_empty());
}

#[test]
fn every_problem_in_order() {
    let claims = json!({"sub": "", "role": "service_role", "aud": "x", "iss": "y",
                        "exp": NOW - 100, "nbf": NOW + 100});
    assert_eq!(
        validate_claims(&claims, &strict(), NOW),
        ALL_PROBLEMS.to_vec()
    );
    assert_eq!(
        ALL_PROBLEMS,
        [
            MISSING_SUB,
            EXPIRED,
            NOT_YET_VALID,
            AUDIENCE,
            ISSUER,
            ROLE,
            PROVIDER_MISMATCH
        ]
    );
    assert_eq!(
        ALL_PROBLEMS,
        [
            "missing_sub",
            "expired",
            "not_yet_valid",
            "audience",
            "issuer",
            "role",
            "provider_mismatch"
        ]
    );
}

#[test]
fn missing_sub_rule() {
    let rules = Rules::default();
    for sub in [
        json!(""),
        json!("   "),
        json!("\t\n"),
        json!(null),
        json!(true),
        json!({}),
        json!([]),
    ] {
        assert_eq!(
            validate_claims(&with(good(), "sub", sub.clone()), &rules, NOW),
            vec![MISSING_SUB],
            "{sub}"
        );
    }
    assert_eq!(
        validate_claims(&without(good(), "sub"), &rules, NOW),
        vec![MISSING_SUB]
    );
    for sub in [json!(123), json!(1.5), json!(" x "), json!("auth0|1")] {
        assert!(
            validate_claims(&with(good(), "sub", sub.clone()), &rules, NOW).is_empty(),
            "{sub}"
        );
    }
}

#[test]
fn non_object_claims_have_nothing() {
    let rules = Rules::default();
    for claims in [json!(null), json!([1, 2]), json!("sub"), json!(5)] {
        assert_eq!(
            validate_claims(&claims, &rules, NOW),
            vec![MISSING_SUB],
            "{claims}"
        );
    }
    let none = Rules {
        roles: vec![],
        ..Rules::default()
    };
    assert_eq!(validate_claims(&json!([]), &none, NOW), vec![MISSING_SUB]);
    let no_anon = Rules {
        roles: vec!["authenticated".into()],
        ..Rules::default()
    };
    assert_eq!(
        validate_claims(&json!(7), &no_anon, NOW),
        vec![MISSING_SUB, ROLE]
    );
}

#[test]
fn time_rules_with_leeway() {
    let rules = Rules {
        leeway: 30,
        ..Rules::default()
    };
    let c = with(with(good(), "exp", json!(NOW)), "nbf", json!(NOW));
    assert!(validate_claims(&c, &rules, NOW + 29).is_empty());
    assert_eq!(validate_claims(&c, &rules, NOW + 30), vec![EXPIRED]);
    assert!(validate_claims(&c, &rules, NOW - 30).is_empty());
    assert_eq!(validate_claims(&c, &rules, NOW - 31), vec![NOT_YET_VALID]);
    let zero = Rules {
        leeway: 0,
        ..Rules::default()
    };
    assert_eq!(validate_claims(&c, &zero, NOW), vec![EXPIRED]);
    let negative = Rules {
        leeway: -50,
        ..Rules::default()
    };
    assert_eq!(validate_claims(&c, &negative, NOW), vec![EXPIRED]);
    assert_eq!(validate_claims(&c, &negative, NOW - 1), vec![NOT_YET_VALID]);
    // Missing exp/nbf are fine; non-numeric ones are problems.
    let c = without(without(good(), "exp"), "nbf");
    assert!(validate_claims(&c, &rules, i64::MAX).is_empty());
    let c = with(with(good(), "exp", json!("soon")), "nbf", json!(null));
    assert_eq!(
        validate_claims(&c, &rules, NOW),
        vec![EXPIRED, NOT_YET_VALID]
    );
}

#[test]
fn audience_rules() {
    let rules = strict();
    for aud in [json!("insforge-api"), json!(["a", "insforge-api"])] {
        assert!(validate_claims(&with(good(), "aud", aud), &rules, NOW).is_empty());
    }
    for aud in [
        json!("x"),
        json!([]),
        json!(["a"]),
        json!(["insforge-api", 1]),
        json!(1),
        json!(null),
    ] {
        assert_eq!(
            validate_claims(&with(good(), "aud", aud.clone()), &rules, NOW),
            vec![AUDIENCE],
            "{aud}"
        );
    }
    assert_eq!(
        validate_claims(&without(good(), "aud"), &rules, NOW),
        vec![AUDIENCE]
    );
    // Not checked when the list is empty.
    let open = Rules::default();
    assert!(validate_claims(&with(good(), "aud", json!(7)), &open, NOW).is_empty());
    // Case-sensitive.
    assert_eq!(
        validate_claims(&with(good(), "aud", json!("INSFORGE-API")), &rules, NOW),
        vec![AUDIENCE]
    );
}

#[test]
fn issuer_rules() {
    let rules = Rules {
        issuers: vec!["https://acme.auth0.com/".into()],
        ..Rules::default()
    };
    let c = with(good(), "iss", json!("https://acme.auth0.com/"));
    assert!(validate_claims(&c, &rules, NOW).is_empty());
    for iss in [
        json!("https://acme.auth0.com"),
        json!(["https://acme.auth0.com/"]),
        json!(null),
    ] {
        assert_eq!(
            validate_claims(&with(good(), "iss", iss.clone()), &rules, NOW),
            vec![ISSUER],
            "{iss}"
        );
    }
    assert_eq!(
        validate_claims(&without(good(), "iss"), &rules, NOW),
        vec![ISSUER]
    );
}

#[test]
fn role_rules() {
    let rules = Rules::default();
    assert!(validate_claims(&with(good(), "role", json!("anon")), &rules, NOW).is_empty());
    for role in [
        json!("service_role"),
        json!("Authenticated"),
        json!(""),
        json!(null),
        json!(["anon"]),
    ] {
        assert_eq!(
            validate_claims(&with(good(), "role", role.clone()), &rules, NOW),
            vec![ROLE],
            "{role}"
        );
    }
    // An absent role counts as anon: accepted while anon is listed...
    assert!(validate_claims(&without(good(), "role"), &rules, NOW).is_empty());
    let no_anon = Rules {
        roles: vec!["authenticated".into()],
        ..Rules::default()
    };
    assert_eq!(
        validate_claims(&without(good(), "role"), &no_anon, NOW),
        vec![ROLE]
    );
    assert_eq!(ANON_ROLE, "anon");
    // ... and nothing is checked with an empty list.
    let open = Rules {
        roles: vec![],
        ..Rules::default()
    };
    assert!(validate_claims(&without(good(), "role"), &open, NOW).is_empty());
    assert!(validate_claims(&with(good(), "role", json!("x")), &open, NOW).is_empty());
    let custom = Rules {
        roles: parse_list("authenticated, project_admin"),
        ..Rules::default()
    };
    assert!(
        validate_claims(&with(good(), "role", json!("project_admin")), &custom, NOW).is_empty()
    );
    assert_eq!(
        validate_claims(&with(good(), "role", json!("anon")), &custom, NOW),
        vec![ROLE]
    );
}

#[test]
fn provider_rules() {
    let rules = |p: &str| Rules {
        providers: parse_list(p),
        ..Rules::default()
    };
    assert!(validate_claims(&good(), &rules("clerk"), NOW).is_empty());
    assert!(validate_claims(&good(), &rules("auth0, Clerk"), NOW).is_empty());
    assert_eq!(
        validate_claims(&good(), &rules("auth0,kinde"), NOW),
        vec![PROVIDER_MISMATCH]
    );
    // An unrecognisable token never matches a provider list.
    let c = json!({"sub": "bob", "role": "authenticated"});
    assert_eq!(auth_provider(&c), None);
    assert_eq!(
        validate_claims(&c, &rules("clerk"), NOW),
        vec![PROVIDER_MISMATCH]
    );
    assert!(validate_claims(&c, &Rules::default(), NOW).is_empty());
}

#[test]
fn provider_recognition_per_guide() {
    let cases = [
        (
            json!({"iss": "https://happy-cat-12.clerk.accounts.dev", "sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC"}),
            Some("clerk"),
        ),
        (
            json!({"iss": "https://clerk.example.com", "sub": "whatever"}),
            Some("clerk"),
        ),
        (
            json!({"sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC"}),
            Some("clerk"),
        ),
        (
            json!({"iss": "https://acme.auth0.com/", "sub": "anything"}),
            Some("auth0"),
        ),
        (
            json!({"iss": "https://acme.eu.auth0.com/", "sub": "auth0|507f1f77bcf86cd799439011"}),
            Some("auth0"),
        ),
        (
            json!({"iss": "https://login.acme.com/", "sub": "google-oauth2|103547991597142817347"}),
            Some("auth0"),
        ),
        (json!({"sub": "samlp|acme|jdoe@acme.com"}), Some("auth0")),
        (
            json!({"iss": "https://api.workos.com/user_management/client_01H", "sub": "x"}),
            Some("workos"),
        ),
        (
            json!({"sub": "user_01HXYZABCDEFGHJKMNPQRSTVWX"}),
            Some("workos"),
        ),
        (
            json!({"iss": "https://acme.kinde.com", "sub": "x"}),
            Some("kinde"),
        ),
        (
            json!({"sub": "kp_0123456789abcdef0123456789abcdef"}),
            Some("kinde"),
        ),
        (
            json!({"iss": "stytch.com/project-test-abc", "sub": "x"}),
            Some("stytch"),
        ),
        (
            json!({"sub": "user-test-16d9ba61-97a1-4ba4-9720-b03761dc50c6"}),
            Some("stytch"),
        ),
        (
            json!({"iss": "https://app.example.com", "sub": "x3Jp0TqV8mKf2LwZ9rYb7nHc4dGs1aEu"}),
            Some("better_auth"),
        ),
        (json!({"iss": "insforge", "sub": "x"}), Some("insforge")),
        (
            json!({"sub": "550E8400-E29B-41D4-A716-446655440000"}),
            Some("insforge"),
        ),
        (json!({"iss": "https://example.com", "sub": "12345"}), None),
        (json!({"sub": 12345}), None),
        (json!({}), None),
        (json!("not an object"), None),
    ];
    for (claims, want) in cases {
        assert_eq!(auth_provider(&claims), want, "{claims}");
    }
}
