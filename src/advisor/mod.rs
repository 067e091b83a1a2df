//! `insforge.advise()`: the integration-mistake advisor.
//!
//! Every rule is one SQL file in `sql/advisor/` defining `insforge.lint_<rule>()`,
//! all returning supabase splinter's row shape (name, title, level, facing,
//! categories, description, detail, remediation, metadata, cache_key). The
//! rules only read catalogs, so they are plain SQL with no Rust behind them.
//! `build.rs` registers every file of that directory (but `common.sql`, the
//! helpers, and `advise.sql`), and `insforge.advise()` runs every
//! `insforge.lint_*()` function the extension has: a new rule is its SQL file,
//! its test and its doc page (CONTRIBUTING.md). Documentation: `docs/advisor.md`,
//! one page per rule in `docs/advisor/`.

use pgrx::prelude::*;

extension_sql_file!(
    "../../sql/advisor/common.sql",
    name = "advisor_common",
    requires = ["identity", "requesting_user_id", "jwt_secret", "settings"]
);

include!(concat!(env!("OUT_DIR"), "/advisor_rules.rs"));

extension_sql_file!(
    "../../sql/advisor/advise.sql",
    name = "advisor_advise",
    requires = ["advisor_common"]
);
