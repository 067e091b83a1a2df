#!/usr/bin/env bash
# The long fuzzing run (docs/fuzzing.md).
#
#   bash scripts/fuzz.sh [seconds-per-target]      default 60
#
# 1. Every cargo-fuzz (libFuzzer) target of fuzz/ for that many seconds, one at a
#    time, on seed corpora generated into fuzz/corpus/ (git-ignored). A crash does
#    not end a target's run: it is saved under fuzz/artifacts/<target>/ and the
#    target restarts for the rest of its time (at most 5 crashes per target).
# 2. The SQL-level fuzzer, tests/integration/test_fuzz_sql.py, with
#    INSFORGE_FUZZ_CALLS calls (default 100000) against a throwaway cluster, after
#    scripts/setup.sh has built and installed the extension.
#
# Prints one summary line per target (executions, crashes) and one for the SQL
# run; exits 1 if anything crashed or failed.
#
# Environment:
#   FUZZ_TARGETS="a b"     only these targets (default: all, from `cargo fuzz list`)
#   FUZZ_SANITIZER=address build with AddressSanitizer (default: none: the core has no
#                          `unsafe`, and ASan costs 5x on the signing targets; Rust's own
#                          debug assertions and overflow checks stay on either way)
#   FUZZ_JOBS=N            libFuzzer -fork=N workers per target (default: 1, no fork)
#   FUZZ_SQL=0             skip the SQL fuzzer; FUZZ_CARGO=0 skips the cargo-fuzz targets
#   INSFORGE_FUZZ_CALLS    SQL fuzzer calls (default 100000); INSFORGE_FUZZ_SEED its seed
#   INSFORGE_TEST_PORT     port of the throwaway cluster (default 55439)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECS=${1:-60}
case "$SECS" in '' | *[!0-9]*) echo "usage: $0 [seconds-per-target]" >&2; exit 2 ;; esac
SAN=${FUZZ_SANITIZER:-none}
JOBS=${FUZZ_JOBS:-1}
LOGDIR=$ROOT/fuzz/target/fuzz-logs
status=0
summary=()

# Only a stable toolchain is installed; cargo-fuzz passes nightly-only flags
# (-Zsanitizer=..., and -Cpasses=sancov-module needs nothing else), which
# stable rustc accepts under RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

if [ "${FUZZ_CARGO:-1}" != 0 ]; then
  if ! cargo fuzz --version >/dev/null 2>&1; then
    printf '\n== cargo install cargo-fuzz --locked\n'
    cargo install cargo-fuzz --locked
  fi
  mkdir -p "$LOGDIR"
  printf '\n== seed corpora (fuzz/gen_corpus.py)\n'
  python3 fuzz/gen_corpus.py
  cd fuzz
  printf '\n== cargo fuzz build -s %s\n' "$SAN"
  if ! cargo fuzz build -s "$SAN" 2>&1 | tail -3; then
    echo "cargo fuzz build failed" >&2
    exit 1
  fi
  targets=${FUZZ_TARGETS:-$(cargo fuzz list)}
  for t in $targets; do
    case "$t" in
      claims | jwt_signed) dict=dicts/json.dict ;;
      jwt_*) dict=dicts/jwt.dict ;;
      x402_*) dict=dicts/x402.dict ;;
      *) dict= ;;
    esac
    case "$t" in
      jwt_keyset | x402_payment | x402_header) maxlen=16384 ;;
      *) maxlen=4096 ;;
    esac
    mkdir -p "corpus/$t" "artifacts/$t"
    before=$(ls "artifacts/$t" | wc -l)
    execs=0 crashes=0 left=$SECS started=$(date +%s)
    : >"$LOGDIR/$t.log"
    printf '\n== %s (%ss)\n' "$t" "$SECS"
    while [ "$left" -gt 0 ] && [ "$crashes" -lt 5 ]; do
      args=(-max_total_time="$left" -print_final_stats=1 -timeout=25 -rss_limit_mb=4096 -max_len="$maxlen")
      [ -n "$dict" ] && args+=(-dict="$dict")
      [ "$JOBS" -gt 1 ] && args+=(-fork="$JOBS" -ignore_crashes=1)
      cargo fuzz run -s "$SAN" "$t" "corpus/$t" -- "${args[@]}" >>"$LOGDIR/$t.log" 2>&1
      rc=$?
      # executions: the final stats line, else the last status line (#N ...)
      n=$(tail -n 400 "$LOGDIR/$t.log" | grep -a 'stat::number_of_executed_units' | tail -1 | awk '{print $2}')
      [ -z "$n" ] && n=$(tail -n 400 "$LOGDIR/$t.log" | grep -aoE '^#[0-9]+' | tail -1 | tr -d '#')
      execs=$((execs + ${n:-0}))
      crashes=$(( $(ls "artifacts/$t" | wc -l) - before ))
      [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && { echo "cargo fuzz run $t failed (rc $rc), see $LOGDIR/$t.log" >&2; crashes=1; break; }
      [ "$rc" -eq 0 ] && break
      left=$((SECS - ($(date +%s) - started)))
    done
    line=$(printf '%-14s execs=%-10s crashes=%-3s seconds=%s' "$t" "$execs" "$crashes" "$(( $(date +%s) - started ))")
    if [ "$crashes" -gt 0 ]; then
      status=1
      line="$line  artifacts: $(ls -t "artifacts/$t" | head -"$crashes" | sed "s|^|fuzz/artifacts/$t/|" | tr '\n' ' ')"
    fi
    echo "$line"
    summary+=("$line")
  done
  cd "$ROOT"
fi

if [ "${FUZZ_SQL:-1}" != 0 ]; then
  printf '\n== scripts/setup.sh (build and install the extension)\n'
  bash scripts/setup.sh >/dev/null || { echo "scripts/setup.sh failed" >&2; exit 1; }
  calls=${INSFORGE_FUZZ_CALLS:-100000}
  report=$ROOT/fuzz/target/sql-fuzz-report.json
  mkdir -p "$(dirname "$report")"
  rm -f "$report"
  printf '\n== tests/integration/test_fuzz_sql.py, %s calls\n' "$calls"
  started=$(date +%s)
  INSFORGE_FUZZ_CALLS=$calls INSFORGE_FUZZ_REPORT=$report \
    python3 -m pytest tests/integration/test_fuzz_sql.py -q -s -p no:cacheprovider 2>&1 | tail -40
  rc=${PIPESTATUS[0]}
  line=$(python3 - "$report" "$rc" "$(( $(date +%s) - started ))" <<'EOF'
import json, sys
path, rc, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    r = json.load(open(path))
except OSError:
    print(f"sql            no report (pytest rc {rc}), {secs} s")
    sys.exit()
print(f"sql            calls={r['calls']} ok={r['ok']} xx000={r['errors'].get('XX000', 0)} undocumented_or_xx000={r['bad']} "
      f"restarted={r['restarted']} seconds={r['seconds']} (pytest rc {rc})")
EOF
)
  [ "$rc" -ne 0 ] && status=1
  summary+=("$line")
fi

printf '\n== summary\n'
printf '%s\n' "${summary[@]}"
exit $status
