#!/usr/bin/env python3
"""A boto3 peer of redeem-code: what a team would write as a Python Lambda (custom-runtime loop)."""
import hashlib, json, os, urllib.request
from datetime import datetime, timezone

import boto3

TABLE = os.environ.get("PEER_TABLE_NAME", "peer-redeem")
API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
ddb = boto3.client("dynamodb")  # at init, like a module-level client in a managed-runtime handler


def answer(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def handler(event):
    sub = event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    try:
        code = json.loads(event.get("body") or "{}")["code"].strip().upper()
    except (ValueError, KeyError, AttributeError):
        return answer(400, {"error": {"code": "INVALID_REQUEST"}})
    item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "CODE#" + hashlib.sha256(code.encode()).hexdigest()}}).get("Item")
    if not item:
        return answer(404, {"error": {"code": "CODE_NOT_FOUND"}})
    lic = item["licenseId"]["S"]
    seat = {"licenseId": lic, "userId": sub, "joinedAt": datetime.now(timezone.utc).isoformat(), "joinedVia": "code"}
    try:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "ConditionExpression": "attribute_not_exists(pk)",
                     "Item": {"pk": {"S": f"LICENSE#{lic}#SEAT#{sub}"}, **{k: {"S": v} for k, v in seat.items()}}}},
            {"Update": {"TableName": TABLE, "Key": {"pk": {"S": f"LICENSE#{lic}"}},
                        "UpdateExpression": "SET used = used + :one", "ConditionExpression": "used < #total",
                        "ExpressionAttributeNames": {"#total": "total"}, "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
    except ddb.exceptions.TransactionCanceledException as e:
        reasons = [r.get("Code") for r in e.response.get("CancellationReasons", [])]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return answer(200, {"licenseId": lic, "alreadyMember": True})
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            return answer(409, {"error": {"code": "NO_SEATS_AVAILABLE"}})
        return answer(503, {"error": {"code": "SERVICE_UNAVAILABLE"}})
    return answer(201, {"seat": seat, "alreadyMember": False})


while True:  # the runtime loop (the managed Python runtime's bootstrap does the same)
    with urllib.request.urlopen(API + "/next") as r:
        rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], json.loads(r.read())
    try:
        out, path = handler(event), f"/{rid}/response"
    except Exception as e:  # noqa: BLE001 -- reported to the runtime API as the managed runtime does
        out, path = {"errorMessage": str(e), "errorType": type(e).__name__}, f"/{rid}/error"
    urllib.request.urlopen(urllib.request.Request(API + path, data=json.dumps(out).encode(), method="POST")).read()
