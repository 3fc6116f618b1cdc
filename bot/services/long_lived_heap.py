"""Keep Python's garbage collector off what the Rasa server holds for its whole life.

Once the model is loaded, the server holds about 470,000 objects (Rasa, TensorFlow,
spaCy, the model) that live as long as the process. Every full collection walks all
of them: 0.3 to 0.6 s on this 2-core machine, during which the event loop answers
nobody, so under load every turn in flight waits that long (docs/performance.md,
"The slowest answers"). ``gc.freeze`` moves them into a permanent generation that
collections skip; what requests create is still collected as before.

A publication replaces the model: ``refreeze`` thaws first, so the old model can
be collected, then freezes what the new one holds.
"""

from __future__ import annotations

import gc
import logging
import time

logger = logging.getLogger(__name__)


def freeze() -> int:
    """Collect what is garbage now, then freeze the rest; the number frozen."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.debug(
        "Froze %d long-lived objects in %.0f ms.",
        frozen,
        (time.perf_counter() - started) * 1000,
    )
    return frozen


def refreeze() -> int:
    """After a new model replaced the old one: let the old one go, freeze the new."""
    gc.unfreeze()
    return freeze()
