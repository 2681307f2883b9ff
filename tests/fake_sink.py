"""The fake below the dispatcher, shared by tests/dispatch and tests/helpers: the pytest plugin's recording sink,
with the stdout bytes and the stderr lines read back."""
from __future__ import annotations

from fcgi_handlers.testing.client import RecordingSink


class FakeSink(RecordingSink):
    @property
    def data(self) -> bytes:
        return b"".join(self.out)

    @property
    def log(self) -> list[str]:
        return [line for chunk in self.err for line in chunk.decode("utf-8").splitlines()]
