"""Rasa's ``create`` for the project's NLU components, written once.

Rasa builds every graph component through the classmethod ``create`` with the same
four arguments; the project's components need either their configuration alone or
also their model storage and resource (to persist what they learn).
"""

from __future__ import annotations

from typing import Any, Dict, Type, TypeVar

from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

C = TypeVar("C", bound="BuiltByRasa")


class BuiltByRasa:
    """Mixed in before GraphComponent; set ``keeps_what_it_learns`` to get the
    model storage and resource as well as the configuration."""

    keeps_what_it_learns = False

    @classmethod
    def create(
        cls: Type[C],
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> C:
        if cls.keeps_what_it_learns:
            return cls(config, model_storage, resource)  # type: ignore[call-arg]
        return cls(config)  # type: ignore[call-arg]
