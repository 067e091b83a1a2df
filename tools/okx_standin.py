"""A local stand-in for OKX's x402 facilitator (API v6), for the demo and the tests: an HTTP
server on 127.0.0.1 that answers as OKX documents it (../shared/INSFORGE.md, "How settlements
really end"), over a chain held in memory.

* POST /api/v6/pay/x402/verify    {paymentPayload, paymentRequirements}
  -> the official x402 SDK's own facilitator verify (tools/x402_sdk_facilitator.py: offline, the
     chain model supplies state and never decides) as {isValid, invalidReason, payer}.
* POST /api/v6/pay/x402/settle    {paymentPayload, paymentRequirements, syncSettle?}
  -> verify again; then "broadcast" the transferWithAuthorization (the token model applies it:
     balance moves, the nonce is used) and answer right away, as OKX's default (syncSettle false):
     {success: true, status: "pending", transaction, network, payer}. With syncSettle true:
     status "success". A payment that does not verify, or was already settled: success false with
     OKX-style errorReason and no transaction.
* GET  /api/v6/pay/x402/settle/status?txHash=0x...
  -> {success: true, status: "pending"} the first `pending_polls` times it is asked about a
     broadcast transaction, then {success: true, status: "success"}; an unknown hash:
     {success: false, errorReason: "not_found"}.

Nothing leaves the machine: the stand-in is the whole "network".
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from eth_utils import keccak
from x402_sdk_facilitator import FakeChain, SdkFacilitator, Token


class OkxStandIn:
    def __init__(self, tokens: list[Token], pending_polls: int = 1):
        self.chain = FakeChain(tokens)
        self.sdk = SdkFacilitator(self.chain, sorted({f"eip155:{t.chain_id}" for t in tokens}))
        self.pending_polls = pending_polls
        self.txs: dict[str, dict] = {}  # hash -> {"polls": n, "payer": ...}
        self.lock = threading.Lock()
        self.calls: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "OkxStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the facilitator -------------------------------------------------------------------------------
    def verify(self, payload: dict, requirements: dict) -> dict:
        return self.sdk.verify(payload, requirements, int(time.time()))

    def settle(self, payload: dict, requirements: dict, sync: bool) -> dict:
        network = requirements.get("network")
        with self.lock:
            v = self.verify(payload, requirements)
            if not v["isValid"]:
                return {"success": False, "errorReason": v["invalidReason"], "errorMessage": v.get("invalidMessage"),
                        "payer": v.get("payer") or "", "transaction": "", "network": network}
            auth = payload["payload"]["authorization"]
            token = self.chain._token(requirements["asset"])
            nonce = bytes.fromhex(auth["nonce"][2:])
            token.used_nonces.add((auth["from"].lower(), nonce))
            frm, to, value = auth["from"].lower(), auth["to"].lower(), int(auth["value"])
            token.balances[frm] = token.balance_of(frm) - value
            token.balances[to] = token.balance_of(to) + value
            tx = "0x" + keccak(b"okx-standin" + nonce + frm.encode()).hex()
            self.txs[tx] = {"polls": 0, "payer": auth["from"]}
        return {"success": True, "status": "success" if sync else "pending", "transaction": tx,
                "network": network, "payer": auth["from"]}

    def status(self, tx: str) -> dict:
        with self.lock:
            t = self.txs.get(tx.lower())
            if t is None:
                return {"success": False, "errorReason": "not_found", "status": "", "transaction": tx}
            t["polls"] += 1
            done = t["polls"] > self.pending_polls
        return {"success": True, "status": "success" if done else "pending", "transaction": tx}

    # -- HTTP ------------------------------------------------------------------------------------------
    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                path = urlparse(self.path).path
                standin.calls.append(f"POST {path}")
                if path == "/api/v6/pay/x402/verify":
                    self._json(200, standin.verify(body["paymentPayload"], body["paymentRequirements"]))
                elif path == "/api/v6/pay/x402/settle":
                    self._json(200, standin.settle(body["paymentPayload"], body["paymentRequirements"],
                                                   bool(body.get("syncSettle"))))
                else:
                    self._json(404, {"error": "no such endpoint"})

            def do_GET(self):
                u = urlparse(self.path)
                standin.calls.append(f"GET {u.path}")
                if u.path == "/api/v6/pay/x402/settle/status":
                    self._json(200, standin.status(parse_qs(u.query).get("txHash", [""])[0]))
                else:
                    self._json(404, {"error": "no such endpoint"})

        return Handler


def post(url: str, body: dict) -> dict:
    import urllib.request
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def get(url: str) -> dict:
    import urllib.request
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())
