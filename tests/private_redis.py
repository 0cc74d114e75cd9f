"""A private redis-server for the tests and benchmarks that restart, crash or pause Redis
(tests/app/jobs/test_chaos_reduced.py, bench/chaos.py): never the machine's shared Redis.

AOF with fsync on every write (what was acknowledged survives a crash, as in production's
redis.conf) and ``noeviction``; a free port and a temporary directory of its own.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PrivateRedis:
    """A redis-server restartable in place (same port, same directory: the AOF carries the data over)."""

    def __init__(self, port: int | None = None, prefix: str = "private-redis-") -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self, wait: float = 10.0) -> None:
        import redis

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: Redis syncs the AOF and exits; SIGKILL: a crash (the AOF, fsynced per write, stays)."""
        if self.proc is not None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
            self.proc = None

    def pause(self, seconds: float) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        time.sleep(seconds)
        self.proc.send_signal(signal.SIGCONT)

    def cleanup(self) -> None:
        """Stop it (even paused) and remove its directory."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
