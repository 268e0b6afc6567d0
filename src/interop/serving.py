"""How a server process runs: the event loop and HTTP protocol `interop serve` gives uvicorn."""

import asyncio
import functools
import socket
import sys
from collections.abc import Callable
from typing import Any, Literal

import orjson
from fastapi import FastAPI
from httptools import HttpParserCallbackError, HttpParserError
from uvicorn import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from interop.app import create_app
from interop.config import DEFAULT_HEADER_TIMEOUT_SECONDS, DEFAULT_MAX_HEADER_BYTES, Settings
from interop.errors import error_body
from interop.logs import configure_logging

# uvicorn's import strings for the app factory and the protocol below.
APP_FACTORY = "interop.serving:create_served_app"
HTTP_PROTOCOL = "interop.serving:HttpProtocol"

# A lingering close (after an answer the client may still be sending into) reads on for at
# most this long and this much, discarding it, so that the client's sending ends and it reads
# the answer; nginx lingers up to 30 s, but one read of a slow client's last segments is enough.
LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024


def protocol_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for the protocol below: the class with the head's limits bound to it.
    uvicorn pickles its Config, this included, for every worker process of `interop serve
    --workers N`, where a Settings() per connection would cost more and a module-wide value
    would mix the servers a test process runs; uvicorn has no option of its own for either."""
    protocol = functools.partial(
        HttpProtocol,
        max_head_bytes=settings.max_header_bytes,
        header_timeout=settings.header_timeout_seconds,
    )
    return {"http": protocol}


def create_served_app() -> FastAPI:
    """The app of one `interop serve` process, its logging set up first. uvicorn starts each
    of `--workers N` processes afresh, which the CLI's own set-up does not reach: they wrote
    no access line and nothing at INFO, and their warnings and errors came out bare, never
    as JSON lines."""
    settings = Settings()
    configure_logging(settings)
    return create_app(settings)


def event_loop(settings: Settings) -> str:
    """The loop `interop serve` runs on. On SQLite every read runs on the loop, and uvloop
    serves a saturated loop's requests unevenly: an actor's GET at 32 connections had a p99 of
    830-900 ms on uvloop against 95-114 ms on asyncio, at the same requests/s (a bare Starlette
    endpoint burning the same 1.8 ms of CPU behaves alike). On PostgreSQL, where each request
    hands its queries to worker threads, uvloop's cheaper wake-ups win: 356-425 requests/s
    against 238-356 on asyncio, with similar p99s."""
    if settings.event_loop != "auto":
        return settings.event_loop
    return "asyncio" if settings.is_sqlite else "uvloop"


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop the parser on a head, or trailer fields, over
    the limit."""


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with Nagle's algorithm off on every connection, the
    requests its parser rejects answered in the API's error envelope, limits on the request
    head's size and time, and refusals the client can read.

    asyncio turns TCP_NODELAY on only for sockets whose `proto` is IPPROTO_TCP, and the
    listening socket uvicorn binds itself for several worker processes has proto 0: their
    connections kept Nagle's algorithm, and each response then waited for the client's delayed
    acknowledgement (40 ms on Linux).

    Neither uvicorn nor httptools limits the head: a 200 MB header was held whole (httptools
    joins a header's pieces until it ends) and answered. The head is measured as its URL and
    header lines (name, value and 4 bytes of ": " and CRLF), added up as the parser hands them
    over and checked once they are all there. While it is still arriving, the reads in which
    the parser handed nothing over (a header it is still joining) count too, so the connection
    is refused, 431 in the envelope, before the parser holds more than two reads (256 KiB
    each) past the limit. Each head is counted from its own start, so a body or the requests
    before a pipelined one do not count. A chunked body's trailer fields, which httptools
    joins alike, are held to the same limit and refused alike, 431 in the envelope, unless
    their request's own response has begun (below). Two warnings are logged when the parser
    is stopped (uvicorn's "Invalid HTTP request received." and the limit's).

    Nor did uvicorn time the head: its keep-alive timeout runs only between requests and
    stops at the first byte, and a fresh connection had none, so a connection sending
    nothing, or a head a line every few seconds, was held for ever. Each head must now
    arrive within `header_timeout` of the connection's start or the previous response's end
    (one timer, cancelled when the head is complete); past it, a begun head is answered 408
    and a connection without one is closed silently, as uvicorn closes an idle kept-alive
    one.

    A refusal (400, 408, 431) often comes while the client is still sending: closing a socket
    with data unread makes the kernel reset the connection, and the client, still writing,
    lost the answer. The write side is shut down after the answer instead, and what arrives
    is discarded, never parsed nor held, until the client closes, LINGER_BYTES have come or
    LINGER_SECONDS have passed.

    Responses must go out in their requests' order (RFC 9112 §9.3.2), and a client that
    pipelines a valid request and one refused read the refusal, written at once, as the first
    one's answer, whose own was then dropped. A refusal now waits until every request before
    it on the connection is answered; meanwhile nothing more is parsed, and what arrives is
    discarded as in the lingering close (counting towards LINGER_BYTES). A request refused for
    its chunked body (a chunk size, trailer fields) after its own response began gets no
    refusal at all: that response goes on and the connection closes after it
    (close_after_own_response)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        max_head_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_head_bytes = max_head_bytes
        self.header_timeout = header_timeout
        self.deadline: asyncio.TimerHandle | None = None  # the head's, then the lingering's
        self.discarded: int | None = None  # bytes read since a refusal, once there was one
        self.head_open = False  # between the parser's message begin and headers complete
        self.head_bytes = 0  # of the head handed over so far; then of its trailer fields
        self.handed_over = False  # the parser handed something over during this read
        self.unparsed = 0  # bytes of the reads since it last did
        self.refusal: bytes | None = None  # written once the requests before it are answered

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self.await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.discarded is not None:  # lingering; the client's closing ends it sooner
            self.discarded += len(data)
            if self.discarded > LINGER_BYTES:
                self.transport.abort()
            return
        super().data_received(data)
        if self.discarded is not None:
            return  # answered: the parser stopped on an error of its own
        if self.handed_over:
            # Where in this read the parser last handed over is unknown: counting from the
            # read's end errs towards serving, by less than one read.
            self.handed_over = False
            self.unparsed = 0
        else:
            self.unparsed += len(data)
        if self.head_bytes + self.unparsed > self.max_head_bytes:
            self.too_large()

    def too_large(self) -> None:
        if self.head_open:
            self.refuse_head()
        else:
            self.refuse_trailer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_open = self.handed_over = True
        self.head_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self.head_bytes += len(url)
        self.handed_over = True

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self.head_bytes += len(name) + len(value) + 4
        self.handed_over = True

    def on_headers_complete(self) -> None:
        if self.head_bytes > self.max_head_bytes:
            raise HeadTooLarge  # uvicorn answers through send_400_response, below
        self.head_open = False
        self.head_bytes = 0  # trailer fields, if any, count from here
        self.cancel_deadline()
        super().on_headers_complete()
        if self.parser.should_upgrade() and not self._should_upgrade():
            # An upgrade we do not make (`Upgrade: h2c`, which `curl --http2` sends over
            # plain HTTP) is answered as HTTP/1.1; the parser reads nothing more once it has
            # seen one, so the connection closes after the answer, where the client's next
            # request on it waited for ever.
            self.cycle.keep_alive = False

    def on_body(self, body: bytes) -> None:
        self.handed_over = True
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self.head_bytes > self.max_head_bytes:
            # Trailer fields over the limit that ended before the reads' count passed it:
            # refused before the app is told the body is complete.
            raise HeadTooLarge  # answered through send_400_response, below
        self.handed_over = True
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.timeout_keep_alive_task is None:
            return  # a queued request is being served next, or the connection is closing
        # uvicorn waits for the next request: no request before it is left unanswered.
        if self.refusal is not None:
            self.send_refusal()
        else:
            self.await_head()

    def await_head(self) -> None:
        self.cancel_deadline()
        self.deadline = self.loop.call_later(self.header_timeout, self.head_timed_out)

    def cancel_deadline(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def head_timed_out(self) -> None:
        self.deadline = None
        if not self.head_open:
            # No request begun: answering one could cross a request the client is sending
            # on a connection it holds ready, which it would then read as that one's answer.
            self.transport.close()
            return
        self.logger.warning("Request head not complete within %g s: 408.", self.header_timeout)
        message = f"the request's head did not arrive within {self.header_timeout:g} seconds"
        self.answer_and_close(408, "request_timeout", message)

    def send_400_response(self, msg: str) -> None:
        """A request the parser rejects (a malformed request line, header or chunk size) gets
        `400 invalid_request` in the envelope, naming the parser's reason, where uvicorn wrote
        plain text ("Invalid HTTP request received."). The parser's place in the stream is
        lost, so the connection still closes. uvicorn calls this from the `except` clause that
        caught the parser's error, which is where the reason comes from."""
        error = _callback_error(sys.exception())
        if isinstance(error, HeadTooLarge):
            self.too_large()
            return
        reason = str(error) if isinstance(error, HttpParserError) else None
        message = "the request is not valid HTTP" + (f": {reason}" if reason else "")
        self.answer_and_close(400, "invalid_request", message)

    def refuse_head(self) -> None:
        self.logger.warning("Request head over %d bytes refused.", self.max_head_bytes)
        message = f"the request's URL and headers exceed {self.max_head_bytes} bytes"
        self.answer_and_close(431, "request_header_fields_too_large", message)

    def refuse_trailer(self) -> None:
        self.logger.warning("Trailer fields over %d bytes refused.", self.max_head_bytes)
        message = f"the request's trailer fields exceed {self.max_head_bytes} bytes"
        self.answer_and_close(431, "request_header_fields_too_large", message)

    def answer_and_close(self, status: int, code: str, message: str) -> None:
        """The error envelope, then the connection closes, lingering: the parser cannot go
        on. The answer waits while a request before the refused one is unanswered."""
        self.cancel_deadline()
        self.discarded = 0  # what arrives from now on is discarded, never parsed
        if self.body_failed() and self.cycle.response_started:
            self.close_after_own_response()
        else:
            self.refusal = self.envelope(status, code, message)
        if not self.waits_for_earlier_answers():
            self.send_refusal()

    def envelope(self, status: int, code: str, message: str) -> bytes:
        body = orjson.dumps(error_body(status, code, message))
        head = [STATUS_LINE[status]]
        head.extend(
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        )
        head.append(b"content-type: application/json\r\n")
        head.append(b"content-length: %d\r\n" % len(body))
        head.append(b"connection: close\r\n\r\n")
        return b"".join(head) + body

    def body_failed(self) -> bool:
        """Whether the refused request is self.cycle, the last whose head was complete, its
        chunked body having failed: no later head has begun, and the body never ended
        (uvicorn's more_body, which also stays set once the response ended first)."""
        return not self.head_open and self.cycle is not None and self.cycle.more_body

    def close_after_own_response(self) -> None:
        """The refused request's body failed after its own response began: the app answered
        without reading all of it, or streams a long answer. A refusal would be written into
        that response, corrupting it, or after it, where the client reads it as the answer to
        its next request, which the server never parsed; closed without one, the connection
        leaves that request unanswered, for the client to retry (RFC 9112 §9.3.2). So nothing
        is written (the refusal is empty): the response goes on, the client receiving it
        whole, and the connection closes after it, lingering. An app that asks for more of
        the body, which will never come, could never finish: it is told the client is gone
        (`http.disconnect`, its further sends dropped) and the connection closes then,
        cutting the response short, which the client sees from the response's own framing.
        Starlette's streaming and file responses, which listen for `http.disconnect` while
        they send, are cut so too."""
        self.refusal = b""
        cycle = self.cycle
        if cycle.response_complete:
            return
        waited = cycle.message_event
        cycle.message_event = _BodyCutOff(self.cut_off)
        if waited.is_set():  # body handed over that the app has yet to receive
            cycle.message_event.set()
        waited.set()  # an app waiting for body receives what there is; asking again, is cut off

    def cut_off(self) -> None:
        """The app waits for body its request will never send: disconnected (linger)."""
        self.refusal = None
        self.linger()

    def waits_for_earlier_answers(self) -> bool:
        """Whether the refusal waits for a request before the refused one, still unanswered;
        on_response_complete then sends it after the last of them. uvicorn serves a
        connection's requests one at a time, queueing those pipelined behind (self.pipeline,
        newest first), and self.cycle is the last whose head was complete: the requests
        before it are answered once it is. When the refused request is self.cycle itself
        (its body failed), still queued, it is taken out of the queue, never to be served;
        being served, it is the one answered (linger), unless its own response has begun,
        which goes on to its end first (close_after_own_response)."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return False
        if not self.body_failed():
            return True  # the refused request came after self.cycle, whose body is all in
        if cycle.response_started:
            return True  # the refused request's own response, which goes on to its end
        if self.pipeline and self.pipeline[0][0] is cycle:
            self.pipeline.popleft()
            return True
        return False

    def send_refusal(self) -> None:
        assert self.refusal is not None
        if self.refusal:  # empty after the refused request's own response
            self.transport.write(self.refusal)
        self.refusal = None
        self.linger()

    def linger(self) -> None:
        """Shut the write side, once the answer is out, and discard what still arrives
        for a bounded time (nginx's lingering close). The requests before the refused one
        are answered by now; the refused one, if its body failed while it was served, is
        treated as disconnected, as on a closed connection: its answer could no longer be
        written, and the refusal has said the connection's last word."""
        self._unset_keepalive_if_required()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        if not self.transport.can_write_eof():  # TLS: it cannot half-close
            self.transport.close()
            return
        self.transport.write_eof()
        self.flow.resume_reading()  # paused for a pipelined request, it would drain nothing
        self.deadline = self.loop.call_later(LINGER_SECONDS, self.transport.abort)


class _BodyCutOff(asyncio.Event):
    """The message event of a request whose body failed while its response was under way
    (HttpProtocol.close_after_own_response). uvicorn's receive() waits on it for more body:
    set, it hands over what had arrived; unset, that body will never come, and `cut_off`
    disconnects the request, so receive() answers `http.disconnect`."""

    def __init__(self, cut_off: Callable[[], None]) -> None:
        super().__init__()
        self.cut_off = cut_off

    async def wait(self) -> Literal[True]:
        if not self.is_set():
            self.cut_off()
        return True


def _callback_error(error: BaseException | None) -> BaseException | None:
    """What stopped httptools: the parser's own error, or what a callback raised, which
    arrives wrapped as "User callback error" (a URL only uvicorn's callback fails to parse,
    `GET http://[::1 HTTP/1.1`; a head over the limit)."""
    if isinstance(error, HttpParserCallbackError):
        return error.__context__
    return error
