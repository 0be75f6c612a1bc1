"""Frozen copy of the first (slow, straightforward) ECS mapper, the oracle of the equivalence tests.

Only pipeline, prune, dates, categorize and fingerprint were rewritten for speed; this copy keeps their
original code so tests/ecs/test_equivalence.py can check the fast mapper produces identical output.
"""
