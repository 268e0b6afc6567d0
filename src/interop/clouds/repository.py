"""Cloud queries; every one starts from the readable statement."""

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from interop.accounts.repository import visible_account_ids
from interop.auth.principals import Principal
from interop.clouds.models import Cloud
from interop.db import AnySelect, held_against_deletion
from interop.errors import NotFound


def readable_clouds(principal: Principal) -> AnySelect:
    statement = select(Cloud).order_by(Cloud.created_at, Cloud.id)
    if principal.is_operator:
        return statement
    return statement.where(Cloud.account_id.in_(visible_account_ids(principal)))


def get_readable_cloud(
    session: Session,
    principal: Principal,
    cloud_id: uuid.UUID,
    lock: bool = False,
    hold: bool = False,
) -> Cloud:
    """`lock`: for a change to the cloud itself. `hold`: for adding something under it
    (`held_against_deletion`), so that it is never left pointing at a cloud just deleted."""
    statement = readable_clouds(principal).where(Cloud.id == cloud_id)
    if lock:
        statement = statement.with_for_update()
    elif hold:
        statement = held_against_deletion(statement)
    cloud: Cloud | None = session.scalar(statement)
    if cloud is None:
        raise NotFound("cloud")
    return cloud
