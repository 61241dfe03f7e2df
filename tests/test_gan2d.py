"""Image GANs through the shared loop: one DCGAN per class, AC-GAN, run folders and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imusynth.config import BUNDLED_DIR
from imusynth.data import ImageSet, read_windows, write_windows
from imusynth.errors import CheckpointError, ConfigError, DataError
from imusynth.gan import ImageGAN
from imusynth.train.build import build_image_gan
from imusynth.train.config import ModelConfig, load_config

TINY = {"steps": 2, "batch_size": 4, "g_width": 4, "d_width": 4}
CT_CONFIG = BUNDLED_DIR / "ct_dcgan.toml"
CT_SET = ["train.steps=2", "train.batch_size=4", "model.g_width=4", "model.d_width=4"]


def _images(per_class=(6, 5, 4)) -> ImageSet:
    from imusynth.data.phantoms import make_liver_phantoms

    d = make_liver_phantoms(per_class, n_patients=4, rng=np.random.default_rng(0))
    return ImageSet(
        X=d["X"],
        y=d["y"],
        groups=d["groups"],
        classes=d["classes"],
        channels=("intensity",),
        units=("scaled",),
        sampling_rate_hz=0.0,
    )


def test_build_image_gan_from_model_config():
    g, d = build_image_gan(ModelConfig(generator="dcgan", g_width=4, d_width=4), 3, seed=1)
    assert g.num_classes == 0 and d.num_classes == 0  # one GAN per class: unconditional
    x = g(torch.randn(2, g.latent_dim), None)
    assert x.shape == (2, 1, 64, 64) and d(x).shape == (2,)
    g2, d2 = build_image_gan(ModelConfig(generator="acgan", g_width=4, d_width=4), 3, seed=1)
    adv, cls = d2(g2(torch.randn(2, g2.latent_dim), torch.tensor([0, 2])))
    assert adv.shape == (2,) and cls.shape == (2, 3)
    g3, _ = build_image_gan(ModelConfig(generator="dcgan", g_width=4, d_width=4), 3, seed=1)
    assert torch.equal(g.project.weight, g3.project.weight)  # the seed fixes the weights
    with pytest.raises(ConfigError, match="at least 2 classes"):
        build_image_gan(ModelConfig(generator="acgan"), 1)
    with pytest.raises(ConfigError) as info:
        build_image_gan(ModelConfig(generator="conv1d"), 3)
    assert info.value.field == "model.generator"


@pytest.mark.parametrize(("generator", "n_fits"), [("dcgan", 3), ("acgan", 1)])
def test_fit_trains_through_the_shared_loop_and_samples_in_range(monkeypatch, generator, n_fits):
    from imusynth.gan import images as gan_images
    from imusynth.train import loop

    calls = []

    def spy(G, D, loader, config, *args, **kwargs):
        batches = loader(0)
        if generator == "dcgan":
            calls.append(len(batches.dataset))
        else:  # AC-GAN batches hold one class each, so minibatch-std sees within-class variety
            assert all(len(set(y.tolist())) == 1 for _, y in batches)
            calls.append(sum(len(y) for _, y in batches))
        return loop.fit_gan(G, D, loader, config, *args, **kwargs)

    monkeypatch.setattr(gan_images, "fit_gan", spy)
    ims = _images()
    gan = ImageGAN(generator=generator, device="cpu", **TINY).fit(ims.X, ims.y, classes=ims.classes)
    # one DCGAN per class on that class's images, or one AC-GAN on whole batches of each
    assert calls == ([6, 5, 4] if generator == "dcgan" else [4 + 4 + 4])
    assert len(gan.run_.generators) == n_fits and gan.run_.step == 2
    X, y = gan.sample({"cyst": 2, "hemangioma": 3}, seed=5)
    assert X.shape == (5, 1, 64, 64) and y.tolist() == [0, 0, 2, 2, 2]
    assert X.dtype == np.float32 and np.abs(X).max() <= 1.0
    again, _ = gan.sample({"cyst": 2, "hemangioma": 3}, seed=5)
    other, _ = gan.sample({"cyst": 2, "hemangioma": 3}, seed=6)
    assert np.array_equal(X, again) and not np.allclose(X, other)


def test_save_and_load_give_the_same_samples(tmp_path):
    ims = _images()
    for generator in ("dcgan", "acgan"):
        gan = ImageGAN(generator=generator, device="cpu", **TINY).fit(ims.X, ims.y)
        run_dir = gan.save(tmp_path / generator)
        back = ImageGAN.load(run_dir)
        assert back.run_.config.model.generator == generator
        assert np.array_equal(gan.sample(3, seed=1)[0], back.sample(3, seed=1)[0])
        # a loaded estimator can be saved again (its checkpoints travel with it)
        assert ImageGAN.load(back.save(tmp_path / f"{generator}-again")).sample(1)[0].shape[0] == 3


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda X, y: (X * 2.0, y), "X", "[-1, 1]"),
        (lambda X, y: (X[..., :32, :32], y), "X", "(N, 1, 64, 64)"),
        (lambda X, y: (X, y[:-1]), "y", "integer class codes"),
        (lambda X, y: (np.concatenate([X[:1] * np.nan, X[1:]]), y), "X", "NaN"),
        (lambda X, y: (X[y != 2][:-3], y[y != 2][:-3]), "train.batch_size", "metastasis"),
    ],
)  # fmt: skip
def test_bad_training_images(change, field, message):
    ims = _images()
    X, y = change(ims.X, ims.y)
    with pytest.raises(DataError) as info:
        ImageGAN(device="cpu", **TINY).fit(X, y, classes=ims.classes)
    assert info.value.field == field and message in info.value.message


def test_estimator_rejects_window_generators():
    with pytest.raises(ConfigError) as info:
        ImageGAN(generator="conv1d", **TINY).resolved_config()
    assert info.value.field == "model.generator"


def test_run_folder_through_gan_api_dispatch(tmp_path):
    from imusynth.gan import balance_windows, load_run, sample_windows, train_run

    ims = _images()
    cfg = load_config(CT_CONFIG, CT_SET)
    run = train_run(cfg, ims, tmp_path / "run", device="cpu")
    assert (tmp_path / "run" / "samples.png").stat().st_size > 2000
    assert sorted(p.name for p in (tmp_path / "run").glob("class*")) == [
        "class0",
        "class1",
        "class2",
    ]
    loaded = load_run(tmp_path / "run")
    fake = sample_windows(loaded, 2, seed=0)
    assert (
        isinstance(fake, ImageSet)
        and fake.is_synthetic.all()
        and fake.class_counts()
        == {
            "cyst": 2,
            "metastasis": 2,
            "hemangioma": 2,
        }
    )
    assert np.array_equal(fake.X, sample_windows(run, 2, seed=0).X)
    balanced = balance_windows(ims, loaded, seed=0)
    assert balanced.class_counts() == {"cyst": 6, "metastasis": 6, "hemangioma": 6}
    assert int(balanced.is_synthetic.sum()) == 1 + 2
    # resume continues each class's GAN from its checkpoint
    longer = load_config(CT_CONFIG, [*CT_SET, "train.steps=3"])
    assert train_run(longer, ims, tmp_path / "run", resume=True, device="cpu").step == 3
    with pytest.raises(CheckpointError):
        load_run(tmp_path / "nowhere")


def test_train_image_run_passes_its_options_on(tmp_path):
    from imusynth.gan import train_image_run

    ims = _images()
    cfg = load_config(CT_CONFIG, CT_SET)
    run = train_image_run(cfg, ims, tmp_path / "run", device="cpu", plots=False)
    assert run.step == 2 and not (tmp_path / "run" / "samples.png").exists()
    longer = load_config(CT_CONFIG, [*CT_SET, "train.steps=3"])
    resumed = train_image_run(longer, ims, tmp_path / "run", resume=True, device="cpu", plots=False)
    assert resumed.step == 3
    with pytest.raises(TypeError, match="resmue"):
        train_image_run(cfg, ims, None, resmue=True)
    with pytest.raises(ConfigError) as info:  # images only, whatever the config says
        train_image_run(load_config(None, ["model.generator=conv1d"]), ims, None)
    assert info.value.field == "model.generator"


def test_cli_train_and_sample_images(run_cli, tmp_path):
    real = write_windows(tmp_path / "real.h5", _images())
    sets = [a for s in CT_SET for a in ("--set", s)]
    code, _, err = run_cli(
        "train", "--config", CT_CONFIG, *sets, "--data", real, "--out", tmp_path / "run", "-q"
    )
    assert code == 0, err
    code, _, err = run_cli(
        "sample", tmp_path / "run", "--per-class", "3", "--out", tmp_path / "syn.h5", "-q"
    )
    assert code == 0, err
    syn = read_windows(tmp_path / "syn.h5")
    assert isinstance(syn, ImageSet) and len(syn) == 9 and syn.is_synthetic.all()
    assert syn.classes == ("cyst", "metastasis", "hemangioma")


def test_an_image_run_carries_its_modality_and_the_old_names_still_work(tmp_path):
    import imusynth.gan2d
    from imusynth.gan import IMAGES, ConditionalGAN, load_run, sample

    ims = _images()
    gan = ImageGAN(generator="acgan", device="cpu", **TINY).fit(ims.X, ims.y, classes=ims.classes)
    run_dir = gan.save(tmp_path / "run")
    run = load_run(run_dir)
    assert run.modality is IMAGES and gan.run_.modality is IMAGES
    assert np.array_equal(sample(run, 2, seed=3).X, gan.sample(2, seed=3)[0])
    assert imusynth.gan2d.ImageGAN is ImageGAN
    assert imusynth.gan2d.sample_images is sample
    with pytest.raises(CheckpointError, match="not a windows GAN run"):
        ConditionalGAN.load(run_dir)
