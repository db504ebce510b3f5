#!/usr/bin/env bash
# Validates template.yaml the thorough way: the SAM transform run locally
# (aws-sam-translator), then cfn-lint on the CloudFormation it generates (cfn-lint on
# the SAM source checks its resources only shallowly). Installs both from PyPI when
# missing. Safe to run again; prompts for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

if ! python3 -c 'import samtranslator, cfnlint' 2>/dev/null; then
  say "installing aws-sam-translator and cfn-lint (pip)"
  python3 -m pip install --quiet --disable-pip-version-check aws-sam-translator cfn-lint
fi

out=$(mktemp -d)
say "transforming template.yaml with the SAM translator"
AWS_DEFAULT_REGION=us-east-1 python3 - "$out/template.json" <<'PY'
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

with open("template.yaml") as f:
    template = yaml_parse(f.read())
# The translator wants deployable code locations; the build puts them in S3.
for resource in template["Resources"].values():
    if resource["Type"] == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = "s3://cogs-build-artifacts/function.zip"

class NoManagedPolicies:
    def load(self):
        return {}

output = transform(template, {}, NoManagedPolicies())
with open(sys.argv[1], "w") as f:
    json.dump(output, f, indent=1)
print(f"{len(output['Resources'])} CloudFormation resources")
PY
say "linting the generated CloudFormation with cfn-lint"
AWS_DEFAULT_REGION=us-east-1 cfn-lint --regions us-east-1 -- "$out/template.json"
say "checking that the template deploys every function binary with the settings it needs, no password and bounded, routes every documented path behind the JWT authorizer (but the dashboard's pages), lets no user write their tenant, throttles, keeps a TLS-only versioned bucket and sets no development header"
python3 - <<'PY'
import glob, json, re, sys
from samtranslator.yaml_helper import yaml_parse

template = yaml_parse(open("template.yaml").read())
functions = {r["Metadata"]["BuildProperties"]["Binary"]: r for r in template["Resources"].values()
             if r["Type"] == "AWS::Serverless::Function"}
# The dashboard's function serves its pages and assets only: it reads no data, so it
# needs neither the database nor the bucket, and its routes (GET only) are open.
DASHBOARD = "cogs-web"
binaries = set()
for manifest in glob.glob("functions/*/Cargo.toml"):
    binaries |= set(re.findall(r'\[\[bin\]\]\s*\nname = "(cogs-[a-z-]+)"', open(manifest).read()))
missing = sorted(binaries - set(functions))
routes = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"])
          for f in functions.values() for e in f["Properties"].get("Events", {}).values() if e["Type"] == "HttpApi"}
documented = {(m.upper(), p) for p, ops in json.load(open("functions/openapi.json"))["paths"].items() for m in ops}
problems = [f"function binary {b} is not deployed" for b in missing]
# The development header trusts whatever tenant a caller names: never in a deployment.
for name, resource in [*template.get("Globals", {}).items(), *template["Resources"].items()]:
    if "COGS_DEV_TENANT_HEADER" in json.dumps(resource):
        problems.append(f"{name} sets COGS_DEV_TENANT_HEADER, which lets any caller name any tenant")
# A deployed function refuses to start without what only local development may lack
# (cogs_core::lambda::Config): the staging bucket everywhere, the state machine in the run function.
global_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
for binary, resource in functions.items():
    env = {**global_env, **resource["Properties"].get("Environment", {}).get("Variables", {})}
    if binary == DASHBOARD:
        needed = ["COGS_COGNITO_DOMAIN", "COGS_COGNITO_CLIENT_ID"]
    else:
        needed = ["COGS_BUCKET", "COGS_DATABASE_SECRET_ARN"] + (["COGS_STATE_MACHINE_ARN"] if binary == "cogs-run" else [])
    # No password in a function's configuration: a dynamic reference is resolved into it.
    for name, value in env.items():
        if name.endswith("DATABASE_URL") or re.search(r"resolve:secretsmanager|postgres(ql)?://", json.dumps(value)):
            problems.append(f"function {binary} puts a database URL or secret value in its environment ({name})")
    policies = resource["Properties"].get("Policies", [])
    if binary == DASHBOARD and policies:
        problems.append(f"function {binary} serves static pages and needs no permission, yet has {policies}")
    elif binary != DASHBOARD and {"Ref": "DatabaseSecretRead"} not in policies:
        problems.append(f"function {binary} may not read the database secret (DatabaseSecretRead)")
    problems += [f"function {binary} does not set {name}, without which it refuses to start" for name in needed
                 if name not in env]
# Limits: every function's concurrency is bounded, the API throttles, and the bucket
# takes TLS only, keeps versions and allows no origin it was not given.
problems += [f"function {b} has no ReservedConcurrentExecutions" for b, r in functions.items()
             if "ReservedConcurrentExecutions" not in r["Properties"]]
api = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi"]
problems += ["the HTTP API sets no throttling" for a in api
             if "ThrottlingRateLimit" not in a["Properties"].get("DefaultRouteSettings", {})]
buckets = {n: r for n, r in template["Resources"].items() if r["Type"] == "AWS::S3::Bucket"}
policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"]
for name, bucket in buckets.items():
    if bucket["Properties"].get("VersioningConfiguration", {}).get("Status") != "Enabled":
        problems.append(f"bucket {name} keeps no versions")
    if not any(p["Properties"]["Bucket"] == {"Ref": name} and "aws:SecureTransport" in json.dumps(p) for p in policies):
        problems.append(f"bucket {name} does not deny requests without TLS")
    if '"*"' in json.dumps(bucket["Properties"].get("CorsConfiguration", {}).get("CorsRules", [{}])[0].get("AllowedOrigins")):
        problems.append(f"bucket {name} allows any origin")
if "*" in json.dumps(template["Parameters"].get("UploadOrigins", {}).get("Default", "")):
    problems.append("UploadOrigins defaults to any origin")
# Who writes the tenant claim: no self sign-up, and no app client may write the
# attribute the claim comes from; the API's default authorizer is the JWT one, trusting
# the stack's pool (or the outside issuer), and only /health is open.
claim = "custom:" + template["Parameters"]["TenantClaim"]["Default"].removeprefix("custom:")
for name, pool in [(n, r) for n, r in template["Resources"].items() if r["Type"] == "AWS::Cognito::UserPool"]:
    if pool["Properties"].get("AdminCreateUserConfig", {}).get("AllowAdminCreateUserOnly") is not True:
        problems.append(f"user pool {name} lets anyone sign up and choose their own {claim}")
for name, client in [(n, r) for n, r in template["Resources"].items() if r["Type"] == "AWS::Cognito::UserPoolClient"]:
    props = client["Properties"]
    if "WriteAttributes" not in props or claim in props["WriteAttributes"]:
        problems.append(f"app client {name} lets a user write {claim} (WriteAttributes)")
    if claim not in props.get("ReadAttributes", []):
        problems.append(f"app client {name} cannot read {claim}, so its tokens carry no tenant")
    if props.get("AllowedOAuthFlows") != ["code"] or props.get("GenerateSecret", False) is not False:
        problems.append(f"app client {name} is not a public authorization-code (PKCE) client")
for a in api:
    auth = a["Properties"].get("Auth", {})
    jwt = auth.get("Authorizers", {}).get(auth.get("DefaultAuthorizer", ""), {}).get("JwtConfiguration")
    if not jwt or "UserPool" not in json.dumps(jwt.get("issuer")) or "JwtIssuer" not in json.dumps(jwt.get("issuer")):
        problems.append("the HTTP API's default authorizer is not the JWT one trusting the user pool or JwtIssuer")
open_routes = {(b, e["Properties"]["Method"].upper(), e["Properties"]["Path"])
               for b, f in functions.items() for e in f["Properties"].get("Events", {}).values()
               if e["Type"] == "HttpApi" and e["Properties"].get("Auth", {}).get("Authorizer") == "NONE"}
problems += [f"route {m} {p} is open without a token" for b, m, p in sorted(open_routes)
             if (m, p) != ("GET", "/health") and not (b == DASHBOARD and m == "GET")]
problems += [f"the dashboard's route {e['Properties']['Method']} {e['Properties']['Path']} is behind the JWT authorizer, "
             "so the page cannot load to sign in" for b, f in functions.items() if b == DASHBOARD
             for e in f["Properties"].get("Events", {}).values() if (b, e["Properties"]["Method"].upper(), e["Properties"]["Path"]) not in open_routes]
problems += [f"documented route {m} {p} has no HttpApi event" for m, p in sorted(documented - routes)]
problems += [f"route {m} {p} is not documented in functions/openapi.json" for m, p in sorted(routes - documented)]
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
PY
say "template.yaml: transform and lint clean"
