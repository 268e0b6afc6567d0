"""HTTP Basic credentials, as the token endpoint and the account-key compatibility read them."""

import base64
import binascii
from urllib.parse import unquote_plus


def decode_basic(value: str) -> tuple[str, str]:
    """`(client_id, secret)` of a Basic header value; `ValueError` when malformed.

    RFC 6749 §2.3.1: both halves are form-urlencoded before the Basic encoding.
    """
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("malformed Basic credentials") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise ValueError("malformed Basic credentials")
    return unquote_plus(client_id), unquote_plus(secret)
