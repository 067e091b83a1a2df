//! `insforge._jsonb_layout_bench(doc, iterations)`: our jsonb reader and
//! writer ([`super::layout`]) timed against PostgreSQL's own code on the same
//! inputs, in the same backend, interleaved (benches/jsonb_bench.py runs it
//! over the documents the extension reads and writes; BENCHMARKS.md).
//!
//! - read: a jsonb datum to serde JSON, ours ([`read_container`]) against a
//!   walk with `JsonbIteratorInit`/`JsonbIteratorNext` that builds the same
//!   value (numbers through `numeric_out`, as serde reads their text).
//! - write: one `JsonbValue` tree to a jsonb datum, ours ([`write_jsonb`] and
//!   one palloc) against `JsonbValueToJsonb`.
//!
//! `identical` says the two gave the same value (read) or the same bytes
//! (write). Internal: EXECUTE is revoked from PUBLIC.

use super::layout::{read_container, write_jsonb};
use super::{pg, tree};
use crate::errors::{raise, INVALID_PARAMETER};
use pgrx::fcinfo::direct_function_call_as_datum;
use pgrx::pg_sys;
use pgrx::prelude::*;
use serde_json::{Map, Number, Value};
use std::time::Instant;

/// Rounds of `iterations / ROUNDS` calls each, alternating ours and theirs;
/// the medians of the rounds' per-call times are reported.
const ROUNDS: usize = 15;

#[pg_extern(name = "_jsonb_layout_bench", volatile, parallel_unsafe)]
fn jsonb_layout_bench(
    doc: crate::dbtext::DbText,
    iterations: i32,
) -> TableIterator<
    'static,
    (
        name!(half, String),
        name!(ours_ns, f64),
        name!(postgres_ns, f64),
        name!(identical, bool),
    ),
> {
    if !(ROUNDS as i32..=10_000_000).contains(&iterations) {
        raise(
            INVALID_PARAMETER,
            format!("iterations must be between {ROUNDS} and 10000000, not {iterations}"),
            None,
        );
    }
    let per_round = iterations as usize / ROUNDS;
    // SAFETY: CurrentMemoryContext is the caller's; the datum lives in it.
    let datum = pg::parse_in(doc.0.as_bytes(), unsafe { pg_sys::CurrentMemoryContext });
    // SAFETY: a jsonb datum from jsonb_in: plain 4-byte header, not toasted.
    let root: &[u8] = unsafe {
        let v = datum.cast_mut_ptr::<pg_sys::varlena>();
        std::slice::from_raw_parts(
            pgrx::varlena::vardata_any(v).cast::<u8>(),
            pgrx::varlena::varsize_any_exhdr(v),
        )
    };
    let Some(value) = read_container(root, 0) else {
        raise(
            INVALID_PARAMETER,
            "the document must be an object or array whose numbers are integers",
            Some("The reader takes the text path for anything else; time that with jsonb_out."),
        );
    };
    let theirs_value = iterate(datum);

    let scratch = Scratch::new();
    let read = interleave(
        per_round,
        &scratch,
        || std::hint::black_box(read_container(root, 0)).is_some(),
        || std::hint::black_box(iterate(datum)).is_some(),
    );

    let mut ours_bytes = Vec::new();
    let mut theirs_bytes = Vec::new();
    let write = tree::with_value_tree(&value, |tree_root, buf| {
        // SAFETY: the tree is valid during this closure (with_value_tree);
        // both writers read it and allocate in the scratch context.
        unsafe {
            if let Some(b) = write_jsonb(tree_root, buf) {
                ours_bytes = b.to_vec();
            }
            let j = pg_sys::JsonbValueToJsonb(tree_root).cast::<pg_sys::varlena>();
            theirs_bytes =
                std::slice::from_raw_parts(j.cast::<u8>(), pgrx::varlena::varsize_any(j)).to_vec();
            let tree_root: *mut pg_sys::JsonbValue = tree_root;
            interleave(
                per_round,
                &scratch,
                || {
                    let Some(bytes) = write_jsonb(&*tree_root, buf) else {
                        return false;
                    };
                    let out = pg_sys::palloc(bytes.len()).cast::<u8>();
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len());
                    std::hint::black_box(out);
                    true
                },
                || !std::hint::black_box(pg_sys::JsonbValueToJsonb(tree_root)).is_null(),
            )
        }
    });
    let Some(write) = write else {
        raise(
            INVALID_PARAMETER,
            "the document's tree cannot be built exactly (a string with NUL?)",
            None,
        );
    };
    TableIterator::new(vec![
        (
            "read".to_string(),
            read.0,
            read.1,
            theirs_value.as_ref() == Some(&value),
        ),
        (
            "write".to_string(),
            write.0,
            write.1,
            !ours_bytes.is_empty() && ours_bytes == theirs_bytes,
        ),
    ])
}
extension_sql!(
    r#"
REVOKE ALL ON FUNCTION insforge._jsonb_layout_bench(text, integer) FROM PUBLIC;
COMMENT ON FUNCTION insforge._jsonb_layout_bench(text, integer) IS
'Internal (benchmarks): the extension''s jsonb reader and writer timed against PostgreSQL''s JsonbIteratorNext and JsonbValueToJsonb on the same document, interleaved: (half, ours_ns, postgres_ns, identical). The document must be an object or array whose numbers are integers (22023 otherwise).';
"#,
    name = "jsonb_layout_bench_comment",
    requires = [jsonb_layout_bench]
);

/// A memory context reset after every round, so neither side pays for the
/// other's allocations.
struct Scratch(pg_sys::MemoryContext);

impl Scratch {
    fn new() -> Self {
        // SAFETY: a child of the current context, deleted with it at the end
        // of the call at the latest.
        Scratch(unsafe {
            pg_sys::AllocSetContextCreateExtended(
                pg_sys::CurrentMemoryContext,
                c"jsonb layout bench".as_ptr(),
                pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
            )
        })
    }

    /// Runs `f` with the scratch context current, then empties it.
    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        // SAFETY: switching to a live context and back; an error unwinds
        // through Postgres, which restores CurrentMemoryContext.
        unsafe {
            let old = pg_sys::MemoryContextSwitchTo(self.0);
            let out = f();
            pg_sys::MemoryContextSwitchTo(old);
            pg_sys::MemoryContextReset(self.0);
            out
        }
    }
}

/// Median ns per call of `ours` and `theirs` over [`ROUNDS`] alternating
/// rounds of `n` calls.
fn interleave(
    n: usize,
    scratch: &Scratch,
    mut ours: impl FnMut() -> bool,
    mut theirs: impl FnMut() -> bool,
) -> (f64, f64) {
    let mut a = Vec::with_capacity(ROUNDS);
    let mut b = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let time = |f: &mut dyn FnMut() -> bool| {
            scratch.run(|| {
                let start = Instant::now();
                for _ in 0..n {
                    f();
                }
                start.elapsed().as_nanos() as f64 / n as f64
            })
        };
        // alternate which goes first, so neither always runs on a warm cache
        if round % 2 == 0 {
            a.push(time(&mut ours));
            b.push(time(&mut theirs));
        } else {
            b.push(time(&mut theirs));
            a.push(time(&mut ours));
        }
    }
    (median(a), median(b))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The value of a jsonb datum, read with PostgreSQL's iterator; None for a
/// number serde cannot hold or a string that is not UTF-8.
fn iterate(datum: pg_sys::Datum) -> Option<Value> {
    use pg_sys::JsonbIteratorToken as tok;
    enum Open {
        Array(Vec<Value>, bool),
        Object(Map<String, Value>, Option<String>),
    }
    // SAFETY: `datum` is a plain jsonb; the iterator reads its root container
    // and allocates in the current context.
    unsafe {
        let jb = datum.cast_mut_ptr::<pg_sys::Jsonb>();
        let mut it = pg_sys::JsonbIteratorInit(&mut (*jb).root);
        let mut v: pg_sys::JsonbValue = std::mem::zeroed();
        let mut stack: Vec<Open> = Vec::new();
        loop {
            let token = pg_sys::JsonbIteratorNext(&mut it, &mut v, false);
            let done = match token {
                tok::WJB_BEGIN_ARRAY => {
                    stack.push(Open::Array(
                        Vec::with_capacity(v.val.array.nElems.max(0) as usize),
                        v.val.array.rawScalar,
                    ));
                    None
                }
                tok::WJB_BEGIN_OBJECT => {
                    stack.push(Open::Object(Map::new(), None));
                    None
                }
                tok::WJB_KEY => {
                    if let Some(Open::Object(_, key)) = stack.last_mut() {
                        *key = Some(scalar_string(&v)?);
                    }
                    None
                }
                tok::WJB_VALUE | tok::WJB_ELEM => add(&mut stack, scalar(&v)?),
                tok::WJB_END_ARRAY | tok::WJB_END_OBJECT => {
                    let closed = match stack.pop()? {
                        // a raw scalar is stored as an array of one
                        Open::Array(mut items, true) => items.pop()?,
                        Open::Array(items, false) => Value::Array(items),
                        Open::Object(map, _) => Value::Object(map),
                    };
                    add(&mut stack, closed)
                }
                _ => return None,
            };
            if let Some(root) = done {
                return Some(root);
            }
        }
    }

    fn add(stack: &mut [Open], value: Value) -> Option<Value> {
        match stack.last_mut() {
            None => Some(value),
            Some(Open::Array(items, _)) => {
                items.push(value);
                None
            }
            Some(Open::Object(map, key)) => {
                if let Some(k) = key.take() {
                    map.insert(k, value);
                }
                None
            }
        }
    }
}

/// # Safety
/// `v` is a scalar JsonbValue from the iterator.
unsafe fn scalar(v: &pg_sys::JsonbValue) -> Option<Value> {
    use pg_sys::jbvType as t;
    Some(match v.type_ {
        t::jbvNull => Value::Null,
        t::jbvBool => Value::Bool(v.val.boolean),
        t::jbvString => Value::String(scalar_string(v)?),
        t::jbvNumeric => {
            let out = direct_function_call_as_datum(
                pg_sys::numeric_out,
                &[Some(pg_sys::Datum::from(v.val.numeric))],
            )?;
            let text = std::ffi::CStr::from_ptr(out.cast_mut_ptr::<std::ffi::c_char>());
            Value::Number(serde_json::from_slice::<Number>(text.to_bytes()).ok()?)
        }
        _ => return None,
    })
}

/// # Safety
/// `v` is a string JsonbValue from the iterator.
unsafe fn scalar_string(v: &pg_sys::JsonbValue) -> Option<String> {
    let s = v.val.string;
    let bytes = std::slice::from_raw_parts(s.val.cast::<u8>(), usize::try_from(s.len).ok()?);
    String::from_utf8(bytes.to_vec()).ok()
}
