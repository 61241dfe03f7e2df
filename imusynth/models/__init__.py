"""Neural networks and estimators: GAN generators and discriminators, exercise classifiers."""
