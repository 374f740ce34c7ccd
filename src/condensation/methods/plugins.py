"""Methods from outside the package: the modules named in ``$CONDENSATION_PLUGINS`` and the
installed packages' ``condensation.methods`` entry points, imported so that their
``@register_method`` classes register (the command line calls ``load_plugins`` before it builds
its flags).

``CONDENSATION_PLUGINS`` lists module names (``mylab.mtt``) or paths of ``.py`` files, separated
by commas. A package registers with ``[project.entry-points."condensation.methods"]`` in its
``pyproject.toml``: ``mine = "mylab.mine"``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path

from ..errors import ConfigError

__all__ = ["load_plugins", "ENTRY_POINT_GROUP", "ENV"]

ENTRY_POINT_GROUP = "condensation.methods"
ENV = "CONDENSATION_PLUGINS"
_loaded: set[str] = set()


def _import_file(path: Path) -> None:
    name = f"condensation_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"not a Python file: {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


def load_plugins() -> list[str]:
    """Import every plugin named by ``$CONDENSATION_PLUGINS`` and the entry points (each once per
    process); returns what was imported now. A plugin that fails to import is a ``ConfigError``
    naming it and the reason."""
    names = [n.strip() for n in os.environ.get(ENV, "").split(",") if n.strip()]
    points = {ep.value: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    loaded = []
    for name in [*names, *points]:
        if name in _loaded:
            continue
        try:
            if name.endswith(".py") or os.sep in name:
                _import_file(Path(name).expanduser())
            elif name in points:
                points[name].load()
            else:
                importlib.import_module(name)
        except Exception as e:  # the plugin's own error, whatever it is: one line
            raise ConfigError(f"could not load the method plugin {name!r} (from ${ENV} or an entry point): "
                              f"{type(e).__name__}: {e}") from None
        _loaded.add(name)
        loaded.append(name)
    return loaded
