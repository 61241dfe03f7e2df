"""Training: GAN losses as pure functions, the one GAN loop, configs and checkpoints.

Import the submodules directly (``imusynth.train.loop``, ``imusynth.train.losses``,
``imusynth.train.checkpoint``, ``imusynth.train.config``, ...); this package does not import
them, so importing one does not pull in the others. Devices, threads and seeds live in
:mod:`imusynth.runtime` (``imusynth.train.device`` is its deprecated alias).
"""
