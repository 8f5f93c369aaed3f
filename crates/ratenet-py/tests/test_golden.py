"""The notebook's numbers through the Python package: ../shared/golden."""

import math

import numpy as np
import pytest

import ratenet
from conftest import GOLDEN, CONDITIONS, golden_lines, microns_dict


def close(a, b, tol=1e-9):
    a = None if a is None or (isinstance(a, float) and math.isnan(a)) else a
    b = None if b is None or (isinstance(b, float) and math.isnan(b)) else b
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol


def test_connectome_equals_the_notebooks_matrix_and_ids():
    m, ids = ratenet.connectome(microns_dict())
    want_m = np.load(GOLDEN / "dumps_seed0" / "ee_matrix.npy")
    want_ids = np.load(GOLDEN / "dumps_seed0" / "ee_ids.npy")
    assert m.dtype == np.float64 and ids.dtype == np.int64
    assert np.array_equal(m, want_m)
    assert np.array_equal(ids, want_ids)
    summary = golden_lines("microns_synthetic_conditions.jsonl")[0]
    assert summary["n_exc"] == len(ids)
    assert summary["nnz"] == np.count_nonzero(m)


@pytest.mark.parametrize("condition", ["observed", "shuffled"])
def test_w_equals_the_dumps(condition):
    w = ratenet.network(microns_dict(CONDITIONS), seed=0, condition=condition)
    want = np.load(GOLDEN / "dumps_seed0" / f"W_{condition}_seed0.npy")
    assert w.shape == want.shape and w.dtype == np.float64
    assert np.max(np.abs(w - want)) <= 1e-12


@pytest.mark.parametrize("kind", ["random", "feedforward"])
def test_w_random_and_feedforward_equal_the_dumps(kind):
    spec = f'[network]\nkind = "{kind}"\nn_neurons = 200\nconnectivity_proba_ee = 0.25\n'
    w = ratenet.network(spec, seed=0)
    want = np.load(GOLDEN / "dumps_random" / f"W_{kind}_seed0.npy")
    assert w.shape == (200, 200)
    assert np.max(np.abs(w - want)) <= 1e-12


def check_runs(runs, want, key=lambda r: (r["condition"], r["seed"])):
    got = {key(r): r for r in runs.to_dict("records")}
    assert len(got) == len(want)
    bad = []
    for w in want:
        g = got[key(w)]
        ok = (
            close(g["delta_t"], w["delta_t"])
            and bool(g["returned"]) == w["returned"]
            and g["n_neurons"] == w["n_neurons"]
            and g["n_exc"] == w["n_exc"]
            and g["reciprocal"] == w["reciprocal"]
            and g["nnz_ee"] == w["nnz_ee"]
            and abs(g["peak_exc_mean"] - w["peak_exc_mean"]) <= 1e-9 * abs(w["peak_exc_mean"])
        )
        if not ok:
            bad.append(f"{key(w)}: got {g}, want {w}")
    assert not bad, "\n".join(bad)


def test_delta_t_equals_golden_conditions():
    want = [r for r in golden_lines("microns_synthetic_conditions.jsonl") if r["kind"] == "run"]
    res = ratenet.run(microns_dict(CONDITIONS), set={"sweep.seeds": "0-9"})
    assert len(res) == len(want) == 50
    check_runs(res.runs, want)


def test_delta_t_equals_golden_sweep():
    want = [r for r in golden_lines("microns_synthetic_sweep_connectivity_proba.jsonl") if r["kind"] == "run"]
    values = sorted({r["value"] for r in want})
    spec = microns_dict(sweep={"seeds": "0-4", "network.connectivity_proba": values})
    res = ratenet.run(spec)
    assert len(res) == len(want)
    check_runs(
        res.runs,
        want,
        key=lambda r: (r["seed"], round(r.get("value", r.get("network.connectivity_proba")), 12)),
    )


def test_simulate_equals_golden_and_run():
    want = [r for r in golden_lines("microns_synthetic_conditions.jsonl") if r["kind"] == "run" and r["seed"] == 3]
    spec = microns_dict(CONDITIONS)
    for w in want:
        got = ratenet.simulate(spec, seed=3, condition=w["condition"])
        assert got["condition"] == w["condition"] and got["seed"] == 3
        assert close(got["delta_t"], w["delta_t"]), (got, w)
        assert got["returned"] == w["returned"]
        assert (got["n_neurons"], got["n_exc"], got["reciprocal"], got["nnz_ee"]) == (
            w["n_neurons"],
            w["n_exc"],
            w["reciprocal"],
            w["nnz_ee"],
        )
