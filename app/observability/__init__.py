"""Observability shared by every layer (web, jobs, services, engine): the Prometheus metrics
(metrics.py) and the structured JSON logs with their per-request context (logs.py). Imports nothing
of the app but its settings, so the engine and the services may record into it."""
