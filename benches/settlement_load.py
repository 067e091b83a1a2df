"""Long reliability run for the x402 settlement ledger; scripts/reliability.sh runs it.

Phase 1 (concurrency): pgbench, `--clients` clients, 1.9 x `--hashes` transactions, each
  x402.record_settlement() of a pre-signed payment: half the time one some client already called
  (a repeat, mostly across clients), else a fresh one of `--hashes`; plus ~2% deliberate
  conflicting-facts repeats of seeded hashes (must raise 23505).
  Checks: one row per distinct hash, every call got the row of its hash back, only 23505 errors,
  sum of amounts = sum over distinct hashes.
Phase 2 (crashes): `--workers` psycopg threads logging each acknowledged COMMIT, for
  `--crash-cycles` periods of about `--crash-every` seconds each ended by kill -9 of the postmaster
  and every backend, restart and crash recovery, then one more period. Checks: every acknowledged
  settlement present exactly once with the id its COMMIT returned (rows lost, duplicates),
  nothing never attempted, amcheck clean.
Phase 3 (the journal): pgbench, `--clients` clients, `--journal-payments` payments in all, each
  begun with x402.begin_settlement() (30% retries of a payment already begun) and then answered
  with a settlement, a facilitator failure, a second transaction for the same authorization, or
  nothing (the app died); then every pending row reconciled through x402.unreconciled().
  Checks: no pending row left, one settled row per authorization with a transaction, the other
  transactions disputed, revenue = the sum over authorizations, counted once.

One cluster (fsync=on, synchronous_commit=on) on a Unix socket, port --port (default 55459).
Prints the numbers and writes them as JSON (--json).

Usage: python3 benches/settlement_load.py [--hashes 30000] [--crash-cycles 6] [--crash-every 10]
(phase 1 runs 1.9 x hashes transactions in all, about a minute here; --pgbench-seconds for a timed run)
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import load_settlements as L  # noqa: E402
from pgcluster import Cluster  # noqa: E402


def say(msg):
    print(msg, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=55459)
    ap.add_argument("--hashes", type=int, default=30000,
                    help="pre-signed payments (distinct tx hashes); signed once, then cached")
    ap.add_argument("--conflicts", type=int, default=16, help="hashes with a conflicting twin")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--pgbench-transactions", type=int, default=None,
                    help="per client; default: as many as keep fresh hashes from running out (1.9 x hashes / clients)")
    ap.add_argument("--pgbench-seconds", type=int, default=None, help="a timed run instead (hashes may run out)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--crash-cycles", type=int, default=6)
    ap.add_argument("--crash-every", type=float, default=10.0, help="seconds of load before each crash (+-40%%)")
    ap.add_argument("--journal-payments", type=int, default=None,
                    help="phase 3: payments begun in all (default: half of --hashes)")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--json", default=None, help="write the numbers here")
    ap.add_argument("--keep", action="store_true", help="keep the cluster directory")
    args = ap.parse_args()

    t = time.time()
    settlements, conflicts = L.make_settlements(args.hashes, seed=args.seed, conflicts=args.conflicts)
    say(f"{len(settlements)} payments and {len(conflicts)} conflicting twins signed with eth-account"
        f" (or read from {L.CACHE}) in {time.time() - t:.1f} s")
    cluster = Cluster(port=args.port, settings={"fsync": "on", "synchronous_commit": "on", "max_connections": "60"})
    cluster.start()
    out = {"settings": {"fsync": "on", "synchronous_commit": "on"}, "args": vars(args)}
    failures = []
    try:
        with cluster.connect() as c:
            out["server"] = c.execute("SHOW server_version").fetchone()[0]
        # -- phase 1: pgbench
        cluster.create_database("load")
        with cluster.connect("load") as c:
            L.install_workload(c, settlements, conflicts)
        work = Path(tempfile.mkdtemp(prefix="settlement-load-"))
        per_client = None if args.pgbench_seconds else (
            args.pgbench_transactions or int(args.hashes * 1.9 / args.clients))
        say(f"\n== phase 1: pgbench, {args.clients} clients, "
            + (f"{args.pgbench_seconds} s" if args.pgbench_seconds else f"{per_client} transactions each")
            + f", {args.hashes} hashes")
        run = L.run_pgbench(cluster, "load", work, clients=args.clients, jobs=args.jobs, nhash=args.hashes,
                            nconf=args.conflicts, duration=args.pgbench_seconds, transactions=per_client,
                            seed=args.seed)
        say(run["command"])
        with cluster.connect("load") as c:
            r = L.check_ledger(c, settlements)
        p1 = {k: run[k] for k in ("returncode", "processed", "failed", "aborted", "tps", "latency_ms", "clients",
                                  "stderr_errors", "command")}
        p1.update(r)
        p1["elapsed_s"] = round(run["elapsed"], 1)
        p1["repeat_share"] = round(r["repeat_calls"] / max(r["calls"], 1), 3)
        out["pgbench"] = p1
        p1["elapsed_s"] = round(run["elapsed"], 1)
        say(f"transactions {run['processed']} in {run['elapsed']:.0f} s, {run['tps']:.0f} TPS, {args.clients} clients,"
            f" latency {run['latency_ms']} ms; failed {run['failed']}, aborted clients {run['aborted']}")
        say(f"calls {r['pgbench_calls']} (repeats {r['repeat_calls']}, {p1['repeat_share']:.0%}; hashes called by"
            f" several clients {r['keys_called_by_several_clients']}), rows {r['rows']} = distinct hashes"
            f" {r['distinct_keys_called']}, duplicates {r['duplicates']}"
            + ("; NOTE: every hash was used, later calls were all repeats (raise --hashes)"
               if r["fresh_keys_wrapped"] else ""))
        say(f"deliberate conflicts {r['conflict_attempts']}: 23505 {r['conflicts_23505']}, other"
            f" {r['conflicts_other_bad']}; ledger sum {r['ledger_sum']} vs expected {r['expected_sum']}")
        bad = {k: v for k, v in r.items() if k.endswith("_bad") and v}
        if run["returncode"] or run["failed"] or run["aborted"] or run["stderr_errors"] or bad or r["duplicates"] \
                or r["pgbench_calls"] + r["conflict_attempts"] != run["processed"]:
            failures.append(f"pgbench phase: {bad} {run['stderr_errors']}")
        shutil.rmtree(work, ignore_errors=True)

        # -- phase 2: crashes
        cluster.create_database("crash")
        with cluster.connect("crash") as c:
            c.execute("SELECT x402.install_ledger()")
        acks = Path(tempfile.mkdtemp(prefix="settlement-acks-"))
        say(f"\n== phase 2: {args.workers} psycopg workers, {args.crash_cycles} kill -9 crash cycles every"
            f" ~{args.crash_every:.0f} s (ack log {acks})")
        r2 = L.crash_cycles(cluster, "crash", settlements, acks, workers=args.workers, cycles=args.crash_cycles,
                            load_seconds=args.crash_every, seed=args.seed, conflicts=conflicts, conflict_rate=0.02,
                            progress=say)
        out["crash"] = {k: v for k, v in r2.items() if k != "recovery_log"}
        out["crash"]["recovery_log"] = [lines[-1] if lines else "" for lines in r2["recovery_log"]]
        say(f"acknowledged commits {r2['acknowledged_commits']} ({r2['acknowledged_settlements']} settlements) in"
            f" {r2['elapsed_s']} s, {r2['ack_tps']} TPS, {r2['workers']} workers; crash cycles {r2['crash_cycles']}"
            f" (recovered with redo: {r2['recovered_with_redo']})")
        say(f"rows lost {r2['rows_lost']}, duplicates {r2['duplicates']}, phantom rows {r2['phantom_rows']},"
            f" repeats answered with another row {r2['ids_per_ack_bad']}, wrong amounts {r2['wrong_amount']},"
            f" amcheck corruptions {r2['amcheck_corruptions']}")
        say(f"in doubt (connection lost before COMMIT's answer) {r2['in_doubt_attempts']}: present"
            f" {r2['in_doubt_settlements_present']}, absent {r2['in_doubt_settlements_absent']};"
            f" conflicts 23505 {r2['conflicts_23505']}; unexpected errors {r2['unexpected_errors']};"
            f" fresh keys exhausted {r2['fresh_exhausted']}")
        if any(r2[k] for k in ("rows_lost", "duplicates", "phantom_rows", "ids_per_ack_bad", "wrong_amount",
                               "amcheck_corruptions", "unexpected_errors")):
            failures.append("crash phase")
        if not args.keep:
            shutil.rmtree(acks, ignore_errors=True)

        # -- phase 3: the journal
        payments = args.journal_payments or args.hashes // 2
        per_client = max(1, payments // args.clients)
        cluster.create_database("journal")
        with cluster.connect("journal") as c:
            L.install_journal_workload(c, settlements)
        work = Path(tempfile.mkdtemp(prefix="settlement-journal-"))
        say(f"\n== phase 3: the journal, pgbench, {args.clients} clients, {per_client} payments each"
            f" (begin, then settle / fail / second transaction / app died; 30% retries)")
        run = L.run_journal_pgbench(cluster, "journal", work, clients=args.clients, jobs=args.jobs,
                                    nhash=args.hashes, transactions=per_client, seed=args.seed)
        say(run["command"])
        with cluster.connect("journal") as c:
            pending = c.execute("SELECT count(*) FROM public.x402_payments WHERE status = 'pending'").fetchone()[0]
            reconciled = L.reconcile_journal(c)
            r3 = L.check_journal(c, settlements)
        out["journal"] = {"processed": run["processed"], "failed": run["failed"], "aborted": run["aborted"],
                          "tps": run["tps"], "elapsed_s": round(run["elapsed"], 1), "pending_before_reconcile": pending,
                          "reconciled": reconciled, "stderr_errors": run["stderr_errors"], **r3}
        say(f"payments {run['processed']} in {run['elapsed']:.0f} s ({run['tps']:.0f} TPS); steps {r3['steps']};"
            f" retried begins {r3['retried_begins']}")
        say(f"pending after the load {pending}, reconciled {reconciled}; rows by status {r3['rows']};"
            f" revenue {r3['revenue']} vs expected {r3['expected_revenue']}")
        bad3 = {k: v for k, v in r3.items() if k.endswith("_bad") and v}
        say(f"invariants broken: {bad3 or 'none'}")
        if run["returncode"] or run["failed"] or run["aborted"] or run["stderr_errors"] or bad3 \
                or reconciled != pending:
            failures.append(f"journal phase: {bad3} {run['stderr_errors']}")
        shutil.rmtree(work, ignore_errors=True)
    except Exception:
        say(cluster.log_tail(30))
        raise
    finally:
        if args.keep:
            cluster.stop()
            say(f"cluster kept in {cluster.base}")
        else:
            cluster.cleanup()
    out["failures"] = failures
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
        say(f"\nnumbers written to {args.json}")
    say("\nRESULT: " + ("FAIL " + "; ".join(failures) if failures else "PASS"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
