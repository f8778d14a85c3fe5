#!/usr/bin/env python3
"""SQS through a fault-injecting proxy: backoff, recovery, no lost or double-applied work.

A small HTTP proxy on 127.0.0.1 sits between mlworker and moto_server (the worker reaches it
through AWS_ENDPOINT_URL_SQS) and, for a seeded random share of requests, answers HTTP 500,
503, a throttling error or an expired-token error itself, answers slowly, resets the
connection before or after forwarding, or forwards and then truncates the answer. Checks:

  * `mlworker send` still delivers every trigger (it retries; at least once);
  * the worker processes every user's rows and empties the queue: a trigger is never deleted
    before its work committed (each user's rows are only processed by that user's trigger,
    so a lost trigger would leave rows pending), a receive whose answer was cut off comes back
    after the visibility timeout;
  * the aggregates equal the oracle (nothing applied twice);
  * retries and backoff are visible in the log, every fault kind was injected, and the
    worker stops with exit 0 on SIGTERM.

Needs python3 with boto3 (the machine's Python 3.11) and moto_server on PATH.
"""

import http.client
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqs_testlib as T  # noqa: E402

T.require_tools()
TMP = T.tmpdir()
moto = T.Moto(TMP)
sqs = T.sqs_client(moto.url)

FAULTS = ["500", "503", "throttle", "expired", "slow", "reset_before", "reset_after",
          "truncate"]


class Proxy:
    def __init__(self, upstream_port, rate, seed):
        self.rate = rate
        self.rng = random.Random(seed)
        self.next_kind = 0
        self.lock = threading.Lock()
        self.counts = {f: 0 for f in FAULTS}
        self.counts["forwarded"] = 0
        self.by_action = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _error(self, status, code, msg):
                body = json.dumps({"__type": "com.amazonaws.sqs#" + code,
                                   "message": msg}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _reset(self):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                action = self.headers.get("X-Amz-Target", "?").split(".")[-1]
                with proxy.lock:
                    fault = None
                    if proxy.rng.random() < proxy.rate:
                        # kinds in turn, so a short run still sees each of them
                        fault = FAULTS[proxy.next_kind % len(FAULTS)]
                        proxy.next_kind += 1
                        proxy.counts[fault] += 1
                        proxy.by_action.setdefault(action, {}).setdefault(fault, 0)
                        proxy.by_action[action][fault] += 1
                if fault == "500":
                    return self._error(500, "InternalFailure", "injected 500")
                if fault == "503":
                    return self._error(503, "ServiceUnavailable", "injected 503")
                if fault == "throttle":
                    return self._error(400, "ThrottlingException", "Rate exceeded (injected)")
                if fault == "expired":
                    return self._error(400, "ExpiredToken", "injected: token expired")
                if fault == "reset_before":
                    return self._reset()
                if fault == "slow":
                    time.sleep(1.5)
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("connection", "keep-alive", "expect")}
                try:
                    conn.request("POST", self.path, body=body, headers=hdrs)
                    r = conn.getresponse()
                    data = r.read()
                except OSError:
                    conn.close()
                    return self._reset()  # moto dropped it: pass the failure on
                conn.close()
                with proxy.lock:
                    proxy.counts["forwarded"] += 1
                if fault == "reset_after":
                    return self._reset()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding",
                                         "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if fault == "truncate" and len(data) > 2:
                    self.wfile.write(data[:len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # peers hang up: fine
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset_counts(self):
        with self.lock:
            for k in self.counts:
                self.counts[k] = 0
            self.by_action = {}

    def stop(self):
        self.server.shutdown()


proxy = None
try:
    T.say("moto_server at %s, temp dir %s" % (moto.url, TMP))
    Q, DLQ = T.make_queues(sqs, "faulty", visibility=30, max_receives=50)
    DB = os.path.join(TMP, "f.db")
    T.migrate(DB)
    USERS = 6
    T.gen(DB, "--users", USERS, "--days", 10, "--rows", 3000, "--seed", 21)
    proxy = Proxy(moto.port, rate=0.35, seed=int(os.environ.get("MLW_TEST_SEED", "5")))
    T.say("fault proxy at %s (35%% of requests faulted, seed %s)"
          % (proxy.url, os.environ.get("MLW_TEST_SEED", "5")))

    T.say("producer: mlworker send through the proxy")
    send_env = T.base_env(Q, DB, AWS_ENDPOINT_URL_SQS=proxy.url)
    ok_sends, clean_failures, failures = 0, 0, 0

    def send(job, user):
        # Like an application: the CLI retries 4 times itself; a failure that survives
        # that exits 1 with a clear line, and the caller may try again.
        global ok_sends, clean_failures, failures
        for _ in range(4):
            p = subprocess.run([T.MLWORKER, "send", job, "--user", str(user)], env=send_env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=60)
            if p.returncode == 0:
                ok_sends += 1
                return
            failures += 1
            clean_failures += (p.returncode == 1 and "gave up after" in p.stderr)
            print("    send failed (retrying): " + p.stderr.strip())

    for u in range(1, USERS + 1):
        for job in ("process-pending-vitals", "process-pending-nutrition"):
            send(job, u)
    T.check(ok_sends == 2 * USERS, "%d of %d triggers sent despite faults"
            % (ok_sends, 2 * USERS))
    T.check(clean_failures == failures, "every failed send exited 1 with a clear message")
    proxy.reset_counts()

    T.say("consumer through the proxy")
    env = T.base_env(Q, DB, AWS_ENDPOINT_URL_SQS=proxy.url, ML_WORKER_MODE="sqs",
                     ML_WORKER_WAIT_TIME=1, ML_WORKER_VISIBILITY_TIMEOUT=2,
                     ML_WORKER_BATCH_SIZE=3, ML_WORKER_AGGREGATION_BATCH_SIZE=50)
    w = T.Worker(env, os.path.join(TMP, "faults.log"))
    # More triggers while it runs (straight to moto), so it makes many calls through the proxy.
    for i in range(40):
        u = 1 + i % USERS
        sqs.send_message(QueueUrl=Q, MessageBody=T.original_body(
            "process_pending_vitals" if i % 2 else "process_pending_nutrition", u))
        time.sleep(0.1)

    def all_done():
        return (T.pending(DB, "vitals_raw_data") == 0 and
                T.pending(DB, "nutrition_raw_data") == 0 and T.depth(sqs, Q) == (0, 0))

    done = T.wait_until(all_done, 60, 0.5)
    rc, secs = w.stop()
    log = w.log()
    T.check(done, "every user's rows processed and the queue empty", log[-4000:])
    T.check(rc == 0, "exit 0 on SIGTERM (%.2f s)" % secs)
    ok, out = T.oracle(DB)
    T.check(ok, "oracle: aggregates equal (nothing lost, nothing applied twice)", out)
    T.check(T.depth(sqs, DLQ)[0] == 0, "nothing in the DLQ")
    print("    injected: " + json.dumps(proxy.counts))
    print("    by action: " + json.dumps(proxy.by_action))
    T.check(all(proxy.counts[f] > 0 for f in FAULTS), "every fault kind was injected")
    import re
    m = re.findall(r"SQS retries: (\d+)", log)
    T.check(m and int(m[-1]) > 0, "the worker retried failed calls (%s retries)"
            % (m[-1] if m else "?"))
    T.check("Backing off" in log or "Error receiving" not in log,
            "every receive error was followed by a backoff", log[-3000:])
    T.check(T.no_secret(log), "no secret key in the log")
finally:
    if proxy:
        proxy.stop()
    moto.stop()
    if T.FAILED == 0:
        T.cleanup(TMP)
    else:
        print("logs kept in " + TMP)
T.finish()
