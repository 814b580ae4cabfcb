#!/usr/bin/env python3
"""Fault-injecting proxy for the DynamoDB JSON protocol (docs/stampede.md).

Sits between a DynamoDB client (the devserver) and a DynamoDB emulator
(scripts/moto_locked.py) and forwards every POST, the operation named by
the `X-Amz-Target` header. Per request it may inject, each with its own
rate:

  throttle   not forwarded: 400 ThrottlingException or
             ProvisionedThroughputExceededException (any operation)
  conflict   not forwarded: 400 TransactionCanceledException whose
             CancellationReasons has one `TransactionConflict` among `None`s
             (TransactWriteItems only)
  error500   forwarded (the write commits), then 500 InternalServerError
             instead of the real answer (any operation; a replayed answer,
             below, too)
  drop       forwarded (the write commits), then the connection is closed
             without an answer (any operation; a replayed answer too)
  latency    a random pause (up to --latency-max-ms) before forwarding;
             drawn independently of the others

It also does what DynamoDB does and the emulator does not: the
ClientRequestToken of TransactWriteItems. A successful commit's request
and answer are kept for 10 minutes under its token; the same token with the
same request gets that answer again without being forwarded ("replayed"),
with another request 400 IdempotentParameterMismatchException, and while
the first is still in flight 400 TransactionInProgressException. A
cancelled or failed original is forgotten (it may run again).

Control endpoints (127.0.0.1 only, no auth):
  GET /_faults   {"faults": {kind: count}, "emulated": {kind: count}, "config": ...}
  PUT /_config   {"seed": S, "rates": {kind: p}, "latencyMaxMs": N}: new rates,
                 and the random generator re-seeded

Run: .venv/bin/python tests/stampede/proxy.py --port P --upstream http://127.0.0.1:M
"""

import argparse
import collections
import http.client
import http.server
import json
import random
import threading
import time
import urllib.parse
import uuid
import zlib

# Error type prefixes as DynamoDB sends them in `__type`; the SDK keeps
# what follows the `#`.
DDB = "com.amazonaws.dynamodb.v20120810#"
CORAL = "com.amazon.coral.availability#"

# The kinds of injected faults, in the order they are considered.
FAULT_KINDS = ("throttle", "conflict", "error500", "drop", "latency")

# How long a committed transaction's token is remembered (as DynamoDB does).
TOKEN_TTL_SECS = 600


class Faults:
    """The injection policy and its counters, shared by all handler threads."""

    def __init__(self, seed, rates, latency_max_ms):
        self.lock = threading.Lock()
        self.faults = collections.Counter()
        # Token handling is DynamoDB's behaviour, not a fault: counted apart.
        self.emulated = collections.Counter()
        self.configure(seed, rates, latency_max_ms)

    def configure(self, seed, rates, latency_max_ms):
        unknown = set(rates) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        with self.lock:
            self.rng = random.Random(seed)
            self.seed = seed
            self.rates = {kind: float(rates.get(kind, 0.0)) for kind in FAULT_KINDS}
            self.latency_max_ms = int(latency_max_ms)

    def draw(self, kind):
        """Whether to inject `kind` now; counts it if so."""
        with self.lock:
            hit = self.rates[kind] > 0 and self.rng.random() < self.rates[kind]
            if hit:
                self.faults[kind] += 1
            return hit

    def uniform(self, a, b):
        with self.lock:
            return self.rng.uniform(a, b)

    def choice(self, seq):
        with self.lock:
            return self.rng.choice(seq)

    def count_emulated(self, kind):
        with self.lock:
            self.emulated[kind] += 1

    def snapshot(self):
        with self.lock:
            return {
                "faults": {kind: self.faults[kind] for kind in FAULT_KINDS},
                "emulated": dict(self.emulated),
                "config": {
                    "seed": self.seed,
                    "rates": dict(self.rates),
                    "latencyMaxMs": self.latency_max_ms,
                },
            }


class Tokens:
    """ClientRequestToken bookkeeping of TransactWriteItems."""

    def __init__(self):
        self.lock = threading.Lock()
        # token -> {"request": parsed body, "answer": (status, headers, body)
        #           or None while in flight, "expires": monotonic time}
        self.entries = {}

    def begin(self, token, request):
        """("replay", answer), ("mismatch", None), ("in_progress", None) or
        ("new", None); "new" marks the token in flight."""
        now = time.monotonic()
        with self.lock:
            for old in [t for t, e in self.entries.items() if e["expires"] < now]:
                del self.entries[old]
            entry = self.entries.get(token)
            if entry is None:
                self.entries[token] = {"request": request, "answer": None, "expires": now + TOKEN_TTL_SECS}
                return "new", None
            if entry["answer"] is None:
                return "in_progress", None
            if entry["request"] != request:
                return "mismatch", None
            return "replay", entry["answer"]

    def finish(self, token, answer):
        """Remembers a successful commit's answer, forgets anything else."""
        with self.lock:
            if answer is not None and answer[0] == 200:
                self.entries[token]["answer"] = answer
                self.entries[token]["expires"] = time.monotonic() + TOKEN_TTL_SECS
            else:
                self.entries.pop(token, None)


def error_answer(status, type_, message, extra=None):
    """An error answer in the shape the SDKs parse: `__type`, `message`."""
    body = {"__type": type_, "message": message}
    body.update(extra or {})
    return status, {}, json.dumps(body).encode()


def conflict_answer(n, conflicted):
    """TransactionCanceledException with one reason for each of the `n`
    transaction items, item `conflicted` `TransactionConflict`, the others
    `None`, as DynamoDB words it."""
    codes = ["TransactionConflict" if i == conflicted else "None" for i in range(n)]
    reasons = [
        {"Code": code, "Message": "Transaction is ongoing for the item"}
        if code != "None"
        else {"Code": "None"}
        for code in codes
    ]
    message = (
        "Transaction cancelled, please refer cancellation reasons for specific reasons ["
        + ", ".join(codes)
        + "]"
    )
    return error_answer(400, DDB + "TransactionCanceledException", message, {"CancellationReasons": reasons})


THROTTLES = (
    (CORAL + "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    (
        DDB + "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
    ),
)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave as two writes: without TCP_NODELAY, Nagle holds
    # the body until the client's delayed ACK, 40 ms per answer.
    disable_nagle_algorithm = True
    # Set on the class by main(): Faults, Tokens, upstream (host, port).
    faults = None
    tokens = None
    upstream = None

    def log_message(self, fmt, *args):  # quiet: the counters say what happened
        pass

    def read_body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def send_answer(self, answer):
        status, headers, body = answer
        self.send_response(status)
        sent = {k.lower() for k in headers}
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                self.send_header(name, value)
        if "content-type" not in sent:
            self.send_header("Content-Type", "application/x-amz-json-1.0")
        if "x-amzn-requestid" not in sent:
            self.send_header("x-amzn-RequestId", uuid.uuid4().hex)
        if "x-amz-crc32" not in sent:
            self.send_header("x-amz-crc32", str(zlib.crc32(body)))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, value):
        self.send_answer((status, {"Content-Type": "application/json"}, json.dumps(value).encode()))

    def forward(self, body):
        """The emulator's answer to this request, on a fresh connection."""
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "host", "content-length")}
            headers["Host"] = f"{self.upstream[0]}:{self.upstream[1]}"
            conn.request("POST", self.path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def do_GET(self):
        if self.path == "/_faults":
            self.send_json(200, self.faults.snapshot())
        else:
            self.send_json(404, {"error": "not found"})

    def do_PUT(self):
        body = self.read_body()
        if self.path != "/_config":
            self.send_json(404, {"error": "not found"})
            return
        try:
            cfg = json.loads(body)
            self.faults.configure(cfg.get("seed", 0), cfg.get("rates", {}), cfg.get("latencyMaxMs", 0))
        except (ValueError, TypeError, AttributeError) as err:
            self.send_json(400, {"error": str(err)})
            return
        self.send_json(200, self.faults.snapshot())

    def do_POST(self):
        body = self.read_body()
        op = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        faults = self.faults

        # Refused at the door: nothing is looked at, nothing is written.
        if faults.draw("throttle"):
            self.send_answer(error_answer(400, *faults.choice(THROTTLES)))
            return

        token = None
        request = None
        if op == "TransactWriteItems":
            try:
                request = json.loads(body)
            except ValueError:
                request = {}
            token = request.get("ClientRequestToken")
        if token is not None:
            state, answer = self.tokens.begin(token, request)
            if state == "replay":
                faults.count_emulated("token_replayed")
                self.lose_or_send(answer)
                return
            if state == "mismatch":
                faults.count_emulated("token_mismatch")
                self.send_answer(error_answer(
                    400, DDB + "IdempotentParameterMismatchException",
                    "The request uses the same client token as a previous, but non-identical request.",
                ))
                return
            if state == "in_progress":
                faults.count_emulated("token_in_progress")
                self.send_answer(error_answer(
                    400, DDB + "TransactionInProgressException",
                    "Transaction with the same client token is still in progress.",
                ))
                return

        answer = None
        try:
            if op == "TransactWriteItems" and faults.draw("conflict"):
                n = max(1, len(request.get("TransactItems", [])))
                answer = conflict_answer(n, faults.choice(range(n)))
                self.send_answer(answer)
                return
            if faults.draw("latency"):
                time.sleep(faults.uniform(0, faults.latency_max_ms) / 1000)
            answer = self.forward(body)
        except OSError:
            self.send_answer(error_answer(500, DDB + "InternalServerError", "upstream unreachable"))
            return
        finally:
            if token is not None:
                # A conflict we made up is a cancelled transaction: forgotten.
                committed = answer if answer is not None and answer[0] == 200 else None
                self.tokens.finish(token, committed)

        self.lose_or_send(answer)

    def lose_or_send(self, answer):
        """Sends the answer to a request that has been carried out (forwarded,
        or replayed from its token), unless a 500 or a dropped connection
        loses it."""
        if self.faults.draw("error500"):
            self.send_answer(error_answer(500, DDB + "InternalServerError", "Internal server error"))
        elif self.faults.draw("drop"):
            self.close_connection = True
        else:
            self.send_answer(answer)


def parse_rates(text):
    """`throttle=0.05,drop=0.02` -> {"throttle": 0.05, "drop": 0.02}"""
    rates = {}
    for part in filter(None, text.split(",")):
        kind, _, rate = part.partition("=")
        rates[kind.strip()] = float(rate)
    return rates


def serve(port, upstream, seed=0, rates=None, latency_max_ms=0):
    """Starts the proxy on a daemon thread; returns the server."""
    parsed = urllib.parse.urlsplit(upstream)
    handler = type("BoundHandler", (Handler,), {
        "faults": Faults(seed, rates or {}, latency_max_ms),
        "tokens": Tokens(),
        "upstream": (parsed.hostname, parsed.port),
    })
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True, help="the emulator's base URL")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rates", default="", help="e.g. throttle=0.05,conflict=0.1,error500=0.02,drop=0.02,latency=0.1")
    p.add_argument("--latency-max-ms", type=int, default=50)
    args = p.parse_args()
    server = serve(args.port, args.upstream, args.seed, parse_rates(args.rates), args.latency_max_ms)
    print(f"stampede proxy listening on http://127.0.0.1:{args.port} -> {args.upstream}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        print(json.dumps(server.RequestHandlerClass.faults.snapshot()), flush=True)


if __name__ == "__main__":
    main()
