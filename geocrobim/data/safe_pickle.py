"""Load annotation pickles (RRSIS-D's ``refs(unc).p``) without running code from them.

A pickle can name any importable callable (``os.system``) and have it called while
loading. The refs files only hold dicts, lists, strings and numbers, which pickle
encodes with opcodes that need no class lookup; :class:`RestrictedUnpickler` allows
lookups of those builtin types only and refuses everything else.
"""

from __future__ import annotations

import builtins
import pickle
from pathlib import Path
from typing import Any

from geocrobim.errors import DatasetError, InputNotFoundError, one_line

ALLOWED = frozenset({"dict", "list", "tuple", "set", "frozenset", "str", "bytes", "int", "float", "bool", "complex"})


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only builtin container and scalar types."""

    def find_class(self, module: str, name: str) -> Any:
        if module in ("builtins", "__builtin__") and name in ALLOWED:
            return getattr(builtins, name)
        raise DatasetError(
            f"pickle refers to {module}.{name}; annotation pickles may only hold dicts, lists, strings and "
            "numbers, so it was not loaded (it may be corrupt or malicious)"
        )


def load_pickle(path: str | Path) -> Any:
    """Load a data-only pickle safely.

    Args:
        path: the pickle file.

    Returns:
        The unpickled builtin object tree.

    Raises:
        InputNotFoundError: the file does not exist.
        DatasetError: the pickle is corrupt or names anything beyond builtin data types.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path} does not exist")
    with path.open("rb") as f:
        try:
            # Python 2 pickles store text as bytes; latin-1 maps them one to one
            return RestrictedUnpickler(f, encoding="latin1").load()
        except DatasetError:
            raise
        except Exception as exc:
            raise DatasetError(f"{path} is not a readable pickle ({one_line(exc)})") from exc
