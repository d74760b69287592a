"""Compatibility fronts over ember's engine. ``ember.compat.v1`` is TensorFlow 1's graph API:
``import ember.compat.v1 as tf`` runs TF1 listings (placeholders, Variables, Session.run,
tf.gradients, optimizers, tf.layers, tf.summary) on ember's graph IR (``ember.graph``)."""
