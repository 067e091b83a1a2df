//! jsonb in and out of the extension, in one place.
//!
//! - [`pg`]: PostgreSQL's own jsonb functions called directly (`jsonb_in`,
//!   `->`, `->>`, `#>>`, `jsonb_out`), where an answer must be exactly SQL's:
//!   the request's claims and the claim accessors.
//! - [`layout`]: jsonb's binary layout, with our own reader (jsonb to serde
//!   JSON, for `Jsonb` arguments) and writer (a `JsonbValue` tree to jsonb
//!   bytes), each kept because it beats PostgreSQL's own code on the same
//!   inputs (see that module).
//! - [`tree`]: `JsonbValue` trees from a JWT payload as it is parsed, or from
//!   a serde value.
//! - [`arg`]: `Jsonb` arguments and `JsonbDatum` results of `#[pg_extern]`
//!   functions (pgrx's own `JsonB` panics on jsonb serde cannot hold).
//! - [`bench`]: `insforge._jsonb_layout_bench()`, the reader and the writer
//!   timed against PostgreSQL's `JsonbIteratorNext` and `JsonbValueToJsonb`.

pub mod arg;
pub mod bench;
pub mod layout;
pub mod pg;
pub mod tree;
