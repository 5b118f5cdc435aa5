"""A member whose worker thread is busy for longer than the step-down delay, while
ZooKeeper answers all along, keeps what it owns (issue 14: at 2,000 and 4,000 partitions
a member stepped down for nothing, its worker slow after a start on a loaded machine).

The worker is held up the way a big member's is: inside one of its rounds (here the
listener's ``on_acquired``, which runs on the worker, waits out the stall). Nothing is
mocked: the member talks to the real ZooKeeper of the session.
"""

from __future__ import annotations

import threading

from jarvis.election import Member, MemberOptions, PartitionInfo, PartitionRegistry
from tests.election.conftest import FAST, add_partitions
from tests.election.recorder import Recorder, Timeline
from tests.faults import wait_owned

#: Longer than the step-down delay (two thirds of the session timeout) by half again.
STALL = 1.5 * MemberOptions("h", "c", "m", "z", **FAST).step_down_after


class StallingRecorder(Recorder):
    """Holds the member's worker for ``STALL`` seconds when it acquires ``slow``."""

    def __init__(self, name: str, timeline: Timeline, slow: str) -> None:
        super().__init__(name, timeline)
        self.slow = slow
        self.stalled = threading.Event()

    def on_acquired(self, partition: PartitionInfo, epoch: int) -> None:
        super().on_acquired(partition, epoch)
        if partition.id == self.slow:
            threading.Event().wait(STALL)  # the worker is busy: no round runs meanwhile
            self.stalled.set()


def test_a_worker_busy_past_the_step_down_delay_keeps_its_partitions_while_zookeeper_answers(
    zk_hosts: str, cluster: str, registry: PartitionRegistry, timeline: Timeline
) -> None:
    add_partitions(registry, 3)
    recorder = StallingRecorder("a", timeline, slow="p003")
    member = Member(MemberOptions(zk_hosts, cluster, "a", "z1", **FAST), recorder)
    recorder.member = member
    member.start()
    try:
        wait_owned(member, lambda owned: len(owned) == 3, 10, "a owns all 3")
        registry.add("p003", "city")
        registry.add("p004", "city")  # taken in a round after the stall (its check runs first)
        wait_owned(member, lambda owned: len(owned) == 5, 10 + STALL, "a owns all 5")
        assert recorder.stalled.is_set()
        lost = [e for e in timeline.entries() if e.call == "lost"]
        assert lost == [], f"a stepped down although ZooKeeper answered: {lost}"
    finally:
        member.stop()
