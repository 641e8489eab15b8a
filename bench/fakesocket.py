"""A UDP socket stand-in for the in-process benchmarks of the server loop (bench/mix/udploop.py,
bench/authoritative/hitloop.py): no kernel, so only the server's own work is measured."""

from __future__ import annotations

CLIENT = ("127.0.0.1", 40000)


class Datagrams:
    """Hand out prepared queries as a drained socket would (a batch, then nothing) and count
    the responses given to send: read a batch at a time as dnsadmin.names.batchio.Batches does,
    or one datagram at a time as recvfrom (for a server.py from before batchio)."""

    def __init__(self, queries: list[bytes], batch: int) -> None:
        self.queries, self.batch = queries, batch
        self.size = batch  # the most a receive returns
        self.next = self.end = self.sent = 0

    def refill(self) -> bool:
        self.end = min(self.next + self.batch, len(self.queries))
        return self.next < self.end

    def receive(self) -> list[tuple[bytes, tuple[str, int]]]:
        start, self.next = self.next, self.end
        return [(query, CLIENT) for query in self.queries[start : self.end]]

    def send(self, replies: list[tuple[bytes, tuple]]) -> list[int]:
        self.sent += len(replies)
        return []

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
