#!/usr/bin/env python3
"""Assertions on template.yaml as SAM transforms it (what CloudFormation deploys).

Offline, no AWS credentials: samtranslator's transform() with a stub
managed-policy loader, once per sign-in shape (JwtIssuer empty: the stack
creates a Cognito user pool; set: an existing provider), and every Fn::If
resolved for both DynamoDbEndpoint shapes (AWS, and `sam local`).

  1. Routes: every HTTP API route has the JWT authorizer, except the portal's
     public routes (PUBLIC_ROUTES below), which have none and go to the portal
     function. A new unauthenticated /v1/... route fails.
  2. Environment, both directions:
     a. every variable the template sets on a function is a name that
        function's code reads (the Rust sources under shared/src, portal/src
        and functions/*/src; an inline function's own code): catches typos;
     b. every function has the variables its code cannot do without
        (REQUIRED below), with the expected value where one is fixed.

--self-test mutates the transformed template in memory (drops the authorizer
from a /v1 route, adds a public /v1 route, removes TABLE_NAME, adds a
misspelled variable, ...) and fails unless the checks catch each mutation.

Run with the tools venv's python (scripts/install_tools.sh):
  .venv-tools/bin/python scripts/template_checks.py [--self-test]
"""

import copy
import logging
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
# Where the functions' Rust code is (direction a).
RUST_SOURCES = ["shared/src", "portal/src", "functions/*/src"]

# The transform needs a region for its pseudo parameters; nothing is sent.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

# The translator counts usage metrics into a dummy publisher (nothing is
# sent) and warns at exit that they were never published.
logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)

# ---- what the checks expect ---------------------------------------------------

# The only routes without the JWT authorizer: the portal's pages (portal/src/lib.rs
# PAGE_ROUTES) and its immutable assets. They are the same public files for
# everyone; the pages call /v1/... with the sign-in provider's token, so the
# authorizer stays the only gate. A browser's page load carries no token, so
# these must stay unauthenticated, and must go to the portal function.
PUBLIC_ROUTES = {
    "GET /",
    "GET /activate",
    "GET /invite/{token}",
    "GET /manage",
    "GET /manage/{licenseId}",
    "GET /auth/callback",
    "GET /auth/signed-out",
    "GET /assets/{proxy+}",
}
PUBLIC_ROUTES_FUNCTION = "PortalFunction"

# What each deployed function cannot do without, read off the code. A tuple
# is "one of these"; a (name, value) entry also fixes the value.
# Every function built on shared::lambda::app() (HTTP ones through
# lambda::run, mail-events directly) reads Config::from_env(Profile::Lambda)
# (shared/src/config.rs). STORE and MAILER are not required: the Lambda
# profile defaults to dynamodb and ses.
APP = [
    # The default table name is "seat-invitations", not the stack's table.
    ("TABLE_NAME", {"Ref": "Table"}),
    # Without a key the Lambda profile refuses to start (DevelopmentKeyInLambda):
    # the stack's secret in AWS, the fixed local key under `sam local`.
    ("HASH_KEYS_SECRET_ID", "HASH_KEYS"),
]
HTTP = APP + [
    # lambda::run writes one EMF line per request to METRICS_NAMESPACE (default
    # "SeatInvitations"); the alarms and the dashboard read this namespace.
    ("METRICS_NAMESPACE", {"Fn::Sub": "SeatInvitations/${AWS::StackName}"}),
]
MAILS = [
    # The default sender (no-reply@seats.example) is not the verified identity,
    # and the IAM policy allows ses:SendEmail only from SenderEmail.
    ("SENDER_EMAIL", {"Ref": "SenderEmail"}),
    # Unset, sends name no configuration set: no suppression of bounced and
    # complaining addresses, no events to mail-events (wiring.rs).
    ("SES_CONFIGURATION_SET", {"Ref": "MailConfigurationSet"}),
]
REQUIRED = {
    # Carries the RedeemMaxFailuresPerSource parameter (service/redeem.rs).
    "RedeemCodeFunction": HTTP + [("REDEEM_MAX_FAILURES_PER_SOURCE", {"Ref": "RedeemMaxFailuresPerSource"})],
    "AcceptInviteFunction": HTTP,
    "ListInvitationsFunction": HTTP,
    "ContactOwnerFunction": HTTP + MAILS,
    "LicenseAdminFunction": HTTP,
    # Carry PortalBaseUrl (invite URLs) and the mail quota and resend cooldown
    # parameters (service/admin/invitations.rs, service/mail_guard.rs); in
    # AWS also the queue (AWS_ONLY_REQUIRED). Under sam local the request
    # mails what it queued itself (lambda::run).
    "InvitationAdminFunction": HTTP + MAILS + [
        ("PORTAL_BASE_URL", {"Ref": "PortalBaseUrl"}),
        ("INVITATION_MAIL_QUOTA", {"Ref": "InvitationMailQuota"}),
        ("INVITATION_MAIL_WINDOW_SECS", {"Ref": "InvitationMailWindowSecs"}),
        ("RESEND_COOLDOWN_SECS", {"Ref": "ResendCooldownSecs"}),
    ],
    # lambda::app(), one metrics line per batch (lambda::MetricsLine: the
    # dashboard's mail figures), the mail it sends (service/delivery.rs): the
    # invite URL's base, and its share of the account's SES rate (its main.rs).
    "InvitationSenderFunction": HTTP + MAILS + [
        ("PORTAL_BASE_URL", {"Ref": "PortalBaseUrl"}),
        ("MAIL_SEND_RATE", {"Ref": "SesMaxSendRate"}),
        # One attempt per send (service/delivery.rs): with the SDK's
        # retries a throttled send would be recorded `unknown`, not retried.
        ("SES_MAX_ATTEMPTS", {"=": "1"}),
    ],
    # lambda::app() only: no metric lines, sends no mail. It hashes the
    # bounced address, hence the key.
    "MailEventsFunction": APP,
    # PortalConfig::from_env(None) (portal/src/config.rs) refuses to start
    # without an issuer and a client id. With a created user pool the pages
    # need Cognito's /logout URL (no end_session_endpoint in its discovery)
    # and its sign-in domain in the CSP's connect-src. The rest carry the
    # branding and sign-in parameters.
    "PortalFunction": [
        "OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_END_SESSION_URL", "PORTAL_CONNECT_ORIGINS",
        ("PORTAL_VENDOR_NAME", {"Ref": "PortalVendorName"}),
        ("PORTAL_BRAND_COLOR", {"Ref": "PortalBrandColor"}),
        ("PORTAL_LOGO_URL", {"Ref": "PortalLogoUrl"}),
        "OIDC_SCOPE", "PORTAL_API_TOKEN",
    ],
    # The custom resource (inline Python) reads only its event.
    "PortalClientUrlsFunction": [],
}

# The shapes the template is checked in: parameter values for the transform,
# then DynamoDbEndpoint values for resolving Fn::If.
SIGN_IN_SHAPES = {
    "created user pool": {},
    "existing provider": {"JwtIssuer": "https://login.example.com/realms/x", "OidcClientId": "portal"},
}
# Needed in AWS only (under sam local there is no such resource to reach).
AWS_ONLY_REQUIRED = {
    # Without it the bulk invitations' mail would wait in an in-process queue
    # that a deployed function never drains between requests (wiring.rs).
    "InvitationAdminFunction": [("INVITATION_QUEUE_URL", {"Ref": "InvitationQueue"})],
    # Its backoff (ChangeMessageVisibility) names the queue.
    "InvitationSenderFunction": [("INVITATION_QUEUE_URL", {"Ref": "InvitationQueue"})],
}
ENDPOINT_SHAPES = {"AWS": "", "sam local": "http://host.docker.internal:8000"}
REQUIRED_PARAMETERS = {"SenderEmail": "sender@example.com"}  # no default in the template

NO_VALUE = {"Ref": "AWS::NoValue"}

# ---- the transform --------------------------------------------------------------


class StubPolicyLoader:
    """samtranslator's managed-policy loader without IAM: the ARN of every
    AWS managed policy the template names."""

    def __init__(self, names):
        self.names = names

    def load(self):
        return {n: f"arn:aws:iam::aws:policy/{n}" for n in self.names}


def managed_policy_names(template):
    names = set()
    for res in template.get("Resources", {}).values():
        policies = (res.get("Properties") or {}).get("Policies")
        for p in policies if isinstance(policies, list) else [policies]:
            if isinstance(p, str):
                names.add(p)
    return names


def transformed(source, parameters):
    template = copy.deepcopy(source)
    # Local CodeUri folders would be uploaded by `sam deploy`: any S3 URI does.
    for res in template["Resources"].values():
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::Serverless::Function" and not str(props.get("CodeUri", "s3://")).startswith("s3://"):
            props["CodeUri"] = "s3://bucket/code.zip"
    return transform(template, dict(parameters), StubPolicyLoader(managed_policy_names(template)))


# ---- conditions and Fn::If -------------------------------------------------------


def parameter_values(template, given):
    values = {n: str(p["Default"]) for n, p in template.get("Parameters", {}).items() if "Default" in p}
    values.update({n: str(v) for n, v in given.items()})
    return values


def conditions(template, params):
    defs = template.get("Conditions", {})
    done = {}

    def value(x):
        if isinstance(x, dict) and "Ref" in x:
            if x["Ref"] not in params:
                raise ValueError(f"condition refers to {x['Ref']}, not a parameter")
            return params[x["Ref"]]
        if isinstance(x, dict):
            return truth(x)
        return str(x)

    def truth(x):
        (fn, args), = x.items()
        if fn == "Fn::Equals":
            return value(args[0]) == value(args[1])
        if fn == "Fn::Not":
            return not truth(args[0])
        if fn == "Fn::And":
            return all(truth(a) for a in args)
        if fn == "Fn::Or":
            return any(truth(a) for a in args)
        if fn == "Condition":
            return named(args)
        raise ValueError(f"unsupported condition function {fn}")

    def named(name):
        if name not in done:
            done[name] = truth(defs[name])
        return done[name]

    return {name: named(name) for name in defs}


def resolve_ifs(x, conds):
    """x with every Fn::If replaced by its branch; AWS::NoValue dropped."""
    if isinstance(x, dict):
        if set(x) == {"Fn::If"}:
            cond, yes, no = x["Fn::If"]
            return resolve_ifs(yes if conds[cond] else no, conds)
        out = {}
        for k, v in x.items():
            v = resolve_ifs(v, conds)
            if v != NO_VALUE:
                out[k] = v
        return out
    if isinstance(x, list):
        return [v for v in (resolve_ifs(v, conds) for v in x) if v != NO_VALUE]
    return x


# ---- the checks ------------------------------------------------------------------


def route_checks(resources, shape):
    """(shape, failure) pairs of the route rules, the routes seen, the public ones."""
    failures, routes, public = [], set(), set()

    def check(key, authenticated, target, where):
        routes.add(key)
        if key in PUBLIC_ROUTES:
            public.add(key)
            if authenticated:
                failures.append((shape, f"{key} ({where}): a public portal route has an authorizer; a page load carries no token"))
            if target != PUBLIC_ROUTES_FUNCTION:
                failures.append((shape, f"{key} ({where}): a public route goes to {target or 'no function'}, not {PUBLIC_ROUTES_FUNCTION}"))
        elif not authenticated:
            failures.append((shape, f"{key} ({where}): no JWT authorizer and not in the public allow-list (scripts/template_checks.py PUBLIC_ROUTES)"))

    def function_of(uri):
        text = uri.get("Fn::Sub", "") if isinstance(uri, dict) else str(uri)
        if isinstance(text, list):
            text = text[0]
        m = re.search(r"\$\{(\w+)\.Arn\}", text)
        return m.group(1) if m else None

    for rid, res in resources.items():
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::ApiGatewayV2::Api" and "Body" in props:
            body = props["Body"]
            schemes = (body.get("components") or {}).get("securitySchemes") or {}
            jwt = {
                n for n, s in schemes.items()
                if (s.get("x-amazon-apigateway-authorizer") or {}).get("type") == "jwt"
                and (s["x-amazon-apigateway-authorizer"].get("jwtConfiguration") or {}).get("issuer")
                and (s["x-amazon-apigateway-authorizer"].get("jwtConfiguration") or {}).get("audience")
            }
            for path, item in (body.get("paths") or {}).items():
                for method, op in item.items():
                    if method == "parameters":
                        continue
                    verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                    security = op.get("security", body.get("security"))
                    # Every alternative must be the JWT scheme: an empty or NONE
                    # alternative lets a request in without a token.
                    authenticated = bool(security) and all(
                        req and set(req) <= jwt for req in security
                    )
                    uri = (op.get("x-amazon-apigateway-integration") or {}).get("uri")
                    check(f"{verb} {path}", authenticated, function_of(uri), rid)
        elif res.get("Type") == "AWS::ApiGatewayV2::Route":
            authenticated = props.get("AuthorizationType") == "JWT" and bool(props.get("AuthorizerId"))
            check(str(props.get("RouteKey")), authenticated, None, rid)
    for key in sorted(PUBLIC_ROUTES - routes):
        failures.append((shape, f"{key}: in the public allow-list but not in the template (stale PUBLIC_ROUTES?)"))
    return failures, routes, public


def rust_source_text():
    text = []
    for pattern in RUST_SOURCES:
        for folder in ROOT.glob(pattern):
            for f in sorted(folder.rglob("*.rs")):
                text.append(f.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(text)


def function_code(res, rust_text):
    """The text of the code a function runs, to look variable names up in."""
    props = res.get("Properties") or {}
    inline = (props.get("Code") or {}).get("ZipFile") if isinstance(props.get("Code"), dict) else None
    if inline is not None:
        return "inline code", inline
    return "the Rust code", rust_text


def environment_checks(resources, conds, shape, rust_text):
    """(shape, failure) pairs of both environment directions, the functions seen."""
    failures, seen = [], []
    for rid, res in sorted(resources.items()):
        if res.get("Type") != "AWS::Lambda::Function":
            continue
        if "Condition" in res and not conds[res["Condition"]]:
            continue
        seen.append(rid)
        env = resolve_ifs((res.get("Properties") or {}).get("Environment") or {}, conds)
        variables = env.get("Variables") or {}
        if not isinstance(variables, dict):
            failures.append((shape, f"{rid}: Environment.Variables is not a map after resolving Fn::If: {variables!r}"))
            continue
        # (a) every variable set is a name the code reads.
        what, code = function_code(res, rust_text)
        for name in sorted(variables):
            if f'"{name}"' not in code:
                failures.append((shape, f"{rid}: sets {name}, which {what} never reads (typo?)"))
        # (b) every variable the function needs is set.
        if rid not in REQUIRED:
            failures.append((shape, f"{rid}: a function with no entry in REQUIRED (scripts/template_checks.py): say what it needs"))
            continue
        in_aws = shape.endswith("/ AWS")
        for need in REQUIRED[rid] + (AWS_ONLY_REQUIRED.get(rid, []) if in_aws else []):
            if isinstance(need, str):
                names, expected = (need,), None
            elif isinstance(need[1], str):
                names, expected = need, None  # one of these
            elif set(need[1]) == {"="}:
                names, expected = (need[0],), need[1]["="]  # a literal value
            else:
                names, expected = (need[0],), need[1]
            present = [n for n in names if n in variables and variables[n] != ""]
            if not present:
                failures.append((shape, f"{rid}: missing {' or '.join(names)}"))
            elif expected is not None and variables[present[0]] != expected:
                failures.append((shape, f"{rid}: {present[0]} is {variables[present[0]]!r}, expected {expected!r}"))
    return failures, seen


# ---- running ---------------------------------------------------------------------


def load():
    source = yaml_parse(TEMPLATE.read_text())
    shapes = []
    for sign_in, given in SIGN_IN_SHAPES.items():
        params = {**REQUIRED_PARAMETERS, **given}
        out = transformed(source, params)
        for endpoint_name, endpoint in ENDPOINT_SHAPES.items():
            values = parameter_values(source, {**params, "DynamoDbEndpoint": endpoint})
            shapes.append((f"{sign_in} / {endpoint_name}", out, conditions(source, values)))
    return shapes


def run_checks(shapes, rust_text):
    failures, routes, public, functions = [], set(), set(), set()
    for shape, out, conds in shapes:
        f, r, p = route_checks(out["Resources"], shape)
        failures += f
        routes |= r
        public |= p
        f, seen = environment_checks(out["Resources"], conds, shape, rust_text)
        failures += f
        functions |= set(seen)
    # A finding usually repeats in several shapes: each once, with its shapes.
    where = {}
    for shape, failure in failures:
        where.setdefault(failure, []).append(shape)
    every = len(shapes)
    report = [f"{f}  [{'every shape' if len(s) == every else '; '.join(s)}]" for f, s in where.items()]
    return report, routes, public, functions


def mutations():
    """(description, expected failure text, mutate(out)) for the self-test."""

    def api_body(out):
        return out["Resources"]["HttpApi"]["Properties"]["Body"]

    def drop_authorizer(out):
        api_body(out)["paths"]["/v1/redemptions"]["post"]["security"] = [{"NONE": []}]

    def optional_authorizer(out):
        api_body(out)["paths"]["/v1/licenses"]["get"]["security"] = [{"JwtAuthorizer": []}, {}]

    def public_v1_route(out):
        op = copy.deepcopy(api_body(out)["paths"]["/v1/redemptions"]["post"])
        op["security"] = [{"NONE": []}]
        api_body(out)["paths"]["/v1/debug"] = {"get": op}

    def raw_public_route(out):
        out["Resources"]["ExtraRoute"] = {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {"ApiId": {"Ref": "HttpApi"}, "RouteKey": "POST /v1/admin", "AuthorizationType": "NONE"},
        }

    def page_behind_authorizer(out):
        api_body(out)["paths"]["/activate"]["get"]["security"] = [{"JwtAuthorizer": []}]

    def variables_of(out, rid):
        env = out["Resources"][rid]["Properties"]["Environment"]["Variables"]
        return env["Fn::If"][1:] if "Fn::If" in env else [env]

    def drop_table_name(out):
        for branch in variables_of(out, "LicenseAdminFunction"):
            del branch["TABLE_NAME"]

    def wrong_table(out):
        for branch in variables_of(out, "RedeemCodeFunction"):
            branch["TABLE_NAME"] = {"Ref": "SomeOtherTable"}

    def misspelled(out):
        for branch in variables_of(out, "AcceptInviteFunction"):
            branch["SENDER_EMAL"] = {"Ref": "SenderEmail"}

    def drop_secret_in_aws(out):
        # The AWS branch only: the sam-local one keeps HASH_KEYS.
        del variables_of(out, "MailEventsFunction")[1]["HASH_KEYS_SECRET_ID"]

    def drop_portal_issuer(out):
        del variables_of(out, "PortalFunction")[0]["OIDC_ISSUER"]

    return [
        ("drop the authorizer from POST /v1/redemptions", "POST /v1/redemptions (HttpApi): no JWT authorizer", drop_authorizer),
        ("make the authorizer optional on GET /v1/licenses", "GET /v1/licenses (HttpApi): no JWT authorizer", optional_authorizer),
        ("add an unauthenticated GET /v1/debug", "GET /v1/debug (HttpApi): no JWT authorizer", public_v1_route),
        ("add a raw AWS::ApiGatewayV2::Route POST /v1/admin without auth", "POST /v1/admin (ExtraRoute): no JWT authorizer", raw_public_route),
        ("put the authorizer on the page GET /activate", "GET /activate (HttpApi): a public portal route has an authorizer", page_behind_authorizer),
        ("remove TABLE_NAME from LicenseAdminFunction", "LicenseAdminFunction: missing TABLE_NAME", drop_table_name),
        ("point RedeemCodeFunction's TABLE_NAME elsewhere", "RedeemCodeFunction: TABLE_NAME is", wrong_table),
        ("add SENDER_EMAL to AcceptInviteFunction", "AcceptInviteFunction: sets SENDER_EMAL, which the Rust code never reads", misspelled),
        ("remove HASH_KEYS_SECRET_ID from MailEventsFunction (AWS shape)", "MailEventsFunction: missing HASH_KEYS_SECRET_ID or HASH_KEYS  [created user pool / AWS; existing provider / AWS]", drop_secret_in_aws),
        ("remove OIDC_ISSUER from PortalFunction", "PortalFunction: missing OIDC_ISSUER", drop_portal_issuer),
    ]


def self_test(shapes, rust_text):
    failures, *_ = run_checks(shapes, rust_text)
    if failures:
        print("self-test: the unchanged template already fails:", *failures, sep="\n  ")
        return 1
    missed = 0
    for description, expected, mutate in mutations():
        mutated = []
        for shape, out, conds in shapes:
            out = copy.deepcopy(out)
            mutate(out)
            mutated.append((shape, out, conds))
        failures, *_ = run_checks(mutated, rust_text)
        caught = [f for f in failures if expected in f]
        print(f"    {'caught' if caught else 'MISSED'}: {description}")
        if caught:
            print(f"        {caught[0]}")
        else:
            missed += 1
            print(f"        expected a failure containing {expected!r}; got:", *failures or ["none"], sep="\n          ")
    total = len(mutations())
    print(f"self-test: {total - missed}/{total} mutations caught")
    return 1 if missed else 0


def main(argv):
    if argv not in ([], ["--self-test"]):
        sys.exit(f"usage: {sys.argv[0]} [--self-test]")
    shapes = load()
    rust_text = rust_source_text()
    if argv == ["--self-test"]:
        return self_test(shapes, rust_text)
    failures, routes, public, functions = run_checks(shapes, rust_text)
    print(f"    shapes: {'; '.join(s for s, _, _ in shapes)}")
    print(f"    routes checked: {len(routes)} ({len(routes) - len(public)} behind the JWT authorizer)")
    print(f"    public routes ({len(public)}): {', '.join(sorted(public))}")
    print(f"    functions checked: {len(functions)} ({', '.join(sorted(functions))})")
    if failures:
        print(f"FAILED: {len(failures)} template check(s):", *failures, sep="\n  ", file=sys.stderr)
        return 1
    print("    template checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
