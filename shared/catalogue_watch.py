"""The catalogue as a running service sees it: reloaded when its file changes, never replaced by a bad one.

Used by the router (routing) and intake (checking dispatch and whistle steps), so both follow one file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from shared.catalogue import Catalogue, CatalogueError, load_catalogue

log = logging.getLogger(__name__)


class CatalogueWatcher:
    """Holds the last good catalogue; checks the file's mtime at most every ``check_seconds``."""

    def __init__(
        self,
        path: Path,
        *,
        check_seconds: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.check_seconds = check_seconds
        self.clock = clock
        self._stamp = self._file_stamp()
        self.catalogue: Catalogue = load_catalogue(self.path)  # the first one must be good: fail loudly
        self._checked_at = clock()
        self.last_error: str | None = None

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def current(self) -> Catalogue:
        """The catalogue to route with now (reloaded first if the file changed and is valid)."""
        if self.clock() - self._checked_at >= self.check_seconds:
            self.refresh()
        return self.catalogue

    def refresh(self) -> bool:
        """Reload if the file changed; True when a new catalogue is in use. A bad file keeps the old one."""
        self._checked_at = self.clock()
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        if stamp is None:
            self.last_error = f"{self.path} is missing"
            log.error("catalogue %s; keeping version %s", self.last_error, self.catalogue.version)
            return False
        try:
            loaded = load_catalogue(self.path)
        except (CatalogueError, OSError) as exc:
            self.last_error = str(exc)
            log.error("catalogue not reloaded, keeping version %s: %s", self.catalogue.version, exc)
            return False
        previous, self.catalogue, self.last_error = self.catalogue.version, loaded, None
        log.info("catalogue reloaded: version %s -> %s (%d rules)", previous, loaded.version, len(loaded.rules))
        return True
