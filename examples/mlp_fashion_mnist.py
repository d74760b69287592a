"""The textbook MLP ("Deep Learning with Python", ch. 2) on Fashion-MNIST, written with
ember.keras: the book's code with one changed import.

    python examples/mlp_fashion_mnist.py [--epochs 5]

Dense(512, relu) -> Dense(10, softmax), RMSprop, batch 128, 5 epochs.
"""
import argparse
import time

import ember
from ember.keras import datasets, layers, models, utils

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--verbose", type=int, default=1)
args = parser.parse_args()
ember.manual_seed(args.seed)

(train_images, train_labels), (test_images, test_labels) = datasets.fashion_mnist.load_data()
train_images = train_images.reshape((60000, 28 * 28)).astype("float32") / 255
test_images = test_images.reshape((10000, 28 * 28)).astype("float32") / 255
train_labels = utils.to_categorical(train_labels)
test_labels = utils.to_categorical(test_labels)

network = models.Sequential([
    layers.Dense(512, activation="relu", input_shape=(28 * 28,)),
    layers.Dense(10, activation="softmax"),
])
network.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
network.summary()

t0 = time.perf_counter()
network.fit(train_images, train_labels, epochs=args.epochs, batch_size=128, verbose=args.verbose)
seconds = time.perf_counter() - t0
test_loss, test_acc = network.evaluate(test_images, test_labels, batch_size=512)
print(f"trained {args.epochs} epochs in {seconds:.1f} s ({seconds / args.epochs:.2f} s/epoch)")
print(f"test loss {test_loss:.4f}")
print(f"test accuracy: {test_acc:.4f}")
