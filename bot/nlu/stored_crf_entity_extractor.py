"""Rasa's CRF entity extractor, saved as trained instead of trained again at each load.

Rasa 3.6's ``CRFEntityExtractor`` saves its training data and fits the CRF anew
whenever a model is loaded: about 6 s on this project's data at every start of the
bot, every publication of a model and every check of one in the staff console. This
subclass saves the fitted taggers in CRFsuite's own model format (numbers only,
read by CRFsuite, no Python objects) and opens them at load, so the extraction is
the same as the trained one's and loading takes milliseconds.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Optional

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor, CRFToken

logger = logging.getLogger(__name__)

ORDER_FILE = "crf_order.json"


def _tagger_file(tag_name: str) -> str:
    return f"crf_{tag_name}.crfsuite"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True
)
class StoredCRFEntityExtractor(CRFEntityExtractor):
    """``CRFEntityExtractor`` whose saved model is the fitted CRF itself."""

    def persist(self, dataset: List[List[CRFToken]]) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            (Path(directory) / ORDER_FILE).write_text(
                json.dumps(list(self.entity_taggers or {})), encoding="utf-8"
            )
            for tag_name, tagger in (self.entity_taggers or {}).items():
                trained = Path(tagger.modelfile.name)
                (Path(directory) / _tagger_file(tag_name)).write_bytes(
                    trained.read_bytes()
                )

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> StoredCRFEntityExtractor:
        import pycrfsuite
        import sklearn_crfsuite

        taggers: Optional[OrderedDict] = None
        try:
            with model_storage.read_from(resource) as directory:
                order = json.loads((Path(directory) / ORDER_FILE).read_text("utf-8"))
                taggers = OrderedDict()
                for tag_name in order:
                    saved = (Path(directory) / _tagger_file(tag_name)).read_bytes()
                    tagger = pycrfsuite.Tagger()
                    tagger.open_inmemory(saved)
                    crf = sklearn_crfsuite.CRF(
                        algorithm="lbfgs",
                        c1=config["L1_c"],
                        c2=config["L2_c"],
                        max_iterations=config["max_iterations"],
                        all_possible_transitions=True,
                    )
                    crf._tagger = tagger  # what CRF.fit leaves for predicting
                    # CRFsuite reads the model where it lies, without a copy: it
                    # must live as long as the tagger.
                    crf._saved_model = saved
                    taggers[tag_name] = crf
        except (ValueError, OSError) as error:
            # No entity examples at training time leaves nothing to load.
            logger.debug("No CRF entity taggers in the model (%s).", error)
            taggers = None
        extractor = cls(config, model_storage, resource, taggers)
        if taggers is not None:
            extractor.crf_order = list(taggers)
        return extractor
