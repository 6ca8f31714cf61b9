"""audit: a battery of named requests that tells whether a webhook receiver is safe and
robust (forged, tampered, replayed, duplicated, out-of-order, unknown and large
deliveries), graded by its HTTP answers. `simulator.audit(url, ...)` runs it."""

from __future__ import annotations

import sys
import types
from typing import Any


class _Package(types.ModuleType):
    """Importing this package makes `simulator.audit` name it rather than the public
    function of the same name, so the package runs an audit when called, as the
    function does: `simulator.audit(url, secret=...)` works whichever it names."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from simulator.audit.api import audit

        return audit(*args, **kwargs)


sys.modules[__name__].__class__ = _Package
