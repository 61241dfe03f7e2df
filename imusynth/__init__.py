"""imusynth: conditional GANs of wearable inertial-sensor windows.

Learns class-conditional generators of accelerometer + gyroscope windows, optionally
constrained by a differentiable upper-extremity kinematic model, and uses them to rebalance
and augment exercise-classification datasets. The same trainer and harness run the DCGAN
augmentation study of CT liver-lesion ROIs (Frid-Adar et al. 2018).
"""

__version__ = "0.1.0"

__all__ = ["CGANOverSampler", "ConditionalGAN", "ImageGAN", "__version__"]


def __getattr__(name: str):
    # Lazy (PEP 562): importing the package, as the CLI does on every start, stays free of
    # torch, scikit-learn and imbalanced-learn until a GAN estimator is asked for.
    if name in ("CGANOverSampler", "ConditionalGAN", "ImageGAN"):
        import imusynth.gan

        return getattr(imusynth.gan, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
