"""How one CSV row becomes a record or a rejection with its line: blank rows, ragged rows,
typed values (dates, booleans, lists), statuses and required values, parsed from real files."""

from pathlib import Path

from interop.connectors.bundle import open_bundle
from interop.connectors.oneroster_csv import COURSES, ENROLLMENTS, SourceRow, TopicSpec, iter_rows

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
