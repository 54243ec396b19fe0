"""A local stand-in for the Gemini API, for tests and offline demonstrations of the real SDK.

It answers POSTs whose path ends with `models/<model>:generateContent` the way the Gemini API
does, from a queue of scripted replies, and keeps every request it received.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GENERATE = ":generateContent"


def gemini_response(text, *, finish_reason="STOP"):
    return {
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": finish_reason}],
        "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20, "totalTokenCount": 120},
        "modelVersion": "gemini-2.5-flash",
    }


def error_response(code, status):
    return {"error": {"code": code, "message": f"stub {status}", "status": status}}


class Reply:
    """One scripted reply: model text, an error status, or a delay before answering."""

    def __init__(self, text=None, *, status=200, delay=0.0, body=None):
        self.text, self.status, self.delay, self.body = text, status, delay, body

    def payload(self):
        if self.body is not None:
            return self.body
        if self.status != 200:
            return error_response(self.status, {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}.get(self.status, "ERROR"))
        return gemini_response(self.text)


class GeminiStub:
    def __init__(self, model="gemini-2.5-flash"):
        self.model = model
        self.requests = []  # (path, parsed JSON body, headers)
        self.replies = []
        self.default = None
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                if not path.endswith(f"models/{stub.model}{GENERATE}"):
                    self._send(404, error_response(404, "NOT_FOUND"))
                    return
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"unparsed": raw.decode(errors="replace")}
                with stub._lock:
                    stub.requests.append((self.path, body, dict(self.headers)))
                    reply = stub.replies.pop(0) if stub.replies else stub.default
                if reply is None:
                    reply = Reply(status=500)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self._send(reply.status, reply.payload())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def answer(self, *replies):
        """Queue replies: strings are model text (an action's JSON), or Reply objects."""
        with self._lock:
            self.replies.extend(reply if isinstance(reply, Reply) else Reply(reply) for reply in replies)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
