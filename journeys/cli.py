"""The ``journeys`` command: a thin layer over the library.

Each command parses its options, calls one library function and prints the
result. Errors of the library become one-line messages and exit status 1.
Connection options fall back to the environment variables documented in
:mod:`journeys.config` (``INFLUXDB_URL``, ``INFLUXDB_DATABASE``,
``INFLUXDB_TOKEN``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import signal
import socket
import sys
import time
import warnings
from pathlib import Path

import click

from journeys import __version__
from journeys.errors import JourneysError, JourneysWarning, WriteError

logger = logging.getLogger(__name__)

_URL_HELP = "InfluxDB address, e.g. http://127.0.0.1:8086 [env: INFLUXDB_URL]."
_DATABASE_HELP = (
    "Database to use [env: INFLUXDB_DATABASE; default: journeys; for the demo: journeys_demo]."
)
_TOKEN_HELP = "Token, or user:password for 1.x [env: INFLUXDB_TOKEN]."


def _connection_options(command):
    command = click.option(
        "--retries",
        type=click.IntRange(min=0),
        default=3,
        show_default=True,
        help="Tries again after a failed request, with growing pauses.",
    )(command)
    command = click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        default=30.0,
        show_default=True,
        help="Seconds to wait for each answer.",
    )(command)
    command = click.option("--token", default=None, help=_TOKEN_HELP)(command)
    command = click.option("--database", "-d", default=None, help=_DATABASE_HELP)(command)
    return click.option("--url", default=None, help=_URL_HELP)(command)


def _clean_errors(command):
    """Turn the library's errors into one-line CLI errors, its warnings into lines."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", JourneysWarning)
                warnings.showwarning = _show_warning
                return command(*args, **kwargs)
        except BrokenPipeError:
            # The reader (head, less) has had enough: that is not an error.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return None
        except JourneysError as exc:
            raise click.ClickException(str(exc)) from exc
        except (ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def _show_warning(message, category, *args, **kwargs) -> None:
    click.echo(f"Warning: {message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="journeys")
@click.option("-v", "--verbose", count=True, help="Log more: -v for steps, -vv for payloads.")
def main(verbose: int) -> None:
    """Simulate, store and analyse customer journeys in InfluxDB."""
    level = {0: logging.ERROR, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # Each retry is a warning to urllib3; the final error is enough unless asked.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbose > 1 else logging.ERROR)


@main.command()
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Simulation settings from a .toml or .json file (see journeys.SimulationConfig).",
)
@click.option("--users", type=int, default=None, help="Users to simulate [default: 2000].")
@click.option("--days", type=int, default=None, help="Length of the period [default: 30].")
@click.option("--start", default=None, help="First day, UTC [default: 2024-05-01].")
@click.option("--catalog-size", type=int, default=None, help="Movies [default: 2000].")
@click.option("--seed", default=None, type=int, help="Seed; the same seed gives the same file.")
@click.option(
    "--chunk-users",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Users simulated and written at a time; bounds the memory used.",
)
@click.option(
    "--truth",
    "truth_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the ground truth the settings imply, as JSON.",
)
@click.option(
    "--progress/--no-progress", default=None, help="Show a progress bar [default: on a terminal]."
)
@_clean_errors
def generate(
    output: Path,
    config_file,
    users,
    days,
    start,
    catalog_size,
    seed,
    chunk_users,
    truth_file,
    progress,
) -> None:
    """Generate synthetic journeys into OUTPUT (.csv, .parquet or .jsonl).

    The events are simulated and written --chunk-users users at a time, each
    chunk sorted by time, so the file can hold tens of millions of events.
    Options given override the --config file.
    """
    from journeys.files import save_event_chunks
    from journeys.generate import BLOCK_USERS, generate_chunks
    from journeys.simulation_config import SimulationConfig, load_config
    from journeys.truth import GroundTruth

    config = load_config(config_file) if config_file else SimulationConfig()
    chunks = generate_chunks(
        users=users,
        days=days,
        start=start,
        catalog_size=catalog_size,
        seed=seed,
        config=config,
        chunk_users=chunk_users,
    )
    per_chunk = -(-chunk_users // BLOCK_USERS) * BLOCK_USERS
    total = -(-(users if users is not None else config.users) // per_chunk)
    with _progress_bar(progress, total) as bar:
        _, written = save_event_chunks(_counted(chunks, bar), output)
    click.echo(f"{written:,} events written to {output}")
    if truth_file is not None:
        settings = {"users": users, "days": days, "start": start, "catalog_size": catalog_size}
        used = config.replace(**{k: v for k, v in settings.items() if v is not None})
        truth_file.write_text(GroundTruth(used).to_json(), encoding="utf-8")
        click.echo(f"ground truth written to {truth_file}")


def _progress_bar(progress, total):
    from tqdm import tqdm

    disable = None if progress is None else not progress
    return tqdm(total=total, unit="chunk", desc="generating", disable=disable)


def _counted(chunks, bar):
    for chunk in chunks:
        yield chunk
        bar.update(1)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_connection_options
@click.option(
    "--layout",
    type=click.Choice(["default", "published"]),
    default="default",
    show_default=True,
    help="Which columns become tags.",
)
@click.option(
    "--on-invalid",
    type=click.Choice(["raise", "skip"]),
    default="raise",
    show_default=True,
    help="Refuse the file on a bad value, or skip bad rows.",
)
@click.option(
    "--epoch-unit",
    type=click.Choice(["ns", "us", "ms", "s"]),
    default="ns",
    show_default=True,
    help="Unit of numeric times in the time column.",
)
@click.option(
    "--extra-columns",
    type=click.Choice(["error", "drop"]),
    default="error",
    show_default=True,
    help="Refuse columns outside the schema, or leave them out.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Rows per request.",
)
@click.option(
    "--retry-for",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds a failed batch is tried again for, however often, then spooled.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 4),
    default=3,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--gzip/--no-gzip",
    default=None,
    help="Compress requests [default: on, except for a server on this machine].",
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Rows of FILE read and prepared at a time.",
)
@click.option(
    "--progress/--no-progress", default=None, help="Show a progress bar [default: on a terminal]."
)
@_clean_errors
def write(
    file: Path,
    url,
    database,
    token,
    timeout,
    retries,
    layout,
    on_invalid,
    epoch_unit,
    extra_columns,
    batch_size,
    retry_for,
    concurrency,
    gzip,
    chunk_rows,
    progress,
) -> None:
    """Write the events of FILE (.csv, .parquet, .jsonl) to InfluxDB.

    FILE is read in chunks, so a file of any size streams through in bounded
    memory. The report lists the events read, written, rejected (by reason,
    with the first rows), retried and spooled.

    A .lp file of line protocol, such as a spool file kept after a failed
    write, is sent to the database its first line names (unless --database
    says otherwise), its tied events numbered again against the stored ones.
    """
    from journeys.client import InfluxDB
    from journeys.lineprotocol import split_lines
    from journeys.spool import read_spool_header

    delivery = {
        "batch_size": batch_size,
        "retry_for": retry_for,
        "concurrency": concurrency,
        "gzip": gzip,
        "progress": progress,
    }
    if file.suffix == ".lp":
        context = click.get_current_context()
        for name in ("layout", "on_invalid", "epoch_unit", "extra_columns", "chunk_rows"):
            if context.get_parameter_source(name) != click.core.ParameterSource.DEFAULT:
                option = "--" + name.replace("_", "-")
                raise click.UsageError(f"{option} does not apply to a .lp file of line protocol")
        # Bytes, not text mode: text mode would turn a \r inside a string into \n.
        text = file.read_bytes().decode("utf-8")
        header = read_spool_header(text)
        database = database or header.get("database")

    with InfluxDB(url, database=database, token=token, timeout=timeout, retries=retries) as db:
        # A server that cannot be reached at all is said at once, before a large file
        # is read, validated and copied into the spool folder; the writer then uses
        # what this ping found out instead of asking again.
        db.server  # noqa: B018 (the property asks /ping)
        try:
            if file.suffix == ".lp":
                report = db.write_lines(split_lines(text), layout=header.get("layout"), **delivery)
            else:
                report = db.write(
                    file,
                    layout=layout,
                    on_invalid=on_invalid,
                    epoch_unit=epoch_unit,
                    extra_columns=extra_columns,
                    chunk_rows=chunk_rows,
                    **delivery,
                )
        except WriteError as exc:
            if exc.report is not None:
                click.echo(str(exc.report))
            raise
        except KeyboardInterrupt:
            raise click.ClickException(
                "interrupted: the events sent so far are stored; run the same command again to "
                "write the rest (events already stored are recognised and stored once)"
            ) from None
    click.echo(f"database        {db.database}")
    click.echo(str(report))
    if file.suffix == ".lp":
        click.echo(f"All its events are stored now: {file} can be deleted.")


def _filter_options(command):
    command = click.option(
        "--where",
        multiple=True,
        metavar="COLUMN=VALUE",
        help="Only events whose COLUMN holds VALUE (repeatable).",
    )(command)
    command = click.option(
        "--event-type", "event_types", multiple=True, help="Only this type (repeatable)."
    )(command)
    command = click.option("--stop", default=None, help="First time excluded.")(command)
    return click.option(
        "--start", default=None, help="First time included (ISO 8601; naive is UTC)."
    )(command)


def _filters(where: tuple[str, ...]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for condition in where:
        name, sep, value = condition.partition("=")
        if not sep:
            raise click.BadParameter(f"{condition!r} is not COLUMN=VALUE", param_hint="--where")
        filters.setdefault(name, []).append(value)
    return filters


def _print_csv(table) -> None:
    table.to_csv(sys.stdout, index=False, lineterminator="\r\n")
    sys.stdout.flush()


@main.command()
@_connection_options
@_filter_options
@click.option(
    "--columns",
    default=None,
    metavar="COLUMN,...",
    help="Read only these columns, and the events holding one of them (see --all-events).",
)
@click.option(
    "--all-events",
    is_flag=True,
    help="With --columns, also the events holding none of the columns (as slow as all).",
)
@click.option(
    "--slice",
    "slice_",
    default=None,
    metavar="LENGTH",
    help="Read the range in slices of this length, e.g. 1D or 6h.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 4),
    default=1,
    show_default=True,
    help="Slices read side by side.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Save to this file (.csv, .parquet, .jsonl) instead of printing CSV.",
)
@_clean_errors
def query(columns, all_events, slice_, workers, output, **options) -> None:
    """Read events back from InfluxDB."""
    from journeys.files import iso_times, save_events

    names = None if columns is None else [c.strip() for c in columns.split(",") if c.strip()]
    if output is not None and names is not None and "event_type" not in names:
        raise click.BadParameter(
            "a file of events holds the schema's columns and needs event_type: add it to "
            "--columns, or leave -o out to print the selected columns alone",
            param_hint="--columns",
        )
    with _connect(options) as db:
        events = db.query(
            **_range_and_filters(options),
            columns=names,
            all_events=all_events,
            slice=slice_,
            workers=workers,
        )

    if output is None:
        table = events.reset_index()
        table["time"] = iso_times(events.index)
        _print_csv(table)
        return
    save_events(events, output)
    click.echo(f"{len(events):,} events saved to {output}")


def _connect(options: dict):
    """The connection the connection options name (taken out of ``options``)."""
    from journeys.client import InfluxDB

    url = options.pop("url")
    names = ("database", "token", "timeout", "retries")
    return InfluxDB(url, **{name: options.pop(name) for name in names})


def _range_and_filters(options: dict) -> dict:
    """The keyword arguments of the range and filter options (taken out of ``options``)."""
    return {
        "start": options.pop("start"),
        "stop": options.pop("stop"),
        "event_types": list(options.pop("event_types")) or None,
        "where": _filters(options.pop("where")),
    }


@main.command()
@_connection_options
@_filter_options
@click.option("--every", default="1h", show_default=True, help="Length of the intervals.")
@click.option("--by", multiple=True, metavar="TAG", help="Count per this tag (repeatable).")
@click.option("--field", default=None, help="Count only the events holding this field.")
@click.option("--zeros/--no-zeros", default=True, help="Keep intervals without events.")
@_clean_errors
def count(every, by, field, zeros, **options) -> None:
    """Count events per interval and tag on the server, as CSV."""
    import pandas as pd

    from journeys.aggregate import count_events
    from journeys.files import iso_times

    with _connect(options) as db:
        counts = count_events(
            db, **_range_and_filters(options), every=every, by=list(by), field=field, zeros=zeros
        )
    counts["time"] = iso_times(pd.DatetimeIndex(counts["time"]))
    _print_csv(counts)


@main.command()
@_connection_options
@_clean_errors
def ping(url, database, token, timeout, retries) -> None:
    """Say which InfluxDB answers, and the API journeys speaks with it."""
    from journeys.client import InfluxDB

    with InfluxDB(url, database=database, token=token, timeout=timeout, retries=retries) as db:
        server = db.server
    click.echo(f"server          {server}")
    click.echo(f"api             {server.generation}")
    click.echo(f"database        {db.database}")


@main.command()
@_connection_options
@click.option(
    "--users",
    type=click.IntRange(min=1),
    default=3000,
    show_default=True,
    help="Users to simulate.",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Length of the period.",
)
@click.option("--seed", default=7, show_default=True, help="Seed of the generator.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default="journeys-demo",
    show_default=True,
    help="Folder for the PNG plots.",
)
@_clean_errors
def demo(url, database, token, timeout, retries, users, days, seed, out) -> None:
    """Generate, write, read back and analyse a month of journeys.

    Without --url (or INFLUXDB_URL) a throwaway InfluxDB is started and
    stopped again. With one, the events go to the database journeys_demo
    unless --database names another.
    """
    from journeys.demo import run_demo

    result = run_demo(
        url=url,
        database=database,
        token=token,
        timeout=timeout,
        retries=retries,
        users=users,
        days=days,
        seed=seed,
        folder=out,
        step=lambda text: click.echo(f"... {text}"),
    )
    click.echo(str(result))


@main.command()
@click.option(
    "--database", "-d", default="journeys", show_default=True, help="Database to create."
)
@click.option("--influxd", default=None, help="The influxd binary [default: from PATH].")
@_clean_errors
def server(database: str, influxd: str | None) -> None:
    """Run a throwaway InfluxDB until Ctrl-C; its data is deleted on exit."""
    from journeys.local import LocalInfluxDB

    with LocalInfluxDB(database=database, influxd=influxd) as local:
        click.echo(f"InfluxDB running at {local.url}, database {database}")
        click.echo(f"  export INFLUXDB_URL={local.url} INFLUXDB_DATABASE={database}")
        click.echo("Press Ctrl-C to stop it (its data is deleted).")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with contextlib.suppress(KeyboardInterrupt):
            while local.running:
                time.sleep(1)
            raise click.ClickException(
                "influxd ended by itself; its last output:\n" + local.last_output()
            )
    click.echo("stopped")


@main.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The collector's TOML configuration: sites, keys, spool, InfluxDB.",
)
@click.option(
    "--host", default=None, help="Address to listen on [default: the config's, 127.0.0.1]."
)
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port [default: 8000].")
@click.option("--new-key", is_flag=True, help="Print a new random write key and exit.")
@click.option("--check", is_flag=True, help="Check the configuration, say what it holds, exit.")
@click.option("--access-log", is_flag=True, help="Log every request (slows the service down).")
@_clean_errors
def collect(config_file, host, port, new_key, check, access_log) -> None:
    """Run the collector: an HTTP service that takes events from pages and apps.

    Events posted to /events are checked, kept in a queue on disk, and written
    to InfluxDB in batches in the background; /journeys.js is the browser
    snippet, /health the state. One process, one worker: the queue is one
    SQLite file. Ctrl-C (or SIGTERM) stops taking events and writes the queue
    to InfluxDB before it exits; what cannot be written stays queued. The
    configuration's format is in the README, section "Collecting events".
    """
    from journeys.collect.keys import new_key as make_key

    if new_key:
        click.echo(make_key())
        return
    if config_file is None:
        raise click.UsageError("name the configuration with --config FILE (see the README)")

    from journeys.collect.settings import load_settings

    settings = load_settings(config_file)
    changes = {"host": host, "port": port}
    settings = settings.replace(**{k: v for k, v in changes.items() if v is not None})
    if check:
        _check_collector(config_file, settings)
        return
    _serve_collector(settings, access_log=access_log)


def _check_collector(config_file: Path, settings) -> None:
    """Say what the configuration holds, and whether its InfluxDB answers."""
    click.echo(f"config          {config_file}")
    for site in settings.sites:
        origins = ", ".join(site.origins) or "none (apps and servers only)"
        click.echo(f"site            {site.name}: {len(site.keys)} key(s), origins {origins}")
    with settings.connect(timeout=min(5.0, settings.timeout)) as db:
        click.echo(f"influxdb        {db!r}")
        try:
            click.echo(f"                answers: {db.server}")
        except JourneysError as exc:
            click.echo(f"                does not answer: {exc}; events will wait in the queue")
    click.echo(f"queue           {settings.store_path}")
    click.echo(f"listen          http://{settings.host}:{settings.port}")


def _check_port(host: str, port: int) -> None:
    """Refuse in one line an address the collector cannot listen on (a port in use).

    uvicorn would find out only after the app's startup, and end with status 3
    and its own lines. The probe binds as uvicorn does (``SO_REUSEADDR``) and
    lets go at once.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"port {port} on {host} is in use by another program: stop it, or give "
                    "the collector another with --port (or port in [server])"
                ) from None
            raise click.ClickException(
                f"cannot listen on {host} port {port}: {exc.strerror or exc}; give another "
                "--host or --port (or host and port in [server])"
            ) from None


def _serve_collector(settings, *, access_log: bool) -> None:
    import uvicorn

    from journeys.collect.app import create_app
    from journeys.collect.store import EventStore

    # A queue another collector holds, or a folder that cannot be written, is said
    # here in one line, rather than as a traceback of the app's startup.
    settings.spool.mkdir(parents=True, exist_ok=True)
    EventStore(settings.store_path).close()
    _check_port(settings.host, settings.port)

    # A service says what it does: one line per batch written, unless told otherwise.
    journeys_logger = logging.getLogger("journeys")
    if journeys_logger.getEffectiveLevel() > logging.INFO:
        journeys_logger.setLevel(logging.INFO)
        # The forwarder logs each batch; the writer's own lines about it are for -v.
        for name in ("journeys.write", "journeys.delivery", "journeys.client"):
            logging.getLogger(name).setLevel(logging.WARNING)
    # uvicorn shuts down gracefully on SIGINT and SIGTERM, then raises the signal
    # again with the handlers it found: these make that a clean exit, status 0.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: sys.exit(0))
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        # uvloop and httptools (uvicorn[standard]) wherever they are installed.
        loop="auto",
        http="auto",
        workers=1,
        lifespan="on",
        access_log=access_log,
        forwarded_allow_ips=list(settings.forwarded_allow_ips),
        log_level="info",
        timeout_graceful_shutdown=max(1, int(settings.flush_timeout)),
    )


if __name__ == "__main__":
    main()
