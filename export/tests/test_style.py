"""Style: TransformerNet key layout + old checkpoints, VGG19 features, and the
hand-written VGG19 vector-Jacobian product against torch.autograd and ONNX."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from prism_export import style  # noqa: E402

torch.set_num_threads(2)


def _onnx_run(model, inputs, in_names, out_names, axes, path, feeds):
    torch.onnx.export(model, inputs, str(path), input_names=in_names, output_names=out_names,
                      dynamic_axes=axes, opset_version=17, dynamo=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return onnx.load(str(path)), [sess.run(None, {n: x.numpy() for n, x in zip(in_names, f)}) for f in feeds]


# ---------------------------------------------------------------- TransformerNet

EXAMPLES_KEYS = [  # a few keys of pytorch/examples fast_neural_style saved_models/*.pth
    "conv1.conv2d.weight", "in1.weight", "in1.bias", "conv3.conv2d.bias",
    "res1.conv1.conv2d.weight", "res5.in2.bias", "deconv1.conv2d.weight", "in5.weight",
    "deconv3.conv2d.weight", "deconv3.conv2d.bias",
]


def test_transformernet_layout():
    m = style.TransformerNet()
    sd = m.state_dict()
    for k in EXAMPLES_KEYS:
        assert k in sd, k
    assert sd["conv1.conv2d.weight"].shape == (32, 3, 9, 9)
    assert sd["deconv3.conv2d.weight"].shape == (3, 32, 9, 9)
    assert sum(p.numel() for p in m.parameters()) == 1_679_235
    assert not any("running" in k for k in sd)


def test_transformernet_loads_old_checkpoint(tmp_path):
    """Old (torch < 0.4) .pth files carry InstanceNorm running stats: dropped."""
    src, _ = style.build_transformer("style-candy")
    sd = dict(src.state_dict())
    for i in range(1, 6):
        sd[f"in{i}.running_mean"] = torch.zeros(sd[f"in{i}.weight"].shape)
        sd[f"in{i}.running_var"] = torch.ones(sd[f"in{i}.weight"].shape)
    for r in range(1, 6):
        for j in (1, 2):
            sd[f"res{r}.in{j}.running_mean"] = torch.zeros(128)
            sd[f"res{r}.in{j}.running_var"] = torch.ones(128)
    path = tmp_path / "candy_old.pth"
    torch.save(sd, path)
    with pytest.raises(RuntimeError):
        style.TransformerNet().load_state_dict(sd, strict=True)
    m, info = style.build_transformer("style-candy", str(path))
    assert info["kind"] == "real" and info["source"].startswith("file:candy_old.pth sha256=")
    x = style.example_image(64, 96, 255.0)
    with torch.no_grad():
        assert torch.equal(m(x), src(x))


def test_transformernet_seeds_and_range():
    x = style.example_image(64, 96, 255.0)
    outs = {}
    for sid in style.STYLE_SEEDS:
        m, info = style.build_transformer(sid)
        assert info["kind"] == "seeded-random"
        with torch.no_grad():
            outs[sid] = m(x)
        assert outs[sid].shape == x.shape
        assert 0.0 <= float(outs[sid].min()) and float(outs[sid].max()) <= 255.0
        assert float(outs[sid].std()) > 1.0  # not a constant image
    ids = list(outs)
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            assert not torch.allclose(outs[ids[a]], outs[ids[b]])


def test_transformernet_onnx_parity(tmp_path):
    m, _ = style.build_transformer("style-mosaic")
    feeds = [(style.example_image(64, 96, 255.0),), (style.example_image(100, 72, 255.0),)]
    g, outs = _onnx_run(m, feeds[0], ["input"], ["output"],
                        {"input": {0: "N", 2: "H", 3: "W"}, "output": {0: "N", 2: "H", 3: "W"}},
                        tmp_path / "tn.onnx", feeds)
    assert "InstanceNormalization" in {n.op_type for n in g.graph.node}
    for f, (o,) in zip(feeds, outs):
        with torch.no_grad():
            r = m(*f).numpy()
        assert o.shape == r.shape
        assert np.abs(o - r).max() <= 2e-3  # on a 0..255 scale


# ---------------------------------------------------------------- VGG19


def test_vgg19_layout_and_torchvision_keys(tmp_path):
    m = style.VGG19Features("max")
    keys = [k for k in m.state_dict() if k.startswith("features.")]
    assert keys[0] == "features.0.weight" and keys[-1] == "features.28.bias"
    assert len(keys) == 26  # 13 convs up to relu5_1
    # a torchvision-style full vgg19 state dict (features.0..34 + classifier) loads
    src, _ = style.build_vgg19("max")
    full = {k: v.clone() for k, v in src.state_dict().items() if k.startswith("features.")}
    full["features.30.weight"] = torch.zeros(512, 512, 3, 3)
    full["features.34.bias"] = torch.zeros(512)
    full["classifier.0.weight"] = torch.zeros(4096, 25088)
    path = tmp_path / "vgg19-fake.pth"
    torch.save(full, path)
    m2, info = style.build_vgg19("avg", str(path))
    assert info["kind"] == "real" and info["prism.normalize"] == style.NORMALIZE["imagenet"]
    assert torch.equal(m2.features[28].weight, src.features[28].weight)
    # torchvision weights use ImageNet mean/std: relu1_1 == relu(conv0((x - mean) / std))
    x = style.example_image(32, 48)
    ref = torch.relu(m2.features[0]((x - torch.tensor(style.IMAGENET_MEAN).view(1, 3, 1, 1))
                                    / torch.tensor(style.IMAGENET_STD).view(1, 3, 1, 1)))
    with torch.no_grad():
        assert torch.allclose(m2(x)[0], ref, atol=1e-4)


def test_vgg19_caffe_weights_from_h5():
    """The default weights are the Keras .h5 of the Caffe VGG19, read independently here."""
    h5py = pytest.importorskip("h5py")
    m, info = style.build_vgg19("max")
    assert info["kind"] == "real" and style.CAFFE_H5_SHA256 in info["source"]
    assert info["prism.normalize"] == style.NORMALIZE["caffe"]
    with h5py.File(style.caffe_vgg19_h5(), "r") as f:
        for i, name in ((0, "block1_conv1"), (21, "block4_conv2"), (28, "block5_conv1")):
            w = f[f"{name}/{name}_W_1:0"][()]  # [kh, kw, in, out]
            conv = m.features[i]
            assert tuple(w.shape) == (3, 3, conv.in_channels, conv.out_channels)
            assert float(conv.weight[5, 1, 0, 2]) == float(w[0, 2, 1, 5])  # OIHW[o,i,y,x] = HWIO[y,x,i,o]
            assert np.array_equal(conv.bias.detach().numpy(), f[f"{name}/{name}_b_1:0"][()])


def test_vgg19_features_shapes_and_caffe_input():
    m, _ = style.build_vgg19("max")
    x = style.example_image(64, 96)
    with torch.no_grad():
        outs = m(x)
    assert [tuple(o.shape[1:]) for o in outs] == [
        (64, 64, 96), (128, 32, 48), (256, 16, 24), (512, 8, 12), (512, 4, 6), (512, 8, 12)]
    # the Caffe convention is inside the graph: relu1_1 == relu(conv0(BGR * 255 - means))
    bgr = x[:, [2, 1, 0]] * 255.0 - torch.tensor(style.CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    with torch.no_grad():
        ref = torch.relu(m.features[0](bgr))
    assert torch.allclose(outs[0], ref, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_vgg19_vjp_equals_autograd(pool):
    vjp, _ = style.build_vgg19_vjp(pool)
    img = style.example_image(32, 48)
    grads = style.vgg_grad_inputs(32, 48)
    with torch.no_grad():
        mine = vjp(img, *grads)
    ref = style.autograd_vjp(vjp.net, img, grads)
    rel = float((mine - ref).abs().max() / ref.abs().max())
    print(f"vjp[{pool}] max rel err vs autograd: {rel:.2e}")
    assert rel <= 1e-4
    # a flat image (ties in every max-pool window) as well
    flat = torch.zeros(1, 3, 32, 48)
    flat[..., 4:20, 8:40] = 0.8
    with torch.no_grad():
        mine = vjp(flat, *grads)
    ref = style.autograd_vjp(vjp.net, flat, grads)
    assert float((mine - ref).abs().max() / ref.abs().max()) <= 1e-4


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_vgg19_vjp_onnx(pool, tmp_path):
    vjp, _ = style.build_vgg19_vjp(pool)
    names = ["image"] + style.VGG_GRAD_INPUTS
    axes = {"image": {0: "N", 2: "H", 3: "W"}, "grad": {0: "N", 2: "H", 3: "W"}}
    for n in style.VGG19_OUTPUTS:
        axes["g_" + n] = {0: "N", 2: f"H_{n}", 3: f"W_{n}"}
    feeds = [(style.example_image(32, 48),) + style.vgg_grad_inputs(32, 48),
             (style.example_image(48, 48),) + style.vgg_grad_inputs(48, 48, seed=1)]
    g, outs = _onnx_run(vjp, feeds[0], names, ["grad"], axes, tmp_path / "vjp.onnx", feeds)
    # standard ONNX only (no com.microsoft / training ops)
    assert all(n.domain in ("", "ai.onnx") for n in g.graph.node)
    assert "ConvTranspose" in {n.op_type for n in g.graph.node}
    for f, (o,) in zip(feeds, outs):
        ref = style.autograd_vjp(vjp.net, f[0], f[1:]).numpy()
        assert o.shape == ref.shape
        rel = np.abs(o - ref).max() / np.abs(ref).max()
        assert rel <= 1e-5, rel


def test_vgg19_features_onnx(tmp_path):
    m, _ = style.build_vgg19("max")
    axes = {"image": {0: "N", 2: "H", 3: "W"}}
    for n in style.VGG19_OUTPUTS:
        axes[n] = {0: "N", 2: f"H_{n}", 3: f"W_{n}"}
    feeds = [(style.example_image(64, 96),), (style.example_image(32, 48),)]
    _, outs = _onnx_run(m, feeds[0], ["image"], style.VGG19_OUTPUTS, axes, tmp_path / "f.onnx", feeds)
    for f, o in zip(feeds, outs):
        with torch.no_grad():
            r = m(*f)
        for a, b in zip(o, r):  # Caffe scale: features up to ~2e4
            assert np.abs(a - b.numpy()).max() <= 1e-5 * np.abs(b.numpy()).max()


def test_style_specs():
    pytest.importorskip("prism_export.spec")
    specs = {s.id: s for s in style.specs()}
    assert set(specs) >= {"style-mosaic", "style-candy", "style-udnie", "style-rain-princess",
                          "vgg19-features", "vgg19-features-avgpool", "vgg19-vjp", "vgg19-vjp-avgpool"}
    for sid in style.STYLE_SEEDS:
        s = specs[sid]
        assert s.metadata["prism.value_range"] == "0..255"
        assert s.metadata["prism.pad_multiple"] == "4"
        assert s.task == "style" and s.accepts_weights_path
    assert specs["vgg19-vjp"].input_names == ["image"] + style.VGG_GRAD_INPUTS
