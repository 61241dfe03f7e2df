"""Training: GAN losses as pure functions, the one GAN loop, configs and checkpoints.

Import the submodules directly (``imusynth.train.loop``, ``imusynth.train.losses``,
``imusynth.train.checkpoint``, ``imusynth.train.config``, ``imusynth.train.device``);
this package does not import them, so importing one does not pull in the others.
"""
