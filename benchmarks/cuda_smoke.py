"""CUDA smoke check and quick timings on a GPU machine (run with PYTHONPATH=. on the device).

Trains both cGAN generators and a CNN classifier for a few steps on random windows on
``cuda``, checks outputs are finite and on the right device, and times ArmModel
forward+backward on 256 x 250 and fit_gan steps/s. Prints one line per check.
"""

import time

import numpy as np
import torch


def main() -> None:
    assert torch.cuda.is_available(), "no CUDA"
    print("device", torch.cuda.get_device_name(0), "torch", torch.__version__)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512, 6, 250)).astype(np.float32)
    X[:, 0] -= 1.0
    y = np.arange(512) % 7
    from imusynth.gan import ConditionalGAN

    for gen in ("conv1d", "kinematic"):
        t = time.perf_counter()
        gan = ConditionalGAN(generator=gen, steps=40, batch_size=64, device="cuda").fit(X, y)
        torch.cuda.synchronize()
        dt = time.perf_counter() - t
        Xs, _ = gan.sample(n_per_class=10, seed=0)
        print(
            f"gan {gen}: 40 steps in {dt:.1f}s (incl. warm-up), sample {Xs.shape} "
            f"finite={np.isfinite(Xs).all()}"
        )
        t = time.perf_counter()
        ConditionalGAN(generator=gen, steps=200, batch_size=64, device="cuda").fit(X, y)
        torch.cuda.synchronize()
        print(f"gan {gen}: {200 / (time.perf_counter() - t):.1f} steps/s (batch 64)")
    from imusynth.models.classifiers import CNNClassifier

    for arch in ("frid_adar", "resnet"):
        t = time.perf_counter()
        clf = CNNClassifier(arch, epochs=5, device="cuda", random_state=0).fit(X, y)
        print(
            f"clf {arch}: 5 epochs in {time.perf_counter() - t:.1f}s, "
            f"train acc {clf.score(X, y):.2f}"
        )
    from imusynth.kinematics.arm import ArmModel

    model = ArmModel().cuda()
    q = torch.zeros(256, len(model.joint_names), 250, device="cuda", requires_grad=True)
    for _ in range(3):
        out = model(q, 50.0)
        (out.acc.sum() + out.gyro.sum()).backward()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(20):
        out = model(q, 50.0)
        (out.acc.sum() + out.gyro.sum()).backward()
    torch.cuda.synchronize()
    print(f"ArmModel fwd+bwd 256x250 on cuda: {(time.perf_counter() - t) / 20 * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
