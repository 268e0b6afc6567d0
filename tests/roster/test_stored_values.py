"""The data API serves every stored record, whatever its stored field types: earlier versions
stored a column that spells a typed field another way (`Grades`, `EnabledUser`, `BirthDate`)
under the typed field's key as the raw cell, or null for an empty one. Such a value is served
as the current parser reads that cell, and left out when the parser would refuse it."""

from typing import Any

import httpx
import pytest

from factories import new_tenant, store_records
from interop.connectors.oneroster_csv import SPEC_BY_TOPIC, SPECS, snake_case

# What may be stored for a typed field of each kind, and what is served: record r<n> of a
# topic holds the n-th value of its field's kind in every typed field.
STORED_AND_SERVED: dict[str, list[tuple[Any, Any]]] = {
    "list": [
        (["09"], ["09"]),  # as stored now
        ("09, 10,", ["09", "10"]),
        ("09", ["09"]),
        (None, []),
        (9, []),  # never a cell: left out
        ({"a": "b"}, []),
    ],
    "boolean": [
        (False, False),
        ("TRUE", True),
        ("false", False),
        ("", None),
        ("yes", None),  # the parser refuses it (pydantic would read it as true)
        (1, None),
    ],
    "date": [
        ("2010-05-01", "2010-05-01"),
        ("20100501", "2010-05-01"),
        (" 2010-05-01 ", "2010-05-01"),
        ("", None),
        ("05/01/2010", None),  # the parser refuses it
        (20100501, None),
    ],
}
RECORDS = len(STORED_AND_SERVED["list"])


def typed_fields(topic: str) -> dict[str, str]:
    """Every typed field of a topic, by the kind of its values."""
    spec = SPEC_BY_TOPIC[topic]
    kinds = (("list", spec.lists), ("boolean", spec.booleans), ("date", spec.dates))
    return {snake_case(column): kind for kind, columns in kinds for column in columns}


@pytest.mark.parametrize("topic", [spec.topic for spec in SPECS if spec.typed])
def test_typed_values_stored_by_an_earlier_version_are_served_as_the_parser_reads_them(
    server, api: httpx.Client, topic: str
):
    _, actor = new_tenant(server, api)
    kinds = typed_fields(topic)
    stored, served = {}, {}
    for n in range(RECORDS):
        cases = {field: STORED_AND_SERVED[kind][n] for field, kind in kinds.items()}
        stored[f"r{n}"] = {"vendor": "kept"} | {field: case[0] for field, case in cases.items()}
        served[f"r{n}"] = {"vendor": "kept"} | {field: case[1] for field, case in cases.items()}
    store_records(server, actor, topic, stored)

    response = api.get(f"/v2/interop/data/{topic}", headers=actor.headers)
    assert response.status_code == 200, response.text
    listed = {item["sourced_id"]: item for item in response.json()["data"]}
    assert {
        sid: {name: item[name] for name in served[sid]} for sid, item in listed.items()
    } == served
    for sourced_id, expected in served.items():
        response = api.get(f"/v2/interop/data/{topic}/{sourced_id}", headers=actor.headers)
        assert response.status_code == 200, response.text
        item = response.json()["data"]
        assert {name: item[name] for name in expected} == expected


def test_other_values_that_misfit_are_left_out_and_a_plain_metadata_string_is_metadata(
    server, api: httpx.Client
):
    _, actor = new_tenant(server, api)
    store_records(
        server,
        actor,
        "orgs",
        {
            "o1": {"name": 5, "type": "school", "metadata": "a note"},
            "o2": {"name": "School 2", "type": ["school"], "metadata": {"color": 1}},
        },
    )

    response = api.get("/v2/interop/data/orgs", headers=actor.headers)
    assert response.status_code == 200, response.text
    served = {item["sourced_id"]: item for item in response.json()["data"]}
    assert (served["o1"]["name"], served["o1"]["type"]) == (None, "school")
    assert served["o1"]["metadata"] == {"metadata": "a note"}
    assert (served["o2"]["name"], served["o2"]["type"], served["o2"]["metadata"]) == (
        "School 2",
        None,
        None,
    )
