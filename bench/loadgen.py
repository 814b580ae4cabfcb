#!/usr/bin/env python3
"""Semester-start load on POST /v1/redemptions: one hot code, thousands of students.

Replays an arrival curve (a slow start, a ramp-up, a peak, a tail: SHAPE
below, scaled so that --students arrive over --duration seconds; --speed
compresses time, so --speed 10 plays 10 minutes in one). A share of the
students (--double) double-submit: two identical requests at once. Every
client retries after a timeout (--timeout), a connection error, a 503
(honouring Retry-After up to the cap) or another 5xx, with jittered
exponential backoff, at most --max-attempts attempts. Latencies, timeouts
and backoffs are real time; only the arrivals are compressed.

Targets (--targets, comma-separated, run one after another, each fresh):
  memory    the devserver on its in-memory store: our code's own ceiling
            (the devserver runs every request on tokio; HTTP, JWT check,
            handler and store in one process);
  dynamodb  the devserver on DynamoDB, a locked moto server;
  lambda    a pool of --pool redeem-code processes under a Lambda runtime
            API served here (each process handles one invocation at a
            time; an invocation no process takes within --queue-wait is
            answered 503 as a throttle and counted as such), fed API
            Gateway v2 events, DynamoDB at a locked moto server.
On moto the emulator is the bottleneck: it is single-threaded Python and
serializes every request, so the dynamodb and lambda rows measure moto,
not DynamoDB and not our code; the memory row is there for that reason.

Each target gets its own license (--seats; fewer seats than students
exercises "full"), seeded from a seed file (the devserver's SEED_FILE, or
`seatctl load-seed` for the Lambda pool). At the end it lists the seats
through the admin API (devserver, or a license-admin process) and checks
that no license is oversold: seats taken == the students answered 201
(plus those whose 201 was lost to a client timeout and who then got 200
alreadyMember), seatsUsed == seats listed <= seatsTotal, and no student got
two 201s.

Usage (from the repository root; it never runs cargo):
  .venv/bin/python bench/loadgen.py --speed 10 --targets memory,dynamodb,lambda
Binaries: DEVSERVER (default target/debug/devserver), --bins (redeem-code,
license-admin; default target/debug), target/debug/seatctl. Bounded by
--max-seconds per target: no arrival or retry starts after it, and what is
still in flight then is cut off and reported.
"""
import argparse, asyncio, base64, hashlib, hmac, json, os, random, shutil, signal, statistics
import subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure_lambda as ml  # noqa: E402  (free_port, wait_http, start_moto, stop, AWS)

ROOT = ml.ROOT
LICENSE, CODE = "lic-load", "I-7KQ2-M9TX-4HCD"
OWNER = ("load-owner", "owner@load.edu")
ISSUER = AUDIENCE = "loadgen"
SECRET = "dev-secret"
# The arrival curve: (fraction of --duration, relative rate), linear in between.
# About 5,000 students in 10 minutes peak at ~48/s between 43% and 47%.
SHAPE = [(0.0, 1), (0.35, 5), (0.433, 50), (0.467, 50), (0.55, 5), (1.0, 1)]
PEAK = (0.433, 0.467)


# ---------------------------------------------------------------- arrivals

def rate_at(x):
    for (x0, r0), (x1, r1) in zip(SHAPE, SHAPE[1:]):
        if x0 <= x <= x1:
            return r0 + (r1 - r0) * (x - x0) / (x1 - x0)
    return 0.0


def arrivals(students, duration, seed):
    """Arrival times (curve seconds) of `students` students: a Poisson process
    with the SHAPE's intensity, by thinning, then cut/topped to exactly
    `students` (deterministic for a seed). Returns (times, peak rate/s)."""
    area = sum((x1 - x0) * (r0 + r1) / 2 for (x0, r0), (x1, r1) in zip(SHAPE, SHAPE[1:])) * duration
    scale = students / area
    top = max(r for _, r in SHAPE) * scale
    rng, t, out = random.Random(seed), 0.0, []
    for _ in range(students * 50):
        t += rng.expovariate(top)
        if t >= duration or len(out) >= students:
            break
        if rng.random() * top <= rate_at(t / duration) * scale:
            out.append(t)
    while len(out) < students:  # a short draw: fill by the curve's shape
        x = rng.random()
        if rng.random() * max(r for _, r in SHAPE) <= rate_at(x):
            out.append(x * duration)
    return sorted(out), top


# ---------------------------------------------------------------- JWTs

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(sub, email, ttl=7200):
    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "email": email, "email_verified": True,
                           "iat": now, "exp": now + ttl}).encode())
    sig = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


# ---------------------------------------------------------------- HTTP client

class Http:
    """A minimal HTTP/1.1 client with a keep-alive pool (one connection per
    request in flight, as many clients have)."""

    def __init__(self, port):
        self.port, self.idle = port, []

    async def request(self, method, path, headers, body=b""):
        conn = self.idle.pop() if self.idle else await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = conn
        ok = False
        try:
            head = f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {len(body)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            writer.write(head.encode() + body)
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionError("closed")
            status = int(status_line.split()[1])
            hdrs = {}
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                k, _, v = line.decode("latin-1").partition(":")
                hdrs[k.strip().lower()] = v.strip()
            if "content-length" in hdrs:
                data = await reader.readexactly(int(hdrs["content-length"]))
            elif hdrs.get("transfer-encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int((await reader.readline()).split(b";")[0], 16)
                    chunk = await reader.readexactly(size + 2)
                    if size == 0:
                        break
                    data += chunk[:-2]
            else:
                data = await reader.read()
                hdrs["connection"] = "close"
            ok = hdrs.get("connection", "").lower() != "close"
            return status, hdrs, data
        finally:
            if ok:
                self.idle.append(conn)
            else:
                writer.close()

    def close(self):
        for _, w in self.idle:
            w.close()
        self.idle = []


# ---------------------------------------------------------------- Lambda runtime API

class Invocation:
    def __init__(self, event):
        self.event, self.future, self.taken, self.abandoned = event, asyncio.get_running_loop().create_future(), asyncio.Event(), False


class LambdaPool:
    """N processes of one function binary, each with its own runtime API port
    served by this event loop; invocations queue until a process takes one."""

    def __init__(self, binary, n, env, logdir):
        self.binary, self.n, self.env, self.logdir = binary, n, env, logdir
        self.queue, self.inflight, self.procs, self.servers, self.errors = asyncio.Queue(), {}, [], [], 0
        self.seq = 0

    async def start(self):
        name = os.path.basename(self.binary)
        for i in range(self.n):
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            self.servers.append(server)
            log = open(os.path.join(self.logdir, f"{name}-{i}.log"), "wb")
            self.procs.append(subprocess.Popen([self.binary], env={**self.env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
                                               "AWS_LAMBDA_FUNCTION_NAME": name}, stdout=log, stderr=log))
            log.close()

    async def invoke(self, event, queue_wait):
        inv = Invocation(event)
        self.queue.put_nowait(inv)
        try:
            await asyncio.wait_for(inv.taken.wait(), queue_wait)
        except asyncio.TimeoutError:
            if not inv.taken.is_set():
                inv.abandoned = True
                return None  # throttled
        except asyncio.CancelledError:
            # The client gave up (its timeout): no process may take it later.
            inv.abandoned = True
            raise
        return await inv.future

    async def _serve(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path = line.split()[:2]
                length = 0
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v)
                body = await reader.readexactly(length) if length else b""
                path = path.decode()
                if method == b"GET" and path.endswith("/invocation/next"):
                    while True:
                        inv = await self.queue.get()
                        if not inv.abandoned:
                            break
                    inv.taken.set()
                    self.seq += 1
                    rid = f"req-{self.seq}"
                    self.inflight[rid] = inv
                    data = json.dumps(inv.event).encode()
                    writer.write((f"HTTP/1.1 200 OK\r\nlambda-runtime-aws-request-id: {rid}\r\n"
                                  f"lambda-runtime-deadline-ms: {int(time.time() * 1000) + 30000}\r\n"
                                  "lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:load\r\n"
                                  "lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\n"
                                  f"content-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n").encode() + data)
                else:
                    parts = path.split("/")  # /2018-06-01/runtime/invocation/<rid>/response|error
                    inv = self.inflight.pop(parts[-2], None) if len(parts) >= 2 else None
                    if inv is not None and not inv.future.done():
                        if parts[-1] == "response":
                            inv.future.set_result(json.loads(body or b"null"))
                        else:
                            self.errors += 1
                            inv.future.set_result({"statusCode": 500, "body": body.decode(errors="replace")})
                    writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError, asyncio.CancelledError):
            pass  # the process went away, or the run is over
        finally:
            writer.close()

    def stop(self):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        for s in self.servers:
            s.close()


with open(os.path.join(ROOT, "tests", "fixtures", "apigw-v2-jwt-authorizer.json")) as f:
    EVENT_TEMPLATE = f.read()


def apigw_event(method, path, sub, email, body=None, query=None):
    e = json.loads(EVENT_TEMPLATE)
    qs = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    e.update(rawPath=path, rawQueryString=qs, queryStringParameters=query or None, pathParameters=None, cookies=None,
             body=json.dumps(body) if body is not None else None, isBase64Encoded=False,
             headers={"content-type": "application/json", "host": "api.load.example"})
    e["requestContext"]["http"].update(method=method, path=path, sourceIp="192.0.2.10", userAgent="loadgen")
    e["requestContext"]["authorizer"]["jwt"]["claims"] = {"sub": sub, "email": email, "email_verified": "true"}
    e["requestContext"]["requestId"] = f"{sub}-{time.monotonic_ns()}"
    return e


# ---------------------------------------------------------------- targets

class DevserverTarget:
    def __init__(self, name, devserver, extra_env, moto_url=None):
        self.name, self.devserver, self.extra_env, self.moto_url = name, devserver, extra_env, moto_url

    async def start(self, seed_path, tmp):
        self.port = ml.free_port()
        env = {"PATH": os.environ["PATH"], "PORT": str(self.port), "SEED_FILE": seed_path, "RUST_LOG": "warn",
               "DEV_JWT_SECRET": SECRET, "DEV_JWT_ISSUER": ISSUER, "DEV_JWT_AUDIENCE": AUDIENCE,
               "REDEEM_MAX_FAILURES_PER_SOURCE": "0", **self.extra_env}
        self.log = open(os.path.join(tmp, f"devserver-{self.name}.log"), "wb")
        self.proc = subprocess.Popen([self.devserver], env=env, stdout=self.log, stderr=self.log)
        self.http = Http(self.port)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"devserver ({self.name}) exited; see {self.log.name}")
            try:
                status, *_ = await self.http.request("GET", f"/v1/licenses/{LICENSE}",
                                                     {"authorization": "Bearer " + jwt(*OWNER)})
                if status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.1)
        raise SystemExit(f"devserver ({self.name}) did not serve the seeded license")

    async def redeem(self, token, sub, email, queue_wait):
        status, hdrs, data = await self.http.request(
            "POST", "/v1/redemptions", {"authorization": "Bearer " + token, "content-type": "application/json"},
            json.dumps({"code": CODE}).encode())
        return status, hdrs.get("retry-after"), data

    async def admin_get(self, path, query):
        qs = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
        status, _, data = await self.http.request("GET", path + qs, {"authorization": "Bearer " + jwt(*OWNER)})
        return status, json.loads(data or b"null")

    def stop(self):
        self.http.close()
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill(); self.proc.wait()
        self.log.close()


class LambdaTarget:
    name = "lambda"

    def __init__(self, bins, pool, moto_url):
        self.bins, self.pool_size, self.moto_url = bins, pool, moto_url

    async def start(self, seed_path, tmp):
        env = {**ml.AWS, "TABLE_NAME": "loadgen", "AWS_ENDPOINT_URL_DYNAMODB": self.moto_url}
        subprocess.run([os.path.join(tmp, "seatctl"), "create-table"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([os.path.join(tmp, "seatctl"), "load-seed", seed_path], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        fenv = {**env, "AWS_ENDPOINT_URL_SES": self.moto_url, "STORE": "dynamodb", "MAILER": "ses",
                "REDEEM_MAX_FAILURES_PER_SOURCE": "0", **ml.LAMBDA_ENV,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "RUST_LOG": "warn"}
        self.pool = LambdaPool(os.path.join(tmp, "redeem-code"), self.pool_size, fenv, tmp)
        self.admin = LambdaPool(os.path.join(tmp, "license-admin"), 1, fenv, tmp)
        await self.pool.start(); await self.admin.start()

    async def redeem(self, token, sub, email, queue_wait):
        r = await self.pool.invoke(apigw_event("POST", "/v1/redemptions", sub, email, {"code": CODE}), queue_wait)
        if r is None:
            return "throttled", None, b""
        hdrs = {k.lower(): v for k, v in (r.get("headers") or {}).items()}
        body = r.get("body") or ""
        return r.get("statusCode"), hdrs.get("retry-after"), base64.b64decode(body) if r.get("isBase64Encoded") else body.encode()

    async def admin_get(self, path, query):
        # Bounded: a lost invocation must not hang the report.
        r = await asyncio.wait_for(self.admin.invoke(apigw_event("GET", path, *OWNER, query=query), 60), 120)
        body = r.get("body") or "null"
        return r.get("statusCode"), json.loads(base64.b64decode(body) if r.get("isBase64Encoded") else body)

    def stop(self):
        self.pool.stop(); self.admin.stop()


# ---------------------------------------------------------------- the run

class Stats:
    def __init__(self):
        self.attempts = []   # (start, end, status) per attempt; status int, "timeout", "error" or "throttled"
        self.final = {}      # chain id -> final status
        self.e2e = []        # first send -> final answer (answered chains)
        self.by_student = {}  # sub -> list of final statuses of its chains
        self.started = set()  # students with a chain started
        self.indefinite = set()  # students with an attempt that got no definite answer


async def chain(target, stats, cid, sub, email, token, args, deadline):
    t_first = time.monotonic()
    stats.started.add(sub)
    status = None
    for attempt in range(args.max_attempts):
        t0 = time.monotonic()
        retry_after = None
        try:
            status, retry_after, data = await asyncio.wait_for(target.redeem(token, sub, email, args.queue_wait), args.timeout)
            if status == 200 and b'"alreadyMember":true' not in data.replace(b" ", b""):
                status = "200-other"
        except asyncio.TimeoutError:
            status = "timeout"
        except asyncio.CancelledError:  # cut off at --max-seconds, maybe after the server wrote
            stats.indefinite.add(sub)
            raise
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status = "error"
        stats.attempts.append((t0, time.monotonic(), status))
        if status in ("timeout", "error") or (isinstance(status, int) and status >= 500 and status != 503):
            stats.indefinite.add(sub)
        retriable = status in ("timeout", "error", "throttled") or (isinstance(status, int) and status >= 500)
        if not retriable:
            stats.e2e.append(time.monotonic() - t_first)
            break
        if attempt + 1 == args.max_attempts:
            break
        backoff = min(args.backoff_cap, args.backoff * 2 ** attempt) * random.uniform(0.5, 1.5)
        if retry_after:
            try:
                backoff = max(backoff, min(float(retry_after), args.backoff_cap))
            except ValueError:
                pass
        if time.monotonic() + backoff >= deadline:
            status = "cut off"
            break
        await asyncio.sleep(backoff)
    stats.final[cid] = status
    stats.by_student.setdefault(sub, []).append(status)


async def inspect(target):
    status, lic = await target.admin_get(f"/v1/licenses/{LICENSE}", None)
    if status != 200:
        return None
    lic = lic.get("license", lic)
    seats, cursor = set(), None
    for _ in range(1000):
        q = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        status, page = await target.admin_get(f"/v1/licenses/{LICENSE}/seats", q)
        if status != 200:
            return None
        seats.update(s["userId"] for s in page["seats"])
        cursor = page.get("nextCursor")
        if not cursor:
            break
    return {"seatsUsed": lic.get("seatsUsed"), "seatsTotal": lic.get("seatsTotal"), "seats": seats}


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def run_target(target, args, tmp):
    seed = {"licenses": [{"licenseId": LICENSE, "name": "Load", "organization": "Load U", "product": "ATLAS.ti",
                          "seatsTotal": args.seats, "expiresAt": None, "allowedEmailDomains": [],
                          "owner": {"sub": OWNER[0], "email": OWNER[1]}, "admins": [],
                          "codes": [{"code": CODE, "maxUses": None, "expiresAt": None, "revoked": False}],
                          "invitations": []}]}
    seed_path = os.path.join(tmp, "seed.json")
    with open(seed_path, "w") as f:
        json.dump(seed, f)
    await target.start(seed_path, tmp)
    try:
        times, peak_rate = arrivals(args.students, args.duration, args.seed)
        rng = random.Random(args.seed + 1)
        stats, tasks = Stats(), []
        t_start = time.monotonic()
        deadline = t_start + args.max_seconds
        sent = 0
        for i, t in enumerate(times):
            when = t_start + t / args.speed
            if when >= deadline:
                break
            delay = when - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sub, email = f"stu-{i:05d}", f"stu-{i:05d}@load.edu"
            token = jwt(sub, email)
            copies = 2 if rng.random() < args.double else 1
            for c in range(copies):
                tasks.append(asyncio.ensure_future(chain(target, stats, f"{sub}/{c}", sub, email, token, args, deadline)))
            sent += 1
        gen_end = time.monotonic()
        pending = [t for t in tasks if not t.done()]
        if pending:
            done, pending = await asyncio.wait(pending, timeout=max(0.1, deadline - time.monotonic()))
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        t_end = time.monotonic()
        cut = len(tasks) - len(stats.final)
        try:
            check = await inspect(target)
        except asyncio.TimeoutError:
            check = None
    finally:
        target.stop()

    # -- the report row
    a = stats.attempts
    answered = [x for x in a if isinstance(x[2], int) or x[2] == "200-other"]
    lat = [(e - s) * 1000 for s, e, _ in answered]
    n503 = sum(1 for x in answered if x[2] == 503)
    first_times = [t_start + t / args.speed for t in times[:sent]]
    span_gen = max(gen_end - t_start, 1e-9)
    p0, p1 = (t_start + x * args.duration / args.speed for x in PEAK)
    peak_offered = sum(1 for t in first_times if p0 <= t < p1) / (p1 - p0) if p1 > p0 else 0
    claims = [e for s, e, st in a if st == 201]
    span_all = max((max(claims) if claims else t_end) - t_start, 1e-9)
    peak_claims = sum(1 for e in claims if p0 <= e < p1) / (p1 - p0)
    finals = {}
    for st in stats.final.values():
        finals[str(st)] = finals.get(str(st), 0) + 1
    if cut:
        finals["cut off"] = finals.get("cut off", 0) + cut
    timeouts = sum(1 for x in a if x[2] == "timeout")
    throttled = sum(1 for x in a if x[2] == "throttled")
    got201 = {s for s, sts in stats.by_student.items() if 201 in sts}
    got200 = {s for s, sts in stats.by_student.items() if 200 in sts} - got201
    double201 = sum(1 for sts in stats.by_student.values() if sts.count(201) > 1)
    # Only an attempt without a definite answer (client timeout, connection error, cut off in flight,
    # or a 5xx other than 503) may have taken a seat unseen; a 503 promises that nothing was written.
    unresolved = {s for s, sts in stats.by_student.items() if any(
        x in ("timeout", "error") or (isinstance(x, int) and x >= 500 and x != 503) for x in sts)}
    unresolved |= stats.indefinite | stats.started - set(stats.by_student)
    if check is None:
        verdict = "not inspectable"
    else:
        seats = check["seats"]
        problems = []
        if check["seatsUsed"] != len(seats):
            problems.append(f"seatsUsed {check['seatsUsed']} != {len(seats)} listed")
        if len(seats) > check["seatsTotal"]:
            problems.append(f"OVERSOLD {len(seats)} > {check['seatsTotal']}")
        if got201 - seats:
            problems.append(f"{len(got201 - seats)} answered 201 without a seat")
        extra = seats - got201
        if extra - got200 - unresolved:
            problems.append(f"{len(extra - got200 - unresolved)} seats of students who got only definite refusals (409/503)")
        if double201:
            problems.append(f"{double201} students got two 201s")
        verdict = (f"{'OK' if not problems else 'FAIL: ' + '; '.join(problems)}: seats {len(seats)}/{check['seatsTotal']}, "
                   f"201 students {len(got201)}" + (f" (+{len(extra)} seated whose 201 was lost to a client timeout)" if extra else ""))
    e2e = [x * 1000 for x in stats.e2e]
    row = (f"| {target.name} | {sent} ({len(tasks)} req, {len(a)} attempts) | {sent / span_gen:.1f} / {peak_offered:.1f} | "
           f"{len(claims) / span_all:.1f} / {peak_claims:.1f} | {pct(lat, 50):.0f} / {pct(lat, 99):.0f} | "
           f"{pct(e2e, 50):.0f} / {pct(e2e, 99):.0f} | {100 * n503 / max(len(answered), 1):.1f}% | "
           f"{timeouts} / {throttled} | {json.dumps(finals, sort_keys=True)} | {verdict} |")
    return row, peak_rate


HEADER = ("| target | students sent (requests, attempts) | offered students/s avg / peak | claims (201)/s overall / peak "
          "| attempt latency p50 / p99 ms | student end-to-end p50 / p99 ms | 503 rate | timeouts / throttled "
          "| final answers per request | oversell check |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")


async def amain(args):
    tmp = tempfile.mkdtemp(prefix="loadgen-")
    devserver = os.environ.get("DEVSERVER") or os.path.join(ROOT, "target", "debug", "devserver")
    copies = {"devserver": devserver, "seatctl": os.path.join(ROOT, "target", "debug", "seatctl"),
              "redeem-code": os.path.join(args.bins, "redeem-code"), "license-admin": os.path.join(args.bins, "license-admin")}
    targets = args.targets.split(",")
    for name, src in copies.items():  # private copies: a rebuild during the run cannot swap them
        if name == "devserver" and not {"memory", "dynamodb"} & set(targets):
            continue
        if name != "devserver" and "lambda" not in targets and name != "seatctl":
            continue
        shutil.copy2(src, os.path.join(tmp, name))
    _, peak = arrivals(args.students, args.duration, args.seed)
    print(f"\nloadgen: {args.students} students over {args.duration:.0f} s curve time (peak {peak:.1f}/s), --speed {args.speed:g} "
          f"(so {args.duration / args.speed:.0f} s wall, peak {peak * args.speed:.1f} students/s), {100 * args.double:.0f}% double-submit, "
          f"timeout {args.timeout:g} s, <= {args.max_attempts} attempts, {args.seats} seats, --max-seconds {args.max_seconds:g}.\n"
          "On moto (dynamodb, lambda) the emulator is the bottleneck: one single-threaded Python process serializing every "
          "DynamoDB request; those rows measure moto, not DynamoDB or our code (the memory row shows our code's own ceiling; "
          "the client is one Python asyncio process on the same 2 cores).\n", flush=True)
    rows = []
    try:
        for name in targets:
            moto = None
            try:
                if name == "memory":
                    target = DevserverTarget("memory", os.path.join(tmp, "devserver"), {"STORE": "memory"})
                elif name == "dynamodb":
                    moto, url = ml.start_moto()
                    target = DevserverTarget("dynamodb", os.path.join(tmp, "devserver"), {
                        **ml.AWS, "STORE": "dynamodb", "CREATE_TABLE": "true", "TABLE_NAME": "loadgen",
                        "AWS_ENDPOINT_URL_DYNAMODB": url})
                elif name == "lambda":
                    moto, url = ml.start_moto()
                    target = LambdaTarget(args.bins, args.pool, url)
                    target.name = f"lambda ({args.pool} processes)"
                else:
                    raise SystemExit(f"unknown target {name}")
                print(f"running {name} ...", file=sys.stderr, flush=True)
                row, _ = await run_target(target, args, tmp)
                rows.append(row)
                print(row, file=sys.stderr, flush=True)
            finally:
                if moto:
                    ml.stop(moto)
    finally:
        if args.keep_logs:
            print(f"logs in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(HEADER)
    for r in rows:
        print(r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--targets", default="memory", help="comma-separated: memory, dynamodb, lambda (default memory)")
    ap.add_argument("--students", type=int, default=5000)
    ap.add_argument("--duration", type=float, default=600, help="curve length in seconds (default 600)")
    ap.add_argument("--speed", type=float, default=1.0, help="time compression of the arrivals (10: ten times faster)")
    ap.add_argument("--seats", type=int, default=6000, help="seatsTotal of the seeded license")
    ap.add_argument("--double", type=float, default=0.05, help="share of students who double-submit (default 0.05)")
    ap.add_argument("--timeout", type=float, default=5.0, help="client timeout per attempt, s")
    ap.add_argument("--max-attempts", type=int, default=4)
    ap.add_argument("--backoff", type=float, default=0.25, help="first backoff, s (doubles, jittered)")
    ap.add_argument("--backoff-cap", type=float, default=4.0)
    ap.add_argument("--pool", type=int, default=8, help="redeem-code processes for the lambda target")
    ap.add_argument("--queue-wait", type=float, default=1.0, help="lambda: s an invocation waits for a free process before a 503 throttle")
    ap.add_argument("--bins", default=os.path.join(ROOT, "target", "debug"), help="where redeem-code and license-admin are")
    ap.add_argument("--max-seconds", type=float, default=900, help="per target: no arrival or retry starts after this")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep-logs", action="store_true")
    args = ap.parse_args()
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()
