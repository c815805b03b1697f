"""Several server processes on one port, each accepting on a listening socket of its own.

uvicorn's own supervisor binds one socket and hands it to every worker; each worker's event loop then
accepts from the shared queue, and the first to wake takes whatever is waiting. Connections opened
together (a shop's connection pool, a load balancer's, a benchmark's) end up on one or two processes:
measured here, 32 keep-alive connections to 4 workers were held 27, 5, 0 and 0, so one process did
most of the work while the others idled. With SO_REUSEPORT each worker listens on a socket of its
own and the kernel spreads new connections over them by their addresses' hash.

The supervisor keeps the port bound (not listening) so that a port already in use fails at once,
restarts a worker that dies (giving up when they keep dying at start), and on SIGTERM asks every worker
to shut down gracefully. On a platform without SO_REUSEPORT, `couponry serve` uses uvicorn's supervisor.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import time
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

log = logging.getLogger("couponry.serve")

APP = "couponry.api.app:create_app"
BACKLOG = 2048  # uvicorn's default
QUICK_DEATH_SECONDS = 10.0  # a worker that dies sooner than this after starting has a problem
MAX_QUICK_DEATHS = 5  # in a row: then the supervisor stops instead of restarting forever


def supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


def reuse_port_socket(host: str, port: int, *, reuse_port: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _reserve(host: str, port: int) -> socket.socket:
    """The port, bound for the supervisor's lifetime (not listening: it takes no connections).

    First bound without SO_REUSEPORT and let go: that fails if anything holds the port, another
    Couponry included (its sockets allow sharing only with sockets that ask for it, and the kernel
    would otherwise let a second server started by the same user silently take half the connections)."""
    reuse_port_socket(host, port, reuse_port=False).close()
    return reuse_port_socket(host, port)


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    """One server process: its own listening socket, uvicorn serving the app on it."""
    import uvicorn

    sock = reuse_port_socket(host, port)
    sock.listen(BACKLOG)
    config = uvicorn.Config(APP, factory=True, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(host: str, port: int, workers: int, options: dict[str, Any]) -> int:
    """Serve with `workers` processes until SIGTERM or SIGINT; returns the exit status."""
    reserved = _reserve(host, port)  # fails now if anything, another Couponry included, holds the port
    context = multiprocessing.get_context("spawn")
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def start() -> tuple[BaseProcess, float]:
        process = context.Process(target=_worker, args=(host, port, options), name="couponry-worker")
        process.start()
        return process, time.monotonic()

    status = 0
    running = [start() for _ in range(workers)]
    quick_deaths = 0
    try:
        while not received:
            time.sleep(0.2)
            for index, (process, started) in enumerate(running):
                if process.is_alive() or received:
                    continue
                quick_deaths = quick_deaths + 1 if time.monotonic() - started < QUICK_DEATH_SECONDS else 0
                if quick_deaths > MAX_QUICK_DEATHS:
                    log.error("server processes keep exiting at start; stopping")
                    status = 1
                    received.append(signal.SIGTERM)
                    break
                log.warning("server process %s exited (%s); starting another", process.pid, process.exitcode)
                running[index] = start()
    finally:
        _stop([process for process, _ in running], forward=signal.SIGINT not in received, options=options)
        reserved.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return status


def _stop(processes: list[BaseProcess], *, forward: bool, options: dict[str, Any]) -> None:
    """Ask each worker to shut down gracefully (a terminal's Ctrl-C reached them already), then make
    sure none outlives the supervisor."""
    if forward:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes its requests, then exits
    deadline = time.monotonic() + float(options.get("timeout_graceful_shutdown") or 5) + 5
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()
