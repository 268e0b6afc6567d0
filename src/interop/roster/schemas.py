"""(ext) Read API shapes: one model per topic, the OneRoster 1.1 columns in snake_case."""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)

from interop.connectors.oneroster_csv import (
    SPEC_BY_TOPIC,
    RowError,
    TopicSpec,
    cell_value,
    snake_case,
)

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


# A date as the parser stores it (`date.isoformat()`), so that one stored otherwise misfits.
IsoDate = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
        json_schema_extra={"format": "date"},
    ),
]


class RosterItem(BaseModel):
    # Columns beyond 1.1 (1.2 additions, vendor columns) pass through under their names.
    # Strict: a stored value fits a field only with the type the parser gives it ("yes" is
    # no boolean to the parser, whatever pydantic's lax mode would make of it).
    model_config = ConfigDict(extra="allow", strict=True)
    spec: ClassVar[TopicSpec]  # these two are set on each topic's model
    pages: ClassVar[TypeAdapter[list[Any]]]

    sourced_id: str
    status: str = Field(description="`active`, or `tobedeleted` for a deletion (deltas only)")
    date_last_modified: datetime | None
    updated_at: datetime = Field(description="When this server last changed the record")
    metadata: dict[str, str] | None = None

    @classmethod
    def served(cls, records: list[dict[str, Any]]) -> list[Self]:
        """A page of `record_out`'s records as this model. A record an earlier version stored
        with a value that misfits its field (a column spelling a typed field another way,
        `Grades` or `EnabledUser`, was kept there as the raw cell) fails validation; the page
        is then validated again with those values refitted. Validated here rather than by the
        route's response model, which takes the instances as they are: a page stored now
        costs the one validation it always did, and no check more."""
        try:
            return cls.pages.validate_python(records)
        except ValidationError as error:
            return cls.pages.validate_python(_refitted(cls.spec, records, error))


def _refitted(
    spec: TopicSpec, records: list[dict[str, Any]], error: ValidationError
) -> list[dict[str, Any]]:
    """The records, each value the validation refused read as the parser reads that cell, or
    left out (null, or an empty list) when the parser would refuse that cell too."""
    misfits: dict[int, set[str]] = {}
    for detail in error.errors(include_url=False):
        index, name = detail["loc"][:2]  # (index in the page, field, …)
        misfits.setdefault(int(index), set()).add(str(name))
    refitted = list(records)
    for index, names in misfits.items():
        record = refitted[index] = dict(records[index])
        for name in names:
            value = _refit(spec, name, record.pop(name, None))
            if value is not None:
                record[name] = value
    return refitted


def _refit(spec: TopicSpec, name: str, stored: Any) -> Any:
    # Earlier versions stored the cell, stripped, or null for an empty one; a value of any
    # other type was never a cell.
    if stored is not None and not isinstance(stored, str):
        return None
    try:
        return cell_value(spec, name, stored or "")
    except RowError:
        return None


def _topic_model(topic: str) -> type[RosterItem]:
    spec = SPEC_BY_TOPIC[topic]
    fields: dict[str, Any] = {}
    for column in TOPIC_COLUMNS[topic]:
        if column in spec.lists:
            fields[snake_case(column)] = (list[str], [])
        elif column in spec.booleans:
            fields[snake_case(column)] = (bool | None, None)
        elif column in spec.dates:
            fields[snake_case(column)] = (IsoDate | None, None)
        else:
            fields[snake_case(column)] = (str | None, None)
    name = "Roster" + "".join(part.title() for part in topic.split("_"))
    model = create_model(name, __base__=RosterItem, **fields)
    model.spec = spec
    model.pages = TypeAdapter(list[model])
    return model


TOPIC_MODELS: dict[str, type[RosterItem]] = {topic: _topic_model(topic) for topic in TOPIC_COLUMNS}
