"""Caffe's own files in ember: net and solver prototxt (protobuf text format), LMDB
databases of Datum records, .caffemodel weights and .solverstate snapshots.

    ember train examples/caffe/lenet_solver.prototxt       # as `caffe train --solver`
    net = ember.caffe.Net.from_prototxt("deploy.prototxt")
    ember.caffe.load_caffemodel("lenet_iter_500.caffemodel", net)

The optional ``lmdb`` package (``pip install 'ember[caffe]'``) reads and writes databases;
Pillow (``ember[images]``) decodes encoded (PNG/JPEG) records. Neither is imported until used.
"""
from .errors import CaffeError, PrototxtError
from .message import Msg, from_text, read_text
from .net import Net
from .snapshot import load_caffemodel, save_caffemodel
from .solver import Solver, read_solver
from .blob import read_binaryproto, write_binaryproto
from .convert import compute_image_mean, convert_mnist

__all__ = ["CaffeError", "PrototxtError", "Msg", "from_text", "read_text", "Net",
           "load_caffemodel", "save_caffemodel", "Solver", "read_solver",
           "read_binaryproto", "write_binaryproto", "convert_mnist", "compute_image_mean"]
