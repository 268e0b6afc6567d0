"""A rejected row keeps the record stored for its sourcedId and takes nothing else with it;
out-of-scope rows (an org under a school out of scope among them) are neither written,
rejected nor kept, whatever their values; and nothing a CSV holds makes the data API fail.
Bundles of two schools are written row by row here."""

import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from factories import (
    Caller,
    collect,
    new_collecting_tenant,
)
from interop.db import Database
from interop.roster.models import topic_table

TOPICS = ("orgs", "academic_sessions", "courses", "classes", "users", "enrollments", "demographics")
# sch1 and sch2 each have a course, a class, users and enrollments.
TWO_SCHOOLS = {
    "manifest.csv": [
        "propertyName,value",
        "oneroster.version,1.1",
        *(
            f"file.{name},bulk"
            for name in (
                "orgs",
                "academicSessions",
                "courses",
                "classes",
                "enrollments",
                "users",
                "demographics",
            )
        ),
    ],
    "orgs.csv": [
        "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
        "lea1,,,District,district,LEA1,",
        "sch1,,,School 1,school,S1,lea1",
        "sch2,,,School 2,school,S2,lea1",
    ],
    "academicSessions.csv": [
        "sourcedId,title,type,startDate,endDate",
        "t1,Term 1,term,2025-08-01,2025-12-31",
    ],
    "courses.csv": [
        "sourcedId,status,dateLastModified,title,courseCode,orgSourcedId",
        "cou1,,,Math 1,M1,sch1",
        "cou2,,,Math 2,M2,sch2",
    ],
    "classes.csv": [
        "sourcedId,title,courseSourcedId,schoolSourcedId,termSourcedIds",
        "cla1,C1,cou1,sch1,t1",
        "cla2,C2,cou2,sch2,t1",
    ],
    "enrollments.csv": [
        "sourcedId,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate",
        "e1,cla1,sch1,stu1,student,,2025-08-01",
        "e2,cla2,sch2,stu2,student,,2025-08-01",
        "e3,cla2,sch2,tea2,teacher,true,2025-08-01",
    ],
    "users.csv": [
        "sourcedId,enabledUser,orgSourcedIds,role,username,givenName,familyName",
        "stu1,true,sch1,student,s1,Ann,One",
        "stu2,true,sch2,student,s2,Bob,Two",
        "tea2,true,sch2,teacher,t2,Tea,Two",
    ],
    "demographics.csv": [
        "sourcedId,birthDate,sex",
        "stu1,2010-01-01,female",
        "stu2,2010-02-01,male",
    ],
}
ALL_IDS = {
    "orgs": {"lea1", "sch1", "sch2"},
    "academic_sessions": {"t1"},
    "courses": {"cou1", "cou2"},
    "classes": {"cla1", "cla2"},
    "users": {"stu1", "stu2", "tea2"},
    "enrollments": {"e1", "e2", "e3"},
    "demographics": {"stu1", "stu2"},
}
SCH1_IDS = {
    "orgs": {"lea1", "sch1"},
    "academic_sessions": {"t1"},
    "courses": {"cou1"},
    "classes": {"cla1"},
    "users": {"stu1"},
    "enrollments": {"e1"},
    "demographics": {"stu1"},
}


def write_bundle(
    target: Path, base: dict[str, list[str]] = TWO_SCHOOLS, **edits: dict[str, str | None]
) -> Path:
    """The two-school bundle (or `base`), with rows replaced by file and sourcedId, or left out
    for None, and rows of other sourcedIds added at the end:
    `write_bundle(path, courses={"cou2": "cou2,,,,M2,sch2", "cou1": None, "cou3": "cou3,…"})`."""
    target.mkdir(exist_ok=True)
    for file, lines in base.items():
        replaced = edits.get(file.removesuffix(".csv"), {})
        ids = {line.split(",", 1)[0] for line in lines}
        rows = [replaced.get(line.split(",", 1)[0], line) for line in lines]
        rows += [row for sourced_id, row in replaced.items() if sourced_id not in ids]
        (target / file).write_text("\n".join(row for row in rows if row is not None) + "\n")
    return target


def stored_ids(api: httpx.Client, actor: Caller) -> dict[str, set[str]]:
    ids = {}
    for topic in TOPICS:
        response = api.get(f"/v2/interop/data/{topic}", headers=actor.headers)
        assert response.status_code == 200, response.text
        ids[topic] = {record["sourced_id"] for record in response.json()["data"]}
    return ids


def deletions_since(api: httpx.Client, actor: Caller, since: str) -> set[str]:
    deleted = set()
    for topic in TOPICS:
        response = api.get(
            f"/v2/interop/data/{topic}", params={"changed_since": since}, headers=actor.headers
        )
        assert response.status_code == 200, response.text
        deleted |= {
            record["sourced_id"]
            for record in response.json()["data"]
            if record["status"] == "tobedeleted"
        }
    return deleted


def rejected_ids(result: dict) -> list[str | None]:
    return [row["sourced_id"] for row in result["details"]["rejected_rows"]]


def scope_to(api: httpx.Client, actor: Caller, school: str, course: str | None = None) -> None:
    entries = {"schools": {"school_ref_id": school}}
    if course is not None:
        entries["courses"] = {"course_ref_id": course}
    for kind, entry in entries.items():
        response = api.post(
            f"/v2/interop/tenant/scoping/{kind}",
            params={"replace": "true"},
            json={"data": [entry]},
            headers=actor.headers,
        )
        assert response.status_code == 200, response.text


def test_a_course_missing_its_title_keeps_its_record_and_everything_under_it(server, api, tmp_path):
    bundle = write_bundle(tmp_path / "bundle")
    _, actor = new_collecting_tenant(server, api, bundle)
    since = collect(server, api, actor)["completed_at"]
    write_bundle(bundle, courses={"cou2": "cou2,,,,M2,sch2"})

    result = collect(server, api, actor)
    assert result["stats"]["rejected"] == 1
    assert result["stats"]["deleted"] == 0
    assert rejected_ids(result) == ["cou2"]
    assert stored_ids(api, actor) == ALL_IDS
    assert deletions_since(api, actor, since) == set()


def test_a_school_with_a_bad_date_last_modified_keeps_its_users_and_their_demographics(
    server, api, tmp_path
):
    bundle = write_bundle(tmp_path / "bundle")
    _, actor = new_collecting_tenant(server, api, bundle)
    since = collect(server, api, actor)["completed_at"]
    write_bundle(bundle, orgs={"sch2": "sch2,,yesterday,School 2,school,S2,lea1"})

    result = collect(server, api, actor)
    assert (result["stats"]["rejected"], result["stats"]["deleted"]) == (1, 0)
    assert rejected_ids(result) == ["sch2"]
    assert stored_ids(api, actor) == ALL_IDS
    assert deletions_since(api, actor, since) == set()


@pytest.mark.parametrize("modified", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_date_last_modified_outside_the_years_1_to_9999_in_utc_is_a_rejected_row(
    server, api, tmp_path, modified
):
    """Such a time is valid ISO 8601 but has no UTC counterpart in Python: it failed the whole
    collection as an unexpected error, on both backends."""
    bundle = write_bundle(tmp_path / "bundle")
    _, actor = new_collecting_tenant(server, api, bundle)
    collect(server, api, actor)
    write_bundle(bundle, orgs={"sch2": f"sch2,,{modified},School 2,school,S2,lea1"})

    result = collect(server, api, actor)

    assert [row["message"] for row in result["details"]["rejected_rows"]] == [
        f"dateLastModified {modified!r} lies outside years 1 to 9999 once converted to UTC"
    ]
    assert stored_ids(api, actor) == ALL_IDS


def test_rows_referring_to_a_rejected_row_are_written_on_a_first_load(server, api, tmp_path):
    bundle = write_bundle(tmp_path / "bundle", courses={"cou2": "cou2,,,,M2,sch2"})
    _, actor = new_collecting_tenant(server, api, bundle)
    result = collect(server, api, actor)
    assert rejected_ids(result) == ["cou2"]
    expected = {**ALL_IDS, "courses": {"cou1"}}
    assert stored_ids(api, actor) == expected
    assert result["stats"]["created"] == sum(len(ids) for ids in expected.values())


def test_a_row_with_too_many_values_is_rejected_with_its_sourced_id_and_keeps_its_record(
    server, api, tmp_path
):
    bundle = write_bundle(tmp_path / "bundle")
    _, actor = new_collecting_tenant(server, api, bundle)
    collect(server, api, actor)
    write_bundle(bundle, users={"stu2": "stu2,true,sch2,student,s2,Bob,Two,extra"})

    result = collect(server, api, actor)
    assert (result["stats"]["rejected"], result["stats"]["deleted"]) == (1, 0)
    assert rejected_ids(result) == ["stu2"]
    assert "8 values for 7 columns" in result["details"]["rejected_rows"][0]["message"]
    assert stored_ids(api, actor) == ALL_IDS


# Bad values in every file's sch2 rows; academic sessions belong to every school.
BAD_SCH2_ROWS = {
    "orgs": {"sch2": "sch2,,yesterday,School 2,school,S2,lea1"},
    "courses": {"cou2": "cou2,,not-a-date,Math 2,M2,sch2"},
    "classes": {"cla2": "cla2,C2,cou2,sch2,t1,extra"},
    "enrollments": {"e2": "e2,cla2,sch2,stu2,student,maybe,2025-08-01"},
    "users": {"stu2": "stu2,yes,sch2,student,s2,Bob,Two"},
    "demographics": {"stu2": "stu2,2010-13-01,male"},
}


def test_bad_rows_out_of_scope_are_not_rejected(server, api, tmp_path):
    bundle = write_bundle(tmp_path / "bundle", **BAD_SCH2_ROWS)
    _, actor = new_collecting_tenant(server, api, bundle)
    scope_to(api, actor, "S1")

    result = collect(server, api, actor)
    assert result["stats"]["rejected"] == 0, result["details"]["rejected_rows"]
    assert stored_ids(api, actor) == SCH1_IDS


def test_bad_rows_of_a_school_that_left_the_scope_are_deleted_not_kept(server, api, tmp_path):
    bundle = write_bundle(tmp_path / "bundle")
    _, actor = new_collecting_tenant(server, api, bundle)
    scope_to(api, actor, "sch2")
    collect(server, api, actor)
    assert stored_ids(api, actor)["users"] == {"stu2", "tea2"}
    write_bundle(bundle, **BAD_SCH2_ROWS)
    scope_to(api, actor, "sch1")

    result = collect(server, api, actor)
    assert result["stats"]["rejected"] == 0, result["details"]["rejected_rows"]
    assert stored_ids(api, actor) == SCH1_IDS
    # sch2, cou2, cla2, e2, e3, stu2, tea2 and stu2's demographics left; sch1's arrived.
    assert result["stats"]["deleted"] == 8
    assert result["stats"]["created"] == 6


@pytest.mark.parametrize(
    "course_row",
    [
        "cou1,,,,M1,sch1",  # no title: in scope by its school
        # Without its school the course cannot be placed: the record stored for it decides.
        "cou1,,,Math 1,M1,",
    ],
    ids=["placed-in-scope", "lost-what-places-it"],
)
def test_a_rejected_row_of_the_scope_keeps_its_record_and_everything_under_it(
    server, api, tmp_path, course_row
):
    bundle = write_bundle(tmp_path / "bundle")
    _, actor = new_collecting_tenant(server, api, bundle)
    scope_to(api, actor, "S1")
    collect(server, api, actor)
    write_bundle(bundle, courses={"cou1": course_row})

    result = collect(server, api, actor)
    assert (result["stats"]["rejected"], result["stats"]["deleted"]) == (1, 0)
    assert rejected_ids(result) == ["cou1"]
    assert stored_ids(api, actor) == SCH1_IDS


def test_a_plain_metadata_column_is_kept_under_metadata(server, api, tmp_path):
    bundle = write_bundle(tmp_path / "bundle")
    orgs = [line + ",x" for line in TWO_SCHOOLS["orgs.csv"]]
    orgs[0] = orgs[0].removesuffix(",x") + ",metadata,metadata.color"
    orgs[1] = orgs[1].removesuffix(",x") + ",a note,blue"
    orgs[2] = orgs[2].removesuffix(",x") + ",,"
    (bundle / "orgs.csv").write_text("\n".join(orgs) + "\n")
    _, actor = new_collecting_tenant(server, api, bundle)
    collect(server, api, actor)

    response = api.get("/v2/interop/data/orgs", headers=actor.headers)
    assert response.status_code == 200, response.text
    metadata = {org["sourced_id"]: org["metadata"] for org in response.json()["data"]}
    assert metadata == {
        "lea1": {"metadata": "a note", "color": "blue"},
        "sch1": None,
        "sch2": {"metadata": "x"},
    }


def test_columns_named_like_the_read_apis_fields_cannot_break_it(server, api, tmp_path):
    bundle = write_bundle(tmp_path / "bundle")
    odd = "metadata,Grades,term_sourced_ids,Enabled_User,sourced_id,updated_at,model_config"
    values = "note,9,t1,maybe,other,yesterday,x"
    for file in ("orgs", "courses", "classes", "users"):
        lines = TWO_SCHOOLS[f"{file}.csv"]
        text = [f"{lines[0]},{odd}", *(f"{line},{values}" for line in lines[1:])]
        (bundle / f"{file}.csv").write_text("\n".join(text) + "\n")
    _, actor = new_collecting_tenant(server, api, bundle)
    result = collect(server, api, actor)
    assert result["stats"]["rejected"] == 0, result["details"]["rejected_rows"]
    assert stored_ids(api, actor) == ALL_IDS
    for topic in TOPICS:
        one = next(iter(ALL_IDS[topic]))
        response = api.get(f"/v2/interop/data/{topic}/{one}", headers=actor.headers)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["sourced_id"] == one


def test_a_plain_metadata_string_stored_by_an_earlier_version_is_served(server, api, tmp_path):
    # Before bare `metadata` columns were read as the metadata key `metadata`, their value
    # was stored as a string: the read API answered 500 until the next collection.
    _, actor = new_collecting_tenant(server, api, write_bundle(tmp_path / "bundle"))
    collect(server, api, actor)
    table = topic_table("orgs")
    database = Database(server.database_url)
    try:
        with database.transaction() as session:
            session.execute(
                update(table)
                .where(
                    table.c.tenant_id == uuid.UUID(actor.extra["tenant_id"]),
                    table.c.sourced_id == "sch1",
                )
                .values(fields={"name": "School 1", "type": "school", "metadata": "a note"})
            )
    finally:
        database.dispose()

    for path in ("/v2/interop/data/orgs", "/v2/interop/data/orgs/sch1"):
        response = api.get(path, headers=actor.headers)
        assert response.status_code == 200, response.text
    assert response.json()["data"]["metadata"] == {"metadata": "a note"}


# Departments under each school, listed before their school; departments of the district, a
# pair that are each other's parent and one whose parent is no org belong to no school.
DEPARTMENTS = {
    "orgs": {
        "lea1": "\n".join(
            (
                "lea1,,,District,district,LEA1,",
                "dep2,,,Dept 2,department,D2,sch2",
                "sub2,,,Sub 2,department,SD2,dep2",
                "dep1,,,Dept 1,department,D1,sch1",
                "depl,,,Dept L,department,DL,lea1",
                "cyc1,,,Cycle 1,department,C1,cyc2",
                "cyc2,,,Cycle 2,department,C2,cyc1",
                "orp,,,Orphan,department,OR,gone",
            )
        ),
    },
    "courses": {"cou2": "cou2,,,Math 2,M2,sch2\ncod1,,,Art 1,A1,dep1\ncod2,,,Art 2,A2,sub2"},
    "classes": {"cla2": "cla2,C2,cou2,sch2,t1\ncld1,D1,cod1,dep1,t1\ncld2,D2,cod2,dep2,t1"},
    "users": {
        "tea2": "\n".join(
            (
                "tea2,true,sch2,teacher,t2,Tea,Two",
                "usd1,true,dep1,teacher,d1,Dee,One",
                "usd2,true,dep2,teacher,d2,Dee,Two",
                'usl2,true,"sub2,lea1",teacher,l2,Ell,Two',
                "usl,true,depl,administrator,dl,Ell,Lea",
            )
        )
    },
}


def test_an_org_under_a_school_out_of_scope_is_out_of_scope_with_what_hangs_off_it(
    server, api, tmp_path
):
    bundle = write_bundle(tmp_path / "bundle", **DEPARTMENTS)
    _, actor = new_collecting_tenant(server, api, bundle)
    scope_to(api, actor, "S1")

    result = collect(server, api, actor)
    # Its parent is no org of the bundle: nothing places it, so it is rejected for its parent
    # (not left out), and kept only by a tenant that holds it.
    assert rejected_ids(result) == ["orp"]
    ids = stored_ids(api, actor)
    assert ids["orgs"] == {"lea1", "sch1", "dep1", "depl", "cyc1", "cyc2"}
    assert ids["courses"] == {"cou1", "cod1"}
    assert ids["classes"] == {"cla1", "cld1"}
    # A user of a department of sch2 is sch2's, even alongside the district.
    assert ids["users"] == {"stu1", "usd1", "usl"}


def test_a_department_follows_its_school_into_the_scope(server, api, tmp_path):
    bundle = write_bundle(tmp_path / "bundle", **DEPARTMENTS)
    _, actor = new_collecting_tenant(server, api, bundle)
    scope_to(api, actor, "S1")
    collect(server, api, actor)
    scope_to(api, actor, "sch2")

    result = collect(server, api, actor)
    ids = stored_ids(api, actor)
    assert ids["orgs"] == {"lea1", "sch2", "dep2", "sub2", "depl", "cyc1", "cyc2"}
    assert ids["courses"] == {"cou2", "cod2"}
    assert ids["classes"] == {"cla2", "cld2"}
    assert ids["users"] == {"stu2", "tea2", "usd2", "usl2", "usl"}
    assert "dep1" in deletions_since(api, actor, result["started_at"])


def test_a_department_whose_school_left_the_export_stays_with_the_tenants_that_held_it(
    server, api, tmp_path
):
    bundle = write_bundle(tmp_path / "bundle", **DEPARTMENTS)
    _, other = new_collecting_tenant(server, api, bundle)
    scope_to(api, other, "S1")
    _, holder = new_collecting_tenant(server, api, bundle)
    scope_to(api, holder, "sch2")
    collect(server, api, other)
    collect(server, api, holder)
    before = stored_ids(api, other)
    # sch2 leaves the export; its departments, and what hangs off them, stay in it.
    write_bundle(bundle, **{**DEPARTMENTS, "orgs": {**DEPARTMENTS["orgs"], "sch2": None}})

    collect(server, api, other)
    # Nothing tells that they are no longer sch2's: they do not reach a tenant of sch1.
    assert stored_ids(api, other) == before
    result = collect(server, api, holder)
    held = stored_ids(api, holder)
    assert "dep2" in rejected_ids(result)  # its parent names nothing now; sub2's does
    assert {"dep2", "sub2"} <= held["orgs"] and "sch2" not in held["orgs"]
    assert "cod2" in held["courses"] and "cld2" in held["classes"]
    assert {"usd2", "usl2"} <= held["users"]


COU2_EDITED = "cou2,,,Math 2 (new),M2,sch2"
COU2_DELETED = "cou2,tobedeleted,,Math 2,M2,sch2"
DUPLICATE_COU2 = {
    "file": "courses.csv",
    "line": 4,
    "sourced_id": "cou2",
    "message": "duplicate sourcedId",
}


@pytest.mark.parametrize(
    ("rows", "title"),
    [
        ((COU2_EDITED, COU2_DELETED), "Math 2 (new)"),  # the first row counts, as for two
        ((COU2_DELETED, COU2_EDITED), "Math 2"),  # the active repeat keeps the record
    ],
    ids=["active-first", "tobedeleted-first"],
)
def test_a_sourced_id_both_active_and_tobedeleted_is_a_duplicate_and_deletes_nothing(
    server, api, tmp_path, rows, title
):
    bundle = write_bundle(tmp_path / "bundle")
    _, actor = new_collecting_tenant(server, api, bundle)
    since = collect(server, api, actor)["completed_at"]
    write_bundle(bundle, courses={"cou2": "\n".join(rows)})

    result = collect(server, api, actor)
    assert result["details"]["rejected_rows"] == [DUPLICATE_COU2]
    assert result["stats"]["deleted"] == 0
    assert stored_ids(api, actor) == ALL_IDS
    assert deletions_since(api, actor, since) == set()
    response = api.get("/v2/interop/data/courses/cou2", headers=actor.headers)
    assert response.json()["data"]["title"] == title


def test_a_deletion_listed_twice_is_a_duplicate_and_deletes(server, api, tmp_path):
    bundle = write_bundle(tmp_path / "bundle")
    _, actor = new_collecting_tenant(server, api, bundle)
    since = collect(server, api, actor)["completed_at"]
    write_bundle(bundle, courses={"cou2": f"{COU2_DELETED}\n{COU2_DELETED}"})

    result = collect(server, api, actor)
    # As for one deletion, the class left naming the course is rejected and kept.
    assert rejected_ids(result) == ["cou2", "cla2"]
    assert result["details"]["rejected_rows"][0] == DUPLICATE_COU2
    assert deletions_since(api, actor, since) == {"cou2"}


def plus(ids: dict[str, set[str]], *more: dict[str, set[str]]) -> dict[str, set[str]]:
    return {topic: ids[topic].union(*(extra.get(topic, set()) for extra in more)) for topic in ids}


# The two schools, with a department of sch1 whose teacher (usd1) is enrolled nowhere, and
# sch2's teacher (tea2) teaching in sch1's class too: in sch1's scope only through that class.
DEPARTMENT_ROWS = {
    "orgs.csv": ["dep1,,,Dept 1,department,D1,sch1"],
    "enrollments.csv": ["e4,cla1,sch1,tea2,teacher,,2025-08-01"],
    "users.csv": ["usd1,true,dep1,teacher,d1,Dee,One"],
    "demographics.csv": ["usd1,1980-01-01,female"],
}
WITH_DEPARTMENT = {
    file: [*lines, *DEPARTMENT_ROWS.get(file, [])] for file, lines in TWO_SCHOOLS.items()
}
DEPARTMENT_IDS = {
    "orgs": {"dep1"},
    "enrollments": {"e4"},
    "users": {"usd1"},
    "demographics": {"usd1"},
}
# What a tenant collecting WITH_DEPARTMENT holds, by its school entry (None: no scoping).
HOLDINGS = {
    None: plus(ALL_IDS, DEPARTMENT_IDS),
    "S1": plus(SCH1_IDS, DEPARTMENT_IDS, {"users": {"tea2"}}),
}


# sch2's class, whose school places it out of sch1's scope whatever its course names, and
# sch2's enrollments, which their school places out when their class names nothing.
OUT_BY_ITS_SCHOOL = {
    "course-dropped": {"courses": {"cou2": None}},
    "course-names-nothing": {"classes": {"cla2": "cla2,C2,gone,sch2,t1"}},
    "course-missing": {"classes": {"cla2": "cla2,C2,,sch2,t1"}},  # rejected for it
    "class-dropped": {"classes": {"cla2": None}},
}


@pytest.mark.parametrize("first_load", [True, False], ids=["first-load", "left-the-scope"])
@pytest.mark.parametrize("edits", OUT_BY_ITS_SCHOOL.values(), ids=OUT_BY_ITS_SCHOOL.keys())
def test_a_row_whose_school_is_out_of_scope_is_out_whatever_its_course_or_class_names(
    server, api, tmp_path, first_load, edits
):
    bundle = write_bundle(tmp_path / "bundle")
    _, actor = new_collecting_tenant(server, api, bundle)
    if not first_load:
        scope_to(api, actor, "sch2")
        collect(server, api, actor)
    write_bundle(bundle, **edits)
    scope_to(api, actor, "S1")

    result = collect(server, api, actor)
    assert result["stats"]["rejected"] == 0, result["details"]["rejected_rows"]
    assert stored_ids(api, actor) == SCH1_IDS


# A rejected user enrolled in scope, or of a school in scope (through its department), is in
# scope whatever its other orgs name: its demographics are written, as without scoping.
USER_IN_BY_ONE_VALUE = {
    "enrolled": ("stu1", "stu1,yes,gone,student,s1,Ann,One"),
    "of-a-school": ("usd1", 'usd1,yes,"dep1,gone",teacher,d1,Dee,One'),
}


@pytest.mark.parametrize("school", [None, "S1"], ids=["unscoped", "scoped"])
@pytest.mark.parametrize(
    ("user", "row"), USER_IN_BY_ONE_VALUE.values(), ids=USER_IN_BY_ONE_VALUE.keys()
)
def test_a_rejected_user_one_of_its_values_places_in_scope_takes_its_demographics_along(
    server, api, tmp_path, school, user, row
):
    bundle = write_bundle(tmp_path / "bundle", WITH_DEPARTMENT, users={user: row})
    _, actor = new_collecting_tenant(server, api, bundle)
    if school is not None:
        scope_to(api, actor, school)

    result = collect(server, api, actor)
    assert rejected_ids(result) == [user]
    expected = {**HOLDINGS[school], "users": HOLDINGS[school]["users"] - {user}}
    assert stored_ids(api, actor) == expected


# (edits, rows rejected, records deleted): a row whose reference names no record of the
# bundle any more is rejected and keeps its record, and what hangs off it stays, scoped or
# not: a class's enrollments and the users in scope only through them (tea2), an enrollment's
# user, a user's demographics (usd1's, whose only org left).
DANGLING_REFERENCES = {
    "course-dropped": ({"courses": {"cou1": None}}, ["cla1"], {"cou1"}),
    "course-tobedeleted": (
        {"courses": {"cou1": "cou1,tobedeleted,,Math 1,M1,sch1"}},
        ["cla1"],
        {"cou1"},
    ),
    "class-names-no-school": ({"classes": {"cla1": "cla1,C1,cou1,gone,t1"}}, ["cla1"], set()),
    "school-dropped": (
        {"orgs": {"sch1": None}},
        ["dep1", "cou1", "cla1", "e1", "e4", "stu1"],
        {"sch1"},
    ),
    "school-tobedeleted": (
        {"orgs": {"sch1": "sch1,tobedeleted,,School 1,school,S1,lea1"}},
        ["dep1", "cou1", "cla1", "e1", "e4", "stu1"],
        {"sch1"},
    ),
    "class-dropped": ({"classes": {"cla1": None}}, ["e1", "e4"], {"cla1"}),
    "department-dropped": ({"orgs": {"dep1": None}}, ["usd1"], {"dep1"}),
    "user-names-no-org": (
        {"users": {"usd1": "usd1,true,gone,teacher,d1,Dee,One"}},
        ["usd1"],
        set(),
    ),
}


@pytest.mark.parametrize("school", [None, "S1"], ids=["unscoped", "scoped"])
@pytest.mark.parametrize(
    ("edits", "rejected", "deleted"), DANGLING_REFERENCES.values(), ids=DANGLING_REFERENCES.keys()
)
def test_a_row_whose_reference_dangles_keeps_its_record_and_everything_under_it(
    server, api, tmp_path, school, edits, rejected, deleted
):
    bundle = write_bundle(tmp_path / "bundle", WITH_DEPARTMENT)
    _, actor = new_collecting_tenant(server, api, bundle)
    if school is not None:
        scope_to(api, actor, school)
    since = collect(server, api, actor)["completed_at"]
    assert stored_ids(api, actor) == HOLDINGS[school]
    write_bundle(bundle, WITH_DEPARTMENT, **edits)

    result = collect(server, api, actor)
    assert rejected_ids(result) == rejected
    assert deletions_since(api, actor, since) == deleted
    expected = {topic: ids - deleted for topic, ids in HOLDINGS[school].items()}
    assert stored_ids(api, actor) == expected


# (edits, rows rejected, records not received) on a first load, when the tenant holds nothing
# to decide what its scoping cannot place: a class whose course is gone or rejected (however
# little of the course can be read) is sch1's by its school, an enrollment whose class is gone
# sch1's by the school it names, so a tenant of sch1 receives what an unscoped one receives of
# sch1: the class's enrollments and the users enrolled through them (tea2), and the same
# rejections.
FIRST_LOAD_DANGLING = {
    "course-dropped": ({"courses": {"cou1": None}}, ["cla1"], {"cou1", "cla1"}),
    "course-tobedeleted": (
        {"courses": {"cou1": "cou1,tobedeleted,,Math 1,M1,sch1"}},
        ["cla1"],
        {"cou1", "cla1"},
    ),
    "course-names-no-org": ({"courses": {"cou1": "cou1,,,Math 1,M1,gone"}}, ["cou1"], {"cou1"}),
    "course-missing-its-org": ({"courses": {"cou1": "cou1,,,Math 1,M1,"}}, ["cou1"], {"cou1"}),
    "class-dropped": ({"classes": {"cla1": None}}, ["e1", "e4"], {"cla1", "e1", "e4"}),
}


@pytest.mark.parametrize("school", [None, "S1"], ids=["unscoped", "scoped"])
@pytest.mark.parametrize(
    ("edits", "rejected", "missing"), FIRST_LOAD_DANGLING.values(), ids=FIRST_LOAD_DANGLING.keys()
)
def test_a_row_whose_reference_dangles_on_a_first_load_takes_nothing_else_with_it(
    server, api, tmp_path, school, edits, rejected, missing
):
    bundle = write_bundle(tmp_path / "bundle", WITH_DEPARTMENT, **edits)
    _, actor = new_collecting_tenant(server, api, bundle)
    if school is not None:
        scope_to(api, actor, school)

    result = collect(server, api, actor)
    assert rejected_ids(result) == rejected
    expected = {topic: ids - missing for topic, ids in HOLDINGS[school].items()}
    assert stored_ids(api, actor) == expected


# (rows rejected, records not received) when cou1 leaves the bundle of a tenant scoped to sch1
# and the course M1 (cou1): its school cannot place cla1 in, as cla1's course would have to be
# a selected one, which nothing tells, so the record the tenant holds decides; with none, what
# hangs off the class is rejected too, as of unknown scope.
COURSE_SCOPED_CLASS_LOSES_ITS_COURSE = {
    "first-load": (True, ["cla1", "e1", "e4"], {"cou1", "cla1", "e1", "e4", "tea2"}),
    "later-load": (False, ["cla1"], {"cou1"}),
}


@pytest.mark.parametrize(
    ("first_load", "rejected", "missing"),
    COURSE_SCOPED_CLASS_LOSES_ITS_COURSE.values(),
    ids=COURSE_SCOPED_CLASS_LOSES_ITS_COURSE.keys(),
)
def test_with_course_entries_a_class_whose_course_is_gone_is_placed_by_the_record_held(
    server, api, tmp_path, first_load, rejected, missing
):
    bundle = write_bundle(tmp_path / "bundle", WITH_DEPARTMENT)
    _, actor = new_collecting_tenant(server, api, bundle)
    scope_to(api, actor, "S1", course="M1")
    if not first_load:
        collect(server, api, actor)
    write_bundle(bundle, WITH_DEPARTMENT, courses={"cou1": None})

    result = collect(server, api, actor)
    assert rejected_ids(result) == rejected
    expected = {topic: ids - missing for topic, ids in HOLDINGS["S1"].items()}
    assert stored_ids(api, actor) == expected
    messages = [row["message"] for row in result["details"]["rejected_rows"][1:]]
    assert all("names a rejected record of classes of unknown scope" in m for m in messages)


def test_a_sourced_id_longer_than_a_record_can_be_stored_under_is_a_rejected_row(
    server, api, tmp_path
):
    """PostgreSQL refused such an id (the column holds 255 characters) and failed the whole
    run as an internal error; SQLite stored it. Both reject the row now, and a row referring to
    it names no record."""
    too_long, longest = "x" * 256, "y" * 255
    bundle = write_bundle(
        tmp_path / "bundle",
        users={
            too_long: f"{too_long},true,sch1,student,l,Long,Id",
            longest: f"{longest},true,sch1,student,e,Edge,Id",
        },
        enrollments={
            "e4": f"e4,cla1,sch1,{too_long},student,,2025-08-01",
            "e5": f"e5,cla1,sch1,{longest},student,,2025-08-01",
        },
    )
    _, actor = new_collecting_tenant(server, api, bundle)

    result = collect(server, api, actor)
    rejections = {row["sourced_id"]: row["message"] for row in result["details"]["rejected_rows"]}
    assert rejections == {
        too_long: "sourcedId is longer than 255 characters",
        "e4": f"userSourcedId {too_long!r} names no active record of users",
    }
    stored = stored_ids(api, actor)
    assert stored["users"] == ALL_IDS["users"] | {longest}
    assert stored["enrollments"] == ALL_IDS["enrollments"] | {"e5"}


def test_a_row_holding_the_nul_character_is_a_rejected_row(server, api, tmp_path):
    """PostgreSQL stores no text holding U+0000: one such cell failed the whole collection as
    an internal error, while SQLite stored it. Both reject the row now, naming the column (and
    not the sourcedId when it is the one holding it), as they reject a row referring to such
    an id, which holds it too."""
    bundle = write_bundle(
        tmp_path / "bundle",
        users={
            "stu3": "stu3,true,sch1,student,s3,An\x00n,Three",
            "stu\x004": "stu\x004,true,sch1,student,s4,Dan,Four",
        },
        enrollments={"e4": "e4,cla1,sch1,stu\x004,student,,2025-08-01"},
    )
    _, actor = new_collecting_tenant(server, api, bundle)

    result = collect(server, api, actor)

    rejections = [
        (row["file"], row["line"], row["sourced_id"], row["message"])
        for row in result["details"]["rejected_rows"]
    ]
    held = "holds the NUL character (U+0000), which no record can store"
    assert rejections == [
        ("enrollments.csv", 5, "e4", f"userSourcedId {held}"),
        ("users.csv", 5, "stu3", f"givenName {held}"),
        ("users.csv", 6, None, f"sourcedId {held}"),
    ]
    assert stored_ids(api, actor) == ALL_IDS


def test_a_rejection_quotes_at_most_300_characters_of_a_cell(server, api, tmp_path):
    """A cell may hold a megabyte, and an ingestion reports up to 100 rejected rows, served
    with it in every list: four such rows made 4 MB of details. A quoted value, or an id no
    record could have, is cut after 300 characters (more than an id holds)."""
    big, long_id = "x" * 1_000_000, "y" * 1_000
    bundle = write_bundle(
        tmp_path / "bundle",
        users={
            "big": f"big,{big},sch1,student,b,Big,One",
            long_id: f"{long_id},true,sch1,student,b,Long,Id",
        },
        enrollments={"e4": f"e4,cla1,sch1,{big},student,,2025-08-01"},
    )
    _, actor = new_collecting_tenant(server, api, bundle)

    result = collect(server, api, actor)

    cut = f"{'x' * 300!r}… (1,000,000 characters)"
    assert [(row["sourced_id"], row["message"]) for row in result["details"]["rejected_rows"]] == [
        ("e4", f"userSourcedId {cut} names no active record of users"),
        ("big", f"enabledUser must be true or false, got {cut}"),
        ("y" * 300 + "…", "sourcedId is longer than 255 characters"),
    ]
    assert stored_ids(api, actor) == ALL_IDS
