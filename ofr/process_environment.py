"""Which secrets each process of the assistant gets in its environment.

``make run`` loads every secret into one shell (``.env``, the admin token file), and
a child inherits that shell's whole environment. A process that does not need a
secret must not hold it: whoever can read that process's environment
(``/proc/<pid>/environ``, a crash report, a library that logs its environment) would
otherwise get the Telegram bot, the publish route or the mail server with it.

| process | its secrets |
|---|---|
| ``rasa``: the Rasa server (channels, model route, mail) | all of them |
| ``console``: the staff console (publishes models, reads the conversations) | the admin token, the stores' passwords |
| ``actions``: the action server | none |
| ``training``: the console's training worker | none |

The action server needs two facts that come from secrets: whether questions can be
handed over to staff (Telegram token and staff group) and whether answers can go by
e-mail (mail server). It gets them as ``OFR_HANDOVER_AVAILABLE`` and
``OFR_ANSWERS_BY_EMAIL`` instead. ``scripts/lib.sh`` starts each process through
``ofr_tools.launch exec-as``; ``console/pipeline.py`` builds the worker's environment.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, Mapping

from ofr import settings

TELEGRAM_SECRETS = frozenset({"TELEGRAM_TOKEN", "TELEGRAM_WEBHOOK_SECRET"})
MAIL_SECRETS = frozenset({"OFR_SMTP_URL"})
TOKENS = frozenset({"OFR_REST_TOKEN", "OFR_ADMIN_TOKEN", "RASA_AUTH_TOKEN"})
STORE_SECRETS = frozenset({"OFR_DB_PASSWORD", "OFR_REDIS_PASSWORD", "OFR_REDIS_URL"})
SECRETS = TELEGRAM_SECRETS | MAIL_SECRETS | TOKENS | STORE_SECRETS

NEEDS: Dict[str, FrozenSet[str]] = {
    "rasa": SECRETS,
    "console": frozenset({"OFR_ADMIN_TOKEN"}) | STORE_SECRETS,
    "actions": frozenset(),
    "training": frozenset(),
}


def environment_for(process: str, environ: Mapping[str, str]) -> Dict[str, str]:
    """``environ`` without the secrets ``process`` (a key of ``NEEDS``) does not need."""
    if process not in NEEDS:
        raise ValueError(f"unknown process {process!r}: one of {', '.join(NEEDS)}")
    keep = NEEDS[process]
    result = {
        name: value
        for name, value in environ.items()
        if name not in SECRETS or name in keep
    }
    if "OFR_SMTP_URL" not in keep:
        # The staff mailbox goes with the mail server (settings check both or neither).
        result.pop("OFR_STAFF_EMAIL", None)
    if process == "actions":
        configured = settings.read(environ)
        for name, value in (
            ("OFR_HANDOVER_AVAILABLE", configured.handover_available),
            ("OFR_ANSWERS_BY_EMAIL", configured.answers_by_email),
        ):
            result[name] = "1" if value else "0"
    return result
