#!/usr/bin/env python3
"""SigV4: mlworker's C signer against botocore's SigV4Auth, byte for byte.

Each case is an SQS request (mostly the JSON 1.0 protocol the worker
speaks: POST /, Content-Type application/x-amz-json-1.0, X-Amz-Target
AmazonSQS.*) signed at a fixed time by botocore (the AWS client the Python
original used) and by the C signer through the driver mode of the unit test
binary:

    $MLW_BUILD_DIR/test_sigv4 --sign <method> <url> <region> <service>
                              <amzdate> <key> <secret> [token]

with "Name: value" header lines, an empty line and the body on stdin. The
driver prints the headers to add ("Name: value", Authorization last). The
X-Amz-Date, X-Amz-Security-Token and Authorization values must be equal.

Needs python3 with botocore (the machine's Python 3.11 ships 1.43).
Prints "N passed, N failed"; exits non-zero on any failure.
"""

import datetime
import os
import subprocess
import sys
from unittest import mock

try:
    import botocore
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"botocore is not importable by {sys.executable}: {exc}; "
          "run with the machine's Python 3.11 (python3 on PATH)")
    print("0 passed, 1 failed")
    sys.exit(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqs_testlib import secret  # noqa: E402  (tests/secrets.txt)

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = secret("SIGV4_SECRET_ACCESS_KEY")
# Shaped like a real STS token: long, with '/', '+' and '='.
TOKEN = secret("SIGV4_SESSION_TOKEN")
WHEN = datetime.datetime(2024, 5, 6, 7, 8, 9)
AMZ_DATE = WHEN.strftime("%Y%m%dT%H%M%SZ")
JSON_CT = "application/x-amz-json-1.0"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/mlworker-jobs"


def sqs_json(target, body, **extra):
    headers = {"Content-Type": JSON_CT, "X-Amz-Target": f"AmazonSQS.{target}"}
    headers.update(extra)
    return headers, body.encode("utf-8")


CASES = [
    # (name, method, url, region, token, headers, body)
    ("receive-message", "POST", "https://sqs.us-east-1.amazonaws.com/",
     "us-east-1", None,
     *sqs_json("ReceiveMessage",
               '{"QueueUrl": "%s", "MaxNumberOfMessages": 10, '
               '"WaitTimeSeconds": 20, "VisibilityTimeout": 300, '
               '"MessageAttributeNames": ["All"], '
               '"MessageSystemAttributeNames": ["ApproximateReceiveCount"]}'
               % QUEUE)),
    ("receive-message-session-token", "POST",
     "https://sqs.us-east-1.amazonaws.com/", "us-east-1", TOKEN,
     *sqs_json("ReceiveMessage",
               '{"QueueUrl": "%s", "MaxNumberOfMessages": 1, '
               '"WaitTimeSeconds": 20}' % QUEUE)),
    ("send-message-utf8-eu-west-1", "POST",
     "https://sqs.eu-west-1.amazonaws.com/", "eu-west-1", TOKEN,
     *sqs_json("SendMessage",
               '{"QueueUrl": "https://sqs.eu-west-1.amazonaws.com/1/q", '
               '"MessageBody": "{\\"job_type\\": \\"loinc_mapping\\", '
               '\\"test_name\\": \\"Hämoglobin A1c ✓\\"}", '
               '"MessageAttributes": {"JobType": {"DataType": "String", '
               '"StringValue": "loinc_mapping"}, "UserId": {"DataType": '
               '"Number", "StringValue": "123"}}}')),
    ("delete-message-batch-local-port", "POST", "http://localhost:4566/",
     "us-east-1", None,
     *sqs_json("DeleteMessageBatch",
               '{"QueueUrl": "http://localhost:4566/000000000000/q", '
               '"Entries": [{"Id": "0", "ReceiptHandle": "AQEB+/=="}, '
               '{"Id": "1", "ReceiptHandle": "AQEC+/=="}]}')),
    ("get-queue-attributes-extra-headers", "POST",
     "https://sqs.us-west-2.amazonaws.com/", "us-west-2", TOKEN,
     *sqs_json("GetQueueAttributes",
               '{"QueueUrl": "https://sqs.us-west-2.amazonaws.com/1/q", '
               '"AttributeNames": ["ApproximateNumberOfMessages", '
               '"ApproximateNumberOfMessagesNotVisible", '
               '"ApproximateNumberOfMessagesDelayed"]}',
               **{"User-Agent": "mlworker/0.1.0 (not signed)",
                  "X-Amz-Custom": "  spaced   out\tvalue  ",
                  "amz-sdk-invocation-id": "7f0c2a8e-1b7e-4a49-9e55-2c3f"})),
    ("change-visibility-default-port", "POST",
     "https://sqs.us-east-1.amazonaws.com:443/", "us-east-1", None,
     *sqs_json("ChangeMessageVisibility",
               '{"QueueUrl": "%s", "ReceiptHandle": "rh", '
               '"VisibilityTimeout": 0}' % QUEUE)),
    ("get-queue-url-empty-body", "POST",
     "https://sqs.us-east-1.amazonaws.com/", "us-east-1", TOKEN,
     {"Content-Type": JSON_CT, "X-Amz-Target": "AmazonSQS.GetQueueUrl"},
     b""),
    ("elasticmq-path-double-encoding", "POST",
     "http://127.0.0.1:9324/000000000000/queue%20name", "elasticmq", None,
     *sqs_json("SendMessage", '{"MessageBody": "x"}')),
    ("query-protocol-get", "GET",
     QUEUE + "?Action=ReceiveMessage&MaxNumberOfMessages=10"
     "&Version=2012-11-05&AttributeName.1=All&WaitTimeSeconds=20",
     "us-east-1", TOKEN, {}, b""),
    ("query-protocol-post-form", "POST", QUEUE, "us-east-1", None,
     {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
     b"Action=SendMessage&MessageBody=%7B%22job_type%22%3A%22x%22%7D"
     b"&Version=2012-11-05"),
]

COMPARED = ("X-Amz-Date", "X-Amz-Security-Token", "Authorization")


def botocore_sign(method, url, region, token, headers, body):
    req = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    creds = Credentials(AKID, SECRET, token)
    with mock.patch.object(botocore.auth, "get_current_datetime",
                           return_value=WHEN):
        botocore.auth.SigV4Auth(creds, "sqs", region).add_auth(req)
    return {k: req.headers[k] for k in COMPARED if k in req.headers}


def c_sign(driver, method, url, region, token, headers, body):
    stdin = "".join(f"{k}: {v}\n" for k, v in headers.items())
    stdin = stdin.encode("utf-8") + b"\n" + body
    argv = [driver, "--sign", method, url, region, "sqs", AMZ_DATE, AKID,
            SECRET] + ([token] if token else [])
    proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=30)
    out = {}
    for line in proc.stdout.decode("utf-8").splitlines():
        name, _, value = line.partition(": ")
        out[name] = value
    return proc.returncode, out, proc.stderr.decode("utf-8", "replace")


def main():
    build = os.environ.get("MLW_BUILD_DIR")
    if not build:
        print("MLW_BUILD_DIR is not set (ctest sets it)")
        print("0 passed, 1 failed")
        return 1
    driver = os.path.join(build, "test_sigv4")
    if not os.access(driver, os.X_OK):
        print(f"{driver} is missing; build the project first")
        print("0 passed, 1 failed")
        return 1
    print(f"botocore {botocore.__version__}, python {sys.version.split()[0]}")

    passed = failed = 0
    for name, method, url, region, token, headers, body in CASES:
        want = botocore_sign(method, url, region, token, headers, body)
        rc, got, log = c_sign(driver, method, url, region, token, headers,
                              body)
        problems = []
        if rc != 0:
            problems.append(f"driver exit {rc}")
        if set(want) != set(COMPARED) - (set() if token else
                                         {"X-Amz-Security-Token"}):
            problems.append(f"botocore added {sorted(want)}")
        for key in COMPARED:
            if want.get(key) != got.get(key):
                problems.append(f"{key}:\n    botocore: {want.get(key)}\n"
                                f"    mlworker: {got.get(key)}")
        if problems:
            failed += 1
            print(f"FAIL {name}")
            for p in problems:
                print(f"  {p}")
            print("  C signer's log:\n    " + log.replace("\n", "\n    "))
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed == len(CASES) else 1


if __name__ == "__main__":
    sys.exit(main())
