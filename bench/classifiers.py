"""Intent classifiers side by side: held-out accuracy per language and training time.

    .venv/bin/python bench/classifiers.py [--only NAME ...]

Each variant replaces the intent classifier of config.yml (everything else stays;
the DIET variants also get the featurizers DIET used),
trains an NLU-only model into a temporary folder with an empty cache, and is
evaluated on all held-out sets (ofr_tools/evaluation.py). Prints a table; never fails on
the numbers. Takes a few minutes per variant on the 2-core machine.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import yaml

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

Pipeline = List[Dict[str, Any]]
ENSEMBLE = "bot.nlu.intent_ensemble.IntentEnsemble"
LINEAR = "bot.nlu.linear_intent_classifier.LinearIntentClassifier"
# What config.yml had before 2026-12-02: DIET on Rasa's sparse features.
DIET_FEATURES: Pipeline = [
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer", "use_lemma": True},
    {
        "name": "CountVectorsFeaturizer",
        "analyzer": "char_wb",
        "min_ngram": 2,
        "max_ngram": 4,
    },
]
DIET: Dict[str, Any] = {
    "name": "DIETClassifier",
    "epochs": 15,
    "number_of_transformer_layers": 1,
    "transformer_size": 128,
    "batch_size": [128, 512],
    "random_seed": 42,
    "constrain_similarities": True,
    "model_confidence": "softmax",
    "learning_rate": 0.003,
    "entity_recognition": False,
    "tensorboard_log_directory": None,
}


def _instead_of_linear(
    pipeline: Pipeline, *classifiers: Dict[str, Any], features: Pipeline = ()
) -> Pipeline:
    """``pipeline`` with ``classifiers`` in the linear classifier's place, and
    ``features`` after the RegexFeaturizer."""
    out: Pipeline = []
    for component in pipeline:
        if component["name"] == LINEAR:
            out.extend(copy.deepcopy(list(classifiers)))
            continue
        out.append(component)
        if component["name"] == "RegexFeaturizer":
            out.extend(copy.deepcopy(list(features)))
    return out


def _linear(pipeline: Pipeline, **changes: Any) -> Pipeline:
    return _instead_of_linear(pipeline, {"name": LINEAR, **changes})


def _diet(pipeline: Pipeline, *after: Dict[str, Any], **changes: Any) -> Pipeline:
    return _instead_of_linear(
        pipeline, {**DIET, **changes}, *after, features=DIET_FEATURES
    )


VARIANTS: Dict[str, Callable[[Pipeline], Pipeline]] = {
    "config.yml as it is (linear SVM)": lambda p: p,
    "linear SVM, C=2": lambda p: _linear(p, C=2.0),
    "linear SVM, char 2-5": lambda p: _linear(p, char_ngrams=[2, 5]),
    "DIET, 15 epochs (until 2026-12-02)": _diet,
    "DIET, 30 epochs": lambda p: _diet(p, epochs=30),
    "LogisticRegression": lambda p: _instead_of_linear(
        p,
        {"name": "LogisticRegressionClassifier", "max_iter": 300, "random_state": 42},
        features=DIET_FEATURES,
    ),
    "DIET + LogisticRegression": lambda p: _diet(p, {"name": ENSEMBLE}),
}


def train(config: Dict[str, Any], folder: Path) -> float:
    config_path = folder / "config.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    started = time.perf_counter()
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "rasa"),
            "train",
            "nlu",
            "--config",
            str(config_path),
            "--nlu",
            "data",
            "--out",
            str(folder),
            "--fixed-model-name",
            "variant",
        ],
        cwd=ROOT,
        env={**env, "RASA_CACHE_DIRECTORY": str(folder / "cache")},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="variant names to run")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    import structlog

    # Rasa logs every parsed message through structlog at debug level, to stdout.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING)
    )
    from ofr_tools.evaluation import evaluate

    base = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    rows = []
    for name, change in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        config = {**base, "pipeline": change(base["pipeline"])}
        with tempfile.TemporaryDirectory() as tmp:
            seconds = train(config, Path(tmp))
            reports = evaluate(Path(tmp) / "variant.tar.gz")
        row = (name, seconds, reports["en"].accuracy, reports["de"].accuracy)
        print(
            f"{row[0]:<24} {row[1]:>6.0f} s  en {row[2]:.3f}  de {row[3]:.3f}",
            flush=True,
        )
        rows.append(row)
    print("\n| classifier | training (NLU only) | EN accuracy | DE accuracy |")
    print("|---|---|---|---|")
    for name, seconds, en, de in rows:
        print(f"| {name} | {seconds:.0f} s | {en:.3f} | {de:.3f} |")


if __name__ == "__main__":
    main()
