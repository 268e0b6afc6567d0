"""Optimistic concurrency: the `version` field, the `ETag` header and `If-Match` (SPEC §1)."""

from typing import Annotated

from fastapi import Header, Response

from interop.errors import Conflict

IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="Write only if the object's ETag still matches"),
]


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
    candidates = {_strip(tag) for tag in if_match.split(",")}
    if "*" in candidates or str(current_version) in candidates:
        return
    raise Conflict(
        "concurrent_modification",
        f"If-Match {if_match} does not match the current version {etag(current_version)}",
        details={"current_version": current_version},
    )


def _strip(tag: str) -> str:
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag.strip('"')
