"""The engine's journal: an append-only file of what changed, written and fsynced once a second.

Modelled on Redis's AOF (``appendfsync everysec``: a crash loses at most the last second of
acknowledged writes) and on SQLite's WAL (frames with a checksum; replay stops at the first
frame that is not whole, which is where a crash cut the last write). The journal sits
beside the snapshot it continues (persistence.py): on start the snapshot is loaded, then every
frame written after it.

A frame is ``<length:u32><crc32:u32><payload>`` (little endian). One frame holds everything
one interval changed, so a crash keeps an interval whole or leaves it out whole: the items
of one DynamoDB transaction are never half there. The journal is cut into numbered
segments (``00000001.log``, ...); a new snapshot starts a new segment, and the segments it
covers are deleted once it is in place.

Standard library only: the unit tests load it alone.
"""

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FRAME_HEADER = struct.Struct("<II")
SEGMENT_SUFFIX = ".log"


@dataclass
class Damage:
    """Where reading a segment stopped before its end, and why."""

    segment: Path
    offset: int
    dropped_bytes: int
    reason: str

    def __str__(self):
        return (
            f"{self.segment.name} is cut at byte {self.offset} ({self.reason}): "
            f"the last {self.dropped_bytes} bytes were not written whole and are left out"
        )


def segment_number(path: Path) -> int:
    return int(path.name.removesuffix(SEGMENT_SUFFIX))


def segment_path(folder: Path, number: int) -> Path:
    return folder / f"{number:08d}{SEGMENT_SUFFIX}"


def segments(folder: Path) -> list[Path]:
    """The folder's segments, oldest first."""
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir() if path.suffix == SEGMENT_SUFFIX and path.stem.isdigit()]
    return sorted(found, key=segment_number)


def frame(payload: bytes) -> bytes:
    return FRAME_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def read_frames(path: Path) -> tuple[list[bytes], Damage | None]:
    """Every whole frame of a segment, in order, and where the segment stops being whole
    (None when it is whole to its end)."""
    data = path.read_bytes()
    payloads, offset = [], 0
    while offset < len(data):
        if len(data) - offset < FRAME_HEADER.size:
            return payloads, Damage(path, offset, len(data) - offset, "a frame header cut short")
        length, checksum = FRAME_HEADER.unpack_from(data, offset)
        start = offset + FRAME_HEADER.size
        payload = data[start : start + length]
        if len(payload) < length:
            return payloads, Damage(path, offset, len(data) - offset, "a frame cut short")
        if zlib.crc32(payload) != checksum:
            return payloads, Damage(path, offset, len(data) - offset, "a frame whose checksum does not match")
        payloads.append(payload)
        offset = start + length
    return payloads, None


def frames_from(folder: Path, first: int) -> Iterator[tuple[list[bytes], Damage | None]]:
    """(frames, damage) of each segment numbered `first` or later, oldest first. A segment
    that ends in a cut frame (the engine stopped while writing it) is truncated to its whole
    frames, so that the cut is reported once."""
    for path in segments(folder):
        if segment_number(path) >= first:
            payloads, damage = read_frames(path)
            if damage is not None:
                os.truncate(path, damage.offset)
            yield payloads, damage


class Journal:
    """The segment being written (each start of the engine begins a new one). One writer at
    a time (persistence.py holds a lock around it)."""

    def __init__(self, folder: Path, number: int):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.number = number
        self._file = None
        self._cut_to: int | None = None  # where a failed write's frame starts, while its cut is to make
        self._open(number)

    def _open(self, number: int) -> None:
        self._file = open(segment_path(self.folder, number), "ab")
        _fsync_folder(self.folder)
        self.number = number

    def _cut(self) -> None:
        """The segment back to where the failed write's frame starts, and open again."""
        os.truncate(segment_path(self.folder, self.number), self._cut_to)
        self._open(self.number)
        self._cut_to = None

    def append(self, payload: bytes) -> int:
        """Write one frame and wait until it is on disk; the bytes written. A write that fails
        (a disk full) leaves the segment as it was: frames appended after it stay readable."""
        if self._cut_to is not None:  # the cut a failed write could not make
            self._cut()
        data = frame(payload)
        end = os.fstat(self._file.fileno()).st_size
        try:
            self._file.write(data)
            self._file.flush()
            os.fdatasync(self._file.fileno())
        except BaseException:
            self._cut_to = end
            try:
                self._file.close()  # its buffer may still hold part of the frame: cut below
            except OSError:
                pass
            self._file = None
            try:
                self._cut()
            except OSError:
                pass  # cut and opened again at the next append
            raise
        return len(data)

    def start_segment(self) -> int:
        """Continue in a new segment; its number (what a snapshot taken now replays from). A
        cut a failed write left undone is made by the reader (a segment's last frame cut)."""
        self.close()
        self._cut_to = None
        self._open(self.number + 1)
        return self.number

    def size(self) -> int:
        return sum(path.stat().st_size for path in segments(self.folder))

    def drop_before(self, number: int) -> None:
        """Delete the segments a snapshot now in place covers."""
        for path in segments(self.folder):
            if segment_number(path) < number:
                path.unlink()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _fsync_folder(folder: Path) -> None:
    """A new file's name is durable once its folder is synced."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
