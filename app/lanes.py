"""The two lanes work runs in: here, on the event loop, when the cost model says it is tiny; else
in a small pool of worker processes that can really be stopped.

    result = await run_in_worker(fn, *args, limit=5.0)
    async for item in stream_in_worker(gen, *args, limit=None): ...

`fn` and `gen` are module-level functions (they travel to the worker by name), their arguments
and results anything pickle carries. An exception `fn` raises comes back as it is (an
ExpressionError is a 400); MemoryError, the worker's memory cap, comes back as an
ExpressionError too. When `limit` seconds pass (waiting for a free worker included), the worker
is killed and replaced, and TimeLimitExceeded (503) is raised. `stream_in_worker` sends each item
`gen(*args)` yields as soon as it is made, from a process of its own (a training run may take a
minute: it does not hold one of the pool's), which is killed when the stream ends, at its time
limit, or when its consumer stops early (a StreamingResponse whose client went away).

Workers are forked from a server process that has the engine imported (multiprocessing's
forkserver, app.preload), so a replacement is ready in milliseconds; each has an address-space
cap (RLIMIT_AS) so that a wrong estimate cannot take the machine down.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.util
import os
import pickle
import resource
import signal
import socket
import struct
import threading
import traceback
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
import numpy as np

from app.problems import NoWorker, TimeLimitExceeded, WorkerLost
from app.settings import Settings
from engine import ExpressionError

T = TypeVar("T")

log = logging.getLogger("chainrule")

_CONTEXT = multiprocessing.get_context("forkserver")


@contextmanager
def computing() -> Iterator[None]:
    """Around engine work: numpy's overflow warnings off (responses report them), running out
    of memory or of stack an ExpressionError (a 400)."""
    try:
        with np.errstate(all="ignore"):
            yield
    except MemoryError:
        raise ExpressionError("this request needs more memory than the server allows") from None
    except RecursionError:
        raise ExpressionError("this expression is nested too deeply") from None


_HEADER = struct.Struct("!Q")  # a message is its length, then its pickle


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


def _read(sock: socket.socket) -> Any:
    """The next message, blocking (the worker's side, and a worker's first message)."""
    (size,) = _HEADER.unpack(_read_exactly(sock, _HEADER.size))
    return pickle.loads(_read_exactly(sock, size))


def _serve(sock: socket.socket, memory: int) -> None:
    """A worker: run (fn, args, stream) jobs from the socket until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops its workers itself
    if memory:
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (mapped + memory, mapped + memory))
    try:
        sock.sendall(_frame(os.getpid()))
        while True:
            _job(sock)
    except (EOFError, OSError):  # the server closed its end: it needs this worker no more
        return


def _job(sock: socket.socket) -> None:
    """Read one job from the socket, run it and send back what it gives."""
    fn, args, stream = _read(sock)
    try:
        with computing():
            if stream:
                for item in fn(*args):
                    sock.sendall(_frame(("item", item)))
                sock.sendall(_frame(("done", None)))
            else:
                sock.sendall(_frame(("ok", fn(*args))))
    except ExpressionError as e:
        sock.sendall(_frame(("error", e)))
    except ConnectionError:
        raise  # the socket broke: the server is gone
    except Exception as e:  # the server logs it; a response never shows it
        traceback.print_exc()
        sock.sendall(_frame(("error", RuntimeError(
            f"the computation failed in a worker process: {type(e).__name__}: {e}"))))


async def _readable(fd: int, deadline: float | None) -> None:
    """Until `fd` can be read; TimeoutError after `deadline`."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
    try:
        async with asyncio.timeout_at(deadline):
            await ready
    finally:
        loop.remove_reader(fd)


class _Worker:
    """A worker process and the server's end of its socket. The server never blocks on it:
    a message goes out and comes in as the socket takes and gives it, between other requests'
    turns, however slowly the worker (at a lower priority) writes or reads its end."""

    def __init__(self, memory: int):
        self.sock, child = socket.socketpair()
        self.process = _CONTEXT.Process(target=_serve, args=(child, memory), daemon=True,
                                        name="chainrule-worker")
        self.process.start()
        child.close()
        self.pid = _read(self.sock)  # the memory cap is in place
        self.sock.setblocking(False)
        self._buffer = bytearray()

    async def send(self, obj: Any, deadline: float | None) -> None:
        async with asyncio.timeout_at(deadline):
            await asyncio.get_running_loop().sock_sendall(self.sock, _frame(obj))

    async def receive(self, deadline: float | None) -> tuple[str, Any]:
        """The next message, a piece a turn of the event loop; TimeoutError after `deadline`."""
        buffer = self._buffer
        while True:
            if len(buffer) >= _HEADER.size:
                end = _HEADER.size + _HEADER.unpack_from(buffer)[0]
                if len(buffer) >= end:
                    with memoryview(buffer) as view, view[_HEADER.size:end] as body:
                        message = pickle.loads(body)  # no copy of a long answer but its own
                    del buffer[:end]
                    return message
            await _readable(self.sock.fileno(), deadline)
            try:
                chunk = self.sock.recv(1 << 18)
            except BlockingIOError:
                continue
            if not chunk:
                raise EOFError
            buffer += chunk

    dead = False

    def kill(self) -> None:
        if not self.dead:
            self.dead = True
            self.process.kill()
            self.sock.close()


class Pool:
    """Up to `size` worker processes, started when first needed, shared by every event loop of
    the process (tests run several). How many requests may wait for one is bounded at the
    door (app.middleware)."""

    def __init__(self, size: int, memory: int):
        self.size, self.memory = size, memory
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._waiters: deque[asyncio.Future] = deque()
        self._count = 0  # workers alive or starting

    def start(self) -> None:
        """Start the workers now, in the background, rather than for the first requests (not
        in a worker: a worker re-imports the server's main module, which may create an app)."""
        if os.environ.get("CHAINRULE_IN_WORKER"):
            return
        with self._lock:
            missing, self._count = self.size - self._count, max(self._count, self.size)
        for _ in range(missing):
            threading.Thread(target=self._start, daemon=True).start()

    def stop(self) -> None:
        """Kill the idle workers (the server is stopping)."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            worker.kill()

    async def take(self, deadline: float | None) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if not worker.dead and worker.process.exitcode is None:
                    return worker
                self.discard(worker)  # it ended while idle
            if self._count < self.size and not os.environ.get("CHAINRULE_IN_WORKER"):
                self._count += 1
                threading.Thread(target=self._start, daemon=True).start()
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                return await waiter
        except BaseException:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if waiter.done() and not waiter.cancelled():
                self.give(waiter.result())  # handed over as the wait ended
            raise

    def give(self, worker: _Worker) -> None:
        """A worker is free: to the first request waiting for one, else to the idle list."""
        if worker.dead:
            return
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.get_loop().call_soon_threadsafe(self._hand, waiter, worker)
                    return
            self._idle.append(worker)

    def _hand(self, waiter: asyncio.Future, worker: _Worker) -> None:
        if waiter.done():  # it gave up in the meantime
            self.give(worker)
        else:
            waiter.set_result(worker)

    def discard(self, worker: _Worker) -> None:
        """Kill a worker (it ended, or its request timed out or went away) and start its
        replacement."""
        if not worker.dead:
            worker.kill()
            threading.Thread(target=self._start, daemon=True).start()

    def _start(self) -> None:
        try:
            worker = _Worker(self.memory)
        except Exception as e:  # the server is stopping, or the machine is out of processes
            if not multiprocessing.util.is_exiting():  # at exit its children are ended first
                log.warning("a worker process did not start: %r", e)
            with self._lock:
                self._count -= 1
            return
        self.give(worker)

    def pids(self) -> list[int]:
        """The idle workers' process ids (for tests)."""
        with self._lock:
            return [w.pid for w in self._idle]


def _report_end(worker: _Worker) -> None:
    worker.process.join(10)
    log.warning("worker process %d ended during a request (exit code %s)", worker.pid,
                worker.process.exitcode)


POOL = Pool(Settings.processes, Settings.worker_memory)  # create_app configures it
_CONTEXT.set_forkserver_preload(["app.preload"])


def _deadline(limit: float | None) -> float | None:
    return None if limit is None else asyncio.get_running_loop().time() + limit


async def run_in_worker(fn: Callable[..., T], *args: Any, limit: float | None) -> T:
    """`fn(*args)` in a worker process of the pool; TimeLimitExceeded after `limit` seconds."""
    deadline = _deadline(limit)
    try:
        worker = await POOL.take(deadline)
    except TimeoutError:
        raise NoWorker(limit or 0) from None
    try:
        kind, result = await _message(worker, deadline, limit, (fn, args, False))
    except BaseException:  # over the time limit, cancelled, or the worker ended
        POOL.discard(worker)
        raise
    POOL.give(worker)
    if kind == "error":
        raise result
    return result


STREAMS: set[int] = set()  # process ids of the streams' worker processes, running now


async def stream_in_worker(fn: Callable[..., Any], *args: Any,
                           limit: float | None = None) -> AsyncIterator[Any]:
    """The items the generator `fn(*args)` yields, as they come, from a worker process of its
    own (a stream may run long: it holds none of the pool's), which ends with the stream."""
    deadline = _deadline(limit)
    # not abandoned when the request is cancelled meanwhile: the process is ended below
    worker = await anyio.to_thread.run_sync(_Worker, POOL.memory)
    STREAMS.add(worker.pid)
    try:
        kind, item = await _message(worker, deadline, limit, (fn, args, True))
        while kind == "item":
            yield item
            kind, item = await _message(worker, deadline, limit)
        if kind == "error":
            raise item
    finally:
        worker.kill()
        STREAMS.discard(worker.pid)


async def _message(worker: _Worker, deadline: float | None, limit: float | None,
                   job: tuple | None = None) -> tuple[str, Any]:
    """Send `job`, if any; then the worker's next message. The time limit passing and the
    worker ending come out as what a request answers: TimeLimitExceeded, WorkerLost."""
    try:
        if job is not None:
            await worker.send(job, deadline)
        return await worker.receive(deadline)
    except TimeoutError:
        raise TimeLimitExceeded(limit or 0) from None
    except (EOFError, OSError):
        threading.Thread(target=_report_end, args=(worker,), daemon=True).start()
        raise WorkerLost() from None
