"""Datagrams read and sent in batches: one system call for many (recvmmsg, sendmmsg on Linux).

Python's sockets read and send one datagram per system call, and on loopback the calls cost
more than the server's own work on a kept answer. ``wrap`` gives a UDP socket a ``Batches``
reader: on Linux, recvmmsg and sendmmsg called through cffi in ABI mode (libc opened at run
time, so no compiler at install time) over buffers allocated once; elsewhere, or without cffi,
recvfrom and sendto one at a time, with the same results. Either way a batch is a list of
(datagram, client address), the address in the form recvfrom gives it: (host, port) for IPv4,
(host, port, flowinfo, scope_id) for IPv6.

Memory: a batched socket maps 8 MiB (a slot of 64 KiB per datagram, read and sent), resident
only as far as datagrams reach into their slots: about 0.5 MiB for DNS-sized ones.
"""

from __future__ import annotations

import errno
import mmap
import socket
import sys

BATCH = 64  # datagrams per system call
SLOT = 65536  # bytes of buffer per datagram: the largest UDP payload fits
NAME = 32  # bytes of buffer per address: a sockaddr_in6 (28) fits
CLIENTS = 4096  # addresses kept converted, for the clients that come back (most do)
RETRY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)

CDEF = """
struct iovec { void *iov_base; size_t iov_len; };
struct msghdr {
    void *msg_name; unsigned int msg_namelen; struct iovec *msg_iov; size_t msg_iovlen;
    void *msg_control; size_t msg_controllen; int msg_flags;
};
struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; };
int recvmmsg(int, struct mmsghdr *, unsigned int, int, void *);
int sendmmsg(int, struct mmsghdr *, unsigned int, int);
"""


def _libc():
    """Return cffi and libc with recvmmsg and sendmmsg, or None where they are not to be had."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import cffi

        ffi = cffi.FFI()
        ffi.cdef(CDEF)
        libc = ffi.dlopen(None)
        libc.recvmmsg, libc.sendmmsg  # noqa: B018  (a libc without them fails here, not later)
    except (ImportError, OSError, AttributeError):
        return None
    return ffi, libc


LIBC = _libc()


def wrap(sock: socket.socket, size: int = SLOT) -> Batches:
    """Return the batch reader and sender for a UDP socket; size is the most read of a
    datagram (the rest of a longer one is lost, as with recvfrom(size))."""
    if LIBC is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        return MultiBatches(sock, size)
    return Batches(sock, size)


class Batches:
    """A UDP socket read and written a datagram per system call (recvfrom, sendto)."""

    size = BATCH  # the most datagrams receive returns

    def __init__(self, sock: socket.socket, slot: int = SLOT) -> None:
        self.sock, self.slot = sock, slot
        self.sendto, self.fileno, self.close = sock.sendto, sock.fileno, sock.close

    def receive(self) -> list[tuple[bytes, tuple]]:
        """Return the datagrams waiting (up to size) with their senders' addresses."""
        recvfrom, slot = self.sock.recvfrom, self.slot
        batch = []
        for _ in range(self.size):
            try:
                batch.append(recvfrom(slot))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue  # e.g. an ICMP error reported on the socket
        return batch

    def send(self, replies: list[tuple[bytes, tuple]]) -> list[int]:
        """Send each (datagram, address); return the indexes of those the kernel refused."""
        sendto = self.sock.sendto
        failed = []
        for index, (data, address) in enumerate(replies):
            try:
                sendto(data, address)
            except OSError:
                failed.append(index)
        return failed


class MultiBatches(Batches):
    """A UDP socket read with one recvmmsg and written with one sendmmsg per batch.

    The datagrams land in (and leave from) one buffer slot each, and the headers that point
    at the slots are built once. A datagram becomes bytes with one slice of the buffer, and
    an address with one dictionary lookup on its raw sockaddr bytes.
    """

    def __init__(self, sock: socket.socket, slot: int = SLOT) -> None:
        super().__init__(sock, min(slot, SLOT))
        ffi, libc = LIBC
        self._ffi, self._recvmmsg, self._sendmmsg = ffi, libc.recvmmsg, libc.sendmmsg
        self._v6 = sock.family == socket.AF_INET6
        self._namelen = 28 if self._v6 else 16
        self._data, self._names = _buffer(SLOT * BATCH), _buffer(NAME * BATCH)
        self._out, self._out_names = _buffer(SLOT * BATCH), _buffer(NAME * BATCH)
        # The headers point into their iovecs, which must live as long.
        self._in_headers, self._in_iovecs = self._headers(self._data, self._names, self.slot)
        self._out_headers, self._out_iovecs = self._headers(self._out, self._out_names, SLOT)
        header, size_t = ffi.sizeof("struct mmsghdr"), "Q" if ffi.sizeof("size_t") == 8 else "I"
        lengths = memoryview(ffi.buffer(self._in_headers)).cast("I")
        start, step = ffi.offsetof("struct mmsghdr", "msg_len") // 4, header // 4
        self._lengths = lengths[start::step]  # msg_len of each header, as the kernel set it
        iovecs = memoryview(ffi.buffer(self._out_iovecs)).cast(size_t)
        self._out_lengths = iovecs[1::2]  # iov_len of each slot sent from
        self._clients: dict[bytes, tuple] = {}  # raw sockaddr: address as recvfrom gives it
        self._sockaddrs: dict[tuple, bytes] = {}  # and back

    def _headers(self, data: mmap.mmap, names: mmap.mmap, slot: int):
        """Return BATCH headers, each with one iovec of slot bytes into data and its own
        address buffer in names, and the iovecs."""
        ffi = self._ffi
        headers = ffi.new("struct mmsghdr[]", BATCH)
        iovecs = ffi.new("struct iovec[]", BATCH)
        data_at, names_at = ffi.from_buffer(data), ffi.from_buffer(names)
        for index in range(BATCH):
            iovecs[index].iov_base = data_at + index * SLOT
            iovecs[index].iov_len = slot
            message = headers[index].msg_hdr
            message.msg_name = names_at + index * NAME
            message.msg_namelen = self._namelen
            message.msg_iov = iovecs + index
            message.msg_iovlen = 1
        return headers, iovecs

    def receive(self) -> list[tuple[bytes, tuple]]:
        """Return the datagrams waiting (up to size) with their senders' addresses."""
        count = self._recvmmsg(self.sock.fileno(), self._in_headers, BATCH, _DONTWAIT, _NULL)
        if count < 0 and self._ffi.errno not in RETRY:
            # The call reported an error (an ICMP error on the socket), clearing it: read on.
            count = self._recvmmsg(self.sock.fileno(), self._in_headers, BATCH, _DONTWAIT, _NULL)
        if count <= 0:
            return []
        data, names, lengths = self._data, self._names, self._lengths
        clients, namelen = self._clients, self._namelen
        batch = []
        for index in range(count):
            at = index * NAME
            raw = names[at : at + namelen]
            client = clients.get(raw) or self._client(raw)
            at = index * SLOT
            batch.append((data[at : at + lengths[index]], client))
        return batch

    def _client(self, raw: bytes) -> tuple:
        """Return the address recvfrom would give for a raw sockaddr, and keep it both ways."""
        if len(self._clients) >= CLIENTS:
            self._clients.clear()
            self._sockaddrs.clear()
        port = int.from_bytes(raw[2:4], "big")
        if self._v6:
            host = socket.inet_ntop(socket.AF_INET6, raw[8:24])
            flowinfo = int.from_bytes(raw[4:8], "big")
            client = (host, port, flowinfo, int.from_bytes(raw[24:28], sys.byteorder))
        else:
            client = (socket.inet_ntop(socket.AF_INET, raw[4:8]), port)
        self._clients[raw] = client
        self._sockaddrs[client] = raw
        return client

    def send(self, replies: list[tuple[bytes, tuple]]) -> list[int]:
        """Send each (datagram, address); return the indexes of those the kernel refused."""
        failed: list[int] = []
        for start in range(0, len(replies), BATCH):
            self._send_batch(replies, start, min(len(replies), start + BATCH), failed)
        failed.sort()  # each batch adds the kernel's refusals after those of bad addresses
        return failed

    def _send_batch(self, replies, start: int, end: int, failed: list[int]) -> None:
        """Send replies[start:end] (BATCH at most) from the slots; add the refused to failed."""
        out, names, lengths = self._out, self._out_names, self._out_lengths
        sockaddrs, namelen = self._sockaddrs, self._namelen
        slots: list[int] = []  # the reply in each slot filled
        for index in range(start, end):
            data, address = replies[index]
            raw = sockaddrs.get(address) or self._sockaddr(address)
            if raw is None or len(data) > SLOT:
                failed.append(index)  # what sendto refuses too
                continue
            slot = len(slots)
            at = slot * SLOT
            out[at : at + len(data)] = data
            lengths[slot] = len(data)
            at = slot * NAME
            names[at : at + namelen] = raw
            slots.append(index)
        self._flush(slots, failed)

    def _flush(self, slots: list[int], failed: list[int]) -> None:
        """Send the filled slots; a refused datagram (a full send buffer) is counted failed and
        the ones after it are tried again, as sendto would try each."""
        ffi, sendmmsg, fd = self._ffi, self._sendmmsg, self.sock.fileno()
        sent = 0
        while sent < len(slots):
            count = sendmmsg(fd, self._out_headers + sent, len(slots) - sent, 0)
            if count > 0:
                sent += count
            elif count < 0 and ffi.errno == errno.EINTR:
                continue
            else:
                failed.append(slots[sent])
                sent += 1

    def _sockaddr(self, address: tuple) -> bytes | None:
        """Return the raw sockaddr for an address recvfrom could have given (None if none)."""
        try:
            port = address[1].to_bytes(2, "big")
            if self._v6:
                host = socket.inet_pton(socket.AF_INET6, address[0].partition("%")[0])
                flowinfo, scope_id = address[2:4] if len(address) == 4 else (0, 0)
                scope = scope_id.to_bytes(4, sys.byteorder)
                return _AF_INET6 + port + flowinfo.to_bytes(4, "big") + host + scope
            host = socket.inet_pton(socket.AF_INET, address[0])
            return _AF_INET + port + host + bytes(8)
        except (OSError, ValueError, TypeError, AttributeError, IndexError, OverflowError):
            return None


def _buffer(size: int) -> mmap.mmap:
    """Return size bytes of memory of this process alone (a forked worker gets a copy): an
    anonymous map, whose zeroed pages the kernel only provides once a datagram touches them."""
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)


_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
_NULL = LIBC[0].NULL if LIBC is not None else None
_AF_INET = socket.AF_INET.to_bytes(2, sys.byteorder)
_AF_INET6 = socket.AF_INET6.to_bytes(2, sys.byteorder)
