"""A UDP socket stand-in for the in-process benchmarks of the server loop (bench/mix/udploop.py,
bench/authoritative/hitloop.py): no kernel, so only the server's own work is measured."""

from __future__ import annotations

CLIENT = ("127.0.0.1", 40000)


class Datagrams:
    """Hand out prepared queries as recvfrom would (BlockingIOError at the end of a batch, as
    a drained socket) and count the responses sendto is given."""

    def __init__(self, queries: list[bytes], batch: int) -> None:
        self.queries, self.batch = queries, batch
        self.next = self.end = self.sent = 0

    def refill(self) -> bool:
        self.end = min(self.next + self.batch, len(self.queries))
        return self.next < self.end

    def recvfrom(self, size: int) -> tuple[bytes, tuple[str, int]]:
        if self.next >= self.end:
            raise BlockingIOError
        self.next += 1
        return self.queries[self.next - 1], CLIENT

    def sendto(self, data: bytes, address) -> int:
        self.sent += 1
        return len(data)

    def fileno(self) -> int:
        return 1_000_000  # never a real descriptor: only compared with 0
