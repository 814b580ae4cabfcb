#!/usr/bin/env python3
"""Randomized seat-claim stampedes against the devserver on DynamoDB, with a
history checker (docs/stampede.md).

Each run: a fresh table, a devserver on it whose DynamoDB traffic goes
through the fault-injecting proxy (tests/stampede/proxy.py), one seeded
license with a code and an open invite link, and a crowd of users who
redeem, duplicate their submissions, retry like real clients, leave and
rejoin. Then the table is read directly from the emulator and checked
against every answer the clients got. One JSON line per run, then an
aggregate; exit status 1 if any invariant was violated.

Usually started by scripts/stampede.sh, which starts the emulator and the
proxy; by hand:
  .venv/bin/python tests/stampede/run.py --moto http://127.0.0.1:M \
      --proxy http://127.0.0.1:P [--runs 50] [--seed S] [--no-faults]
"""

import argparse
import base64
import collections
import datetime
import hashlib
import hmac
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.config
import signal
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

LICENSE_ID = "lic-stampede"
CODE = "I-7KQ2-M9TX-4HCD"
INVITE_TOKEN = "stampede-open-link-0123456789abcdefghijklmnopqrstu"
JWT_SECRET = "stampede-secret"
JWT_ISSUER = "stampede-issuer"
JWT_AUDIENCE = "stampede-audience"

# Client behaviour: tries per logical request, pause between tries, and how
# long one try may take before it counts as a timeout.
MAX_TRIES = 8
BACKOFF_SECS = (0.02, 0.1)
TRY_TIMEOUT_SECS = 20
# Event times are stored to the millisecond: windows are widened this much.
SLACK_SECS = 0.002

# Every invariant the checker counts, in the order they are reported.
INVARIANTS = (
    "seats_over_total",           # more seats than seatsTotal
    "seat_counter_mismatch",      # sum of seat counters' `used` != seat items
    "code_uses_mismatch",         # code use counters != claims through the code
    "code_over_max_uses",         # more claims through the code than maxUses
    "invite_claimed_twice",       # the single-use open link claimed twice
    "one_seat_per_user",          # a user's seat events do not alternate, or disagree with the seat item
    "answered_201_without_claim", # more 201 answers than seatClaimed events (per user)
    "claim_without_201",          # more seatClaimed events than 201s + unknown outcomes (per user)
    "answered_204_without_release",
    "release_without_204",
    "already_member_without_seat",  # alreadyMember: true to a request that took the seat itself
    "unchanged_but_committed",    # a try promised "nothing changed" but its write committed
    "leave_404_after_seat",       # a leave answered 404 though the user had a seat when it began
    "orphan_event",               # a seat event with no request of that user in flight
    "server_error_500",           # any 5xx other than 503
)


# ---- small helpers -------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(sub):
    """An HS256 bearer token the devserver's local authorizer accepts."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "sub": sub, "email": f"{sub}@stampede.test", "email_verified": True,
        "iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "iat": now - 5, "exp": now + 3600,
    }
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = hmac.new(JWT_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def parse_time(text):
    """An event's `at` (RFC 3339, UTC) as Unix seconds."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ---- the run's parameters ------------------------------------------------------

# The highest rate of each fault kind in a run; a run draws each rate up to
# this times its intensity (0 for a run without faults).
FAULT_MAX = {"throttle": 0.1, "conflict": 0.15, "error500": 0.1, "drop": 0.08, "latency": 0.2}
INTENSITIES = (0.5, 1.0, 2.5)


def plan_run(rng, no_faults, max_users):
    """Everything random about one run, drawn from its own generator."""
    seats = rng.randint(1, 30)
    users = rng.randint(1, min(max_users, max(2, seats * 2)))
    intensity = 0.0 if no_faults or rng.random() < 0.15 else rng.choice(INTENSITIES)
    return {
        "seats": seats,
        "maxUses": rng.choice([None, rng.randint(1, seats + 5)]),
        "users": users,
        "maxDuplicates": rng.randint(1, 3),
        "threads": rng.randint(4, 32),
        "inviteShare": rng.choice([0.0, 0.1, 0.3]),
        "leaveShare": rng.choice([0.0, 0.2, 0.5]),
        "rejoinShare": rng.choice([0.0, 0.5, 1.0]),
        "faultSeed": rng.randrange(2**32),
        "rates": {k: round(rng.uniform(0, m * intensity), 3) for k, m in FAULT_MAX.items()},
        "latencyMaxMs": rng.randint(5, 40),
        "userSeeds": [rng.randrange(2**32) for _ in range(users)],
    }


def seed_file(plan, path):
    license = {
        "licenseId": LICENSE_ID, "name": "Stampede", "organization": "Stampede U",
        "product": "Stampede", "seatsTotal": plan["seats"], "expiresAt": None,
        "allowedEmailDomains": [], "owner": {"sub": "owner-1", "email": "owner@stampede.test"},
        "admins": [],
        "codes": [{"code": CODE, "maxUses": plan["maxUses"], "expiresAt": None, "revoked": False}],
        "invitations": [{"token": INVITE_TOKEN, "email": None, "expiresAt": None}],
    }
    with open(path, "w") as f:
        json.dump({"licenses": [license]}, f)


# ---- the servers of one run ---------------------------------------------------------

class Proxy:
    """The fault-injecting proxy's control endpoints."""

    def __init__(self, url):
        self.url = url

    def configure(self, seed, rates, latency_max_ms):
        r = requests.put(self.url + "/_config", json={"seed": seed, "rates": rates, "latencyMaxMs": latency_max_ms}, timeout=10)
        r.raise_for_status()

    def faults(self):
        return requests.get(self.url + "/_faults", timeout=10).json()


class Devserver:
    """A devserver on a fresh table, reached through the proxy."""

    def __init__(self, binary, proxy_url, table, seed_path, log_path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update({
            "STORE": "dynamodb", "CREATE_TABLE": "true", "TABLE_NAME": table,
            "AWS_ENDPOINT_URL_DYNAMODB": proxy_url, "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true", "SEED_FILE": seed_path, "PORT": str(self.port),
            "DEV_JWT_SECRET": JWT_SECRET, "DEV_JWT_ISSUER": JWT_ISSUER, "DEV_JWT_AUDIENCE": JWT_AUDIENCE,
            "REDEEM_MAX_FAILURES_PER_SOURCE": "0", "RUST_LOG": "warn",
        })
        self.log = open(log_path, "w")
        # The binary may be missing or busy for a moment while it is relinked.
        deadline = time.monotonic() + 120
        while True:
            try:
                self.proc = subprocess.Popen([binary], env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"devserver exited with {self.proc.returncode} (log: {self.log.name})")
            try:
                if requests.get(self.base + "/_dev/demo.env", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"devserver not ready in {timeout} s (log: {self.log.name})")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---- clients --------------------------------------------------------------------------

class History:
    """Every try of every logical request, thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sequences = []

    def add(self, seq):
        with self.lock:
            self.sequences.append(seq)


def classify(kind, status, body):
    """What a try's answer says about its own write: "changed", "unchanged"
    (nothing was written by it), "unknown", or "error" (5xx other than 503)."""
    if status is None:
        return "unknown"  # timeout or connection error
    if (kind == "leave" and status == 204) or (kind != "leave" and status == 201):
        return "changed"
    if status == 503:
        outcome = ((body or {}).get("error") or {}).get("outcome", "unchanged") if isinstance(body, dict) else "unchanged"
        return "unknown" if outcome == "unknown" else "unchanged"
    if status >= 500:
        return "error"
    return "unchanged"  # 200 alreadyMember, 404, 409, other 4xx


def send(base, user, kind, token, rng):
    """One logical request, retried like a real client: on 503 or a
    timeout/connection error, the same request again after a short pause,
    at most MAX_TRIES times."""
    if kind == "leave":
        method, url, body = "DELETE", f"{base}/v1/me/licenses/{LICENSE_ID}", None
    elif kind == "code":
        method, url, body = "POST", f"{base}/v1/redemptions", {"code": CODE}
    else:
        method, url, body = "POST", f"{base}/v1/invites/{INVITE_TOKEN}/accept", None
    tries = []
    with requests.Session() as session:
        for attempt in range(MAX_TRIES):
            if attempt:
                time.sleep(rng.uniform(*BACKOFF_SECS))
            start = time.time()
            status, answer, error = None, None, None
            try:
                r = session.request(method, url, json=body, timeout=TRY_TIMEOUT_SECS,
                                    headers={"Authorization": "Bearer " + token})
                status = r.status_code
                try:
                    answer = r.json() if r.content else None
                except ValueError:
                    answer = r.text[:300]
            except requests.RequestException as err:
                error = type(err).__name__
            tries.append({"start": start, "end": time.time(), "status": status, "body": answer,
                          "error": error, "class": classify(kind, status, answer)})
            if status != 503 and status is not None:
                break
    return {"user": user, "kind": kind, "start": tries[0]["start"], "end": tries[-1]["end"], "tries": tries}


def user_session(base, plan, index, history):
    """One user's story: join (1..maxDuplicates concurrent submissions),
    maybe leave, maybe rejoin. Phases follow each other."""
    rng = random.Random(plan["userSeeds"][index])
    user = f"user-{index}"
    token = mint_token(user)
    duplicates = rng.randint(1, plan["maxDuplicates"])
    kinds = ["invite" if rng.random() < plan["inviteShare"] else "code" for _ in range(duplicates)]
    seeds = [rng.randrange(2**32) for _ in range(8)]

    def join(phase_seeds):
        results = [None] * len(kinds)

        def one(i):
            results[i] = send(base, user, kinds[i], token, random.Random(phase_seeds[i % len(phase_seeds)]))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(kinds))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for seq in results:
            history.add(seq)
        return any(t["status"] in (200, 201) for seq in results for t in seq["tries"][-1:])

    seated = join(seeds[0:3])
    if seated and rng.random() < plan["leaveShare"]:
        leave = send(base, user, "leave", token, random.Random(seeds[3]))
        history.add(leave)
        if leave["tries"][-1]["status"] == 204 and rng.random() < plan["rejoinShare"]:
            join(seeds[4:7])


# ---- the checker ------------------------------------------------------------------------

def scan_table(ddb, table):
    items, kwargs = [], {"TableName": table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def plain(item):
    """A DynamoDB item with its type tags dropped (S, N as int, NULL as None)."""
    out = {}
    for name, value in item.items():
        (tag, v), = value.items()
        out[name] = int(v) if tag == "N" else None if tag == "NULL" else v
    return out


def check(plan, items, sequences):
    """Violations per invariant (with a few examples) from the table and
    the clients' history."""
    violations = collections.Counter()
    examples = []

    def violate(name, detail):
        violations[name] += 1
        if len(examples) < 10:
            examples.append({"invariant": name, **detail})

    items = [plain(i) for i in items]
    seats = [i for i in items if i["pk"].startswith("USER#") and i["sk"] == f"SEAT#{LICENSE_ID}"]
    seat_counters = [i for i in items if i["pk"].startswith(f"LIC#{LICENSE_ID}#SEATS#")]
    codes = [i for i in items if i["sk"] == "CODE" and i.get("licenseId") == LICENSE_ID]
    code_id = codes[0]["codeId"] if codes else None
    use_counters = [i for i in items if code_id and i["pk"].startswith(f"CODE#{code_id}#USES#")]
    events = sorted(
        (i for i in items if i["pk"].startswith(f"EVENTS#{LICENSE_ID}#") and i.get("type") in ("seatClaimed", "seatReleased")),
        # By time, not by the text: a timestamp on a whole second is written
        # without a fraction ("…:44Z"), which sorts after "…:44.100Z".
        key=lambda e: (parse_time(e["at"]), e["eventId"]),
    )
    claims = [e for e in events if e["type"] == "seatClaimed"]

    # Counts in the table.
    if len(seats) > plan["seats"]:
        violate("seats_over_total", {"seats": len(seats), "seatsTotal": plan["seats"]})
    used = sum(c["used"] for c in seat_counters)
    if used != len(seats):
        violate("seat_counter_mismatch", {"used": used, "seatItems": len(seats)})
    code_claims = sum(1 for e in claims if e.get("codeId") == code_id)
    uses = sum(c["used"] for c in use_counters)
    if uses != code_claims:
        violate("code_uses_mismatch", {"uses": uses, "claimsThroughCode": code_claims})
    if plan["maxUses"] is not None and code_claims > plan["maxUses"]:
        violate("code_over_max_uses", {"claimsThroughCode": code_claims, "maxUses": plan["maxUses"]})
    if sum(1 for e in claims if e.get("invitationId")) > 1:
        violate("invite_claimed_twice", {})

    # Per user: the events, the seat, and the answers.
    by_user = collections.defaultdict(list)
    for e in events:
        by_user[e["userId"]].append(e)
    seat_users = {s["userId"] for s in seats}
    seqs_by_user = collections.defaultdict(list)
    for seq in sequences:
        seqs_by_user[seq["user"]].append(seq)

    for user in set(by_user) | set(seqs_by_user) | seat_users:
        user_events = by_user[user]
        user_seqs = seqs_by_user[user]
        times = [(parse_time(e["at"]), e) for e in user_events]

        # One seat at a time: claimed, released, claimed, ... and the seat
        # item there exactly when the last event is a claim.
        expected = "seatClaimed"
        for e in user_events:
            if e["type"] != expected:
                violate("one_seat_per_user", {"user": user, "events": [x["type"] for x in user_events]})
                break
            expected = "seatReleased" if expected == "seatClaimed" else "seatClaimed"
        holds = bool(user_events) and user_events[-1]["type"] == "seatClaimed"
        if holds != (user in seat_users):
            violate("one_seat_per_user", {"user": user, "seatItem": user in seat_users, "lastEvent": user_events[-1]["type"] if user_events else None})

        def held_at(t):
            """Whether the user held a seat at time t, by the events."""
            n = sum(1 if e["type"] == "seatClaimed" else -1 for at, e in times if at < t - SLACK_SECS)
            return n > 0

        def outcome(seq):
            """"changed", "unknown" (the final answer, or an earlier try,
            could not say) or "unchanged"."""
            classes = [t["class"] for t in seq["tries"]]
            if classes[-1] == "changed":
                return "changed"
            return "unknown" if ("unknown" in classes or "error" in classes) else "unchanged"

        # Answers against changes, per kind of change.
        for event_type, kinds, over, under in (
            ("seatClaimed", ("code", "invite"), "answered_201_without_claim", "claim_without_201"),
            ("seatReleased", ("leave",), "answered_204_without_release", "release_without_204"),
        ):
            changes = sum(1 for e in user_events if e["type"] == event_type)
            outcomes = collections.Counter(outcome(s) for s in user_seqs if s["kind"] in kinds)
            if outcomes["changed"] > changes:
                violate(over, {"user": user, "answered": outcomes["changed"], "events": changes})
            if changes > outcomes["changed"] + outcomes["unknown"]:
                violate(under, {"user": user, "answered": outcomes["changed"], "unknown": outcomes["unknown"], "events": changes})

        for seq in user_seqs:
            final = seq["tries"][-1]
            # alreadyMember: the seat was there before this request, or
            # another request of the user (answered 201, or of unknown
            # outcome) may have taken it; this request's own earlier try of
            # unknown outcome excuses it too.
            if final["status"] == 200 and isinstance(final["body"], dict) and final["body"].get("alreadyMember"):
                others = [s for s in user_seqs if s is not seq and s["kind"] != "leave" and outcome(s) in ("changed", "unknown")
                          and s["start"] < final["end"] and s["end"] > seq["start"]]
                own_unknown = any(t["class"] in ("unknown", "error") for t in seq["tries"][:-1])
                if not (held_at(seq["start"]) or others or own_unknown):
                    violate("already_member_without_seat", {"user": user, "kind": seq["kind"], "statuses": [t["status"] for t in seq["tries"]]})
            # A leave that began with a seat never ends in 404.
            if seq["kind"] == "leave" and final["status"] == 404 and held_at(seq["start"]):
                violate("leave_404_after_seat", {"user": user, "statuses": [t["status"] for t in seq["tries"]]})
            for t in seq["tries"]:
                if t["class"] == "error":
                    violate("server_error_500", {"user": user, "kind": seq["kind"], "status": t["status"], "body": t["body"]})

        # Each seat event happened during some try of this user of the right
        # kind; if every such try promised "nothing changed", one lied.
        for at, e in times:
            kinds = ("leave",) if e["type"] == "seatReleased" else (("invite",) if e.get("invitationId") else ("code",))
            candidates = [t for s in user_seqs if s["kind"] in kinds for t in s["tries"]
                          if t["start"] - SLACK_SECS <= at <= t["end"] + SLACK_SECS]
            if not candidates:
                violate("orphan_event", {"user": user, "event": e["type"], "at": e["at"]})
            elif all(t["class"] == "unchanged" for t in candidates):
                violate("unchanged_but_committed", {"user": user, "event": e["type"], "answers": [t["status"] for t in candidates],
                                                    "bodies": [t["body"] for t in candidates][:2]})
    return violations, examples


# ---- one run, and the batch --------------------------------------------------------------

def run_once(args, index, proxy, ddb, workdir):
    rng = random.Random(f"{args.seed}:{index}")
    plan = plan_run(rng, args.no_faults, args.max_users)
    table = f"stampede-{args.seed}-{index}-{uuid.uuid4().hex[:6]}"
    seed_path = os.path.join(workdir, f"seed-{index}.json")
    log_path = os.path.join(workdir, f"devserver-{index}.log")
    seed_file(plan, seed_path)
    started = time.monotonic()
    history = History()
    # Setup (table, seed) without faults; the run's faults only for the clients' traffic.
    proxy.configure(plan["faultSeed"], {}, 0)
    server = Devserver(args.devserver, proxy.url, table, seed_path, log_path)
    try:
        server.wait_ready()
        before = proxy.faults()
        proxy.configure(plan["faultSeed"], plan["rates"], plan["latencyMaxMs"])
        with ThreadPoolExecutor(plan["threads"]) as pool:
            for f in [pool.submit(user_session, server.base, plan, i, history) for i in range(plan["users"])]:
                f.result()
        proxy.configure(plan["faultSeed"], {}, 0)
        after = proxy.faults()
    finally:
        server.stop()
    try:
        items = scan_table(ddb, table)
    finally:
        ddb.delete_table(TableName=table)
    violations, examples = check(plan, items, history.sequences)
    tries = [t for s in history.sequences for t in s["tries"]]
    statuses = collections.Counter(str(t["status"] or t["error"]) for t in tries)
    faults = {k: after["faults"][k] - before["faults"][k] for k in after["faults"]}
    emulated = {k: after["emulated"].get(k, 0) - before["emulated"].get(k, 0) for k in after["emulated"]}
    summary = {
        "run": index,
        "plan": {k: v for k, v in plan.items() if k not in ("userSeeds", "faultSeed")},
        "requests": len(tries),
        "logicalRequests": len(history.sequences),
        "statuses": dict(sorted(statuses.items())),
        "faults": faults,
        "emulated": emulated,
        "violations": dict(violations),
        "examples": examples,
        "seconds": round(time.monotonic() - started, 2),
    }
    if violations:
        summary["devserverLog"] = log_path
    if violations and args.keep:
        with open(os.path.join(args.keep, f"run-{args.seed}-{index}.json"), "w") as f:
            json.dump({"summary": summary, "history": history.sequences, "table": [plain(i) for i in items]}, f, indent=1)
    if not args.keep:
        os.unlink(seed_path)
        if not violations:
            os.unlink(log_path)
    return summary


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--moto", required=True, help="the emulator's URL (the checker reads it directly)")
    p.add_argument("--proxy", required=True, help="the fault-injecting proxy's URL")
    p.add_argument("--devserver", default=os.path.join(ROOT, "target", "debug", "devserver"))
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--seed", type=int, default=1, help="the whole batch follows from it")
    p.add_argument("--no-faults", action="store_true", help="every fault rate 0")
    p.add_argument("--max-users", type=int, default=40)
    p.add_argument("--keep", help="a directory for the history, table and log of each run with violations")
    p.add_argument("--quiet", action="store_true", help="only the aggregate, not a line per run")
    args = p.parse_args()
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)

    # The emulator answers one request at a time; on a busy machine a table
    # scan can wait long behind the devserver's requests: patience, not a
    # failed batch.
    ddb = boto3.client("dynamodb", endpoint_url=args.moto, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test",
                       config=botocore.config.Config(connect_timeout=10, read_timeout=300,
                                                     retries={"max_attempts": 5, "mode": "standard"}))
    proxy = Proxy(args.proxy)
    workdir = args.keep or tempfile.mkdtemp(prefix="stampede-")
    started = time.monotonic()
    total = {"runs": 0, "requests": 0, "logicalRequests": 0, "statuses": collections.Counter(),
             "faults": collections.Counter(), "emulated": collections.Counter(),
             "violations": collections.Counter(), "runsWithViolations": 0}
    # Stopped early (SIGTERM, Ctrl-C): the runs done so far still get their
    # aggregate, the run in progress is left out.
    stop = {"now": False}
    def stop_after_run(signum, frame):
        stop["now"] = True
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop_after_run)
    for index in range(args.runs):
        try:
            summary = run_once(args, index, proxy, ddb, workdir)
        except KeyboardInterrupt:
            print(f"stampede: stopped during run {index}; the aggregate covers the {index} runs before it",
                  file=sys.stderr, flush=True)
            total["stoppedEarly"] = True
            break
        if not args.quiet or summary["violations"]:
            print(json.dumps(summary), flush=True)
        total["runs"] += 1
        total["requests"] += summary["requests"]
        total["logicalRequests"] += summary["logicalRequests"]
        for key in ("statuses", "faults", "emulated", "violations"):
            total[key].update(summary[key])
        total["runsWithViolations"] += bool(summary["violations"])
        if args.quiet and (index + 1) % 50 == 0:
            print(f"stampede: {index + 1}/{args.runs} runs, {total['runsWithViolations']} with violations, "
                  f"{round(time.monotonic() - started)} s", file=sys.stderr, flush=True)
    total["violations"] = {name: total["violations"][name] for name in INVARIANTS}
    total["seconds"] = round(time.monotonic() - started, 1)
    total["seed"] = args.seed
    total["faultsOn"] = not args.no_faults
    print(json.dumps({"aggregate": total}, indent=1, default=dict), flush=True)
    if not args.keep:
        try:
            os.rmdir(workdir)
        except OSError:
            pass  # logs of runs with violations stay
    return 1 if any(total["violations"].values()) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, RuntimeError, requests.RequestException) as err:
        print(f"stampede: setup failed: {err}", file=sys.stderr)
        sys.exit(2)
