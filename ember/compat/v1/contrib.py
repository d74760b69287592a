"""``tf.contrib.layers.xavier_initializer`` (the contrib name the lectures use)."""
from types import SimpleNamespace

from . import initializers as _init

layers = SimpleNamespace(xavier_initializer=_init.xavier_initializer,
                         xavier_initializer_conv2d=_init.xavier_initializer)
