"""parse_blueprint on its own: the published blueprints, hostile and broken input, fuzzing."""

import hashlib
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interop.errors import InvalidRequest
from interop.integrations.blueprint import MAX_BLUEPRINT_BYTES, MAX_DEPTH, parse_blueprint

SHARED = Path(
    os.environ.get("INTEROP_SHARED_DIR") or Path(__file__).resolve().parents[3] / "shared"
)
BLUEPRINTS = SHARED / "data" / "blueprints"
# file -> (Version, Title) as written in each file.
PUBLISHED = {
    "blueprint-v1.xml": ("1.0", "Example Integration"),
    "blueprint-v2.xml": ("2.0", "Example Integration"),
    "grades-blueprint.xml": ("1.0.1", "Grades API Example"),
    "integration-blueprint-example.xml": ("1.0.3", "API Example"),
}
MINIMAL = "<Blueprint Id='x' Version='1'/>"


def refused(document: bytes | str, max_bytes: int = MAX_BLUEPRINT_BYTES) -> InvalidRequest:
    """Parse a document that must be refused, quickly, as invalid_blueprint; the error."""
    started = time.perf_counter()
    with pytest.raises(InvalidRequest) as raised:
        parse_blueprint(document, max_bytes=max_bytes)
    # A safety bound on hostile input (no hang, no blow-up), not a benchmark.
    assert time.perf_counter() - started < 1.0
    error = raised.value
    assert error.code == "invalid_blueprint"
    assert error.status == 400
    assert set(error.details) == {"line", "column"}
    return error


def has_position(error: InvalidRequest) -> bool:
    return isinstance(error.details["line"], int) and isinstance(error.details["column"], int)


# --- the published blueprints ---------------------------------------------------------------


@pytest.mark.parametrize("file_name", sorted(PUBLISHED))
def test_published_blueprint_parses_to_its_version_and_title(file_name: str) -> None:
    blueprint = parse_blueprint((BLUEPRINTS / file_name).read_bytes())
    assert (blueprint.version, blueprint.title) == PUBLISHED[file_name]


def test_blueprint_shape_takes_name_from_id() -> None:
    blueprint = parse_blueprint((BLUEPRINTS / "blueprint-v1.xml").read_bytes())
    assert (blueprint.name, blueprint.schema_version) == ("example", None)


def test_integration_blueprint_shape_takes_name_and_schema_version() -> None:
    blueprint = parse_blueprint((BLUEPRINTS / "grades-blueprint.xml").read_bytes())
    assert (blueprint.name, blueprint.schema_version) == ("Grades API Example", "2.0.0")


# --- hostile documents ----------------------------------------------------------------------


def test_billion_laughs_is_invalid_blueprint() -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    document = (
        f'<?xml version="1.0"?><!DOCTYPE Blueprint [{entities}]>'
        "<Blueprint Id='x' Version='1'><Integration><Title>&lol9;</Title></Integration>"
        "</Blueprint>"
    )
    error = refused(document)
    assert "DTD" in error.message
    assert has_position(error)


def test_external_entity_is_invalid_blueprint() -> None:
    refused(
        '<!DOCTYPE Blueprint [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        "<Blueprint Id='x' Version='1'><Integration><Title>&e;</Title></Integration></Blueprint>"
    )


def test_external_dtd_is_invalid_blueprint() -> None:
    refused(
        "<!DOCTYPE Blueprint SYSTEM \"http://127.0.0.1:9/evil.dtd\"><Blueprint Id='x' Version='1'/>"
    )


def test_parameter_entities_are_invalid_blueprint() -> None:
    refused(
        '<!DOCTYPE Blueprint [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;'
        "<!ENTITY % q \"<!ENTITY r 'x'>\"> %q;]>"
        "<Blueprint Id='x' Version='1'/>"
    )


def test_5000_deep_nesting_is_invalid_blueprint() -> None:
    document = "<Blueprint Id='x' Version='1'>" + "<a>" * 5000 + "</a>" * 5000 + "</Blueprint>"
    error = refused(document)
    assert f"deeper than {MAX_DEPTH}" in error.message
    assert has_position(error)


def test_200000_deep_nesting_is_invalid_blueprint() -> None:
    document = "<Blueprint Id='x' Version='1'>" + "<a>" * 200_000 + "</a>" * 200_000
    error = refused(document.encode(), max_bytes=len(document))
    assert has_position(error)


def test_depth_error_points_at_the_first_element_too_deep() -> None:
    document = "<Blueprint Id='x' Version='1'>\n" + "  <a>\n" * (MAX_DEPTH + 5)
    error = refused(document)
    # The root is on line 1, so element MAX_DEPTH + 1 opens on line MAX_DEPTH + 1.
    assert error.details == {"line": MAX_DEPTH + 1, "column": 2}
    assert error.message.endswith(f"(line {MAX_DEPTH + 1}, column 2)")


def test_nesting_at_the_depth_limit_is_accepted() -> None:
    inner = MAX_DEPTH - 1
    document = "<Blueprint Id='x' Version='1'>" + "<a>" * inner + "</a>" * inner + "</Blueprint>"
    assert parse_blueprint(document).version == "1"


def test_oversized_document_is_invalid_blueprint() -> None:
    start, end = "<Blueprint Id='x' Version='1'>", "</Blueprint>"
    document = start + " " * (MAX_BLUEPRINT_BYTES + 1 - len(start) - len(end)) + end
    assert len(document.encode()) == MAX_BLUEPRINT_BYTES + 1
    error = refused(document)
    assert error.message == f"blueprint is larger than {MAX_BLUEPRINT_BYTES} bytes"


def test_document_one_byte_over_a_custom_limit_is_invalid_blueprint() -> None:
    refused(MINIMAL, max_bytes=len(MINIMAL) - 1)


def test_document_of_exactly_the_limit_is_accepted() -> None:
    assert parse_blueprint(MINIMAL, max_bytes=len(MINIMAL)).version == "1"


# --- broken documents -----------------------------------------------------------------------


def test_truncated_blueprint_is_invalid_blueprint() -> None:
    document = (BLUEPRINTS / "grades-blueprint.xml").read_bytes()
    error = refused(document[: len(document) // 2])
    assert error.message.startswith("blueprint is not well-formed XML")
    assert has_position(error)


def test_truncation_error_names_line_and_column() -> None:
    error = refused("<Blueprint Id='x' Version='1'>\n<Integration>")
    assert error.details == {"line": 2, "column": 13}
    assert error.message == "blueprint is not well-formed XML: no element found (line 2, column 13)"


def test_missing_version_is_invalid_blueprint() -> None:
    error = refused("<Blueprint Id='x'><Integration><Title>T</Title></Integration></Blueprint>")
    assert "no Version attribute" in error.message


def test_empty_version_is_invalid_blueprint() -> None:
    error = refused("<Blueprint Id='x' Version='  '/>")
    assert "Version is empty" in error.message


def test_version_with_forbidden_characters_is_invalid_blueprint() -> None:
    refused("<Blueprint Id='x' Version='1.0; DROP TABLE'/>")


def test_version_starting_with_punctuation_is_invalid_blueprint() -> None:
    refused("<Blueprint Id='x' Version='.1'/>")


def test_version_longer_than_64_characters_is_invalid_blueprint() -> None:
    refused(f"<Blueprint Id='x' Version='{'1' * 65}'/>")


def test_version_is_stripped() -> None:
    blueprint = parse_blueprint("<Blueprint Id='x' Version=' 1.2.3+build-4_a '/>")
    assert blueprint.version == "1.2.3+build-4_a"


def test_bad_root_element_is_invalid_blueprint() -> None:
    error = refused("<!-- a comment -->\n<Manifest Version='1'/>")
    assert error.message.startswith(
        "blueprint root element must be <IntegrationBlueprint> or <Blueprint>, got <Manifest>"
    )
    assert error.details == {"line": 2, "column": 0}


def test_namespaced_root_element_is_invalid_blueprint() -> None:
    refused("<Blueprint xmlns='urn:other' Id='x' Version='1'/>")


def test_garbage_bytes_are_invalid_blueprint() -> None:
    refused(b"\x00\x01\x02 not xml at all \x89PNG\r\n")


def test_invalid_utf8_is_invalid_blueprint() -> None:
    error = refused(b"<Blueprint Id='x' Version='1'>\n<Integration><Title>\xff\xfe")
    assert error.message.startswith("blueprint is not valid UTF-8")
    assert error.details == {"line": 2, "column": 20}


def test_declared_encoding_other_than_utf8_is_not_used() -> None:
    # Blueprints are stored as UTF-8 text, so the declaration cannot make them anything else.
    document = "<?xml version='1.0' encoding='x-unknown'?><Blueprint Id='é' Version='1'/>"
    assert parse_blueprint(document.encode()).name == "é"


def test_text_with_a_lone_surrogate_is_invalid_blueprint() -> None:
    refused("<Blueprint Id='\ud800' Version='1'/>")


def test_empty_string_is_invalid_blueprint() -> None:
    assert refused("").message == "blueprint is empty"


def test_empty_bytes_are_invalid_blueprint() -> None:
    refused(b"")


def test_whitespace_only_document_is_invalid_blueprint() -> None:
    refused(" \n\t\r\n ")


def test_title_longer_than_255_characters_is_invalid_blueprint() -> None:
    refused(
        "<Blueprint Id='x' Version='1'><Integration><Title>"
        + "t" * 256
        + "</Title></Integration></Blueprint>"
    )


def test_title_of_255_characters_is_accepted() -> None:
    document = (
        "<Blueprint Id='x' Version='1'><Integration><Title>"
        + "t" * 255
        + "</Title></Integration></Blueprint>"
    )
    assert parse_blueprint(document).title == "t" * 255


# --- the fields read ------------------------------------------------------------------------


def test_title_falls_back_to_the_name() -> None:
    assert parse_blueprint("<IntegrationBlueprint Name='Roster' Version='2'/>").title == "Roster"


def test_title_falls_back_to_the_version_without_a_name() -> None:
    assert parse_blueprint("<Blueprint Version='3.1'/>").title == "3.1"


def test_auth_type_is_read_lowercased() -> None:
    blueprint = parse_blueprint(
        "<Blueprint Id='x' Version='1'>"
        "<Application><Authentication Type='OAuth2'/></Application></Blueprint>"
    )
    assert blueprint.auth_type == "oauth2"


def test_auth_type_is_none_without_authentication() -> None:
    blueprint = parse_blueprint("<Blueprint Id='x' Version='1'><Application/></Blueprint>")
    assert blueprint.auth_type == "none"


def test_auth_type_longer_than_32_characters_is_invalid_blueprint() -> None:
    refused(
        "<Blueprint Id='x' Version='1'>"
        f"<Application><Authentication Type='{'a' * 33}'/></Application></Blueprint>"
    )


def test_sha256_is_the_digest_of_the_document_bytes() -> None:
    document = (BLUEPRINTS / "integration-blueprint-example.xml").read_bytes()
    assert parse_blueprint(document).sha256 == hashlib.sha256(document).hexdigest()


def test_str_and_its_utf8_bytes_give_the_same_sha256() -> None:
    text = "<Blueprint Id='é' Version='1'/>"
    assert parse_blueprint(text).sha256 == parse_blueprint(text.encode("utf-8")).sha256


# --- fuzzing --------------------------------------------------------------------------------


def parses_or_is_invalid_blueprint(document: bytes | str) -> None:
    try:
        parse_blueprint(document)
    except InvalidRequest as error:
        assert error.code == "invalid_blueprint"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1024))
def test_arbitrary_bytes_raise_nothing_but_invalid_blueprint(document: bytes) -> None:
    parses_or_is_invalid_blueprint(document)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=512))
def test_arbitrary_text_raises_nothing_but_invalid_blueprint(document: str) -> None:
    parses_or_is_invalid_blueprint(document)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("<>/='\"!&;%?[] \nabIVersionBlueprint1.-#x")),
        max_size=256,
    )
)
def test_xml_like_text_raises_nothing_but_invalid_blueprint(document: str) -> None:
    parses_or_is_invalid_blueprint(document)


def test_application_task_flags_are_read() -> None:
    blueprint = parse_blueprint(
        "<Blueprint Id='x' Version='1'><Application DeliverTasks='true' ValidateTasks='no'/>"
        "</Blueprint>"
    )
    assert (blueprint.deliver_tasks, blueprint.validate_tasks) == (True, False)
