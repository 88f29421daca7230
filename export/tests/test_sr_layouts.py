"""RRDBNet key layouts / wrappers and SRVGGNetCompact loading."""
from collections import OrderedDict

import pytest
import torch

from prism_export.weights import WeightsMismatch

from prism_export import sr_arch as A


def small_rrdb(scale=4, seed=0):
    return A.seeded_init_(A.RRDBNet(scale=scale, num_feat=16, num_block=3, num_grow_ch=8), seed, 0.5)


@pytest.mark.parametrize("scale", [4, 2, 1])
def test_rrdb_layouts_load_into_same_module_with_identical_outputs(scale):
    ref = small_rrdb(scale)
    sd = ref.state_dict()
    x = torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        want = ref(x)
    assert want.shape == (1, 3, 16 * scale, 20 * scale)
    layouts = ["real-esrgan", "esrgan-2019"] + (["esrgan-original"] if scale == 4 else [])
    for layout in layouts:
        renamed = A.to_layout(sd, layout)
        assert A.detect_rrdb_layout(renamed) == layout
        if layout != "real-esrgan":
            assert set(renamed) != set(sd)  # keys really were renamed
        for wrapped in (renamed, {"params_ema": renamed}, {"params": renamed},
                        OrderedDict(("module." + k, v) for k, v in renamed.items())):
            model, detected = A.rrdbnet_from_state_dict(wrapped)
            assert detected == layout
            assert isinstance(model, A.RRDBNet) and model.scale == scale
            with torch.no_grad():
                got = model(x)
            assert torch.equal(got, want), layout


def test_original_layout_key_names_match_esrgan():
    sd = A.to_layout(small_rrdb().state_dict(), "esrgan-original")
    for k in ("model.0.weight", "model.1.sub.0.RDB1.conv1.0.weight", "model.1.sub.2.RDB3.conv5.0.bias",
              "model.1.sub.3.weight", "model.3.weight", "model.6.weight", "model.8.weight", "model.10.bias"):
        assert k in sd, k
    sd19 = A.to_layout(small_rrdb().state_dict(), "esrgan-2019")
    for k in ("conv_first.weight", "RRDB_trunk.0.RDB1.conv1.weight", "trunk_conv.weight", "upconv1.weight",
              "upconv2.weight", "HRconv.weight", "conv_last.weight"):
        assert k in sd19, k


def test_rrdb_hyperparameters_inferred_and_bad_dicts_rejected():
    sd = small_rrdb(2).state_dict()
    model, _ = A.rrdbnet_from_state_dict(sd)
    assert (model.scale, len(model.body), model.pad_multiple) == (2, 3, 2)
    with pytest.raises(ValueError):
        A.rrdbnet_from_state_dict(sd, scale=4)
    bad = dict(sd)
    bad.pop("conv_hr.weight")
    with pytest.raises(WeightsMismatch, match="missing keys: conv_hr.weight"):
        A.rrdbnet_from_state_dict(bad)
    with pytest.raises(ValueError):
        A.rrdbnet_from_state_dict({"foo.weight": torch.zeros(1)})


def test_srvgg_structure_and_loading():
    m = A.seeded_init_(A.SRVGGNetCompact(3, 3, 16, 4, 3), 3)
    assert len(m.body) == 2 + 2 * 4 + 1
    x = torch.rand(2, 3, 10, 12)
    with torch.no_grad():
        y = m(x)
        body_only = torch.nn.functional.pixel_shuffle(m.body(x), 3)
    assert y.shape == (2, 3, 30, 36)
    # residual is the nearest-upsampled input
    assert torch.allclose(y - body_only, x.repeat_interleave(3, 2).repeat_interleave(3, 3), atol=1e-6)
    m2 = A.srvgg_from_state_dict({"params": m.state_dict()})
    with torch.no_grad():
        assert torch.equal(m2(x), y)
    m3 = A.SRVGGNetCompact(3, 3, 16, 4, 4, out_resize=0.75)
    assert m3.scale == 3 and m3(torch.rand(1, 3, 8, 8)).shape == (1, 3, 24, 24)


def test_denoise_strength_blend():
    a = A.seeded_init_(A.SRVGGNetCompact(3, 3, 8, 2, 4), 1).state_dict()
    b = A.seeded_init_(A.SRVGGNetCompact(3, 3, 8, 2, 4), 2).state_dict()
    for s in (0.0, 0.3, 1.0):
        blended = A.blend_state_dicts(a, b, s)
        for k in a:
            assert torch.allclose(blended[k], s * a[k] + (1 - s) * b[k])
    assert torch.equal(A.blend_state_dicts(a, b, 1.0)["body.0.weight"], a["body.0.weight"])
