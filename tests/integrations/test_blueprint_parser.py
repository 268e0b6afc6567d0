"""The hardened blueprint parser on its own: published blueprints, hostile input, fuzzing."""

import contextlib
import hashlib
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interop.integrations.blueprint import MAX_DEPTH, BlueprintError, parse_blueprint

SHARED = Path(os.environ.get("INTEROP_SHARED_DIR", Path(__file__).resolve().parents[3] / "shared"))
BLUEPRINTS = SHARED / "data" / "blueprints"
PUBLISHED = {
    "blueprint-v1.xml": ("1.0", "Example Integration", "example"),
    "blueprint-v2.xml": ("2.0", "Example Integration", "example"),
    "grades-blueprint.xml": ("1.0.1", "Grades API Example", "Grades API Example"),
    "integration-blueprint-example.xml": ("1.0.3", "API Example", "API Example"),
}


@pytest.mark.parametrize("file_name", sorted(PUBLISHED))
def test_published_blueprints_parse_to_their_version_and_title(file_name: str) -> None:
    document = (BLUEPRINTS / file_name).read_bytes()
    blueprint = parse_blueprint(document)
    assert (blueprint.version, blueprint.title, blueprint.name) == PUBLISHED[file_name]
    assert blueprint.sha256 == hashlib.sha256(document).hexdigest()
    assert blueprint.auth_type == "none"


def test_auth_type_is_read_and_lower_cased() -> None:
    blueprint = parse_blueprint(
        "<Blueprint Id='x' Version='1'><Application><Authentication Type='OAuth2'/>"
        "</Application></Blueprint>"
    )
    assert blueprint.auth_type == "oauth2"


def test_str_and_bytes_give_the_same_digest() -> None:
    text = "<Blueprint Id='x' Version='1'/>"
    assert parse_blueprint(text).sha256 == parse_blueprint(text.encode()).sha256


def test_title_falls_back_to_the_name() -> None:
    assert parse_blueprint("<IntegrationBlueprint Name='Roster' Version='2'/>").title == "Roster"


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + "]><Blueprint Id='x' Version='1'><Integration><Title>&lol9;</Title></Integration></Blueprint>"
)
HOSTILE = {
    "billion_laughs": LAUGHS,
    "external_entity": '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    "<Blueprint Id='x' Version='1'><Integration><Title>&e;</Title></Integration></Blueprint>",
    "external_dtd": '<!DOCTYPE Blueprint SYSTEM "http://127.0.0.1:9/evil.dtd">'
    "<Blueprint Id='x' Version='1'/>",
    "parameter_entity": '<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
    "<Blueprint Id='x' Version='1'/>",
    "nesting_5000": "<Blueprint Id='x' Version='1'>"
    + "<a>" * 5000
    + "</a>" * 5000
    + "</Blueprint>",
    "nesting_200000": "<Blueprint Id='x' Version='1'>" + "<a>" * 200_000,
    "truncated": (BLUEPRINTS / "grades-blueprint.xml").read_text()[:3000],
    "missing_version": "<Blueprint Id='x'><Integration><Title>T</Title></Integration></Blueprint>",
    "empty_version": "<Blueprint Id='x' Version='  '/>",
    "bad_version": "<Blueprint Id='x' Version='1.0; DROP TABLE'/>",
    "wrong_root": "<Manifest Version='1'/>",
    "garbage": "\x00\x01 not xml at all",
    "empty": "",
    "whitespace": "   \n ",
    "long_title": "<Blueprint Id='x' Version='1'><Integration><Title>"
    + "t" * 256
    + "</Title></Integration></Blueprint>",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_or_broken_blueprint_is_refused_quickly(case: str) -> None:
    started = time.perf_counter()
    with pytest.raises(BlueprintError) as raised:
        parse_blueprint(HOSTILE[case])
    assert time.perf_counter() - started < 1.0  # a bound on hostile input, not a benchmark
    assert raised.value.message


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(BlueprintError):
        parse_blueprint(b"<Blueprint Id='\xff\xfe' Version='1'/>")


def test_oversized_document_is_refused_before_parsing() -> None:
    document = "<Blueprint Id='x' Version='1'>" + " " * 2000 + "</Blueprint>"
    with pytest.raises(BlueprintError, match="larger than 1024 bytes"):
        parse_blueprint(document, max_bytes=1024)


def test_depth_error_names_line_and_column() -> None:
    document = "<Blueprint Id='x' Version='1'>\n" + "<a>\n" * (MAX_DEPTH + 5)
    with pytest.raises(BlueprintError) as raised:
        parse_blueprint(document)
    assert raised.value.line == MAX_DEPTH + 1
    assert raised.value.column == 0


def test_truncation_error_names_line_and_column() -> None:
    with pytest.raises(BlueprintError) as raised:
        parse_blueprint("<Blueprint Id='x' Version='1'>\n<Integration>")
    assert (raised.value.line, raised.value.column) == (2, 13)


def test_nesting_at_the_limit_is_accepted() -> None:
    depth = MAX_DEPTH - 1
    document = "<Blueprint Id='x' Version='1'>" + "<a>" * depth + "</a>" * depth + "</Blueprint>"
    assert parse_blueprint(document).version == "1"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_raise_anything_else(document: bytes) -> None:
    with contextlib.suppress(BlueprintError):
        parse_blueprint(document)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("<>/='\"!&;?[] abVersion-Blueprint1."), max_size=200))
def test_xml_like_text_never_raises_anything_else(document: str) -> None:
    with contextlib.suppress(BlueprintError):
        parse_blueprint(document)
