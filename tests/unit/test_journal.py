"""engine/localstack_nodocker/journal.py: the append-only journal of the engine's state. A crash
may cut the last frame anywhere; what was written whole before it is read back, the cut is
reported once and dropped, and nothing after a damaged frame is taken for data."""

import os
import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "engine"))
from localstack_nodocker import journal  # noqa: E402

PAYLOADS = st.lists(st.binary(max_size=300), min_size=1, max_size=12)


def written(folder: Path, batches: list[list[bytes]]) -> journal.Journal:
    """A journal with one segment per batch of frames."""
    log = journal.Journal(folder, 1)
    for number, batch in enumerate(batches):
        if number:
            log.start_segment()
        for payload in batch:
            log.append(payload)
    return log


def read_all(folder: Path, first: int = 1) -> tuple[list[bytes], list]:
    payloads, damages = [], []
    for found, damage in journal.frames_from(folder, first):
        payloads += found
        if damage is not None:
            damages.append(damage)
    return payloads, damages


@given(batches=st.lists(PAYLOADS, min_size=1, max_size=4))
@settings(max_examples=40, deadline=None)
def test_frames_come_back_whole_and_in_order_across_segments(tmp_path_factory, batches):
    folder = tmp_path_factory.mktemp("journal")
    written(folder, batches).close()

    payloads, damages = read_all(folder)

    assert payloads == [payload for batch in batches for payload in batch]
    assert damages == []
    assert [journal.segment_number(path) for path in journal.segments(folder)] == list(range(1, len(batches) + 1))


@given(payloads=PAYLOADS, data=st.data())
@settings(max_examples=60, deadline=None)
def test_a_last_frame_cut_anywhere_leaves_the_frames_before_it(tmp_path_factory, payloads, data):
    folder = tmp_path_factory.mktemp("journal")
    written(folder, [payloads]).close()
    segment = journal.segments(folder)[0]
    whole = segment.stat().st_size
    last = journal.FRAME_HEADER.size + len(payloads[-1])
    cut = data.draw(st.integers(whole - last + 1, whole - 1), label="bytes left after the crash")
    os.truncate(segment, cut)

    found, damages = read_all(folder)

    assert found == payloads[:-1]
    assert (
        len(damages) == 1 and damages[0].offset == whole - last and damages[0].dropped_bytes == cut - damages[0].offset
    )
    assert "cut" in str(damages[0]) and segment.name in str(damages[0])
    # the cut is dropped: read again, the segment is whole, and the journal goes on after it
    assert read_all(folder) == (payloads[:-1], [])
    log = journal.Journal(folder, 2)
    log.append(b"after the restart")
    log.close()
    assert read_all(folder) == ([*payloads[:-1], b"after the restart"], [])


@pytest.mark.parametrize("flipped", ["header length", "header checksum", "payload"])
def test_a_frame_whose_bytes_changed_ends_the_segment_there(tmp_path, flipped):
    payloads = [b"first", b"second frame", b"third"]
    written(tmp_path, [payloads]).close()
    segment = journal.segments(tmp_path)[0]
    data = bytearray(segment.read_bytes())
    second = journal.FRAME_HEADER.size + len(payloads[0])
    position = {"header length": second, "header checksum": second + 4, "payload": second + 8 + 3}[flipped]
    data[position] ^= 0x40
    segment.write_bytes(bytes(data))

    found, damages = read_all(tmp_path)

    assert found == [b"first"]
    assert len(damages) == 1 and damages[0].offset == second


def test_segments_before_a_snapshot_are_dropped_and_not_read(tmp_path):
    log = written(tmp_path, [[b"a"], [b"b"], [b"c"]])
    log.drop_before(3)
    log.append(b"d")

    assert [path.name for path in journal.segments(tmp_path)] == ["00000003.log"]
    assert read_all(tmp_path, first=3) == ([b"c", b"d"], [])
    assert log.size() == sum(journal.FRAME_HEADER.size + len(payload) for payload in (b"c", b"d"))


def test_only_numbered_segments_are_read_in_number_order(tmp_path):
    numbers = [9, 10, 2, 100]
    for number in random.sample(numbers, len(numbers)):
        journal.segment_path(tmp_path, number).write_bytes(journal.frame(str(number).encode()))
    (tmp_path / "notes.txt").write_text("not a segment")
    (tmp_path / "x1.log").write_bytes(journal.frame(b"not a segment either"))

    assert read_all(tmp_path, first=3)[0] == [b"9", b"10", b"100"]


def test_a_frame_that_could_not_be_written_leaves_the_segment_readable(tmp_path, monkeypatch):
    """A disk full part-way through a frame: the append fails, the segment is cut back to its
    whole frames, and the frames appended once there is room again are read after them."""
    log = written(tmp_path, [[b"before"]])
    real_fdatasync = os.fdatasync

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal.os, "fdatasync", full)
    with pytest.raises(OSError, match="No space left"):
        log.append(b"lost" * 1000)
    monkeypatch.setattr(journal.os, "fdatasync", real_fdatasync)
    log.append(b"after")
    log.close()
    assert read_all(tmp_path) == ([b"before", b"after"], [])


def test_a_cut_that_could_not_be_made_at_once_is_made_at_the_next_append(tmp_path, monkeypatch):
    """The disk is still failing when the frame is cut back: the next append cuts it first."""
    log = written(tmp_path, [[b"before"]])
    real_fdatasync, real_truncate = os.fdatasync, os.truncate

    def failing(*args):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(journal.os, "fdatasync", failing)
    monkeypatch.setattr(journal.os, "truncate", failing)
    with pytest.raises(OSError, match="Input/output error"):
        log.append(b"lost" * 1000)
    monkeypatch.setattr(journal.os, "fdatasync", real_fdatasync)
    monkeypatch.setattr(journal.os, "truncate", real_truncate)
    log.append(b"after")
    log.close()
    assert read_all(tmp_path) == ([b"before", b"after"], [])
