"""Prefect flows and tasks: thin wrappers around newsmon's domain functions."""
