"""The status page in its four formats, chosen by the query string as php-fpm's ``pm.status_path`` does.

``?json``, ``?openmetrics`` (Prometheus' text format, OpenMetrics flavour) and ``?html`` pick the format, plain
text otherwise; ``full`` adds one row per worker process and one per request in flight (``?json&full``). The HTML
page refreshes itself (every ``refresh=N`` seconds, 5 by default) and marks every number with ``data-field`` so a
script (or a test) can read them. Rendering is pure: ``render(status, query)`` gives the content type and the body.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any, Dict, List, Tuple
from urllib.parse import parse_qs

from .status import PoolStatus, RequestRow, WorkerRow

FORMATS = ("json", "openmetrics", "html")
DEFAULT_REFRESH = 5
CONTENT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "json": "application/json",
    "openmetrics": "application/openmetrics-text; version=1.0.0; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
# Summary field, type and help per metric (OpenMetrics: a counter's samples end in _total; units end the name).
METRICS: Tuple[Tuple[str, str, str], ...] = (
    ("start_time_seconds", "gauge", "when the daemon started, seconds since the epoch"),
    ("uptime_seconds", "gauge", "seconds since the daemon started"),
    ("accepted_conns", "counter", "connections accepted from the web server"),
    ("requests", "counter", "requests served"),
    ("in_flight", "gauge", "requests running now"),
    ("idle_threads", "gauge", "request threads waiting for work"),
    ("busy_threads", "gauge", "request threads in a request"),
    ("max_busy_threads", "gauge", "most request threads seen in a request at once"),
    ("kept_conns", "gauge", "idle kept connections from the web server"),
    ("listen_queue", "gauge", "connections waiting in the listen queues"),
    ("slow_requests", "counter", "requests that ran past slowlog_timeout"),
    ("timed_out_requests", "counter", "requests that ran past request_timeout"),
    ("workers", "gauge", "worker processes"),
    ("workers_recycled", "counter", "workers replaced after max_requests or a request timeout"),
)
# With ?full: worker field, metric, type and help, one sample per worker (labels pid and generation).
WORKER_METRICS: Tuple[Tuple[str, str, str, str], ...] = (
    ("requests", "fcgi_handlers_worker_requests", "counter", "requests served by the worker"),
    ("busy", "fcgi_handlers_worker_busy_threads", "gauge", "threads of the worker in a request"),
    ("rss", "fcgi_handlers_worker_rss_bytes", "gauge", "resident memory of the worker"),
    ("cpu", "fcgi_handlers_worker_cpu_seconds", "counter", "CPU time of the worker"),
)
WORKER_FIELDS = ("pid", "generation", "started", "threads", "accepted", "requests", "busy", "idle", "max_busy", "kept", "slow",
                 "timed_out", "rss", "cpu")
REQUEST_FIELDS = ("method", "uri", "phase", "handler", "duration", "remote", "thread")


def parse_query(query: str) -> Tuple[str, bool, int]:
    """(format, full, refresh seconds) from a query string like ``json&full``."""
    keys = parse_qs(query, keep_blank_values=True)
    fmt = next((name for name in FORMATS if name in keys), "text")
    refresh = DEFAULT_REFRESH
    raw = keys.get("refresh", [""])[0]
    if raw.isdigit() and 0 < int(raw) <= 3600:
        refresh = int(raw)
    return fmt, "full" in keys, refresh


def render(status: PoolStatus, query: str) -> Tuple[str, bytes]:
    """The content type and body for ``query``."""
    fmt, full, refresh = parse_query(query)
    if fmt == "json":
        body = json.dumps(as_json(status, full), indent=1) + "\n"
    elif fmt == "openmetrics":
        body = openmetrics(status, full)
    elif fmt == "html":
        body = as_html(status, refresh)
    else:
        body = as_text(status, full)
    return CONTENT_TYPES[fmt], body.encode("utf-8")


def _worker_dict(row: WorkerRow) -> Dict[str, Any]:
    values: Dict[str, Any] = {name: getattr(row, name) for name in WORKER_FIELDS}
    values["cpu"] = round(row.cpu, 3)
    values["requests_in_flight"] = [{name: getattr(r, name) for name in REQUEST_FIELDS} for r in row.current]
    for entry in values["requests_in_flight"]:
        entry["duration"] = round(entry["duration"], 3)
    return values


def as_json(status: PoolStatus, full: bool) -> Dict[str, Any]:
    data = status.summary()
    data["listen_queues"] = [{"address": q.address, "queued": q.queued, "limit": q.limit} for q in status.queues]
    if full:
        data["processes"] = [_worker_dict(row) for row in status.workers]
    return data


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(stamp))


def _text_value(name: str, value: Any) -> str:
    """A field as people read it: times as local ISO 8601 (JSON and OpenMetrics keep seconds since the epoch)."""
    if value is None:
        return "-"
    if name in ("start_time", "started"):
        return _iso(value) if value else "-"
    return str(value)


def as_text(status: PoolStatus, full: bool) -> str:
    lines = [f"{name.replace('_', ' ') + ':':<21} {_text_value(name, value)}"
             for name, value in status.summary().items()]
    for queue in status.queues:
        lines.append(f"{'listen queue ' + queue.address + ':':<21} {_text_value('', queue.queued)} of "
                     f"{_text_value('', queue.limit)}")
    if full:
        for row in status.workers:
            lines.append("")
            lines.extend(f"{name.replace('_', ' ') + ':':<21} {_text_value(name, value)}"
                         for name, value in _worker_dict(row).items() if name != "requests_in_flight")
            for request in row.current:
                lines.append(f"  request: {request.method} {request.uri} phase={request.phase or '-'} "
                             f"handler={request.handler or '-'} duration={request.duration:.3f}s "
                             f"remote={request.remote or '-'} thread={request.thread}")
    return "\n".join(lines) + "\n"


def openmetrics(status: PoolStatus, full: bool) -> str:
    summary = status.summary()
    lines: List[str] = []
    for name, kind, help_text in METRICS:
        value = summary[name.replace("_seconds", "")]
        if value is None:
            continue
        metric = f"fcgi_handlers_{name}"
        lines += [f"# TYPE {metric} {kind}", f"# HELP {metric} {help_text}",
                  f"{metric}{'_total' if kind == 'counter' else ''} {value}"]
    if full:
        for field, metric, kind, help_text in WORKER_METRICS:
            lines += [f"# TYPE {metric} {kind}", f"# HELP {metric} {help_text}"]
            for row in status.workers:
                labels = f'{{pid="{row.pid}",generation="{row.generation}"}}'
                lines.append(f"{metric}{'_total' if kind == 'counter' else ''}{labels} {getattr(row, field)}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _cell(field: str, value: object) -> str:
    return f'<td data-field="{field}">{html.escape(str(value))}</td>'


def _request_rows(row: WorkerRow, requests: List[RequestRow]) -> List[str]:
    return ["<tr>" + _cell("pid", row.pid) + "".join(
        _cell(name, f"{getattr(r, name):.3f}" if name == "duration" else getattr(r, name) or "-")
        for name in REQUEST_FIELDS) + "</tr>" for r in requests]


def as_html(status: PoolStatus, refresh: int) -> str:
    summary = status.summary()
    pool_rows = "".join(
        f'<tr><th>{name.replace("_", " ")}</th>{_cell(name, _text_value(name, value))}</tr>'
        for name, value in summary.items())
    worker_head = "".join(f"<th>{name.replace('_', ' ')}</th>" for name in WORKER_FIELDS)
    worker_rows = "".join(
        '<tr class="worker">' + "".join(_cell(name, _text_value(name, value))
                                        for name, value in _worker_dict(row).items()
                                        if name != "requests_in_flight") + "</tr>"
        for row in status.workers)
    request_head = "<th>pid</th>" + "".join(f"<th>{name}</th>" for name in REQUEST_FIELDS)
    request_rows = "".join(line for row in status.workers for line in _request_rows(row, row.current))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{refresh}">
<title>fcgi_handlers status</title>
<style>
body {{ font: 14px sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
th {{ background: #eee; }} td {{ font-family: monospace; }}
</style></head>
<body>
<h1>fcgi_handlers status</h1>
<p>Refreshes every {refresh} s. Formats: <a href="?json&amp;full">json</a>, <a href="?openmetrics">openmetrics</a>,
<a href="?full">text</a>.</p>
<h2>Pool</h2>
<table id="pool">{pool_rows}</table>
<h2>Workers</h2>
<table id="workers"><tr>{worker_head}</tr>{worker_rows}</table>
<h2>Requests in flight</h2>
<table id="requests"><tr>{request_head}</tr>{request_rows}</table>
</body></html>
"""
