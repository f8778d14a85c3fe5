#!/usr/bin/env python3
"""Message limits and the dead-letter tools against moto's SQS (moto_server on 127.0.0.1),
with a real redrive policy (maxReceiveCount 2):

  * an oversize body (300 KiB, over the 256 KiB limit; moto accepts up to 1 MiB) is never
    processed: each receive logs its MessageId and size once, never its content; it stays in
    the queue and the redrive policy moves it to the DLQ;
  * a process_pending_labs trigger that cannot be processed (no lab_reports table) reaches
    the DLQ the same way;
  * `mlworker dlq list` finds the DLQ from the queue's RedrivePolicy and shows both
    (MessageId, receive count, job type, size), deletes nothing and makes them visible again;
  * `mlworker dlq redrive --dry-run` moves nothing; `mlworker dlq redrive --max 1` moves
    exactly one; `mlworker dlq redrive` moves the rest (send to the queue, then delete from
    the DLQ);
  * once the table is back, the worker processes the redriven labs trigger (deleted), while
    the oversize one goes back to the DLQ.

Needs python3 with boto3 (the machine's Python 3.11) and moto_server on PATH.
Prints "N passed, N failed".
"""

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
PAD = "Zq7" * (100 * 1024)  # 300 KiB: recognisable content that must never be logged


def dlq(env, *args, timeout=60):
    p = subprocess.run([T.MLWORKER, "dlq"] + list(args), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def table(db, old, new):
    c = sqlite3.connect(db, timeout=30)
    try:
        c.execute("ALTER TABLE %s RENAME TO %s" % (old, new))
        c.commit()
    finally:
        c.close()


def wait_depth(url, want, timeout):
    return T.wait_until(lambda: T.depth(sqs, url) == want, timeout, 0.2)


try:
    T.say("moto_server at %s, temp dir %s" % (moto.url, TMP))
    Q, DLQ = T.make_queues(sqs, "limits", visibility=30, max_receives=2)
    DB = os.path.join(TMP, "a.db")
    T.migrate(DB)
    table(DB, "lab_reports", "lab_reports_off")  # labs triggers fail until it is back

    big = json.dumps({"job_type": "process_pending_vitals", "user_id": 1, "pad": PAD})
    big_id = sqs.send_message(QueueUrl=Q, MessageBody=big)["MessageId"]
    labs_id = sqs.send_message(
        QueueUrl=Q, MessageBody=T.original_body("process_pending_labs", 5),
        MessageAttributes=T.original_attrs("process_pending_labs", 5))["MessageId"]
    T.check(len(big) > 262144, "the oversize body is %d bytes (> 256 KiB)" % len(big))

    T.say("worker: both messages fail until the redrive policy moves them to the DLQ")
    env = T.base_env(Q, DB, ML_WORKER_MODE="sqs", ML_WORKER_WAIT_TIME=1,
                     ML_WORKER_VISIBILITY_TIMEOUT=1, ML_WORKER_BATCH_SIZE=10,
                     ML_WORKER_HTTP_ADDR="off")
    w = T.Worker(env, os.path.join(TMP, "w1.log"))
    moved = wait_depth(DLQ, (2, 0), 45)
    rc, _ = w.stop()
    log = w.log()
    T.check(moved, "both messages reached the DLQ", log)
    T.check(rc == 0, "worker exit 0 after SIGTERM (rc %s)" % rc, log)
    over = [l for l in log.splitlines() if "Oversize message " + big_id in l]
    T.check(1 <= len(over) <= 2 and all(("%d bytes" % len(big)) in l for l in over),
            "oversize: one line per receive (%d) with the MessageId and the size" % len(over),
            log)
    T.check("Zq7Zq7" not in log, "the oversize body's content is never logged")
    T.check(("message " + labs_id) in log and "No lab_reports table" in log,
            "the labs trigger failed with its reason", log)
    T.check(T.depth(sqs, Q) == (0, 0), "the queue is empty")

    T.say("dlq list")
    cli = T.base_env(Q, DB)
    rc, out, err = dlq(cli, "list")
    T.check(rc == 0, "dlq list exit 0 (%d)" % rc, out + err)
    T.check("limits-dlq" in err and "maxReceiveCount 2" in err,
            "the DLQ was derived from the RedrivePolicy", err)
    T.check("invisible" in err, "dlq list says listing hides messages briefly", err)
    rows = {l.split()[0]: l.split() for l in out.splitlines()[1:] if l.strip()}
    T.check(set(rows) == {big_id, labs_id}, "dlq list shows both MessageIds", out)
    if labs_id in rows:
        r = rows[labs_id]
        T.check(r[3] == "process_pending_labs" and r[2].isdigit() and int(r[2]) >= 2 and
                re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", r[1]) is not None,
                "labs row: first receive time, receive count >= 2, job type", out)
    if big_id in rows:
        r = rows[big_id]
        T.check(r[3] == "(oversize)" and r[4] == str(len(big)) and r[-1].endswith("...")
                and len(out) < 2000, "oversize row: size shown, body truncated", out[:500])
    T.check(wait_depth(DLQ, (2, 0), 5), "after the listing both are visible in the DLQ again")

    rc, out, err = dlq(cli, "redrive", "--dry-run")
    T.check(rc == 0 and "2 message(s) would be redriven" in err, "redrive --dry-run lists 2",
            out + err)
    T.check(wait_depth(DLQ, (2, 0), 5) and T.depth(sqs, Q) == (0, 0),
            "--dry-run moved nothing")

    T.say("dlq redrive --max 1, then the rest")
    rc, out, err = dlq(cli, "redrive", "--max", "1")
    T.check(rc == 0 and "1 message(s) redriven, 0 not" in err, "redrive --max 1 moved one",
            out + err)
    T.check(T.depth(sqs, Q)[0] == 1 and T.depth(sqs, DLQ)[0] == 1, "one in each queue")
    rc, out, err = dlq(cli, "redrive")
    T.check(rc == 0 and "1 message(s) redriven, 0 not" in err, "redrive moved the other",
            out + err)
    T.check(T.depth(sqs, Q) == (2, 0) and T.depth(sqs, DLQ) == (0, 0),
            "both are back in the queue, the DLQ is empty")

    T.say("fixed: the worker processes the redriven labs trigger")
    table(DB, "lab_reports_off", "lab_reports")
    w = T.Worker(env, os.path.join(TMP, "w2.log"))
    back = T.wait_until(lambda: T.depth(sqs, Q) == (0, 0) and T.depth(sqs, DLQ) == (1, 0)
                        and "Successfully processed message" in w.log(), 45, 0.2)
    rc, _ = w.stop()
    log = w.log()
    T.check(back, "labs trigger processed; the oversize one is back in the DLQ", log)
    m = sqs.receive_message(QueueUrl=DLQ, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    bodies = [x["Body"] for x in m.get("Messages", [])]
    T.check(bodies == [big], "the DLQ holds the oversize body only")
    T.check(T.no_secret(log), "no secret key in the logs")

    T.say("no redrive policy: a clear error")
    plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
    rc, out, err = dlq(T.base_env(plain, DB), "list")
    T.check(rc == 1 and "no RedrivePolicy" in err and "--dlq-url" in err,
            "dlq list on a queue without a DLQ: exit 1, says why", out + err)
finally:
    moto.stop()

T.finish()
