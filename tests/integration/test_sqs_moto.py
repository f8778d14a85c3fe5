#!/usr/bin/env python3
"""SQS mode end to end against moto's standalone server (moto_server on 127.0.0.1).

  * triggers sent by boto3 (the original's client) and by the `aws sqs send-message` CLI are
    consumed: the user's pending rows are processed (only that user's), the message deleted;
  * triggers without user_id drain everyone; the aggregates then equal the oracle;
  * `mlworker send` (all five job types) is read back by boto3 with identical bodies,
    attributes and MD5s; `mlworker queue depth` agrees with boto3;
  * malformed bodies, unknown job types and loinc_mapping are left for redrive and reach the
    DLQ after 3 receives, each receive logged with its ApproximateReceiveCount;
  * a trigger whose work outlasts the time budget is re-enqueued (and heartbeats keep it
    invisible meanwhile); nothing is stranded;
  * a database error never deletes the message: it is processed once the database is back;
  * SIGTERM during a long poll exits 0 within about a second; SIGTERM while messages wait
    releases them (visible again at once);
  * a non-existent queue is a fatal configuration error (exit 1, clear message);
  * both mode: the two threads share the database and the result equals the oracle; SIGTERM
    stops both; a fatal SQS error stops the aggregation thread too (exit 1);
  * no secret key in any log.

Needs python3 with boto3 (the machine's Python 3.11) and moto_server on PATH.
Prints "N passed, N failed".
"""

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqs_testlib as T  # noqa: E402

T.require_tools()
TMP = T.tmpdir()
moto = T.Moto(TMP)
sqs = T.sqs_client(moto.url)
all_logs = []


QN = [0]


def fresh():
    """A new queue + DLQ per section: a worker stopped during a long poll may leave moto's
    server-side poll running, and that poll can take a message sent right after (it comes
    back after its visibility timeout, as on AWS)."""
    QN[0] += 1
    return T.make_queues(sqs, "jobs%d" % QN[0], visibility=30)


def run(env, name, timeout=60):
    rc, log = T.run_worker(env, os.path.join(TMP, name + ".log"), timeout)
    all_logs.append(log)
    return rc, log


try:
    T.say("moto_server at %s, temp dir %s" % (moto.url, TMP))
    Q, DLQ = fresh()
    DB = os.path.join(TMP, "a.db")
    T.migrate(DB)
    T.gen(DB, "--users", 3, "--days", 10, "--rows", 2500, "--seed", 7, "--start-date",
          "2026-01-20")

    # ---- 1. boto3 and aws-cli producers, per-user triggers ----
    T.say("per-user triggers from boto3 and from the aws CLI")
    sqs.send_message(QueueUrl=Q, MessageBody=T.original_body("process_pending_vitals", 2),
                     MessageAttributes=T.original_attrs("process_pending_vitals", 2))
    cli_env = dict(os.environ, AWS_ACCESS_KEY_ID=T.AKID, AWS_SECRET_ACCESS_KEY=T.SECRET,
                   AWS_DEFAULT_REGION=T.REGION, AWS_EC2_METADATA_DISABLED="true")
    p = subprocess.run(["aws", "--endpoint-url", moto.url, "sqs", "send-message", "--queue-url", Q,
                        "--message-body", T.original_body("process_pending_nutrition", 3),
                        "--message-attributes",
                        json.dumps(T.original_attrs("process_pending_nutrition", 3))],
                       env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=60)
    T.check(p.returncode == 0, "aws sqs send-message", p.stdout)
    before = {u: (T.pending(DB, "vitals_raw_data", u), T.pending(DB, "nutrition_raw_data", u))
              for u in (1, 2, 3)}
    env = T.base_env(Q, DB, ML_WORKER_MODE="sqs", ML_WORKER_WAIT_TIME=1,
                     ML_WORKER_EXIT_WHEN_IDLE=1)
    rc, log = run(env, "run1")
    T.check(rc == 0, "worker exit 0 after the queue emptied", log)
    T.check(T.pending(DB, "vitals_raw_data", 2) == 0 and before[2][0] > 0,
            "user 2's pending vitals processed (%d rows)" % before[2][0])
    T.check(T.pending(DB, "nutrition_raw_data", 3) == 0 and before[3][1] > 0,
            "user 3's pending nutrition processed (%d rows)" % before[3][1])
    T.check(T.pending(DB, "vitals_raw_data", 1) == before[1][0] and
            T.pending(DB, "vitals_raw_data", 3) == before[3][0] and
            T.pending(DB, "nutrition_raw_data", 1) == before[1][1] and
            T.pending(DB, "nutrition_raw_data", 2) == before[2][1],
            "other users' rows untouched")
    T.check(T.depth(sqs, Q) == (0, 0), "both messages deleted (queue empty)")
    T.check(log.count("\U0001f4e5 Received 1 message(s) from SQS") == 2 and
            log.count("\u2705 Successfully processed message") == 2 and
            log.count("\U0001f5d1\ufe0f  Message deleted from queue") == 2 and
            "\U0001f493 Processing pending vitals for user 2" in log and
            "\U0001f34e Processing pending nutrition for user 3" in log,
            "log lines as the original's (inbox, vitals, nutrition, success, deleted)", log)

    # ---- 2. mlworker send round trip through boto3 ----
    T.say("mlworker send: boto3 reads identical bodies, attributes and MD5s")
    tests_json = os.path.join(TMP, "tests.json")
    with open(tests_json, "w") as f:
        json.dump([{"test_name": "Hemoglobin", "test_value": "14.5", "test_unit": "g/dL"},
                   {"test_name": "Glucose \u00e9\u4e2d\U0001f600", "test_value": 5.25}], f)
    send_env = T.base_env(Q, DB)
    cases = [
        (["process-pending-vitals", "--user", "123"], "process_pending_vitals", 123),
        (["process-pending-nutrition", "--user", "7", "--priority", "high"],
         "process_pending_nutrition", 7),
        (["process_pending_labs"], "process_pending_labs", None),
        (["lab-categorization", "--user", "123", "--document", "456", "--tests", tests_json],
         "lab_categorization", 123),
        (["loinc-mapping", "--test-name", "HbA1c \"quoted\""], "loinc_mapping", None),
    ]
    sent = {}
    for args, jt, user in cases:
        p = subprocess.run([T.MLWORKER, "send"] + args + ["-v"], env=send_env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        lines = p.stdout.splitlines()
        if not T.check(p.returncode == 0 and len(lines) == 4, "mlworker send %s" % args[0],
                       p.stdout + p.stderr):
            continue
        info = dict(line.split(" ", 1) for line in lines[1:])
        sent[lines[0]] = (jt, user, info, args)
    got = {}
    for _ in range(10):
        r = sqs.receive_message(QueueUrl=Q, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                MessageAttributeNames=["All"], AttributeNames=["All"])
        for m in r.get("Messages", []):
            got[m["MessageId"]] = m
        if len(got) >= len(sent):
            break
    T.check(set(got) == set(sent), "boto3 received every message mlworker sent (%d)" % len(sent))
    ts_re = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$")
    for mid, (jt, user, info, args) in sent.items():
        m = got.get(mid)
        if not m:
            continue
        body = json.loads(m["Body"])
        attrs = {k: (v["DataType"], v["StringValue"]) for k, v in m["MessageAttributes"].items()}
        want_attrs = {"JobType": ("String", jt),
                      "Priority": ("String", "high" if "high" in args else "normal")}
        if user is not None:
            want_attrs["UserId"] = ("Number", str(user))
        ok = (m["Body"] == info["Body"] and
              m["MD5OfBody"] == info["MD5OfMessageBody"] ==
              hashlib.md5(m["Body"].encode()).hexdigest() and
              m["MD5OfMessageAttributes"] == info["MD5OfMessageAttributes"] and
              attrs == want_attrs and body["job_type"] == jt and
              body.get("user_id") == user and ts_re.match(body["submitted_at"]) and
              body["priority"] == want_attrs["Priority"][1])
        if jt == "lab_categorization":
            with open(tests_json) as f:
                ok = ok and body["tests"] == json.load(f) and body["test_count"] == 2 \
                    and body["document_id"] == 456
            # json.dumps would write the same bytes (key order, separators, \\u escapes)
            ok = ok and m["Body"] == json.dumps(body)
        if jt == "loinc_mapping":
            ok = ok and body["test_name"] == 'HbA1c "quoted"' and "user_id" not in body
        T.check(ok, "%s: body, attributes (types), MD5OfBody and MD5OfMessageAttributes equal"
                % jt, json.dumps({"got": m, "sent": info}, indent=1))
    sqs.purge_queue(QueueUrl=Q)
    time.sleep(0.2)

    p = subprocess.run([T.MLWORKER, "send", "frobnicate"], env=send_env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    T.check(p.returncode == 2 and "unknown job" in p.stderr, "send: unknown job is a usage error")

    # ---- 3. queue depth ----
    T.say("mlworker queue depth")
    for i in range(3):
        sqs.send_message(QueueUrl=Q, MessageBody="{}")
    sqs.send_message(QueueUrl=Q, MessageBody="{}", DelaySeconds=60)
    sqs.receive_message(QueueUrl=Q, MaxNumberOfMessages=1, VisibilityTimeout=60)
    p = subprocess.run([T.MLWORKER, "queue", "depth"], env=send_env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    T.check(p.returncode == 0 and p.stdout == "visible 2\nin_flight 1\ndelayed 1\n",
            "queue depth: visible 2, in flight 1, delayed 1", p.stdout + p.stderr)
    p = subprocess.run([T.MLWORKER, "queue", "url", DLQ.rsplit("/", 1)[1]], env=send_env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    T.check(p.returncode == 0 and p.stdout.strip() == DLQ, "queue url (GetQueueUrl)",
            p.stdout + p.stderr)
    Q, DLQ = fresh()

    # ---- 4. triggers without user: everyone, then the oracle ----
    T.say("triggers without user_id drain every user; aggregates equal the oracle")
    for job in ("process-pending-vitals", "process-pending-nutrition", "process-pending-labs"):
        subprocess.run([T.MLWORKER, "send", job], env=T.base_env(Q, DB), check=True,
                       stdout=subprocess.DEVNULL, timeout=30)
    env = T.base_env(Q, DB, ML_WORKER_MODE="sqs", ML_WORKER_WAIT_TIME=1,
                     ML_WORKER_EXIT_WHEN_IDLE=1, ML_WORKER_BATCH_SIZE=10)
    rc, log = run(env, "run2")
    T.check(rc == 0 and T.depth(sqs, Q) == (0, 0), "3 messages consumed and deleted", log)
    T.check("Processing pending labs for user all" in log,
            "process_pending_labs drains the labs domain, deleted when done")
    ok, out = T.oracle(DB)
    T.check(ok, "oracle: every row processed, aggregates equal", out)

    # ---- 5. poison messages reach the DLQ after 3 receives ----
    T.say("malformed, unknown and unavailable jobs go to the DLQ after 3 receives")
    poison = ["not json {", "[1, 2, 3]", json.dumps({"job_type": "frobnicate", "user_id": 1}),
              json.dumps({"job_type": "process_pending_vitals", "user_id": "abc"}),
              T.original_body("loinc_mapping", test_name="HbA1c")]
    for b in poison:
        sqs.send_message(QueueUrl=Q, MessageBody=b)
    env = T.base_env(Q, DB, ML_WORKER_MODE="sqs", ML_WORKER_WAIT_TIME=1,
                     ML_WORKER_VISIBILITY_TIMEOUT=1, ML_WORKER_BATCH_SIZE=10)
    w = T.Worker(env, os.path.join(TMP, "poison.log"))
    moved = T.wait_until(lambda: T.depth(sqs, DLQ)[0] == len(poison), 40, 0.5)
    rc, secs = w.stop()
    log = w.log()
    all_logs.append(log)
    T.check(moved, "all %d poison messages in the DLQ" % len(poison), log)
    T.check(rc == 0, "worker still healthy, exit 0 on SIGTERM")
    T.check(T.depth(sqs, Q) == (0, 0), "main queue empty")
    for cnt in (1, 2, 3):
        T.check(len(re.findall(r"receive count %d\b" % cnt, log)) >= len(poison),
                "each poison message logged on receive %d with its ApproximateReceiveCount" % cnt)
    T.check("body is not valid JSON" in log and "not an object" in log and
            "Unknown job type: frobnicate" in log and "user_id is not a non-negative" in log and
            "LOINC mapping is not available" in log,
            "each reason named in the log")
    T.check("Traceback" not in log and "Segmentation" not in log, "no crash")

    # ---- 6. budget spent: re-enqueue, heartbeat ----
    T.say("work beyond the time budget: heartbeats, then the trigger is re-enqueued")
    Q, DLQ = fresh()
    DB2 = os.path.join(TMP, "b.db")
    T.migrate(DB2)
    T.gen(DB2, "--users", 1, "--days", 30, "--rows", 6000, "--seed", 11)
    sqs.send_message(QueueUrl=Q, MessageBody=T.original_body("process_pending_vitals", 1),
                     MessageAttributes=T.original_attrs("process_pending_vitals", 1))
    env = T.base_env(Q, DB2, ML_WORKER_MODE="sqs", ML_WORKER_WAIT_TIME=1,
                     ML_WORKER_VISIBILITY_TIMEOUT=1, ML_WORKER_AGGREGATION_BATCH_SIZE=1,
                     ML_WORKER_EXIT_WHEN_IDLE=1, ML_WORKER_LOG_LEVEL="debug")
    rc, log = run(env, "budget", timeout=90)
    T.check(rc == 0 and T.pending(DB2, "vitals_raw_data") == 0,
            "all rows processed through re-enqueued triggers", log[-3000:])
    T.check("Work remains: trigger re-enqueued as message" in log and "Heartbeat: message" in log,
            "trigger re-enqueued (%d times) and heartbeats sent" %
            log.count("trigger re-enqueued"), log[-3000:])
    T.check(T.depth(sqs, Q) == (0, 0) and T.depth(sqs, DLQ)[0] == 0,
            "nothing left behind, nothing sent to the DLQ")

    # ---- 7. database error: message kept ----
    T.say("a database error never deletes the message")
    Q, DLQ = fresh()
    DB3 = os.path.join(TMP, "c.db")
    T.migrate(DB3)
    T.gen(DB3, "--users", 2, "--days", 3, "--rows", 300, "--seed", 12)
    c = sqlite3.connect(DB3)
    c.execute("ALTER TABLE vitals_raw_data RENAME TO vitals_raw_data_away")
    c.commit()
    sqs.send_message(QueueUrl=Q, MessageBody=T.original_body("process_pending_vitals", 1))
    env = T.base_env(Q, DB3, ML_WORKER_MODE="sqs", ML_WORKER_WAIT_TIME=1,
                     ML_WORKER_VISIBILITY_TIMEOUT=2)
    w = T.Worker(env, os.path.join(TMP, "dberr.log"))
    failed = w.wait_log("database error", 20)
    kept = T.depth(sqs, Q) == (0, 1)
    c.execute("ALTER TABLE vitals_raw_data_away RENAME TO vitals_raw_data")
    c.commit()
    c.close()
    done = T.wait_until(lambda: T.pending(DB3, "vitals_raw_data", 1) == 0
                        and T.depth(sqs, Q) == (0, 0), 30, 0.3)
    rc, secs = w.stop()
    log = w.log()
    all_logs.append(log)
    T.check(failed and kept, "database error logged; message not deleted (in flight)", log)
    T.check("Backing off" in log, "backed off after the database error")
    T.check(done and rc == 0, "redelivered after the visibility timeout and processed once the "
            "database was back", log)

    # ---- 8. SIGTERM during a long poll ----
    T.say("SIGTERM during a 20 s long poll")
    Q, DLQ = fresh()
    env = T.base_env(Q, DB, ML_WORKER_MODE="sqs", ML_WORKER_WAIT_TIME=20)
    w = T.Worker(env, os.path.join(TMP, "poll.log"))
    started = w.wait_log("AWS SQS client initialized", 10)
    time.sleep(1.5)
    rc, secs = w.stop()
    log = w.log()
    all_logs.append(log)
    T.check(started and rc == 0 and secs < 3.0,
            "exit 0 %.2f s after SIGTERM (limit 3 s)" % secs, log)
    T.check("ML Worker stopped gracefully" in log and "Worker Stats:" in log,
            "graceful shutdown lines and the stats block")

    # ---- 9. SIGTERM with received messages waiting: they are released ----
    T.say("SIGTERM while a batch is in hand: unstarted messages are released")
    Q, DLQ = fresh()
    DB4 = os.path.join(TMP, "d.db")
    T.migrate(DB4)
    T.gen(DB4, "--users", 4, "--days", 20, "--rows", 4000, "--seed", 13)
    for u in (1, 2, 3, 4):
        sqs.send_message(QueueUrl=Q, MessageBody=T.original_body("process_pending_vitals", u))
    env = T.base_env(Q, DB4, ML_WORKER_MODE="sqs", ML_WORKER_WAIT_TIME=2,
                     ML_WORKER_BATCH_SIZE=10, ML_WORKER_AGGREGATION_BATCH_SIZE=1,
                     ML_WORKER_VISIBILITY_TIMEOUT=60, ML_WORKER_SHUTDOWN_TIMEOUT=2)
    w = T.Worker(env, os.path.join(TMP, "release.log"))
    w.wait_log("Processing pending vitals for user", 15)
    time.sleep(0.3)
    rc, secs = w.stop()
    log = w.log()
    all_logs.append(log)
    n_recv = sum(int(x) for x in re.findall(r"Received (\d+) message\(s\)", log))
    n_released = log.count("Released message")
    n_requeued = log.count("trigger re-enqueued")
    n_done = log.count("Successfully processed message")
    vis = T.depth(sqs, Q)[0]
    T.check(rc == 0 and secs < 5, "exit 0 %.2f s after SIGTERM (ML_WORKER_SHUTDOWN_TIMEOUT=2)"
            % secs, log)
    T.check(n_recv >= 2 and n_released >= 1 and n_released + n_requeued + n_done >= n_recv,
            "received %d: %d released, %d re-enqueued, %d done" %
            (n_recv, n_released, n_requeued, n_done), log)
    T.check(vis >= n_released + n_requeued,
            "released and re-enqueued triggers visible again at once (%d visible)" % vis)
    sqs.purge_queue(QueueUrl=Q)

    # ---- 10. fatal: no such queue ----
    T.say("a queue that does not exist is a fatal configuration error")
    env = T.base_env(moto.url + "/123456789012/no-such-queue", DB, ML_WORKER_MODE="sqs",
                     ML_WORKER_WAIT_TIME=1)
    rc, log = run(env, "fatal", timeout=30)
    T.check(rc == 1 and "does not exist" in log and "Fatal error" in log,
            "exit 1 with a clear message", log)

    # ---- 11. both mode ----
    T.say("both mode: consumer and aggregation threads, interleaved, then the oracle")
    Q, DLQ = fresh()
    DB5 = os.path.join(TMP, "e.db")
    T.migrate(DB5)
    T.gen(DB5, "--users", 4, "--days", 15, "--rows", 4000, "--seed", 14)
    for u in (1, 2, 3, 4):
        sqs.send_message(QueueUrl=Q, MessageBody=T.original_body("process_pending_vitals", u))
        sqs.send_message(QueueUrl=Q, MessageBody=T.original_body("process_pending_nutrition", u))
    env = T.base_env(Q, DB5, ML_WORKER_MODE="both", ML_WORKER_WAIT_TIME=1,
                     ML_WORKER_EXIT_WHEN_IDLE=1, ML_WORKER_AGGREGATION_BATCH_SIZE=20)
    rc, log = run(env, "both", timeout=120)
    T.check(rc == 0 and "Starting BOTH SQS and aggregation workers" in log and
            "Mode: BOTH" in log, "both mode ran and exited 0 when idle", log[-3000:])
    T.check(T.depth(sqs, Q) == (0, 0), "every trigger consumed")
    ok, out = T.oracle(DB5)
    T.check(ok, "oracle after both threads worked on the same database", out)
    env = T.base_env(Q, DB5, ML_WORKER_MODE="both", ML_WORKER_WAIT_TIME=20)
    w = T.Worker(env, os.path.join(TMP, "both-term.log"))
    w.wait_log("AWS SQS client initialized", 10)
    time.sleep(1)
    rc, secs = w.stop()
    all_logs.append(w.log())
    T.check(rc == 0 and secs < 3, "both mode: SIGTERM stops both threads, exit 0 in %.2f s"
            % secs, w.log()[-2000:])
    env = T.base_env(moto.url + "/123456789012/no-such-queue", DB5, ML_WORKER_MODE="both",
                     ML_WORKER_WAIT_TIME=1)
    rc, log = run(env, "both-fatal", timeout=30)
    T.check(rc == 1 and "does not exist" in log and "stopping the aggregation worker too" in log,
            "both mode: a fatal SQS error stops the aggregation thread too, exit 1", log[-2000:])

    T.check(all(T.no_secret(x) for x in all_logs), "no secret key in any worker log")
finally:
    moto.stop()
    if T.FAILED == 0:
        T.cleanup(TMP)
    else:
        print("logs kept in " + TMP)
T.finish()
