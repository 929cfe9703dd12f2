"""The `layout` and `make_template` fixtures live in tests/conftest.py (campaigns use them)."""
