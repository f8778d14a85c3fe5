#!/usr/bin/env python3
"""A fake OpenAI-compatible chat endpoint for tests/integration/test_labs_loinc.sh.

    fake_llm.py PLAN.json PORTFILE LOG.jsonl

Listens on 127.0.0.1 (a free port, written to PORTFILE) and answers
POST /chat/completions. PLAN maps a test name (as the prompt states it on its
"- Test name: " line) to an action:
    {"pick": N}        answer the N-th offered candidate's code (1-based)
    {"code": "1989-3"} answer that code
    {"no_match": true} answer NO_MATCH
    {"sleep": S}       wait S seconds, then answer the first candidate
    {"status": 500}    answer with that HTTP status
Names not in the plan get NO_MATCH. Every request is logged to LOG as one JSON
line: path, the Authorization header, the model, the test name, the codes offered.
"""
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLAN = json.load(open(sys.argv[1]))
LOG = sys.argv[3]
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        user = body["messages"][-1]["content"]
        m = re.search(r"^- Test name: (.*)$", user, re.M)
        name = m.group(1) if m else ""
        offered = re.findall(r"^\d+\. LOINC: (\S+) - ", user, re.M)
        with LOCK, open(LOG, "a") as f:
            f.write(json.dumps({"path": self.path, "auth": self.headers.get("Authorization"),
                                "model": body.get("model"), "name": name,
                                "offered": offered}) + "\n")
        act = PLAN.get(name, {"no_match": True})
        if "status" in act:
            self.send_response(act["status"])
            self.end_headers()
            self.wfile.write(b'{"error":"boom"}')
            return
        if "sleep" in act:
            time.sleep(act["sleep"])
        if "pick" in act:
            code = offered[act["pick"] - 1]
        elif "code" in act:
            code = act["code"]
        elif "sleep" in act:
            code = offered[0]
        else:
            code = "NO_MATCH"
        out = {"id": "x", "object": "chat.completion", "model": body.get("model"),
               "choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant",
                                        "content": "LOINC_CODE: %s\nSOURCE: LOINC" % code}}]}
        data = json.dumps(out).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout case)


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os  # noqa: E402
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
srv.serve_forever()
