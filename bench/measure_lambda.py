#!/usr/bin/env python3
"""Cold start, peak RSS and DynamoDB round trips of the real Lambda binaries.

Each run spawns a release `bootstrap` (x86-64 here) against a minimal Lambda
runtime API served by this script, with the DynamoDB and SES clients built
during init against a locked moto server behind a timing proxy:

- init: process spawn -> the runtime's first GET .../invocation/next;
- first response: spawn -> the POST of the first response;
- peak RSS: VmHWM of the process after its responses;
- round trips: DynamoDB requests per invocation and how many of them ran one
  after another (overlapping requests count as one round trip).

Usage: bench/measure_lambda.py [--runs N] [--bins target/release]
Needs: the project's .venv (scripts/test.sh makes it) and target/debug/seatctl.
"""
import argparse, http.server, json, os, socket, statistics, subprocess, sys, threading, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_PY = os.path.join(ROOT, ".venv", "bin", "python")
CODE = "I-7KQ2-M9TX-4HCD"
TOKEN = "perf-open-link-token-0123456789abcdefghijklmnopq"
LICENSE = "lic-perf"
OWNER = ("owner-1", "owner@perf.edu")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_http(url, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read(); return
        except Exception:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer")


class Proxy(threading.Thread):
    """Forwards HTTP to moto and records (start, end, operation) per request."""

    def __init__(self, upstream):
        super().__init__(daemon=True)
        self.upstream, self.port, self.log, self.lock = upstream, free_port(), [], threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave as two writes: without TCP_NODELAY,
            # Nagle holds the body until the client's delayed ACK (40 ms).
            disable_nagle_algorithm = True
            def log_message(self, *a): pass
            def do_POST(self):
                start = time.monotonic()
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                req = urllib.request.Request(proxy.upstream + self.path, data=body, method="POST")
                for k, v in self.headers.items():
                    if k.lower() not in ("host", "content-length", "connection"):
                        req.add_header(k, v)
                try:
                    resp = urllib.request.urlopen(req, timeout=30); status, data, hdrs = resp.status, resp.read(), resp.headers
                except urllib.error.HTTPError as e:
                    status, data, hdrs = e.code, e.read(), e.headers
                self.send_response(status)
                for k, v in hdrs.items():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                        self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers(); self.wfile.write(data)
                op = (self.headers.get("x-amz-target") or "?").split(".")[-1]
                with proxy.lock:
                    proxy.log.append((start, time.monotonic(), op))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)

    def run(self):
        self.server.serve_forever()

    def take(self):
        with self.lock:
            log, self.log = self.log, []
        return log


def round_trips(log):
    waves, end = 0, None
    for start, stop, _ in sorted(log):
        if end is None or start >= end:
            waves += 1; end = stop
        else:
            end = max(end, stop)
    return waves


class Runtime:
    """The Lambda runtime API for one process: hands out `events`, records timings."""

    def __init__(self, events):
        self.port, self.events, self.times, self.responses = free_port(), list(events), {}, []
        self.done = threading.Event()
        rt = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave as two writes: without TCP_NODELAY,
            # Nagle holds the body until the client's delayed ACK (40 ms).
            disable_nagle_algorithm = True
            def log_message(self, *a): pass
            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    self.send_error(404); return
                rt.times.setdefault("next", time.monotonic())
                if not rt.events:
                    rt.done.set(); time.sleep(30); return
                event = json.dumps(rt.events.pop(0)).encode()
                rid = f"req-{len(rt.responses)}"
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:perf")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("content-length", str(len(event)))
                self.end_headers(); self.wfile.write(event)
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                rt.times.setdefault("response", time.monotonic())
                rt.responses.append((self.path, json.loads(body or b"null")))
                self.send_response(202); self.send_header("content-length", "0"); self.end_headers()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def event(method, path, sub, email, body=None):
    with open(os.path.join(ROOT, "tests", "fixtures", "apigw-v2-jwt-authorizer.json")) as f:
        e = json.load(f)
    e.update(rawPath=path, rawQueryString="", queryStringParameters=None, pathParameters=None,
             body=json.dumps(body) if body is not None else None, isBase64Encoded=False, cookies=None)
    e["requestContext"]["http"].update(method=method, path=path)
    e["requestContext"]["authorizer"]["jwt"]["claims"] = {"sub": sub, "email": email, "email_verified": "true"}
    return e


def scenario(binary, run):
    u = f"perf-{binary}-{run}"
    if binary == "redeem-code":
        return [event("POST", "/v1/redemptions", u + "a", u + "a@perf.edu", {"code": CODE}),
                event("POST", "/v1/redemptions", u + "b", u + "b@perf.edu", {"code": CODE})]
    if binary == "accept-invite":
        return [event("GET", f"/v1/invites/{TOKEN}", u, u + "@perf.edu")]
    if binary == "list-invitations":
        return [event("GET", "/v1/me/invitations", u, u + "@perf.edu")]
    if binary == "contact-owner":
        return [event("POST", f"/v1/licenses/{LICENSE}/contact-owner", u, u + "@perf.edu", {"subject": "Hi", "message": "Hello"})]
    if binary == "license-admin":
        return [event("GET", f"/v1/licenses/{LICENSE}", *OWNER)]
    if binary == "invitation-admin":
        return [event("GET", f"/v1/licenses/{LICENSE}/invitations", *OWNER)]
    raise SystemExit(binary)


def measure(path, binary, run, env, proxy):
    rt = Runtime(scenario(binary, run))
    proxy.take()
    t0 = time.monotonic()
    proc = subprocess.Popen([path], env={**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{rt.port}",
                                         "AWS_LAMBDA_FUNCTION_NAME": binary}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not rt.done.wait(30):
            raise SystemExit(f"{binary}: no responses")
        with open(f"/proc/{proc.pid}/status") as f:
            hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))
    finally:
        proc.kill(); proc.wait(); rt.server.shutdown()
    log = proxy.take()
    statuses = [r[1].get("statusCode") for r in rt.responses]
    return {"init_ms": (rt.times["next"] - t0) * 1000, "first_ms": (rt.times["response"] - t0) * 1000,
            "rss_mb": hwm / 1024, "statuses": statuses, "requests": len(log), "ops": [op for *_, op in sorted(log)]}


def start_moto():
    """A locked moto server on a free port, under a 6 GB address-space limit; (process, url)."""
    port = free_port()
    moto = subprocess.Popen(["prlimit", "--as=6000000000", VENV_PY, os.path.join(ROOT, "scripts", "moto_locked.py"),
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/moto-api/")
    return moto, url


def stop(proc):
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill(); proc.wait()


AWS = {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
       "AWS_EC2_METADATA_DISABLED": "true", "TABLE_NAME": "perf", "PATH": os.environ["PATH"],
       # A bench key, shared by seatctl and the functions (a function in a
       # Lambda environment refuses the built-in development key).
       "HASH_KEYS": '{"current":"bench","bench":"bench-key-not-a-secret-0123456789abcdef"}'}
# What Lambda sets in every execution environment: the functions then skip
# the table check they make against a local endpoint (never sent in AWS).
LAMBDA_ENV = {"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}


def seed_ours(moto_url, proxy_port, seatctl=os.path.join(ROOT, "target", "debug", "seatctl")):
    """Creates the table, seeds the 10,000-seat license lic-perf (code CODE, open link TOKEN) with
    seatctl and verifies the SES sender; returns the functions' environment (DynamoDB via the proxy)."""
    cli_env = {**AWS, "AWS_ENDPOINT_URL_DYNAMODB": moto_url}
    subprocess.run([seatctl, "create-table"], env=cli_env, check=True, stdout=subprocess.DEVNULL)
    seed = {"licenses": [{"licenseId": LICENSE, "name": "Perf", "organization": "Perf U", "product": "ATLAS.ti",
                          "seatsTotal": 10000, "owner": {"sub": OWNER[0], "email": OWNER[1]},
                          "codes": [{"code": CODE}], "invitations": [{"token": TOKEN, "email": None}]}]}
    seed_path = f"/tmp/perf-seed-{os.getpid()}.json"
    with open(seed_path, "w") as f:
        json.dump(seed, f)
    subprocess.run([seatctl, "load-seed", seed_path], env=cli_env, check=True, stdout=subprocess.DEVNULL)
    os.unlink(seed_path)
    urllib.request.urlopen(urllib.request.Request(moto_url, method="POST", data=(
        "Action=VerifyEmailIdentity&EmailAddress=no-reply%40perf.edu").encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"})).read()
    return {**AWS, "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{proxy_port}", "AWS_ENDPOINT_URL_SES": moto_url,
            "STORE": "dynamodb", "MAILER": "ses", "SENDER_EMAIL": "no-reply@perf.edu",
            **LAMBDA_ENV, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "RUST_LOG": "warn"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--bins", default=os.path.join(ROOT, "target", "release"))
    args = ap.parse_args()
    moto, moto_url = start_moto()
    try:
        proxy = Proxy(moto_url); proxy.start()
        env = seed_ours(moto_url, proxy.port)
        bins = ["redeem-code", "accept-invite", "list-invitations", "contact-owner", "license-admin", "invitation-admin"]
        print(f"{'function':18} {'size MB':>8} {'init ms':>8} {'first ms':>9} {'RSS MB':>7}  statuses  DynamoDB requests (round trips)")
        for b in bins:
            path = os.path.join(args.bins, b)
            rows = [measure(path, b, run, env, proxy) for run in range(args.runs + 1)][1:]  # drop warm-up
            med = lambda k: statistics.median(r[k] for r in rows)
            size = os.path.getsize(path) / 1e6
            print(f"{b:18} {size:8.2f} {med('init_ms'):8.1f} {med('first_ms'):9.1f} {max(r['rss_mb'] for r in rows):7.1f}  "
                  f"{rows[-1]['statuses']}  {rows[-1]['requests']}")
        # Round trips of a cold and a warm redemption, one process, two users.
        rt = Runtime(scenario("redeem-code", 999))
        proc = subprocess.Popen([os.path.join(args.bins, "redeem-code")], env={**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{rt.port}",
                                "AWS_LAMBDA_FUNCTION_NAME": "redeem-code"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proxy.take()
        marks = []
        while len(rt.responses) < 2 and proc.poll() is None:
            if len(rt.responses) > len(marks):
                marks.append(time.monotonic())
            time.sleep(0.001)
        rt.done.wait(10); proc.kill(); proc.wait(); rt.server.shutdown()
        log = proxy.take()
        split = marks[0] if marks else time.monotonic()
        first = [r for r in log if r[0] < split]; second = [r for r in log if r[0] >= split]
        for name, part in (("cold redemption", first), ("warm redemption", second)):
            print(f"{name}: {len(part)} DynamoDB requests in {round_trips(part)} round trips: {[op for *_, op in sorted(part)]}")
    finally:
        stop(moto)

if __name__ == "__main__":
    main()
