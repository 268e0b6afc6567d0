"""Who is calling: an account (via an API key) or an actor (via its installed credentials)."""

import uuid
from dataclasses import dataclass
from typing import Literal

from interop.accounts.types import OPERATOR_TYPE

PrincipalKind = Literal["account", "actor"]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    client_id: str
    account_id: uuid.UUID
    account_type: str
    # The account's materialized ancestry; descendants are the accounts under this prefix.
    account_path: str
    actor_id: uuid.UUID | None = None
    cloud_id: uuid.UUID | None = None
    tenant_id: uuid.UUID | None = None

    @property
    def is_operator(self) -> bool:
        return self.account_type == OPERATOR_TYPE
