"""The control plane of voxgate's prompt runs: follows the call-control API's event stream
and, for every conversation, answers the caller's leg and plays the benchmark prompt to it,
looped, as a contact center's flow does while a caller waits. What the peer's kamailio.cfg
does with rtpengine's `play media` on the 200 (see systems.Peer.prompt_peers).

Standard library only; the WebSocket framing is tests/sipp/wsclient.py's. Commands go out
from a small pool of threads so a slow answer never holds the event stream back."""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "sipp"))
import wsclient  # noqa: E402


class PromptClient(threading.Thread):
    """Answers and plays `prompt` (a [[prompt]] name) to leg 1 of every conversation."""

    def __init__(self, api: str, token: str, prompt: str):
        super().__init__(daemon=True)
        self.api = api
        self.token = token
        self.prompt = prompt
        self.pool = ThreadPoolExecutor(max_workers=4)
        self.stop_at: float | None = None
        self.errors: list[str] = []
        self.counts = {"conversations": 0, "answered": 0, "played": 0}
        self.sock, rest = wsclient.connect(f"ws://{api}/v1/events", token, False, 10)
        self.reader = wsclient.Reader(self.sock, rest)

    def post(self, path: str, body: dict | None, what: str) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        req = urllib.request.Request(f"http://{self.api}{path}", data=data, method="POST", headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                if r.status // 100 != 2:
                    self.errors.append(f"{what} {path}: HTTP {r.status}")
                    return
            self.counts[what] += 1
        except OSError as e:
            self.errors.append(f"{what} {path}: {e}")

    def run(self) -> None:
        try:
            while self.stop_at is None or time.monotonic() < self.stop_at:
                text = wsclient.next_message(self.sock, self.reader, time.monotonic() + 0.5)
                if text is None:
                    continue
                event = json.loads(text)
                conv, kind = event.get("conversation"), event.get("type")
                if kind == "conversation_started":
                    self.counts["conversations"] += 1
                    self.pool.submit(self.post, f"/v1/conversations/{conv}/legs/1/answer", None, "answered")
                elif kind == "leg_answered" and event.get("leg") == 1:
                    self.pool.submit(self.post, f"/v1/conversations/{conv}/legs/1/play",
                                     {"music": self.prompt}, "played")
        except (wsclient.Closed, OSError, ValueError) as e:
            if self.stop_at is None:
                self.errors.append(f"event stream: {e}")

    def finish(self) -> dict:
        self.stop_at = time.monotonic()
        self.join(5)
        self.pool.shutdown(wait=True)
        try:
            self.sock.close()
        except OSError:
            pass
        return dict(self.counts, errors=self.errors[:5], error_count=len(self.errors))
