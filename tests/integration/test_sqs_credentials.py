#!/usr/bin/env python3
"""The AWS credential chain, and SQS requests as signed on the wire.

A fake SQS endpoint on 127.0.0.1 re-signs every request it gets with botocore's SigV4Auth
(the signer of the original's boto3) using the keys the test expects, and compares the
Authorization header byte for byte; it also records the access key and session token used.
Fake ECS container-credentials and EC2 instance-metadata (IMDSv2) endpoints run on 127.0.0.1
too. Checks:

  * environment keys win over the files; AWS_PROFILE selects a section of the shared
    credentials file, or a "[profile x]" section of the config file; an unknown AWS_PROFILE
    and "no credentials anywhere" fail with exit 1 and a clear message;
  * the ECS endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI) with its Authorization token from
    AWS_CONTAINER_AUTHORIZATION_TOKEN and from ..._TOKEN_FILE; the session token is sent;
  * temporary credentials are fetched once while valid, refreshed when near expiry, and
    refreshed at once when SQS answers ExpiredToken;
  * IMDSv2: token PUT, role, keys (the token header is required);
  * every request's signature equals botocore's;
  * no secret key, session token or authorization token appears in any output.

Needs python3 with botocore (the machine's Python 3.11).
"""

import datetime
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqs_testlib as T  # noqa: E402

T.require_tools()
import botocore.auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

TMP = T.tmpdir()
SECRETS = []  # every secret value used; none may appear in any output


def secret(s):
    SECRETS.append(s)
    return s


ENV_KEYS = ("AKIAENVKEY0000000001", secret(T.secret("CRED_ENV_SECRET")))
FILE_DEFAULT = ("AKIAFILEDEFAULT00001", secret(T.secret("CRED_FILE_DEFAULT_SECRET")))
FILE_MLW = ("AKIAFILEPROFILE00001", secret(T.secret("CRED_FILE_PROFILE_SECRET")))
CONF_ONLY = ("AKIACONFPROFILE00001", secret(T.secret("CRED_CONFIG_PROFILE_SECRET")))
ECS_TOKEN = secret(T.secret("CRED_ECS_AUTH_TOKEN"))
ECS_KEYS = ("ASIAECSTEMPORARY0001", secret(T.secret("CRED_ECS_SECRET")),
            secret(T.secret("CRED_ECS_SESSION_TOKEN")))
IMDS_KEYS = ("ASIAIMDSTEMPORARY001", secret(T.secret("CRED_IMDS_SECRET")),
             secret(T.secret("CRED_IMDS_SESSION_TOKEN")))


class FakeSQS:
    """Answers GetQueueAttributes / ReceiveMessage; checks each signature with botocore."""

    def __init__(self):
        self.keys = {}        # access key id -> (secret, token)
        self.seen = []        # (akid, token, signature_ok)
        self.expired_once = set()   # access keys to answer ExpiredToken once
        fake = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, obj):
                b = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                auth = self.headers.get("Authorization", "")
                akid = auth.split("Credential=")[1].split("/")[0] if "Credential=" in auth else ""
                token = self.headers.get("X-Amz-Security-Token")
                ok = False
                if akid in fake.keys:
                    sec, tok = fake.keys[akid]
                    when = datetime.datetime.strptime(self.headers["X-Amz-Date"],
                                                      "%Y%m%dT%H%M%SZ")
                    req = AWSRequest(method="POST", url="http://%s/" % self.headers["Host"],
                                     data=body, headers={
                                         "Content-Type": self.headers["Content-Type"],
                                         "X-Amz-Target": self.headers["X-Amz-Target"]})
                    with mock.patch.object(botocore.auth, "get_current_datetime",
                                           return_value=when):
                        botocore.auth.SigV4Auth(Credentials(akid, sec, tok), "sqs",
                                                T.REGION).add_auth(req)
                    ok = (req.headers["Authorization"] == auth and token == tok and
                          self.path == "/")
                fake.seen.append((akid, token, ok))
                if akid in fake.expired_once:
                    fake.expired_once.discard(akid)
                    return self.reply(400, {"__type": "com.amazon.coral.service#ExpiredTokenException",
                                            "message": "The security token included in the "
                                                       "request is expired"})
                target = self.headers.get("X-Amz-Target", "")
                if target.endswith("GetQueueAttributes"):
                    return self.reply(200, {"Attributes": {
                        "ApproximateNumberOfMessages": "4",
                        "ApproximateNumberOfMessagesNotVisible": "5",
                        "ApproximateNumberOfMessagesDelayed": "6"}})
                if target.endswith("ReceiveMessage"):
                    time.sleep(min(1.0, json.loads(body).get("WaitTimeSeconds", 0)))
                    return self.reply(200, {})
                return self.reply(400, {"__type": "com.amazonaws.sqs#InvalidAction",
                                        "message": "not faked"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # peers hang up: fine
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class FakeMetadata:
    """ECS container endpoint at /creds and IMDSv2 at /latest/..."""

    def __init__(self):
        self.ecs_hits = 0
        self.ecs_auth_seen = []
        self.imds_hits = []
        self.expires_in = 3600
        self.imds_token = T.secret("CRED_IMDS_API_TOKEN")
        SECRETS.append(self.imds_token)
        md = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, status, text, ctype="application/json"):
                b = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def creds(self, keys):
                exp = (datetime.datetime.utcnow() + datetime.timedelta(seconds=md.expires_in))
                return json.dumps({"Code": "Success", "AccessKeyId": keys[0],
                                   "SecretAccessKey": keys[1], "Token": keys[2],
                                   "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")})

            def do_GET(self):
                if self.path == "/creds":
                    md.ecs_hits += 1
                    md.ecs_auth_seen.append(self.headers.get("Authorization"))
                    if self.headers.get("Authorization") != ECS_TOKEN:
                        return self.reply(403, '{"message": "bad token"}')
                    return self.reply(200, self.creds(ECS_KEYS))
                md.imds_hits.append(self.path)
                if self.headers.get("X-aws-ec2-metadata-token") != md.imds_token:
                    return self.reply(401, "", "text/plain")
                if self.path == "/latest/meta-data/iam/security-credentials/":
                    return self.reply(200, "mlworker-role\n", "text/plain")
                if self.path == "/latest/meta-data/iam/security-credentials/mlworker-role":
                    return self.reply(200, self.creds(IMDS_KEYS))
                return self.reply(404, "", "text/plain")

            def do_PUT(self):
                md.imds_hits.append("PUT " + self.path)
                if (self.path == "/latest/api/token" and
                        self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")):
                    return self.reply(200, md.imds_token, "text/plain")
                return self.reply(400, "", "text/plain")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # peers hang up: fine
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


sqs = FakeSQS()
md = FakeMetadata()
QUEUE = sqs.url + "/123456789012/creds-test"
outputs = []


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("AWS_") or k.startswith("ML_WORKER_"))}
    env["HOME"] = os.path.join(TMP, "home")   # no ~/.aws of the machine
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_REGION"] = T.REGION
    env["ML_WORKER_SQS_QUEUE_URL"] = QUEUE
    env.update(extra)
    return env


def depth(env):
    n = len(sqs.seen)
    p = subprocess.run([T.MLWORKER, "queue", "depth"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    outputs.append(p.stdout)
    return p.returncode, p.stdout, sqs.seen[n:]


def used(seen, keys):
    return bool(seen) and all(s[0] == keys[0] and s[2] for s in seen)


os.makedirs(os.path.join(TMP, "home"))
for k in (ENV_KEYS, FILE_DEFAULT, FILE_MLW, CONF_ONLY):
    sqs.keys[k[0]] = (k[1], None)
sqs.keys[ECS_KEYS[0]] = (ECS_KEYS[1], ECS_KEYS[2])
sqs.keys[IMDS_KEYS[0]] = (IMDS_KEYS[1], IMDS_KEYS[2])

credfile = os.path.join(TMP, "credentials")
with open(credfile, "w") as f:
    f.write("# comment\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n"
            "[mlw]\n  aws_access_key_id=%s\naws_secret_access_key=%s\n" % (
                FILE_DEFAULT[0], FILE_DEFAULT[1], FILE_MLW[0], FILE_MLW[1]))
conffile = os.path.join(TMP, "config")
with open(conffile, "w") as f:
    f.write("[default]\nregion = us-east-1\n[profile cfgonly]\naws_access_key_id = %s\n"
            "aws_secret_access_key = %s\n" % CONF_ONLY)
tokfile = os.path.join(TMP, "ecs-token")
with open(tokfile, "w") as f:
    f.write(ECS_TOKEN + "\n")
files = {"AWS_SHARED_CREDENTIALS_FILE": credfile, "AWS_CONFIG_FILE": conffile}

T.say("fake SQS %s, fake metadata %s" % (sqs.url, md.url))
rc, out, seen = depth(clean_env(AWS_ACCESS_KEY_ID=ENV_KEYS[0], AWS_SECRET_ACCESS_KEY=ENV_KEYS[1],
                                **files))
T.check(rc == 0 and out == "visible 4\nin_flight 5\ndelayed 6\n" and used(seen, ENV_KEYS),
        "environment keys win over the files; signature equals botocore's", out)
rc, out, seen = depth(clean_env(**files))
T.check(rc == 0 and used(seen, FILE_DEFAULT), "shared credentials file, [default]", out)
rc, out, seen = depth(clean_env(AWS_PROFILE="mlw", **files))
T.check(rc == 0 and used(seen, FILE_MLW), "AWS_PROFILE=mlw selects [mlw]", out)
rc, out, seen = depth(clean_env(AWS_PROFILE="cfgonly", **files))
T.check(rc == 0 and used(seen, CONF_ONLY), "AWS_PROFILE=cfgonly from [profile cfgonly] of "
        "the config file", out)
rc, out, seen = depth(clean_env(AWS_PROFILE="nope", **files))
T.check(rc == 1 and "AWS_PROFILE=nope" in out and not seen,
        "unknown AWS_PROFILE: exit 1, clear message", out)
rc, out, seen = depth(clean_env())
T.check(rc == 1 and "no AWS credentials" in out and not seen,
        "no credentials anywhere: exit 1, clear message", out)

T.say("ECS container endpoint")
ecs = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": md.url + "/creds"}
rc, out, seen = depth(clean_env(AWS_CONTAINER_AUTHORIZATION_TOKEN=ECS_TOKEN, **ecs))
T.check(rc == 0 and used(seen, ECS_KEYS) and seen[0][1] == ECS_KEYS[2],
        "container credentials with AWS_CONTAINER_AUTHORIZATION_TOKEN; session token sent "
        "and signed", out)
rc, out, seen = depth(clean_env(AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=tokfile, **ecs))
T.check(rc == 0 and used(seen, ECS_KEYS), "authorization token from ..._TOKEN_FILE", out)
rc, out, seen = depth(clean_env(AWS_CONTAINER_AUTHORIZATION_TOKEN="wrong", **ecs))
T.check(rc == 1 and "HTTP 403" in out and not seen, "wrong token: exit 1, clear message", out)
rc, out, seen = depth(clean_env(AWS_CONTAINER_CREDENTIALS_FULL_URI="http://192.0.2.1/creds"))
T.check(rc == 1 and "only allowed" in out, "plain http to a non-local host is refused", out)

T.say("refresh of temporary credentials (worker in sqs mode, 1 s polls)")
# HTTP endpoints off: the /readyz queue sampler has an SQS client (and credential cache) of
# its own, whose fetches would be counted too (and only when port 9090 happens to be free).
wenv = clean_env(AWS_CONTAINER_AUTHORIZATION_TOKEN=ECS_TOKEN, ML_WORKER_MODE="sqs",
                 ML_WORKER_WAIT_TIME="1", DATABASE_URL="sqlite:///" + os.path.join(TMP, "w.db"),
                 ML_WORKER_HTTP_ADDR="off", **ecs)
md.expires_in, md.ecs_hits = 3600, 0
n0 = len(sqs.seen)
w = T.Worker(wenv, os.path.join(TMP, "w1.log"))
time.sleep(3.5)
rc1, _ = w.stop()
outputs.append(w.log())
calls = sqs.seen[n0:]
T.check(rc1 == 0 and len(calls) >= 3 and md.ecs_hits == 1 and all(c[2] for c in calls),
        "valid for an hour: fetched once for %d calls" % len(calls), w.log()[-2000:])
md.expires_in, md.ecs_hits = 300, 0   # inside the 10-minute refresh margin
n0 = len(sqs.seen)
w = T.Worker(wenv, os.path.join(TMP, "w2.log"))
time.sleep(3.5)
rc2, _ = w.stop()
outputs.append(w.log())
calls = sqs.seen[n0:]
T.check(rc2 == 0 and md.ecs_hits >= len(calls) >= 3 and all(c[2] for c in calls),
        "near expiry: refreshed before each of %d calls (%d fetches)" % (len(calls), md.ecs_hits))
md.expires_in, md.ecs_hits = 3600, 0
sqs.expired_once.add(ECS_KEYS[0])
rc, out, seen = depth(clean_env(AWS_CONTAINER_AUTHORIZATION_TOKEN=ECS_TOKEN, **ecs))
T.check(rc == 0 and md.ecs_hits == 2 and len(seen) == 2,
        "ExpiredToken from SQS: keys fetched again and the call retried", out)

T.say("EC2 instance metadata (IMDSv2)")
md.imds_hits = []
rc, out, seen = depth(clean_env(AWS_EC2_METADATA_DISABLED="false",
                                AWS_EC2_METADATA_SERVICE_ENDPOINT=md.url))
T.check(rc == 0 and used(seen, IMDS_KEYS) and md.imds_hits[0] == "PUT /latest/api/token",
        "IMDSv2: token, role, keys", out + json.dumps(md.imds_hits))

leaks = [s for s in SECRETS for o in outputs if s in o]
T.check(not leaks, "no secret, session token or authorization token in any output "
        "(%d outputs checked)" % len(outputs))
sqs.server.shutdown()
md.server.shutdown()
if T.FAILED == 0:
    T.cleanup(TMP)
else:
    print("outputs kept in " + TMP)
T.finish()
