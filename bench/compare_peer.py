#!/usr/bin/env python3
"""redeem-code (Rust) next to a boto3 peer (bench/peer/redeem.py), same emulator, same events.

Both run as custom-runtime processes against measure_lambda.py's minimal Lambda
runtime API, with DynamoDB at one locked moto server behind its timing proxy.
Runs are interleaved (ours, peer, peer, ours, ...); each run is a fresh process
that gets two API Gateway v2 redemption events for two new students: the
first is the cold invoke, the second (same process) the warm one.

- init: spawn -> first GET .../invocation/next (the peer: interpreter start,
  boto3 import, client created);
- cold invoke: first response - init (the invoke itself, first connection
  to DynamoDB included); first response: spawn -> first response POST;
- warm invoke: second event handed out -> second response POST;
- peak RSS: VmHWM after both responses;
- DynamoDB requests and round trips (overlapping requests count as one),
  from the proxy, split at the first response.

The peer does less than ours: no failed-redemption guard, no audit event,
no sharded counters or code-use counting, no index entries. Its table is
its own (`peer-redeem`, hash key `pk`), seeded here with boto3.

Usage: bench/compare_peer.py [--runs 15] [--bins target/release]
Needs: .venv (boto3, moto), target/debug/seatctl.
"""
import argparse, hashlib, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure_lambda as ml  # noqa: E402

PEER = os.path.join(ml.ROOT, "bench", "peer", "redeem.py")
PEER_TABLE = "peer-redeem"


class TimedList(list):
    """A list that notes when each item was appended / popped (runtime API hooks)."""

    def __init__(self, items=()):
        super().__init__(items); self.appended, self.popped = [], []

    def append(self, x):
        self.appended.append(time.monotonic()); super().append(x)

    def pop(self, i=-1):
        self.popped.append(time.monotonic()); return super().pop(i)


def seed_peer(moto_url):
    import boto3
    ddb = boto3.client("dynamodb", endpoint_url=moto_url, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    ddb.create_table(TableName=PEER_TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    digest = hashlib.sha256(ml.CODE.upper().encode()).hexdigest()
    ddb.put_item(TableName=PEER_TABLE, Item={"pk": {"S": "CODE#" + digest}, "licenseId": {"S": ml.LICENSE}})
    ddb.put_item(TableName=PEER_TABLE, Item={"pk": {"S": "LICENSE#" + ml.LICENSE}, "name": {"S": "Perf"},
                                             "total": {"N": "10000"}, "used": {"N": "0"}})


def covered(intervals):
    """Total time covered by (start, end) intervals, overlaps counted once."""
    total, end = 0.0, None
    for s, e in sorted(intervals):
        if end is None or s >= end:
            total += e - s; end = e
        elif e > end:
            total += e - end; end = e
    return total


def run_one(cmd, name, run, env, proxy):
    """One fresh process, two redemptions; timings, RSS and the proxy's log split cold/warm."""
    rt = ml.Runtime(ml.scenario("redeem-code", f"{name}-{run}"))
    rt.events, rt.responses = TimedList(rt.events), TimedList()
    proxy.take()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env={**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{rt.port}",
                                      "AWS_LAMBDA_FUNCTION_NAME": name},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not rt.done.wait(60) or len(rt.responses) < 2:
            proc.kill()
            raise SystemExit(f"{name}: no responses (run {run}): {proc.stderr.read().decode()[-2000:]}")
        with open(f"/proc/{proc.pid}/status") as f:
            hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))
    finally:
        proc.kill(); proc.wait(); proc.stderr.close(); rt.server.shutdown()
    log = proxy.take()
    split, ready = rt.responses.appended[0], rt.times["next"]
    # Requests sent during init (ours checks that a local table exists;
    # against AWS it sends none) are not the cold invoke's.
    during_init = [r for r in log if r[0] < ready]
    cold = [r for r in log if ready <= r[0] < split]
    warm = [r for r in log if r[0] >= split]
    init = rt.times["next"] - t0
    handed = rt.events.popped[0]
    # Where the cold invoke goes: our own work before the first request and
    # after the last answer, and the time spent waiting on DynamoDB
    # (overlapping requests counted once).
    busy = covered([(s, e) for s, e, _ in cold])
    before = (min(s for s, _, _ in cold) - handed) if cold else 0
    after = (split - max(e for _, e, _ in cold)) if cold else 0
    first = rt.responses.appended[0] - t0
    # Init's own work: minus the time spent waiting on those requests.
    waited = sum(end - start for start, end, _ in during_init)
    return {"init": init * 1000, "init_own": (init - waited) * 1000, "cold": (first - init) * 1000,
            "cold_wait": busy * 1000, "cold_before": before * 1000, "cold_after": after * 1000, "first": first * 1000,
            "warm": (rt.responses.appended[1] - rt.events.popped[1]) * 1000, "rss": hwm / 1024,
            "init_req": len(during_init), "init_ops": [op for *_, op in sorted(during_init)],
            "cold_req": len(cold), "cold_rt": ml.round_trips(cold), "warm_req": len(warm), "warm_rt": ml.round_trips(warm),
            "statuses": [r[1].get("statusCode") for r in rt.responses],
            "cold_ops": [op for *_, op in sorted(cold)], "warm_ops": [op for *_, op in sorted(warm)]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15, help="measured runs of each (after one discarded warm-up each)")
    ap.add_argument("--bins", default=os.path.join(ml.ROOT, "target", "release"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="compare-peer-")
    ours = os.path.join(tmp, "redeem-code")  # a private copy: a rebuild during the run cannot swap it
    shutil.copy2(os.path.join(args.bins, "redeem-code"), ours)
    cmds = {"ours": [ours], "peer": [ml.VENV_PY, PEER]}
    moto, moto_url = ml.start_moto()
    try:
        proxy = ml.Proxy(moto_url); proxy.start()
        env_ours = ml.seed_ours(moto_url, proxy.port)
        seed_peer(moto_url)
        envs = {"ours": env_ours, "peer": {**env_ours, "PEER_TABLE_NAME": PEER_TABLE,
                                            "AWS_DEFAULT_REGION": "us-east-1"}}  # Lambda sets both
        rows = {"ours": [], "peer": []}
        for run in range(args.runs + 1):
            order = ("ours", "peer") if run % 2 == 0 else ("peer", "ours")
            for name in order:
                r = run_one(cmds[name], name, run, envs[name], proxy)
                if run > 0:  # run 0 is the warm-up (page cache, moto's first requests)
                    rows[name].append(r)
            print(f"run {run}/{args.runs} done", file=sys.stderr, flush=True)
    finally:
        ml.stop(moto); shutil.rmtree(tmp, ignore_errors=True)

    med = lambda name, k: statistics.median(r[k] for r in rows[name])
    metrics = [("init (ms)", "init", "{:.1f}"),
               ("init without waiting on DynamoDB (ms)", "init_own", "{:.1f}"), ("cold invoke: first response - init (ms)", "cold", "{:.1f}"),
               ("cold invoke: waiting on DynamoDB (ms)", "cold_wait", "{:.1f}"),
               ("cold invoke: event -> first DynamoDB request (ms)", "cold_before", "{:.1f}"),
               ("cold invoke: last DynamoDB answer -> response (ms)", "cold_after", "{:.1f}"),
               ("first response (ms)", "first", "{:.1f}"), ("warm invoke (ms)", "warm", "{:.1f}"),
               ("peak RSS (MB)", "rss", "{:.1f}"),
               ("DynamoDB requests during init", "init_req", "{:g}"),
               ("DynamoDB requests, cold invoke", "cold_req", "{:g}"), ("DynamoDB round trips, cold invoke", "cold_rt", "{:g}"),
               ("DynamoDB requests, warm invoke", "warm_req", "{:g}"), ("DynamoDB round trips, warm invoke", "warm_rt", "{:g}")]
    print(f"\nredeem-code ({args.bins}) vs the boto3 peer, medians of {args.runs} interleaved runs each "
          f"(fresh process per run; locked moto behind a timing proxy; python {sys.version.split()[0]})\n")
    print("| metric | ours (Rust) | peer (Python, boto3) | ours / peer |")
    print("| --- | ---: | ---: | ---: |")
    for label, k, fmt in metrics:
        a, b = med("ours", k), med("peer", k)
        print(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {a / b:.2f} |" if b else f"| {label} | {fmt.format(a)} | {fmt.format(b)} | - |")
    for name in ("ours", "peer"):
        last = rows[name][-1]
        print(f"\n{name}: statuses {last['statuses']}; init {last['init_ops']}; cold {last['cold_ops']}; warm {last['warm_ops']}")


if __name__ == "__main__":
    main()
