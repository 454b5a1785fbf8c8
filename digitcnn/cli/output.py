"""What the command line prints besides its answers: progress lines, tables and reports, and the statuses it
exits with."""

from __future__ import annotations

import sys
import time
import unicodedata

from digitcnn.percentages import share_text

EXIT_USER_ERROR = 1
EXIT_CANNOT_START = 2
EXIT_INTERRUPTED = 130


def display_width(text: str) -> int:
    """How many columns ``text`` takes on a terminal: East Asian wide and full-width characters two, combining
    marks none, others one."""
    return sum(0 if unicodedata.combining(character) else
               2 if unicodedata.east_asian_width(character) in "WF" else 1 for character in text)


def padded(text: str, width: int) -> str:
    """``text`` padded with blanks to ``width`` terminal columns."""
    return text + " " * max(0, width - display_width(text))

class TerminalProgress:
    """Shows training progress: a live line on a terminal, one line per epoch in a log."""

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.live = stream.isatty()
        self.last_drawn = 0.0

    def __call__(self, progress) -> None:
        if progress.stage == "epoch":
            scores = ""
            if progress.validation_accuracy is not None:
                scores = (f", validation loss {progress.validation_loss:.4f}, "
                          f"validation accuracy {share_text(progress.validation_accuracy)}")
            self._write(f"{self._status(progress)}{scores}", end="\n")
        elif self.live and (progress.stage == "step" or time.monotonic() - self.last_drawn > 0.1):
            self.last_drawn = time.monotonic()
            self._write(self._status(progress), end="")

    def _write(self, text: str, end: str) -> None:
        prefix = "\r\033[K" if self.live else ""
        self.stream.write(prefix + text + end)
        self.stream.flush()

    @staticmethod
    def _status(progress) -> str:
        if progress.stage == "step":  # before the first batch or after the last: scoring, calibrating, …
            return f"{progress.step}… {clock(progress.elapsed)} elapsed"
        width = 20
        filled = round(width * progress.batch / progress.batches)
        left = progress.seconds_left
        eta = f", {clock(left)} left" if left is not None and progress.stage == "batch" else ""
        return (
            f"epoch {progress.epoch}/{progress.epochs} [{'#' * filled}{'.' * (width - filled)}] "
            f"{progress.batch}/{progress.batches}: loss {progress.loss:.4f}, accuracy {share_text(progress.accuracy)}, "
            f"{clock(progress.elapsed)} elapsed{eta}"
        )


class DownloadProgress:
    """Shows a download's progress: a live line on a terminal, a line as each file starts in a log."""

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.live = stream.isatty()
        self.file = None
        self.last_drawn = 0.0

    def __enter__(self):
        return self

    def __call__(self, progress) -> None:
        if self.live and (progress.file != self.file or time.monotonic() - self.last_drawn > 0.1):
            self.last_drawn = time.monotonic()
            self.stream.write(f"\r\033[K{progress.file}: {progress.received / 1e6:.1f} of "
                              f"{progress.expected / 1e6:.1f} MB ({progress.fraction:.0%})")
        elif not self.live and progress.file != self.file:
            self.stream.write(f"{progress.file}\n")
        self.file = progress.file
        self.stream.flush()

    def __exit__(self, *error) -> None:
        if self.live and self.file is not None:  # the live line ends, so that what follows starts a line
            self.stream.write("\n")
            self.stream.flush()


def print_report(evaluation) -> None:
    """The confusion matrix and scikit-learn's classification report of ``evaluation``, less the report's accuracy
    row: the command printed that figure already, named for what it is (a test score or not)."""
    print("\nconfusion matrix (rows: true digit, columns: predicted digit)")
    print(matrix_text(evaluation.confusion_matrix))
    print("\nclassification report")
    report = evaluation.report_text().splitlines()
    print("\n".join(line for line in report if not line.lstrip().startswith("accuracy")))


def clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def matrix_text(matrix) -> str:
    width = max(5, len(str(matrix.max())) + 1)
    lines = ["".rjust(3) + "".join(str(d).rjust(width) for d in range(10))]
    lines += [str(d).rjust(3) + "".join(str(v).rjust(width) for v in row) for d, row in enumerate(matrix)]
    return "\n".join(lines)
