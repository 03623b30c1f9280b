"""Progress of a long build step: a tqdm bar on a terminal, the caller's callback (the app's
upload page), or nothing - so the build steps report progress one way whoever runs them."""

from __future__ import annotations

import sys
from collections.abc import Callable

from tqdm import tqdm

ProgressCallback = Callable[[int, int, str], None]


class Progress:
    """tqdm on a terminal, a caller's callback (the app), or nothing."""

    def __init__(self, progress: bool | ProgressCallback, total: int, desc: str, unit: str) -> None:
        self.callback = progress if callable(progress) else None
        self.total = total
        self.done = 0
        self.desc = desc
        self.bar = None
        if progress is True and total and sys.stderr.isatty():
            self.bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)

    def set_message(self, message: str) -> None:
        self.desc = message
        if self.bar is not None:
            self.bar.set_postfix_str(message, refresh=False)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        if self.callback is not None:
            self.callback(self.done, self.total, self.desc)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
