"""The Rasa server's long-lived objects are frozen, and a new model thaws the old."""

from __future__ import annotations

import gc
import weakref
from typing import Iterator

import pytest

from bot.services import long_lived_heap


class Model:
    """Stands for a loaded model: objects in a reference cycle, as Rasa's are."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freeze_takes_what_lives_now_out_of_collections() -> None:
    model = Model()
    gone = weakref.ref(model)
    assert long_lived_heap.freeze() > 0
    assert gc.get_freeze_count() > 0
    del model
    gc.collect()
    # Frozen: a full collection no longer looks at it (that is the point).
    assert gone() is not None


def test_refreeze_lets_the_replaced_model_be_collected() -> None:
    old = Model()
    gone = weakref.ref(old)
    long_lived_heap.freeze()
    del old  # a publication replaced it
    new = Model()
    long_lived_heap.refreeze()
    assert gone() is None
    assert new.me is new
