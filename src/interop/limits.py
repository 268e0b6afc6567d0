"""Request limits enforced before any endpoint runs: body size (413), content type (415), no
U+0000 in the URL (400), and the nesting depth of a JSON body (400, as the body is parsed)."""

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from starlette.exceptions import HTTPException

from interop.errors import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The deepest a JSON body may nest arrays and objects, the body itself counting as the first
# level. Real bodies nest a few levels. Deeper values used to be stored unchecked: pydantic
# cannot serialise a value nested past about 255 levels (each later read of it was a 500) and
# the JSON encoder that stores one hits Python's recursion limit near 1000, below orjson's
# parse limit of 1024. The same depth as blueprints' (integrations/blueprint.py).
MAX_JSON_DEPTH = 64
# A string (escapes included) or a bracket: scanned in valid JSON, every bracket found is
# structural.
_STRING_OR_BRACKET = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_TYPES = frozenset({"application/json"})
# Routes that take something other than JSON; they check their own content type.
NON_JSON_ROUTES = (
    re.compile(r"^/oauth/token/?$"),
    re.compile(r"^/v2/interop/integrations/[^/]+/versions/?$"),
    re.compile(r"^/v2/interop/integrations/[^/]+/versions/[^/]+/blueprint/?$"),
)


def _url_part_holding_nul(scope: Scope) -> str | None:
    if "\x00" in scope["path"]:
        return "path"
    if b"%00" in scope["query_string"]:
        return "query"
    return None


def json_nesting_error(body: bytes, document: Any) -> json.JSONDecodeError | None:
    """The parse error for `document` (parsed from `body`) when it nests deeper than
    MAX_JSON_DEPTH, naming where its first too-deep array or object opens; else None."""
    if not _nests_too_deep(document):
        return None
    text = body.decode("utf-8")  # orjson parsed it, so it is valid UTF-8
    position = len(body[: _too_deep_offset(body)].decode("utf-8"))
    return json.JSONDecodeError(
        f"arrays and objects nest deeper than {MAX_JSON_DEPTH} levels", text, position
    )


def _nests_too_deep(document: Any) -> bool:
    # One level at a time, not recursively: Python's recursion limit is below orjson's.
    level = [document]
    for _ in range(MAX_JSON_DEPTH + 1):
        containers = [value for value in level if isinstance(value, dict | list)]
        if not containers:
            return False
        level = [
            child
            for container in containers
            for child in (container.values() if isinstance(container, dict) else container)
        ]
    return True


def _too_deep_offset(body: bytes) -> int:
    """The byte offset of the first bracket that opens a level past MAX_JSON_DEPTH. Run only
    on a body found too deep: walking the parsed document is faster where all are fine."""
    depth = 0
    for token in _STRING_OR_BRACKET.finditer(body):
        mark = token[0][:1]
        if mark in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return token.start()
        elif mark != b'"':
            depth -= 1
    return 0


class RequestLimits:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        part = _url_part_holding_nul(scope) if scope["type"] == "http" else None
        if part is not None:
            # No id, name or filter holds one, and PostgreSQL cannot compare one: refused
            # here, naming where, rather than as a value "that cannot be stored".
            message = f"the {part} holds the NUL character (%00), which no value here contains"
            details = [{"field": part, "message": "contains U+0000"}]
            await self._refuse(send, 400, "invalid_request", message, details)
            return
        if scope["type"] == "http" and scope["method"] in WRITE_METHODS:
            headers = {key.lower(): value for key, value in scope["headers"]}
            declared = headers.get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._refuse(send, 413, "request_too_large", self._too_large())
                return
            if not self._content_type_ok(scope["path"], headers):
                await self._refuse(
                    send, 415, "unsupported_media_type", "send the body as application/json"
                )
                return
            receive = self._counting(receive)
        await self.app(scope, receive, send)

    def _counting(self, receive: Receive) -> Receive:
        """Count a streamed (chunked) body too, so no missing length can dodge the limit.

        The 413 is raised as an HTTPException from inside the app, where FastAPI passes it
        to the error handlers (any other exception would become a 400 "cannot parse").
        """
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise HTTPException(413, self._too_large())
            return message

        return limited_receive

    def _too_large(self) -> str:
        return f"the request body exceeds {self.max_body_bytes} bytes"

    def _content_type_ok(self, path: str, headers: dict[bytes, bytes]) -> bool:
        # Without a body (a DELETE, a run) the type names nothing: any, or none, is fine.
        has_body = headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers
        if not has_body or any(route.match(path) for route in NON_JSON_ROUTES):
            return True
        content_type = headers.get(b"content-type")
        if content_type is None:
            return False
        media_type = content_type.split(b";")[0].strip().lower().decode("latin-1")
        return media_type in JSON_TYPES or media_type.endswith("+json")

    @staticmethod
    async def _refuse(
        send: Send, status: int, code: str, message: str, details: Any = None
    ) -> None:
        body = orjson.dumps(error_body(status, code, message, details))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
