"""Prefect only: the ``monitor`` flow (flows/monitor.py), its tasks (flows/tasks.py, one
pipeline step each) and the task runners (flows/runners.py)."""
