#!/usr/bin/env python3
"""Generate the Permit2 cases with the official x402 SDK's verdicts, for core/tests/x402_permit2.rs.

The payments (`exact` with payload.permit2Authorization and `upto`, the valid one and every single
fault) are tools/x402_permit2.py's `cases()` for its default fixture (Base Sepolia USDC, signed with
eth-account, deterministic); each verdict is the SDK's own facilitator verify (PyPI `x402` 2.25,
offline, tools/x402_permit2_sdk.py). So `cargo test` holds the Rust verifier to the SDK without
Python; tests/integration/test_x402_permit2_sdk.py runs the SDK live on more lanes.

Writes core/tests/data/x402_permit2_cases.json next to this script:
  {"sdk": version, "cases": [{kind, name, now, chain, payload, requirements,
                              sdk: {isValid, invalidReason, payer}}]}
`chain` is the stand-in chain state the case sets (empty: defaults). Deterministic: re-running
writes the same file. Needs eth-account and the x402 SDK (tools/requirements.txt).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tools"))

import x402_permit2 as p2  # noqa: E402
from x402_permit2_sdk import EXPECT, sdk_verify, sdk_version  # noqa: E402


def main() -> int:
    fx = p2.Fixture()
    out = []
    for kind in ("exact", "upto"):
        for c in p2.cases(kind, fx):
            chain = {k: v for k, v in c.chain.items()}
            res = sdk_verify(c.payload, c.requirements, {"now": fx.now, **chain})
            if res["invalidReason"] != EXPECT[kind][c.name]:
                raise SystemExit(f"{kind} / {c.name}: the SDK said {res}, expected {EXPECT[kind][c.name]}")
            if "used_nonces" in chain:
                chain["used_nonces"] = [[owner, str(nonce)] for owner, nonce in chain["used_nonces"]]
            out.append({"kind": kind, "name": c.name, "now": fx.now, "chain": chain, "payload": c.payload,
                        "requirements": c.requirements, "sdk": res})
    path = os.path.join(HERE, "x402_permit2_cases.json")
    with open(path, "w") as f:  # one case a line
        f.write(f'{{"sdk": {json.dumps(sdk_version())}, "cases": [\n')
        f.write(",\n".join(json.dumps(c, sort_keys=True) for c in out))
        f.write("\n]}\n")
    print(f"wrote {len(out)} cases to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
