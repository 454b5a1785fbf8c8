import math

import pytest

from digitcnn import training
from digitcnn.training import finetune_config
from digitcnn.errors import SettingsError
from digitcnn.settings import CHOICE, FLAG, NUMBER, WHOLE, Setting


@pytest.mark.parametrize("setting, rule", [
    (Setting("epochs", WHOLE, 1, 200), "a whole number from 1 to 200"),
    (Setting("rate", NUMBER, 0, 1, above_low=True), "a number above 0 and at most 1"),
    (Setting("momentum", NUMBER, 0, 1, below_high=True, note="0 is off"), "a number from 0 and below 1 (0 is off)"),
    (Setting("limit", WHOLE, 10, optional=True), "a whole number of 10 or more"),
    (Setting("mode", CHOICE, choices=("a", "b")), "one of a, b"),
    (Setting("flag", FLAG), "true or false"),
])
def test_a_setting_says_its_rule_in_words(setting, rule):
    assert setting.rule() == rule


def test_a_refused_value_is_named_with_the_setting_and_its_rule():
    with pytest.raises(SettingsError, match=r"^epochs must be a whole number from 1 to 200, got 201$"):
        Setting("epochs", WHOLE, 1, 200).check(201)


@pytest.mark.parametrize("value", [True, 2.5, "3", math.nan, None])
def test_a_whole_number_is_an_integer_not_a_flag_a_fraction_text_nan_or_none(value):
    assert not Setting("n", WHOLE, 0, 10).allows(value)


def test_optional_allows_none_and_numbers_refuse_infinity():
    assert Setting("n", WHOLE, 10, optional=True).allows(None)
    assert not Setting("x", NUMBER).allows(math.inf) and Setting("x", NUMBER).allows(-3.5)


def _edges(setting):
    """(allowed, refused) values at a numeric setting's ends: each end itself unless excluded, and just past it."""
    step = 1 if setting.kind == WHOLE else 1e-9
    allowed, refused = [], []
    for end, excluded, outward in ((setting.low, setting.above_low, -step), (setting.high, setting.below_high, step)):
        if end is None:
            continue
        (refused if excluded else allowed).append(end)
        refused.append(end + outward)
    return allowed, refused


@pytest.mark.parametrize("config, declared", [(training.TrainingConfig, training.SETTINGS),
                                              (finetune_config.FineTuneConfig, finetune_config.SETTINGS)])
def test_every_declared_setting_is_what_the_config_checks(config, declared):
    """The declarations are the rules: each range's ends are taken or refused exactly as declared, each
    choice is taken and anything else refused."""
    for name, setting in declared.items():
        if setting.kind in (WHOLE, NUMBER):
            allowed, refused = _edges(setting)
        elif setting.kind == CHOICE:
            allowed, refused = list(setting.choices), ["none of these"]
        else:
            allowed, refused = [True, False], [1]
        for value in allowed:
            config(**{name: value})
        for value in refused:
            with pytest.raises(SettingsError, match=setting.words):
                config(**{name: value})
