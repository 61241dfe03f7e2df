"""Classes whose ``__init__`` only stores its parameters (dataclass fields): the stored
attributes are exactly the signature's, in its order; repr, equality and hashing stay the
base class's (scikit-learn's repr, identity equality); clone and pickling keep them."""

from __future__ import annotations

import inspect
import pickle

import pytest
from sklearn.base import clone

from imusynth.augment.kinematic import KinematicAugmenter
from imusynth.gan.estimators import ConditionalGAN, ImageGAN
from imusynth.gan.oversampler import CGANOverSampler
from imusynth.metrics.embedding import WindowEmbedding
from imusynth.models.features import FeatureRandomForest, WindowFeatures
from imusynth.train.classifiers import CNNClassifier

# One non-default keyword parameter of each class.
ESTIMATORS = [
    (ConditionalGAN, {"steps": 3}),
    (ImageGAN, {"g_width": 4}),
    (CGANOverSampler, {"window_shape": (6, 32)}),
    (CNNClassifier, {"epochs": 2}),
    (FeatureRandomForest, {"random_state": 1}),
    (WindowFeatures, {"nperseg": 64}),
]
STORES = [*ESTIMATORS, (KinematicAugmenter, {"side": "left"}), (WindowEmbedding, {"bands": 3})]


@pytest.mark.parametrize(("cls", "params"), STORES, ids=lambda v: getattr(v, "__name__", ""))
def test_init_stores_exactly_its_parameters_in_signature_order(cls, params):
    sig = inspect.signature(cls)
    obj = cls(**params)
    assert list(vars(obj)) == list(sig.parameters)
    for name, p in sig.parameters.items():
        assert getattr(obj, name) == params.get(name, p.default)
    assert obj != cls(**params) and obj == obj and len({obj, obj}) == 1  # identity


@pytest.mark.parametrize(("cls", "params"), ESTIMATORS, ids=lambda v: getattr(v, "__name__", ""))
def test_estimators_keep_scikit_learns_repr_clone_and_pickling(cls, params):
    est = cls(**params)
    ((name, value),) = params.items()
    assert repr(est) == f"{cls.__name__}({name}={value!r})"  # changed parameters only
    for twin in (clone(est), pickle.loads(pickle.dumps(est))):
        assert type(twin) is cls and twin is not est
        assert twin.get_params() == est.get_params()
        assert list(vars(twin)) == list(vars(est))


def test_keyword_only_parameters_stay_keyword_only():
    for cls in (ConditionalGAN, ImageGAN, CGANOverSampler, WindowEmbedding):
        with pytest.raises(TypeError):
            cls(None)
    for cls in (CNNClassifier, FeatureRandomForest):  # the first parameter may be positional
        first, *rest = inspect.signature(cls).parameters.values()
        assert first.kind is first.POSITIONAL_OR_KEYWORD
        assert all(p.kind is p.KEYWORD_ONLY for p in rest)


@pytest.mark.parametrize("cls", [ConditionalGAN, ImageGAN], ids=lambda c: c.__name__)
def test_gan_parameters_each_have_constraints_and_an_existing_config_key(cls):
    from imusynth.train.config import GANConfig

    names = list(inspect.signature(cls).parameters)
    assert list(cls._parameter_constraints) == names
    cfg = GANConfig()
    for name, section in cls._param_sections.items():
        assert hasattr(getattr(cfg, section), name), (name, section)
    assert set(names) - set(cls._param_sections) == {"config", "device", "progress", "run_dir"}


def test_a_gan_parameter_declared_without_its_constraints_is_refused():
    import dataclasses

    from imusynth.gan import estimators

    with pytest.raises(TypeError, match=r"Bad\.width: declare"):

        @estimators._estimator
        class Bad(estimators.GANEstimator):
            width: int | None = dataclasses.field(default=None)
