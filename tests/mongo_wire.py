"""A local MongoDB wire-protocol server for the MongoDB test tier, and the bridges it needs.

The server is `mongoeco` (requirements-dev.txt): an in-memory engine behind a listener that speaks
MongoDB's wire protocol, so the real `pymongo` client, and through it `django-mongodb-backend`,
talk to it over a socket exactly as they talk to `mongod`. mongoeco presents itself as a standalone
server; its sessions and transactions work (a conflict is detected when a transaction commits).

A few gaps of mongoeco 4.11.0 are bridged here, inside the server process and nowhere else; the
application never bends to them. Each bridge restores one behaviour real MongoDB (7.0 and later) has:

1. `buildinfo`: pymongo's `server_info()` (the backend's version check) sends the command in lower
   case; MongoDB's command names are case-insensitive for it, mongoeco knows only `buildInfo`.
2. Indexes on one key that differ by their `partialFilterExpression` (a pair of
   `UniqueConstraint(condition=...)` on one field, or one beside the plain index of a foreign key):
   MongoDB accepts them as distinct indexes, mongoeco refuses the second as a conflicting definition.
3. The aggregation expression `$not` (the backend emits it for `exclude()`, `~Q`, `isnull=False`
   and `count()`): missing in mongoeco.
4. `$dateTrunc` with `unit: "week"` and `startOfWeek`: mongoeco ignores `startOfWeek` and always
   starts weeks on Sunday; MongoDB honours it ("mon" for our analytics).
5. A nested inclusion in `$project` (`{"accounts_user": {"hidden": 1}}`, what the backend emits for
   `values("assignee__hidden")`) includes the nested field, as on MongoDB; mongoeco evaluates the inner
   document as a literal and returns 1s. The command is rewritten to the equivalent dotted paths.
6. A write conflict between transactions is reported as MongoDB reports one: code 112 `WriteConflict`,
   labelled `TransientTransactionError` (what drivers and our services retry on). mongoeco finds
   conflicts only at commit, and across the whole database rather than per document (stricter than
   MongoDB, so a retry is needed more often, never less), and reports them without code or label; it
   also keeps the refused transaction's writes pending where MongoDB aborts the transaction.

Not bridged, so left to a real replica set (tests marked `replica_set`, and attachments kept on disk in the
tier): mongoeco checks conflicts between concurrent writers only at commit and not per document, and a
transaction can lose its writes, while its commit answers ok, when another write lands in another collection
meanwhile (GridFS writes outside the unit's transaction, as pymongo requires, hit this).

Run one by hand, e.g. for `MONGO_URI=... make run`:
    .venv/bin/python -m tests.mongo_wire --port 27017
The MongoDB tier runs the suite against fresh ones, one per pytest-xdist worker:
    .venv/bin/python -m tests.mongo_wire --workers 2 --pytest ARGS
(what `make test-mongo` does); the servers are stopped when the run ends, whatever its outcome.
"""

import argparse
import asyncio
import contextlib
import datetime
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60  # seconds; the first import of mongoeco is slow on a loaded machine
READY = "mongo-wire ready"


# --- The bridges (run inside the server process only) ---------------------------------------------


def _bridge_lowercase_buildinfo(body):
    """Bridge 1: `buildinfo` is `buildInfo`, as on MongoDB."""
    if body and next(iter(body)) == "buildinfo":
        return {"buildInfo": body["buildinfo"], **{key: value for key, value in body.items() if key != "buildinfo"}}
    return body


def _bridge_nested_inclusion(body):
    """Bridge 5: `{"$project": {"a": {"b": 1}}}` includes `a.b`, as on MongoDB (sub-pipelines too)."""
    if body and next(iter(body)) == "aggregate" and isinstance(body.get("pipeline"), list):
        body["pipeline"] = _flatten_projections(body["pipeline"])
    return body


def _flatten_projections(pipeline):
    stages = []
    for stage in pipeline:
        if not isinstance(stage, dict):
            stages.append(stage)
            continue
        stage = dict(stage)
        if isinstance(stage.get("$project"), dict):
            stage["$project"] = dict(_inclusion_paths(stage["$project"]))
        for operator in ("$lookup", "$unionWith"):
            inner = stage.get(operator)
            if isinstance(inner, dict) and isinstance(inner.get("pipeline"), list):
                stage[operator] = {**inner, "pipeline": _flatten_projections(inner["pipeline"])}
        stages.append(stage)
    return stages


def _inclusion_paths(spec, prefix=""):
    for name, value in spec.items():
        if isinstance(value, dict) and value and _is_inclusion(value):
            yield from _inclusion_paths(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def _is_inclusion(spec):
    """A document of field names down to 0/1/true/false only (no expression operator)."""
    return all(
        not name.startswith("$") and (_is_inclusion(value) if isinstance(value, dict) else value in (0, 1, True, False))
        for name, value in spec.items()
    )


def _bridge_not(document, spec, variables, dialect, context):
    """Bridge 3: `{$not: [expression]}` (or `{$not: expression}`) is true when the expression is false,
    null, 0 or missing."""
    args = context.require_expression_args("$not", spec if isinstance(spec, list) else [spec], 1, 1)
    value = context.evaluate_expression(document, args[0], variables)
    return not dialect.policy.expression_truthy(value)


_WEEKDAYS = {
    name: number
    for number, names in enumerate(
        (
            ("monday", "mon"),
            ("tuesday", "tue"),
            ("wednesday", "wed"),
            ("thursday", "thu"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        )
    )
    for name in names
}


def _bridge_date_trunc(builtin):
    """Bridge 4: `$dateTrunc` by week honours `startOfWeek` (UTC dates, binSize 1, as we use it)."""

    def handler(document, spec, variables, dialect, context):
        if isinstance(spec, dict) and spec.get("unit") == "week" and "startOfWeek" in spec:
            start_of_week = context.evaluate_expression(document, spec["startOfWeek"], variables)
            first_day = _WEEKDAYS[str(start_of_week).lower()]
            if spec.get("binSize", 1) == 1 and spec.get("timezone") in (None, "UTC", "GMT"):
                moment = context.evaluate_expression(document, spec["date"], variables)
                if moment is None or moment is context.missing_sentinel:
                    return None
                day = datetime.datetime(moment.year, moment.month, moment.day, tzinfo=moment.tzinfo)
                return day - datetime.timedelta(days=(day.weekday() - first_day) % 7)
        return builtin(document, spec, variables, dialect, context)

    return handler


def _install_bridges():
    from mongoeco.core.aggregation import register_aggregation_expression_operator

    register_aggregation_expression_operator("$not", _bridge_not)
    register_aggregation_expression_operator("$dateTrunc", _bridge_date_trunc(_evaluate_builtin("$dateTrunc")))


def _evaluate_builtin(operator):
    """mongoeco's own evaluation of `operator`, for a bridge that handles only part of its forms."""
    from mongoeco.core.aggregation import extensions, runtime

    def builtin(document, spec, variables, dialect, context):
        # A registered handler wins over mongoeco's own evaluation: set ours aside meanwhile.
        handler = extensions._expression_handlers.pop(operator)
        try:
            return runtime.evaluate_expression(document, {operator: spec}, variables, dialect=dialect)
        finally:
            extensions._expression_handlers[operator] = handler

    return builtin


def _engine_class():
    from mongoeco._types.indexes import normalize_index_keys
    from mongoeco.engines.memory import MemoryEngine
    from mongoeco.engines.virtual_indexes import normalize_partial_filter_expression
    from mongoeco.errors import OperationFailure

    class BridgedMemoryEngine(MemoryEngine):
        def _commit_session_transaction(self, session):
            """Bridge 6: a write conflict found at commit is MongoDB's WriteConflict, a transient error."""
            try:
                return super()._commit_session_transaction(session)
            except OperationFailure as error:
                if error.code is not None or "Write conflict" not in str(error):
                    raise
                # MongoDB aborts the transaction it refuses; mongoeco would keep its writes pending, and
                # pymongo reuses the session id for the next transaction.
                self._abort_session_transaction(session)
                raise OperationFailure(
                    "WriteConflict error: this operation conflicted with another operation. "
                    "Please retry your operation or multi-document transaction.",
                    code=112,
                    details={"codeName": "WriteConflict"},
                    error_labels=("TransientTransactionError",),
                ) from error

        async def create_index(self, db_name, coll_name, keys, *, partial_filter_expression=None, context=None, **kw):
            """Bridge 2: indexes on one key with different partial filters (or one without) are distinct indexes.

            mongoeco compares a new index with every index on the same key; the ones that differ only
            by a partial filter are set aside while it does, then put back in their place.
            """
            key = normalize_index_keys(keys)
            wanted = normalize_partial_filter_expression(partial_filter_expression)
            indexes = self._indexes_view(context).get(db_name, {}).get(coll_name, [])
            aside = [
                (position, index)
                for position, index in enumerate(indexes)
                if index["key"] == key
                and index.get("partial_filter_expression") != wanted
                and index["name"] != kw.get("name")
            ]
            for _position, index in reversed(aside):
                indexes.remove(index)
            try:
                return await super().create_index(
                    db_name, coll_name, keys, partial_filter_expression=partial_filter_expression, context=context, **kw
                )
            finally:
                for position, index in aside:
                    indexes.insert(position, index)

    return BridgedMemoryEngine


def _server_class():
    from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

    class BridgedServer(AsyncMongoEcoProxyServer):
        def _decode_wire_context(self, header, payload, connection, state):
            original = self._executor._build_request_context

            def build(body, **kwargs):
                return original(_bridge_nested_inclusion(_bridge_lowercase_buildinfo(body)), **kwargs)

            self._executor._build_request_context = build
            try:
                return super()._decode_wire_context(header, payload, connection, state)
            finally:
                self._executor._build_request_context = original

    return BridgedServer


async def serve(port):
    _install_bridges()
    server = _server_class()(engine=_engine_class()(), host="127.0.0.1", port=port)
    address = await server.start()
    print(f"{READY} mongodb://{address.host}:{address.port}/", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.close()


# --- Starting one from a test run ------------------------------------------------------------------


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(log_path=None):
    """Start a wire server on a free port in its own process; yield its URI; always stop it."""
    last_output = ""
    for _attempt in range(3):  # another process may take the free port before the server binds it
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.mongo_wire", "--port", str(port)],
            cwd=PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            line = ""
            while time.monotonic() < deadline:
                line = process.stdout.readline()
                if not line or line.startswith(READY):
                    break
                last_output += line
            if line.startswith(READY):
                uri = line.split()[-1]
                with _drain(process, log_path):
                    yield uri
                return
        finally:
            _stop(process)
    raise RuntimeError(f"The MongoDB wire server did not start:\n{last_output}")


@contextlib.contextmanager
def _drain(process, log_path):
    """Keep reading the server's output (to a log file, if given), so a full pipe never blocks it."""
    import threading

    def copy():
        sink = open(log_path, "a") if log_path else None
        try:
            for line in process.stdout:
                if sink:
                    sink.write(line)
                    sink.flush()
        finally:
            if sink:
                sink.close()

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    yield


def _stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def run_pytest(args, workers=1):
    """The MongoDB tier: the suite on fresh wire servers, one per pytest-xdist worker, all stopped
    whatever the outcome (also when this process is told to stop)."""
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.ExitStack() as servers:
        uris = [servers.enter_context(running_server()) for _worker in range(workers)]
        env = {
            **os.environ,
            "MONGO_URI": uris[0] + DATABASE,
            SERVERS: " ".join(uris),
            "MONGO_WIRE_SERVER": "mongoeco",
        }
        sharding = ["-n", str(workers), "-p", "tests.mongo_wire"] if workers > 1 else []
        process = subprocess.Popen([sys.executable, "-m", "pytest", *sharding, *args], cwd=PROJECT_DIR, env=env)
        try:
            return process.wait()
        finally:
            _stop(process)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


# The test database's name, and the client's options: the server answers one request at a time, and a bulk
# insert of thousands of documents (mongoeco's insert_many is slow past a few hundred) can keep it busy past
# pymongo's 20 s heartbeat timeout on a loaded machine, after which pymongo cancels every operation in flight.
DATABASE = "directorate?connectTimeoutMS=600000"
SERVERS = "MONGO_WIRE_SERVERS"


def _use_this_workers_server():
    """In a pytest-xdist worker, loaded with `-p tests.mongo_wire`: point MONGO_URI at the worker's own server
    before pytest-django reads the settings (each worker's test database is on a server of its own)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    uris = os.environ.get(SERVERS, "").split()
    if worker.startswith("gw") and uris:
        os.environ["MONGO_URI"] = uris[int(worker[2:]) % len(uris)] + DATABASE


_use_this_workers_server()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=27017)
    parser.add_argument("--workers", type=int, default=1, help="with --pytest: pytest-xdist workers, one server each")
    parser.add_argument("--pytest", nargs=argparse.REMAINDER, help="run pytest with these arguments against one")
    options = parser.parse_args()
    if options.pytest is not None:
        sys.exit(run_pytest(options.pytest, workers=options.workers))
    asyncio.run(serve(options.port))


if __name__ == "__main__":
    main()
