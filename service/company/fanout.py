"""Asking several companies at once: the one way every use case does it.

Each company's call runs on the peer pool; this company's own call (if any) runs in the
calling thread, with no thread hop. The caller waits until one deadline, measured from before
any call starts (its own company's work included), and then reads each company's outcome:
an answer, a failure, or silence.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any

from service.company.context import Context


@dataclass(frozen=True)
class Outcome:
    """One company's part: ``value`` when it answered; else ``error`` (an exception it raised)
    or neither (it did not answer before the deadline)."""

    value: Any = None
    error: BaseException | None = None
    answered: bool = False

    @property
    def silent(self) -> bool:
        return not self.answered and self.error is None

    def result(self) -> Any:
        """The answer, or the failure raised again (as ``Future.result`` does)."""
        if self.error is not None:
            raise self.error
        return self.value


def fan_out(
    ctx: Context, calls: dict[str, tuple[Any, ...]], timeout: float, local: str | None = None
) -> dict[str, Outcome]:
    """Run ``calls`` (company -> (function, *args)) in parallel and wait at most ``timeout``
    seconds in all. ``local``: the company whose call runs in this thread."""
    deadline = time.monotonic() + timeout
    futures: dict[str, Future] = {
        company: ctx.pool.submit(fn, *args)
        for company, (fn, *args) in calls.items()
        if company != local
    }
    out: dict[str, Outcome] = {}
    if local is not None and local in calls:
        fn, *args = calls[local]
        try:
            out[local] = Outcome(value=fn(*args), answered=True)
        except Exception as exc:  # handed to the caller exactly like a peer's failure
            out[local] = Outcome(error=exc)
    if futures:
        wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
    for company, fut in futures.items():
        if not fut.done():
            out[company] = Outcome()
        elif fut.exception() is not None:
            out[company] = Outcome(error=fut.exception())
        else:
            out[company] = Outcome(value=fut.result(), answered=True)
    return out
