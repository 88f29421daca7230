"""Collects ModelSpecs from the model-family modules."""
from __future__ import annotations

import importlib
import sys

from .spec import ModelSpec

# (module, required): optional modules are skipped when they do not exist yet.
SPEC_MODULES = (
    ("prism_export.sr", True),
    ("prism_export.rife", False),
    ("prism_export.rife_scales", False),
    ("prism_export.film", False),
    ("prism_export.style", False),
    ("prism_export.packaged", False),
)


def all_specs(log=None) -> list[ModelSpec]:
    specs: list[ModelSpec] = []
    for modname, required in SPEC_MODULES:
        if required:
            specs.extend(importlib.import_module(modname).specs())
            continue
        # Optional families (owned by other people) must not break the others:
        # a missing or broken module is reported and skipped.
        try:
            mod = importlib.import_module(modname)
            specs.extend(mod.specs())
        except ModuleNotFoundError as e:
            if e.name == modname:
                if log:
                    log(f"  (skipping {modname}: not present)")
                continue
            print(f"warning: skipping {modname}: {type(e).__name__}: {e}", file=sys.stderr)
        except Exception as e:  # noqa: BLE001
            print(f"warning: skipping {modname}: {type(e).__name__}: {e}", file=sys.stderr)
    seen: set[str] = set()
    for s in specs:
        if s.id in seen:
            raise ValueError(f"duplicate model id {s.id!r}")
        seen.add(s.id)
    return specs


def get_specs(ids: list[str] | None, log=None) -> list[ModelSpec]:
    specs = all_specs(log)
    if not ids:
        return specs
    by_id = {s.id: s for s in specs}
    missing = [i for i in ids if i not in by_id]
    if missing:
        print(f"unknown model id(s): {', '.join(missing)}; known: {', '.join(by_id)}", file=sys.stderr)
        raise SystemExit(2)
    return [by_id[i] for i in ids]
