"""`fixtures DIR`: tiny seeded models with the same I/O contract and metadata keys as the real exports."""
import onnx

from prism_export import exporter, fixtures, registry


def test_tiny_fixtures_match_the_full_contracts(tmp_path):
    paths = fixtures.write_fixtures(tmp_path, log=lambda *_: None)
    full = {"tiny-srvgg-x4": "realesr-animevideov3-x4", "tiny-rrdb-x2": "realesrgan-x2plus",
            "tiny-rife-v4": "rife-v4.0"}
    specs = {s.id: s for s in registry.get_specs(list(full.values()))}
    assert sorted(p.name for p in paths) == sorted(f"{i}.fp32.onnx" for i in full)
    for p in paths:
        tiny_id = p.name.split(".")[0]
        spec = specs[full[tiny_id]]
        m = onnx.load(str(p))
        meta = {x.key: x.value for x in m.metadata_props}
        want = exporter.onnx_metadata(spec, {"kind": "seeded-random", "source": "x"}, "fp32")
        assert set(meta) == set(want), set(meta) ^ set(want)
        assert meta["prism.model_id"] == tiny_id and meta["prism.weights"] == "seeded-random"
        for k in ("prism.task", "prism.layout", "prism.value_range", "prism.pad_multiple", "prism.scale"):
            assert meta[k] == want[k], k
        assert [i.name for i in m.graph.input] == spec.input_names
        assert [o.name for o in m.graph.output] == spec.output_names
        assert p.stat().st_size < 200_000
