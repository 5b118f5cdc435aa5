"""The one place a Lua script is run: by its spec, with its keys and arguments by name,
and its error replies turned into ours.

A fenced script replies ``FENCED <highest>`` when its epoch is stale (see
``scripts/fence.lua``): :class:`~jarvis.errors.FencedError`. ``NOTCLAIMED <code> <reason>``:
:class:`~jarvis.errors.NotClaimedError` with that ``code``. ``BADEPOCH``:
:class:`~jarvis.errors.BadInputError`. Any other failure:
:class:`~jarvis.errors.StoreError`.

Acknowledged means replicated: with a :class:`~jarvis.store.replication.Replication` of
``min_replicas > 0`` every script runs on the primary of its slot followed by ``WAIT``
on the same connection, and a write too few replicas confirmed in time raises
:class:`~jarvis.errors.NotReplicatedError` (its outcome is unknown). A batch
(:meth:`ScriptRunner.run_many`) waits once per node. In a Redis Cluster, where redis-py
refuses pipelined scripts, a batch is sent per slot the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import redis
from redis.client import Pipeline
from redis.commands.core import Script

from jarvis.errors import BadInputError, FencedError, NotClaimedError, StoreError
from jarvis.store.replication import (
    NO_REPLICATION,
    RedisClient,
    Replication,
    node_for,
    run_replicated,
    write_chained,
    write_replicated,
)
from jarvis.store.scripts import source
from jarvis.store.specs import Arg, ScriptSpec

__all__ = ["ScriptRunner", "check_epoch", "script_error"]

log = logging.getLogger(__name__)

#: Scripts that write nothing: no replica has anything to confirm.
READ_ONLY = frozenset({"work_counts", "work_signals", "work_need"})


def check_epoch(epoch: object) -> str:
    """``epoch`` as the decimal string the scripts compare (64-bit, non-negative)."""
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch < 2**64:
        raise BadInputError(f"epoch must be an integer in [0, 2**64), got {epoch!r}")
    return str(epoch)


def script_error(exc: redis.RedisError, partition: str, epoch: int | None) -> Exception:
    """The Jarvis error for a script's failure (an error reply, or Redis failing)."""
    if not isinstance(exc, redis.ResponseError):
        return StoreError(f"partition {partition!r}: Redis failed: {exc}")
    message = str(exc)
    if message.startswith("FENCED ") and epoch is not None:
        return FencedError(partition, epoch, int(message.split()[1]))
    if message.startswith("NOTCLAIMED "):
        code, _, reason = message[len("NOTCLAIMED ") :].partition(" ")
        return NotClaimedError(f"store {partition!r}: {reason}", code=code)
    if message.startswith("BADEPOCH"):
        return BadInputError(f"partition {partition!r}: invalid epoch {epoch!r}")
    return StoreError(f"partition {partition!r}: script failed: {message}")


class ScriptRunner:
    """Runs scripts on one Redis client; each script is registered once (``EVALSHA``,
    reloaded by redis-py when the server lost it).

    ``check_keys`` loads every script behind the key checker (``check_keys.lua``): a
    call on an undeclared key, or keys of two hash tags, fails. For tests.

    ``replication``: how many replicas confirm each script's writes (none by default).
    """

    def __init__(
        self,
        client: RedisClient,
        *,
        check_keys: bool = False,
        replication: Replication = NO_REPLICATION,
    ) -> None:
        self.client = client
        self.check_keys = check_keys
        self.replication = replication
        self._scripts: dict[ScriptSpec, Script] = {}
        #: Names of the scripts this runner has run (so a test can see it covered all).
        self.used: set[str] = set()

    def script(self, spec: ScriptSpec) -> Script:
        script = self._scripts.get(spec)
        if script is None:
            script = self.client.register_script(source(spec, self.check_keys))
            self._scripts[spec] = script
        return script

    def _bind(
        self,
        spec: ScriptSpec,
        keys: Mapping[str, str],
        args: Mapping[str, Arg],
        more_keys: Sequence[str],
        more_args: Sequence[Mapping[str, Arg]],
        epoch: int | None,
    ) -> tuple[list[str], list[str]]:
        if spec.fenced:
            if epoch is None:
                raise ValueError(f"script {spec.name} is fenced: pass the writer's epoch")
            args = {**args, "epoch": check_epoch(epoch)}
        self.used.add(spec.name)
        return spec.bind(keys, args, more_keys, more_args)

    def run(
        self,
        spec: ScriptSpec,
        partition: str,
        keys: Mapping[str, str],
        args: Mapping[str, Arg],
        *,
        more_keys: Sequence[str] = (),
        more_args: Sequence[Mapping[str, Arg]] = (),
        epoch: int | None = None,
    ) -> Any:
        """Run ``spec`` for ``partition``; a fenced spec gets ``epoch`` as its ``epoch``
        argument. Returns the script's reply; raises as the module docstring says."""
        key_list, arg_list = self._bind(spec, keys, args, more_keys, more_args, epoch)
        try:
            replication = NO_REPLICATION if spec.name in READ_ONLY else self.replication
            return run_replicated(self.client, self.script(spec), key_list, arg_list, replication)
        except redis.RedisError as exc:
            raise script_error(exc, partition, epoch) from exc

    def run_chain(
        self,
        spec: ScriptSpec,
        partition: str,
        keys: Mapping[str, str],
        calls: Iterable[tuple[Mapping[str, Arg], Sequence[str]]],
        *,
        epoch: int | None = None,
    ) -> list[Any]:
        """Run ``spec`` once per (args, more_keys) of ``calls``, all with ``keys``, in
        order on one connection: each call is sent as soon as ``calls`` yields it, so
        Redis runs one while the caller builds the next (:func:`write_chained`). The
        replies in order; the first failed call's error is raised as :meth:`run` raises
        it. Each call is atomic on its own: a caller whose calls must apply in order
        makes each refuse unless the one before it ran (the apply scripts' cursor)."""
        script = self.script(spec)
        sent: list[tuple[Any, ...]] = []

        def commands() -> Iterator[tuple[Any, ...]]:
            for args, more_keys in calls:
                key_list, arg_list = self._bind(spec, keys, args, more_keys, (), epoch)
                sent.append((len(key_list), *key_list, *arg_list))
                yield ("EVALSHA", script.sha, *sent[-1])

        first_key = keys[spec.keys[0]]
        try:
            try:
                return write_chained(self.client, first_key, commands(), self.replication)
            except redis.exceptions.NoScriptError:
                # The node does not know the script (new, or restarted): the refused call
                # and every call after it did not run. Sent again, the calls before it
                # refuse (the cursor moved on), so no entry is applied twice.
                script.sha = str(node_for(self.client, first_key).script_load(script.script))
                again = [("EVALSHA", script.sha, *call) for call in sent]
                return write_replicated(self.client, first_key, again, self.replication)
        except redis.RedisError as exc:
            raise script_error(exc, partition, epoch) from exc

    @property
    def pipelines(self) -> bool:
        """Whether batches may go through one plain pipeline (standalone, no WAIT)."""
        return not isinstance(self.client, redis.RedisCluster) and not self.replication.min_replicas

    def run_many(
        self,
        spec: ScriptSpec,
        calls: Sequence[tuple[str, Mapping[str, str], Mapping[str, Arg]]],
    ) -> list[Any]:
        """Run ``spec`` once per (partition, keys, args) of ``calls`` (unfenced); replies
        in order. Each call is atomic on its own, never the batch: on a failure some calls
        may have run, and the first failure is raised."""
        if not calls:
            return []
        if self.pipelines:
            pipe = self.client.pipeline(transaction=False)
            for _, keys, args in calls:
                self.queue(pipe, spec, keys, args)
            try:
                return list(pipe.execute())
            except redis.RedisError as exc:
                raise script_error(exc, ",".join(sorted({c[0] for c in calls})), None) from exc
        script = self.script(spec)
        groups: dict[str, list[tuple[int, list[Any]]]] = {}
        for i, (partition, keys, args) in enumerate(calls):
            key_list, arg_list = self._bind(spec, keys, args, (), (), None)
            command = ["EVALSHA", script.sha, len(key_list), *key_list, *arg_list]
            groups.setdefault(partition, []).append((i, command))
        replies: list[Any] = [None] * len(calls)
        for partition, group in groups.items():
            first_key = group[0][1][3]
            commands = [tuple(command) for _, command in group]
            try:
                try:
                    done = write_replicated(self.client, first_key, commands, self.replication)
                except redis.exceptions.NoScriptError:
                    node = node_for(self.client, first_key)
                    script.sha = str(node.script_load(script.script))
                    commands = [(c[0], script.sha, *c[2:]) for c in commands]
                    done = write_replicated(self.client, first_key, commands, self.replication)
            except redis.RedisError as exc:
                raise script_error(exc, partition, None) from exc
            for (i, _), reply in zip(group, done, strict=True):
                replies[i] = reply
        return replies

    def queue(
        self,
        pipe: Pipeline,
        spec: ScriptSpec,
        keys: Mapping[str, str],
        args: Mapping[str, Arg],
        *,
        more_keys: Sequence[str] = (),
        epoch: int | None = None,
    ) -> None:
        """Queue a call of ``spec`` on ``pipe``; its reply (or error) comes with
        ``pipe.execute()``, which the caller turns into ours with :func:`script_error`."""
        key_list, arg_list = self._bind(spec, keys, args, more_keys, (), epoch)
        self.script(spec)(keys=key_list, args=arg_list, client=pipe)
