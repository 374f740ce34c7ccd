"""``did you mean 'convnet'?``: the closest valid name, for the one-line errors about unknown names
(models, datasets, methods, pools, a flag's choices)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

__all__ = ["did_you_mean"]


def did_you_mean(name: str, options: Iterable[str] | Mapping[str, str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options`` (case-insensitive), or ``""``.

    ``options`` may map spellings to the name to suggest (``{"fashionmnist": "fashion-mnist"}``)."""
    pairs = options.items() if isinstance(options, Mapping) else ((o, o) for o in options)
    lower = {str(k).lower(): str(v) for k, v in pairs}
    close = difflib.get_close_matches(str(name).strip().lower(), list(lower), n=1, cutoff=0.6)
    return f" (did you mean {lower[close[0]]!r}?)" if close else ""
