"""A Slack Web API stand-in for ``pytest-httpserver``: the real slack_sdk client talks to it on 127.0.0.1."""

from __future__ import annotations

import json

from werkzeug import Request, Response


class SlackStub:
    """Answers chat.postMessage like Slack; ``script`` holds canned failures served first."""

    def __init__(self, httpserver):
        self.calls: list[dict] = []
        self.auth: list[str] = []
        self.script: list[Response] = []
        self.n = 0
        httpserver.expect_request("/api/chat.postMessage", method="POST").respond_with_handler(self)
        self.url = httpserver.url_for("/api")

    def __call__(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if body is None:
            body = request.form.to_dict()
        self.calls.append(body)
        self.auth.append(request.headers.get("Authorization", ""))
        if self.script:
            return self.script.pop(0)
        self.n += 1
        ts = f"1700000000.{self.n:06d}"
        return Response(json.dumps({"ok": True, "channel": "C0ESC", "ts": ts}), content_type="application/json")
