"""The answer of operations the contract lists but a later issue serves: `501`, enveloped."""

from typing import NoReturn

from fastapi import Request

from interop.errors import InteropError


def not_served(request: Request) -> NoReturn:
    raise InteropError("not_implemented", f"{request.method} {request.url.path} is not served yet")
