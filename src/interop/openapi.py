"""OpenAPI helpers: the error responses of each operation, with their `code` values, and
the security schemes the principal dependencies declare."""

from collections.abc import Iterable
from typing import Any

from fastapi.security.base import SecurityBase

from interop.errors import ERROR_CODES

# What any authenticated operation can answer, whatever it does.
COMMON_CODES = (
    "invalid_request",
    "invalid_token",
    "wrong_principal",
    "request_timeout",
    "request_too_large",
    "request_header_fields_too_large",
    "unsupported_media_type",
    "rate_limited",
    "internal_error",
    "database_unavailable",
)


def error_responses(*codes: str, authenticated: bool = True) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: one entry per status, its schema enumerating the codes."""
    chosen = list(codes) + (list(COMMON_CODES) if authenticated else [])
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(chosen):
        by_status.setdefault(ERROR_CODES[code][0], []).append(code)
    return {status: _response(found) for status, found in sorted(by_status.items())}


def _response(codes: list[str]) -> dict[str, Any]:
    lines = "; ".join(f"`{code}`: {ERROR_CODES[code][1]}" for code in codes)
    return {
        "description": lines,
        "content": {"application/json": {"schema": envelope_schema(codes)}},
    }


def envelope_schema(codes: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "code", "message", "ext_message", "details"],
                "properties": {
                    "status": {"type": "integer"},
                    "code": {"type": "string", "enum": codes},
                    "message": {"type": "string"},
                    "ext_message": {"type": ["string", "null"]},
                    "details": {},
                },
            }
        },
    }


def with_every_error_code(schema: dict[str, Any]) -> dict[str, Any]:
    """All the codes in one place, `components.schemas.ErrorCode`, with what each means:
    operations list only their own, and some codes (`method_not_allowed`) belong to none."""
    schema.setdefault("components", {}).setdefault("schemas", {})["ErrorCode"] = {
        "type": "string",
        "enum": list(ERROR_CODES),
        "description": "Every `error.code` the API answers with, and its HTTP status:\n"
        + "\n".join(
            f"- `{code}` ({status}): {meaning}" for code, (status, meaning) in ERROR_CODES.items()
        ),
    }
    return schema


def without_framework_422(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop FastAPI's automatic `422`: validation errors are `400 invalid_request` here."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def with_security_schemes(
    schema: dict[str, Any], schemes: Iterable[SecurityBase]
) -> dict[str, Any]:
    """Add the security schemes that operations list (`deps.declares_security`) to the
    document's components, as FastAPI describes the schemes it collects from dependencies."""
    components = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    for scheme in schemes:
        components[scheme.scheme_name] = scheme.model.model_dump(
            by_alias=True, exclude_none=True, mode="json"
        )
    return schema
