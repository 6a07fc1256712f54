"""Benchmarks of the ServiceGroup drivers (db, zk, mc) and of tooz/kazoo.

Run them all with ``benchmarks/run.py`` (``--quick`` for a smoke run); see
benchmarks/README.md.
"""
