"""The run's last steps: decide its alerts (stories new to a topic, spikes, silent feeds), store
them, write their files and send the notifications due."""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from newsmon.alerts import (
    CHART_DAYS,
    DEFAULT_RULE,
    AlertRecord,
    TopicInput,
    build_sources_alert,
    build_topic_alert,
    digest_order,
    no_alert_reason,
    runs_missing_files,
    stories_wanted,
    topic_input,
    write_missing_files,
)
from newsmon.config import ALERT_MAX_AGE_DAYS, DEFAULT_NOTIFY_TIMEOUT_S
from newsmon.errors import NewsmonError, OutputError, StorageError
from newsmon.faults import fault_point
from newsmon.models import AlertRule, SilenceParams, SpikeParams
from newsmon.notify import (
    MAX_ATTEMPTS,
    NotifyConfig,
    deliver_all,
    load_notify_config,
    redact,
    target_key,
    unknown_routes,
)
from newsmon.pipeline import RunContext
from newsmon.trends import TrendPoint, silence_changes, topic_trends

log = logging.getLogger(__name__)


def alert_stage(ctx: RunContext) -> list[AlertRecord]:
    """The alert step of a run, timed and recorded; its alerts."""
    t0 = time.perf_counter()
    alerts = (ctx.steps.alert or store_alerts)(
        ctx.store,
        ctx.run_id,
        ctx.now,
        ctx.settings.alerts_dir,
        ctx.logger,
        dashboard_url=ctx.settings.dashboard_url,
        notify_file=ctx.settings.notify_path,
        max_age_days=ctx.settings.alert_max_age_days,
        notify_timeout_s=ctx.settings.notify_timeout_s,
        rules={t.slug: t.alerts for t in ctx.topics},
    )
    seconds = time.perf_counter() - t0
    ctx.summary.alerts = [a.topic for a in alerts]
    ctx.summary.notified = ctx.store.deliveries.outcomes_of_run(ctx.run_id)
    ctx.summary.notify_held = len(ctx.store.alerts.held())
    if not ctx.summary.notify_held:  # else the held row says why nothing was sent
        ctx.summary.notify_waiting = ctx.store.deliveries.waiting(ctx.run_id, MAX_ATTEMPTS)
    ctx.record("alert", 0, len(alerts), 0, seconds)
    ctx.logger.info("alert: %s", ", ".join(ctx.summary.alerts) if alerts else "nothing new, no alert")
    return alerts


def store_alerts(
    store: Any,
    run_id: str,
    now: datetime,
    folder: Path,
    logger: Any = log,
    dashboard_url: str | None = None,
    notify_file: Path | None = None,
    max_age_days: float = ALERT_MAX_AGE_DAYS,
    notify_timeout_s: float = DEFAULT_NOTIFY_TIMEOUT_S,
    rules: Mapping[str, AlertRule] | None = None,
) -> list[AlertRecord]:
    """Decide this run's alerts (stories new to a topic, spikes, silent feeds) and store them; then
    write the alert files from the stored rows (and any that are missing) and send notifications.
    With a ``dashboard_url``, each story links to its page there. ``notify_file``: the notify
    file in force (``Settings.notify_path``; None: no notifications). ``max_age_days``: how
    recent a story new to a topic must be to alert on its own (see :func:`build_topic_alert`).
    ``notify_timeout_s``: the total deadline of one notification (see
    :func:`newsmon.notify.deliver_all`). ``rules``: each topic's alert settings (the default
    rule for a topic not in it).

    The alerts folder is made first, so a folder that cannot be used fails the run before any
    alert is stored. Notifications never fail the run; while the notify file cannot be read,
    alerts are held and the first run that can read it sends them.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(
            f"cannot make the alerts folder {folder} ({err.strerror or err}): pass --alerts-dir with a writable folder"
        ) from err
    notify_config = _notify_config(store, logger, notify_file)
    records, silenced, recovered = _decide_alerts(store, run_id, now, dashboard_url, max_age_days, rules or {}, logger)
    routes = notify_config or NotifyConfig()
    deliveries = _routes(routes, [(r.id, r.topic) for r in records])
    store.alerts.store(records, deliveries, silenced, recovered, now, held=notify_config is None)
    fault_point("after-alert-store")
    failure = _write_alert_files(store, folder)
    fault_point("before-notify")
    if notify_config is not None:
        _route_held(store, notify_config, now, logger)
        _deliver(store, notify_config, run_id, now, logger, notify_timeout_s)
    if failure is not None:
        raise failure
    return records


def _decide_alerts(
    store: Any,
    run_id: str,
    now: datetime,
    dashboard_url: str | None,
    max_age_days: float,
    rules: Mapping[str, AlertRule],
    logger: Any = log,
) -> tuple[list[AlertRecord], list[tuple[str, int, str]], list[str]]:
    """This run's alerts in digest order, the feeds that went silent (url, quietest day, alert id)
    and the urls of silent feeds that recovered; the log says why a topic with new items made
    no alert."""
    quiet_spikes = {topic for topic, rule in rules.items() if not rule.spikes}
    records = []
    for data in _topic_inputs(store, now, quiet_spikes):
        rule = rules.get(data.topic, DEFAULT_RULE)
        record = build_topic_alert(run_id, now, data, dashboard_url, max_age_days, rule)
        if record is not None:
            records.append(record)
        elif (reason := no_alert_reason(data, now, max_age_days, rule)) is not None:
            logger.info("alert: %s: %s", data.topic, reason)
    activities = store.feeds.activity(now, SilenceParams().window_days)
    silent, recovered = silence_changes(activities, now, store.feeds.open_silences())
    sources = build_sources_alert(run_id, now, silent)
    if sources is None:
        return digest_order(records), [], recovered
    silenced = [(c.url, c.quietest or 0, sources.id) for c in silent]
    return digest_order([*records, sources]), silenced, recovered


def _write_alert_files(store: Any, folder: Path) -> StorageError | None:
    """Write the files of every stored alert that lacks one; the error, if the disk refused."""
    try:
        missing = store.alerts.records_of_runs(runs_missing_files(store.alerts.files()))
        paths, pages = write_missing_files(missing, folder)
    except OSError as err:  # the rows are stored: the next run writes the files
        error = StorageError(
            f"cannot write alert files in {folder} ({err.strerror or err}): {_file_advice(err)};"
            " the alerts are stored and the next run writes their files"
        )
        error.__cause__ = err
        return error
    store.alerts.set_paths(paths, pages)
    return None


def _file_advice(err: OSError) -> str:
    """What to do about a file that could not be written."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full: free disk space"
    if err.errno == errno.EFBIG:
        return "a file size limit (ulimit -f) stopped the write: raise the limit"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "fix the folder's permissions"
    return "free disk space or fix permissions"


def _topic_inputs(store: Any, now: datetime, quiet_spikes: set[str]) -> list[TopicInput]:
    """Each current topic's pending items, trend up to the run's day and candidate stories (a
    spike day's stories only for a topic whose spikes alert: not those in ``quiet_spikes``)."""
    day = now.date()
    names = store.topics.names()
    pending = store.alerts.pending_items()
    start = store.alerts.history_start()
    trends: dict[str, list[TrendPoint]] = {}
    if start is not None and start <= day:
        params = SpikeParams()
        back = CHART_DAYS + params.window_days + params.guard_days + int(params.backlog_days) + 1  # gaps too
        since = max(start, day - timedelta(days=back))
        counts, observed = store.alerts.topic_day_counts(since, day), store.alerts.observed_days(since, day)
        trends = topic_trends(counts, names, since, day, params, observed | {day})
    spiked = store.alerts.spike_alerted_topics(day)
    wanted = stories_wanted(pending, trends, day, store.alerts.stories_on_day(day), spiked | quiet_spikes)
    lines = store.alerts.story_lines(sorted(wanted))
    return [topic_input(t, names[t], pending.get(t, []), trends.get(t, []), lines, t in spiked) for t in sorted(names)]


def _routes(config: NotifyConfig, alerts: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """The deliveries of (alert id, topic) pairs: (alert id, target key, label) per URL."""
    return [(alert, target_key(url), redact(url)) for alert, topic in alerts for url in config.urls_for(topic)]


def _route_held(store: Any, config: NotifyConfig, now: datetime, logger: Any) -> None:
    """Queue the deliveries of alerts held while the notify file could not be read; a failure
    is logged, never raised (they stay held for the next run)."""
    try:
        held = store.alerts.held()
        if held:
            store.alerts.route_held(held, _routes(config, [(alert, topic) for alert, topic, _run in held]), now)
            logger.info("notify: %d alert(s) held while the notify file could not be read are queued now", len(held))
    except Exception as err:  # notifications must never fail the pipeline
        logger.error("notify: held alerts not queued (%s: %s); the next run queues them", type(err).__name__, err)


def _notify_config(store: Any, logger: Any, path: Path | None) -> NotifyConfig | None:
    """The notification routes, or None (and an error in the log) when the notify file is invalid."""
    try:
        config = load_notify_config(path)
    except NewsmonError as err:
        logger.error("notifications held: %s; this run's alerts are sent once the notify file is fixed", err)
        return None
    for key in unknown_routes(config, list(store.topics.names())):
        logger.warning("notify: %r in %s matches no topic", key, config.path)
    return config


def _deliver(store: Any, config: NotifyConfig, run_id: str, now: datetime, logger: Any, timeout_s: float) -> None:
    """Send the deliveries due (new and earlier failures), each within ``timeout_s``; a failure is
    recorded, never raised."""
    try:
        pending = store.deliveries.due(MAX_ATTEMPTS)
        if not pending:
            return
        counts = deliver_all(
            pending,
            config,
            lambda d: store.deliveries.record_attempt(d, now, run_id),
            lambda d, outcome: store.deliveries.record_outcome(d, outcome, now, run_id),
            timeout_s=timeout_s,
            now=now,
        )
        if counts:
            logger.info("notify: %s", ", ".join(f"{n} {what}" for what, n in counts.items()))
    except Exception as err:  # notifications must never fail the pipeline
        logger.error("notify: deliveries interrupted (%s: %s); they are retried next run", type(err).__name__, err)
