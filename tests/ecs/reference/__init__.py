"""Frozen copy of the first (slow, straightforward) ECS mapper, the oracle of the equivalence tests.

The pipeline and the pruning walk were rewritten for speed; this copy keeps their original code so
tests/ecs/test_equivalence.py can check that the fast mapper produces identical output. Dates reuse the
mapper's general parser (without its fast path), pruning its pure-Python walk (the C accelerator is
checked against it); categorization and fingerprint reuse the mapper's own.
"""
