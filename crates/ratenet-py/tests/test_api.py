"""The API: DataFrames as pd.read_csv gives them, Arrow, read_results, errors,
interrupt and resume."""

import _thread
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import ratenet
from conftest import microns_dict

RANDOM = '[network]\nkind = "random"\nn_neurons = 120\n[simulation]\nt_max = 30.0\n[sweep]\nseeds = "0-5"\n'


def two_conditions():
    return microns_dict(("observed", "shuffled"), sweep={"seeds": "0-3"}, output={"figures": False})


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    return ratenet.run(two_conditions(), out=out), out


def test_frames_equal_pd_read_csv_of_the_files(written):
    res, out = written
    assert res.out == out
    assert res.report is None or res.report == out / "report.html"
    for table, file in [("runs", "results.csv"), ("summary", "summary.csv"), ("stats", "stats.csv")]:
        got = getattr(res, table)
        want = pd.read_csv(out / file)
        assert list(got.columns) == list(want.columns)
        assert list(got.dtypes) == list(want.dtypes), table
        pd.testing.assert_frame_equal(got, want)
    runs = res.runs
    assert runs["returned"].dtype == bool and runs["diverged"].dtype == bool
    assert runs["seed"].dtype == np.int64 and runs["delta_t"].dtype == np.float64
    assert len(res.stats) == 1 and res.stats["condition"][0] == "shuffled"


def test_without_out_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = ratenet.run(microns_dict(sweep={"seeds": "0-1"}, output={"figures": True, "dir": "here"}))
    assert res.out is None and res.report is None
    assert list(tmp_path.iterdir()) == []


def test_arrow_and_the_c_stream(written):
    res, _ = written
    table = res.to_arrow()
    assert isinstance(table, pa.Table)
    assert table.num_rows == len(res) == 8
    assert table.column_names == list(res.runs.columns)
    assert table.column("delta_t").to_pylist() == pytest.approx(
        res.runs["delta_t"].tolist(), nan_ok=True, abs=0, rel=0
    )
    assert pa.table(res).equals(table)
    assert res.to_arrow("summary").num_rows == len(res.summary)
    with pytest.raises(ratenet.RatenetError, match="expected runs, summary or stats"):
        res.to_arrow("nope")


def test_read_results_of_a_cli_run_equals_run(cli, tmp_path):
    spec = tmp_path / "exp.toml"
    d = microns_dict(("observed", "shuffled"))
    spec.write_text(
        f'[data]\nsynapses = "{d["data"]["synapses"]}"\ncells = "{d["data"]["cells"]}"\n'
        '[stimulus]\ntarget = "notebook"\n'
        '[[condition]]\nname = "observed"\nnulls = []\n'
        '[[condition]]\nname = "shuffled"\nnulls = ["shuffle_connections"]\n'
        '[sweep]\nseeds = "0-3"\n[output]\nfigures = false\n'
    )
    out = tmp_path / "cli"
    subprocess.run([str(cli), "run", str(spec), "--out", str(out), "--quiet"], check=True)
    from_cli = ratenet.read_results(out)
    from_py = ratenet.run(spec)
    for table in ("runs", "summary", "stats"):
        pd.testing.assert_frame_equal(getattr(from_cli, table), getattr(from_py, table))
        pd.testing.assert_frame_equal(getattr(from_cli, table), pd.read_csv(out / {"runs": "results.csv"}.get(table, f"{table}.csv")))
    assert from_cli.out == out and from_cli.to_arrow().equals(from_py.to_arrow())


def test_spec_forms_agree(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text(RANDOM)
    as_dict = {"network": {"kind": "random", "n_neurons": 120}, "simulation": {"t_max": 30.0}, "sweep": {"seeds": "0-5"}}
    runs = [ratenet.run(s).runs for s in (RANDOM, str(path), path, as_dict)]
    for r in runs[1:]:
        pd.testing.assert_frame_equal(r, runs[0])
    assert len(runs[0]) == 6


def test_set_takes_python_values():
    base = ratenet.run(RANDOM, set={"network.g": 0.003, "sweep.seeds": "0-2"})
    assert len(base) == 3
    res = ratenet.run(RANDOM, set={"sweep.seeds": [0, 1, 2], "network.g": 0.003, "network.n_neurons": 120})
    pd.testing.assert_frame_equal(res.runs, base.runs)
    other = ratenet.run(RANDOM, set={"network.g": 0.002, "sweep.seeds": "0-2"})
    assert not other.runs["delta_t"].equals(base.runs["delta_t"])


def test_simulate_network_and_trace():
    sim = ratenet.simulate(RANDOM, seed=2, trace=True)
    trace = sim.pop("trace")
    assert list(trace.columns) == ["time", "exc_mean", "inh_mean", "stimulus"]
    assert all(trace.dtypes == np.float64) and len(trace) > 10
    plain = ratenet.simulate(RANDOM, seed=2)
    assert plain == sim
    assert {"condition", "seed", "delta_t", "returned", "n_neurons", "n_exc", "reciprocal", "nnz_ee"} <= set(plain)
    row = ratenet.run(RANDOM).runs.query("seed == 2").iloc[0]
    assert row["delta_t"] == plain["delta_t"]
    w = ratenet.network(RANDOM, seed=2)
    assert w.shape == (120, 120) and w.dtype == np.float64 and w.flags.writeable
    assert np.count_nonzero(w) > 0


def test_errors_are_ratenet_errors_with_the_message(tmp_path):
    assert issubclass(ratenet.RatenetError, ValueError)
    with pytest.raises(ratenet.RatenetError, match="gg"):
        ratenet.run(RANDOM, set={"network.gg": 1.0})
    with pytest.raises(ratenet.RatenetError, match="'gg'"):
        ratenet.simulate({"network": {"kind": "random", "gg": 1}})
    missing = tmp_path / "missing.toml"
    with pytest.raises(ratenet.RatenetError, match="missing.toml"):
        ratenet.run(missing)
    with pytest.raises(ratenet.RatenetError, match="got int"):
        ratenet.run(42)
    with pytest.raises(ratenet.RatenetError, match="no_such_file.feather"):
        ratenet.connectome(microns_dict(), set={"data.synapses": str(tmp_path / "no_such_file.feather")})
    with pytest.raises(ratenet.RatenetError, match="uses no data"):
        ratenet.connectome(RANDOM)
    with pytest.raises(ratenet.RatenetError, match="condition"):
        ratenet.network(RANDOM, condition="nope")
    try:
        ratenet.run(RANDOM, set={"network.gg": 1.0})
    except ratenet.RatenetError as e:
        assert "\n" not in str(e)


def test_ctrl_c_stops_and_the_same_call_resumes(tmp_path):
    spec = microns_dict(("observed", "shuffled"), sweep={"seeds": "0-59"}, output={"figures": False})
    out = tmp_path / "out"
    journal = out / "shards"

    def interrupt_after_first_rows():
        deadline = time.time() + 60
        while time.time() < deadline:
            files = list(journal.glob("*.jsonl")) if journal.is_dir() else []
            if any(f.stat().st_size > 0 for f in files):
                _thread.interrupt_main()
                return
            time.sleep(0.005)

    t = threading.Thread(target=interrupt_after_first_rows)
    t.start()
    with pytest.raises(KeyboardInterrupt):
        ratenet.run(spec, out=out, threads=1)
    t.join()
    done = sum(len(f.read_text().splitlines()) for f in journal.glob("*.jsonl"))
    assert 0 < done < 120, done
    assert not (out / "results.csv").exists()
    res = ratenet.run(spec, out=out, threads=2)
    assert len(res) == 120 and res.fresh_runs == 120 - done
    pd.testing.assert_frame_equal(res.runs, ratenet.run(spec).runs)


def test_progress_bar_unless_quiet(capfd):
    ratenet.run(RANDOM)
    assert "run" not in capfd.readouterr().err
    ratenet.run(RANDOM, quiet=False)
    err = capfd.readouterr().err
    assert "6/6" in err, err


def test_a_missing_pandas_or_pyarrow_is_named(monkeypatch):
    res = ratenet.run(RANDOM)
    monkeypatch.setitem(__import__("sys").modules, "pandas", None)
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    with pytest.raises(ImportError, match="'pandas'"):
        res.runs
    with pytest.raises(ImportError, match="'pyarrow'"):
        res.to_arrow()
    assert ratenet.network(RANDOM).shape == (120, 120)


def test_connectome_exposes_n_inh():
    plain = ratenet.connectome(microns_dict())
    m, ids = plain
    assert plain.n_inh == 0 and plain.n_exc == len(ids) == m.shape[0]
    spec = microns_dict(
        data={"min_synapses": 5, "inhibitory_select": {"coarse_cell_type_auto": "I", "region": "V1"}},
        network={"inhibition": "observed"},
        stimulus={"target": "excitatory"},
    )
    c = ratenet.connectome(spec)
    m, ids = c
    assert (c.n_exc, c.n_inh) == (419, 173)
    assert m.shape == (592, 592) and c.M is m and c.ids is ids
    assert np.all(np.diff(ids[:419]) > 0) and np.all(np.diff(ids[419:]) > 0)
    # W (post x pre): inhibitory columns <= 0 (Dale's law), the others >= 0.
    w = ratenet.network(spec)
    assert w.shape == (592, 592)
    assert (w[:, 419:] <= 0).all() and (w[:, :419] >= 0).all()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"compression": "zstd", "data_page_version": "2.0"},
        {"compression": "gzip", "use_dictionary": False, "write_statistics": False},
        {"compression": "none", "write_page_index": True, "data_page_size": 4096},
        {"compression": "snappy", "row_group_size": 10_000, "store_schema": False},
    ],
    ids=["default", "zstd-v2", "gzip-plain", "none-pageindex", "snappy-rowgroups"],
)
def test_tables_written_by_pyarrow_read_as_the_feather_file(tmp_path, options):
    """Parquet (and Feather) files as pandas/pyarrow users write them pass
    the checks made before decoding (declared sizes, page headers) and give
    the connectome of the original Feather tables."""
    pq = pytest.importorskip("pyarrow.parquet")
    feather = pytest.importorskip("pyarrow.feather")
    base = microns_dict()
    m0, ids0 = ratenet.connectome(base)
    syn = feather.read_table(base["data"]["synapses"])
    cells = feather.read_table(base["data"]["cells"])
    pq.write_table(syn, tmp_path / "syn.parquet", **options)
    pq.write_table(cells, tmp_path / "cells.parquet", **options)
    spec = microns_dict(data={"synapses": str(tmp_path / "syn.parquet"), "cells": str(tmp_path / "cells.parquet")})
    m, ids = ratenet.connectome(spec)
    assert np.array_equal(ids, ids0) and np.array_equal(m, m0)
    # Feather v2 as pyarrow writes it, compressed and not.
    for compression in ("lz4", "zstd", "uncompressed"):
        feather.write_feather(syn, tmp_path / "syn.feather", compression=compression)
        spec["data"]["synapses"] = str(tmp_path / "syn.feather")
        m, ids = ratenet.connectome(spec)
        assert np.array_equal(m, m0), compression
