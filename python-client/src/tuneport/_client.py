"""Optuna's module functions (``create_study``, ``load_study``, ``copy_study``...) on clients shared per
endpoint, and ``connect``; the ``Client`` is in ``_connection``, its background thread in ``_background``."""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from . import _private
from ._distributions import DistributionLike
from ._errors import InvalidArgumentError, TimeoutError, UnavailableError
from ._connection import (  # noqa: F401 - re-exported: the Client and its defaults were defined here
    DEFAULT_CONNECT_TIMEOUT_S as DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_HEARTBEAT_INTERVAL_S as DEFAULT_HEARTBEAT_INTERVAL_S,
    Client as Client,
    __version__ as __version__,
    _shown as _shown,
    _user_stacklevel as _user_stacklevel,
)
from ._background import (  # noqa: F401 - the constants are re-exported: read as _client's (tests)
    MAX_PENDING_REPORTS as MAX_PENDING_REPORTS,
    REPORT_LINGER_S as REPORT_LINGER_S,
    REPORT_POLL_S as REPORT_POLL_S,
    STOP_GRACE_S as STOP_GRACE_S,
    _Background as _Background,
    _PendingReport as _PendingReport,
)
from ._optuna_objects import check_on_load, translate
from ._protocol import DEFAULT_OUTAGE_BUDGET_S, CurveKeys, _endpoint_hint, check_endpoint
from ._study import _METRIC_NAMES_ATTR, Direction, Study, StudySummary

log = logging.getLogger("tuneport")


def connect(
    endpoint: str | Sequence[str],
    *,
    timeout: float = 10.0,
    retries: int = 3,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
    outage_budget_s: float = DEFAULT_OUTAGE_BUDGET_S,
    heartbeat: bool = True,
    heartbeat_interval_s: float | None = None,
    client_info: Mapping[str, Any] | None = None,
    curve: CurveKeys | None = None,
) -> Client:
    """Connects to a server and runs the ``hello`` handshake (protocol version negotiation).

    - ``endpoint``: ``tcp://host:port`` (also ``ipc://path``); anything else raises
      InvalidArgumentError at once, with a hint. Several endpoints (``["tcp://a:5555",
      "tcp://b:5555"]``: servers sharing one PostgreSQL database) make the client fail over
      between them and follow redirects to each study's owner (docs/SCALING.md).
    - ``connect_timeout``: how long the handshake waits for something that accepted the connection
      (a ZeroMQ handshake, then the ``hello`` reply) before a TimeoutError asking whether a tuneport
      server runs there. A server that is not up yet (nothing accepts the connection) is waited for
      up to ``outage_budget_s``, as a lost one is later, with a warning after ``connect_timeout``;
      then TimeoutError names the endpoint and the wait. With several endpoints, each is tried in
      turn for ``connect_timeout``, cycling until one answers or ``outage_budget_s`` is spent (each
      tried once at least); then TimeoutError names them all. A ``hello`` answered UNAVAILABLE
      (a server over its memory ceiling) is resent with backoff up to ``retries`` times, as any request.
    - ``UNAVAILABLE`` replies are resent with the same id after at least the server's hint
      (``retry_after_ms``/``retry_after_s``), with backoff, ``retries`` times; a full server disk
      (``reason == "storage_full"``) is waited out like a lost connection, up to ``outage_budget_s``
      from the first refusal of a request in it (a refused heartbeat starts no clock; one warning per
      outage, told from the next by the server's ``full_since``), then UnavailableError (``err.reason``).
    - ``timeout``/``retries``: while connected, each request waits ``timeout`` seconds for its
      reply and is resent (same id) up to ``retries`` times on silence (Lazy Pirate).
    - ``outage_budget_s``: when the connection is lost (a restart, a crash), a request waits up
      to this long for the server to come back and resends as soon as it does; then it raises
      TimeoutError, and later requests give up after a last 1 s look. ``math.inf`` waits forever.
      It bounds the wait for a full server disk too (see above).
    - ``curve`` (see ``CurveKeys.from_files``): every socket, the heartbeat's too, encrypts and
      authenticates with CURVE; a refused key raises UnauthenticatedError.

    @raises InvalidArgumentError, TimeoutError, UnauthenticatedError, UnavailableError, UnsupportedVersionError."""
    return Client(
        endpoint,
        timeout=timeout,
        retries=retries,
        connect_timeout=connect_timeout,
        outage_budget_s=outage_budget_s,
        heartbeat=heartbeat,
        heartbeat_interval_s=heartbeat_interval_s,
        client_info=client_info,
        curve=curve,
    )


#: Clients that ``create_study``/``load_study`` opened, one per endpoint (closed at exit as every client is).
_shared_clients: dict[str, Client] = {}
_shared_lock = threading.Lock()

#: The server ``create_study``/``load_study`` use when no ``storage`` is given.
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"


def _storage_endpoints(given: str | Sequence[str]) -> list[str]:
    """The endpoints ``storage`` (or ``$TUNEPORT_ENDPOINT``) names: one, a list, or a comma-separated
    string of them (``tcp://a:5555,tcp://b:5555``, as the scaling recipes' ``$TUNEPORT_ENDPOINTS``);
    a list was refused as "not a string". @raises InvalidArgumentError."""
    listed = re.split(r",\s*(?=(?:tcp|ipc|inproc)://)", given) if isinstance(given, str) else given
    if isinstance(listed, (bytes, bytearray)) or not isinstance(listed, Sequence) or len(listed) == 0:
        return [check_endpoint(given)]
    return [check_endpoint(e) for e in listed]


def _shared_client(storage: str | Sequence[str] | Client | None, *, may_start_private: bool = False) -> Client:
    """The client for ``storage``; with none given, the default endpoint's, or this process's
    private server's once one runs. ``may_start_private`` (``create_study``): when no storage,
    no ``$TUNEPORT_ENDPOINT`` and nothing listens at the default endpoint, starts the private
    server (``_private.py``: Optuna's in-memory storage, as a server for this process)."""
    if isinstance(storage, Client):
        return storage
    _refuse_optuna_storage(storage)
    if storage is None and "TUNEPORT_ENDPOINT" not in os.environ:
        endpoints = [_default_or_private_endpoint(may_start_private)]
    else:
        endpoints = _storage_endpoints(storage if storage is not None else os.environ["TUNEPORT_ENDPOINT"])
    key = ",".join(endpoints)
    with _shared_lock:
        client = _shared_clients.get(key)
        if client is None or client.closed or client._pid != os.getpid():  # a forked child connects anew
            client = connect(endpoints[0] if len(endpoints) == 1 else endpoints)  # closed at exit (_close_at_exit)
            _shared_clients[key] = client
        return client


def _refuse_optuna_storage(storage: object) -> None:
    """An Optuna storage object (``InMemoryStorage()``, ``RDBStorage(url, heartbeat_interval=...)``,
    ``JournalStorage(...)``) is refused with what to pass instead, not as "not a string".
    @raises InvalidArgumentError."""
    cls = type(storage)
    if not cls.__module__.startswith("optuna.storages"):
        return
    # optuna.storages.get_storage(url) wraps an RDBStorage in a _CachedStorage
    backend = getattr(storage, "_backend", storage) if cls.__name__ == "_CachedStorage" else storage
    url = getattr(backend, "url", None)
    if cls.__name__ == "InMemoryStorage":
        hint = (
            "leave storage out: without one, create_study uses a private server for this process (or the one at "
            "$TUNEPORT_ENDPOINT), as Optuna keeps the study in memory"
        )
    elif isinstance(url, str):
        hint = (
            f"{_endpoint_hint(url).removeprefix('that is an Optuna storage URL; ')} (for its url {url!r}); the heartbeat "
            "and RetryFailedTrialCallback settings are create_study's "
            "lease_ttl_s=... and max_retries=..."
        )
    else:
        hint = (
            "a tuneport study lives on a server, which any number of processes share: start one "
            "(`npx tuneport serve --storage tuneport.db --bind tcp://127.0.0.1:5555`) and pass storage='tcp://127.0.0.1:5555'"
        )
    name = type(backend).__name__
    raise InvalidArgumentError(f"storage={name}(...) is an Optuna storage: {hint}", {"storage": name})


def _default_or_private_endpoint(may_start_private: bool) -> str:
    running = _private.private_server()
    if running is not None:
        return running.endpoint
    if not (may_start_private and _private.nothing_listens(DEFAULT_ENDPOINT)):
        return DEFAULT_ENDPOINT
    server = _private.start_private_server()
    atexit.register(_stop_private_server)
    log.warning(
        "No tuneport server at %s: started a private one for this process (%s), as Optuna keeps a study in memory "
        "without storage. Its studies end when this process exits. To keep them or share them between processes, "
        "run `npx tuneport serve` and pass storage=%r (or set TUNEPORT_ENDPOINT).",
        DEFAULT_ENDPOINT, server.endpoint, DEFAULT_ENDPOINT,
    )  # fmt: skip
    return server.endpoint


def _stop_private_server() -> None:
    """At exit: closes the private server's client (its queued reports go first), then the server."""
    running = _private.private_server()
    if running is None:
        return
    with _shared_lock:
        client = _shared_clients.pop(running.endpoint, None)
    if client is not None:
        client.close()
    _private.stop_private_server()


def _rebuild_study(endpoints: list[str], name: str) -> Study:
    """A pickled Study in this process (``Study.__reduce__``): loaded through the shared client of
    its endpoint (one per process, closed at exit), or a client of its own for several endpoints."""
    client = _shared_client(endpoints[0]) if len(endpoints) == 1 else connect(endpoints)
    return client.load_study(name)


def create_study(
    *,
    storage: str | Sequence[str] | Client | None = None,
    sampler: Any = None,
    pruner: Any = None,
    study_name: str | None = None,
    direction: Direction | None = None,
    load_if_exists: bool = False,
    directions: Sequence[Direction] | None = None,
    reference_point: Sequence[float] | None = None,
    strategy: str | Mapping[str, Any] | None = None,
    scheduler: str | Mapping[str, Any] | None = None,
    space: Mapping[str, DistributionLike] | None = None,
    seed: int | None = None,
    max_trials: int | None = None,
    user_attrs: Mapping[str, Any] | None = None,
    max_resource: float | None = None,
    lease_ttl_s: float | None = None,
    max_retries: int | None = None,
    retry_on_fail: bool | None = None,
    keep_intermediate: bool | None = None,
) -> Study:
    """Optuna's ``optuna.create_study`` (same argument order), against a tuneport server:
    ``storage`` is the server's endpoint (default: ``$TUNEPORT_ENDPOINT``, else
    tcp://127.0.0.1:5555), several of them (a list, or one string with commas: servers sharing one
    PostgreSQL database, between which the client fails over), or a ``Client``. With neither ``storage`` nor ``$TUNEPORT_ENDPOINT``
    and no server at the default endpoint, a private server is started for this process (with a
    warning): like Optuna's in-memory storage, its studies end with the process, and the
    ``load_study``/``get_all_study_names`` calls without ``storage`` that follow use it. Without
    ``study_name`` a unique name is made up (as Optuna does). One client per endpoint is opened
    on first use and closed at exit. The rest is
    ``Client.create_study``. ``sampler``/``pruner`` (Optuna's objects, or ``tuneport.samplers``/
    ``tuneport.pruners`` ones) run as the strategy and scheduler of their algorithm with the
    options they were given, and a seed derived from the sampler's random state (``seed`` wins);
    one that cannot run as given (no counterpart of its class or of a setting it was given) is
    refused with the ``strategy=``/``scheduler=`` to pass instead, as is ``sampler`` with
    ``strategy`` (``pruner`` with ``scheduler``). With ``load_if_exists`` an existing study keeps the
    strategy and scheduler it runs for every worker: ``sampler``/``pruner`` that stand for others
    load it with ``load_study``'s UserWarning (Optuna's "each worker runs create_study(...,
    load_if_exists=True, sampler=...)" recipe); other settings that differ (``directions``) are
    still refused. A sampler's ``constraints_func`` goes to the
    study's ``optimize`` and ``tell``. A study has no scheduler unless given one.
    ``lease_ttl_s``, ``max_retries`` and ``retry_on_fail`` are what Optuna's
    ``RDBStorage(heartbeat_interval=..., failed_trial_callback=RetryFailedTrialCallback(max_retry=n))``
    sets up: a trial whose worker stops renewing its lease is failed after ``lease_ttl_s`` and its
    params re-queued at most ``max_retries`` times (``retry_on_fail``: also after a FAIL);
    ``keep_intermediate`` is its ``inherit_intermediate_values=True``.
    @raises InvalidArgumentError, AlreadyExistsError."""
    runs = translate(
        sampler,
        pruner,
        strategy=strategy,
        scheduler=scheduler,
        seed=seed,
        max_resource=max_resource,
        multi_objective=isinstance(directions, (list, tuple)) and len(directions) > 1,
    )
    client = _shared_client(storage, may_start_private=True)
    name = study_name if study_name is not None else f"no-name-{uuid.uuid4()}"

    def create(given: Mapping[str, Any]) -> Study:
        return client.create_study(
            name,
            direction=direction,
            directions=directions,
            reference_point=reference_point,
            space=space,
            load_if_exists=load_if_exists,
            max_trials=max_trials,
            user_attrs=user_attrs,
            lease_ttl_s=lease_ttl_s,
            max_retries=max_retries,
            retry_on_fail=retry_on_fail,
            keep_intermediate=keep_intermediate,
            **given,
        )

    given = {"strategy": runs.strategy, "scheduler": runs.scheduler, "seed": runs.seed, "max_resource": runs.max_resource}
    # The settings that came from sampler=/pruner= (not strategy=, scheduler=, seed=, max_resource=).
    came_from = {"strategy": sampler, "seed": sampler if seed is None else None, "scheduler": pruner, "max_resource": pruner if max_resource is None else None}
    from_objects = {k for k, obj in came_from.items() if obj is not None and given[k] is not None}
    study: Study | None = None
    try:
        study = create(given)
    except InvalidArgumentError as err:
        # Optuna's recipes give each worker its own sampler with load_if_exists (TPESampler(seed=rank);
        # "explore with RandomSampler, then resume with TPESampler"): what a sampler or pruner
        # stands for is not a setting to compare with the stored study's. The study keeps what it
        # runs for every worker, as load_study(sampler=...) does (check_on_load warns when the
        # objects stand for something else). Asked again without them (outside this handler, so
        # that a refusal does not carry this one), the study loads, or the refusal names only
        # what does differ (directions).
        differences = {d.get("field") for d in (err.data or {}).get("differences") or []}
        if not (load_if_exists and differences & from_objects):
            raise
    if study is None:
        study = create({k: None if k in from_objects else v for k, v in given.items()})
        check_on_load(study, sampler, pruner, caller="create_study(load_if_exists=True, ")
    elif runs.note:  # what the objects run as (not said of a study that keeps its own)
        log.info("%s", runs.note)
    study._constraints_func = runs.constraints_func
    if study._created:  # Optuna's INFO lines
        log.info("A new study created on %s with name: %s", client.endpoint, study.name)
    else:
        log.info("Using an existing study with name '%s' instead of creating a new one.", study.name)
    return study


def load_study(*, study_name: str | None, storage: str | Sequence[str] | Client | None = None, sampler: Any = None, pruner: Any = None) -> Study:
    """Optuna's ``optuna.load_study``: the existing study ``study_name`` on the server at
    ``storage`` (as in ``create_study``); ``study_name=None`` loads the server's only study, as
    Optuna does. @raises NotFoundError; ValueError when ``study_name`` is None and the server
    does not hold exactly one study. A loaded study keeps the strategy and scheduler it was
    created with, which the server runs for every worker: ``sampler``/``pruner`` (Optuna's
    objects, or tuneport's) that stand for them are accepted (their seed has no use), others
    load the study with a UserWarning naming what it runs and ``Study.update`` to change it for
    every worker. A sampler's ``constraints_func`` goes to the study's ``optimize`` and ``tell``."""
    client = _shared_client(storage)
    if study_name is None:
        names = [s.name for s in client.list_studies()]
        if len(names) != 1:
            raise ValueError(
                f"Could not determine the study name since the server at {client.endpoint} does not hold exactly "
                f"1 study. Specify `study_name` from {names[:20]}{' ...' if len(names) > 20 else ''}."
            )
        study_name = names[0]
        log.info("Study name was omitted: loading '%s', the only study on the server.", study_name)
    study = client.load_study(study_name)
    if sampler is not None or pruner is not None:
        check_on_load(study, sampler, pruner)
    return study


def delete_study(*, study_name: str, storage: str | Sequence[str] | Client | None = None) -> None:
    """Optuna's ``optuna.delete_study``: deletes the study and its trials. @raises NotFoundError."""
    _shared_client(storage).delete_study(study_name)


def get_all_study_names(storage: str | Sequence[str] | Client | None = None) -> list[str]:
    """Optuna's ``optuna.get_all_study_names``: every study's name on the server."""
    return [s.name for s in _shared_client(storage).list_studies()]


def get_all_study_summaries(storage: str | Sequence[str] | Client | None = None, include_best_trial: bool = True) -> list[StudySummary]:
    """Optuna's ``optuna.get_all_study_summaries``: a ``StudySummary`` per study (counts per state,
    best trial, configuration); ``include_best_trial=False`` leaves ``best_trial`` None, as Optuna."""
    summaries = _shared_client(storage).list_studies()
    return summaries if include_best_trial else [dataclasses.replace(s, best_trial=None) for s in summaries]


def copy_study(
    *, from_study_name: str, from_storage: str | Sequence[str] | Client | None, to_storage: str | Sequence[str] | Client | None, to_study_name: str | None = None
) -> None:
    """Optuna's ``optuna.copy_study``: a new study ``to_study_name`` (default: the same name) on
    the server at ``to_storage`` with the settings (directions, declared space, strategy,
    scheduler, seed, lease and retry policy, budget per trial), user attributes and trials of
    ``from_study_name`` at ``from_storage``. Finished trials are recorded with ``add_trial``
    (new numbers in the same order), WAITING ones enqueued; RUNNING ones are left out, with a
    warning (a copy cannot hold a trial some worker is still running). ``max_trials`` is not
    copied: recorded trials do not count against it.
    @raises NotFoundError (a KeyError, as Optuna's) when the source is missing,
    AlreadyExistsError when the destination exists."""
    source = _shared_client(from_storage).load_study(from_study_name)
    summary = source.summary()
    retry = summary.retry
    target = _shared_client(to_storage).create_study(
        to_study_name if to_study_name is not None else from_study_name,
        directions=list(summary.directions or [summary.direction]),
        reference_point=summary.reference_point,
        strategy=summary.strategy or None,
        scheduler=summary.scheduler,
        space=summary.space or None,
        seed=summary.seed,
        user_attrs={**summary.user_attrs, **({_METRIC_NAMES_ATTR: summary.metric_names} if summary.metric_names else {})} or None,
        lease_ttl_s=summary.lease_ttl_s or None,
        max_retries=retry.get("max_retries"),
        retry_on_fail=retry.get("retry_on_fail"),
        max_resource=summary.max_resource,
    )
    running = []
    for trial in source.trials:
        if trial.state.is_finished():
            target.add_trial(trial)
        elif trial.state == "WAITING":
            target.enqueue(trial.params, user_attrs=trial.user_attrs or None)
        else:
            running.append(trial.number)
    if running:
        log.warning("copy_study: %d RUNNING trial(s) of '%s' not copied: %s", len(running), from_study_name, running)


__all__ = ["Client", "connect", "copy_study", "create_study", "delete_study", "get_all_study_names", "get_all_study_summaries", "load_study"]
