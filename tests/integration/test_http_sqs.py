#!/usr/bin/env python3
"""HTTP endpoints in both mode against moto_server: /readyz includes the queue (sampled with
GetQueueAttributes), /metrics counts messages received / deleted / failed by job type (hostile
job types count as "unknown"), the sampled queue depth and job durations; /healthz watches both
threads; promtool accepts the exposition; no secret appears in any endpoint or log. A worker whose
queue endpoint is down stays live (/healthz 200) but not ready (/readyz 503).

Env: MLWORKER, MLW_SOURCE_DIR. Needs moto_server, boto3 (the machine's Python 3.11), promtool.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqs_testlib as T  # noqa: E402


def get(url):
    """(status, body text) of a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def metric(text, key):
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    return None


def endpoint(w):
    ok = T.wait_until(lambda: "HTTP endpoints on http://127.0.0.1:" in w.log(), 15)
    m = re.search(r"HTTP endpoints on (http://127\.0\.0\.1:\d+)", w.log())
    return ok and m and m.group(1)


def main():
    T.require_tools()
    if not shutil.which("promtool"):
        print("promtool is not installed (scripts/install-deps.sh test installs prometheus)")
        print("0 passed, 1 failed")
        sys.exit(1)
    tmp = T.tmpdir()
    moto = T.Moto(tmp)
    workers = []
    try:
        sqs = T.sqs_client(moto.url)
        q, dlq = T.make_queues(sqs, "http-test", visibility=30, max_receives=3)
        db = os.path.join(tmp, "sqs.db")
        T.migrate(db)
        T.gen(db, "--users", 3, "--days", 3, "--rows", 300, "--seed", 11)

        T.say("both mode with endpoints on a free port")
        env = T.base_env(q, db, ML_WORKER_MODE="both", ML_WORKER_HTTP_ADDR="127.0.0.1:0",
                         ML_WORKER_WAIT_TIME=1, ML_WORKER_POLL_INTERVAL=0.5,
                         AWS_ENDPOINT_URL=moto.url)
        w = T.Worker(env, os.path.join(tmp, "worker.log"))
        workers.append(w)
        base = endpoint(w)
        T.check(bool(base), "worker logs its HTTP address", w.log()[-2000:])
        if not base:
            T.finish()

        ready = T.wait_until(lambda: get(base + "/readyz")[0] == 200, 15, 0.2)
        st, body = get(base + "/readyz")
        T.check(ready and '"queue":{"ok":true' in body, "/readyz 200 with the queue check", body)

        sqs.send_message(QueueUrl=q, MessageBody=T.original_body("process_pending_vitals", 1),
                         MessageAttributes=T.original_attrs("process_pending_vitals", 1))
        sqs.send_message(QueueUrl=q, MessageBody=T.original_body("process_pending_vitals", 2),
                         MessageAttributes=T.original_attrs("process_pending_vitals", 2))
        sqs.send_message(QueueUrl=q, MessageBody=T.original_body("mystery\"}\njob"))
        sqs.send_message(QueueUrl=q, MessageBody="{not json")

        def counted():
            t = get(base + "/metrics")[1]
            return (metric(t, 'mlworker_sqs_messages_deleted_total{job_type="process_pending_vitals"}')
                    == 2 and metric(t, 'mlworker_sqs_messages_failed_total{job_type="unknown"}')
                    == 2)
        T.check(T.wait_until(counted, 30, 0.3),
                "deleted{process_pending_vitals} = 2 and failed{unknown} = 2", get(base + "/metrics")[1])
        text = get(base + "/metrics")[1]
        T.check(metric(text, 'mlworker_sqs_messages_received_total{job_type="process_pending_vitals"}')
                == 2, "received{process_pending_vitals} = 2")
        T.check(metric(text, 'mlworker_sqs_messages_received_total{job_type="unknown"}') == 2,
                "hostile and invalid bodies count as job_type=\"unknown\"")
        T.check("mystery" not in text, "the hostile job type never becomes a label value")
        T.check((metric(text, 'mlworker_job_duration_seconds_count{job_type="process_pending_vitals"}')
                 or 0) == 2, "job duration histogram: 2 samples")
        T.check(metric(text, 'mlworker_sqs_queue_messages{state="visible"}') is not None and
                (metric(text, "mlworker_sqs_queue_sample_timestamp_seconds") or 0) > 1.6e9,
                "queue depth sampled (visible, timestamp)")
        T.check(re.search(r'^mlworker_build_info\{version="[0-9.]+",mode="both"\} 1$', text, re.M)
                is not None, "build info shows mode both")
        p = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        T.check(p.returncode == 0 and not p.stdout.strip(), "promtool check metrics: clean",
                p.stdout)

        st, body = get(base + "/healthz")
        names = [t["name"] for t in json.loads(body or "{}").get("threads", [])]
        T.check(st == 200 and sorted(names) == ["aggregation", "sqs"],
                "/healthz 200 watching both threads (%s)" % names, body)
        everything = text + get(base + "/readyz")[1] + get(base + "/healthz")[1] + w.log()
        T.check(T.no_secret(everything) and T.AKID not in everything,
                "no credential in the endpoints or the log")
        rc, secs = w.stop()
        T.check(rc == 0, "SIGTERM: exit 0 in %.1fs" % secs, w.log()[-1500:])

        T.say("queue endpoint down: live but not ready")
        dead = "http://127.0.0.1:%d" % T.free_port()
        env2 = T.base_env(q, db, ML_WORKER_MODE="both", ML_WORKER_HTTP_ADDR="127.0.0.1:0",
                          ML_WORKER_WAIT_TIME=1, ML_WORKER_POLL_INTERVAL=0.5,
                          AWS_ENDPOINT_URL=dead)
        w2 = T.Worker(env2, os.path.join(tmp, "worker2.log"))
        workers.append(w2)
        base2 = endpoint(w2)
        T.check(bool(base2), "second worker logs its HTTP address", w2.log()[-2000:])
        if base2:
            failed = T.wait_until(lambda: "last GetQueueAttributes failed" in get(base2 + "/readyz")[1],
                                  20, 0.3)
            st, body = get(base2 + "/readyz")
            T.check(failed and st == 503 and '"queue":{"ok":false' in body,
                    "/readyz 503 naming the failed GetQueueAttributes", body)
            st, body = get(base2 + "/healthz")
            T.check(st == 200, "/healthz 200: backing off is not being stuck", body)
        rc, secs = w2.stop()
        T.check(rc == 0, "SIGTERM: exit 0 in %.1fs" % secs, w2.log()[-1500:])
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()
        moto.stop()
        T.cleanup(tmp)
    T.finish()


if __name__ == "__main__":
    main()
