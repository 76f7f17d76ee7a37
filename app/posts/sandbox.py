"""Run one text-to-text function in a forked child under a wall-clock, CPU and memory budget.

Python-Markdown has no linear-time guarantee, and no pre-check can list every input that makes it slow
(``"[" * 15900``, under 16 KB, takes 46 s or more in-process), so every render runs here and none is
trusted to be tame. Python cannot stop a thread, and multiprocessing's pools cannot kill a stuck job, so
this is a bare ``fork()``: the child computes, writes one length-prefixed message to a pipe and leaves
with ``os._exit``; the parent waits on the pipe with a deadline and SIGKILLs the child when the deadline
passes. A fork costs a few milliseconds, less than rendering a 5 KB post, and keeps nothing alive between
renders: no pool to size, share between threads, or replace after a kill (nor to re-create in each
gunicorn worker), and no state carried from one writer's text to the next.

The child's limits, set before it runs anything:

* ``RLIMIT_AS`` at its inherited address space plus the memory budget (an absolute cap would count
  the worker's own, possibly large, mappings), so a blow-up raises MemoryError instead of swapping;
* ``RLIMIT_CPU`` a little over the wall-clock budget, so a child whose parent died (a worker killed by
  gunicorn) still ends by itself;
* no core files (``RLIMIT_CORE`` 0), since SIGXCPU would otherwise dump one.

The child inherits the worker's database connections and must neither use nor hold them: it closes every
inherited descriptor but stdio and its pipe (closing a socket's descriptor in the child sends nothing on
it), runs no finalizers (``os._exit`` skips atexit handlers, and ``gc.freeze()`` keeps the collector away
from every inherited object, which also spares copy-on-write pages), and never returns into the parent's
code, not even on KeyboardInterrupt.
"""

from __future__ import annotations

import enum
import gc
import logging
import os
import resource
import select
import signal
import struct
import threading
import time
import warnings
from collections.abc import Callable

from app.errors import RenderError

_HEADER = struct.Struct("!cQ")  # status byte, payload length in bytes
_CHUNK = 1 << 16
# Forks are serialised so that a child forked by another thread never inherits this call's pipe (it
# would hold the write end open), and so that two threads do not race on the warning filters.
_fork_lock = threading.Lock()
log = logging.getLogger(__name__)


class Failure(enum.Enum):
    """Why the child gave no answer; the caller words it for the writer."""

    TIME = b"t"  # ran past the wall-clock budget, and was killed
    MEMORY = b"m"  # MemoryError: the address-space limit was hit
    RECURSION = b"n"  # RecursionError
    SIZE = b"s"  # the answer was larger than max_output_bytes
    ERROR = b"x"  # any other exception; detail is its type name
    DIED = b"d"  # no answer at all: killed by a signal (SIGXCPU, the OOM killer) or crashed


class Refused(Exception):
    """``fn`` gave no answer within the budget; RenderError raised by ``fn`` passes through as itself."""

    def __init__(self, failure: Failure, detail: str = "") -> None:
        super().__init__(failure.name, detail)
        self.failure = failure
        self.detail = detail
        self.cpu_seconds: float | None = None  # the child's CPU time, when it was killed for time


STARVED_SHARE = 0.05
"""A child killed at the deadline having used less than this share of it on the CPU was not computing: it
waited, most likely on a lock some other thread of the parent held at the fork (a C library's, which no
fork handler resets). The text is not what made it slow, so ``run`` tries once more with a fresh child
before refusing. A text that is slow to render keeps its child computing: no second try."""


_OK, _RENDER_ERROR = b"o", b"r"
_STATUSES = {_OK, _RENDER_ERROR} | {f.value for f in Failure}


def run(
    fn: Callable[[str], str], source: str, *, seconds: float, memory_bytes: int, max_output_bytes: int
) -> str:
    """``fn(source)``, computed in a forked child within the budget.

    :raises RenderError: ``fn`` raised it (its message is kept).
    :raises Refused: anything else stopped the child from answering.
    """
    try:
        return _run_once(fn, source, seconds, memory_bytes, max_output_bytes)
    except Refused as refused:
        cpu = refused.cpu_seconds
        if refused.failure is not Failure.TIME or cpu is None or cpu >= seconds * STARVED_SHARE:
            raise
        log.warning(
            "a render child was killed at %.1f s having computed %.2f s: trying once more", seconds, cpu
        )
        return _run_once(fn, source, seconds, memory_bytes, max_output_bytes)


def _run_once(
    fn: Callable[[str], str], source: str, seconds: float, memory_bytes: int, max_output_bytes: int
) -> str:
    pid, read_fd = _fork(
        lambda write_fd: _child(fn, source, write_fd, seconds, memory_bytes, max_output_bytes)
    )
    try:
        status, payload = _receive(read_fd, time.monotonic() + seconds, max_output_bytes)
    except Refused as refused:
        os.close(read_fd)
        refused.cpu_seconds = _reap(pid)
        raise
    os.close(read_fd)
    _reap(pid)
    return _result(status, payload)


def _fork(child: Callable[[int], None]) -> tuple[int, int]:
    """Fork a child that runs ``child(write_fd)`` and never returns; the parent gets (pid, read_fd)."""
    with _fork_lock, warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a threaded process; the child only computes and exits.
        warnings.filterwarnings("ignore", r".*use of fork\(\) may lead to deadlocks", DeprecationWarning)
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except BaseException:
            os.close(read_fd)
            os.close(write_fd)
            raise
        if pid == 0:  # pragma: no cover - the child; coverage does not follow a fork
            child(write_fd)
        os.close(write_fd)
    return pid, read_fd


def _result(status: bytes, payload: bytes) -> str:
    text = payload.decode("utf-8", "surrogatepass")
    if status == _OK:
        return text
    if status == _RENDER_ERROR:
        raise RenderError(text)
    raise Refused(Failure(status), text)


def run_many(
    fn: Callable[[str], str],
    sources: list[str],
    *,
    seconds: float,
    memory_bytes: int,
    max_output_bytes: int,
) -> list[str | RenderError | Refused]:
    """``fn(source)`` for each source, computed in as few forked children as the answers allow: each
    text within the same budget as ``run`` gives one (its own ``seconds`` of wall-clock time from the
    previous answer, ``memory_bytes`` on top of the parent's), each answer in the order given, a result
    or the exception ``run`` would have raised.

    A fork per text costs more than rendering a short one; a bulk job (the WordPress import) renders
    thousands. One text that fails fails alone: the child that ran out of time is killed, and one that
    gave any answer but a result leaves; a fresh child takes the texts after it. For the texts of one
    source only (an import): a child carries Python's state from one text to the next, which ``run``
    never does between two writers.
    """
    answers: list[str | RenderError | Refused] = []
    while len(answers) < len(sources):
        answers += _run_batch(fn, sources[len(answers) :], seconds, memory_bytes, max_output_bytes)
    return answers


def _run_batch(
    fn: Callable[[str], str], sources: list[str], seconds: float, memory_bytes: int, max_output_bytes: int
) -> list[str | RenderError | Refused]:
    """Answers for ``sources`` from one child, up to and including the first that is not a result."""
    pid, read_fd = _fork(
        lambda write_fd: _child_many(fn, sources, write_fd, seconds, memory_bytes, max_output_bytes)
    )
    answers: list[str | RenderError | Refused] = []
    buffer = bytearray()
    try:
        for _ in sources:
            try:
                status, payload = _receive(read_fd, time.monotonic() + seconds, max_output_bytes, buffer)
                answers.append(_result(status, payload))
            except (RenderError, Refused) as failed:
                answers.append(failed)
                break
    finally:
        os.close(read_fd)
        _reap(pid)
    return answers


def _child(
    fn: Callable[[str], str],
    source: str,
    write_fd: int,
    seconds: float,
    memory_bytes: int,
    max_output_bytes: int,
) -> None:  # pragma: no cover - runs in the child
    """Compute, send one message, and leave without running anything of the parent's."""
    _child_many(fn, [source], write_fd, seconds, memory_bytes, max_output_bytes)


def _child_many(
    fn: Callable[[str], str],
    sources: list[str],
    write_fd: int,
    seconds: float,
    memory_bytes: int,
    max_output_bytes: int,
) -> None:  # pragma: no cover - runs in the child
    """Compute one message per source, in order, and leave without running anything of the parent's.

    The first answer that is not a result ends the child (after a MemoryError its heap is not to be
    trusted with the next text): the parent starts a fresh child for the sources left.
    """
    code = 70  # EX_SOFTWARE, unless the messages go out
    try:
        gc.freeze()
        # Every descriptor but stdio and the answer pipe: database sockets, the listening socket, files.
        os.closerange(3, write_fd)
        os.closerange(write_fd + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        # The CPU limit is a backstop for a child whose parent died; the parent holds each text to
        # ``seconds`` of wall-clock time.
        _limit(seconds * len(sources), memory_bytes)
        for source in sources:
            status, payload = _answer(fn, source, max_output_bytes)
            _send(write_fd, _HEADER.pack(status, len(payload)) + payload)
            if status != _OK:
                break
        code = 0
    finally:
        os._exit(code)


def _answer(fn: Callable[[str], str], source: str, max_output_bytes: int) -> tuple[bytes, bytes]:
    """``fn(source)`` as a status and a payload: anything at all becomes an answer, never a crash."""
    try:
        status, text = _OK, fn(source)
    except RenderError as exc:
        status, text = _RENDER_ERROR, exc.message
    except MemoryError:
        status, text = Failure.MEMORY.value, ""
    except RecursionError:
        status, text = Failure.RECURSION.value, ""
    except BaseException as exc:  # noqa: BLE001 - anything at all becomes an answer, never a crash
        status, text = Failure.ERROR.value, type(exc).__name__
    # Out of the except blocks, the failed computation's frames and data are released.
    payload = text.encode("utf-8", "surrogatepass")
    if len(payload) > max_output_bytes:
        status, payload = Failure.SIZE.value, b""
    return status, payload


def _limit(seconds: float, memory_bytes: int) -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(seconds) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    inherited = _address_space()
    if inherited is not None:
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        cap = inherited + memory_bytes
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _address_space() -> int | None:
    """This process's virtual size in bytes (Linux), or None where /proc is not there to say."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * resource.getpagesize()


def _send(fd: int, data: bytes) -> None:  # pragma: no cover - runs in the child
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(
    fd: int, deadline: float, max_output_bytes: int, buffer: bytearray | None = None
) -> tuple[bytes, bytes]:
    """The child's next message, read as it arrives (it may exceed the pipe's buffer), by the deadline.

    The length prefix, not end-of-file, says when the message is complete, so the parent never waits
    on a write end that some other process might still hold. ``buffer``: bytes already read past the
    previous message (a child answering several texts), consumed as the message is.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    if buffer is None:
        buffer = bytearray()
    needed = _HEADER.size
    header_read = False
    while True:
        if not header_read and len(buffer) >= _HEADER.size:
            status, length = _HEADER.unpack_from(buffer)
            if status not in _STATUSES or length > max_output_bytes:
                raise Refused(Failure.DIED)
            needed += length
            header_read = True
        if header_read and len(buffer) >= needed:
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(max(1, round(remaining * 1000))):
            raise Refused(Failure.TIME)
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            raise Refused(Failure.DIED)
        buffer += chunk
    status, _ = _HEADER.unpack_from(buffer)
    payload = bytes(buffer[_HEADER.size : needed])
    del buffer[:needed]
    return status, payload


def _reap(pid: int) -> float | None:
    """Kill the child (finished or not: its answer is in, or no longer wanted), collect it, and return the
    CPU time it used (None if it was reaped elsewhere)."""
    try:
        os.kill(pid, signal.SIGKILL)
        _, _, usage = os.wait4(pid, 0)
    except (ProcessLookupError, ChildProcessError):  # pragma: no cover - reaped elsewhere already
        return None
    return usage.ru_utime + usage.ru_stime
