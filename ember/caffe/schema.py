"""The part of Caffe's ``caffe.proto`` (BVLC, proto2) that ember reads and writes: message
names, field names, field numbers, types and defaults, from the published schema.

One table serves the text format (field names, enum names, defaults, "unknown field" errors
listing the supported ones) and the binary wire format (field numbers and wire types).
Fields ember accepts but does not act on (``engine``, ``prefetch``...) are listed too: they
change nothing in a CPU run, so a Caffe file that sets them still loads.
"""
from typing import Dict, NamedTuple, Optional


class Field(NamedTuple):
    name: str
    number: int
    kind: str   # int32 int64 uint32 uint64 bool float double string bytes enum message
    repeated: bool = False
    default: object = None
    type: Optional[str] = None  # message or enum name
    packed: bool = False


def _msg(*fields):
    return {f.name: f for f in fields}


def F(name, number, kind, default=None, type=None):
    return Field(name, number, kind, False, default, type)


def R(name, number, kind, type=None, packed=False):
    return Field(name, number, kind, True, None, type, packed)


def M(name, number, type):
    return Field(name, number, "message", False, None, type)


def RM(name, number, type):
    return Field(name, number, "message", True, None, type)


def E(name, number, type, default):
    return Field(name, number, "enum", False, default, type)


ENUMS: Dict[str, Dict[str, int]] = {
    "Phase": {"TRAIN": 0, "TEST": 1},
    "VarianceNorm": {"FAN_IN": 0, "FAN_OUT": 1, "AVERAGE": 2},
    "DimCheckMode": {"STRICT": 0, "PERMISSIVE": 1},
    "NormalizationMode": {"FULL": 0, "VALID": 1, "BATCH_SIZE": 2, "NONE": 3},
    "Engine": {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2},
    "DB": {"LEVELDB": 0, "LMDB": 1},
    "EltwiseOp": {"PROD": 0, "SUM": 1, "MAX": 2},
    "NormRegion": {"ACROSS_CHANNELS": 0, "WITHIN_CHANNEL": 1},
    "PoolMethod": {"MAX": 0, "AVE": 1, "STOCHASTIC": 2},
    "RoundMode": {"CEIL": 0, "FLOOR": 1},
    "SnapshotFormat": {"HDF5": 0, "BINARYPROTO": 1},
    "SolverMode": {"CPU": 0, "GPU": 1},
    "SolverType": {"SGD": 0, "NESTEROV": 1, "ADAGRAD": 2, "RMSPROP": 3, "ADADELTA": 4,
                   "ADAM": 5},
    # V1LayerParameter.LayerType, only to name the layers of old (V1) .caffemodel files
    "V1LayerType": {"NONE": 0, "ABSVAL": 35, "ACCURACY": 1, "ARGMAX": 30, "BNLL": 2,
                    "CONCAT": 3, "CONTRASTIVE_LOSS": 37, "CONVOLUTION": 4, "DATA": 5,
                    "DECONVOLUTION": 39, "DROPOUT": 6, "DUMMY_DATA": 32, "EUCLIDEAN_LOSS": 7,
                    "ELTWISE": 25, "EXP": 38, "FLATTEN": 8, "HDF5_DATA": 9, "HDF5_OUTPUT": 10,
                    "HINGE_LOSS": 28, "IM2COL": 11, "IMAGE_DATA": 12, "INFOGAIN_LOSS": 13,
                    "INNER_PRODUCT": 14, "LRN": 15, "MEMORY_DATA": 29,
                    "MULTINOMIAL_LOGISTIC_LOSS": 16, "MVN": 34, "POOLING": 17, "POWER": 26,
                    "RELU": 18, "SIGMOID": 19, "SIGMOID_CROSS_ENTROPY_LOSS": 27, "SILENCE": 36,
                    "SOFTMAX": 20, "SOFTMAX_LOSS": 21, "SPLIT": 22, "SLICE": 33, "TANH": 23,
                    "WINDOW_DATA": 24, "THRESHOLD": 31},
}

def _engine(number):
    return E("engine", number, "Engine", "DEFAULT")


MESSAGES: Dict[str, Dict[str, Field]] = {
    "BlobShape": _msg(R("dim", 1, "int64", packed=True)),
    "BlobProto": _msg(
        M("shape", 7, "BlobShape"),
        R("data", 5, "float", packed=True), R("diff", 6, "float", packed=True),
        R("double_data", 8, "double", packed=True), R("double_diff", 9, "double", packed=True),
        F("num", 1, "int32", 0), F("channels", 2, "int32", 0), F("height", 3, "int32", 0),
        F("width", 4, "int32", 0)),
    "BlobProtoVector": _msg(RM("blobs", 1, "BlobProto")),
    "Datum": _msg(
        F("channels", 1, "int32", 0), F("height", 2, "int32", 0), F("width", 3, "int32", 0),
        F("data", 4, "bytes", b""), F("label", 5, "int32", 0), R("float_data", 6, "float"),
        F("encoded", 7, "bool", False)),
    "FillerParameter": _msg(
        F("type", 1, "string", "constant"), F("value", 2, "float", 0.0),
        F("min", 3, "float", 0.0), F("max", 4, "float", 1.0), F("mean", 5, "float", 0.0),
        F("std", 6, "float", 1.0), F("sparse", 7, "int32", -1),
        E("variance_norm", 8, "VarianceNorm", "FAN_IN")),
    "NetParameter": _msg(
        F("name", 1, "string", ""), R("input", 3, "string"), RM("input_shape", 8, "BlobShape"),
        R("input_dim", 4, "int32"), F("force_backward", 5, "bool", False),
        M("state", 6, "NetState"), F("debug_info", 7, "bool", False),
        RM("layer", 100, "LayerParameter"), RM("layers", 2, "V1LayerParameter")),
    "SolverParameter": _msg(
        F("net", 24, "string", ""), M("net_param", 25, "NetParameter"),
        F("train_net", 1, "string", ""), R("test_net", 2, "string"),
        M("train_net_param", 21, "NetParameter"), RM("test_net_param", 22, "NetParameter"),
        M("train_state", 26, "NetState"), RM("test_state", 27, "NetState"),
        R("test_iter", 3, "int32"), F("test_interval", 4, "int32", 0),
        F("test_compute_loss", 19, "bool", False), F("test_initialization", 32, "bool", True),
        F("base_lr", 5, "float", None), F("display", 6, "int32", 0),
        F("average_loss", 33, "int32", 1), F("max_iter", 7, "int32", None),
        F("iter_size", 36, "int32", 1), F("lr_policy", 8, "string", ""),
        F("gamma", 9, "float", 0.0), F("power", 10, "float", 0.0),
        F("momentum", 11, "float", 0.0), F("weight_decay", 12, "float", 0.0),
        F("regularization_type", 29, "string", "L2"), F("stepsize", 13, "int32", 0),
        R("stepvalue", 34, "int32"), F("clip_gradients", 35, "float", -1.0),
        F("snapshot", 14, "int32", 0), F("snapshot_prefix", 15, "string", ""),
        F("snapshot_diff", 16, "bool", False),
        E("snapshot_format", 37, "SnapshotFormat", "BINARYPROTO"),
        E("solver_mode", 17, "SolverMode", "GPU"), F("device_id", 18, "int32", 0),
        F("random_seed", 20, "int64", -1), F("type", 40, "string", "SGD"),
        F("delta", 31, "float", 1e-8), F("momentum2", 39, "float", 0.999),
        F("rms_decay", 38, "float", 0.99), F("debug_info", 23, "bool", False),
        F("snapshot_after_train", 28, "bool", True),
        E("solver_type", 30, "SolverType", "SGD"),
        F("layer_wise_reduce", 41, "bool", True), R("weights", 42, "string")),
    "SolverState": _msg(
        F("iter", 1, "int32", 0), F("learned_net", 2, "string", ""),
        RM("history", 3, "BlobProto"), F("current_step", 4, "int32", 0)),
    "NetState": _msg(E("phase", 1, "Phase", "TEST"), F("level", 2, "int32", 0),
                     R("stage", 3, "string")),
    "NetStateRule": _msg(E("phase", 1, "Phase", None), F("min_level", 2, "int32", None),
                         F("max_level", 3, "int32", None), R("stage", 4, "string"),
                         R("not_stage", 5, "string")),
    "ParamSpec": _msg(F("name", 1, "string", ""), E("share_mode", 2, "DimCheckMode", "STRICT"),
                      F("lr_mult", 3, "float", 1.0), F("decay_mult", 4, "float", 1.0)),
    "LayerParameter": _msg(
        F("name", 1, "string", ""), F("type", 2, "string", ""), R("bottom", 3, "string"),
        R("top", 4, "string"), E("phase", 10, "Phase", None), R("loss_weight", 5, "float"),
        RM("param", 6, "ParamSpec"), RM("blobs", 7, "BlobProto"),
        R("propagate_down", 11, "bool"), RM("include", 8, "NetStateRule"),
        RM("exclude", 9, "NetStateRule"),
        M("transform_param", 100, "TransformationParameter"),
        M("loss_param", 101, "LossParameter"), M("accuracy_param", 102, "AccuracyParameter"),
        M("batch_norm_param", 139, "BatchNormParameter"),
        M("concat_param", 104, "ConcatParameter"),
        M("convolution_param", 106, "ConvolutionParameter"),
        M("data_param", 107, "DataParameter"), M("dropout_param", 108, "DropoutParameter"),
        M("eltwise_param", 110, "EltwiseParameter"), M("flatten_param", 135, "FlattenParameter"),
        M("inner_product_param", 117, "InnerProductParameter"),
        M("input_param", 143, "InputParameter"), M("lrn_param", 118, "LRNParameter"),
        M("pooling_param", 121, "PoolingParameter"), M("relu_param", 123, "ReLUParameter"),
        M("scale_param", 142, "ScaleParameter"), M("sigmoid_param", 124, "SigmoidParameter"),
        M("softmax_param", 125, "SoftmaxParameter"), M("tanh_param", 127, "TanHParameter")),
    "TransformationParameter": _msg(
        F("scale", 1, "float", 1.0), F("mirror", 2, "bool", False),
        F("crop_size", 3, "uint32", 0), F("mean_file", 4, "string", ""),
        R("mean_value", 5, "float"), F("force_color", 6, "bool", False),
        F("force_gray", 7, "bool", False)),
    "LossParameter": _msg(F("ignore_label", 1, "int32", None),
                          E("normalization", 3, "NormalizationMode", "VALID"),
                          F("normalize", 2, "bool", None)),
    "AccuracyParameter": _msg(F("top_k", 1, "uint32", 1), F("axis", 2, "int32", 1),
                              F("ignore_label", 3, "int32", None)),
    "BatchNormParameter": _msg(F("use_global_stats", 1, "bool", None),
                               F("moving_average_fraction", 2, "float", 0.999),
                               F("eps", 3, "float", 1e-5)),
    "ConcatParameter": _msg(F("axis", 2, "int32", 1), F("concat_dim", 1, "uint32", None)),
    "ConvolutionParameter": _msg(
        F("num_output", 1, "uint32", None), F("bias_term", 2, "bool", True),
        R("pad", 3, "uint32"), R("kernel_size", 4, "uint32"), R("stride", 6, "uint32"),
        R("dilation", 18, "uint32"), F("pad_h", 9, "uint32", None),
        F("pad_w", 10, "uint32", None), F("kernel_h", 11, "uint32", None),
        F("kernel_w", 12, "uint32", None), F("stride_h", 13, "uint32", None),
        F("stride_w", 14, "uint32", None), F("group", 5, "uint32", 1),
        M("weight_filler", 7, "FillerParameter"), M("bias_filler", 8, "FillerParameter"),
        _engine(15), F("axis", 16, "int32", 1), F("force_nd_im2col", 17, "bool", False)),
    "DataParameter": _msg(
        F("source", 1, "string", ""), F("batch_size", 4, "uint32", None),
        F("rand_skip", 7, "uint32", 0), E("backend", 8, "DB", "LEVELDB"),
        F("scale", 2, "float", None), F("mean_file", 3, "string", None),
        F("crop_size", 5, "uint32", None), F("mirror", 6, "bool", None),
        F("force_encoded_color", 9, "bool", False), F("prefetch", 10, "uint32", 4)),
    "DropoutParameter": _msg(F("dropout_ratio", 1, "float", 0.5)),
    "EltwiseParameter": _msg(E("operation", 1, "EltwiseOp", "SUM"), R("coeff", 2, "float"),
                             F("stable_prod_grad", 3, "bool", True)),
    "FlattenParameter": _msg(F("axis", 1, "int32", 1), F("end_axis", 2, "int32", -1)),
    "InnerProductParameter": _msg(
        F("num_output", 1, "uint32", None), F("bias_term", 2, "bool", True),
        M("weight_filler", 3, "FillerParameter"), M("bias_filler", 4, "FillerParameter"),
        F("axis", 5, "int32", 1), F("transpose", 6, "bool", False)),
    "InputParameter": _msg(RM("shape", 1, "BlobShape")),
    "LRNParameter": _msg(F("local_size", 1, "uint32", 5), F("alpha", 2, "float", 1.0),
                         F("beta", 3, "float", 0.75),
                         E("norm_region", 4, "NormRegion", "ACROSS_CHANNELS"),
                         F("k", 5, "float", 1.0), _engine(6)),
    "PoolingParameter": _msg(
        E("pool", 1, "PoolMethod", "MAX"), F("pad", 4, "uint32", 0),
        F("pad_h", 9, "uint32", None), F("pad_w", 10, "uint32", None),
        F("kernel_size", 2, "uint32", None), F("kernel_h", 5, "uint32", None),
        F("kernel_w", 6, "uint32", None), F("stride", 3, "uint32", 1),
        F("stride_h", 7, "uint32", None), F("stride_w", 8, "uint32", None), _engine(11),
        F("global_pooling", 12, "bool", False), E("round_mode", 13, "RoundMode", "CEIL")),
    "ReLUParameter": _msg(F("negative_slope", 1, "float", 0.0), _engine(2)),
    "ScaleParameter": _msg(F("axis", 1, "int32", 1), F("num_axes", 2, "int32", 1),
                           M("filler", 3, "FillerParameter"), F("bias_term", 4, "bool", False),
                           M("bias_filler", 5, "FillerParameter")),
    "SigmoidParameter": _msg(_engine(1)),
    "SoftmaxParameter": _msg(_engine(1), F("axis", 2, "int32", 1)),
    "TanHParameter": _msg(_engine(1)),
    # read-only: the layers of old (V1) .caffemodel files, for their names and blobs
    "V1LayerParameter": _msg(R("bottom", 2, "string"), R("top", 3, "string"),
                             F("name", 4, "string", ""), E("type", 5, "V1LayerType", "NONE"),
                             RM("blobs", 6, "BlobProto")),
}

# field number -> Field, per message, for the binary decoder
BY_NUMBER = {m: {f.number: f for f in fields.values()} for m, fields in MESSAGES.items()}
