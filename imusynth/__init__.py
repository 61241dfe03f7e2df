"""imusynth: conditional GANs of wearable inertial-sensor windows.

Learns class-conditional generators of accelerometer + gyroscope windows, optionally
constrained by a differentiable upper-extremity kinematic model, and uses them to rebalance
and augment exercise-classification datasets. The same trainer and harness run the DCGAN
augmentation study of CT liver-lesion ROIs (Frid-Adar et al. 2018).
"""

__version__ = "0.1.0"
