"""NLU component that averages DIET's intent ranking with a logistic regression's.

DIET (a small transformer) and a logistic regression on the same sparse features
err on different messages: DIET on rare wordings, the regression on word order.
Their mean is right more often than either (bench/classifiers.py prints the
comparison). The component goes after DIETClassifier and before the
FallbackClassifier, which then judges the combined confidence.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import (
    LogisticRegressionClassifier,
)
from rasa.shared.nlu.training_data.message import Message

INTENT_RANKING = "intent_ranking"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class IntentEnsemble(LogisticRegressionClassifier):
    """Mean of the earlier classifier's ranking and this regression's probabilities."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {
            **LogisticRegressionClassifier.get_default_config(),
            # Share of the regression in the mean; the rest is the earlier ranking's.
            "weight": 0.5,
            "max_iter": 300,
        }

    def process(self, messages: List[Message]) -> List[Message]:
        if not messages:
            return messages
        earlier = [
            {r["name"]: float(r["confidence"]) for r in m.get(INTENT_RANKING) or []}
            for m in messages
        ]
        probabilities = self.clf.predict_proba(self._create_X(messages))
        weight = float(self.config["weight"])
        for message, before, row in zip(messages, earlier, probabilities, strict=True):
            combined = {
                name: weight * float(p) + (1 - weight) * before.get(name, 0.0)
                for name, p in zip(self.clf.classes_, row, strict=True)
            }
            ranking = sorted(
                ({"name": k, "confidence": v} for k, v in combined.items()),
                key=lambda entry: -entry["confidence"],
            )
            if self.config.get("ranking_length", 10) > 0:
                ranking = ranking[: self.config.get("ranking_length", 10)]
            message.set("intent", ranking[0], add_to_output=True)
            message.set(INTENT_RANKING, ranking, add_to_output=True)
        return messages
