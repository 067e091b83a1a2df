"""jsonb layout benchmark: the extension's own jsonb reader and writer (src/jsonb/layout.rs)
against PostgreSQL's own code on the same inputs, in the same backend, interleaved.

  read   a jsonb argument to serde JSON: ours (walks the binary layout) against a walk with
         JsonbIteratorInit/JsonbIteratorNext building the same value
  write  a JsonbValue tree to a jsonb datum: ours (one buffer, one palloc) against
         JsonbValueToJsonb

over the documents the extension reads and writes: a Clerk token's claims (what verify_jwt
returns), an x402 EIP-3009 payment payload and its requirements (what verify_payment and
record_settlement read), a facilitator's settle answer, and a 200-key object (larger claims).
insforge._jsonb_layout_bench() does the timing in C-speed loops (medians of 15 alternating
rounds) and checks both sides gave the same value (read) or the same bytes (write).

Usage: python3 benches/jsonb_bench.py [--iterations 200000] [--json]
Install a release build first (cargo pgrx install --release, or bash scripts/setup.sh --release).
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from pgcluster import Cluster  # noqa: E402

DOCS = {
    "Clerk claims (12 keys)": {
        "azp": "https://app.example.com", "exp": 1767225600, "fva": [0, -1], "iat": 1767225540,
        "iss": "https://clerk.example.com", "nbf": 1767225530, "sid": "sess_2xPnT4aGqP6pW3R4zZ",
        "sub": "user_2xPnT4aGqP6pW3R4zZcJ9k", "role": "authenticated", "email": "ada@example.com",
        "aud": "insforge-api", "org_id": "org_2xQ8",
    },
    "x402 payment payload": {
        "x402Version": 2,
        "accepted": {"scheme": "exact", "network": "eip155:196", "amount": "10000",
                     "asset": "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8",
                     "payTo": "0x209693bc6afc0c5328ba36faf03c514ef312287c", "maxTimeoutSeconds": 60,
                     "extra": {"name": "Global Dollar", "version": "1"}},
        "payload": {"signature": "0x" + "ab" * 65,
                    "authorization": {"from": "0x857b06519e91e3a54538791bdbb0e22373e36b66",
                                      "to": "0x209693bc6afc0c5328ba36faf03c514ef312287c", "value": "10000",
                                      "validAfter": "1767225000", "validBefore": "1767225660",
                                      "nonce": "0x" + "f3" * 32}},
        "resource": {"url": "https://api.example.com/report", "description": "A report", "mimeType": "application/json"},
    },
    "facilitator settle answer": {
        "success": True, "payer": "0x857b06519e91e3a54538791bdbb0e22373e36b66",
        "transaction": "0x" + "5e" * 32, "network": "eip155:196", "amount": "10000",
        "extensions": {"okx": {"status": "success", "blockNumber": 123456789}},
    },
    "200-key object": {f"claim_{i:03d}": (i if i % 3 == 0 else f"value {i}" if i % 3 == 1 else [i, str(i)])
                       for i in range(200)},
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=200_000)
    ap.add_argument("--port", type=int, default=55475)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args()
    cluster = Cluster(port=args.port)
    results = []
    try:
        cluster.start()
        db = "jsonb_bench"
        cluster.create_database(db)
        with cluster.connect(db) as c:
            for name, doc in DOCS.items():
                rows = c.execute("SELECT half, ours_ns, postgres_ns, identical"
                                 " FROM insforge._jsonb_layout_bench(%s, %s)",
                                 (json.dumps(doc), args.iterations)).fetchall()
                for half, ours, theirs, identical in rows:
                    if not identical:
                        sys.exit(f"{name}, {half}: ours and PostgreSQL's differ")
                    results.append({"doc": name, "half": half, "ours_ns": round(ours, 1),
                                    "postgres_ns": round(theirs, 1), "ours_over_postgres": round(ours / theirs, 2)})
    finally:
        cluster.stop()
    if args.json:
        print(json.dumps({"rows": results}))
        return
    print("| document | half | ours (ns) | PostgreSQL's (ns) | ours / PostgreSQL's |")
    print("|---|---|---:|---:|---:|")
    for r in results:
        print(f"| {r['doc']} | {r['half']} | {r['ours_ns']} | {r['postgres_ns']} | {r['ours_over_postgres']} |")


if __name__ == "__main__":
    main()
