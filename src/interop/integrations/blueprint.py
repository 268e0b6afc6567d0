"""Hardened parsing of uploaded Integration Blueprint XML (hostile input): defusedxml, a size
limit before parsing, a depth limit during it, and every failure an `invalid_blueprint` 400."""

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, XMLParser

from interop.errors import InvalidRequest

MAX_BLUEPRINT_BYTES = 1_048_576
MAX_DEPTH = 64
MAX_VERSION_LENGTH = 64  # integration_versions.version is String(64)
MAX_TITLE_LENGTH = 255  # integration_versions.title is String(255)
MAX_AUTH_TYPE_LENGTH = 32  # the auth_type columns are String(32)
ROOT_TAGS = ("IntegrationBlueprint", "Blueprint")
VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
TRUE_FLAGS = frozenset({"true", "1", "yes"})

_Position = tuple[int | None, int | None]
_NOWHERE: _Position = (None, None)


@dataclass(frozen=True)
class Blueprint:
    version: str
    title: str
    name: str | None
    schema_version: str | None
    auth_type: str
    sha256: str
    # The tenant application's defaults, from <Application DeliverTasks= ValidateTasks=>.
    deliver_tasks: bool = False
    validate_tasks: bool = False


class BlueprintError(InvalidRequest):
    """An `invalid_blueprint` error; `line` and `column` repeat `details` for callers' ease."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        if line is not None:
            message = f"{message} (line {line}, column {column})"
        super().__init__(
            message, details={"line": line, "column": column}, code="invalid_blueprint"
        )
        self.line = line
        self.column = column


class _Locator(Protocol):
    """The part of a pyexpat parser that says where it is."""

    CurrentLineNumber: int
    CurrentColumnNumber: int


@dataclass(frozen=True)
class _Seen:
    attrs: dict[str, str]
    position: _Position


class _Reader:
    """An XMLParser target that keeps only what a Blueprint needs and refuses deep nesting.

    Nothing is built, so memory stays bounded by the document, and depth is checked as each
    element opens, so a million-deep document stops at element MAX_DEPTH + 1.
    """

    def __init__(self) -> None:
        self.locator: _Locator | None = None
        self.path: list[str] = []
        self.root_tag = ""
        self.root: _Seen | None = None
        self.title: _Seen | None = None
        self.title_text: list[str] = []
        self.application: _Seen | None = None
        self.authentication: _Seen | None = None
        self._in_title = False

    def position(self) -> _Position:
        if self.locator is None:
            return _NOWHERE
        return self.locator.CurrentLineNumber, self.locator.CurrentColumnNumber

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self.path.append(tag)
        if len(self.path) > MAX_DEPTH:
            raise BlueprintError(
                f"blueprint nests deeper than {MAX_DEPTH} elements", *self.position()
            )
        seen = _Seen(attrs, self.position())
        # Only the first match counts, as ElementTree's find() would have it.
        match self.path[1:]:
            case []:
                self.root_tag, self.root = tag, seen
            case ["Integration", "Title"] if self.title is None:
                self.title, self._in_title = seen, True
            case ["Application"] if self.application is None:
                self.application = seen
            case ["Application", "Authentication"] if self.authentication is None:
                self.authentication = seen

    def end(self, tag: str) -> None:
        if self._in_title and len(self.path) == 3:
            self._in_title = False
        self.path.pop()

    def data(self, text: str) -> None:
        # Text of the Title itself, not of elements nested in it.
        if self._in_title and len(self.path) == 3:
            self.title_text.append(text)

    def close(self) -> None:
        """What XMLParser.close() returns: nothing, as nothing is built."""


def parse_blueprint(document: bytes | str, max_bytes: int = MAX_BLUEPRINT_BYTES) -> Blueprint:
    """Read a blueprint's version, title and auth type; `InvalidRequest` (invalid_blueprint)
    with `details={"line", "column"}` on anything malformed, hostile or incomplete."""
    raw = _as_bytes(document)
    if len(raw) > max_bytes:
        raise BlueprintError(f"blueprint is larger than {max_bytes} bytes")
    text = _as_text(raw)
    if not text.strip():
        raise BlueprintError("blueprint is empty")
    return _blueprint(_scan(text), hashlib.sha256(raw).hexdigest())


def _as_bytes(document: bytes | str) -> bytes:
    if not isinstance(document, str):
        return bytes(document)  # also takes a bytearray or memoryview from a request body
    try:
        return document.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BlueprintError(
            "blueprint text cannot be encoded as UTF-8", *_end_of(document[: exc.start])
        ) from exc


def _as_text(raw: bytes) -> str:
    # Blueprints are stored as UTF-8 text, so that is the only encoding read; feeding expat a
    # str also makes it ignore the XML declaration's encoding (and its codec lookups).
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        valid_prefix = raw[: exc.start].decode("utf-8", errors="replace")
        raise BlueprintError("blueprint is not valid UTF-8", *_end_of(valid_prefix)) from exc


def _end_of(prefix: str) -> _Position:
    """The 1-based line and 0-based column (expat's convention) just after `prefix`."""
    return prefix.count("\n") + 1, len(prefix) - (prefix.rfind("\n") + 1)


def _scan(text: str) -> _Reader:
    reader = _Reader()
    parser = XMLParser(target=reader, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    reader.locator = parser.parser
    try:
        parser.feed(text)
        parser.close()
    except ParseError as exc:
        line, column = exc.position
        reason = str(exc).rsplit(": line ", 1)[0]
        raise BlueprintError(f"blueprint is not well-formed XML: {reason}", line, column) from exc
    except DefusedXmlException as exc:
        raise BlueprintError(
            "blueprint must not contain a DTD or entity declarations", *reader.position()
        ) from exc
    except (ValueError, LookupError, RecursionError) as exc:
        # Not expected from expat fed a str, but hostile input must never become a 500.
        raise BlueprintError(f"blueprint cannot be parsed: {exc}", *reader.position()) from exc
    return reader


def _blueprint(reader: _Reader, sha256: str) -> Blueprint:
    root = reader.root
    if root is None:  # expat refuses a document without a root; kept for the type checker
        raise BlueprintError("blueprint has no root element")
    if reader.root_tag not in ROOT_TAGS:
        raise BlueprintError(
            "blueprint root element must be <IntegrationBlueprint> or <Blueprint>, "
            f"got <{reader.root_tag[:100]}>",
            *root.position,
        )
    version = _version(root)
    name = root.attrs.get("Name" if reader.root_tag == "IntegrationBlueprint" else "Id")
    application = reader.application.attrs if reader.application else {}
    return Blueprint(
        version=version,
        title=_title(reader, root, name, version),
        name=name,
        schema_version=root.attrs.get("SchemaVersion"),
        auth_type=_auth_type(reader.authentication),
        sha256=sha256,
        deliver_tasks=_flag(application.get("DeliverTasks")),
        validate_tasks=_flag(application.get("ValidateTasks")),
    )


def _version(root: _Seen) -> str:
    if "Version" not in root.attrs:
        raise BlueprintError("blueprint root element has no Version attribute", *root.position)
    version = root.attrs["Version"].strip()
    if not version:
        raise BlueprintError("blueprint Version is empty", *root.position)
    if len(version) > MAX_VERSION_LENGTH:
        raise BlueprintError(
            f"blueprint Version is longer than {MAX_VERSION_LENGTH} characters", *root.position
        )
    if not VERSION_PATTERN.fullmatch(version):
        raise BlueprintError(
            f"blueprint Version {version!r} must start with a letter or digit and contain "
            "only letters, digits and . _ + -",
            *root.position,
        )
    return version


def _title(reader: _Reader, root: _Seen, name: str | None, version: str) -> str:
    title = "".join(reader.title_text).strip() or (name or "").strip() or version
    if len(title) > MAX_TITLE_LENGTH:
        # A title that fell back to the Name or Id attribute is reported at the root element.
        where = (reader.title or root).position
        raise BlueprintError(
            f"blueprint title is longer than {MAX_TITLE_LENGTH} characters", *where
        )
    return title


def _auth_type(authentication: _Seen | None) -> str:
    if authentication is None:
        return "none"
    auth_type = authentication.attrs.get("Type", "").strip().lower() or "none"
    if len(auth_type) > MAX_AUTH_TYPE_LENGTH:
        raise BlueprintError(
            f"blueprint Authentication Type is longer than {MAX_AUTH_TYPE_LENGTH} characters",
            *authentication.position,
        )
    return auth_type


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE_FLAGS
