"""The worker threads requests hand their blocking work to (`interop.threads`)."""

import asyncio
import contextvars
import threading
import time

import pytest

from interop.threads import REQUEST_THREADS, in_thread, request_threads

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


def test_the_function_runs_in_another_thread_with_the_callers_context() -> None:
    async def call() -> tuple[int, str]:
        REQUEST_ID.set("request-1")
        return await in_thread(lambda: (threading.get_ident(), REQUEST_ID.get()))

    thread, request_id = asyncio.run(call())
    assert thread != threading.get_ident()
    assert request_id == "request-1"


def test_the_functions_exception_reaches_the_caller() -> None:
    def fail() -> None:
        raise LookupError("no such caller")

    with pytest.raises(LookupError, match="no such caller"):
        asyncio.run(in_thread(fail))


def test_a_cancelled_caller_goes_on_only_once_its_thread_has_finished() -> None:
    """The request's clean-up (rolling its session back) must not run while the thread still
    uses that session."""
    started, finished = threading.Event(), threading.Event()

    def statement() -> None:
        started.set()
        time.sleep(0.3)
        finished.set()

    async def cancel_mid_call() -> bool:
        task = asyncio.create_task(in_thread(statement))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return finished.is_set()

    assert asyncio.run(cancel_mid_call())


def test_the_app_runs_request_threads_calls_at_once() -> None:
    """Every one of them waits at a barrier for all the others: with fewer threads (the
    loop's default executor has min(32, cores + 4)) the barrier times out."""

    async def fill_every_thread() -> None:
        with request_threads(asyncio.get_running_loop()):
            barrier = threading.Barrier(REQUEST_THREADS, timeout=10)
            await asyncio.gather(*(in_thread(barrier.wait) for _ in range(REQUEST_THREADS)))

    asyncio.run(fill_every_thread())


def test_keyword_arguments_may_have_any_name() -> None:
    """An endpoint's parameters reach it as keywords, whatever they are called."""

    def endpoint(function: str, **others: str) -> str:
        return function + "".join(others.values())

    assert asyncio.run(in_thread(endpoint, function="a", args="b", kwargs="c")) == "abc"
