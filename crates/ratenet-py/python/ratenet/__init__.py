"""ratenet for Python: connectome-constrained firing-rate network experiments.

The same engine and the same numbers as the ``ratenet`` command line, with
results as pandas DataFrames and Arrow tables.

Functions
---------
run(spec, *, set=None, out=None, threads=None, quiet=True)
    Run an experiment (every sweep point x condition x seed) -> Results.
simulate(spec, *, seed=0, condition=None, set=None, trace=False)
    Simulate one run -> dict (the JSON of ``ratenet simulate``).
network(spec, *, seed=0, condition=None, set=None)
    The weight matrix W of one run (post x pre) -> numpy.ndarray.
connectome(spec, *, set=None)
    The E-E connectome (pre x post) and root ids -> (M, ids), with .n_inh.
read_results(folder)
    The results of a folder written by ``ratenet run`` or ``merge``.

``spec`` is an experiment file: a path (``str`` or ``os.PathLike`` naming an
existing file), its TOML text (a ``str`` containing a newline), or its
structure as a ``dict``. ``set`` is a dict of ``--set`` overrides, e.g.
``{"network.g": 0.003, "sweep.seeds": "0-9"}``.

Examples
--------
>>> import ratenet
>>> res = ratenet.run("examples/ex1_seeds.toml", set={"sweep.seeds": "0-4"})
>>> res.summary
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
import warnings as _warnings
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from . import _ratenet
from ._ratenet import RatenetError

__all__ = [
    "RatenetError",
    "Results",
    "run",
    "simulate",
    "network",
    "connectome",
    "Connectome",
    "read_results",
    "__version__",
]

__version__: str = _ratenet.__version__

Spec = Union[str, "os.PathLike[str]", Mapping[str, Any]]

_TABLES = ("runs", "summary", "stats")


def _require(package: str, what: str):
    """Import ``package`` or raise ImportError naming it."""
    try:
        return __import__(package)
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"ratenet: {what} needs the package '{package}', which is not installed "
            f"(pip install {package})"
        ) from e


def _spec(spec: Any) -> Tuple[str, str]:
    """``(kind, text)`` of a spec for the compiled module."""
    if isinstance(spec, Mapping):
        def default(o: Any) -> Any:
            if isinstance(o, os.PathLike):
                return os.fspath(o)
            if isinstance(o, (np.integer,)):
                return int(o)
            if isinstance(o, (np.floating,)):
                return float(o)
            if isinstance(o, (tuple, np.ndarray)):
                return list(o)
            raise RatenetError(f"spec dict: a value of type {type(o).__name__} has no TOML form")

        try:
            text = json.dumps(spec, default=default, allow_nan=False)
        except ValueError as e:
            if isinstance(e, RatenetError):
                raise
            raise RatenetError(f"spec dict: {e}") from None
        return "json", text
    if isinstance(spec, str) and "\n" in spec:
        return "toml", spec
    if isinstance(spec, (str, os.PathLike)):
        path = os.fspath(spec)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not os.path.isfile(path):
            raise RatenetError(f"{path}: no such experiment file")
        return "path", path
    raise RatenetError(
        "spec: expected a path to an experiment file, its TOML text or a dict, "
        f"got {type(spec).__name__}"
    )


def _value_text(value: Any, top: bool) -> str:
    """A Python value as the text of ``--set key=value``."""
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return repr(x)
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        # At the top, as the CLI reads it (a TOML value if it is one, else text).
        return value if top else json.dumps(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_value_text(v, False) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_value_text(v, False)}" for k, v in value.items()) + "}"
    raise RatenetError(f"set: a value of type {type(value).__name__} has no TOML form")


def _sets(set: Optional[Mapping[str, Any]]) -> List[str]:
    if set is None:
        return []
    if not isinstance(set, Mapping):
        raise RatenetError(f"set: expected a dict of key: value, got {type(set).__name__}")
    return [f"{k}={_value_text(v, True)}" for k, v in set.items()]


def _prepare(spec: Any, set: Optional[Mapping[str, Any]]) -> Tuple[str, str, List[str]]:
    kind, text = _spec(spec)
    sets = _sets(set)
    for w in _ratenet.warnings(kind, text, sets):
        _warnings.warn(f"ratenet: {w}", UserWarning, stacklevel=3)
    return kind, text, sets


class Results:
    """The results of :func:`run` or :func:`read_results`.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per run: the columns of ``results.csv``, with the dtypes
        ``pandas.read_csv`` gives for that file.
    summary : pandas.DataFrame
        ``summary.csv``: one row per sweep point and condition.
    stats : pandas.DataFrame
        ``stats.csv``: each condition against the reference condition.
    out : pathlib.Path or None
        The output folder, or None when nothing was written.
    report : pathlib.Path or None
        ``report.html`` in ``out``, if it was written.

    Notes
    -----
    ``Results`` implements ``__arrow_c_stream__`` (the runs table), so
    ``pyarrow.table(res)``, ``polars.from_arrow(res)`` and duckdb take it
    directly; :meth:`to_arrow` gives a ``pyarrow.Table``.
    """

    def __init__(self, inner: "_ratenet.RunResults") -> None:
        self._inner = inner
        self._frames: Dict[str, Any] = {}

    def _frame(self, table: str) -> Any:
        if table not in self._frames:
            pd = _require("pandas", f"Results.{table}")
            text = getattr(self._inner, f"{table}_csv")()
            self._frames[table] = pd.read_csv(io.StringIO(text))
        return self._frames[table].copy()

    @property
    def runs(self) -> Any:
        """One row per run (``results.csv``) as a pandas DataFrame."""
        return self._frame("runs")

    @property
    def summary(self) -> Any:
        """``summary.csv`` as a pandas DataFrame."""
        return self._frame("summary")

    @property
    def stats(self) -> Any:
        """``stats.csv`` as a pandas DataFrame."""
        return self._frame("stats")

    def csv(self, table: str = "runs") -> str:
        """The text of ``results.csv`` (``"runs"``), ``summary.csv`` or ``stats.csv``."""
        if table not in _TABLES:
            raise RatenetError(f"table {table!r}: expected runs, summary or stats")
        return getattr(self._inner, f"{table}_csv")()

    def to_arrow(self, table: str = "runs") -> Any:
        """A table as a ``pyarrow.Table``, handed over without copying.

        Parameters
        ----------
        table : {"runs", "summary", "stats"}
            Which table (default: the runs, the columns of ``results.parquet``).

        Returns
        -------
        pyarrow.Table
        """
        pa = _require("pyarrow", "Results.to_arrow()")
        return pa.RecordBatchReader.from_stream(_Stream(self._inner.stream(table))).read_all()

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """The runs table as an Arrow C stream (PyCapsule interface)."""
        return self._inner.stream("runs")

    @property
    def out(self) -> Any:
        """The output folder (``pathlib.Path``) or None."""
        from pathlib import Path

        out = self._inner.out
        return None if out is None else Path(out)

    @property
    def report(self) -> Any:
        """``report.html`` in the output folder, or None."""
        out = self.out
        if out is None or not (out / "report.html").is_file():
            return None
        return out / "report.html"

    @property
    def conditions(self) -> List[str]:
        """The condition names (the first is the statistics' reference)."""
        return list(self._inner.conditions)

    @property
    def fresh_runs(self) -> int:
        """Runs simulated by this call (not read back from an earlier, interrupted run)."""
        return self._inner.fresh_runs

    def __len__(self) -> int:
        return self._inner.n_runs

    def __repr__(self) -> str:
        where = f", out={str(self.out)!r}" if self.out is not None else ""
        return f"<ratenet.Results: {len(self)} runs, conditions {self.conditions}{where}>"


class _Stream:
    """An Arrow C stream capsule behind the PyCapsule interface (consumed once)."""

    def __init__(self, capsule: Any) -> None:
        self._capsule = capsule

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self._capsule


class _Bar:
    """A progress bar: tqdm if installed, else a line of text on stderr."""

    def __init__(self) -> None:
        self._tqdm = None
        self._last = -1

    def __call__(self, done: int, total: int) -> None:
        if self._tqdm is None and self._last < 0:
            try:
                from tqdm.auto import tqdm

                self._tqdm = tqdm(total=total, unit="run", desc="ratenet")
            except ImportError:
                pass
        if self._tqdm is not None:
            if self._tqdm.total != total:
                self._tqdm.total = total
                self._tqdm.refresh()
            if done > self._tqdm.n:
                self._tqdm.update(done - self._tqdm.n)
            self._last = done
            return
        if done != self._last:
            self._last = done
            sys.stderr.write(f"\rratenet: {done}/{total} runs")
            sys.stderr.flush()

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
        elif self._last >= 0:
            sys.stderr.write("\n")
            sys.stderr.flush()


def run(
    spec: Spec,
    *,
    set: Optional[Mapping[str, Any]] = None,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    threads: Optional[int] = None,
    quiet: bool = True,
) -> Results:
    """Run an experiment: every sweep point x condition x seed, in parallel.

    Parameters
    ----------
    spec : str, os.PathLike or dict
        The experiment file's path, its TOML text (a str with a newline) or
        its structure as a dict.
    set : dict, optional
        ``--set`` overrides, ``{"network.g": 0.003, "sweep.seeds": "0-9"}``;
        values as the command line reads them.
    out : str or os.PathLike, optional
        Output folder: the files of ``ratenet run`` are written there (and
        figures and report.html when ``output.figures`` is true); a run
        interrupted there resumes when called again. Without it nothing is
        written and no figures are drawn.
    threads : int, optional
        Worker threads (default: all cores).
    quiet : bool, default True
        No progress bar.

    Returns
    -------
    Results

    Raises
    ------
    RatenetError
        A bad spec, key or value, missing data, an output folder holding
        another experiment.
    KeyboardInterrupt
        On Ctrl-C, once the runs in flight finish (with ``out`` they are kept).
    """
    kind, text, sets = _prepare(spec, set)
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool)):
        raise RatenetError(f"threads: expected an int, got {type(threads).__name__}")
    if threads is not None and threads < 1:
        raise RatenetError(f"threads {threads}: expected at least 1")
    bar = None if quiet else _Bar()
    try:
        inner = _ratenet.run(
            kind, text, sets, None if out is None else os.fspath(out), threads, bar
        )
    finally:
        if bar is not None:
            bar.close()
    return Results(inner)


def read_results(folder: Union[str, "os.PathLike[str]"]) -> Results:
    """The results of a folder written by ``ratenet run`` or ``ratenet merge``.

    Parameters
    ----------
    folder : str or os.PathLike
        The output folder (it holds ``spec.toml`` and ``shards/``).

    Returns
    -------
    Results
        The same tables as :func:`run` gave (nothing is written).
    """
    return Results(_ratenet.read_results(os.fspath(folder)))


def simulate(
    spec: Spec,
    *,
    seed: int = 0,
    condition: Optional[str] = None,
    set: Optional[Mapping[str, Any]] = None,
    trace: bool = False,
) -> Dict[str, Any]:
    """Simulate one run, as ``ratenet simulate`` does.

    Parameters
    ----------
    spec : str, os.PathLike or dict
        The experiment (see :func:`run`).
    seed : int, default 0
        The run's seed.
    condition : str, optional
        Condition name (default: the first).
    set : dict, optional
        ``--set`` overrides.
    trace : bool, default False
        Also return the per-step trace.

    Returns
    -------
    dict
        The keys of ``ratenet simulate``'s JSON (``delta_t`` in s or None,
        ``returned``, ``n_neurons``, ...); with ``trace``, also ``"trace"``:
        a DataFrame with columns time, exc_mean, inh_mean, stimulus.
    """
    kind, text, sets = _prepare(spec, set)
    if trace:
        _require("pandas", "simulate(trace=True)")
    js, csv = _ratenet.simulate(kind, text, sets, int(seed), condition, bool(trace))
    result = json.loads(js)
    if trace:
        import pandas as pd

        result["trace"] = pd.read_csv(io.StringIO(csv or "")).astype("float64")
    return result


def network(
    spec: Spec,
    *,
    seed: int = 0,
    condition: Optional[str] = None,
    set: Optional[Mapping[str, Any]] = None,
) -> np.ndarray:
    """The weight matrix W of one run, as ``ratenet network`` writes it.

    Parameters
    ----------
    spec : str, os.PathLike or dict
        The experiment (see :func:`run`).
    seed : int, default 0
    condition : str, optional
        Condition name (default: the first).
    set : dict, optional
        ``--set`` overrides.

    Returns
    -------
    numpy.ndarray
        float64, n x n, row = post-synaptic, column = pre-synaptic neuron.
    """
    kind, text, sets = _prepare(spec, set)
    n, data = _ratenet.network(kind, text, sets, int(seed), condition)
    return np.frombuffer(data, dtype=np.float64).reshape(n, n)


class Connectome(tuple):
    """``(M, ids)`` as :func:`connectome` returns it, with ``n_inh``.

    It unpacks as the pair ``M, ids``; ``.M``, ``.ids``, ``.n_inh`` and
    ``.n_exc`` name its parts. With ``network.inhibition = "observed"`` the
    last ``n_inh`` neurons are the inhibitory ones; otherwise ``n_inh`` is 0.
    """

    n_inh: int

    def __new__(cls, m: np.ndarray, ids: np.ndarray, n_inh: int) -> "Connectome":
        self = super().__new__(cls, (m, ids))
        self.n_inh = int(n_inh)
        return self

    @property
    def M(self) -> np.ndarray:
        return self[0]

    @property
    def ids(self) -> np.ndarray:
        return self[1]

    @property
    def n_exc(self) -> int:
        return len(self[1]) - self.n_inh


def connectome(
    spec: Spec,
    *,
    set: Optional[Mapping[str, Any]] = None,
) -> Connectome:
    """The connectome of an experiment's data, as ``ratenet connectome`` writes it.

    Parameters
    ----------
    spec : str, os.PathLike or dict
        The experiment (see :func:`run`); its network must use data.
    set : dict, optional
        ``--set`` overrides.

    Returns
    -------
    Connectome
        The pair ``(M, ids)`` with ``.n_inh``. M: float64, n x n, row =
        pre-synaptic, column = post-synaptic neuron, unsigned (the E-E block,
        or with ``network.inhibition = "observed"`` every block, excitatory
        neurons first). ids: int64 root ids; neuron k is ``ids[k]``; the last
        ``n_inh`` are inhibitory.
    """
    kind, text, sets = _prepare(spec, set)
    n, m, ids, n_inh = _ratenet.connectome(kind, text, sets)
    return Connectome(
        np.frombuffer(m, dtype=np.float64).reshape(n, n),
        np.frombuffer(ids, dtype=np.int64),
        n_inh,
    )
