"""OneRoster 1.1 CSV bulk bundles: what each file must hold, and reading it row by row.

Reading streams one file at a time through `csv`; nothing holds a whole file. A row comes out
as a `SourceRow` with the OneRoster fields in snake_case (references as `*_sourced_id`, lists
as arrays, booleans as booleans) and the physical line it started on, for error reports.
"""

import csv
import functools
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from interop.connectors.bundle import Bundle, BundleError
from interop.roster.models import MAX_SOURCED_ID_LENGTH

SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2")
STATUSES = ("active", "tobedeleted")
# Large values are legal (descriptions, quoted lists) but a field of megabytes is not a roster.
csv.field_size_limit(1024 * 1024)


@dataclass(frozen=True, eq=False)
class TopicSpec:
    """One OneRoster file: its topic name in our API and the rules its rows follow."""

    topic: str
    file: str
    required: tuple[str, ...]
    lists: tuple[str, ...] = ()
    booleans: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    # column -> the topic its values must name (checked against the whole bundle)
    references: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def typed(self) -> frozenset[str]:
        """Columns whose values are more than a string."""
        return frozenset(self.lists + self.booleans + self.dates)

    @functools.cached_property
    def converters(self) -> dict[str, Callable[[str], Any]]:
        """How a typed column's cell becomes the value stored, by the column's field name."""
        return {snake_case(column): _converter(self, column) for column in self.typed}


ORGS = TopicSpec(
    "orgs", "orgs.csv", ("sourcedId", "name", "type"), references={"parentSourcedId": "orgs"}
)
ACADEMIC_SESSIONS = TopicSpec(
    "academic_sessions",
    "academicSessions.csv",
    ("sourcedId", "title", "type", "startDate", "endDate"),
    dates=("startDate", "endDate"),
    references={"parentSourcedId": "academic_sessions"},
)
COURSES = TopicSpec(
    "courses",
    "courses.csv",
    ("sourcedId", "title", "orgSourcedId"),
    lists=("grades", "subjects", "subjectCodes"),
    # Not schoolYearSourcedId: exports name school years they do not list (OneRoster's own
    # minimal example puts titles there), and nothing refers to it (docs/API.md).
    references={"orgSourcedId": "orgs"},
)
CLASSES = TopicSpec(
    "classes",
    "classes.csv",
    ("sourcedId", "title", "courseSourcedId", "schoolSourcedId", "termSourcedIds"),
    lists=("grades", "termSourcedIds", "subjects", "subjectCodes", "periods"),
    references={
        "courseSourcedId": "courses",
        "schoolSourcedId": "orgs",
        "termSourcedIds": "academic_sessions",
    },
)
ENROLLMENTS = TopicSpec(
    "enrollments",
    "enrollments.csv",
    ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
    booleans=("primary",),
    dates=("beginDate", "endDate"),
    references={"classSourcedId": "classes", "schoolSourcedId": "orgs", "userSourcedId": "users"},
)
USERS = TopicSpec(
    "users",
    "users.csv",
    ("sourcedId", "orgSourcedIds", "role", "username", "givenName", "familyName"),
    lists=("orgSourcedIds", "userIds", "agentSourcedIds", "grades"),
    booleans=("enabledUser",),
    references={"orgSourcedIds": "orgs", "agentSourcedIds": "users"},
)
DEMOGRAPHICS = TopicSpec(
    "demographics",
    "demographics.csv",
    ("sourcedId",),
    booleans=(
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
    ),
    dates=("birthDate",),
    references={"sourcedId": "users"},
)
# Reading order: a file's references point only at files read before it, except users'
# agents (users) and enrollments' users, which the planning pass indexes first.
SPECS: tuple[TopicSpec, ...] = (
    ORGS,
    ACADEMIC_SESSIONS,
    COURSES,
    CLASSES,
    ENROLLMENTS,
    USERS,
    DEMOGRAPHICS,
)
SPEC_BY_TOPIC = {spec.topic: spec for spec in SPECS}
# Never copied into the repository: OneRoster carries passwords in users.csv.
DROPPED_COLUMNS = frozenset({"password"})
# 1.2 renamed a few columns; reading them under their 1.1 names is cheap.
COLUMN_ALIASES = {"preferredFirstName": "preferredGivenName"}


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which cost 8 %
# of parsing a bundle (one SourceRow per row). Nothing changes a row after it is parsed.
@dataclass(slots=True)
class SourceRow:
    line: int
    sourced_id: str
    status: str
    date_last_modified: datetime | None
    fields: dict[str, Any]


class RowError(ValueError):
    """A row that breaks a rule; the ingestion rejects it and goes on.

    `readable` is what could still be read of the row when its sourcedId could: the values
    that parse, never written, but enough to place the row in scope and keep its record.
    """

    def __init__(self, message: str, sourced_id: str | None = None) -> None:
        super().__init__(message)
        self.sourced_id = sourced_id
        self.readable: SourceRow | None = None


@functools.cache  # a handful of column names, asked for on every row
def snake_case(column: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", column).lower()


def read_manifest(bundle: Bundle) -> dict[str, str]:
    """The manifest's properties; the files it says are `bulk` must be present, and those it
    says are `absent` are set aside (modes in any case; another mode is a `BundleError`). A
    file the manifest does not name is read when the bundle holds it."""
    if not bundle.has("manifest.csv"):
        raise BundleError("manifest_missing", "the bundle has no manifest.csv")
    with bundle.open_text("manifest.csv") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
            if header is None or [h.strip() for h in header[:2]] != ["propertyName", "value"]:
                raise BundleError(
                    "invalid_header", "manifest.csv must start with `propertyName,value`"
                )
            properties = {row[0].strip(): row[1].strip() for row in reader if len(row) >= 2}
        except csv.Error as exc:
            raise BundleError("invalid_csv", f"manifest.csv: {exc}") from exc
    version = properties.get("oneroster.version", "")
    if version not in SUPPORTED_VERSIONS:
        raise BundleError(
            "unsupported_version",
            f"manifest.csv declares oneroster.version {version or '(none)'}; "
            f"supported: {', '.join(SUPPORTED_VERSIONS)}",
        )
    for spec in SPECS:
        key = f"file.{spec.file.removesuffix('.csv')}"
        declared = properties.get(key, "")  # not named, or empty: read when present
        mode = declared.lower()
        if mode == "bulk":
            if not bundle.has(spec.file):
                raise BundleError(
                    "file_missing",
                    f"manifest.csv lists {spec.file} as bulk but the bundle lacks it",
                )
        elif mode == "absent":
            # A file the export says it does not supply is a leftover, whatever it holds:
            # read, it would delete every record of its topic it does not list.
            bundle.set_aside(spec.file)
        elif mode == "delta":
            raise BundleError(
                "unsupported_mode", f"{spec.file} is a delta file; only bulk bundles are read"
            )
        elif mode:
            # Never guessed: a delta file read as bulk deletes what it does not list.
            raise BundleError(
                "unsupported_mode",
                f"manifest.csv gives {key} as {quoted(declared)}; a file is bulk, delta or absent",
            )
    return properties


def iter_rows(bundle: Bundle, spec: TopicSpec) -> Iterator[SourceRow | tuple[int, RowError]]:
    """Every data row of the spec's file: a `SourceRow`, or `(line, error)` for a bad row.

    A missing file yields nothing (the manifest decided it may be absent). A header without a
    required column, or CSV that cannot be tokenized, is a `BundleError`: nothing after it can
    be trusted.
    """
    for layout, line, values in _data_lines(bundle, spec):
        parsed = layout.row(values, line)
        if parsed is not None:
            yield parsed


def iter_lines(bundle: Bundle, spec: TopicSpec) -> Iterator[int]:
    """The line of each data row of the spec's file, its rows not parsed: the `BundleError`s
    of `iter_rows` (header, CSV, encoding) at a quarter of its cost."""
    for _, line, _ in _data_lines(bundle, spec):
        yield line


def _data_lines(bundle: Bundle, spec: TopicSpec) -> Iterator[tuple["_Layout", int, list[str]]]:
    """The file's layout, and each non-empty line's number and values, as tokenized."""
    if not bundle.has(spec.file):
        return
    with bundle.open_text(spec.file) as handle:
        reader = csv.reader(handle, strict=True)
        try:
            layout = _Layout(spec, _header(spec, next(reader, None)))
            line = reader.line_num + 1
            for values in reader:
                if any(values):
                    yield layout, line, values
                line = reader.line_num + 1
        except csv.Error as exc:
            raise BundleError(
                "invalid_csv", f"{spec.file} line {reader.line_num}: {exc}", file=spec.file
            ) from exc
        except UnicodeDecodeError as exc:
            raise BundleError(
                "invalid_encoding", f"{spec.file} is not UTF-8: {exc.reason}"
            ) from exc


def _header(spec: TopicSpec, header: list[str] | None) -> list[str]:
    if header is None:
        raise BundleError("invalid_header", f"{spec.file} is empty", file=spec.file)
    if any(NUL in name for name in header):
        # Its column names become every row's field names.
        raise BundleError(
            "invalid_header",
            f"{spec.file}'s header holds the NUL character (U+0000)",
            file=spec.file,
        )
    names = [COLUMN_ALIASES.get(name.strip(), name.strip()) for name in header]
    missing = [column for column in spec.required if column not in names]
    if missing:
        raise BundleError(
            "invalid_header",
            f"{spec.file} lacks the required column(s) {', '.join(missing)}",
            file=spec.file,
        )
    return names


# U+0000, which PostgreSQL's text and jsonb cannot hold: a row with it is rejected.
NUL = "\x00"
# How much of a cell a message quotes (more than a sourcedId holds): a cell may hold up to a
# megabyte, and an ingestion reports up to 100 rejected rows, served with it in every list.
QUOTED_CHARACTERS = 300


def quoted(value: str) -> str:
    """`value` as a message quotes it: its repr, cut after QUOTED_CHARACTERS characters and
    followed by its length."""
    if len(value) <= QUOTED_CHARACTERS:
        return repr(value)
    return f"{value[:QUOTED_CHARACTERS]!r}… ({len(value):,} characters)"


# How a column's value is stored (decided once per file, from its header).
_PLAIN, _TYPED, _METADATA = 0, 1, 2
_RESERVED = frozenset({"", "sourcedId", "status", "dateLastModified"})
# Field names a record's own attributes take in the read API: a column spelled onto one of
# them (`sourced_id`, `updatedAt`, `Metadata`) would shadow it with a value of the wrong type.
_RECORD_FIELDS = frozenset({"sourced_id", "status", "date_last_modified", "updated_at", "metadata"})


class _Layout:
    """One file's header turned into a plan: which position feeds which field, and how.

    Rows are parsed against the plan instead of a per-row dict of the header, which is most of
    what reading a large bundle costs. When a header repeats a name, the last column wins.
    """

    def __init__(self, spec: TopicSpec, header: list[str]) -> None:
        self.spec = spec
        self.header = header
        self.width = len(header)
        position = {name: index for index, name in enumerate(header)}
        self.sourced_id = position["sourcedId"]
        self.status = position.get("status")
        self.modified = position.get("dateLastModified")
        self.required = [(column, position[column]) for column in spec.required]
        # (position, field name, kind, the converter of a typed column)
        self.columns: list[tuple[int, str, int, Callable[[str], Any] | None]] = []
        shadowed = _RECORD_FIELDS | {snake_case(column) for column in spec.typed}
        for index, column in enumerate(header):
            if column in _RESERVED or column in DROPPED_COLUMNS or position[column] != index:
                continue
            if column.startswith("metadata.") or column == "metadata":
                # A bare `metadata` column has no key of its own: it keeps its name as one.
                self.columns.append((index, column.removeprefix("metadata."), _METADATA, None))
            elif column in spec.typed:
                name = snake_case(column)
                self.columns.append((index, name, _TYPED, spec.converters[name]))
            elif snake_case(column) not in shadowed:  # `Grades` must not be read as `grades`
                self.columns.append((index, snake_case(column), _PLAIN, None))
        self.absent_typed = [
            (snake_case(column), column in spec.lists)
            for column in spec.booleans + spec.lists + spec.dates
            if column not in position
        ]

    def row(self, values: list[str], line: int) -> SourceRow | tuple[int, RowError] | None:
        """The parsed row, `(line, error)`, or None for a row of blanks only."""
        stripped = [value.strip() for value in values]
        if not any(stripped):
            return None
        width = self.width
        if len(stripped) < width:
            stripped += [""] * (width - len(stripped))
        try:
            if len(stripped) > width and any(stripped[width:]):
                raise RowError(f"{len(values)} values for {width} columns")
            if NUL in "".join(stripped):  # one C-level scan: 66 ns a row
                raise RowError(self._holds_nul(stripped))
            return self._parse(stripped, line)
        except RowError as error:
            sourced_id = stripped[self.sourced_id]
            error.sourced_id = sourced_id if sourced_id and NUL not in sourced_id else None
            error.readable = self._readable(stripped, line)
            return line, error

    def _holds_nul(self, values: list[str]) -> str:
        """Why a row holding U+0000 is rejected: PostgreSQL stores no text with it (a batch
        holding one failed the whole collection), so neither backend takes it."""
        column = next(
            (name for name, value in zip(self.header, values, strict=False) if NUL in value),
            "a value past the header's columns",
        )
        return f"{column} holds the NUL character (U+0000), which no record can store"

    def _readable(self, values: list[str], line: int) -> SourceRow | None:
        """What a rejected row still says, read as a good row is but skipping the values that
        do not parse; None without a sourcedId it could be stored under. Only rejected rows
        pay for it."""
        sourced_id = values[self.sourced_id]
        if not sourced_id or len(sourced_id) > MAX_SOURCED_ID_LENGTH or NUL in sourced_id:
            return None
        fields: dict[str, Any] = {}
        for index, name, kind, convert in self.columns:
            if kind == _PLAIN:
                fields[name] = values[index] or None
            elif convert is not None:
                try:
                    fields[name] = convert(values[index])
                except RowError:
                    fields[name] = None
        return SourceRow(line, sourced_id, "active", None, fields)

    def _parse(self, values: list[str], line: int) -> SourceRow:
        empty = [column for column, index in self.required if not values[index]]
        if empty:
            raise RowError(f"required value(s) missing: {', '.join(empty)}")
        if len(values[self.sourced_id]) > MAX_SOURCED_ID_LENGTH:
            # No record can be stored under it: PostgreSQL refused the whole batch.
            raise RowError(f"sourcedId is longer than {MAX_SOURCED_ID_LENGTH} characters")
        given = values[self.status] if self.status is not None else ""
        status = given.lower() or "active"
        if status not in STATUSES:
            raise RowError(f"status must be active or tobedeleted, got {quoted(given)}")
        fields: dict[str, Any] = {}
        metadata: dict[str, str] = {}
        for index, name, kind, convert in self.columns:
            value = values[index]
            if kind == _PLAIN:
                fields[name] = value or None
            elif convert is not None:  # _TYPED
                fields[name] = convert(value)
            elif value:
                metadata[name] = value
        for name, is_list in self.absent_typed:
            fields[name] = [] if is_list else None
        if metadata:
            fields["metadata"] = metadata
        return SourceRow(
            line=line,
            sourced_id=values[self.sourced_id],
            status=status,
            date_last_modified=_timestamp(
                values[self.modified] if self.modified is not None else ""
            ),
            fields=fields,
        )


def cell_value(spec: TopicSpec, name: str, cell: str) -> Any:
    """What a row of the spec's file stores under the field `name` for one cell, as
    `iter_rows` reads it: a typed column's value (RowError when the cell breaks its rule), a
    bare `metadata` column's metadata, or the text (None when empty). For one value at a
    time, off the bulk path (which reads a file through its `_Layout`)."""
    cell = cell.strip()
    convert = spec.converters.get(name)
    if convert is not None:
        return convert(cell)
    if name == "metadata":
        return {"metadata": cell} if cell else None
    return cell or None


def _converter(spec: TopicSpec, column: str) -> Callable[[str], Any]:
    """How a typed column's value is read, decided once per file."""
    if column in spec.lists:
        return _list
    if column in spec.booleans:
        return functools.partial(_boolean, column)
    return functools.partial(_date, column)  # spec.typed is lists, booleans and dates


def _list(value: str) -> list[str]:
    if not value:
        return []
    if "," not in value:  # most lists hold one item (the value is stripped already)
        return [value]
    return [item for item in (part.strip() for part in value.split(",")) if item]


def _boolean(column: str, value: str) -> bool | None:
    if not value:
        return None
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise RowError(f"{column} must be true or false, got {quoted(value)}")
    return lowered == "true"


def _date(column: str, value: str) -> str | None:
    if not value:
        return None
    try:
        return _iso_date(value)
    except ValueError:
        raise RowError(f"{column} must be a date YYYY-MM-DD, got {quoted(value)}") from None


@functools.lru_cache(maxsize=4096)  # a bundle's dates repeat: term and enrollment dates
def _iso_date(value: str) -> str:
    return date.fromisoformat(value).isoformat()


@functools.lru_cache(maxsize=4096)  # exports repeat a few timestamps across many rows
def _timestamp(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except ValueError:
        raise RowError(
            f"dateLastModified must be an ISO 8601 timestamp, got {quoted(value)}"
        ) from None
    except OverflowError:
        # In UTC before year 1 or after 9999 (`9999-12-31T23:59:59-01:00`): this escaped as
        # an unexpected error and failed the whole collection.
        raise RowError(
            f"dateLastModified {quoted(value)} lies outside years 1 to 9999 once converted to UTC"
        ) from None


def reference_values(spec: TopicSpec, row: SourceRow) -> Iterator[tuple[str, str, str]]:
    """(column, target topic, referenced id) for every reference the row makes."""
    fields = row.fields
    for column, target, name in _reference_plan(spec):
        if name is None:
            yield column, target, row.sourced_id
            continue
        value = fields.get(name)
        if isinstance(value, list):
            for item in value:
                if item:
                    yield column, target, item
        elif value:
            yield column, target, value


@functools.cache  # one plan per topic: asked for on every row
def _reference_plan(spec: TopicSpec) -> tuple[tuple[str, str, str | None], ...]:
    """(column, target topic, field name or None for the row's own sourcedId)."""
    return tuple(
        (column, target, None if column == "sourcedId" else snake_case(column))
        for column, target in spec.references.items()
    )


def text_stream(binary: Any) -> io.TextIOWrapper:
    # utf-8-sig: SIS exports often start with a byte-order mark.
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
