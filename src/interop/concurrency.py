"""Optimistic concurrency: the `version` field, the `ETag` header and `If-Match` (SPEC §1)."""

from typing import Annotated

from fastapi import Depends, Header, Response

from interop.errors import Conflict


async def _every_if_match(
    values: Annotated[
        list[str] | None,
        Header(
            alias="If-Match",
            description="Write only if the object's ETag still matches one of these "
            "(a comma-separated list, or the header repeated; `*`: any)",
        ),
    ] = None,
) -> str | None:
    """Every If-Match header as one list: RFC 9110 §5.3 lets a list be split across
    repeated headers, and reading only the first refused a write that a later one allowed.
    (async: FastAPI would run a plain function in a worker thread, a hop per request.)"""
    return ", ".join(values) if values else None


# The request's If-Match values, comma-separated, or None without the header.
IfMatch = Annotated[str | None, Depends(_every_if_match)]


def etag(version: int) -> str:
    return f'"{version}"'


def changed(version: int) -> Response:
    """The `204` of a write that answers no body: the object's new ETag, so that the next
    write can send it as If-Match without reading the object again."""
    return Response(status_code=204, headers={"ETag": etag(version)})


def check_if_match(if_match: str | None, current_version: int) -> None:
    """Refuse a write whose `If-Match` names a version other than the stored one.

    Call it after the row was read inside the write transaction (locked), so the check and
    the write are atomic. Without `If-Match` the write is last-writer-wins.
    """
    if if_match is None:
        return
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" in tags or str(current_version) in map(_opaque, tags):
        return
    raise Conflict(
        "concurrent_modification",
        f"If-Match {if_match} does not match the current version {etag(current_version)}",
        details={"current_version": current_version},
    )


def _opaque(tag: str) -> str | None:
    """The version an entity tag names: `"3"`, `W/"3"` or a bare `3` (clients that drop the
    quotes). None for a malformed tag (`"3`, `W/3`), which matches no version rather than the
    one it resembles; `"*"` is an ordinary tag, and only a bare `*` is the wildcard."""
    weak = tag.startswith("W/")
    if weak:
        tag = tag[2:]
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        inner = tag[1:-1]
        return None if '"' in inner else inner
    return None if weak or '"' in tag else tag
