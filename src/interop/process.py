"""What a long-running interop process does once it has started: `interop serve` (the app's
lifespan) and `interop worker` (`engine.commands.start_engine`)."""

import gc


def freeze_start_up_objects() -> None:
    """Leave the objects of start-up (modules, schemas, the ORM's mappings: about 200,000) out
    of every later garbage collection. A full collection otherwise walks them all, and a
    request building many objects triggers several: a page of 100 tenants went from 37 to 49
    requests/s (medians of six alternating runs) and its pydantic validation from 3.6 to 1.1 ms.
    Frozen objects are still freed by reference counting; only cycles among them would stay,
    and `gc.collect()` first clears those."""
    gc.collect()
    gc.freeze()
