//! `insforge.advise()`: the integration-mistake advisor.
//!
//! Every rule is one SQL file in `sql/advisor/` defining `insforge.lint_<rule>()`,
//! all returning supabase splinter's row shape (name, title, level, facing,
//! categories, description, detail, remediation, metadata, cache_key);
//! `advise.sql` is their `UNION ALL`. The rules only read catalogs, so they are
//! plain SQL with no Rust behind them; this module just orders the files.
//! Documentation: `README.md`.

use pgrx::prelude::*;

extension_sql_file!(
    "../../sql/advisor/common.sql",
    name = "advisor_common",
    requires = ["identity", "requesting_user_id", "jwt_secret"]
);

macro_rules! advisor_rule {
    ($file:literal, $name:literal) => {
        extension_sql_file!(
            $file,
            name = $name,
            requires = [
                "identity",
                "requesting_user_id",
                "jwt_secret",
                "advisor_common"
            ]
        );
    };
}

advisor_rule!(
    "../../sql/advisor/auth_uid_in_policy.sql",
    "advisor_auth_uid_in_policy"
);
advisor_rule!(
    "../../sql/advisor/uuid_owner_column.sql",
    "advisor_uuid_owner_column"
);
advisor_rule!(
    "../../sql/advisor/owner_column_without_default.sql",
    "advisor_owner_column_without_default"
);
advisor_rule!(
    "../../sql/advisor/rls_disabled_with_owner_column.sql",
    "advisor_rls_disabled_with_owner_column"
);
advisor_rule!(
    "../../sql/advisor/rls_enabled_no_policy.sql",
    "advisor_rls_enabled_no_policy"
);
advisor_rule!(
    "../../sql/advisor/policy_without_role.sql",
    "advisor_policy_without_role"
);
advisor_rule!(
    "../../sql/advisor/sql_requesting_user_id.sql",
    "advisor_sql_requesting_user_id"
);
advisor_rule!(
    "../../sql/advisor/jwt_secret_exposed.sql",
    "advisor_jwt_secret_exposed"
);
advisor_rule!(
    "../../sql/advisor/x402_tx_hash_not_unique.sql",
    "advisor_x402_tx_hash_not_unique"
);
advisor_rule!(
    "../../sql/advisor/x402_ledger_writable_by_clients.sql",
    "advisor_x402_ledger_writable_by_clients"
);
advisor_rule!(
    "../../sql/advisor/security_definer_search_path.sql",
    "advisor_security_definer_search_path"
);
advisor_rule!(
    "../../sql/advisor/better_auth_tables_exposed.sql",
    "advisor_better_auth_tables_exposed"
);
advisor_rule!(
    "../../sql/advisor/policy_reads_unforwarded_claim.sql",
    "advisor_policy_reads_unforwarded_claim"
);
advisor_rule!(
    "../../sql/advisor/validation_needs_unforwarded_claims.sql",
    "advisor_validation_needs_unforwarded_claims"
);
advisor_rule!(
    "../../sql/advisor/x402_unreconciled_settlements.sql",
    "advisor_x402_unreconciled_settlements"
);
advisor_rule!(
    "../../sql/advisor/citus_claims_not_propagated.sql",
    "advisor_citus_claims_not_propagated"
);

extension_sql_file!(
    "../../sql/advisor/advise.sql",
    name = "advisor_advise",
    requires = [
        "advisor_auth_uid_in_policy",
        "advisor_uuid_owner_column",
        "advisor_owner_column_without_default",
        "advisor_rls_disabled_with_owner_column",
        "advisor_rls_enabled_no_policy",
        "advisor_policy_without_role",
        "advisor_sql_requesting_user_id",
        "advisor_jwt_secret_exposed",
        "advisor_x402_tx_hash_not_unique",
        "advisor_x402_ledger_writable_by_clients",
        "advisor_security_definer_search_path",
        "advisor_better_auth_tables_exposed",
        "advisor_policy_reads_unforwarded_claim",
        "advisor_validation_needs_unforwarded_claims",
        "advisor_x402_unreconciled_settlements",
        "advisor_citus_claims_not_propagated"
    ]
);
