"""The collector: an HTTP service that takes events from web pages and apps.

Pages and apps post events as JSON; the collector checks each against the events
schema (:mod:`journeys.collect.contract`), keeps the accepted ones durably on disk
(:mod:`journeys.collect.store`) before it answers, and writes them to InfluxDB in
batches through the toolkit's writer in the background
(:mod:`journeys.collect.forward`). ``journeys collect`` runs it.
"""
