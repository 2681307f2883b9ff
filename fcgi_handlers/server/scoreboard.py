"""The arbiter's scoreboard: the latest status row of each worker, and what outlives the workers.

php-fpm keeps a shared-memory scoreboard its status page reads; here each worker sends its row over the control
channel (with every heartbeat, and with a status query), and the arbiter keeps the latest one per pid. A worker's
counts would vanish with it, so when it exits its last row (sent just before exiting) is added to the exited
workers' totals; the number of workers recycled and the most threads seen busy at once are kept here too. The
arbiter owns the processes and the listening sockets and passes them in; this module knows neither.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Dict, Optional, Sequence, Tuple

from . import status
from .backlog import listen_queue
from .sockets import Listener
from .status import Counters, PoolStatus, QueueRow, WorkerRow

log = logging.getLogger(__name__)

# (pid, generation) of each live worker, oldest first.
Processes = Sequence[Tuple[int, int]]


class Scoreboard:
    """Rows by worker pid, the exited workers' counts, and the pool-wide figures only the arbiter sees."""

    def __init__(self, threads: int) -> None:
        self.start_time = time.time()
        self.recycled = 0  # workers that asked to be replaced (max_requests, request timeout)
        self.rows: Dict[int, WorkerRow] = {}
        self._threads = threads
        self._past = Counters()
        self._max_busy = 0

    def update(self, pid: int, payload: bytes) -> None:
        """A heartbeat's row (a heartbeat without one changes nothing)."""
        if payload:
            self._store(pid, status.decode_or_none(payload))

    def _store(self, pid: int, data: Optional[Dict[str, object]]) -> None:
        try:
            if data is None:
                raise ValueError("not a JSON object")
            self.rows[pid] = WorkerRow.from_dict(data)
        except (TypeError, ValueError) as exc:
            log.warning("unreadable status row from worker %d: %s", pid, exc)
            return
        self._max_busy = max(self._max_busy, sum(row.busy for row in self.rows.values()))

    def exited(self, pid: int) -> None:
        """A worker is gone: its last counts join the totals."""
        row = self.rows.pop(pid, None)
        if row is not None:
            self._past.add(row)

    def answer(self, pid: int, payload: bytes, processes: Processes, listeners: Sequence[Listener]) -> Optional[bytes]:
        """A status query: store the asking worker's fresh row, return the REPLY payload (None if unreadable)."""
        data = status.decode_or_none(payload)
        row = data.get("row") if data is not None else None
        if data is None or not isinstance(row, dict) or not isinstance(data.get("id"), int):
            log.warning("unreadable status query from worker %d", pid)
            return None
        self._store(pid, row)
        return status.encode({"id": data["id"], "status": self.gather(processes, listeners).to_dict()})

    def gather(self, processes: Processes, listeners: Sequence[Listener]) -> PoolStatus:
        """The daemon now: every live worker's latest row (zeros for one still booting), the exited workers'
        counts, the listen queues."""
        rows = [self.rows.get(pid) or WorkerRow.unreported(pid, generation, self._threads)
                for pid, generation in processes]
        queues = [QueueRow(str(listener.bound), *listen_queue(listener.sock)) for listener in listeners]
        return PoolStatus(pid=os.getpid(), start_time=self.start_time, now=time.time(), recycled=self.recycled,
                          max_busy=max([self._max_busy, *(row.max_busy for row in rows)]), workers=rows,
                          queues=queues, past=Counters(**vars(self._past)))
