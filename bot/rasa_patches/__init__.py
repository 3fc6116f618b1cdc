"""Every place the OFR assistant changes or leans on the inside of Rasa (and of the
libraries under it: python-socketio, python-engineio, aiohttp, scikit-learn,
sklearn-crfsuite), in one list.

Rasa 3.6 gives no hook for what these do (docs/architecture.md, "Rasa patches").
Each entry names the code it was written against: the package version it was
checked with and the qualified name of the function or attribute it replaces,
wraps, overrides or reads, with the SHA-256 of that code's source. ``install_all``
checks both when a Rasa process starts and refuses to start with one sentence when
either differs, so an upgrade cannot change their meaning unnoticed. ``uses`` names
where the project's code reaches into those targets (``module:name``);
tests/test_rasa_patches.py scans the code and fails on an internal it uses that no
entry lists.

Process-wide patches are installed here, explicitly, by the two packages Rasa
imports from config.yml and credentials.yml (``bot.nlu`` and ``bot.channels``).
Tools that only read stored conversations (purge, unanswered, migrate-ids) import
``bot.storage`` or ``ofr`` and get none of them; ``ofr-evaluate`` runs the NLU
pipeline and so gets them like the server. Subclasses that override Rasa's methods
(tracker store, lock store, socket.io) are listed too: their targets are guarded
the same way, though nothing is installed for them.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable, Dict, Iterable, List, Tuple


class PatchVersionError(RuntimeError):
    """An installed package is not the version a patch was written for."""


class PatchSourceError(PatchVersionError):
    """The code a patch relies on is not the code it was written for."""


@dataclass(frozen=True)
class Target:
    """A piece of someone else's code that a patch replaces or relies on."""

    package: str  # the distribution, as pip names it
    version: str  # the version the patch was written for and tested with
    qualname: str  # module path, then attribute path, e.g. "rasa.x.Cls.method"
    source_sha256: str  # of the target's source text in that version


@dataclass(frozen=True)
class Patch:
    """What a patch changes, where it lives, and how to install it (if process-wide)."""

    module: str
    targets: Tuple[Target, ...]
    install: Callable[[], None] | None = None  # None: applied by its channel/store
    # Where the project's code reaches into the targets: "module:name" (an attribute,
    # an overridden method, "ctx.agent" or "sys.argv"). Checked by a scan in
    # tests/test_rasa_patches.py.
    uses: Tuple[str, ...] = ()


RASA = "3.6.21"
ENGINEIO = "4.15.1"
SOCKETIO = "5.9.0"
AIOHTTP = "3.9.5"
SKLEARN = "1.1.3"
SKLEARN_CRFSUITE = "0.3.6"


def _install_action_fallback() -> None:
    from bot.rasa_patches import action_fallback

    action_fallback.install()


def _install_action_response_check() -> None:
    from bot.rasa_patches import action_response_check

    action_response_check.install()


def _install_event_class_lookup() -> None:
    from bot.rasa_patches import event_class_lookup

    event_class_lookup.install()


PATCHES: Dict[str, Patch] = {
    "action_fallback": Patch(
        "bot.rasa_patches.action_fallback",
        (
            Target(
                "rasa",
                RASA,
                "rasa.core.actions.action.RemoteAction.run",
                "b530fc5a6789c82f2f273ef04df4894f741226fd9b15f154f0af78cd3f5df32b",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.constants.DEFAULT_REQUEST_TIMEOUT",
                "24e99267bfb74ebaf5ab10f378a345fdae012ad69c6ac0f2e53d45420ae6335c",
            ),
        ),
        _install_action_fallback,
    ),
    "action_connection": Patch(
        "bot.rasa_patches.action_connection",
        (
            Target(
                "rasa",
                RASA,
                "rasa.utils.endpoints.EndpointConfig.session",
                "f6136492eac7ede36e18bfb9f7c205970b6a9eb4f27251cae2bba69d4c3c5581",
            ),
            # reads ClientSession._loop to find a session of another event loop
            Target(
                "aiohttp",
                AIOHTTP,
                "aiohttp.client.ClientSession.__init__",
                "2a8c70631b8d8d70930d6b44d8ba163a2282e6db2771f95648643e486a9d83f0",
            ),
        ),
        # applied to the action endpoint by action_fallback on the first call
        uses=("bot.rasa_patches.action_connection:_loop",),
    ),
    "action_response_check": Patch(
        "bot.rasa_patches.action_response_check",
        (
            Target(
                "rasa",
                RASA,
                "rasa.core.actions.action.RemoteAction._validate_action_result",
                "24da0f6bdeb2d44f1f85da375a5aca57cd0a9fb2cdd5cfa722914761d759c018",
            ),
        ),
        _install_action_response_check,
        uses=("bot.rasa_patches.action_response_check:_validate_action_result",),
    ),
    "event_class_lookup": Patch(
        "bot.rasa_patches.event_class_lookup",
        (
            Target(
                "rasa",
                RASA,
                "rasa.shared.core.events.Event.resolve_by_type",
                "ffabe9999fc8f7f3c65533056a95af7a71f79d3565e5b43f507cc8128246d10f",
            ),
        ),
        _install_event_class_lookup,
    ),
    "socketio_checks": Patch(
        "bot.channels.socketio",
        (
            Target(
                "rasa",
                RASA,
                "rasa.core.channels.socketio.SocketIOOutput.send_custom_json",
                "7f563a5772bbbf97a5b7d8cec195d8c4c5d9bb2a8063e4019bc9051537a747f7",
            ),
            Target(
                "python-engineio",
                ENGINEIO,
                "engineio.async_socket.AsyncSocket._websocket_handler",
                "dfa7a417e0e9828ea8414728c6252e8592dc9aaefeb4445539799dc3e71051f0",
            ),
            # Rasa's blueprint makes self.sio and registers the handlers that
            # ValidatedSocketIOInput registers again (sio.on replaces them)
            Target(
                "rasa",
                RASA,
                "rasa.core.channels.socketio.SocketIOInput.blueprint",
                "0f82ad048885a6683c06fb3761c88a3a4479d6e45cf0b744b5197a2d1012d9a9",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.channels.socketio.SocketIOOutput._send_message",
                "88369ceeb9281eec860708b36e64d9ddde539c5594f5258781152aeac2f935e5",
            ),
            # python-socketio's handler of Engine.IO messages, which the packet
            # check takes from eio.handlers["message"] and wraps
            Target(
                "python-socketio",
                SOCKETIO,
                "socketio.server.Server.__init__",
                "f1933b8a49e2ff7bdcf94b2f1be0c8c0c4624a39404bee39c3f090ffca52fb32",
            ),
            Target(
                "python-socketio",
                SOCKETIO,
                "socketio.asyncio_server.AsyncServer._handle_eio_message",
                "3be3f940bfa36f28bdc132762ffccbc4308138cd5fdd149f69cfe527eabe1d64",
            ),
            Target(
                "python-engineio",
                ENGINEIO,
                "engineio.base_server.BaseServer.on",
                "132df09f81a0f8f238c09c6ea87bf212a8cf4acb31538796ffda38fb8d4fd497",
            ),
            # eio._async["websocket"]: the websocket class the check swaps
            Target(
                "python-engineio",
                ENGINEIO,
                "engineio.base_server.BaseServer.__init__",
                "6c009d73f4356ee5195234a99bdf6dba7b26d4bfd04208851475bb3a6f2e5c4a",
            ),
            Target(
                "python-engineio",
                ENGINEIO,
                "engineio.async_drivers.sanic._async",
                "8d91e2f5288b8a360a36eb6a8d7eef7f271d6c78a4838a07a1ba6d6dd371d47c",
            ),
        ),
        uses=(
            "bot.channels.socketio.checks:eio.handlers",
            "bot.channels.socketio.checks:_async",
            "bot.channels.socketio.output:_send_message",
        ),
    ),
    "tracker_store": Patch(
        "bot.storage.tracker_store",
        (
            # erasing on request: the save every store does after a turn
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.TrackerStore.save",
                "25487f1b67e7792947ca6937e2fe2139f8408acb80bf50e165fef6ecb3750913",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.RedisTrackerStore.save",
                "f1f3d53ea2cddab0f7aa46f1639ddf326768df99f83dabf790ffee0694408013",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.InMemoryTrackerStore.save",
                "a2ce75fc0f7e7f90481cb33da31e4f9ed6af92ae1e467f74bb1c816f97c6b08e",
            ),
            # SQL: pooled SQLite engine, latest session in one query, new rows only
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore.__init__",
                "7c89f1231aac70a1d9af35f89418b585140b8fb54910f0a661a032e8d7473b54",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore._retrieve",
                "78c7e08ac30924b63eb5b5a3a906bbc7deeb672d5f3642fd4b6f6ba72f9c43c8",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore.retrieve",
                "677c6bcd5340d5f4996730e89508200b18035343a37d8532cbc9280fdc6cd312",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore.save",
                "ded301e08f4c708e8b3149783589904eb9b111e3a9c75fb574afb9e4ce4f9c80",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore._additional_events",
                "5ad906f458419020a669e048e709c5ee19e706655374e14f13909f867e303dbb",
            ),
            # LATEST_SESSION is this query in SQL; save streams as Rasa's does and
            # inserts into Rasa's table
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore._event_query",
                "6484d8ac7d14284bbee606c1b9ced470d3d87fe2c8a8833125bb70135a4518d9",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.TrackerStore.stream_events",
                "194965b85c7f01983f9909f6c10e2558fd1ec6698120e7ac8a05c12bb3d47b6a",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore.SQLEvent",
                "f709d15622dfac34aeec062ee3c1cfd133ecdefda8072da1ba1af08a9f4a348f",
            ),
        ),
        uses=(
            "bot.storage.tracker_store:_event_query",
            "bot.storage.tracker_store:_retrieve",
            "bot.storage.tracker_store:_additional_events",
            "bot.storage.tracker_store:stream_events",
            "bot.storage.tracker_store:SQLEvent",
        ),
    ),
    "redis_lock_store": Patch(
        "bot.storage.lock_store",
        (
            Target(
                "rasa",
                RASA,
                "rasa.core.lock_store.LockStore.lock",
                "d84cf99f0517cbc1b426e9c5e03d0ca28c3b183bbe0f0d91ecf634e1e4d6cae0",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.lock_store.RedisLockStore.__init__",
                "6ba34830ecb02ab232492e21abed4e4660a4dc83a2bf44b3536f61128a68a0d8",
            ),
        ),
    ),
    # ---- not patches: code that reads or overrides Rasa's (or a library's) inside
    "sql_events_table": Patch(
        "bot.storage.eraser",
        (
            # "delete my data", purge and the staff tools read and delete the rows
            # of Rasa's events table through its ORM class
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore.SQLEvent",
                "f709d15622dfac34aeec062ee3c1cfd133ecdefda8072da1ba1af08a9f4a348f",
            ),
        ),
        uses=("bot.storage.eraser:SQLEvent",),
    ),
    "tracker_store_config": Patch(
        "bot.storage.store_config",
        (
            # repeated without Rasa, so that the console and the store tools read the
            # tracker store without loading Rasa (tests/test_store_config.py)
            Target(
                "rasa",
                RASA,
                "rasa.utils.endpoints.read_endpoint_config",
                "83a1f665c95bfa0e8531da46d1affbeda812fcdf01863f50663ef116cdb3137d",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.utils.endpoints.EndpointConfig.__init__",
                "98fc23d8a60f773090746d9e28d2238fb6345ab91ed8721ca998387765a97d7b",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.shared.utils.io.read_validated_yaml",
                "a52f8218df72c65075f1db375720b171534bdb7988acac85fd7a7ca8e9f8e4cd",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.shared.utils.io.read_yaml",
                "480cd1d2a0c350bc8ed4eed4ec2ed28b11237504a212b32926f6d11e3faac5ba",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.shared.utils.io.replace_environment_variables",
                "6fc3b1598425c103b41d9ce6516fb18a5087e984ec57215abc022848172a95d1",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.shared.utils.common.class_from_module_path",
                "3651c5498b2d55b66990f7adc6f1ab8efa2d9ddd356dbd715053f1a2171e6705",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore.SQLEvent",
                "f709d15622dfac34aeec062ee3c1cfd133ecdefda8072da1ba1af08a9f4a348f",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.SQLTrackerStore.get_db_url",
                "0937d3a39c284a6e6df9ab272c2707cbb6a04ad78bb5ed986bb36de870233b13",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.create_engine_kwargs",
                "64e9eb72f600b7f3e39fc20400194dd73ebedd846c1a74bfdf5ee6406f1298cf",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.is_postgresql_url",
                "75023bb5ea3d09c4583927de633718e52a8fd1586aa9c82077218303282a87f3",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.POSTGRESQL_DEFAULT_POOL_SIZE",
                "5330e80830a5a2b0e205540a9f11b7d9596c6ec0b0571c8e4c60961bd3904b08",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.POSTGRESQL_DEFAULT_MAX_OVERFLOW",
                "64e3aefc65fb2091342bad0fd05b0385ea16eb9de6b8afeec1775189c7ea7b0b",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.RedisTrackerStore.__init__",
                "aa95f888713366554548b61d4e7363107c026e4dab5b4b682881965aec286834",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.RedisTrackerStore._set_key_prefix",
                "931529b13cd0aef316666a35463c2c492d1732d1cd33bc9d3d53cb3927c49535",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.DEFAULT_REDIS_TRACKER_STORE_KEY_PREFIX",
                "68f74c4dd00df49c227e03582d13971f602c54c348fc04f574c9431230c098b3",
            ),
        ),
    ),
    "built_in_names": Patch(
        "ofr_tools.check_project",
        (
            # copied, so that the console's checks run without Rasa
            Target(
                "rasa",
                RASA,
                "rasa.shared.core.constants.DEFAULT_INTENTS",
                "16af0fdf88e87802241c002be14fa7b2bf54b1217b05cf490de3de4686654397",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.shared.core.constants.DEFAULT_ACTION_NAMES",
                "17e324dafbf9433cf69d5a86fc31c06b4bb436de248fae2396fa8d2b1f1d7d61",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.shared.core.constants.DEFAULT_SLOT_NAMES",
                "e10efe2ad29b3c80c62a9ecc5e335d5cf394bf314fb14ffec42b0c1ab490204a",
            ),
        ),
    ),
    "store_wrappers": Patch(
        "bot.storage.rasa_stores",
        (
            # the configured store sits in the wrappers' _tracker_store
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.FailSafeTrackerStore.__init__",
                "3de742f02b0c1886365ba550194d52fa1b76d5b71009536cc442f20ec535a719",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.tracker_store.AwaitableTrackerStore.__init__",
                "2783a844969f550dc381c4f5eea3fc366b7bf6b6d971f23923085699f4ab5652",
            ),
        ),
        uses=(
            "bot.storage.rasa_stores:_tracker_store",
            "bot.channels.routes.model:_tracker_store",
        ),
    ),
    "server_agent": Patch(
        "bot.channels.routes.model",
        (
            # Rasa puts the agent in app.ctx.agent at start, and every channel's
            # messages go to whatever agent is there at that moment: publishing a
            # model swaps it; the channels read its stores at start
            Target(
                "rasa",
                RASA,
                "rasa.core.run.load_agent_on_start",
                "315d39a25c4a44b01feb1fb085acd68a1a0bc7698007a0d276936c8556316832",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.channels.channel.register",
                "2c5ba237af1c588648cc28ba6b3e55a6b314c40d5909e851b03be7d864de342f",
            ),
            # loading a model sets the shared store's domain (bot/channels/routes/model.py)
            Target(
                "rasa",
                RASA,
                "rasa.core.agent.Agent.load_model",
                "dc0e0244f8546a6de553bf9afa28fe7df6ad55d8c08ea0e601546e5bbfbb0461",
            ),
        ),
        uses=(
            "bot.channels.routes.model:ctx.agent",
            "bot.channels.rest:ctx.agent",
            "bot.channels.routes.calendar:ctx.agent",
            "bot.channels.routes.retention:ctx.agent",
            "bot.channels.socketio.input:ctx.agent",
            "bot.channels.telegram.input:ctx.agent",
        ),
    ),
    "answered_once": Patch(
        "bot.services.answered_once",
        (
            # a REST message with the client's id runs what Agent.handle_message
            # runs (the processor's turn under the conversation's lock), with the
            # check for its stored turn inside the lock
            Target(
                "rasa",
                RASA,
                "rasa.core.agent.Agent.handle_message",
                "05c7d977a721e66415ea560a304c8cddb61ae276b772f1e15f3ffd93972c9eb1",
            ),
            # relied on: the turn is saved once, at its end (stored whole or not at
            # all), with the message's id in its user event
            Target(
                "rasa",
                RASA,
                "rasa.core.processor.MessageProcessor.handle_message",
                "a96904e7796d7bf98c72f8e78b625fa05e7a50a7be84df56c3d3f018a2bc777c",
            ),
            # a stored answer goes out again as the processor sent it
            Target(
                "rasa",
                RASA,
                "rasa.shared.core.events.BotUttered.message",
                "4f657c2f3e7938cb74d254bbc30499e6d305441053849984b07689973ddc65a3",
            ),
        ),
    ),
    "rest_answers": Patch(
        "bot.channels.rest",
        (
            Target(
                "rasa",
                RASA,
                "rasa.core.channels.channel.CollectingOutputChannel._message",
                "aaece30d44b6d3ae58689deffb246cc1c325489061fcc97a51c85fcf029045e8",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.channels.channel.CollectingOutputChannel._persist_message",
                "ed0ed3192a4dd5cabee12fe2bbc87fb816ea05298ddf948cebec6c2dfa64123b",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.core.channels.rest.QueueOutputChannel._persist_message",
                "f2259fc6ea8fcc768d45c01ef00c20d7d3c8d9e7f5809e88b4b629b1dcdb4755",
            ),
            # calls the on_message_wrapper that ValidatedRestInput overrides
            Target(
                "rasa",
                RASA,
                "rasa.core.channels.rest.RestInput.stream_response",
                "db9425232eaff0ecd2d909f49e31fc84b48a8081dac88a79eb6eea574213b747",
            ),
        ),
        uses=(
            "bot.channels.rest:_message",
            "bot.channels.rest:_persist_message",
            "bot.channels.rest:on_message_wrapper",
        ),
    ),
    "stored_crf": Patch(
        "bot.nlu.stored_crf_entity_extractor",
        (
            # Rasa's train calls persist(dataset); load gets the saved taggers
            Target(
                "rasa",
                RASA,
                "rasa.nlu.extractors.crf_entity_extractor.CRFEntityExtractor.__init__",
                "34679641f5d44dfc5993d4b6086ed061a4c9a88175c179eab75051f1535d66ef",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.nlu.extractors.crf_entity_extractor.CRFEntityExtractor.train",
                "6271c446a3f9800ea3635b1d3e82b001f5b2e27a3460c3a16b9790e227cd8842",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.nlu.extractors.crf_entity_extractor.CRFEntityExtractor.persist",
                "f0251df4136c5d4271ac60a3acd6dc416553cdd32b74e83e07da449e995a8df1",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.nlu.extractors.crf_entity_extractor.CRFEntityExtractor.load",
                "f50d6d6ca070f813ec1e4b4c30a9cacb4ef4f73772d82e1f567c2704d7e19ae6",
            ),
            # a CRF predicts with the tagger in _tagger (what fit leaves there)
            Target(
                "sklearn-crfsuite",
                SKLEARN_CRFSUITE,
                "sklearn_crfsuite.estimator.CRF.__init__",
                "164d4fe1d80baf3ce858ea55a5cf10594bc2d446e2e54849e1f4e8ab6bd17154",
            ),
            Target(
                "sklearn-crfsuite",
                SKLEARN_CRFSUITE,
                "sklearn_crfsuite.estimator.CRF.tagger_",
                "41eb6dd14b5e3b6c9627714d15fa1f23a5d8e1f8eaea97245bca2a2d9d257509",
            ),
        ),
        uses=(
            "bot.nlu.stored_crf_entity_extractor:persist",
            "bot.nlu.stored_crf_entity_extractor:load",
            "bot.nlu.stored_crf_entity_extractor:_tagger",
            "bot.nlu.stored_crf_entity_extractor:_saved_model",
        ),
    ),
    "intent_model_file": Patch(
        "bot.nlu.intent_model_file",
        (
            # The model file holds scikit-learn's fitted attributes; loading sets
            # them on unfitted objects, which then predict with this code
            Target(
                "scikit-learn",
                SKLEARN,
                "sklearn.feature_extraction.text.TfidfVectorizer.idf_",
                "011c8353aab43d5f682daa02b0e5181d0dcaa50637c72904e5a502f6502c4620",
            ),
            Target(
                "scikit-learn",
                SKLEARN,
                "sklearn.feature_extraction.text.TfidfTransformer.idf_",
                "dc11b949284d2242015a66cee834e2dd001f711efe6059fb26e62bde08ce0c1a",
            ),
            Target(
                "scikit-learn",
                SKLEARN,
                "sklearn.feature_extraction.text.TfidfVectorizer.transform",
                "79caad79161bf57347f3a36e257048e79b746baf9e659c014633fb22e9aefa1e",
            ),
            Target(
                "scikit-learn",
                SKLEARN,
                "sklearn.feature_extraction.text.TfidfTransformer.transform",
                "a984e28a3b42619922c501df9e6b7f9b949c02ce3334af82f954bbd9d07ad038",
            ),
            # the vocabulary given to the constructor becomes vocabulary_ here
            Target(
                "scikit-learn",
                SKLEARN,
                "sklearn.feature_extraction.text._VectorizerMixin._validate_vocabulary",
                "a2915d2d6f8ce87e5775b90d934cd074af6d5868e97945012a08dea334630e0f",
            ),
            Target(
                "scikit-learn",
                SKLEARN,
                "sklearn.linear_model._base.LinearClassifierMixin.decision_function",
                "4eb01d3ed1f254b2fcc6c4cbd95aef445641f50ba2b6b7e6677f88458dc18ad5",
            ),
            # the counts the classifier weighs itself (linear_intent_classifier._tf_idf)
            Target(
                "scikit-learn",
                SKLEARN,
                "sklearn.feature_extraction.text.CountVectorizer.transform",
                "3f92a004c11f512ca67fce222755bd2b171b7196d6afad2ca9f6425b5f4140d5",
            ),
            # "fitted" means: has an attribute ending in "_" (n_features_in_ is one)
            Target(
                "scikit-learn",
                SKLEARN,
                "sklearn.utils.validation.check_is_fitted",
                "5d5b7135cc6d92ab7826c02d244f9976e0fffbca78e20d62eb48299d4b1244da",
            ),
            Target(
                "scikit-learn",
                SKLEARN,
                "sklearn.base.BaseEstimator._check_n_features",
                "c7d1212af178fefc5dd12a9cda226baa5d186e58cd63ff65758c6fb40d78e5f1",
            ),
        ),
        uses=(
            "bot.nlu.intent_model_file:coef_",
            "bot.nlu.intent_model_file:intercept_",
            "bot.nlu.intent_model_file:classes_",
            "bot.nlu.intent_model_file:idf_",
            "bot.nlu.intent_model_file:vocabulary_",
            "bot.nlu.intent_model_file:n_features_in_",
            "bot.nlu.linear_intent_classifier:classes_",
            # the classifier's own tf-idf: counts from the vocabulary, weighted by
            # idf_, l2-normed, scored with coef_ and intercept_ (as sklearn does)
            "bot.nlu.linear_intent_classifier:idf_",
            "bot.nlu.linear_intent_classifier:coef_",
            "bot.nlu.linear_intent_classifier:intercept_",
        ),
    ),
    "intent_ensemble": Patch(
        "bot.nlu.intent_ensemble",
        (
            # process() is Rasa's with the ranking averaged: same features, same clf
            Target(
                "rasa",
                RASA,
                "rasa.nlu.classifiers.logistic_regression_classifier."
                "LogisticRegressionClassifier.__init__",
                "94490899377c1a07ae45e27f7b1302ac9535ebc9da4288aa98e5e3e3f1f3b37b",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.nlu.classifiers.logistic_regression_classifier."
                "LogisticRegressionClassifier._create_X",
                "9934879d9b6909e177c3f03b3a5fa376d9d5bcef660f1631c84095eb496c7a93",
            ),
        ),
        uses=(
            "bot.nlu.intent_ensemble:_create_X",
            "bot.nlu.intent_ensemble:classes_",
        ),
    ),
    "spacy_tokenizer": Patch(
        "bot.nlu.spacy_tokenizer",
        (
            Target(
                "rasa",
                RASA,
                "rasa.nlu.tokenizers.tokenizer.Tokenizer._apply_token_pattern",
                "cae7d2f0fadbe8cb2cc29b27e5dc035a36b6b5a4c42c5ab9b15584afb1098d73",
            ),
        ),
        uses=("bot.nlu.spacy_tokenizer:_apply_token_pattern",),
    ),
    "rasa_serve": Patch(
        "ofr_tools.rasa_serve",
        (
            # Rasa's command line reads sys.argv, which rasa_serve rewrites with the
            # listen address and the token
            Target(
                "rasa",
                RASA,
                "rasa.__main__.main",
                "403bf08bf4dc191b375a20cc05c5d6ccaf6159c88d04068270506ee9c95819ca",
            ),
            Target(
                "rasa",
                RASA,
                "rasa.cli.arguments.run.add_server_arguments",
                "7cb3d91575e93d7b099c2d52942eebb9d536c862473f30d9c7233bf2a12d6bd6",
            ),
        ),
        uses=("ofr_tools.rasa_serve:sys.argv",),
    ),
}

_installed = False


def check_versions(names: Iterable[str] | None = None) -> None:
    """Refuse to run patches written for other versions of what they patch."""
    for name in names or PATCHES:
        patch = PATCHES[name]
        for target in patch.targets:
            try:
                installed = metadata.version(target.package)
            except metadata.PackageNotFoundError:
                installed = "none"
            if installed != target.version:
                raise PatchVersionError(
                    f"{patch.module} relies on {target.qualname} of {target.package} "
                    f"{target.version}, but {target.package} {installed} is installed: "
                    f"install the pinned versions (make install), or re-check the patch "
                    f"'{name}' against the new code and update bot/rasa_patches/__init__.py."
                )


def check_sources(names: Iterable[str] | None = None) -> None:
    """Refuse to run on code that is not what the patches were written for, even
    under the pinned version number (a patched or rebuilt package)."""
    sources = _SourceFiles()
    for name in names or PATCHES:
        patch = PATCHES[name]
        for target in patch.targets:
            try:
                digest = sources.sha256(target.qualname)
            except LookupError as error:
                digest = f"missing ({error})"
            if digest != target.source_sha256:
                raise PatchSourceError(
                    f"{patch.module} relies on {target.qualname} of {target.package} "
                    f"{target.version}, but the installed code is not the one it was "
                    f"written for (SHA-256 {digest[:16]}…, expected "
                    f"{target.source_sha256[:16]}…): reinstall the pinned versions "
                    f"(make install), or re-check '{name}' against the new code and "
                    f"record the new hash in bot/rasa_patches/__init__.py."
                )


def check(names: Iterable[str] | None = None) -> None:
    """Versions, then sources, of the named entries (all by default)."""
    chosen = list(names or PATCHES)
    check_versions(chosen)
    check_sources(chosen)


def install_all() -> None:
    """Check every target once, then install every process-wide patch (idempotent)."""
    global _installed
    if _installed:
        return
    check()
    for patch in PATCHES.values():
        if patch.install is not None:
            patch.install()
    _installed = True


class _SourceFiles:
    """Finds a qualified name's source in the installed files, each file parsed once.

    Only packages are imported on the way (to find their submodules): the module
    that holds the target is read, not run, so checking costs no import at start."""

    def __init__(self) -> None:
        self._parsed: Dict[str, Tuple[str, List[ast.stmt]]] = {}

    def source(self, qualname: str) -> str:
        parts = qualname.split(".")
        path, cut = _module_file(parts)
        if path not in self._parsed:
            text = open(path, encoding="utf-8").read()
            self._parsed[path] = (text, ast.parse(text).body)
        text, body = self._parsed[path]
        nodes: List[ast.stmt] = []
        for name in parts[cut:]:
            nodes = [n for n in body if _defines(n, name)]
            if not nodes:
                raise LookupError(f"{qualname}: {name} is not defined there")
            body = getattr(nodes[0], "body", [])
        # A property's getter and setter are both its source.
        segments = [ast.get_source_segment(text, node) or "" for node in nodes]
        return "\n\n".join(segments)

    def sha256(self, qualname: str) -> str:
        return hashlib.sha256(self.source(qualname).encode("utf-8")).hexdigest()


def _module_file(parts: List[str]) -> Tuple[str, int]:
    """The file of the module a qualified name lives in, and how many of its parts
    name that module."""
    for cut in range(1, len(parts)):
        spec = _spec(".".join(parts[:cut]))
        if spec is None or spec.origin is None:
            break
        is_package = spec.submodule_search_locations is not None
        if not (is_package and _spec(".".join(parts[: cut + 1])) is not None):
            return spec.origin, cut
    raise LookupError(f"no module found for {'.'.join(parts)}")


def _spec(module: str) -> Any:
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


def target_source(qualname: str) -> str:
    """The source text of a function, class or module-level name, found by its
    qualified name in the installed package's file (patched or not)."""
    return _SourceFiles().source(qualname)


def _defines(node: ast.stmt, name: str) -> bool:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name == name
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Name) and t.id == name for t in targets)
    return False


def source_sha256(qualname: str) -> str:
    return _SourceFiles().sha256(qualname)
