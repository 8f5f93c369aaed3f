import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

Spec = Union[str, os.PathLike[str], Mapping[str, Any]]
PathArg = Union[str, os.PathLike[str]]

class RatenetError(ValueError): ...

class Results:
    @property
    def runs(self) -> Any: ...  # pandas.DataFrame
    @property
    def summary(self) -> Any: ...  # pandas.DataFrame
    @property
    def stats(self) -> Any: ...  # pandas.DataFrame
    @property
    def out(self) -> Optional[Path]: ...
    @property
    def report(self) -> Optional[Path]: ...
    @property
    def conditions(self) -> List[str]: ...
    @property
    def fresh_runs(self) -> int: ...
    def csv(self, table: str = ...) -> str: ...
    def to_arrow(self, table: str = ...) -> Any: ...  # pyarrow.Table
    def __arrow_c_stream__(self, requested_schema: Any = ...) -> Any: ...
    def __len__(self) -> int: ...

def run(
    spec: Spec,
    *,
    set: Optional[Mapping[str, Any]] = ...,
    out: Optional[PathArg] = ...,
    threads: Optional[int] = ...,
    quiet: bool = ...,
) -> Results: ...
def read_results(folder: PathArg) -> Results: ...
def simulate(
    spec: Spec,
    *,
    seed: int = ...,
    condition: Optional[str] = ...,
    set: Optional[Mapping[str, Any]] = ...,
    trace: bool = ...,
) -> Dict[str, Any]: ...
def network(
    spec: Spec,
    *,
    seed: int = ...,
    condition: Optional[str] = ...,
    set: Optional[Mapping[str, Any]] = ...,
) -> npt.NDArray[np.float64]: ...
class Connectome(Tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]):
    n_inh: int
    @property
    def M(self) -> npt.NDArray[np.float64]: ...
    @property
    def ids(self) -> npt.NDArray[np.int64]: ...
    @property
    def n_exc(self) -> int: ...

def connectome(
    spec: Spec,
    *,
    set: Optional[Mapping[str, Any]] = ...,
) -> Connectome: ...
