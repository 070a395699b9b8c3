"""The public API: everything a notebook needs is importable from `journeys`."""

from __future__ import annotations

import inspect

import journeys as jy


def test_all_is_sorted_and_complete():
    public = {
        name
        for name, value in vars(jy).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }

    assert jy.__all__ == sorted(jy.__all__, key=lambda n: (not n.isupper(), n))
    assert set(jy.__all__) == public


def test_every_export_is_documented():
    undocumented = [n for n in jy.__all__ if not inspect.getdoc(getattr(jy, n))]

    assert undocumented == []
