"""The moto server's request dispatch: the list of moto's service modules read once.

For every request, moto's ``DomainDispatcherApplication.get_backend_for_host`` asks
``moto.backends.list_of_moto_modules()``, which lists moto's package directory and stats each
entry: about 150 ``stat`` calls per API request, the largest cost of a small S3 call here
(BENCHMARKS.md, local pipeline). The directory does not change while the local cloud runs, so
the list is read once.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..moto_internals import moto_backends_module
from .patching import patch


def apply() -> None:
    modules = tuple(moto_backends_module.list_of_moto_modules())

    @patch(moto_backends_module, "list_of_moto_modules")
    def list_of_moto_modules() -> Iterable[str]:
        return modules
