"""Processes that end when the engine does (standard library only: also run as a script).

A process the engine starts and that must not outlive it (a forked snapshot writer holding
copies of the engine's sockets; kinesis-mock, which LocalStack starts in a session of its
own) asks the kernel to kill it when its parent thread ends (PR_SET_PDEATHSIG, Linux). The
signal follows the thread that started the process, which waits for it to end.

    python end_with_engine.py <engine PID> <command> [arguments...]

runs the command in its place (exec keeps the request).
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # prctl(2)


def end_with(engine: int) -> None:
    """Make this process die (SIGKILL) with the engine, whose PID is ``engine``."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the orphan ends by itself, later
        pass
    if os.getppid() != engine:  # the engine died before the line above
        os._exit(1)


if __name__ == "__main__":
    end_with(int(sys.argv[1]))
    os.execvp(sys.argv[2], sys.argv[2:])
