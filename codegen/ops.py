"""TFLite builtin ops -> the `tflite::MicroMutableOpResolver` method that registers each.

Only ops listed here can be put in a generated resolver; an op TFLM has no
kernel for is caught earlier by `tinyml inspect`.
"""

RESOLVER_METHODS = {
    "ABS": "AddAbs", "ADD": "AddAdd", "ARG_MAX": "AddArgMax", "ARG_MIN": "AddArgMin",
    "AVERAGE_POOL_2D": "AddAveragePool2D", "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd", "CAST": "AddCast",
    "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize", "DIV": "AddDiv", "ELU": "AddElu", "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims", "FILL": "AddFill", "FLOOR": "AddFloor",
    "FULLY_CONNECTED": "AddFullyConnected", "GATHER": "AddGather", "HARD_SWISH": "AddHardSwish",
    "L2_NORMALIZATION": "AddL2Normalization", "LEAKY_RELU": "AddLeakyRelu", "LOG": "AddLog",
    "LOG_SOFTMAX": "AddLogSoftmax", "LOGISTIC": "AddLogistic", "MAX_POOL_2D": "AddMaxPool2D",
    "MAXIMUM": "AddMaximum", "MEAN": "AddMean", "MINIMUM": "AddMinimum", "MUL": "AddMul",
    "PACK": "AddPack", "PAD": "AddPad", "PADV2": "AddPadV2", "PRELU": "AddPrelu",
    "QUANTIZE": "AddQuantize", "REDUCE_MAX": "AddReduceMax", "RELU": "AddRelu", "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape", "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor", "RSQRT": "AddRsqrt", "SHAPE": "AddShape",
    "SLICE": "AddSlice", "SOFTMAX": "AddSoftmax", "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd",
    "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV", "SQRT": "AddSqrt",
    "SQUARED_DIFFERENCE": "AddSquaredDifference", "SQUEEZE": "AddSqueeze",
    "STRIDED_SLICE": "AddStridedSlice", "SUB": "AddSub", "SUM": "AddSum", "SVDF": "AddSvdf",
    "TANH": "AddTanh", "TRANSPOSE": "AddTranspose", "TRANSPOSE_CONV": "AddTransposeConv",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM", "UNPACK": "AddUnpack",
    "ZEROS_LIKE": "AddZerosLike",
}
