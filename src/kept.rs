//! Statements prepared once per backend and kept (`SPI_keepplan`), for the SQL
//! the extension's C functions run on every call: the asset registry lookup of
//! `verify_payment`, and the ledger's reads and writes (src/ledger.rs). The
//! plan cache revalidates a kept plan after DDL on what it uses, so a kept
//! statement follows a ledger that `install_ledger()` changed.
//!
//! Reads go through `SpiClient::select` with a read-only statement, never
//! pgrx's `Spi::get_*` helpers: those run as updates and take a transaction
//! id, which fails on a hot standby and in parallel workers.

use pgrx::pg_sys;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiError, SpiResult};
use pgrx::{PgOid, Spi};
use std::cell::RefCell;
use std::thread::LocalKey;

/// Where one statement is kept (a `thread_local!` `RefCell<Option<...>>`).
pub type Slot = LocalKey<RefCell<Option<OwnedPreparedStatement>>>;

/// Declares kept-statement slots: `crate::kept_slots! { static NAME; ... }`.
#[macro_export]
macro_rules! kept_slots {
    ($(static $name:ident;)+) => {
        thread_local! {
            $(static $name: std::cell::RefCell<Option<pgrx::spi::OwnedPreparedStatement>> =
                const { std::cell::RefCell::new(None) };)+
        }
    };
}

/// Runs `f` in an SPI connection with statement `query` (parameter types
/// `types`), prepared the first time and kept for the backend's life.
/// `mutating`: a statement that writes (run with a fresh snapshot and command
/// counter, never read-only).
pub fn with<T>(
    slot: &'static Slot,
    query: &str,
    types: &[pg_sys::Oid],
    mutating: bool,
    f: impl FnOnce(&SpiClient<'_>, &OwnedPreparedStatement) -> SpiResult<T>,
) -> SpiResult<T> {
    Spi::connect(|c| {
        let oids: Vec<PgOid> = types.iter().map(|t| PgOid::from(*t)).collect();
        let prepare = |c: &SpiClient<'_>| match mutating {
            true => c.prepare_mut(query, &oids).map(|s| s.keep()),
            false => c.prepare(query, &oids).map(|s| s.keep()),
        };
        slot.with(|cell| match cell.try_borrow_mut() {
            Ok(mut kept) => {
                if kept.is_none() {
                    *kept = Some(prepare(c)?);
                }
                match kept.as_ref() {
                    Some(stmt) => f(c, stmt),
                    None => Err(SpiError::NoTupleTable),
                }
            }
            // Re-entered (the query itself led back here): a one-off plan.
            Err(_) => f(c, &prepare(c)?),
        })
    })
}
