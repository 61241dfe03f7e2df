"""imusynth: conditional GANs of wearable inertial-sensor windows.

Learns class-conditional generators of accelerometer + gyroscope windows, optionally
constrained by a differentiable upper-extremity kinematic model, and uses them to rebalance
and augment exercise-classification datasets. The same trainer and harness run the DCGAN
augmentation study of CT liver-lesion ROIs (Frid-Adar et al. 2018).
"""

__version__ = "0.1.0"

__all__ = ["CGANOverSampler", "__version__"]


def __getattr__(name: str):
    # Lazy (PEP 562): importing the package, as the CLI does on every start, stays free of
    # torch, scikit-learn and imbalanced-learn until the over-sampler is asked for.
    if name == "CGANOverSampler":
        from imusynth.gan.oversampler import CGANOverSampler

        return CGANOverSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
