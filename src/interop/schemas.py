"""Envelopes and base models shared by every domain's schemas."""

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from interop.errors import InvalidRequest
from interop.paging import Paging

T = TypeVar("T")


class DataEnvelope(BaseModel, Generic[T]):
    data: T


class ListEnvelope(BaseModel, Generic[T]):
    data: list[T]
    paging: Paging


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str
    ext_message: str | None = None
    details: Any = None


class ErrorEnvelope(BaseModel):
    error: ErrorDetail


class InputModel(BaseModel):
    """A request body: strict types, unknown fields accepted and kept for the read-only check."""

    model_config = ConfigDict(strict=True, extra="allow")

    def reject_changed_read_only(self, read_only: dict[str, Any]) -> None:
        """`400 read_only_field` for a read-only field given a value other than the stored one.

        `read_only` maps each read-only field name to its stored value, rendered as JSON
        would render it (ids and times as strings).
        """
        extra = self.model_extra or {}
        changed = [
            name for name, stored in read_only.items() if name in extra and extra[name] != stored
        ]
        if changed:
            raise InvalidRequest(
                f"read-only field(s) cannot be changed: {', '.join(sorted(changed))}",
                details=[{"field": name, "message": "read-only"} for name in sorted(changed)],
                code="read_only_field",
            )
