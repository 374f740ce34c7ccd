"""Shared fixtures."""

import pytest


@pytest.fixture
def data_env(tmp_path, monkeypatch):
    """Isolate dataset discovery: offline, an empty cache in tmp_path, no CONDENSATION_DATA and no
    system locations. Returns the cache directory."""
    from condensation.data import discovery

    cache = tmp_path / "cache"
    monkeypatch.setenv("CONDENSATION_CACHE", str(cache))
    monkeypatch.setenv("CONDENSATION_OFFLINE", "1")
    monkeypatch.delenv("CONDENSATION_DATA", raising=False)
    monkeypatch.setattr(discovery, "SYSTEM_LOCATIONS", [])
    return cache
