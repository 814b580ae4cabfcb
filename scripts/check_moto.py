#!/usr/bin/env python3
"""Fitness check of the local emulator (not part of scripts/test.sh).

Starts two scripts/moto_locked.py servers (DynamoDB, SES) on free ports, then:
  a) creates a pk/sk table with a GSI and an LSI, and queries both indexes;
  b) races N threads, each a TransactWriteItems of
       Update counter: SET used = used + 1 IF used < cap
       Put member item IF attribute_not_exists(pk)
     and expects exactly `cap` successes, N - cap TransactionCanceled, no 5xx;
  c) SES: send_email is refused before verify_email_identity, accepted after,
     and the mail shows in GET /moto-api/data.json of the SES server.
Run: .venv/bin/python scripts/check_moto.py [--threads 200 --cap 20] [--stock]
(--stock serves DynamoDB with moto's stock, unlocked server to show the race.)
Measured with moto 5.2.5 on 2 cores: the locked server passed b) in 20 of 20
runs (200/20 up to 400/200); the stock server failed 200/20 in 5 of 10 runs
and 400/100 with over-grants (102 ok, 102 member items) and HTTP 500s, so a
single stock pass proves nothing: raise --threads/--cap or repeat.
"""

import argparse
import collections
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
REGION = "us-east-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(stock=False):
    port = free_port()
    cmd = [sys.executable, os.path.join(HERE, "moto_locked.py"), "--port", str(port)]
    if stock:
        cmd = [sys.executable, "-m", "moto.server", "-p", str(port)]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() - t0 > 20:
                sys.exit(f"server {cmd} did not come up")
            time.sleep(0.05)
    print(f"server {'stock' if stock else 'locked'} {url} ready in {time.monotonic() - t0:.2f} s")
    return proc, url


def client(service, url, pool=10):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(max_pool_connections=pool, retries={"max_attempts": 1}),
    )


def check_table(ddb):
    S = lambda *names: [{"AttributeName": n, "AttributeType": "S"} for n in names]
    key = lambda h, r: [{"AttributeName": h, "KeyType": "HASH"}, {"AttributeName": r, "KeyType": "RANGE"}]
    ddb.create_table(
        TableName="seats",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=S("pk", "sk", "gsi1pk", "gsi1sk", "lsi1sk"),
        KeySchema=key("pk", "sk"),
        GlobalSecondaryIndexes=[{"IndexName": "gsi1", "KeySchema": key("gsi1pk", "gsi1sk"),
                                 "Projection": {"ProjectionType": "ALL"}}],
        LocalSecondaryIndexes=[{"IndexName": "lsi1", "KeySchema": key("pk", "lsi1sk"),
                                "Projection": {"ProjectionType": "ALL"}}],
    )
    d = ddb.describe_table(TableName="seats")["Table"]
    assert [i["IndexName"] for i in d["GlobalSecondaryIndexes"]] == ["gsi1"], d
    assert [i["IndexName"] for i in d["LocalSecondaryIndexes"]] == ["lsi1"], d
    ddb.put_item(TableName="seats", Item={"pk": {"S": "P#x"}, "sk": {"S": "A"},
                 "gsi1pk": {"S": "G"}, "gsi1sk": {"S": "1"}, "lsi1sk": {"S": "L"}})
    g = ddb.query(TableName="seats", IndexName="gsi1", KeyConditionExpression="gsi1pk = :g",
                  ExpressionAttributeValues={":g": {"S": "G"}})
    l = ddb.query(TableName="seats", IndexName="lsi1", KeyConditionExpression="pk = :p AND lsi1sk = :l",
                  ExpressionAttributeValues={":p": {"S": "P#x"}, ":l": {"S": "L"}})
    assert g["Count"] == 1 and l["Count"] == 1, (g, l)
    print("a) table with pk/sk + GSI + LSI: created, both indexes queryable")


def race(ddb, threads, cap):
    ddb.put_item(TableName="seats", Item={"pk": {"S": "POOL#1"}, "sk": {"S": "COUNTER"},
                                          "used": {"N": "0"}, "cap": {"N": str(cap)}})
    results, lock = collections.Counter(), threading.Lock()
    barrier = threading.Barrier(threads)

    def one(i):
        barrier.wait()
        try:
            ddb.transact_write_items(TransactItems=[
                {"Update": {"TableName": "seats",
                            "Key": {"pk": {"S": "POOL#1"}, "sk": {"S": "COUNTER"}},
                            "UpdateExpression": "SET used = used + :one",
                            "ConditionExpression": "used < :cap",
                            "ExpressionAttributeValues": {":one": {"N": "1"}, ":cap": {"N": str(cap)}}}},
                {"Put": {"TableName": "seats",
                         "Item": {"pk": {"S": "POOL#1"}, "sk": {"S": f"MEMBER#{i:04d}"}},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ])
            outcome = "ok"
        except ClientError as e:
            status = e.response["ResponseMetadata"].get("HTTPStatusCode")
            reasons = [r["Code"] for r in e.response.get("CancellationReasons", [])]
            outcome = f"{e.response['Error']['Code']} (HTTP {status}) {reasons}"
        except Exception as e:  # connection errors etc.
            outcome = type(e).__name__
        with lock:
            results[outcome] += 1

    t0 = time.monotonic()
    ts = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.monotonic() - t0
    used = ddb.get_item(TableName="seats", Key={"pk": {"S": "POOL#1"}, "sk": {"S": "COUNTER"}},
                        ConsistentRead=True)["Item"]["used"]["N"]
    members = ddb.query(TableName="seats", KeyConditionExpression="pk = :p AND begins_with(sk, :m)",
                        ExpressionAttributeValues={":p": {"S": "POOL#1"}, ":m": {"S": "MEMBER#"}},
                        Select="COUNT")["Count"]
    print(f"b) race {threads} threads, cap {cap}: {dict(results)}; used={used}, "
          f"member items={members}; {dt:.2f} s")
    cancelled = "TransactionCanceledException (HTTP 400) ['ConditionalCheckFailed', 'None']"
    good = (results == {"ok": cap, cancelled: threads - cap}
            and int(used) == cap and members == cap)
    print("   ", "PASS" if good else "FAIL")
    return good


def check_ses(url):
    ses = client("ses", url)
    msg = dict(Destination={"ToAddresses": ["someone@example.org"]},
               Message={"Subject": {"Data": "seat invite"}, "Body": {"Text": {"Data": "hello 123"}}})
    try:
        ses.send_email(Source="noreply@example.com", **msg)
        sys.exit("SES accepted mail from an unverified sender")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "MessageRejected", e.response
    ses.verify_email_identity(EmailAddress="noreply@example.com")
    mid = ses.send_email(Source="noreply@example.com", **msg)["MessageId"]
    data = json.load(urllib.request.urlopen(url + "/moto-api/data.json"))
    sent = data["ses"]["Message"]
    assert any(m["id"] == mid and m["destinations"]["ToAddresses"] == ["someone@example.org"]
               and m["subject"] == "seat invite" and m["body"] == "hello 123" for m in sent), sent
    print(f"c) SES: unverified sender rejected; verified send ok; in data.json: {sent[-1]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=200)
    ap.add_argument("--cap", type=int, default=20)
    ap.add_argument("--stock", action="store_true", help="DynamoDB on stock moto_server")
    args = ap.parse_args()
    procs = []
    try:
        p, ddb_url = start(stock=args.stock)
        procs.append(p)
        p, ses_url = start()
        procs.append(p)
        ddb = client("dynamodb", ddb_url, pool=args.threads)
        check_table(ddb)
        ok = race(ddb, args.threads, args.cap)
        check_ses(ses_url)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
