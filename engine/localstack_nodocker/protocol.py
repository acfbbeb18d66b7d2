"""The executor's side of the worker protocol (standard library only, so it is unit-tested
without an engine).

Workers speak JSON lines: one request per line on stdin, frames on a pipe of their own
(its descriptor in PROTOCOL_FD_VARIABLE), each frame a JSON object on one line ({"ready"},
{"init_error"}, {"log"}, {"result", "error", "max_rss_kb"}); their stdout and stderr are the
environment's log. Anything else on the frame pipe is a garbled frame: it fails the one
invocation that sees it, and the worker is replaced, because after it nothing read from that
stream can be trusted.
"""

import json
import os
import selectors
import signal
import subprocess
import threading
import time

# How often the executor samples the worker's memory while it waits for a frame.
MEMORY_POLL_S = 0.05
# A frame larger than this is refused. The workers never write one: a result or an error over
# AWS's 6 MiB (+ 100 bytes) becomes Function.ResponseSizeTooLarge, whose JSON escaping at most
# doubles it, and output goes in 64 KiB pieces.
MAX_FRAME_BYTES = 16 * 1024 * 1024
PROTOCOL_FD_VARIABLE = "_LAMBDA_WORKER_PROTOCOL_FD"


class WorkerDied(Exception):
    pass


class WorkerTimedOut(Exception):
    pass


class WorkerOutOfMemory(Exception):
    pass


class GarbledFrame(Exception):
    """The worker wrote something that is not a protocol frame."""


def parse_frame(line: bytes) -> dict:
    """One protocol frame from one line; GarbledFrame with the reason otherwise."""
    try:
        frame = json.loads(line)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
        raise GarbledFrame(f"not JSON ({type(exc).__name__}: {str(exc)[:200]}): {line[:200]!r}") from None
    if not isinstance(frame, dict) or not frame.keys() & {"ready", "init_error", "log", "result"}:
        raise GarbledFrame(f"not a protocol frame: {line[:200]!r}")
    for kind in ("log", "init_error"):
        if kind in frame and not isinstance(frame[kind], str):
            raise GarbledFrame(f"{kind} frame without text: {line[:200]!r}")
    if "result" in frame and not (isinstance(frame["result"], str) and isinstance(frame.get("error"), bool)):
        raise GarbledFrame(f"result frame without a text result and an error flag: {line[:200]!r}")
    return frame


def rss_kb(pid: int) -> int:
    """Resident memory of a process in kB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class Worker:
    """One worker process and the reading side of its protocol.

    ``memory_limit_kb``: the worker is killed (WorkerOutOfMemory) as soon as its resident
    memory is seen above it, the way AWS's sandbox kills a function past its MemorySize.
    """

    def __init__(self, argv, env, cwd, on_log, memory_limit_kb=None):
        """``on_log``: called with each line of the worker's stdout and stderr (one pipe: a
        runtime wrapper's output and the function's native output, in the order written)."""
        self.started_at = time.perf_counter()
        self.memory_limit_kb = memory_limit_kb
        self._frames_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**env, PROTOCOL_FD_VARIABLE: str(write_fd)},
            cwd=cwd,
            start_new_session=True,
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._frames_fd, selectors.EVENT_READ)
        self._log_drain = threading.Thread(target=self._drain_log, args=(self.process.stdout, on_log), daemon=True)
        self._log_drain.start()

    @staticmethod
    def _drain_log(stream, on_log):
        for line in iter(stream.readline, b""):
            on_log(line.decode("utf-8", "replace"))

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict) -> None:
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def _check_memory(self) -> None:
        if self.memory_limit_kb and rss_kb(self.process.pid) > self.memory_limit_kb:
            raise WorkerOutOfMemory()

    def read_message(self, deadline: float) -> dict:
        """Next protocol frame; WorkerTimedOut past ``deadline`` (monotonic seconds),
        WorkerOutOfMemory past the memory limit, GarbledFrame for anything else."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_FRAME_BYTES:
                raise GarbledFrame(f"a frame longer than {MAX_FRAME_BYTES} bytes")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimedOut()
            wait = min(remaining, MEMORY_POLL_S) if self.memory_limit_kb else remaining
            ready = self._selector.select(timeout=wait)
            self._check_memory()
            if not ready:
                continue
            chunk = os.read(self._frames_fd, 65536)
            if not chunk:
                raise WorkerDied(self.exit_reason())
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return parse_frame(line)

    def exit_reason(self) -> str:
        """How the process ended, in the words AWS uses ("exit status 1", "signal: killed")."""
        code = self.process.wait()
        # what it wrote before it ended (a wrapper's refusal, a crash's last words) is in its log
        # before the failure is reported; a child still holding the pipe delays this at most 1 s
        self._log_drain.join(timeout=1)
        if code >= 0:
            return f"exit status {code}"
        try:
            name = signal.Signals(-code).name
        except ValueError:
            return f"signal: {-code}"
        return "signal: " + {
            "SIGKILL": "killed",
            "SIGABRT": "aborted",
            "SIGSEGV": "segmentation fault",
            "SIGTERM": "terminated",
        }.get(name, name.lower().removeprefix("sig"))

    def kill(self) -> None:
        """Kill the worker's process group and release the pipes (again: a no-op)."""
        if self._selector is None:
            return
        if self.alive():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()
        self._selector.close()
        self._selector = None
        os.close(self._frames_fd)
        # the log stream is left to its draining thread, which ends at end of file
        try:
            self.process.stdin.close()
        except OSError:
            pass
