"""The runtime's jobs: ``process_event`` (one webhook event through the pipeline), the webhook inbox and
its pump, the rq worker, the embedded (no-Redis) queue and SLA timers."""

from app.jobs.process import enqueue_event, job_id_for, process_event

__all__ = ["enqueue_event", "job_id_for", "process_event"]
