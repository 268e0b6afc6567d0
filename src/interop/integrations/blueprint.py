"""Hardened parsing of Integration Blueprint XML: uploaded blueprints are hostile input.

No DTD, no entities, no external references (defusedxml), a size limit checked before
parsing, and a depth limit enforced while parsing, so nothing hostile builds a tree or hangs.
"""

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import XMLParser

MAX_BLUEPRINT_BYTES = 1_048_576
MAX_DEPTH = 64
MAX_TITLE_LENGTH = 255
ROOT_TAGS = ("IntegrationBlueprint", "Blueprint")
VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")


@dataclass(frozen=True)
class Blueprint:
    version: str
    title: str
    name: str | None
    schema_version: str | None
    auth_type: str
    sha256: str


class BlueprintError(Exception):
    """A blueprint problem, with the position in the document where it is known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass
class _DepthLimitedBuilder:
    """A TreeBuilder target that refuses to go deeper than MAX_DEPTH as elements open."""

    parser: Any = None
    builder: TreeBuilder = field(default_factory=TreeBuilder)
    depth: int = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise BlueprintError(
                f"blueprint nests deeper than {MAX_DEPTH} elements", *self._position()
            )
        return self.builder.start(tag, attrs)

    def end(self, tag: str) -> Element:
        self.depth -= 1
        return self.builder.end(tag)

    def data(self, data: str) -> None:
        self.builder.data(data)

    def close(self) -> Element:
        return self.builder.close()

    def _position(self) -> tuple[int | None, int | None]:
        expat = getattr(self.parser, "parser", None)
        if expat is None:
            return None, None
        return expat.CurrentLineNumber, expat.CurrentColumnNumber


def parse_blueprint(document: bytes | str, max_bytes: int = MAX_BLUEPRINT_BYTES) -> Blueprint:
    """Read version, title and auth type from a blueprint; `BlueprintError` on any problem."""
    raw = document.encode("utf-8") if isinstance(document, str) else document
    if len(raw) > max_bytes:
        raise BlueprintError(f"blueprint is larger than {max_bytes} bytes")
    if not raw.strip():
        raise BlueprintError("blueprint is empty")
    root = _parse(raw)
    return _read(root, hashlib.sha256(raw).hexdigest())


def _parse(raw: bytes) -> Element:
    target = _DepthLimitedBuilder()
    parser = XMLParser(target=target, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    target.parser = parser
    try:
        parser.feed(raw)
        root: Element = parser.close()
    except BlueprintError:
        raise
    except ParseError as exc:
        line, column = exc.position[0], exc.position[1]
        reason = str(exc).split(":")[0]
        raise BlueprintError(
            f"blueprint is not well-formed XML: {reason} (line {line}, column {column})",
            line,
            column,
        ) from exc
    except DefusedXmlException as exc:
        raise BlueprintError(
            "blueprint must not contain a DTD, entity declarations or external references",
            *target._position(),
        ) from exc
    except (ValueError, RecursionError, UnicodeError) as exc:
        raise BlueprintError(f"blueprint cannot be read: {type(exc).__name__}") from exc
    return root


def _read(root: Element, sha256: str) -> Blueprint:
    if root.tag not in ROOT_TAGS:
        raise BlueprintError(
            "blueprint root element must be <IntegrationBlueprint> or <Blueprint>, "
            f"got <{root.tag}>"
        )
    version = (root.get("Version") or "").strip()
    if not version:
        raise BlueprintError("blueprint root element has no Version attribute")
    if not VERSION_PATTERN.fullmatch(version):
        raise BlueprintError(
            f"blueprint Version {version[:70]!r} must be 1-64 letters, digits and . _ + - "
            "starting with a letter or digit"
        )
    name = root.get("Name") if root.tag == "IntegrationBlueprint" else root.get("Id")
    title = (root.findtext("Integration/Title") or "").strip() or (name or "").strip() or version
    if len(title) > MAX_TITLE_LENGTH:
        raise BlueprintError(f"blueprint Title is longer than {MAX_TITLE_LENGTH} characters")
    authentication = root.find("Application/Authentication")
    auth_type = (authentication.get("Type") or "none") if authentication is not None else "none"
    return Blueprint(
        version=version,
        title=title,
        name=name,
        schema_version=root.get("SchemaVersion"),
        auth_type=auth_type.strip().lower() or "none",
        sha256=sha256,
    )
