"""Prefect flows and tasks: thin wrappers around newsmon's domain functions."""

from __future__ import annotations

from typing import TypeVar, cast

from prefect.utilities.annotations import quote

T = TypeVar("T")


def as_is(value: T) -> T:
    """Pass a large batch to a task without Prefect walking every element (its ``quote``).

    Prefect inspects task arguments for upstream futures; on lists of thousands of documents
    that costs more than the task's own work.
    """
    return cast(T, quote(value))
