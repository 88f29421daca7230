"""CLI: python -m prism_export list | export [ID ...|--all] [--weights F|--download] | verify [ID ...] | fixtures DIR."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m prism_export", description=f"Prism model exporter {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the models this exporter knows")
    e = sub.add_parser("export", help="export models to ONNX (fp32 + fp16) and verify them")
    e.add_argument("ids", nargs="*", metavar="ID")
    e.add_argument("--all", action="store_true", help="export every known model")
    e.add_argument("--out", type=Path, default=None, help="output directory (default export/out)")
    e.add_argument("--weights", default=None,
                   help="official weight file (.pth) to use instead of the default weights; needs exactly one ID")
    e.add_argument("--download", action="store_true",
                   help="download each model's official weight file(s) listed in models/registry.toml, verify "
                        "their sha256 and export with them (as --weights)")
    e.add_argument("--denoise-strength", type=float, default=None,
                   help="realesr-general-x4v3 only: blend main/wdn weights (0..1, default 0.5)")
    e.add_argument("--dynamo", action="store_true", help="use the torch.export-based ONNX exporter")
    e.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    f = sub.add_parser("fixtures", help="write tiny seeded fp32 models (same classes and metadata) into DIR")
    f.add_argument("dir", type=Path, metavar="DIR")
    v = sub.add_parser("verify", help="re-run parity checks on already exported files")
    v.add_argument("ids", nargs="*", metavar="ID")
    v.add_argument("--out", type=Path, default=None)
    v.add_argument("--weights", default=None)
    v.add_argument("--denoise-strength", type=float, default=None)
    v.add_argument("--threads", type=int, default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "denoise_strength", None) is not None:
        from . import sr
        sr.GENERAL_DENOISE_STRENGTH = args.denoise_strength

    from . import registry

    if args.cmd == "list":
        for s in registry.all_specs(log=print):
            md = s.metadata
            scale = f"x{md['prism.scale']}" if "prism.scale" in md else ""
            print(f"{s.id:28s} {s.task:12s} {s.architecture:18s} {scale:4s} {s.description}")
        return 0

    if args.cmd == "fixtures":
        from .fixtures import write_fixtures
        write_fixtures(args.dir.resolve())
        return 0

    import torch

    from . import exporter

    if args.threads:
        torch.set_num_threads(args.threads)
    out_dir = (args.out or exporter.DEFAULT_OUT).resolve()
    if args.cmd == "export":
        if args.all and args.ids:
            print("give model ids or --all, not both", file=sys.stderr)
            return 2
        if not args.all and not args.ids:
            print("nothing to export: give model ids or --all (see `list`)", file=sys.stderr)
            return 2
    ids = None if getattr(args, "all", False) else (args.ids or None)
    if args.weights and (not ids or len(ids) != 1):
        print("--weights needs exactly one model id", file=sys.stderr)
        return 2
    download = getattr(args, "download", False)
    if download and (args.weights or not ids):
        print("--download needs model ids and no --weights", file=sys.stderr)
        return 2
    specs = registry.get_specs(ids, log=print)
    weights_for = {}
    if download:
        from . import download as dl
        for spec in specs:
            try:
                if not spec.accepts_weights_path:
                    raise dl.DownloadError(f"{spec.id} does not take a weight file")
                weights_for[spec.id] = dl.weights_argument(spec.id)
            except dl.DownloadError as e:
                print(f"[{spec.id}] ERROR {e}", file=sys.stderr)
                return 1
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"prism_export {__version__}: {args.cmd} {len(specs)} model(s) -> {out_dir}", flush=True)
    t0 = time.perf_counter()
    entries, failed = [], []
    for spec in specs:
        try:
            if spec.packaged is not None:
                if args.weights:
                    raise ValueError(f"{spec.id} is a ready-made file and does not accept --weights")
                entries.append(spec.packaged(out_dir, args.cmd == "export"))
                continue
            entries.append(exporter.process(spec, out_dir, weights_path=weights_for.get(spec.id, args.weights),
                                            do_export=args.cmd == "export", dynamo=getattr(args, "dynamo", False)))
        except exporter.ParityError as e:
            entries.append(e.entry)
            failed.append(str(e))
        except Exception as e:  # report and continue with the other models
            failed.append(f"{spec.id}: {type(e).__name__}: {e}")
            print(f"[{spec.id}] ERROR {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    if entries:
        exporter.save_manifest(out_dir, entries)
        print(f"manifest: {out_dir / exporter.MANIFEST} ({len(entries)} entr{'y' if len(entries) == 1 else 'ies'} updated)")
    print(f"{args.cmd}: {len(specs) - len(failed)}/{len(specs)} ok in {time.perf_counter() - t0:.1f}s", flush=True)
    for f in failed:
        print(f"FAILED {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
