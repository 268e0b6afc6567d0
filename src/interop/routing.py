"""The route class every API router uses: a synchronous endpoint costs one worker-thread round
trip, not two.

FastAPI runs a synchronous endpoint in a worker thread, then validates its return value
against the response model in a second worker-thread call. Wrapping the endpoint in a
coroutine that makes the one threadpool call itself lets FastAPI treat it as asynchronous and
validate on the event loop, where that validation (CPU only, no I/O) would hold the GIL
anyway. Measured on an actor's GET with 32 connections: 542/559 -> 614/662 requests/s.
"""

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


class InteropRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_worker_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)


def in_worker_thread(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` as a coroutine running it in the threadpool. `functools.wraps` copies its
    annotations and sets `__wrapped__`, through which FastAPI reads the parameters, the
    response model and the module globals that resolve them."""

    @functools.wraps(function)
    async def endpoint(*args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(function, *args, **kwargs)

    return endpoint
