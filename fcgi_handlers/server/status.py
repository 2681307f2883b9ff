"""What the status page shows, as plain data that travels from the workers to the arbiter and back as JSON.

Each worker describes itself in a ``WorkerRow`` (its counters, its memory and CPU, one ``RequestRow`` per thread in a
request) and sends it with every heartbeat; the arbiter keeps the latest row per worker, adds the counters of the
workers that have exited (``Counters``) and what only it knows (its start time, the listen queues, how many workers
were recycled), and answers a worker's status query with the whole ``PoolStatus``. The rows are snapshots: a
worker's row is at most one heartbeat old, except the asking worker's, which comes with the query. Nothing here does
I/O; ``status_page.py`` renders it and ``backlog.py`` reads the listen queues.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

# A worker's row must fit one control-channel message (control.MAX_MESSAGE) with room to spare: request rows past
# this many are dropped, and long URIs are cut, with "..." added.
MAX_REQUEST_ROWS = 256
MAX_URI_CHARS = 300


@dataclass
class RequestRow:
    """One request in flight: what php-fpm's ``?full`` shows per busy process, per thread here."""

    method: str
    uri: str
    remote: str
    phase: str
    handler: str
    duration: float  # seconds so far
    thread: int  # the thread's native id (as in ``ps -L``)


@dataclass
class WorkerRow:
    """One worker process as it last reported itself."""

    pid: int
    generation: int
    started: float  # wall-clock time the worker booted
    threads: int
    accepted: int  # connections accepted
    requests: int  # requests served (finished)
    busy: int  # threads in a request now
    max_busy: int  # most threads seen in a request at once
    kept: int  # idle kept connections parked in the worker
    slow: int  # requests that passed slowlog_timeout
    timed_out: int  # requests that passed request_timeout
    rss: int  # resident memory, bytes
    cpu: float  # user + system CPU seconds
    current: List[RequestRow] = field(default_factory=list)

    @property
    def idle(self) -> int:
        return self.threads - self.busy

    @classmethod
    def unreported(cls, pid: int, generation: int, threads: int) -> "WorkerRow":
        """A worker that has not sent its first row yet (booting): known to exist, nothing counted."""
        return cls(pid=pid, generation=generation, started=0.0, threads=threads, accepted=0, requests=0, busy=0,
                   max_busy=0, kept=0, slow=0, timed_out=0, rss=0, cpu=0.0)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WorkerRow":
        values = dict(data)
        values["current"] = [RequestRow(**row) for row in data.get("current", ())]
        return cls(**values)


@dataclass
class Counters:
    """Cumulative counts of workers that have exited, so the pool's totals survive recycling."""

    accepted: int = 0
    requests: int = 0
    slow: int = 0
    timed_out: int = 0

    def add(self, row: WorkerRow) -> None:
        self.accepted += row.accepted
        self.requests += row.requests
        self.slow += row.slow
        self.timed_out += row.timed_out


@dataclass
class QueueRow:
    """A listening socket and its accept queue, as the kernel reports it (None where it does not)."""

    address: str
    queued: Optional[int]
    limit: Optional[int]


@dataclass
class PoolStatus:
    """The whole daemon, as the arbiter sees it."""

    pid: int  # the arbiter's
    start_time: float  # wall clock
    now: float  # wall clock, when gathered
    recycled: int  # workers replaced after max_requests or a request timeout
    max_busy: int  # most threads in a request at once, over all workers
    workers: List[WorkerRow] = field(default_factory=list)
    queues: List[QueueRow] = field(default_factory=list)
    past: Counters = field(default_factory=Counters)

    @property
    def uptime(self) -> float:
        return max(0.0, self.now - self.start_time)

    @property
    def accepted(self) -> int:
        return self.past.accepted + sum(w.accepted for w in self.workers)

    @property
    def requests(self) -> int:
        return self.past.requests + sum(w.requests for w in self.workers)

    @property
    def slow(self) -> int:
        return self.past.slow + sum(w.slow for w in self.workers)

    @property
    def timed_out(self) -> int:
        return self.past.timed_out + sum(w.timed_out for w in self.workers)

    @property
    def busy(self) -> int:
        return sum(w.busy for w in self.workers)

    @property
    def idle(self) -> int:
        return sum(w.idle for w in self.workers)

    @property
    def kept(self) -> int:
        return sum(w.kept for w in self.workers)

    @property
    def listen_queue(self) -> Optional[int]:
        known = [q.queued for q in self.queues if q.queued is not None]
        return sum(known) if known else None

    def summary(self) -> Dict[str, Any]:
        """The pool's fields by name, in the order every format shows them."""
        return {
            "pid": self.pid, "start_time": self.start_time, "uptime": round(self.uptime, 3),
            "accepted_conns": self.accepted, "requests": self.requests, "in_flight": self.busy,
            "idle_threads": self.idle, "busy_threads": self.busy, "max_busy_threads": self.max_busy,
            "kept_conns": self.kept, "listen_queue": self.listen_queue, "slow_requests": self.slow,
            "timed_out_requests": self.timed_out, "workers": len(self.workers), "workers_recycled": self.recycled,
        }

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PoolStatus":
        values = dict(data)
        values["workers"] = [WorkerRow.from_dict(row) for row in data.get("workers", ())]
        values["queues"] = [QueueRow(**row) for row in data.get("queues", ())]
        values["past"] = Counters(**data.get("past", {}))
        return cls(**values)


def encode(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def decode(payload: bytes) -> Dict[str, Any]:
    """A JSON object from the control channel; ``ValueError`` when it is not one."""
    data = json.loads(payload.decode())
    if not isinstance(data, dict):
        raise ValueError("status payload is not a JSON object")
    return data


def decode_or_none(payload: bytes) -> Optional[Dict[str, Any]]:
    """As ``decode``, None instead of an error (a worker's bad payload must not stop the arbiter)."""
    try:
        return decode(payload)
    except (ValueError, UnicodeDecodeError):
        return None


def cut(text: str, limit: int = MAX_URI_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
