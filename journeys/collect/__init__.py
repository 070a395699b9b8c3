"""The collector: an HTTP service that takes events from web pages and apps.

Pages and apps post events as JSON; the collector checks each against the events
schema (:mod:`journeys.collect.contract`), keeps the accepted ones durably on disk
(:mod:`journeys.collect.store`) before it answers, and writes them to InfluxDB in
batches through the toolkit's writer in the background
(:mod:`journeys.collect.forward`). ``journeys collect`` runs it.

The service itself is :func:`~journeys.collect.app.create_app`, a Starlette app
made from the checked TOML configuration of :mod:`journeys.collect.settings`;
who may post, from which pages and how often is :mod:`journeys.collect.keys`.
"""

from importlib import import_module

#: The public names of the package, each with the module that holds it. They are
#: imported when first used, so that ``python -m journeys.collect.contract`` runs
#: the module once, as a script.
_NAMES = {
    "Accepted": "contract",
    "BodyError": "contract",
    "check_events": "contract",
    "ClientBuckets": "keys",
    "Collector": "app",
    "CollectorSettings": "settings",
    "create_app": "app",
    "event_json_schema": "contract",
    "EventStore": "store",
    "Forwarder": "forward",
    "KeyRing": "keys",
    "Limits": "contract",
    "load_settings": "settings",
    "new_key": "keys",
    "parse_body": "contract",
    "Rejected": "contract",
    "rows_frame": "forward",
    "Site": "settings",
    "StoredRow": "store",
    "StoreError": "store",
    "StoreFull": "store",
    "TokenBucket": "keys",
    "WriteKey": "keys",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name not in _NAMES:
        raise AttributeError(f"module 'journeys.collect' has no attribute {name!r}")
    return getattr(import_module(f"journeys.collect.{_NAMES[name]}"), name)


def __dir__():
    return sorted([*globals(), *_NAMES])
