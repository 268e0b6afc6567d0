"""Cloud rules: names unique per account, deletion takes everything under a cloud with it."""

import uuid

from sqlalchemy import delete
from sqlalchemy.orm import Session

from interop.accounts.repository import is_visible_account
from interop.auth.principals import Principal
from interop.clouds.models import Cloud
from interop.clouds.repository import get_readable_cloud, readable_clouds
from interop.clouds.schemas import CloudCreate
from interop.concurrency import check_if_match
from interop.db import AnySelect, violation_as
from interop.errors import Conflict, NotFound


def create_cloud(session: Session, principal: Principal, body: CloudCreate) -> Cloud:
    account_id = body.account_id or principal.account_id
    if body.account_id and not is_visible_account(session, principal, body.account_id):
        raise NotFound("account")
    cloud = Cloud(
        account_id=account_id, name=body.name, userdata=body.userdata, generation=body.generation
    )
    taken = Conflict("cloud_name_taken", f"the account already has a cloud named {body.name!r}")
    with violation_as(session, taken):
        session.add(cloud)
    return cloud


def search_clouds(
    principal: Principal, generation: int | None, userdata: str | None, name: str | None
) -> AnySelect:
    statement = readable_clouds(principal)
    if generation is not None:
        statement = statement.where(Cloud.generation == generation)
    if userdata is not None:
        statement = statement.where(Cloud.userdata == userdata)
    if name is not None:
        statement = statement.where(Cloud.name == name)
    return statement


def delete_cloud(
    session: Session, principal: Principal, cloud_id: uuid.UUID, if_match: str | None
) -> None:
    """Removes the cloud's actors and tenants (foreign keys cascade), which revokes them."""
    cloud = get_readable_cloud(session, principal, cloud_id, lock=True)
    check_if_match(if_match, cloud.version)
    session.execute(delete(Cloud).where(Cloud.id == cloud.id))
