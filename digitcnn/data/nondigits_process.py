"""Non-digits drawn in a process of their own (:func:`generate_elsewhere`), beside a training that uses the other
cores: :func:`digitcnn.data.nondigits.generate` run in a process started as :mod:`digitcnn.processes` starts every
process of the library (the caller's ``__main__`` is never imported again). The caller sends the order, the child
sends the images back and ends; a child whose caller has gone (a training worker killed mid-run, say: once, its
drawing process stayed, 180 MB for the life of the machine) ends at once.
"""

from __future__ import annotations

import logging
import os
import threading
import types
import weakref
from collections.abc import Sequence

import numpy as np

from digitcnn import processes
from digitcnn.data.nondigits import NonDigits, generate

_log = logging.getLogger(__name__)
# Fewer non-digits than this are not worth a process of their own: starting one costs about a second of processor
# time (its imports). The process runs at a lower priority (NICENESS added to its nice value), so that it takes the
# cores a training leaves (compact's fit keeps about 1.6 of 2 busy), not the training's own. Measured on the embedded
# sample's quick run in one process, whose digit-likeness draws 1,675 (two runs each, 2 cores): drawn after the fit,
# 6.5 and 7.0 s from the fit's end to the result; drawn during it at a lower priority, 4.7 and 4.6 s (at the same
# priority 4.3 and 5.0 s), the fit as long (19.3–22.3 s in all six runs).
ELSEWHERE_MIN_COUNT = 1_000
NICENESS = 10


def generate_elsewhere(count: int, seed: int, kinds: Sequence[str] | None = None, digits=None) -> Pending:
    """:func:`generate` started in a new process, for a caller with other work to do meanwhile: drawing is pure
    Python on one core, and a training beside it uses the others. :meth:`Pending.result` waits for the images
    (the same as :func:`generate`'s). Fewer than :data:`ELSEWHERE_MIN_COUNT`, and all of them where no process
    can be started or it is lost on the way, are drawn when asked for."""
    return Pending(count, seed, kinds, digits)


class Pending:
    """Non-digits being drawn in a process of their own (see :func:`generate_elsewhere`); ``process_id`` is that
    process's (None: they are drawn when asked for). A Pending dropped before its result ends its process."""

    def __init__(self, count: int, seed: int, kinds: Sequence[str] | None = None, digits=None):
        self._arguments = (count, seed, kinds, digits)
        self.process_id = self._connection = self._sending = None
        if count < ELSEWHERE_MIN_COUNT:
            return
        try:
            process, self._connection = processes.start(__name__, "_draw")
        except OSError as error:
            _log.warning("drawing non-digits in this process: no process of their own (%s)", error)
            return
        self.process_id = process.pid
        # Only what generate reads of the digits crosses: the caller's object might not unpickle over there. Sent
        # from a thread, as the child reads it once it has imported digitcnn (about a second): the training starts
        # meanwhile.
        order = (count, seed, kinds, None if digits is None else (np.asarray(digits.images), np.asarray(digits.labels)))
        self._sending = threading.Thread(target=_send, args=(self._connection, order), daemon=True,
                                         name="non-digits order")
        self._sending.start()
        self._ended = weakref.finalize(self, _end, process, self._connection, self._sending)

    def result(self) -> NonDigits:
        """The non-digits, once drawn."""
        if self._connection is not None:
            self._sending.join()
            try:
                return self._connection.recv()
            except (EOFError, OSError):
                _log.warning("the process drawing non-digits was lost: drawing them here")
            finally:
                self._ended()
        return generate(*self._arguments)


def _send(connection, order) -> None:
    try:
        connection.send(order)
    except OSError:
        pass  # the process is lost: result() finds its end of the socket closed, and draws them here


def _end(process, connection, sending: threading.Thread) -> None:
    process.kill()  # done already, or its work no longer wanted
    process.wait()
    sending.join()  # an order still being sent fails at once, its reader gone
    connection.close()


def _draw(caller: processes.Parent) -> None:
    """The drawing process's life: at a lower priority (:data:`NICENESS`), draw what ``caller`` orders and hand the
    images over; end at once if ``caller`` goes meanwhile."""
    os.nice(NICENESS)
    count, seed, kinds, digits = caller.recv()
    # The caller sends nothing more: this waits on the socket only to end the process as soon as the caller has gone.
    threading.Thread(target=caller.recv, daemon=True, name="ends-without-its-caller").start()
    if digits is not None:
        digits = types.SimpleNamespace(images=digits[0], labels=digits[1])
    caller.send(generate(count, seed, kinds, digits))
