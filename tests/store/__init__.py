"""Tests of the Redis state of partitions (real Redis)."""
