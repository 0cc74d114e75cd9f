"""An OpenAI-compatible chat-completions server for ``pytest-httpserver``: the real ``openai`` client talks to it."""

from __future__ import annotations

import json

from werkzeug import Response


class StubLLM:
    """An OpenAI-compatible /v1/chat/completions that answers with a queued ``content`` and records requests."""

    def __init__(self, httpserver):
        self.server = httpserver
        self.requests: list[dict] = []
        self.content: str | None = None
        self.query = "where is my order"
        self.status = 200
        httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(self._handle)

    def _handle(self, request):
        req = json.loads(request.get_data())
        self.requests.append(req)
        if self.status != 200:
            return Response(json.dumps({"error": {"message": "boom", "type": "server_error"}}), status=self.status,
                            content_type="application/json")
        content = self.content
        if req.get("response_format", {}).get("json_schema", {}).get("name") == "search_query":
            content = json.dumps({"query": self.query})
        body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "stub-model",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 321, "completion_tokens": 54, "total_tokens": 375}}
        return Response(json.dumps(body), content_type="application/json")

    def reply(self, reply: str, used=("S1",), confidence=0.8, answered=True) -> None:
        self.content = json.dumps({"reply": reply, "used_sources": list(used), "confidence": confidence,
                                   "answered": answered})
