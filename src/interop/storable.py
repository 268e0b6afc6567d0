"""Which text the databases can store, apart from the database layer: the CLI checks its
arguments with it before it loads SQLAlchemy."""


def storable_text(value: str) -> bool:
    """Whether both databases can hold, and so compare, `value`: PostgreSQL text cannot hold
    U+0000, and no driver encodes a lone UTF-16 surrogate. Credentials and key ids that come
    from a request header or a JWT are checked with it before they are looked up, so that a
    made-up one is refused as unknown, not as unstorable (or a 500)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
