"""A small CNN on Fashion-MNIST with ember.keras: two conv + max-pool blocks and a dense head,
Adam 1e-3, batch 64.

    python examples/cnn_fashion_mnist.py [--epochs 3]
"""
import argparse
import time

import ember
from ember.keras import datasets, layers, models, optimizers

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--verbose", type=int, default=1)
args = parser.parse_args()
ember.manual_seed(args.seed)

(x_train, y_train), (x_test, y_test) = datasets.fashion_mnist.load_data()
x_train = x_train.reshape((-1, 28, 28, 1)).astype("float32") / 255  # channels-last, as Keras
x_test = x_test.reshape((-1, 28, 28, 1)).astype("float32") / 255

model = models.Sequential([
    layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
    layers.MaxPooling2D((2, 2)),
    layers.Conv2D(64, (3, 3), activation="relu"),
    layers.MaxPooling2D((2, 2)),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=optimizers.Adam(learning_rate=1e-3),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()

t0 = time.perf_counter()
model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=args.verbose)
seconds = time.perf_counter() - t0
test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=512)
print(f"trained {args.epochs} epochs in {seconds:.1f} s ({len(x_train) * args.epochs / seconds:.0f} "
      "images/s)")
print(f"test loss {test_loss:.4f}")
print(f"test accuracy: {test_acc:.4f}")
