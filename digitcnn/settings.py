"""Settings declared once. Each setting of a run is a :class:`Setting`: its kind, its range or choices, and the
words that name it to people. A config checks its values with :func:`check_all` over its declarations, and
the command line and the pages take their limits and choices from the same declarations, so the three can
never disagree (as scikit-learn's ``_parameter_constraints``)::

    EPOCHS = Setting("epochs", WHOLE, low=1, high=200)
    EPOCHS.check(0)  # SettingsError: epochs must be a whole number from 1 to 200, got 0
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from digitcnn.errors import SettingsError

WHOLE, NUMBER, CHOICE, FLAG = "whole", "number", "choice", "flag"


@dataclass(frozen=True)
class Setting:
    """What one setting allows. ``low``/``high``: its range (None: unbounded on that side), each end
    allowed unless ``above_low``/``below_high``; ``choices``: the values a CHOICE allows; ``optional``:
    None is allowed too (it then means a default decided elsewhere); ``note``: added to the rule in
    messages, to explain a value (``"0 is off"``)."""

    words: str  # how messages name it: "batch size"
    kind: str  # WHOLE, NUMBER, CHOICE or FLAG
    low: float | None = None
    high: float | None = None
    above_low: bool = False
    below_high: bool = False
    choices: tuple = ()
    optional: bool = False
    note: str = ""

    def allows(self, value) -> bool:
        if value is None:
            return self.optional
        if self.kind == FLAG:
            return isinstance(value, bool)
        if self.kind == CHOICE:
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            return False
        if self.kind == WHOLE and not isinstance(value, numbers.Integral):
            return False
        if self.low is not None and (value <= self.low if self.above_low else value < self.low):
            return False
        return self.high is None or (value < self.high if self.below_high else value <= self.high)

    def rule(self) -> str:
        """What it allows, in words: "a whole number from 1 to 200"."""
        if self.kind == FLAG:
            return "true or false"
        if self.kind == CHOICE:
            return f"one of {', '.join(map(str, self.choices))}"
        what = "a whole number" if self.kind == WHOLE else "a number"
        low = None if self.low is None else _number_words(self.low)
        high = None if self.high is None else _number_words(self.high)
        if low is not None and high is not None:
            if not (self.above_low or self.below_high):
                words = f"{what} from {low} to {high}"
            else:
                words = (f"{what} {'above' if self.above_low else 'from'} {low} "
                         f"{'and below' if self.below_high else 'and at most'} {high}")
        elif low is not None:
            words = f"{what} above {low}" if self.above_low else f"{what} of {low} or more"
        elif high is not None:
            words = f"{what} below {high}" if self.below_high else f"{what} of {high} or less"
        else:
            words = what
        return words + (f" ({self.note})" if self.note else "")

    def check(self, value) -> None:
        """Raise :class:`SettingsError` naming the setting, its rule and the value, unless it is allowed."""
        if not self.allows(value):
            raise SettingsError(f"{self.words} must be {self.rule()}, got {value!r}")


def _number_words(value: float) -> str:
    """A limit as people write it: 4294967295, 0.05."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def check_all(config, declared: dict[str, Setting]) -> None:
    """Check each declared setting of ``config`` (an object with an attribute per name), in order."""
    for name, setting in declared.items():
        setting.check(getattr(config, name))
