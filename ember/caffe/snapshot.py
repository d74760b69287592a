"""Weights and solver state in Caffe's binary files.

``.caffemodel``: a ``NetParameter`` whose layers carry their settings and their ``blobs``
(weights, biases, BatchNorm statistics) in Caffe's blob order. ``.solverstate``: a
``SolverState`` (iteration, the .caffemodel it goes with, the update history per blob, the
multistep position).
"""
import os
from typing import List, Optional

import numpy as np

from .blob import array_to_blob, blob_to_array
from .errors import CaffeError
from .message import Msg
from .wire import decode, encode


def _layer_proto(layer, phase: str) -> Msg:
    src = layer.lp
    lp = Msg("LayerParameter")
    for k, v in src._fields.items():
        if k != "blobs":
            lp._fields[k] = v
    lp.phase = phase
    blobs = layer.blobs()
    if blobs:
        lp.blobs = [array_to_blob(b.data) for b in blobs]
    return lp


def net_to_proto(net) -> Msg:
    return Msg("NetParameter", name=net.name or "",
               layer=[_layer_proto(layer, net.phase) for layer in net.layers])


def save_caffemodel(path, net) -> None:
    """Write ``net``'s weights as a Caffe ``.caffemodel`` (binary NetParameter)."""
    data = encode(net_to_proto(net))
    with open(path, "wb") as fh:
        fh.write(data)


def read_net_proto(path) -> Msg:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CaffeError(f"{path}: no such file (.caffemodel)")
    with open(path, "rb") as fh:
        return decode(fh.read(), "NetParameter", path)


def _fits(arr: np.ndarray, shape) -> bool:
    """Caffe's rule: same shape, or an old 4-D blob with the same values once padded to 4-D."""
    if tuple(arr.shape) == tuple(shape):
        return True
    if arr.ndim == 4 and len(shape) <= 4:
        padded = (1,) * (4 - len(shape)) + tuple(shape)
        return tuple(arr.shape) == padded
    return False


def load_caffemodel(path, net, strict: bool = False) -> List[str]:
    """Copy the blobs of a ``.caffemodel`` into ``net``'s layers of the same name (as Caffe's
    CopyTrainedLayersFrom: layers the file has and the net lacks are ignored). A blob of
    another shape is an error naming the layer. Returns the names of the layers copied;
    ``strict`` also requires every net layer with blobs to be in the file."""
    proto = read_net_proto(path)
    source = list(proto.layer) if len(proto.layer) else list(proto.layers)
    copied = []
    for sl in source:
        target = net.layer(sl.name)
        if target is None or not len(sl.blobs):
            continue
        mine = target.blobs()
        if len(sl.blobs) != len(mine):
            raise CaffeError(f"{path}: layer '{sl.name}' has {len(sl.blobs)} blobs in the file "
                             f"and {len(mine)} in the net")
        for j, (b, t) in enumerate(zip(sl.blobs, mine)):
            arr = blob_to_array(b)
            if not _fits(arr, t.shape):
                raise CaffeError(f"{path}: layer '{sl.name}' blob {j} has shape "
                                 f"{tuple(arr.shape)} in the file, {tuple(t.shape)} in the net")
            t.data[...] = arr.reshape(t.shape).astype(t.data.dtype)
        copied.append(sl.name)
    if strict:
        missing = [l.name for l in net.layers if l.blob_names and l.name not in copied]
        if missing:
            raise CaffeError(f"{path}: no weights for layers {', '.join(missing)}")
    return copied


def save_solverstate(path, it: int, learned_net: str, history, current_step: int) -> None:
    st = Msg("SolverState", iter=int(it), learned_net=learned_net,
             history=[array_to_blob(h) for h in history], current_step=int(current_step))
    with open(path, "wb") as fh:
        fh.write(encode(st))


def load_solverstate(path) -> Msg:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CaffeError(f"{path}: no such file (.solverstate to resume from)")
    with open(path, "rb") as fh:
        return decode(fh.read(), "SolverState", path)


def learned_net_path(state: Msg, state_path) -> Optional[str]:
    """The .caffemodel a solverstate names: as written (relative to the working directory, as
    Caffe), else the file of that name next to the solverstate."""
    name = state.learned_net
    if not name:
        return None
    if os.path.isfile(name):
        return name
    sibling = os.path.join(os.path.dirname(os.fspath(state_path)), os.path.basename(name))
    if os.path.isfile(sibling):
        return sibling
    raise CaffeError(f"{state_path}: its weights file {name} does not exist")
