"""Shared helpers for the SQS integration tests (test_sqs_*.py); not a test itself.

Starts moto's standalone server on 127.0.0.1 (a free port), makes boto3 clients for it,
prepares SQLite databases with generated pending rows, runs the worker, counts checks.

Needs the machine's Python 3.11 (python3 on PATH) with boto3 1.43 and moto (moto_server).
Environment: MLWORKER (the binary), MLW_SOURCE_DIR (repository root), MLW_TEST_LOGS (ctest:
<build>/test-logs/<test>; every worker's and moto's log is copied there for the secret scan,
tests/check_secrets.sh). Credentials come from tests/secrets.txt (secret()).
"""

import atexit
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("MLW_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MLWORKER = os.environ.get("MLWORKER") or os.path.join(SRC, "build", "mlworker")
ORACLE_DIR = os.path.join(SRC, "tests", "oracle")



def secret(name):
    """The value of NAME in tests/secrets.txt (every test credential is listed there)."""
    with open(os.path.join(SRC, "tests", "secrets.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith(name + "="):
                return line.rstrip("\n")[len(name) + 1:]
    raise SystemExit("no %s in tests/secrets.txt" % name)


_KEPT = set()  # source paths already copied by keep_logs


def _keep_dst(rel):
    dst = os.path.join(os.environ["MLW_TEST_LOGS"], rel)
    base, n = dst, 1
    while os.path.exists(dst):
        dst = "%s.%d" % (base, n)
        n += 1
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    return dst


def _is_log(name):
    return name.endswith((".log", ".out", ".err")) or name in ("out", "err")


def keep_logs(path):
    """Copy a log file, or the logs (*.log, *.out, *.err) under a directory, into
    $MLW_TEST_LOGS (nothing when unset). Inputs such as credential files are not copied."""
    if not os.environ.get("MLW_TEST_LOGS") or not os.path.exists(path):
        return
    try:
        if os.path.isfile(path):
            if os.path.abspath(path) not in _KEPT:
                _KEPT.add(os.path.abspath(path))
                shutil.copyfile(path, _keep_dst(os.path.basename(path)))
            return
        for root, _, files in os.walk(path):
            for name in files:
                full = os.path.join(root, name)
                if (_is_log(name) and os.path.abspath(full) not in _KEPT
                        and os.path.getsize(full) < (64 << 20)):
                    _KEPT.add(os.path.abspath(full))
                    shutil.copyfile(full, _keep_dst(os.path.relpath(full, path)))
    except OSError as exc:
        print("keep_logs: %s" % exc)


def cleanup(path):
    """keep_logs(path), then remove it."""
    keep_logs(path)
    shutil.rmtree(path, ignore_errors=True)


# This run's logs replace the last run's (only a ctest-shaped path is removed).
if "/test-logs/" in os.environ.get("MLW_TEST_LOGS", ""):
    shutil.rmtree(os.environ["MLW_TEST_LOGS"], ignore_errors=True)

# Fake keys: moto accepts any; the secret must never appear in a log.
AKID = "AKIATESTMLWORKER0001"
SECRET = secret("SQS_SECRET_ACCESS_KEY")
REGION = "us-east-1"

PASSED = 0
FAILED = 0


def say(msg):
    print("== " + msg, flush=True)


def check(ok, desc, detail=None):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print("PASS: " + desc, flush=True)
    else:
        FAILED += 1
        print("FAIL: " + desc, flush=True)
        if detail:
            for line in str(detail).splitlines()[-40:]:
                print("    " + line)
    return ok


def finish():
    print("%d passed, %d failed" % (PASSED, FAILED), flush=True)
    sys.exit(0 if FAILED == 0 else 1)


def require_tools():
    """boto3 and moto_server must be there; fail with a clear message otherwise."""
    try:
        import boto3  # noqa: F401
    except ImportError as exc:
        print("boto3 is not importable by %s (%s): run with the machine's Python 3.11 "
              "(python3 on PATH), which ships boto3 1.43" % (sys.executable, exc))
        print("0 passed, 1 failed")
        sys.exit(1)
    if not shutil.which("moto_server"):
        print("moto_server is not on PATH: the SQS tests need moto's standalone server, "
              "preinstalled with the machine's Python 3.11 (it cannot be installed from PyPI "
              "here)")
        print("0 passed, 1 failed")
        sys.exit(1)
    if not os.access(MLWORKER, os.X_OK):
        print("no worker binary at %s (set MLWORKER)" % MLWORKER)
        print("0 passed, 1 failed")
        sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Moto:
    """moto_server on 127.0.0.1:<free port>, stopped by stop()."""

    def __init__(self, tmp):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(tmp, "moto.log"), "wb")
        self.proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        raise SystemExit("moto_server did not start on port %d (see moto.log)" % self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        keep_logs(self.log.name)


def sqs_client(endpoint):
    import boto3
    from botocore.config import Config
    return boto3.client("sqs", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=AKID, aws_secret_access_key=SECRET,
                        config=Config(retries={"max_attempts": 2, "mode": "standard"}))


def make_queues(sqs, name, visibility=30, max_receives=3):
    """A queue with a DLQ (redrive after max_receives). Returns (queue_url, dlq_url)."""
    dlq = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    q = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": str(visibility),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn,
                                     "maxReceiveCount": str(max_receives)})})["QueueUrl"]
    return q, dlq


def depth(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def original_body(job_type, user_id=None, **extra):
    """The original client's body (json.dumps of its dict, in its key order)."""
    import datetime
    body = {"job_type": job_type}
    if user_id is not None:
        body["user_id"] = user_id
    body.update(extra)
    body["priority"] = "normal"
    body["submitted_at"] = datetime.datetime.utcnow().isoformat()
    return json.dumps(body)


def original_attrs(job_type, user_id=None):
    a = {"JobType": {"StringValue": job_type, "DataType": "String"},
         "Priority": {"StringValue": "normal", "DataType": "String"}}
    if user_id is not None:
        a["UserId"] = {"StringValue": str(user_id), "DataType": "Number"}
    return a


def base_env(queue_url, db, **extra):
    """A clean environment for the worker: only what the test sets."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("ML_WORKER_") or k.startswith("AWS_") or k in (
               "DATABASE_URL", "SQLALCHEMY_DATABASE_URI") or k.startswith("POSTGRES_"))}
    env.update({
        "AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "ML_WORKER_SQS_QUEUE_URL": queue_url, "DATABASE_URL": "sqlite:///" + db,
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def migrate(db):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env["DATABASE_URL"] = "sqlite:///" + db
    subprocess.run([MLWORKER, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)


def gen(db, *args):
    subprocess.run([sys.executable, os.path.join(ORACLE_DIR, "gen_data.py"), "--db", db]
                   + [str(a) for a in args], check=True, stdout=subprocess.DEVNULL, timeout=120)


def oracle(db):
    p = subprocess.run([sys.executable, os.path.join(ORACLE_DIR, "oracle.py"), "--db", db],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    return p.returncode == 0, p.stdout


def status_counts(db, table, user=None):
    """{status: count} of a raw table (optionally one user)."""
    c = sqlite3.connect(db, timeout=30)
    try:
        q = "SELECT aggregation_status, count(*) FROM %s" % table
        if user is not None:
            rows = c.execute(q + " WHERE user_id = ? GROUP BY 1", (user,)).fetchall()
        else:
            rows = c.execute(q + " GROUP BY 1").fetchall()
    finally:
        c.close()
    return dict(rows)


def pending(db, table, user=None):
    s = status_counts(db, table, user)
    return s.get("pending", 0) + s.get("queued", 0) + s.get("processing", 0)


class Worker:
    """`mlworker run` in the background; log in a file."""

    def __init__(self, env, log_path, args=("run",)):
        self.log_path = log_path
        self.logf = open(log_path, "wb")
        self.proc = subprocess.Popen([MLWORKER] + list(args), env=env, stdout=self.logf,
                                     stderr=subprocess.STDOUT)

    def log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log():
                return True
            if self.proc.poll() is not None:
                return text in self.log()
            time.sleep(0.05)
        return False

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signal it; returns (exit status or None if it had to be killed, seconds)."""
        t0 = time.time()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.close()
        return rc, time.time() - t0

    def close(self):
        """Close the log and keep a copy in $MLW_TEST_LOGS (once)."""
        if not self.logf.closed:
            self.logf.close()
            keep_logs(self.log_path)

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.close()
        return rc


def run_worker(env, log_path, timeout=60):
    """Run to completion (callers set ML_WORKER_EXIT_WHEN_IDLE=1). Returns (rc, log)."""
    w = Worker(env, log_path)
    rc = w.wait(timeout)
    return rc, w.log()


def wait_until(pred, timeout, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def tmpdir():
    """A scratch directory; whatever logs are left in it at exit are kept (keep_logs)."""
    d = tempfile.mkdtemp(prefix="mlw-sqs.")
    atexit.register(keep_logs, d)
    return d


def no_secret(text):
    return SECRET not in text and SECRET[:12] not in text
