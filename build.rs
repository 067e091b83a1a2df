//! Registers the advisor's rules from `sql/advisor/`: every `<rule>.sql` there but
//! `common.sql` (the helpers) and `advise.sql` (the function that runs them all)
//! is one rule, defining `insforge.lint_<rule>()`. Adding a rule is adding its
//! SQL file (plus its test and its doc page): this writes the
//! `extension_sql_file!` calls that put each file in the install script
//! (`src/advisor/mod.rs` includes them), and `insforge.advise()` finds the
//! rules in the catalog.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // The manifest directory of this build (read at run time: a build script
    // compiled for one checkout is reused by cargo for another sharing its
    // target directory).
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_string());
    let dir = Path::new(&manifest).join("sql/advisor");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut rules: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let rule = name.strip_suffix(".sql")?.to_string();
            (rule != "common" && rule != "advise").then_some(rule)
        })
        .collect();
    rules.sort();
    let mut out = String::new();
    for rule in &rules {
        println!(
            "cargo:rerun-if-changed={}",
            dir.join(format!("{rule}.sql")).display()
        );
        let _ = writeln!(
            out,
            "extension_sql_file!({:?}, name = \"advisor_{rule}\", requires = [\"identity\", \"requesting_user_id\", \
             \"jwt_secret\", \"settings\", \"advisor_common\"]);",
            dir.join(format!("{rule}.sql")).display().to_string()
        );
    }
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("advisor_rules.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}
