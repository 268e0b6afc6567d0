"""How one CSV row becomes a record or a rejection with its line: blank rows, ragged rows,
typed values (dates, booleans, lists), statuses and required values, parsed from real files."""

import csv
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interop.connectors.bundle import open_bundle
from interop.connectors.oneroster_csv import (
    COURSES,
    ENROLLMENTS,
    SPECS,
    RowError,
    SourceRow,
    TopicSpec,
    iter_rows,
)
from interop.roster.models import MAX_SOURCED_ID_LENGTH

ENROLLMENTS_HEADER = (
    "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,"
    "primary,beginDate,endDate"
)


def _rows(tmp_path: Path, spec: TopicSpec, text: str) -> list[SourceRow | tuple[int, str]]:
    (tmp_path / spec.file).write_text(text)
    with open_bundle(str(tmp_path), [tmp_path], 10**7, False, tmp_path / "scratch") as bundle:
        return [
            item if isinstance(item, SourceRow) else (item[0], str(item[1]))
            for item in iter_rows(bundle, spec)
        ]


def test_enrollment_rows_typed_values_and_rejections(tmp_path: Path) -> None:
    lines = [
        ENROLLMENTS_HEADER,
        "e1,,,c1,s1,u1,student,TRUE,2026-09-01,2027-06-30",  # line 2
        "",  # a blank line: skipped, still counted
        " , ,,",  # blanks only: skipped
        "e2,TobeDeleted,2026-01-02T03:04:05Z,c1,s1,u2,teacher,false,,",
        "e3,,,c1,s1,u3,student,yes,,",  # line 6: a bad boolean
        "e4,,,c1,s1,u4,student,,2026-13-01,",  # a bad date
        "e5,archived,,c1,s1,u5,student,,,",  # a bad status
        "e6,,,c1,s1,,student,,,",  # a missing required value
        "e7,,,c1,s1,u7,student,,,,,extra",  # a value past the header
        "e8,,,c1,s1,u8,student,,,,,  ",  # blanks past the header: fine
        "e9,,,c1,s1,u9,student",  # a short row: the missing values are empty
    ]
    rows = _rows(tmp_path, ENROLLMENTS, "\n".join(lines) + "\n")
    parsed = {row.sourced_id: row for row in rows if isinstance(row, SourceRow)}
    rejected = [row for row in rows if not isinstance(row, SourceRow)]

    assert sorted(parsed) == ["e1", "e2", "e8", "e9"]
    first = parsed["e1"]
    assert (first.line, first.status, first.date_last_modified) == (2, "active", None)
    assert first.fields["primary"] is True
    assert (first.fields["begin_date"], first.fields["end_date"]) == ("2026-09-01", "2027-06-30")
    assert first.fields["user_sourced_id"] == "u1"
    second = parsed["e2"]
    assert second.status == "tobedeleted"
    assert second.date_last_modified is not None
    assert second.date_last_modified.isoformat() == "2026-01-02T03:04:05+00:00"
    assert (second.fields["primary"], second.fields["begin_date"]) == (False, None)
    assert parsed["e8"].line == 11
    assert (parsed["e9"].line, parsed["e9"].fields["primary"]) == (12, None)
    assert rejected == [
        (6, "primary must be true or false, got 'yes'"),
        (7, "beginDate must be a date YYYY-MM-DD, got '2026-13-01'"),
        (8, "status must be active or tobedeleted, got 'archived'"),
        (9, "required value(s) missing: userSourcedId"),
        (10, "12 values for 10 columns"),
    ]


def test_dates_in_the_iso_8601_calendar_forms_are_stored_as_year_month_day(
    tmp_path: Path,
) -> None:
    given = ["2010-05-01", "20100501", "2010-W17-6", " 2010-05-01 ", "05/01/2010"]
    lines = [ENROLLMENTS_HEADER] + [
        f"e{n},,,c1,s1,u1,student,,{value}," for n, value in enumerate(given)
    ]
    rows = _rows(tmp_path, ENROLLMENTS, "\n".join(lines) + "\n")
    assert [row.fields["begin_date"] for row in rows if isinstance(row, SourceRow)] == [
        "2010-05-01"
    ] * 4
    assert rows[4] == (6, "beginDate must be a date YYYY-MM-DD, got '05/01/2010'")


def test_list_columns_split_on_commas_and_drop_empty_items(tmp_path: Path) -> None:
    text = (
        "sourcedId,title,orgSourcedId,grades,subjects\n"
        'k1,Algebra,o1,"09, 10,,11",\n'
        "k2,Biology,o1,,Science\n"
    )
    rows = _rows(tmp_path, COURSES, text)
    assert all(isinstance(row, SourceRow) for row in rows)
    fields = {row.sourced_id: row.fields for row in rows if isinstance(row, SourceRow)}
    assert fields["k1"]["grades"] == ["09", "10", "11"]
    assert fields["k1"]["subjects"] == []
    assert fields["k2"]["grades"] == []
    assert fields["k2"]["subjects"] == ["Science"]
    # A list column the header lacks is an empty list, not missing.
    assert fields["k2"]["subject_codes"] == []


# Cells that have broken a collection, or sit on a rule's edge, mixed with arbitrary text.
EDGE_CELLS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "x" * 255,
    "x" * 256,
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+01:00",
    "2026-01-31T08:00:00.250000Z",
    "2026-02-30",
    "2010-W17-6",
    "20100501",
    "true",
    "TRUE",
    "yes",
    "active",
    "tobedeleted",
    "a,b, ,c",
    "line\nbreak",
    "\ufeffbom",
]
cells = st.one_of(st.sampled_from(EDGE_CELLS), st.text(max_size=12))


def _storable_text(value: str) -> bool:
    return "\x00" not in value


def _storable(value: Any) -> bool:
    """Whether PostgreSQL can hold the value in a record's jsonb `fields`."""
    if isinstance(value, str):
        return _storable_text(value)
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    if isinstance(value, dict):
        return all(_storable_text(key) and _storable(item) for key, item in value.items())
    return value is None or isinstance(value, bool)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.topic)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_row_is_a_storable_record_or_a_rejection(spec: TopicSpec, data: st.DataObject) -> None:
    """Whatever its cells hold, a row parses to a record every backend can store, or to a
    rejection whose reported sourcedId can be stored too: no value escapes the rules and fails
    the whole collection (a NUL character, a time with no UTC counterpart, an id too long)."""
    # Every column a rule reads, a metadata column and a plain one, each once.
    columns = ["sourcedId", "status", "dateLastModified", *spec.required, *sorted(spec.typed)]
    header = list(dict.fromkeys([*columns, "metadata.note", "comment"]))
    rows = data.draw(
        st.lists(st.lists(cells, min_size=1, max_size=len(header) + 1), min_size=1, max_size=4)
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with (root / spec.file).open("w", newline="", encoding="utf-8") as target:
            writer = csv.writer(target)
            writer.writerow(header)
            writer.writerows(rows)
        with open_bundle(str(root), [root], 10**7, False, root / "scratch") as bundle:
            parsed = list(iter_rows(bundle, spec))
    for item in parsed:
        if isinstance(item, SourceRow):
            assert 0 < len(item.sourced_id) <= MAX_SOURCED_ID_LENGTH, item
            assert _storable_text(item.sourced_id) and _storable(item.fields), item
            assert item.status in ("active", "tobedeleted"), item
            modified = item.date_last_modified
            assert modified is None or modified.utcoffset() == timedelta(0), item
        else:
            line, error = item
            assert isinstance(error, RowError) and line >= 2, item
            assert error.sourced_id is None or _storable_text(error.sourced_id), item
