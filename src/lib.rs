//! insforge_integrations: module wiring, `_PG_init`, and the SQL files.
//!
//! The logic lives in `claims` (request claims cache) and in the pure crate
//! `insforge_core`; `sql_*` modules are thin SQL shells.

use pgrx::prelude::*;

mod advisor;
mod citus;
mod claims;
mod database_settings;
mod dbtext;
mod errors;
mod fmgr;
mod jsonb;
mod kept;
mod ledger;
mod ledger_v2;
mod session;
mod settings;
mod sql_act_as;
mod sql_identity;
mod sql_jwt;
mod sql_x402;

::pgrx::pg_module_magic!(name, version);

// First: refuse a schema someone else made, and pin the script's search path.
extension_sql_file!("../sql/guard.sql", name = "guard", bootstrap);
extension_sql_file!("../sql/roles.sql", name = "roles", requires = ["guard"]);
extension_sql_file!(
    "../sql/identity.sql",
    name = "identity",
    requires = ["guard"]
);
extension_sql_file!(
    "../sql/requesting_user_id.sql",
    name = "requesting_user_id",
    requires = ["identity"]
);
extension_sql_file!(
    "../sql/jwt_secret.sql",
    name = "jwt_secret",
    requires = ["identity", "roles"]
);
extension_sql_file!("../sql/jwt.sql", name = "jwt", requires = ["jwt_secret"]);
extension_sql_file!("../sql/x402.sql", name = "x402", requires = ["identity"]);
extension_sql_file!(
    "../sql/settings.sql",
    name = "settings",
    requires = [
        "identity",
        database_settings::sql::_setting_name,
        database_settings::sql::_setting_value,
        database_settings::sql::_settings_changed,
        database_settings::sql::settings
    ]
);
// Citus: the operator's calls that also run on the workers (needs the Rust
// insforge._on_other_nodes()).
extension_sql_file!(
    "../sql/citus.sql",
    name = "citus",
    requires = ["identity", "jwt_secret", citus::on_other_nodes]
);
// insforge.explain_access() and its helpers (they use the advisor's readings of policies
// and insforge._act_as()).
extension_sql_file!(
    "../sql/explain.sql",
    name = "explain",
    requires = ["identity", "advisor_common", sql_act_as::act_as_internal]
);
// Last: the operator privileges (project_admin) on functions defined above, the SQL
// files' and the Rust shells' alike.
extension_sql_file!("../sql/operator.sql", name = "operator", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::init();
}
