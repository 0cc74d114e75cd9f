"""The baseline for bench/webhook_load.py: a bare Flask endpoint that does nothing but answer 202."""

from flask import Flask, jsonify, request


def create_bare_app() -> Flask:
    app = Flask(__name__)

    @app.post("/webhooks/<platform>")
    def hook(platform):
        request.get_data()
        return jsonify({"status": "queued", "event_id": "x"}), 202

    return app
