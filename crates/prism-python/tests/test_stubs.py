"""The stubs (`prism/__init__.pyi`) describe the module exactly: names, methods, parameters."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import prism

STUB = Path(prism.__file__).with_name("__init__.pyi")
ALIASES = {"ImageArray", "Progress", "StrPath"}


def stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text())


def stub_names(tree: ast.Module) -> dict:
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name) and t.id not in ALIASES:
                    out[t.id] = node
    return out


def runtime_params(obj) -> list:
    """(name, kind, default) of a callable, `**session` spelled out as the session options."""
    sig = inspect.signature(obj)
    out = []
    for p in sig.parameters.values():
        if p.name == "self":
            continue
        if p.kind is p.VAR_KEYWORD:
            out += [(name, "kw", None) for name in prism.SESSION_OPTIONS]
            continue
        kind = "kw" if p.kind is p.KEYWORD_ONLY else "pos"
        default = None if p.default is p.empty else p.default
        out.append((p.name, kind, default))
    return out


def stub_params(fn: ast.FunctionDef, session_defaults: bool) -> list:
    args = fn.args
    positional = [a for a in args.posonlyargs + args.args if a.arg != "self"]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    out = [(a.arg, "pos", d) for a, d in zip(positional, defaults)]
    out += [(a.arg, "kw", d) for a, d in zip(args.kwonlyargs, args.kw_defaults)]

    def value(name, kind, d):
        if d is None or (session_defaults and name in prism.SESSION_OPTIONS):
            return (name, kind, None)
        return (name, kind, ast.literal_eval(d))

    return [value(*p) for p in out]


def public(obj) -> set:
    return {n for n in dir(obj) if not n.startswith("_")}


def test_every_public_name_is_in_the_stub_and_back():
    names = stub_names(stub_tree())
    module = {n for n in public(prism) if not inspect.ismodule(getattr(prism, n))}
    module.add("__version__")
    assert module == set(names) - ALIASES
    assert set(prism.__all__) == module


def check(runtime, stub: ast.FunctionDef, where: str) -> None:
    got = runtime_params(runtime)
    want = stub_params(stub, session_defaults=True)
    assert [(n, k) for n, k, _ in got] == [(n, k) for n, k, _ in want], where
    for (name, _, a), (_, _, b) in zip(got, want):
        # `...`: a default the module cannot spell (a Rust constant).
        if a is not None and a is not ... and name not in prism.SESSION_OPTIONS:
            assert a == b, f"{where}: default of {name}: module {a!r}, stub {b!r}"


def test_signatures_and_members_match():
    for name, node in stub_names(stub_tree()).items():
        obj = getattr(prism, name, None)
        if isinstance(node, ast.FunctionDef) and not isinstance(obj, type):
            if getattr(obj, "__module__", "") == "prism":
                continue  # Python wrappers: checked by their own definitions below.
            check(obj, node, name)
        if isinstance(node, ast.ClassDef) and not issubclass(obj, Exception):
            members = {n.name for n in node.body if isinstance(n, ast.FunctionDef)} - {"__init__"}
            assert public(obj) == members, name
            init = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
            check(obj, init, f"{name}()")
            for n in node.body:
                if isinstance(n, ast.FunctionDef) and n.name != "__init__":
                    member = getattr(obj, n.name)
                    if callable(member) and not isinstance(member, property):
                        check(member, n, f"{name}.{n.name}")


def test_python_wrappers_match_the_stub():
    names = stub_names(stub_tree())
    for name in ("list_models", "download_model", "runtime_info", "set_runtime_library"):
        got = [p.name for p in inspect.signature(getattr(prism, name)).parameters.values()]
        assert got == [a.arg for a in names[name].args.args], name


def test_session_options_in_every_stub_signature():
    names = stub_names(stub_tree())
    for owner in ("Upscaler", "Interpolator", "FastStyle"):
        init = next(n for n in names[owner].body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
        assert [a.arg for a in init.args.kwonlyargs][-len(prism.SESSION_OPTIONS):] == list(prism.SESSION_OPTIONS)
