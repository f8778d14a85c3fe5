#!/usr/bin/env python3
"""SQS mode against a second, independent SQS implementation: the npm emulator fauxqs.

fauxqs (tests/package.json, installed by scripts/install-deps.sh with npm --ignore-scripts)
runs on 127.0.0.1 through fauxqs_loopback.mjs; its queue URLs name a host
(sqs.<region>.localhost) that the worker reaches through AWS_ENDPOINT_URL_SQS. Checks:

  * triggers from boto3, from the AWS SDK for JavaScript v3 (@aws-sdk/client-sqs) and from
    `mlworker send` are consumed in batches of 10 (DeleteMessageBatch) and their users' rows
    processed; the aggregates equal the oracle;
  * `mlworker send` is read back by boto3 with identical body, attributes and MD5s;
  * `mlworker queue depth` agrees;
  * a malformed message reaches the DLQ after 3 receives;
  * SIGTERM during a long poll exits 0 promptly.

Needs node with tests/node_modules (fauxqs, @aws-sdk/client-sqs), python3 with boto3.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqs_testlib as T  # noqa: E402

T.require_tools()
HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(T.SRC, "tests", "node_modules")
if not shutil.which("node") or not os.path.isdir(os.path.join(NODE_MODULES, "fauxqs")) or \
        not os.path.isdir(os.path.join(NODE_MODULES, "@aws-sdk", "client-sqs")):
    print("fauxqs or @aws-sdk/client-sqs is missing from tests/node_modules (or node is not on "
          "PATH): run scripts/install-deps.sh test")
    print("0 passed, 1 failed")
    sys.exit(1)

TMP = T.tmpdir()
port = T.free_port()
flog = open(os.path.join(TMP, "fauxqs.log"), "wb")
fq = subprocess.Popen(["node", os.path.join(HERE, "fauxqs_loopback.mjs"), str(port)],
                      stdout=subprocess.PIPE, stderr=flog, start_new_session=True)
line = fq.stdout.readline().decode().strip()
if not line.startswith("listening"):
    fq.kill()
    flog.close()
    print("fauxqs did not start: %r (see %s/fauxqs.log)" % (line, TMP))
    print("0 passed, 1 failed")
    sys.exit(1)
URL = "http://127.0.0.1:%d" % port
sqs = T.sqs_client(URL)
logs = []

JS_SEND = r"""
const { SQSClient, SendMessageCommand } = require("@aws-sdk/client-sqs");
const [endpoint, queueUrl, body, attrs] = process.argv.slice(1);
const c = new SQSClient({ endpoint, region: "us-east-1",
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID,
                 secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY } });
c.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body,
                                MessageAttributes: JSON.parse(attrs) }))
  .then(r => console.log(r.MessageId))
  .catch(e => { console.error(String(e)); process.exit(1); });
"""

try:
    T.say("fauxqs at %s, temp dir %s" % (URL, TMP))
    Q, DLQ = T.make_queues(sqs, "fq-jobs", visibility=30)
    DB = os.path.join(TMP, "fq.db")
    T.migrate(DB)
    T.gen(DB, "--users", 4, "--days", 8, "--rows", 2000, "--seed", 31)
    wenv = {"AWS_ENDPOINT_URL_SQS": URL}

    T.say("producers: boto3, @aws-sdk/client-sqs, mlworker send")
    sqs.send_message(QueueUrl=Q, MessageBody=T.original_body("process_pending_vitals", 1),
                     MessageAttributes=T.original_attrs("process_pending_vitals", 1))
    js_attrs = {k: {"DataType": v["DataType"], "StringValue": v["StringValue"]}
                for k, v in T.original_attrs("process_pending_nutrition", 2).items()}
    p = subprocess.run(["node", "-e", JS_SEND, URL, Q,
                        T.original_body("process_pending_nutrition", 2), json.dumps(js_attrs)],
                       env=dict(os.environ, NODE_PATH=NODE_MODULES, AWS_ACCESS_KEY_ID=T.AKID,
                                AWS_SECRET_ACCESS_KEY=T.SECRET),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    T.check(p.returncode == 0, "@aws-sdk/client-sqs SendMessage", p.stdout)
    senv = T.base_env(Q, DB, **wenv)
    for job in ("process-pending-vitals", "process-pending-nutrition"):
        for u in (3, 4):
            subprocess.run([T.MLWORKER, "send", job, "--user", str(u)], env=senv, check=True,
                           stdout=subprocess.DEVNULL, timeout=30)
    subprocess.run([T.MLWORKER, "send", "process-pending-vitals", "--user", "2"], env=senv,
                   check=True, stdout=subprocess.DEVNULL, timeout=30)
    subprocess.run([T.MLWORKER, "send", "process-pending-nutrition", "--user", "1"], env=senv,
                   check=True, stdout=subprocess.DEVNULL, timeout=30)
    p = subprocess.run([T.MLWORKER, "queue", "depth"], env=senv, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    T.check(p.returncode == 0 and p.stdout.startswith("visible 8\nin_flight 0\n"),
            "queue depth: 8 visible", p.stdout)

    env = T.base_env(Q, DB, ML_WORKER_MODE="sqs", ML_WORKER_WAIT_TIME=1,
                     ML_WORKER_EXIT_WHEN_IDLE=1, ML_WORKER_BATCH_SIZE=10, **wenv)
    rc, log = T.run_worker(env, os.path.join(TMP, "run1.log"))
    logs.append(log)
    T.check(rc == 0 and T.depth(sqs, Q) == (0, 0), "all 8 triggers consumed and deleted", log)
    T.check("message(s) from SQS" in log and log.count("Message deleted from queue") == 8,
            "batch receive and DeleteMessageBatch")
    T.check(T.pending(DB, "vitals_raw_data") == 0 and T.pending(DB, "nutrition_raw_data") == 0,
            "every user's rows processed")
    ok, out = T.oracle(DB)
    T.check(ok, "oracle: aggregates equal", out)

    T.say("mlworker send read back by boto3")
    p = subprocess.run([T.MLWORKER, "send", "process-pending-vitals", "--user", "77", "-v"],
                       env=senv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=30)
    lines = p.stdout.splitlines()
    info = dict(x.split(" ", 1) for x in lines[1:]) if p.returncode == 0 else {}
    r = sqs.receive_message(QueueUrl=Q, MaxNumberOfMessages=1, WaitTimeSeconds=2,
                            MessageAttributeNames=["All"])
    m = (r.get("Messages") or [{}])[0]
    attrs = {k: (v["DataType"], v["StringValue"])
             for k, v in m.get("MessageAttributes", {}).items()}
    T.check(p.returncode == 0 and m.get("MessageId") == lines[0] and
            m["Body"] == info["Body"] and
            m["MD5OfBody"] == info["MD5OfMessageBody"] ==
            hashlib.md5(m["Body"].encode()).hexdigest() and
            m["MD5OfMessageAttributes"] == info["MD5OfMessageAttributes"] and
            attrs == {"JobType": ("String", "process_pending_vitals"),
                      "Priority": ("String", "normal"), "UserId": ("Number", "77")},
            "identical body, attributes and MD5s", p.stdout + json.dumps(m))
    sqs.delete_message(QueueUrl=Q, ReceiptHandle=m["ReceiptHandle"]) if m else None

    T.say("malformed message to the DLQ after 3 receives")
    sqs.send_message(QueueUrl=Q, MessageBody="{not json")
    env = T.base_env(Q, DB, ML_WORKER_MODE="sqs", ML_WORKER_WAIT_TIME=1,
                     ML_WORKER_VISIBILITY_TIMEOUT=1, **wenv)
    w = T.Worker(env, os.path.join(TMP, "poison.log"))
    moved = T.wait_until(lambda: T.depth(sqs, DLQ)[0] == 1, 30, 0.5)
    rc, secs = w.stop()
    log = w.log()
    logs.append(log)
    T.check(moved and "receive count 3" in log, "in the DLQ after 3 receives", log[-2000:])
    T.check(rc == 0 and secs < 3, "SIGTERM during a long poll: exit 0 in %.2f s" % secs)
    T.check(all(T.no_secret(x) for x in logs), "no secret key in the logs")
finally:
    os.killpg(fq.pid, 15)
    fq.wait()
    flog.close()
    if T.FAILED == 0:
        T.cleanup(TMP)
    else:
        print("logs kept in " + TMP)
T.finish()
