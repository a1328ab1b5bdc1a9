"""A compact packet table: the RTP packets of a stream as numpy columns.

An hour of AES67 (1 ms packets) is 3.6 million packets. Held as Python
objects with their payloads they took about 1.3 kB each; here a packet is
one row of :data:`PACKET_COLUMNS` (35 bytes) and its payload stays in the
capture file, read back by file offset when the stream is decoded
(:class:`PayloadStore`). Payloads that exist only after reassembly (IP
fragments) or that were given as bytes live in an in-memory store instead.

:class:`PacketTable` is also a read-only sequence of
:class:`~validator.rtp.capture.RtpPacket`: indexing or iterating it builds
the packet objects on demand, so code written against
``RtpStream.packets`` keeps working.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from validator.errors import CaptureError

if TYPE_CHECKING:
    from validator.rtp.capture import RtpPacket

__all__ = ["PACKET_COLUMNS", "PacketTable", "PayloadStore"]

#: Column name -> dtype. ``flags`` bit 0: marker; bit 1: truncated by the snap length.
#: ``payload_offset`` >= 0 is a file offset; < 0 is ``-1 - position`` in the memory store.
PACKET_COLUMNS: dict[str, type] = {
    "frame": np.uint32, "time_ns": np.int64, "sequence": np.uint16, "timestamp": np.uint32,
    "ssrc": np.uint32, "payload_type": np.uint8, "flags": np.uint8,
    "payload_offset": np.int64, "payload_length": np.uint32,
}
MARKER, TRUNCATED = 1, 2
#: Payloads of one read are fetched from the file in runs at most this far apart, bytes.
_RUN_GAP = 1 << 20


class PayloadStore:
    """Where the payloads of a packet table are: the capture file and a memory store.

    Parameters
    ----------
    path : str or Path, optional
        The capture file (opened read-only when payloads are fetched; never
        written). Its size and modification time are recorded, and a file
        changed since it was read is refused.
    memory : bytes, optional
        Payloads kept in memory (negative offsets point here).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None,
                 memory: bytes = b"") -> None:
        self.path = None if path is None else str(path)
        self.memory = memory
        self._stamp = self._file_stamp() if self.path is not None else None

    def _file_stamp(self) -> tuple[int, int]:
        st = os.stat(self.path or "")
        return st.st_size, st.st_mtime_ns

    def gather(self, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The payloads at ``offsets`` (each ``lengths`` bytes), concatenated in order.

        Parameters
        ----------
        offsets : np.ndarray, shape=(n,), int64
            File offsets (>= 0) or memory-store positions (``-1 - position``).
        lengths : np.ndarray, shape=(n,), integer
            Bytes per payload.

        Returns
        -------
        np.ndarray, shape=(sum(lengths),), uint8

        Raises
        ------
        CaptureError
            The capture file changed or shrank since it was read.
        """
        offsets = np.asarray(offsets, dtype=np.int64)
        lengths = np.asarray(lengths, dtype=np.int64)
        out = np.empty(int(lengths.sum()), dtype=np.uint8)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        mem = offsets < 0
        if mem.any():
            src = np.frombuffer(self.memory, dtype=np.uint8)
            _copy_ranges(out, starts[mem], src, -1 - offsets[mem], lengths[mem])
        if (~mem).any():
            self._gather_file(out, starts[~mem], offsets[~mem], lengths[~mem])
        return out

    def _gather_file(self, out: np.ndarray, at: np.ndarray, offsets: np.ndarray,
                     lengths: np.ndarray) -> None:
        """Fill ``out`` from the file: nearby payloads are read in one run each."""
        if self.path is None or self._file_stamp() != self._stamp:
            raise CaptureError(f"{self.path}: the capture file changed since it was read; "
                               "read it again")
        order = np.argsort(offsets, kind="stable")
        o, n, a = offsets[order], lengths[order], at[order]
        ends = o + n
        reach = np.maximum.accumulate(ends)
        cut = np.flatnonzero(o[1:] > reach[:-1] + _RUN_GAP) + 1
        bounds = np.concatenate([[0], cut, [len(o)]])
        with open(self.path, "rb") as fh:
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
                first, last = int(o[lo]), int(reach[hi - 1])
                fh.seek(first)
                raw = fh.read(last - first)
                if len(raw) < last - first:
                    raise CaptureError(f"{self.path}: the capture file is shorter than when "
                                       "it was read")
                src = np.frombuffer(raw, dtype=np.uint8)
                _copy_ranges(out, a[lo:hi], src, o[lo:hi] - first, n[lo:hi])


def _copy_ranges(out: np.ndarray, out_at: np.ndarray, src: np.ndarray, src_at: np.ndarray,
                 lengths: np.ndarray) -> None:
    """``out[out_at[k]:+lengths[k]] = src[src_at[k]:+lengths[k]]`` for every k.

    One slice copy per payload: index arrays per byte would take 8 times the
    bytes copied.
    """
    dst_view, src_view = memoryview(out.data), memoryview(src.data)
    for a, s_, n in zip(out_at.tolist(), src_at.tolist(), lengths.tolist(), strict=True):
        dst_view[a:a + n] = src_view[s_:s_ + n]


@dataclass(frozen=True, eq=False)
class PacketTable(Sequence["RtpPacket"]):
    """The packets of one stream as columns (arrival order), and where their payloads are.

    Attributes
    ----------
    columns : dict of str to np.ndarray
        One 1-D array per :data:`PACKET_COLUMNS` entry, all of one length:
        frame (1-based, uint32), time_ns (arrival, ns since the epoch,
        int64), sequence (uint16), timestamp (RTP, uint32), ssrc (uint32),
        payload_type (uint8), flags (uint8: 1 marker, 2 truncated),
        payload_offset (int64), payload_length (bytes, uint32).
    store : PayloadStore
        The payload bytes.
    """

    columns: dict[str, np.ndarray]
    store: PayloadStore

    def __getattr__(self, name: str) -> np.ndarray:
        """A column by name (``table.sequence``, ``table.time_ns``...)."""
        cols = self.__dict__.get("columns")
        if cols is not None and name in cols:
            return cols[name]
        raise AttributeError(name)

    def __len__(self) -> int:
        """Number of packets."""
        return int(self.columns["sequence"].shape[0])

    def payload_type_counts(self) -> dict[int, int]:
        """``{payload type: packets}`` in order of first appearance (no sort of the column)."""
        pt = self.columns["payload_type"]
        counts = np.bincount(pt, minlength=128)
        present = np.flatnonzero(counts).tolist()
        if len(present) > 1:
            present.sort(key=lambda v: int(np.argmax(pt == v)))
        return {int(v): int(counts[v]) for v in present}

    @property
    def marker(self) -> np.ndarray:
        """Marker bits, shape=(n,), bool."""
        return (self.columns["flags"] & MARKER) != 0

    @property
    def truncated(self) -> np.ndarray:
        """Packets cut short by the snap length, shape=(n,), bool."""
        return (self.columns["flags"] & TRUNCATED) != 0

    @overload
    def __getitem__(self, index: int) -> RtpPacket: ...

    @overload
    def __getitem__(self, index: slice) -> PacketTable: ...

    def __getitem__(self, index: int | slice) -> Any:
        """One packet (built on demand) or a sub-table (a slice)."""
        if isinstance(index, slice):
            return self.take(np.arange(len(self))[index])
        i = int(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(index)
        return self._packet(i)

    def __iter__(self) -> Iterator[RtpPacket]:
        """Every packet, built on demand."""
        for i in range(len(self)):
            yield self._packet(i)

    def _packet(self, i: int) -> RtpPacket:
        from validator.rtp.capture import RtpPacket

        c = self.columns
        flags = int(c["flags"][i])
        payload = self.payloads(np.array([i])).tobytes()
        return RtpPacket(int(c["frame"][i]), int(c["time_ns"][i]), int(c["sequence"][i]),
                         int(c["timestamp"][i]), int(c["ssrc"][i]), int(c["payload_type"][i]),
                         bool(flags & MARKER), payload, bool(flags & TRUNCATED))

    def take(self, indices: np.ndarray) -> PacketTable:
        """The packets at ``indices`` (an int array or a bool mask), in that order."""
        return PacketTable({k: v[indices] for k, v in self.columns.items()}, self.store)

    def payloads(self, indices: np.ndarray) -> np.ndarray:
        """The payload bytes of the packets at ``indices``, concatenated, uint8."""
        return self.store.gather(self.columns["payload_offset"][indices],
                                 self.columns["payload_length"][indices])

    @classmethod
    def from_packets(cls, packets: Sequence[RtpPacket]) -> PacketTable:
        """A table (payloads in memory) from :class:`RtpPacket` objects."""
        n = len(packets)
        cols: dict[str, np.ndarray] = {k: np.empty(n, dtype=t) for k, t in PACKET_COLUMNS.items()}
        pos = 0
        for i, p in enumerate(packets):
            cols["frame"][i] = p.frame
            cols["time_ns"][i] = p.time_ns
            cols["sequence"][i] = p.sequence
            cols["timestamp"][i] = p.timestamp
            cols["ssrc"][i] = p.ssrc
            cols["payload_type"][i] = p.payload_type
            cols["flags"][i] = (MARKER if p.marker else 0) | (TRUNCATED if p.truncated else 0)
            cols["payload_offset"][i] = -1 - pos
            cols["payload_length"][i] = len(p.payload)
            pos += len(p.payload)
        return cls(cols, PayloadStore(None, b"".join(p.payload for p in packets)))

    @classmethod
    def concat(cls, tables: Sequence[PacketTable]) -> PacketTable:
        """Tables of one capture (one store) joined in the given order."""
        if len(tables) == 1:
            return tables[0]
        stores = {id(t.store) for t in tables}
        if len(stores) != 1:
            return cls.from_packets([p for t in tables for p in t])
        return cls({k: np.concatenate([t.columns[k] for t in tables]) for k in PACKET_COLUMNS},
                   tables[0].store)
