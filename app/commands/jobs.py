"""Jobs in both modes: rq's queue and registries with Redis, the SQLite queue in embedded mode.

``queue_status`` (queued, scheduled, running with age, failed) feeds ``/metrics`` and ``/ops``;
``failed_jobs`` and ``retry_job`` back ``python -m app failed|retry`` and the ops retry button.
"""

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


def queue_status(settings: Any, now: float | None = None, limit: int = 20) -> dict[str, Any]:
    """The same figures in both modes: ``queued`` (due now), ``scheduled`` (later: timers, retries
    backing off), ``running`` (up to ``limit`` jobs, oldest first, each with its age in seconds)
    and ``running_count``, ``failed``, plus ``inbox`` (Redis: webhooks not yet turned into jobs)."""
    import time

    now = time.time() if now is None else now
    if not settings.redis_url:
        from app.jobs.embedded import get_embedded_queue

        st = get_embedded_queue(settings, autostart=False).status(now, limit)
        return {"mode": "embedded", "queue": settings.queue_name, "inbox": None, **st}
    from rq import Queue
    from rq.job import Job

    from app.runtime import get_redis

    conn = get_redis(settings)
    q = Queue(settings.queue_name, connection=conn)
    started_ids = q.started_job_registry.get_job_ids()
    running = []
    for job in Job.fetch_many(started_ids[:limit], connection=conn):
        if job is None:
            continue
        started = job.started_at.timestamp() if job.started_at else now
        running.append({"id": job.id, "platform": (job.args or [None])[0],
                        "age_seconds": round(max(0.0, now - started), 1)})
    running.sort(key=lambda r: -r["age_seconds"])
    oldest = None
    first = q.get_job_ids(0, 1)
    if first:
        job = Job.fetch(first[0], connection=conn)
        if job.enqueued_at:
            oldest = round(max(0.0, now - job.enqueued_at.timestamp()), 1)
    from app.webhooks import get_inbox

    return {"mode": "redis", "queue": settings.queue_name, "queued": q.count,
            "scheduled": q.scheduled_job_registry.count, "running_count": len(started_ids), "running": running,
            "failed": q.failed_job_registry.count, "oldest_queued_seconds": oldest,
            "inbox": get_inbox(settings).depth()}
