"""Shared fixtures: where ../shared lives, the MICrONS spec, the CLI binary."""

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("RATENET_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data" / "microns_1300"
GOLDEN = SHARED / "golden"

CONDITIONS = {
    "observed": [],
    "shuffled": ["shuffle_connections"],
    "shuffled_weights": ["shuffle_weights"],
    "no_reciprocal": ["remove_reciprocal"],
    "no_reciprocal_shuffled": ["remove_reciprocal", "shuffle_connections"],
}


def microns_dict(conditions=("observed",), **sections):
    """The course spec on the shared data, as a dict."""
    spec = {
        "data": {
            "synapses": str(DATA / "synapses_synthetic_1300.feather"),
            "cells": str(DATA / "cell_info_1300.feather"),
        },
        "stimulus": {"target": "notebook"},
        "condition": [{"name": c, "nulls": CONDITIONS[c]} for c in conditions],
    }
    for k, v in sections.items():
        spec.setdefault(k, {}).update(v)
    return spec


def golden_lines(name):
    with open(GOLDEN / name) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def cli():
    """The `ratenet` binary cargo built (RATENET_BIN or the target folder)."""
    env = os.environ.get("RATENET_BIN")
    candidates = [Path(env)] if env else []
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    candidates += [target / "release" / "ratenet", target / "debug" / "ratenet"]
    for c in candidates:
        if c.is_file():
            return c
    pytest.fail("no ratenet binary: build it with cargo build --release (or set RATENET_BIN)")


def pytest_configure(config):
    if not DATA.is_dir():
        raise pytest.UsageError(f"{DATA}: the shared data are missing")
