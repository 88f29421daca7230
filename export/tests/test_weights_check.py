"""A weight file that does not fit the architecture fails with every missing, unexpected and
misshapen key listed, on every --weights path (SR, RIFE, style, VGG)."""
import pytest
import torch

from prism_export import exporter, registry, rife_v46, style
from prism_export import sr_arch as A
from prism_export.weights import WeightsMismatch, check_state_dict


def test_check_state_dict_lists_all_differences():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 2, 1))
    sd = dict(model.state_dict())
    del sd["1.bias"]
    sd["0.weight"] = torch.zeros(4, 3, 5, 5)
    sd["2.weight"] = torch.zeros(1)
    with pytest.raises(WeightsMismatch) as err:
        check_state_dict(model, sd, "tiny")
    e = err.value
    assert e.missing == ["1.bias"] and e.unexpected == ["2.weight"]
    assert e.misshapen == [("0.weight", (4, 3, 5, 5), (4, 3, 3, 3))]
    msg = str(e)
    assert msg.startswith("tiny: weights do not fit the architecture (1 missing, 1 unexpected, 1 misshapen)")
    assert "missing keys: 1.bias" in msg and "unexpected keys: 2.weight" in msg
    assert "misshapen 0.weight: got [4, 3, 5, 5] vs expected [4, 3, 3, 3]" in msg
    check_state_dict(model, dict(model.state_dict()))  # a fitting dict passes
    check_state_dict(model, {**model.state_dict(), "head.w": torch.zeros(1)},
                     ignore_unexpected=lambda k: k.startswith("head."))


def _spec(model_id):
    return registry.get_specs([model_id])[0]


def test_sr_weights_file_that_does_not_fit(tmp_path):
    # RRDBNet (ESRGAN 2019 layout): one conv of block 1 has the wrong shape, a stray key
    ref = A.seeded_init_(A.RRDBNet(scale=4, num_feat=8, num_block=2, num_grow_ch=4), 3)
    sd = A.to_layout(ref.state_dict(), "esrgan-2019")
    sd["RRDB_trunk.1.RDB2.conv3.weight"] = torch.zeros(4, 8, 3, 3)
    sd["RRDB_trunk.1.RDB2.conv9.weight"] = torch.zeros(1)
    pth = tmp_path / "bad_rrdb.pth"
    torch.save(sd, pth)
    with pytest.raises(WeightsMismatch) as err:
        exporter.build_model(_spec("esrgan-x4"), str(pth))
    assert str(err.value).startswith("RRDBNet (esrgan-2019 layout): ")
    assert "misshapen body.1.rdb2.conv3.weight: got [4, 8, 3, 3] vs expected [4, 16, 3, 3]" in str(err.value)
    # SRVGGNetCompact: a PReLU missing and an unknown key
    sd = A.seeded_init_(A.SRVGGNetCompact(3, 3, 8, 2, 4), 1).state_dict()
    del sd["body.3.weight"]
    sd["tail.weight"] = torch.zeros(3)
    pth = tmp_path / "bad_srvgg.pth"
    torch.save({"params": sd}, pth)
    with pytest.raises(WeightsMismatch) as err:
        exporter.build_model(_spec("realesr-animevideov3-x4"), str(pth))
    assert err.value.missing == ["body.3.weight"] and err.value.unexpected == ["tail.weight"]


def test_rife_weights_file_that_does_not_fit(tmp_path):
    sd = {"module." + k: v for k, v in rife_v46.IFNetV46().state_dict().items()}
    sd["module.block0.conv0.0.0.weight"] = torch.zeros(96, 8, 3, 3)  # in_planes 8 instead of 7
    del sd["module.block3.lastconv.0.bias"]
    sd["module.block_tea.conv0.0.0.weight"] = torch.zeros(1)  # teacher: dropped, not an error
    sd["module.extra.weight"] = torch.zeros(1)
    pth = tmp_path / "bad_rife.pkl"
    torch.save(sd, pth)
    with pytest.raises(WeightsMismatch) as err:
        exporter.build_model(_spec("rife-v4.6"), str(pth))
    e = err.value
    assert e.missing == ["block3.lastconv.0.bias"] and e.unexpected == ["extra.weight"]
    assert e.misshapen == [("block0.conv0.0.0.weight", (96, 8, 3, 3), (96, 7, 3, 3))]
    assert str(e).startswith("IFNetV46: ")


def test_style_and_vgg_weights_files_that_do_not_fit(tmp_path):
    sd = style.TransformerNet().state_dict()
    sd["in1.running_mean"] = torch.zeros(32)  # old checkpoints: dropped, not an error
    sd["conv1.conv2d.weight"] = torch.zeros(32, 3, 3, 3)
    del sd["res5.in2.bias"]
    pth = tmp_path / "bad_style.pth"
    torch.save(sd, pth)
    with pytest.raises(WeightsMismatch) as err:
        exporter.build_model(_spec("style-candy"), str(pth))
    assert err.value.missing == ["res5.in2.bias"] and err.value.unexpected == []
    assert err.value.misshapen == [("conv1.conv2d.weight", (32, 3, 3, 3), (32, 3, 9, 9))]

    feats = style.VGG19Features()
    sd = {k: v for k, v in feats.state_dict().items() if k not in ("mean", "std")}
    sd["classifier.0.weight"] = torch.zeros(2, 2)  # torchvision's head: ignored
    sd["features.34.weight"] = torch.zeros(2)      # beyond relu5_1: ignored
    del sd["features.28.bias"]
    sd["features.3.weight"] = torch.zeros(1)       # index 3 is a ReLU: unexpected
    pth = tmp_path / "bad_vgg.pth"
    torch.save(sd, pth)
    with pytest.raises(WeightsMismatch) as err:
        exporter.build_model(_spec("vgg19-features"), str(pth))
    assert err.value.missing == ["features.28.bias"] and err.value.unexpected == ["features.3.weight"]
