"""(ext) Read API shapes: one model per topic, the OneRoster 1.1 columns in snake_case."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from interop.connectors.oneroster_csv import SPEC_BY_TOPIC, snake_case

# Every 1.1 column a topic may carry besides sourcedId, status and dateLastModified.
TOPIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "orgs": ("name", "type", "identifier", "parentSourcedId"),
    "academic_sessions": ("title", "type", "startDate", "endDate", "parentSourcedId", "schoolYear"),
    "courses": (
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ),
    "classes": (
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ),
    "users": (
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
    ),
    "enrollments": (
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ),
    "demographics": (
        "birthDate",
        "sex",
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
        "countryOfBirthCode",
        "stateOfBirthAbbreviation",
        "cityOfBirth",
        "publicSchoolResidenceStatus",
    ),
}


class RosterItem(BaseModel):
    # Columns beyond 1.1 (1.2 additions, vendor columns) pass through under their names.
    model_config = ConfigDict(extra="allow")

    sourced_id: str
    status: str = Field(description="`active`, or `tobedeleted` for a deletion (deltas only)")
    date_last_modified: datetime | None
    updated_at: datetime = Field(description="When this server last changed the record")
    metadata: dict[str, str] | None = None


def _topic_model(topic: str) -> type[RosterItem]:
    spec = SPEC_BY_TOPIC[topic]
    fields: dict[str, Any] = {}
    for column in TOPIC_COLUMNS[topic]:
        if column in spec.lists:
            fields[snake_case(column)] = (list[str], [])
        elif column in spec.booleans:
            fields[snake_case(column)] = (bool | None, None)
        else:
            fields[snake_case(column)] = (str | None, None)
    name = "Roster" + "".join(part.title() for part in topic.split("_"))
    return create_model(name, __base__=RosterItem, **fields)


TOPIC_MODELS: dict[str, type[RosterItem]] = {topic: _topic_model(topic) for topic in TOPIC_COLUMNS}
