"""The old import paths of the evaluation floor keep working for one release, with a warning."""

import importlib

import pytest


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("imusynth.evaluate", "imusynth.evaluation.evaluate", "evaluate"),
        ("imusynth.evaluate", "imusynth.evaluation.evaluate", "check_compatible"),
        ("imusynth.turing", "imusynth.evaluation.turing", "make_sheet"),
        ("imusynth.turing", "imusynth.evaluation.turing", "KEY_NAME"),
    ],
)
def test_old_path_warns_and_gives_the_same_object(old, new, name):
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=new):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)


@pytest.mark.parametrize("old", ["imusynth.evaluate", "imusynth.turing"])
def test_old_path_knows_only_the_moved_names(old):
    module = importlib.import_module(old)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018
