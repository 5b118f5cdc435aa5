"""Running Jarvis locally for tests, the demo and benchmarks (kazoo ships ``kazoo.testing``
the same way).

- :mod:`jarvis.testing.servers`: real ZooKeeper (standalone or an ensemble) and Redis
  servers on free loopback ports, with faults (stop, kill, pause, restart).
- :mod:`jarvis.testing.cluster`: a cluster of real ``jarvis run`` member processes.
- :mod:`jarvis.testing.traffic`: simulated city and store traffic.
- :mod:`jarvis.testing.checker`: replays each city's out stream and judges it.
- :mod:`jarvis.testing.engine`: an in-memory partition engine, to run partition actors
  without Redis (as dramatiq's ``StubBroker`` runs workers without a broker).

Nothing here is imported by a member; it is for people and tests driving members.
"""
