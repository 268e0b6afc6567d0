"""Envelopes and base models shared by every domain's schemas."""

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from interop.errors import InvalidRequest

T = TypeVar("T")

# An id is a UUID written 8-4-4-4-12 (SPEC §1), hex digits of either case being the same
# UUID (RFC 9562 §4). uuid.UUID, and pydantic's UUID type, also read `{…}`, `urn:uuid:…`,
# 32 digits without hyphens and (uuid.UUID) hyphens anywhere, so other spellings of an id
# were served as if canonical.
UUID_DIGITS = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_UUID_TEXT = re.compile(UUID_DIGITS)
UUID_MESSAGE = "must be a UUID written 8-4-4-4-12, such as 0b9e4b1a-8c4e-4f7e-9a36-3d1f2c5b6a70"


def parse_uuid(text: str) -> uuid.UUID:
    """`text` as a UUID, if it is written the one way an id is; ValueError otherwise."""
    if not _UUID_TEXT.fullmatch(text):
        raise ValueError(UUID_MESSAGE)
    return uuid.UUID(text)


def _uuid_text(value: Any) -> Any:
    if isinstance(value, str):
        parse_uuid(value)
    return value  # a uuid.UUID (from code, not a request) is one already


# Every UUID path and query parameter, and (as JsonUUID) body field: another spelling is a
# 400 naming it. The OpenAPI document keeps `format: uuid` and adds the rule as a `pattern`.
HyphenatedUUID = Annotated[
    uuid.UUID,
    BeforeValidator(_uuid_text),
    Field(json_schema_extra={"pattern": f"^{UUID_DIGITS}$"}),
]

# Input models are strict (no "5" for 5), but JSON has no UUID or time type: these two
# are parsed from their string forms. Times must carry an offset (RFC 3339).
JsonUUID = Annotated[HyphenatedUUID, Field(strict=False)]
# Lax parsing alone also reads a number, or a string of one ("0.0"), as Unix time, which the
# document does not allow (the stateful fuzzer found `changed_since=0.0` accepted).
_RFC3339_START = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")
# RFC 3339 §5.6's date-time (a space for the T, as its note allows): pydantic alone also read
# a time without seconds (`2026-01-01T00:00Z`) or with a decimal comma (`00:00:00,5Z`).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")


def _rfc3339_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("expected an RFC 3339 date-time such as 2026-01-31T08:00:00Z")
    return value


def _in_utc(value: datetime) -> datetime:
    """The same instant in UTC: stored and answered that way, whatever offset was sent."""
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise ValueError("the time lies outside years 1 to 9999 once converted to UTC") from exc


JsonDateTime = Annotated[
    AwareDatetime,
    Field(strict=False),
    BeforeValidator(_rfc3339_text),
    AfterValidator(_in_utc),
]


def _integral_number(value: Any) -> Any:
    """JSON Schema counts `1.0` as an integer, and so do we; `1.5` and `"1"` stay invalid."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_integral_number)]

# A name or identifier made only of whitespace ("   ") names nothing anyone can tell apart.
# The whitespace class is Python's (what str.strip removes), spelled out so that the pattern
# the OpenAPI document publishes means the same in every regex dialect (ECMA's \s differs).
WHITESPACE_CLASS = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK_PATTERN = f"[^{WHITESPACE_CLASS}]"
_NOT_BLANK = re.compile(NOT_BLANK_PATTERN)
BLANK_MESSAGE = "must not be empty or only whitespace"


def is_blank(text: str) -> bool:
    """Whether `text` is empty once stripped (for checks outside a request model: the CLI)."""
    return _NOT_BLANK.search(text) is None


def _not_blank(value: str) -> str:
    if is_blank(value):
        raise ValueError(BLANK_MESSAGE)
    return value  # kept as sent: only a value with no content is refused


# Every required name or identifier of a request body: a 400 naming the field when blank.
NonBlank = Annotated[
    str, AfterValidator(_not_blank), Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN})
]


def split_filter(values: list[str]) -> list[str]:
    """A list filter's values: the parameter may be repeated, each value comma-separated."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def uuid_filter(values: list[str], field: str) -> list[uuid.UUID]:
    """A list filter of ids (`split_filter`): a `400` naming `query.<field>` for one that is
    not a UUID written 8-4-4-4-12."""
    try:
        return [parse_uuid(value) for value in split_filter(values)]
    except ValueError as exc:
        raise InvalidRequest(
            f"{field} must be UUIDs written 8-4-4-4-12",
            details=[{"field": f"query.{field}", "message": UUID_MESSAGE}],
        ) from exc


# A list filter of ids (`?accounts=A&accounts=B`, `?accounts=A,B`): the pattern publishes
# what `uuid_filter` accepts, comma-separated ids with whitespace around them, so that a
# client (or the schema fuzzer) knows that any other value is a 400.
_SPACES = f"[{WHITESPACE_CLASS}]*"
_LISTED_UUID = f"{_SPACES}(?:{UUID_DIGITS}{_SPACES})?"
UUIDFilter = list[
    Annotated[str, Field(json_schema_extra={"pattern": f"^{_LISTED_UUID}(?:,{_LISTED_UUID})*$"})]
]


class DataEnvelope(BaseModel, Generic[T]):
    data: T


class Paging(BaseModel):
    """A list's place (SPEC §1): its page, and the relative links to the pages around it."""

    page: int
    page_size: int
    next: str | None
    prev: str | None


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

    def reject_changed_read_only(self, stored: BaseModel) -> None:
        """`400 read_only_field` for a field of the stored object that this body cannot write
        (any field of its answer this model does not declare: ids, times, `version`, derived
        values) given a value other than the stored one.

        `stored` is the object as the API answers it, so that a client may send back what it
        read: an id in another case or a time in another offset is the same value.
        """
        extra = self.model_extra or {}
        if not extra:
            return
        current = stored.model_dump(mode="json")
        changed = sorted(
            name
            for name, given in extra.items()
            if name in current and not _same_json_value(given, current[name])
        )
        if changed:
            raise InvalidRequest(
                f"read-only field(s) cannot be changed: {', '.join(changed)}",
                details=[{"field": f"body.{name}", "message": "read-only"} for name in changed],
                code="read_only_field",
            )


def _same_json_value(given: Any, stored: Any) -> bool:
    if isinstance(given, bool) or isinstance(stored, bool):
        return given is stored  # True == 1 in Python, not in JSON
    if isinstance(given, dict) and isinstance(stored, dict):
        return given.keys() == stored.keys() and all(
            _same_json_value(given[key], stored[key]) for key in given
        )
    if isinstance(given, list) and isinstance(stored, list):
        return len(given) == len(stored) and all(map(_same_json_value, given, stored))
    if isinstance(given, str) and isinstance(stored, str) and given != stored:
        value = _parsed_text(given)
        return value is not None and value == _parsed_text(stored)
    return bool(given == stored)


def _parsed_text(text: str) -> uuid.UUID | datetime | None:
    """A string's value as a UUID or an RFC 3339 time; None for any other string."""
    try:
        return parse_uuid(text)
    except ValueError:
        pass
    if not _RFC3339_START.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
