"""Tests of the dispatch core (pure: no servers)."""
