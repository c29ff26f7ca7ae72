"""Kinds that exist only for the tests: they prove that a kind plugs in by its package and one registry line."""
