"""Training as the staff console's worker does it (console/model_job.py): Rasa and
the NLU's heavy parts loaded ahead, and fine-tuning where Rasa allows it.

The console itself never imports Rasa (tests/test_architecture.py); this module is where
its worker process does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional


def warm_up() -> None:
    """Everything a training and a check load, loaded now."""
    import rasa.cli.test  # noqa: F401  (the test stories run in the worker)
    import rasa.core.test  # noqa: F401
    import rasa.model_testing  # noqa: F401
    import rasa.model_training  # noqa: F401
    import rasa.nlu.test  # noqa: F401
    from rasa.core.agent import Agent  # noqa: F401

    from bot.nlu.language_detector import lingua
    from bot.nlu.spacy_pipelines import (
        SUPPORTED_LANGUAGES,
        blank_pipeline,
        lemma_table,
    )
    from ofr_tools import evaluation  # noqa: F401

    for language in SUPPORTED_LANGUAGES:
        blank_pipeline(language)
        lemma_table(language)
    lingua().compute_language_confidence_values("Guten Tag, good morning")


def train(name: str, finetune: Optional[str], say: Callable[[str], None]) -> Path:
    """``rasa train`` into models/<name>.tar.gz (run in the project folder):
    fine-tuning ``finetune`` where Rasa allows it (same configuration, domain and
    intents), else from scratch."""
    import rasa.model_training
    from rasa.shared.exceptions import InvalidConfigException

    arguments = dict(
        domain="domain.yml",
        config="config.yml",
        training_files=["data"],
        output="models",
        fixed_model_name=name,
    )
    if finetune and Path(finetune).is_file():
        say(f"Fine-tuning {Path(finetune).name} with the changes…")
        try:
            result = rasa.model_training.train(**arguments, model_to_finetune=finetune)
            if result.model:
                return Path(result.model)
        except InvalidConfigException as error:
            say(f"A full training: {str(error).splitlines()[0]}")
    else:
        say("A full training…")
    result = rasa.model_training.train(**arguments)
    if not result.model:
        raise RuntimeError("Rasa ended without a model: see the lines above.")
    return Path(result.model)
