"""The worker threads that run a request's blocking work (statements through the ORM and
psycopg, a Basic secret's deliberately slow hash, a platform's JWKS fetch), and the one call
that hands work to them.

Starlette's `run_in_threadpool` goes through anyio, which for every call looks up the running
async library, takes a capacity-limiter token, picks and prunes idle threads and opens a
shielded cancel scope: about twice the event loop's cost of `loop.run_in_executor` (eight calls
at once: ~90 against ~45 µs of CPU a call on the benchmark machine). A request on PostgreSQL
makes two such calls (its caller's lookup and its endpoint); an actor's GET in-process went
from 1.22 to 1.04 ms of CPU.
"""

import asyncio
import contextvars
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

# As many as anyio's default limiter allowed, and as many as the default connection pool
# (INTEROP_DATABASE_POOL_SIZE): one per request holding a connection.
REQUEST_THREADS = 40

P = ParamSpec("P")
T = TypeVar("T")


@contextmanager
def request_threads(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Make REQUEST_THREADS worker threads the loop's default executor while the app runs
    (the default would have min(32, cores + 4) of them)."""
    executor = ThreadPoolExecutor(REQUEST_THREADS, thread_name_prefix="interop-request")
    loop.set_default_executor(executor)
    try:
        yield
    finally:
        executor.shutdown(wait=False)


async def in_thread(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` in a worker thread, with the caller's context variables.

    A thread cannot be interrupted: if the awaiting task is cancelled, it still waits for the
    thread to finish before the cancellation goes on, so that the request's clean-up (its
    session's rollback) never runs while the thread is still using that session."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
    future = loop.run_in_executor(None, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise
