"""Which field a validation problem names, for unions no route has yet: the actor install
(tests/actors) is the API's one discriminated union today, and the rule is the handler's, not
its."""

from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Discriminator, Field, Tag, ValidationError

from interop.app import field_problem


class Csv(BaseModel):
    kind: Literal["csv"]


class Api(BaseModel):
    kind: Literal["api"]


class Feed(BaseModel):
    sources: list[Annotated[Csv | Api, Field(discriminator="kind")]]
    chosen: Annotated[
        Annotated[Csv, Tag("csv")] | Annotated[Api, Tag("api")],
        Discriminator(lambda value: value.get("kind") if isinstance(value, dict) else None),
    ] = Csv(kind="csv")


def _fields(body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as invalid:
        Feed.model_validate(body)
    errors = [{**error, "loc": ("body", *error["loc"])} for error in invalid.value.errors()]
    return [field_problem(error, None, body)["field"] for error in errors]


@pytest.mark.parametrize("source", [{"kind": "ftp"}, {"kind": 5}, {}])
def test_a_nested_union_s_bad_or_missing_tag_names_the_tag(source: dict[str, Any]) -> None:
    assert _fields({"sources": [{"kind": "csv"}, source]}) == ["body.sources.1.kind"]


def test_a_union_told_apart_by_a_function_is_named_as_pydantic_locates_it() -> None:
    # No field to name: the function may read the tag from anywhere.
    assert _fields({"sources": [], "chosen": {"kind": "ftp"}}) == ["body.chosen"]
