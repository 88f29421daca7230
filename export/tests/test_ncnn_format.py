"""ncnn .param / .bin parsing on small hand-made files (no download)."""
import struct

import numpy as np
import pytest
import torch

from prism_export import ncnn_convert as nc
from prism_export import sr_arch as A

PARAM = """7767517
6 7
Input            input.1   0 1 data
Split            split0    1 2 data a b
Convolution      Conv_0    1 1 a c 0=4 1=3 4=1 5=1 6=108
PReLU            PRelu_1   1 1 c d 0=4
Convolution      Conv_2    1 1 d e 0=12 1=3 4=1 5=0 6=432 9=2 -23310=1,2.000000e-01
BinaryOp         Add_3     2 1 e b output
"""


def make_bin(w0, b0, slopes, w2, fp16_first=True):
    out = b""
    if fp16_first:
        raw = w0.astype("<f2").tobytes()
        out += struct.pack("<I", nc.TAG_FP16) + raw + b"\0" * ((-len(raw)) % 4)
    else:
        out += struct.pack("<I", 0) + w0.astype("<f4").tobytes()
    out += b0.astype("<f4").tobytes() + slopes.astype("<f4").tobytes()
    out += struct.pack("<I", 0) + w2.astype("<f4").tobytes()
    return out


def test_parse_param_fields():
    layers, blobs = nc.parse_param(PARAM)
    assert blobs == 7 and [l.type for l in layers][:3] == ["Input", "Split", "Convolution"]
    conv = layers[4]
    assert conv.bottoms == ["d"] and conv.tops == ["e"]
    assert conv.params[0] == 12 and conv.params[6] == 432 and conv.params[10] == [0.2]
    assert nc.io_blob_names(PARAM) == ("data", "output")
    with pytest.raises(nc.NcnnFormatError):
        nc.parse_param(PARAM.replace("6 7", "7 7"))
    with pytest.raises(nc.NcnnFormatError):
        nc.parse_param("123\n0 0\n")


@pytest.mark.parametrize("fp16", [True, False])
def test_read_weights_tags_bias_prelu(fp16):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b0 = rng.standard_normal(4).astype(np.float32)
    slopes = rng.random(4).astype(np.float32)
    w2 = rng.standard_normal((12, 4, 3, 3)).astype(np.float32)
    w = nc.read_weights(PARAM, make_bin(w0, b0, slopes, w2, fp16))
    assert [c.weight_dtype for c in w.convs] == (["fp16", "fp32"] if fp16 else ["fp32", "fp32"])
    expect0 = w0.astype(np.float16).astype(np.float32) if fp16 else w0
    np.testing.assert_array_equal(w.convs[0].weight, expect0)
    np.testing.assert_array_equal(w.convs[0].bias, b0)
    np.testing.assert_array_equal(w.prelus[0][1], slopes)
    assert w.convs[1].bias is None and w.convs[1].activation == "leaky_relu(0.2)"
    np.testing.assert_array_equal(w.convs[1].weight, w2)
    assert w.order == [("conv", 0), ("prelu", 0), ("conv", 1)]


def test_read_weights_fails_loudly():
    rng = np.random.default_rng(1)
    args = [rng.standard_normal(s).astype(np.float32) for s in ((4, 3, 3, 3), (4,), (4,), (12, 4, 3, 3))]
    good = make_bin(*args)
    with pytest.raises(nc.NcnnFormatError, match="trailing"):
        nc.read_weights(PARAM, good + b"\0\0\0\0")
    with pytest.raises(nc.NcnnFormatError, match="end of .bin"):
        nc.read_weights(PARAM, good[:-8])
    with pytest.raises(nc.NcnnFormatError, match="tag"):
        nc.read_weights(PARAM, struct.pack("<I", 0x12345678) + good[4:])
    with pytest.raises(nc.NcnnFormatError, match="not supported"):
        nc.read_weights(PARAM.replace("BinaryOp ", "InnerProduct "), good)


def test_srvgg_mapping_rejects_wrong_model():
    rng = np.random.default_rng(2)
    args = [rng.standard_normal(s).astype(np.float32) for s in ((4, 3, 3, 3), (4,), (4,), (12, 4, 3, 3))]
    w = nc.read_weights(PARAM.replace(" 9=2 -23310=1,2.000000e-01", "").replace(" 5=0 6=432", " 5=1 6=432"),
                        make_bin(*args) + np.zeros(12, np.float32).tobytes())
    # a (3->4, PReLU, 4->12) body is SRVGG with num_feat=4, num_conv=0, upscale=2 -- but no PixelShuffle layer
    m = A.SRVGGNetCompact(3, 3, 4, 0, 2)
    with pytest.raises(nc.NcnnFormatError, match="PixelShuffle"):
        nc.srvgg_state_dict_from_ncnn(m, w)
    with pytest.raises(nc.NcnnFormatError):
        nc.srvgg_state_dict_from_ncnn(A.SRVGGNetCompact(3, 3, 8, 0, 2), w)
    with pytest.raises(nc.NcnnFormatError):
        nc.rrdbnet_state_dict_from_ncnn(A.RRDBNet(num_block=1), w)
