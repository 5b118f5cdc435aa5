"""Owner nodes: adopting, losing, taking and handing back partitions.

A :class:`LeaseKeeper` works for one member, on its worker thread, against the member's
:class:`~jarvis.election.snapshot.Snapshot` and
:class:`~jarvis.election.holdings.Holdings`:

- :meth:`~LeaseKeeper.reconcile`: an owned partition whose owner node vanished, or now
  belongs to another session, is lost; an owner node of this session that the member
  did not know about (a create whose answer was lost, or ownership kept through a
  step-down) is adopted with its czxid as epoch.
- :meth:`~LeaseKeeper.finish_releases`: once the listener said ``release_done``, the
  owner node is deleted, but only if it is still this ownership's node (same session and
  czxid, data version as guard).
- :meth:`~LeaseKeeper.balance`: releases the surplus over this member's quota at a
  bounded rate (everything when draining), and creates owner nodes for the free
  partitions the plan gives this member, in one pipelined round. The operator's
  controls and the members' versions steer it (:mod:`jarvis.election.placement`):
  nothing is released as surplus while frozen or during a rolling deploy, a partition
  asked to move is handed off at once, a pinned one at the move rate. When partitions
  have weights (:mod:`jarvis.election.weights`), members even out weight, not count.
  It never takes more than the member's ``max_partitions``; partitions no member
  has room for stay free, and the member says so in a warning (once per change).
- :meth:`~LeaseKeeper.finish_moves`: a move request this member has carried out (or that
  nobody can carry out any more) is removed from the placement node.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
from kazoo.protocol.states import ZnodeStat

from jarvis.election.balance import MemberSlot, MoveLimiter, pick_releases, quotas, unplaced
from jarvis.election.holdings import Holdings
from jarvis.election.nodes import MemberNode, OwnerNode, encode
from jarvis.election.paths import ClusterPaths
from jarvis.election.placement import (
    Preference,
    Steering,
    has_room,
    misplaced,
    pin_of,
    place_free,
    settled,
    steering,
)
from jarvis.election.snapshot import Snapshot, gather
from jarvis.election.weights import (
    DEFAULT_WEIGHT,
    assign_free_weighted,
    loads,
    pick_weighted_releases,
    uniform,
    weight_of,
)
from jarvis.errors import BadInputError

__all__ = ["LeaseKeeper"]

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Keeps one member's owner nodes in line with its plan."""

    def __init__(
        self,
        client: KazooClient,
        paths: ClusterPaths,
        member_id: str,
        node: MemberNode,
        snapshot: Snapshot,
        holdings: Holdings,
        limiter: MoveLimiter,
        *,
        timeout: float,
        cooldown: float,
        orphan_grace: float,
        clock: Callable[[], float],
    ) -> None:
        self.member_id = member_id
        self._node = node
        #: The member's current session id (set again after a new session).
        self.session = 0
        self._client = client
        self._paths = paths
        self._snapshot = snapshot
        self._holdings = holdings
        self._limiter = limiter
        self._timeout = timeout
        self._cooldown = cooldown
        self._orphan_grace = orphan_grace
        self._clock = clock
        self._unplaced_warned = 0
        #: Measured weights of the partitions this member runs, as published.
        self.loads: dict[str, float] = {}
        #: Partition -> the weight last published for it by its owner.
        self._measured: dict[str, float] = {}

    def member_node(self) -> MemberNode:
        """This member's node as it should read now (draining flag, recent handoffs,
        measured weights)."""
        return self._node.model_copy(
            update={
                "draining": self._holdings.draining,
                "handoffs": self._holdings.recent_handoffs(),
                "loads": dict(self.loads),
            }
        )

    def reconcile(self) -> None:
        """Lose what is no longer ours; adopt owner nodes of our session we did not know."""
        snapshot, holdings = self._snapshot, self._holdings
        for partition_id in holdings.ids():
            entry = snapshot.owners.get(partition_id)
            if entry is None or entry.session != self.session:
                holdings.lose(partition_id, "owner node gone or taken")
            elif entry.epoch != holdings.epoch(partition_id):
                holdings.lose(partition_id, "owner node replaced")
        for partition_id, owner in sorted(snapshot.owners.items(), key=lambda kv: kv[0]):
            info = snapshot.partitions.get(partition_id)
            if owner is None or owner.session != self.session or info is None:
                continue
            if partition_id not in holdings:
                holdings.adopt(info, owner.epoch)

    def finish_releases(self) -> None:
        """Delete the owner node of each partition whose listener said release_done.

        The node is deleted only if the snapshot still shows it as this ownership's
        (our session, same czxid), with its data version as a guard. A handoff (asked for
        with ``release``, or a partition the listener refused) also names the partition in
        this member's node, in the same transaction, so every member plans it for
        someone else.
        """
        holdings = self._holdings
        ready: list[tuple[str, int, bool]] = []
        for partition_id, epoch, handoff in holdings.ready():
            entry = self._snapshot.owners.get(partition_id)
            if entry is not None and entry.session == self.session and entry.epoch == epoch:
                ready.append((partition_id, entry.version, handoff))
                if handoff:
                    holdings.record_handoff(partition_id, epoch)
        if not ready:
            return
        node = self.member_node()
        member_path = self._paths.member(self.member_id)
        requests = []
        for partition_id, version, handoff in ready:
            owner_path = self._paths.owner(partition_id)
            if handoff:
                transaction = self._client.transaction()
                transaction.set_data(member_path, encode(node))
                transaction.delete(owner_path, version=version)
                requests.append(transaction.commit_async())
            else:
                requests.append(self._client.delete_async(owner_path, version=version))
        replies = gather(requests, self._timeout, tolerate=(NoNodeError, BadVersionError))
        for (partition_id, _, _), reply in zip(ready, replies, strict=True):
            if isinstance(reply, list):  # a transaction: the delete's result is last
                if isinstance(reply[0], NoNodeError):  # our member node is gone
                    holdings.delete_failed(partition_id)
                    continue
                reply = reply[-1]
            if isinstance(reply, BadVersionError):
                self._snapshot.mark_stale(self._paths.owner(partition_id))
                continue
            holdings.released(partition_id)
            self._snapshot.set_owner(partition_id, None)
        self._snapshot.set_member(self.member_id, node)

    def balance(self, now: float, may_acquire: bool) -> None:
        """Release a surplus (at a bounded rate) or everything when draining; then, if
        ``may_acquire``, take the free partitions the plan gives this member."""
        snapshot = self._snapshot
        holdings = self._holdings
        if holdings.draining:
            for partition_id in holdings.ids():
                holdings.begin_release(partition_id)
            return
        slots = self.slots()
        steer = self.steering(slots)
        held = snapshot.held()
        targets = quotas(len(snapshot.partitions), slots, held)
        self._warn_unplaced(unplaced(targets, slots, len(snapshot.partitions)))
        weights = self.weights()
        weighted = None if uniform(weights) else (weights, self._loads(weights, targets))
        self._release_misplaced(steer, slots, held)
        if not steer.holds_still:
            if weighted is None:
                self._release_surplus(targets.get(self.member_id, 0), steer, now)
            else:
                self._release_heavy(weights, weighted[1], steer)
        free = snapshot.free()
        if not free or not may_acquire:
            return
        plan = place_free(free, targets, held, snapshot.handed_off(), steer, slots, weighted)
        # Free partitions the plan gives this member, and any left free too long by the
        # member the plan gave them to (it may be stuck).
        mine = [p for p in free if plan.get(p) == self.member_id]
        orphans = [
            p
            for p in free
            if plan.get(p) != self.member_id
            and now - snapshot.free_since.get(p, now) >= self._orphan_grace
        ]
        if orphans:
            log.info("member %s takes partitions left free too long: %s", self.member_id, orphans)
        refused = holdings.refused()  # in their backoff: someone else should take them
        wanted = [p for p in mine + orphans if p not in refused]
        limit = self._node.max_partitions
        if limit is not None:  # never more than max_partitions, whatever the plan says
            wanted = wanted[: max(0, limit - len(holdings))]
        if wanted:
            log.debug(
                "member %s takes %s (targets %s, held %s)", self.member_id, wanted, targets, held
            )
            self._acquire(wanted)

    def slots(self) -> list[MemberSlot]:
        """The live members as the balancer sees them (this member never draining here:
        a draining member does not plan)."""
        return [
            MemberSlot(
                m,
                entry.node.zone,
                entry.node.draining and m != self.member_id,
                entry.node.version,
                self._node.max_partitions if m == self.member_id else entry.node.max_partitions,
            )
            for m, entry in self._snapshot.members.items()
        ]

    def steering(self, slots: list[MemberSlot]) -> Steering:
        """The placement rules in force (controls, pins, versions)."""
        pins: dict[str, Preference] = {}
        for partition_id, info in self._snapshot.partitions.items():
            try:
                pin = pin_of(info.config)
            except BadInputError as exc:
                log.debug("partition %s: pin ignored: %s", partition_id, exc)
                continue
            if pin is not None:
                pins[partition_id] = pin
        return steering(self._snapshot.placement, pins, slots)

    def weights(self) -> dict[str, float]:
        """Partition -> weight: the ``weight`` in its config when set (a malformed one
        counts as 1), else what its owner measured (:meth:`measured_weights`)."""
        measured = self.measured_weights()
        weights: dict[str, float] = {}
        for partition_id, info in self._snapshot.partitions.items():
            if "weight" not in info.config:
                weights[partition_id] = measured.get(partition_id, DEFAULT_WEIGHT)
                continue
            try:
                weights[partition_id] = weight_of(info.config)
            except BadInputError as exc:
                log.debug("partition %s: weight ignored: %s", partition_id, exc)
                weights[partition_id] = DEFAULT_WEIGHT
        return weights

    def measured_weights(self) -> dict[str, float]:
        """Partition -> weight its owner measured and published in its member node.

        An owner that measures lists every partition it runs. A partition its owner does
        not list (a new owner that has not measured it yet, or one that does not measure)
        keeps the weight last published for it, so a move does not make a heavy
        partition look light (and move again).
        """
        snapshot = self._snapshot
        sessions = {entry.session: entry.node for entry in snapshot.members.values()}
        for partition_id, owner in snapshot.owners.items():
            node = None if owner is None else sessions.get(owner.session)
            weight = None if node is None else node.loads.get(partition_id)
            if weight is not None:
                self._measured[partition_id] = weight
        for partition_id in list(self._measured):
            if partition_id not in snapshot.partitions:
                del self._measured[partition_id]
        return dict(self._measured)

    def _loads(self, weights: dict[str, float], targets: dict[str, int]) -> dict[str, float]:
        """Weight carried by each live, non-draining member."""
        snapshot = self._snapshot
        member_of = {entry.session: m for m, entry in snapshot.members.items()}
        owners = {
            p: member_of[entry.session]
            for p, entry in snapshot.owners.items()
            if entry is not None and entry.session in member_of
        }
        return loads(owners, weights, targets)

    def _release_heavy(
        self, weights: dict[str, float], load: dict[str, float], steer: Steering
    ) -> None:
        """Give up partitions whose move to the lightest member evens the two out, at the
        move rate, never one that sits where its preference wants it."""
        if self.member_id not in load:
            return
        allowed = self._limiter.available()
        if allowed <= 0:
            return
        keeping = self._holdings.keeping()
        stay = settled(keeping, self._me(), steer)
        movable = {p: weights.get(p, DEFAULT_WEIGHT) for p in keeping if p not in stay}
        my_load = sum(weights.get(p, DEFAULT_WEIGHT) for p in keeping)
        # What is free or on its way out (released, owner node not gone yet) lands on the
        # others first: count it there, or one move would be decided twice.
        pending = set(self._snapshot.free()) | {p for p in self._holdings.ids() if p not in keeping}
        others = {m: w for m, w in load.items() if m != self.member_id}
        for partition_id, member in assign_free_weighted(pending, others, others, weights).items():
            others[member] += weights.get(partition_id, DEFAULT_WEIGHT)
        picks = pick_weighted_releases(movable, my_load, others, allowed)
        self._limiter.take(len(picks))
        for partition_id in picks:
            log.info(
                "member %s releases %s (weight %s) to even out weight",
                self.member_id,
                partition_id,
                weights.get(partition_id, DEFAULT_WEIGHT),
            )
            self._holdings.begin_release(partition_id)

    def _me(self) -> MemberSlot:
        return MemberSlot(self.member_id, self._node.zone, False, self._node.version)

    def _release_misplaced(
        self, steer: Steering, slots: list[MemberSlot], held: dict[str, int]
    ) -> None:
        """Hand off what an operator asked to move (at once) and what is pinned elsewhere
        (at the move rate), once a member it should go to has room for it."""
        keeping = self._holdings.keeping()
        moved, pinned = misplaced(keeping, self._me(), steer)
        moved = [p for p in moved if has_room(steer.preferences[p], slots, held)]
        pinned = [p for p in pinned if has_room(steer.preferences[p], slots, held)]
        for partition_id in moved:
            log.info(
                "member %s hands %s off: moved to %s",
                self.member_id,
                partition_id,
                steer.preferences[partition_id],
            )
            self._holdings.begin_release(partition_id, handoff=True)
        allowed = min(len(pinned), self._limiter.available())
        if allowed > 0:
            self._limiter.take(allowed)
            for partition_id in pinned[:allowed]:
                log.info(
                    "member %s hands %s off: pinned to %s",
                    self.member_id,
                    partition_id,
                    steer.preferences[partition_id],
                )
                self._holdings.begin_release(partition_id, handoff=True)

    def _release_surplus(self, target: int, steer: Steering, now: float) -> None:
        """Release what this member holds over ``target``, at a bounded rate, never a
        partition that sits where its preference wants it."""
        keeping = self._holdings.keeping()
        surplus = len(keeping) - target
        allowed = min(surplus, self._limiter.available())
        if allowed <= 0:
            return
        stay = settled(keeping, self._me(), steer)
        movable = {p: at for p, at in keeping.items() if p not in stay}
        picks = pick_releases(movable, allowed, self.member_id, now, self._cooldown)
        self._limiter.take(len(picks))
        for partition_id in picks:
            self._holdings.begin_release(partition_id)

    def finish_moves(self) -> None:
        """Remove the move requests this member has carried out, and those nobody can
        carry out any more (their target gone) for partitions it owns, in one write
        guarded by the placement node's version."""
        snapshot = self._snapshot
        controls = snapshot.placement
        if not controls.moves:
            return
        steer = self.steering(self.slots())
        me = self._me()
        done = [
            p
            for p in controls.moves
            if p in self._holdings.keeping()
            and (p in steer.stale_moves or steer.preferences[p].satisfied_by(me))
        ]
        done += [p for p in controls.moves if p not in snapshot.partitions]
        if not done:
            return
        moves = {p: r for p, r in controls.moves.items() if p not in done}
        node = controls.model_copy(update={"moves": moves})
        path = self._paths.placement
        (reply,) = gather(
            [self._client.set_async(path, encode(node), version=snapshot.placement_version)],
            self._timeout,
            tolerate=(NoNodeError, BadVersionError),
        )
        if isinstance(reply, ZnodeStat):
            log.info("member %s: move requests done: %s", self.member_id, sorted(done))
            snapshot.placement, snapshot.placement_version = node, reply.version
        else:
            snapshot.mark_stale(path)

    def _warn_unplaced(self, count: int) -> None:
        """Say (once per change) how many partitions no member has room for."""
        if count == self._unplaced_warned:
            return
        self._unplaced_warned = count
        if count:
            log.warning(
                "member %s: %d partition(s) stay unowned: every member is at its "
                "max_partitions; add a member or raise max_partitions",
                self.member_id,
                count,
            )
        else:
            log.info("member %s: every partition has room on a member again", self.member_id)

    def _acquire(self, partition_ids: list[str]) -> None:
        owner = OwnerNode(member=self.member_id, zone=self._node.zone, acquired_at=time.time())
        data = encode(owner)
        replies = gather(
            [
                self._client.create_async(
                    self._paths.owner(p), data, ephemeral=True, include_data=True
                )
                for p in partition_ids
            ],
            self._timeout,
            tolerate=(NoNodeError, NodeExistsError),
        )
        for partition_id, reply in zip(partition_ids, replies, strict=True):
            if isinstance(reply, NodeExistsError):
                self._snapshot.mark_stale(self._paths.owner(partition_id))
            elif isinstance(reply, NoNodeError):
                self._snapshot.mark_stale(self._paths.partitions)
            else:
                _, stat = reply
                self._snapshot.set_owner(partition_id, stat)
                info = self._snapshot.partitions.get(partition_id)
                if info is not None:
                    self._holdings.adopt(info, stat.czxid)
