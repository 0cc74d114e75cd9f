"""Failed jobs: rq's FailedJobRegistry with Redis, the SQLite queue in embedded mode."""

from __future__ import annotations

from typing import Any


def _reason(exc_info: str | None) -> str:
    lines = [ln for ln in (exc_info or "").strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "unknown"


def failed_jobs(settings: Any) -> list[dict[str, Any]]:
    """Failed jobs, newest first: id, platform, error (the exception's last line)."""
    if not settings.redis_url:
        from app.jobs.embedded import get_embedded_queue

        return get_embedded_queue(settings, autostart=False).failed()
    from rq import Queue
    from rq.job import Job

    from app.runtime import get_redis

    conn = get_redis(settings)
    q = Queue(settings.queue_name, connection=conn)
    out = []
    for jid in q.failed_job_registry.get_job_ids():
        job = Job.fetch(jid, connection=conn)
        out.append({"id": jid, "platform": (job.args or [None])[0], "error": _reason(job.latest_result().exc_string
                    if job.latest_result() else None), "description": job.description,
                    "ended_at": job.ended_at.isoformat() if job.ended_at else None})
    return out


def retry_job(settings: Any, job_id: str) -> bool:
    """Requeue one failed job (once). False if there is no such failed job."""
    if not settings.redis_url:
        from app.jobs.embedded import get_embedded_queue

        return get_embedded_queue(settings, autostart=False).retry(job_id)
    from rq import Queue

    from app.runtime import get_redis

    q = Queue(settings.queue_name, connection=get_redis(settings))
    reg = q.failed_job_registry
    if job_id not in reg.get_job_ids():
        return False
    reg.requeue(job_id)
    return True
