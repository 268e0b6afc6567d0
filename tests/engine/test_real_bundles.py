"""The real OneRoster bundles (tests/data, from kimonocloud/api-examples), end to end: what a
tenant reads through the data API is what the CSV files say, read here on their own with the
csv module and the rules docs/API.md states, not with the connector's code."""

import csv
import re
import shutil
from collections.abc import Callable, Iterator
from itertools import zip_longest
from pathlib import Path

import httpx
import pytest

from factories import (
    ONEROSTER_MINIMAL,
    ONEROSTER_RECOMMENDED,
    Caller,
    collect,
    new_collecting_tenant,
)

BUNDLES = [
    pytest.param(ONEROSTER_MINIMAL, id="minimal"),
    pytest.param(ONEROSTER_RECOMMENDED, id="recommended"),
]
FILES = {
    "orgs": "orgs.csv",
    "academic_sessions": "academicSessions.csv",
    "courses": "courses.csv",
    "classes": "classes.csv",
    "users": "users.csv",
    "enrollments": "enrollments.csv",
    "demographics": "demographics.csv",
}
# OneRoster 1.1's typed columns, as docs/API.md serves them.
LISTS = {
    "courses": {"grades", "subjects", "subjectCodes"},
    "classes": {"grades", "termSourcedIds", "subjects", "subjectCodes", "periods"},
    "users": {"orgSourcedIds", "userIds", "agentSourcedIds", "grades"},
}
BOOLEANS = {
    "users": {"enabledUser"},
    "enrollments": {"primary"},
    "demographics": {
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
    },
}
DATES = {
    "academic_sessions": {"startDate", "endDate"},
    "enrollments": {"beginDate", "endDate"},
    "demographics": {"birthDate"},
}
# OneRoster 1.1's references (GUIDRef columns) that must name an active record of the bundle.
# A course's schoolYearSourcedId is served as given, unchecked (docs/API.md): the minimal
# bundle, the API publisher's own example, shifts each title into it.
REFERENCES = {
    "orgs": {"parentSourcedId": "orgs"},
    "academic_sessions": {"parentSourcedId": "academic_sessions"},
    "courses": {"orgSourcedId": "orgs"},
    "classes": {
        "courseSourcedId": "courses",
        "schoolSourcedId": "orgs",
        "termSourcedIds": "academic_sessions",
    },
    "enrollments": {
        "classSourcedId": "classes",
        "schoolSourcedId": "orgs",
        "userSourcedId": "users",
    },
    "users": {"orgSourcedIds": "orgs", "agentSourcedIds": "users"},
    "demographics": {"sourcedId": "users"},
}
NOT_FIELDS = {"", "sourcedId", "status", "dateLastModified", "password"}
PAGE_SIZES = (1, 2, 3, 1000)


# --- the bundle, read here ---------------------------------------------------------------


def snake(column: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", column).lower()


def csv_rows(bundle: Path, topic: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: value}) of each data row that is not blank; values stripped, a short
    row padded with empty values, values past the header under ''."""
    path = bundle / FILES[topic]
    if not path.exists():
        return
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader)]
        line = reader.line_num + 1
        for values in reader:
            if any(value.strip() for value in values):
                row: dict[str, str] = {}
                for name, value in zip_longest(header, values, fillvalue=""):
                    row[name] = (row.get(name, "") if name == "" else "") + value.strip()
                yield line, row
            line = reader.line_num + 1


def served_value(topic: str, column: str, value: str) -> object:
    if column in LISTS.get(topic, ()):
        return [item.strip() for item in value.split(",") if item.strip()]
    if column in BOOLEANS.get(topic, ()):
        return {"": None, "true": True, "false": False}[value.lower()]
    if column in DATES.get(topic, ()):
        assert value == "" or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), value
        return value or None
    return value or None


def expected_record(topic: str, row: dict[str, str]) -> dict[str, object]:
    """A row as the data API serves it (but `updated_at`)."""
    record: dict[str, object] = {
        "sourced_id": row["sourcedId"],
        "status": "active",
        "date_last_modified": row.get("dateLastModified") or None,
    }
    metadata = {}
    for column, value in row.items():
        if column.startswith("metadata."):
            if value:
                metadata[column.removeprefix("metadata.")] = value
        elif column not in NOT_FIELDS:
            record[snake(column)] = served_value(topic, column, value)
    record["metadata"] = metadata or None
    return record


def active_rows(bundle: Path, topic: str) -> dict[str, dict[str, str]]:
    return {
        row["sourcedId"]: row
        for _, row in csv_rows(bundle, topic)
        if (row.get("status") or "active").lower() == "active"
    }


def dangling(bundle: Path) -> dict[tuple[str, int], str]:
    """{(file, line): what the rejection must name} of the rows whose reference names no
    active record of the bundle (the real bundles break no other rule)."""
    active = {topic: set(active_rows(bundle, topic)) for topic in FILES}
    found = {}
    for topic, references in REFERENCES.items():
        for line, row in csv_rows(bundle, topic):
            for column, target in references.items():
                for value in row.get(column, "").split(","):
                    if value.strip() and value.strip() not in active[target]:
                        found[(FILES[topic], line)] = f"{column} {value.strip()!r}"
    return found


def rejected_ids(bundle: Path) -> dict[str, set[str]]:
    """The ids of rejected rows per topic: on a first load, none of them is stored."""
    rows = {(FILES[topic], line): row for topic in FILES for line, row in csv_rows(bundle, topic)}
    ids: dict[str, set[str]] = {topic: set() for topic in FILES}
    file_topic = {file: topic for topic, file in FILES.items()}
    for file, line in dangling(bundle):
        ids[file_topic[file]].add(rows[(file, line)]["sourcedId"])
    return ids


def rewrite(bundle: Path, topic: str, change: Callable[[list[list[str]]], list[list[str]]]) -> None:
    """Rewrite a file of the bundle: `change` gets and returns its rows, header first."""
    path = bundle / FILES[topic]
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(change(rows))


# --- the tenant, read through the API ----------------------------------------------------


def pages(api: httpx.Client, actor: Caller, topic: str, page_size: int, **params: str) -> list:
    """Every item of a topic's list, following `next` from page 0."""
    items: list[dict] = []
    response = api.get(
        f"/v2/interop/data/{topic}",
        params={**params, "page_size": page_size},
        headers=actor.headers,
    )
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["data"]) <= page_size
        items += body["data"]
        if body["paging"]["next"] is None:
            return items
        assert len(body["data"]) == page_size
        response = api.get(body["paging"]["next"], headers=actor.headers)


def served(api: httpx.Client, actor: Caller, topic: str, **params: str) -> list[dict]:
    """The topic's items, read at every page size, which must all agree."""
    readings = [pages(api, actor, topic, size, **params) for size in PAGE_SIZES]
    assert all(reading == readings[0] for reading in readings), topic
    return readings[0]


def compared(item: dict) -> dict:
    """An item without what the bundle cannot say (`updated_at`)."""
    return {key: value for key, value in item.items() if key != "updated_at"}


def assert_serves(
    api: httpx.Client,
    actor: Caller,
    bundle: Path,
    topic: str,
    rejected: frozenset[str] | set[str] = frozenset(),
) -> None:
    """The topic serves the bundle's active rows, but `rejected` (stored by no run)."""
    items = served(api, actor, topic)
    ids = [item["sourced_id"] for item in items]
    assert ids == sorted(ids), f"{topic} are listed in sourcedId order"
    assert len(set(ids)) == len(ids), f"{topic} are listed once each"
    expected = {
        sid: expected_record(topic, row)
        for sid, row in active_rows(bundle, topic).items()
        if sid not in rejected
    }
    assert set(ids) == set(expected), topic
    for item in items:
        want = expected[item["sourced_id"]]
        got = compared(item)
        # Columns the file lacks are served empty: null, or [] for a list.
        extra = {key: got.pop(key) for key in set(got) - set(want)}
        assert all(value in (None, []) for value in extra.values()), (topic, extra)
        assert got == want, topic
        one = api.get(f"/v2/interop/data/{topic}/{item['sourced_id']}", headers=actor.headers)
        assert one.json()["data"] == item


# --- 1. what a collection serves ---------------------------------------------------------


@pytest.mark.parametrize("bundle", BUNDLES)
def test_every_topic_serves_exactly_what_the_bundle_says(server, api, bundle):
    _, actor = new_collecting_tenant(server, api, bundle)
    result = collect(server, api, actor)
    rejected = rejected_ids(bundle)
    for topic in FILES:
        assert_serves(api, actor, bundle, topic, rejected[topic])
    read = {FILES[topic]: len(list(csv_rows(bundle, topic))) for topic in FILES}
    active = sum(len(active_rows(bundle, topic)) for topic in FILES)
    dangling_rows = dangling(bundle)
    # categories.csv is not read (the minimal manifest lists it `bulk`, without the file).
    assert result["progress"] == read
    assert result["stats"] == {
        "records_read": sum(read.values()),
        "created": active - len(dangling_rows),
        "updated": 0,
        "deleted": 0,
        "rejected": len(dangling_rows),
    }
    # Each rejection is the row's, and names the value that dangles.
    reported = result["details"]["rejected_rows"]
    assert {(r["file"], r["line"]) for r in reported} == set(dangling_rows)
    rows = {(FILES[topic], line): row for topic in FILES for line, row in csv_rows(bundle, topic)}
    for rejection in reported:
        where = (rejection["file"], rejection["line"])
        assert rejection["sourced_id"] == rows[where]["sourcedId"]
        assert rejection["message"].startswith(dangling_rows[where]), rejection
        assert "names no active record" in rejection["message"]


# --- 2. collecting again -----------------------------------------------------------------


def changes(api: httpx.Client, actor: Caller, since: str) -> dict[str, set[tuple[str, str]]]:
    """(sourced_id, status) of every change after `since`, per topic that has any; each
    listed once, oldest change first, whatever the page size."""
    found = {}
    for topic in FILES:
        items = served(api, actor, topic, changed_since=since)
        ids = [item["sourced_id"] for item in items]
        assert len(set(ids)) == len(ids), topic
        order = [(item["updated_at"], item["sourced_id"]) for item in items]
        assert order == sorted(order), topic
        if items:
            found[topic] = {(item["sourced_id"], item["status"]) for item in items}
    return found


def set_cell(rows: list[list[str]], sourced_id: str, column: str, value: str) -> list[list[str]]:
    """The file's rows with one row's cell changed."""
    index = rows[0].index(column)
    return [
        [*row[:index], value, *row[index + 1 :]] if row[0] == sourced_id else row for row in rows
    ]


def with_status_column(rows: list[list[str]]) -> list[list[str]]:
    """The file's rows with a `status` column (minimal bundles have none), all active."""
    if "status" in rows[0]:
        return rows
    return [
        [row[0], "status" if index == 0 else "active", *row[1:]] for index, row in enumerate(rows)
    ]


@pytest.mark.parametrize("bundle", BUNDLES)
def test_collecting_again_reports_exactly_what_changed(server, api, bundle, tmp_path):
    source = tmp_path / "bundle"
    shutil.copytree(bundle, source)
    _, actor = new_collecting_tenant(server, api, source)
    first = collect(server, api, actor)

    again = collect(server, api, actor)
    assert again["stats"] == {**first["stats"], "created": 0}
    assert changes(api, actor, first["completed_at"]) == {}

    def rename(rows):
        return set_cell(rows, "stu3", "givenName", "Renamed")

    def mark_deleted(rows):
        return set_cell(with_status_column(rows), "tea2", "status", "tobedeleted")

    rewrite(source, "users", lambda rows: [row for row in rename(rows) if row[0] != "stu4"])
    rewrite(source, "enrollments", lambda rows: [row for row in rows if row[0] != "enr8"])
    rewrite(source, "demographics", mark_deleted)
    edited = collect(server, api, actor)
    assert (edited["stats"]["created"], edited["stats"]["updated"]) == (0, 1)
    assert edited["stats"]["deleted"] == 3
    assert edited["stats"]["rejected"] == len(dangling(source))
    assert changes(api, actor, again["completed_at"]) == {
        "users": {("stu3", "active"), ("stu4", "tobedeleted")},
        "enrollments": {("enr8", "tobedeleted")},
        "demographics": {("tea2", "tobedeleted")},
    }
    rejected = rejected_ids(source)
    for topic in FILES:
        assert_serves(api, actor, source, topic, rejected[topic])
    assert api.get("/v2/interop/data/demographics/tea2", headers=actor.headers).status_code == 404
    assert changes(api, actor, edited["completed_at"]) == {}


# --- 3. a tenant scoped to one school ----------------------------------------------------


def scope_of(bundle: Path, school: str) -> dict[str, set[str]]:
    """The ids a tenant scoped to `school` (a sourcedId or identifier) receives, by the rules
    of docs/API.md "Scoping", per topic."""
    orgs = active_rows(bundle, "orgs")
    schools = {sid for sid, org in orgs.items() if org["type"] == "school"}
    selected = {sid for sid in schools if school in (sid, orgs[sid].get("identifier"))}

    def school_above(sid: str) -> str | None:
        seen = set()
        while sid in orgs and sid not in schools and sid not in seen:
            seen.add(sid)
            sid = orgs[sid].get("parentSourcedId", "")
        return sid if sid in schools else None

    org_school = {sid: school_above(sid) for sid in orgs}
    in_orgs = {sid for sid, above in org_school.items() if above is None or above in selected}
    courses = {
        sid for sid, row in active_rows(bundle, "courses").items() if row["orgSourcedId"] in in_orgs
    }
    classes = {
        sid
        for sid, row in active_rows(bundle, "classes").items()
        if row["schoolSourcedId"] in in_orgs and row["courseSourcedId"] in courses
    }
    enrollments = {
        sid: row
        for sid, row in active_rows(bundle, "enrollments").items()
        if row["classSourcedId"] in classes
    }
    enrolled = {row["userSourcedId"] for row in enrollments.values()}
    users = set()
    for sid, row in active_rows(bundle, "users").items():
        user_orgs = [org.strip() for org in row["orgSourcedIds"].split(",") if org.strip()]
        user_schools = {org_school.get(org) for org in user_orgs} - {None}
        if (
            sid in enrolled
            or user_schools & selected
            or (not user_schools and any(org in in_orgs for org in user_orgs))
        ):
            users.add(sid)
    return {
        "orgs": in_orgs,
        "academic_sessions": set(active_rows(bundle, "academic_sessions")),
        "courses": courses,
        "classes": classes,
        "users": users,
        "enrollments": set(enrollments),
        "demographics": set(active_rows(bundle, "demographics")) & users,
    }


@pytest.mark.parametrize("bundle", BUNDLES)
@pytest.mark.parametrize("school", ["sch1", "sch2X2"])  # by sourcedId, by identifier
def test_a_tenant_scoped_to_one_school_receives_exactly_its_records(server, api, bundle, school):
    _, actor = new_collecting_tenant(server, api, bundle)
    scoping = api.post(
        "/v2/interop/tenant/scoping/schools",
        json={"data": [{"school_ref_id": school}]},
        headers=actor.headers,
    )
    assert scoping.status_code == 200, scoping.text
    result = collect(server, api, actor)
    # A rejected row is placed by its values like any row: out of scope, it is not rejected;
    # in scope, a first load stores nothing of it.
    in_scope = scope_of(bundle, school)
    rejected = {topic: rejected_ids(bundle)[topic] & in_scope[topic] for topic in FILES}
    expected = {topic: ids - rejected[topic] for topic, ids in in_scope.items()}
    got = {topic: {item["sourced_id"] for item in served(api, actor, topic)} for topic in FILES}
    assert got == expected
    read = sum(len(list(csv_rows(bundle, topic))) for topic in FILES)
    assert result["stats"]["records_read"] == read
    assert result["stats"]["created"] == sum(len(ids) for ids in expected.values())
    assert result["stats"]["rejected"] == sum(len(ids) for ids in rejected.values())
