"""CHROMA_URL: the same ingest/retrieve code against a real chroma server on loopback (`chroma run`)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from knowledge.ingest import ingest_folder
from knowledge.retrieve import search
from knowledge.store import KnowledgeStore

ROOT = Path(__file__).resolve().parents[2]
CHROMA = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")


@pytest.fixture
def chroma_server(tmp_path):
    if not Path(CHROMA).exists():
        pytest.skip("chroma CLI not installed")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([CHROMA, "run", "--path", str(tmp_path / "srv"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{url}/api/v2/heartbeat", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("chroma server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_ingest_and_retrieve_through_a_chroma_server(chroma_server, tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(ROOT / "config/knowledge/payments", kb)
    store = KnowledgeStore(url=chroma_server)
    first = ingest_folder(store, kb, progress=False)
    assert first.added == first.chunks > 0
    assert search(store, "there are two identical payments on my statement", k=1)[0].id == "double-charge"
    # A second client (another machine, say) sees the same data and the recorded embedding.
    other = KnowledgeStore(url=chroma_server)
    assert other.count() == first.chunks and other.collection.metadata["embedding"].startswith("local:")
    assert ingest_folder(other, kb, progress=False).added == 0
