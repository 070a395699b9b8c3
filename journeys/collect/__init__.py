"""The collector: an HTTP service that takes events from web pages and apps.

Pages and apps post events as JSON; the collector checks each against the events
schema (:mod:`journeys.collect.contract`), keeps the accepted ones durably on disk
(:mod:`journeys.collect.store`) before it answers, and writes them to InfluxDB in
batches through the toolkit's writer in the background
(:mod:`journeys.collect.forward`). ``journeys collect`` runs it.
"""

# Each module's public names, re-exported one per line (so merges of new ones stay easy).
from journeys.collect.forward import Forwarder as Forwarder
from journeys.collect.forward import rows_frame as rows_frame
from journeys.collect.store import EventStore as EventStore
from journeys.collect.store import StoredRow as StoredRow
from journeys.collect.store import StoreError as StoreError
from journeys.collect.store import StoreFull as StoreFull
