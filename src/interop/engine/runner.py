"""Runs the scheduler and workers as threads: inside `interop serve`, or alone in
`interop worker` for scale-out."""

import logging
import threading
from collections.abc import Callable

from interop.config import Settings
from interop.db import Database
from interop.engine import scheduler
from interop.engine.worker import STOP_GRACE_SECONDS, Worker

log = logging.getLogger("interop.engine")


class Engine:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Threads that ended unasked (raised, or returned before a stop), by name.
        self.died: list[str] = []

    def start(self, workers: int = 1, run_scheduler: bool = True) -> None:
        if run_scheduler:
            self._spawn(self._schedule_forever, "interop-scheduler")
        for number in range(workers):
            worker = Worker(self.database, self.settings, stop=self._stop)
            self._spawn(worker.run_forever, f"interop-worker-{number}")
        log.info("engine started: scheduler=%s, workers=%d", run_scheduler, workers)

    def stop(self, timeout: float = STOP_GRACE_SECONDS) -> None:
        """Ask every thread to stop after its current batch (a running ingestion goes back to
        the queue for the next worker, through a database outage of up to HAND_BACK_SECONDS),
        and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout)

    def wait(self) -> None:
        """Until every thread has ended, or one has died (`died`): waiting on the others, a
        process whose worker had died went on looking alive, running nothing."""
        for thread in self._threads:
            while thread.is_alive() and not self.died:
                thread.join(timeout=0.5)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=self._run, args=(target, name), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _run(self, target: Callable[[], None], name: str) -> None:
        # Python's thread hook printed a dying thread's traceback to stderr, past the logs,
        # and `interop worker` exited 0 once its threads were gone, as if stopped.
        try:
            target()
        except Exception:
            log.exception("engine thread %s died", name)
        else:
            if self._stop.is_set():
                return
            log.error("engine thread %s ended before it was stopped", name)
        self.died.append(name)

    def _schedule_forever(self) -> None:
        while not self._stop.is_set():
            try:
                scheduler.tick(self.database)
            except Exception:  # keep scheduling through a database outage
                log.exception("scheduler tick failed; retrying")
            self._stop.wait(self.settings.scheduler_interval_seconds)
