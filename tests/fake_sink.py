"""The fake below the dispatcher, shared by tests/dispatch and tests/helpers: it records the FastCGI stdout bytes
and stderr lines the server layer would send."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeSink:
    out: list[bytes] = field(default_factory=list)
    err: list[bytes] = field(default_factory=list)

    def stdout(self, data: bytes) -> None:
        self.out.append(data)

    def stderr(self, data: bytes) -> None:
        self.err.append(data)

    @property
    def data(self) -> bytes:
        return b"".join(self.out)

    @property
    def log(self) -> list[str]:
        return [line for chunk in self.err for line in chunk.decode("utf-8").splitlines()]
