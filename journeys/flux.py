"""Flux queries, for the servers that run them: InfluxDB 2.x and Cloud.

Flux is the query language InfluxDB 2.x added next to InfluxQL; InfluxDB 3
dropped it again, and 1.x runs it only when configured to. journeys reads its
events with InfluxQL, which every generation answers (see
:mod:`journeys.query`); :func:`run_flux` is for what InfluxQL cannot say
(joins, pivots, ``map``) on a server that runs Flux. It goes through
influxdb-client's ``QueryApi`` on the connection's organisation, and raises a
clear error, before sending anything, on a server of another generation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import urllib3
from influxdb_client.rest import ApiException

from journeys.errors import JourneysError

if TYPE_CHECKING:
    from journeys.client import InfluxDB

__all__ = ["FLUX_OUTPUTS", "run_flux"]

#: What :func:`run_flux` can give back.
FLUX_OUTPUTS = ("frame", "tables", "csv")


def run_flux(client: InfluxDB, query: str, *, params: dict | None = None, output: str = "frame"):
    """Run a Flux query on InfluxDB 2.x or Cloud.

    Parameters
    ----------
    client : InfluxDB
        The connection; its organisation is the one queried.
    query : str
        The Flux script, e.g. ``from(bucket: "journeys") |> range(start: -7d)``.
    params : dict, optional
        Values of names the script uses, sent apart from it (each as an
        ``option name = value``) so that nothing needs quoting.
    output : {"frame", "tables", "csv"}
        A :class:`pandas.DataFrame` of every table one below the other; the
        influxdb-client ``TableList`` as it is; or the annotated CSV text.

    Raises
    ------
    JourneysError
        On a server that does not run Flux (1.x, 3.x).
    ServerError
        When the server refuses the query, with its message.

    Examples
    --------
    >>> db.flux('from(bucket: "journeys") |> range(start: -1d) |> count()')  # doctest: +SKIP
    """
    from journeys.client import _shown, _unreachable
    from journeys.v2 import _server_error

    if output not in FLUX_OUTPUTS:
        raise ValueError(
            f"output={output!r} is not a form Flux answers come in: pass one of "
            f"{', '.join(map(repr, FLUX_OUTPUTS))}"
        )
    server = client.server
    # Limitation: InfluxDB 1.8 runs Flux too when its flux-enabled setting is on; sending
    # the script there (to /api/v2/query, with "database/retention" as the bucket) would
    # let 1.8 users run it instead of being refused.
    if server.generation != "v2":
        raise JourneysError(
            f"{server} at {_shown(client.url)} does not run Flux, which only InfluxDB 2.x and "
            "Cloud do: ask in InfluxQL with db.influxql(...), or read events with db.query(...)"
        )

    v2 = client._v2_api()
    api = v2.client.query_api()
    try:
        if output == "csv":
            return api.query_raw(query, org=v2.org, params=params).data.decode("utf-8")
        if output == "tables":
            return api.query(query, org=v2.org, params=params)
        frames = api.query_data_frame(query, org=v2.org, params=params)
    except ApiException as exc:
        if exc.status in (None, 0):
            raise _unreachable(client.url, str(exc.reason)) from exc
        raise _server_error("the Flux query was refused", exc) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise _unreachable(client.url, str(exc)) from exc

    if isinstance(frames, list):
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return frames
