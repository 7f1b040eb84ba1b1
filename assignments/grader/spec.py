"""Assignment specs: what a submission must define and how each function is graded — data, not code.

A spec is a TOML file in ``assignments/specs/`` (or any path); ``convcheck assignment check SPEC.toml``
validates one and grades its reference solution (``solutions/<name>_solution.py`` or ``--solution``),
which must get full marks. Adding a course means writing a spec: no Python of convcheck names a course.
Every field, with the bundled specs as examples (``layers.toml``: cs231n; ``conv-step-by-step.toml``:
the channels-last course)::

    [assignment]
    name = "layers"                  # the --assignment name
    title = "..."                    # the report's heading
    convention = "declared"          # "declared": [convention] and each function's args/returns say how the
                                     # student's functions are called; "reference": they have the reference's
                                     # own signatures (arithmetic, model), the call is passed through

    [convention]                     # defaults for every function (a function's own field wins)
    forward_returns = ["out", "cache"]   # what a forward returns (names below)
    backward_args = ["dout", "cache"]    # what a backward takes
    layouts = { x = "NHWC", w = "HWCF", b = "111F" }   # arrays not in the reference's layout (below)

    [contract]                       # the Capabilities the checks' strategies draw cases from
    preset = "CS231N"                # a preset of convcheck.checks.capabilities, then overrides:
    exact_division = false           # torch's floor rule: strides that don't divide are allowed
    description = "..."              # one paragraph shown at the top of every report: state here the
                                     # conventions and the contract's edges (pad = 0 included or not, …)

    [[edges]]                        # a contract edge the course's own hint or tests do not cover
    name = "pad0"
    feedback = "pad = 0 is in this assignment's contract, but the course's hint ... does not cover it: ..."

    [budget]
    max_examples = 40                # Hypothesis examples per check
    seed = 231                       # the PUBLIC practice seed (--practice); grading uses a secret one (secret.py)

    [limits]
    call_timeout = 10.0              # seconds per call into the submission
    memory_mb = 2048                 # address-space cap of the worker process
    function_budget = 60.0           # wall seconds for grading one function (then its examples fail fast)
    submission_budget = 300.0        # wall seconds for a whole submission, shared fairly between functions
    load_timeout = 30.0              # seconds to run the submission's top level (a notebook's cells)
    allowed_imports = ["numpy", "math"]   # what the submission may import (default: DEFAULT_ALLOWED_IMPORTS;
                                     # submodules included; the submission's own files always)
    forbidden_imports = ["torch"]    # named in messages even if the environment lacks them
    test_modules = ["public_tests"]  # the course's own test modules: notebook cells needing them are
                                     # skipped with one note, never fatal
    numpy = "<2"                     # the NumPy the course's students use (environment.py)
    disk_mb = 64                     # bytes the worker may leave in its working folder ...
    max_files = 256                  # ... and files (checked during and after every call)
    allow_weaker_sandbox = false     # true: grade even where a promise of the sandbox cannot be kept
    numpy = "<2"                     # the NumPy the course's students use (default: the grader's own);
                                     # installed once into the worker's environment, named in every report

    [[functions]]
    name = "conv_forward_naive"      # what the submission must define
    op = "conv_forward"              # the reference op it implements (convcheck.reference.OPS)
    args = ["x", "w", "b", "conv_param"]   # its positional arguments, in order (below)
    dicts = { conv_param = { stride = "stride", pad = "padding" } }   # each param dict: key -> option
    returns = ["out", "cache"]       # what it returns: one name (a bare value) or several (a tuple)
    layouts = { gamma = "1C11" }     # replaces [convention]'s layouts for this function
    variants = [{ op = "avg_pool_forward", args = ["x", "hparameters", "mode='average'"] }]
                                     # other ops the same function implements with other arguments

      [[functions.checks]]
      check = "conv_forward.matches_torch"            # a check of convcheck.checks, or grader.*
      title = "out matches torch.nn.functional.conv2d"
      points = 6
      hint = "..."                   # optional: shown with a failure
      edge = "pad0"                  # optional: an [[edges]] name whose feedback a failure adds

    [[functions]]
    name = "conv_backward_naive"
    op = "conv_backward"
    forward = "conv_forward_naive"   # the student's forward whose cache this backward takes

**args** entries: an input of the op (``x``, ``w``, ``b``, ``dout``; for the grader's course checks
the case's own names, e.g. ``X``, ``a_slice_prev``), ``"cache"`` (the forward's cache, kept in the
worker), a name of ``dicts`` (the param dict, built per call), ``"G=groups"`` (an option passed
positionally) or ``"mode='max'"`` (a constant). Default: a forward takes the op's inputs then its
dicts; a backward takes ``[convention] backward_args``. ``params = {...}`` is the short form of one dict.
**dicts** values are option expressions: an option (``"stride"``), one element of a per-dimension option
(``"kernel.1"``), a fallback for ``None`` (``"stride|kernel.0"``), one minus an option (``"1-p"``: a
course whose dropout ``p`` is the probability of DROPPING a unit, cs231n before 2017; the dropout checks
then explain a failure in those terms), or ``"seed?"`` (left out of the dict when the option is absent). **returns** names: ``out``, ``cache``, the op's outputs (``dx``, ``dw``,
``db``, ``loss``, ``dgamma``, …); a backward's default is the op's outputs. **layouts**: the reference's
arrays are NCHW, weights ``(F, C, kh, kw)``, biases ``(F,)``, per-channel parameters ``(C,)``; a spec
declares ``NHWC`` (activations, their gradients and ``out`` follow ``x``), ``HWCF`` (weights),
``111F`` (a bias of shape ``(1, 1, 1, F)``) or ``1C11`` (a per-channel parameter ``(1, C, 1, 1)``);
arrays are sent in the declared layout and received ones converted back before comparison.

Checks starting with ``grader.`` are the grader's own (``GRADER_CHECKS``): ``grader.no_input_mutation``,
``grader.fresh_cache``, ``grader.rectangular_windows``, ``grader.default_arguments``, ``grader.large_logits``; for a course's functions that convcheck.checks
has no check of, ``grader.values`` (the outputs in the check's ``outputs = [...]`` equal the reference's;
``mode = "test"`` for batch norm's test mode; ``large_logits = true`` for a loss's scores moved row by row
to ±1000, where an unshifted softmax overflows), ``grader.dict_after`` (the param dict's ``keys`` after the
call: running statistics), the ``grader.dropout_*`` properties (course_checks.py lists the ops each
supports); and the ``model`` assignment's ``grader.model_*`` and ``grader.small_convnet_*``, which compare
with the bundled model named by an optional ``[model] reference = "lenet-course"`` table. All others
must be names of ``convcheck.checks.list_checks()``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from convcheck.checks.capabilities import Capabilities

SPECS_DIR = Path(__file__).parent.parent / "specs"
#: What a submission may import when its spec does not say: NumPy and the standard library's modules for
#: numbers, data structures and functional helpers. Nothing that reads files, starts processes or talks
#: to a network (the worker refuses those anyway; the rule gives the student a precise message).
DEFAULT_ALLOWED_IMPORTS = (
    "numpy", "__future__", "builtins", "math", "cmath", "numbers", "decimal", "fractions", "random",
    "statistics", "functools", "itertools", "operator", "collections", "heapq", "bisect", "array", "copy",
    "dataclasses", "enum", "typing", "abc", "types", "string", "re", "textwrap", "warnings", "time",
)
#: ``reference``: the student's functions have the reference's own signatures (arithmetic, model);
#: ``declared``: the spec's ``[convention]`` table and each function's ``args``/``returns`` say them.
CONVENTIONS = ("declared", "reference")
#: Layouts a spec may declare for an array (``layouts = { x = "NHWC" }``); the reference's are NCHW,
#: weights ``(F, C, kh, kw)``, biases ``(F,)``, per-channel parameters ``(C,)``.
LAYOUTS = ("NCHW", "NHWC", "FCHW", "HWCF", "F", "111F", "C", "1C11")
#: The grader's own checks (not in convcheck.checks): name -> what it verifies.
GRADER_CHECKS = {
    "grader.no_input_mutation": "the function leaves its input arrays unchanged",
    "grader.fresh_cache": "backward uses the cache it is given, not state left by the last forward call",
    "grader.rectangular_windows": "a max-pool op is right on rectangular windows that overlap (stride < window)",
    # course functions graded against the reference through the declared convention (course_checks.py)
    "grader.values": "the outputs named by the check's 'outputs' equal the reference op's",
    "grader.dict_after": "the param dict entries named by 'keys' hold the reference's values after the call",
    "grader.dropout_test_identity": "dropout in test mode returns x",
    "grader.dropout_train_values": "dropout in train mode gives 0 or x/p elementwise",
    "grader.dropout_kept_fraction": "the kept fraction is near p on a large input",
    "grader.dropout_same_seed": "the same seed gives the same mask",
    "grader.dropout_backward_mask": "the backward reuses the forward's mask and scale",
    "grader.large_logits": "a softmax loss is right (finite) when each row of logits is moved by ±1000",
    "grader.default_arguments": "a reference-convention function is right when called as its signature allows: "
                                "optional arguments left out (its defaults), positional or by keyword",
    # the model assignment (model_checks.py); the reference model is the spec's [model] reference
    "grader.model_spec_parses": "the returned model spec text parses with the builder and has the model's input",
    "grader.model_spec_matches": "the parsed model's summary equals the reference model's, row by row",
    "grader.model_shapes_conv": "the stated output shapes of the conv and pool layers are the reference model's",
    "grader.model_shapes_dense": "the stated output shapes of flatten and the dense layers are the reference model's",
    "grader.model_params_conv": "the stated parameter counts of the conv and pool layers are the reference model's",
    "grader.model_params_dense": "the stated parameter counts of flatten and the dense layers are the reference model's",
    "grader.small_convnet_loss": "the small ConvNet's loss equals the reference composition's",
    "grader.small_convnet_dw1": "the small ConvNet's dw1 equals the reference composition's",
    "grader.small_convnet_db1": "the small ConvNet's db1 equals the reference composition's",
    "grader.small_convnet_dw2": "the small ConvNet's dw2 equals the reference composition's",
    "grader.small_convnet_db2": "the small ConvNet's db2 equals the reference composition's",
}


import re as _re

_EDGE_WHEN = _re.compile(r"([A-Za-z_]\w*)\s*(==|!=|>=|<=|>|<)\s*(-?\d+)")


def edge_applies(when: str | None, options: dict) -> bool:
    """Whether an edge's ``when`` (``"stride > 1"``) holds for a case's options (a per-dimension option
    holds when any dimension does; ``stride`` None means the window, as pooling defines it)."""
    if not when:
        return True
    name, op, number = _EDGE_WHEN.fullmatch(when.strip()).groups()
    value = options.get(name)
    if value is None and name == "stride":
        value = options.get("kernel")
    if value is None:
        return False
    values = [v for v in (value if isinstance(value, (tuple, list)) else [value])]
    flat = [x for v in values for x in (v if isinstance(v, (tuple, list)) else [v])]
    n = int(number)
    test = {"==": n.__eq__, "!=": n.__ne__, ">": n.__lt__, ">=": n.__le__, "<": n.__gt__, "<=": n.__ge__}[op]
    return any(isinstance(x, int) and test(x) for x in flat)


class SpecError(ValueError):
    """A spec that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class CheckItem:
    """One graded test: a check run on one function, worth ``points``."""

    check: str
    title: str
    points: float
    hint: str | None = None
    #: the check's own settings (the grader's course checks: ``outputs``, ``mode``, ``p``, …)
    options: dict = field(default_factory=dict, compare=False)
    #: shown with a failure: the course's own hint or tests do not cover this case (``[[edges]]``)
    edge: str | None = None
    #: when the edge applies: ``"OPTION OP INT"`` on the failing case's options (None: always)
    edge_when: str | None = None

    @property
    def is_grader_check(self) -> bool:
        return self.check.startswith("grader.")


@dataclass(frozen=True)
class FunctionSpec:
    """A function the submission must define, the reference op it implements and its checks."""

    name: str
    op: str
    checks: tuple[CheckItem, ...]
    forward: str | None = None
    params: dict | None = None
    #: the student's positional arguments, in order (see the module docstring): an input name, a dict
    #: name of ``dicts``, ``"cache"``, or ``"name=expr"`` (a scalar option passed positionally)
    args: tuple[str, ...] = ()
    #: what the function returns: one name (a bare value) or several (a tuple): output names and "cache"
    returns: tuple[str, ...] = ()
    #: param dicts the function takes: dict name -> {key: option expression}
    dicts: dict = field(default_factory=dict, compare=False)
    #: array layouts other than the reference's: input name -> layout (``"NHWC"``, ``"HWCF"``, ``"111F"``, ``"1C11"``)
    layouts: dict = field(default_factory=dict, compare=False)
    #: a narrowing of ``[contract]`` for this function's checks only (``contract = { dilation = false }``),
    #: applied as a per-op refinement of the assignment's capabilities (``_function_contracts``)
    contract: dict = field(default_factory=dict, compare=False)
    #: other reference ops the same function implements, each ``{"op": ..., "args": [...]}``
    variants: tuple = ()

    @property
    def max_score(self) -> float:
        return sum(item.points for item in self.checks)


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    convention: str
    capabilities: Capabilities
    contract: str
    max_examples: int
    seed: int
    call_timeout: float
    memory_mb: int
    forbidden_imports: tuple[str, ...]
    functions: tuple[FunctionSpec, ...]
    source: str = ""
    cpu_seconds: int | None = None
    allowed_imports: tuple[str, ...] = DEFAULT_ALLOWED_IMPORTS
    disk_mb: int = 64
    max_files: int = 256
    allow_weaker_sandbox: bool = False
    numpy: str | None = None
    function_budget: float | None = 60.0
    submission_budget: float | None = 300.0
    load_timeout: float = 30.0
    #: the course's own test modules (``from public_tests import *``): the grader does not have them, and
    #: the notebook cells that need them are skipped with one note, never fatal
    test_modules: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def max_score(self) -> float:
        return sum(f.max_score for f in self.functions)

    def function(self, name: str) -> FunctionSpec:
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(name)


def available_specs() -> list[str]:
    """Names of the bundled specs (``assignments/specs/*.toml``)."""
    return sorted(p.stem for p in SPECS_DIR.glob("*.toml"))


def load_spec(name_or_path: str | Path) -> Assignment:
    """The Assignment of a bundled spec name (``"layers"``) or of a ``.toml`` path."""
    path = Path(name_or_path)
    if path.suffix != ".toml" or not path.exists():
        candidate = SPECS_DIR / f"{name_or_path}.toml"
        if not candidate.exists():
            raise SpecError(f"no assignment spec {str(name_or_path)!r}; bundled: {', '.join(available_specs())}")
        path = candidate
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: {exc}") from None
    return parse_spec(data, source=str(path))


def _capabilities(contract: dict, where: str) -> Capabilities:
    from convcheck.checks import capabilities as caps_module

    preset = contract.get("preset")
    base = Capabilities()
    if preset:
        base = getattr(caps_module, preset, None)
        if not isinstance(base, Capabilities):
            raise SpecError(f"{where}: [contract] preset={preset!r} is not a Capabilities preset")
    overrides = {k: v for k, v in contract.items() if k not in ("preset", "description")}
    for key, value in list(overrides.items()):
        if isinstance(value, list):
            overrides[key] = tuple(value)
    try:
        return base.narrowed(**overrides)
    except TypeError as exc:
        raise SpecError(f"{where}: [contract] {exc}") from None


def _function_contracts(functions, caps: Capabilities, source: str) -> Capabilities:
    """The assignment's capabilities with each function's ``contract = {...}`` as a refinement of its
    op (and its variants' ops): that function's checks draw inside it, the others do not see it."""
    from convcheck.checks.ops import OPS

    ops, owner = {k: dict(v) for k, v in caps.ops.items()}, {}
    for f in functions:
        if not f.contract:
            continue
        where = f"{source}: {f.name}.contract"
        changes = {k: (tuple(v) if isinstance(v, list) else v) for k, v in f.contract.items()}
        if "layout" in changes or "description" in changes or "preset" in changes:
            raise SpecError(f"{where}: layout, preset and description belong to [contract], not to one function")
        for op in (f.op, *(v["op"] for v in f.variants)):
            if op not in OPS:
                raise SpecError(f"{where}: {op!r} is graded by the grader's own checks, whose cases no contract "
                                "narrows; a contract applies to functions graded by convcheck.checks")
            if op in owner and owner[op][1] != changes:
                raise SpecError(f"{where}: {owner[op][0]} implements {op!r} too, with another contract")
            owner[op] = (f.name, changes)
            ops[op] = {**ops.get(op, {}), **changes}
    if not owner:
        return caps
    try:
        return caps.narrowed(ops=ops)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{source}: a function's contract: {exc}") from None


def parse_spec(data: dict, source: str = "<spec>") -> Assignment:
    """Validate a spec's parsed TOML and build the Assignment."""
    head = data.get("assignment") or {}
    for key in ("name", "convention"):
        if key not in head:
            raise SpecError(f"{source}: [assignment] needs {key!r}")
    if head["convention"] not in CONVENTIONS:
        raise SpecError(f"{source}: convention={head['convention']!r}, but should be one of {CONVENTIONS} "
                        "(a course's calling convention is declared in the spec: [convention] and each "
                        "function's args/returns)")
    convention = data.get("convention") or {}
    for key in convention:
        if key not in ("forward_returns", "backward_args", "layouts"):
            raise SpecError(f"{source}: [convention] {key!r} is not a field (forward_returns, backward_args, layouts)")
    contract = data.get("contract") or {}
    budget = data.get("budget") or {}
    limits = data.get("limits") or {}
    functions = []
    seen = set()
    edges = {}
    for k, e in enumerate(data.get("edges") or []):
        if not isinstance(e, dict) or not e.get("name") or not str(e.get("feedback", "")).strip():
            raise SpecError(f"{source}: edges[{k}] needs 'name' and 'feedback'")
        when = e.get("when")
        if when is not None and not _EDGE_WHEN.fullmatch(str(when).strip()):
            raise SpecError(f"{source}: edges[{k}].when={when!r}, but should read 'OPTION OP INT' "
                            "(padding == 0, stride > 1)")
        edges[e["name"]] = (str(e["feedback"]).strip(), str(when).strip() if when else None)
    for i, f in enumerate(data.get("functions") or []):
        where = f"{source}: functions[{i}]"
        for key in ("name", "op"):
            if key not in f:
                raise SpecError(f"{where} needs {key!r}")
        if f["name"] in seen:
            raise SpecError(f"{where}: function {f['name']!r} listed twice")
        seen.add(f["name"])
        items = []
        for j, c in enumerate(f.get("checks") or []):
            if "check" not in c or "points" not in c:
                raise SpecError(f"{where}.checks[{j}] needs 'check' and 'points'")
            if c["check"].startswith("grader.") and c["check"] not in GRADER_CHECKS:
                raise SpecError(f"{where}.checks[{j}]: unknown grader check {c['check']!r}; known: {sorted(GRADER_CHECKS)}")
            if float(c["points"]) < 0:
                raise SpecError(f"{where}.checks[{j}]: points must be >= 0")
            options = {k: v for k, v in c.items() if k not in ("check", "title", "points", "hint", "edge")}
            if options and not c["check"].startswith("grader."):
                raise SpecError(f"{where}.checks[{j}]: {sorted(options)} are not fields of a check of convcheck.checks")
            edge = c.get("edge")
            if edge is not None and edge not in edges:
                raise SpecError(f"{where}.checks[{j}]: edge={edge!r} is not one of [[edges]] ({sorted(edges)})")
            items.append(CheckItem(c["check"], c.get("title") or c["check"], float(c["points"]), c.get("hint"),
                                   options, edges[edge][0] if edge else None, edges[edge][1] if edge else None))
        if not items:
            raise SpecError(f"{where}: function {f['name']!r} has no checks")
        functions.append(_function(f, tuple(items), convention, head["convention"], where))
    if not functions:
        raise SpecError(f"{source}: no [[functions]]")
    names = {f.name for f in functions}
    for f in functions:
        if f.forward and f.forward not in names:
            raise SpecError(f"{source}: {f.name}.forward={f.forward!r} is not one of the spec's functions")
    return Assignment(
        name=head["name"],
        title=head.get("title", head["name"]),
        convention=head["convention"],
        capabilities=_function_contracts(functions, _capabilities(contract, source), source),
        contract=contract.get("description", ""),
        max_examples=int(budget.get("max_examples", 40)),
        seed=int(budget.get("seed", 0)),
        call_timeout=float(limits.get("call_timeout", 10.0)),
        memory_mb=int(limits.get("memory_mb", 2048)),
        forbidden_imports=_module_list(limits.get("forbidden_imports", ()), "forbidden_imports", source),
        functions=tuple(functions),
        source=source,
        cpu_seconds=limits.get("cpu_seconds"),
        allowed_imports=_module_list(limits.get("allowed_imports", DEFAULT_ALLOWED_IMPORTS), "allowed_imports", source),
        disk_mb=int(limits.get("disk_mb", 64)),
        max_files=int(limits.get("max_files", 256)),
        allow_weaker_sandbox=bool(limits.get("allow_weaker_sandbox", False)),
        numpy=_numpy_requirement(limits.get("numpy"), source),
        function_budget=_budget(limits, "function_budget", 60.0, source),
        submission_budget=_budget(limits, "submission_budget", 300.0, source),
        load_timeout=float(limits.get("load_timeout", 30.0)),
        test_modules=_module_list(limits.get("test_modules", ()), "test_modules", source),
        extra={k: v for k, v in data.items() if k not in ("assignment", "contract", "budget", "limits", "functions")},
    )


def _names(value, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not (isinstance(value, (list, tuple)) and all(isinstance(v, str) and v.strip() for v in value)):
        raise SpecError(f"{where}: {key} must be a list of names, got {value!r}")
    return tuple(v.strip() for v in value)


def _function(f: dict, items: tuple, convention: dict, kind: str, where: str) -> FunctionSpec:
    """One ``[[functions]]`` entry, its calling convention completed from ``[convention]``'s defaults."""
    from convcheck.checks.ops import COURSE_OPS, OPS

    known = {"name", "op", "checks", "forward", "params", "args", "returns", "dicts", "layouts", "contract",
             "variants"}
    extra = set(f) - known
    if extra:
        raise SpecError(f"{where}: {sorted(extra)} are not fields of a function ({sorted(known)})")
    dicts = dict(f.get("dicts") or {})
    args = _names(f["args"], "args", where) if "args" in f else None
    params = f.get("params")
    if params is not None and not dicts:
        # the short form: one param dict, appended to the inputs (its name is the args entry that is
        # neither an input nor "cache"; "params" when args is not given)
        spec_op = OPS.get(f["op"])
        inputs = set(spec_op.inputs) if spec_op else set()
        name = next((a for a in (args or ()) if a not in inputs and a != "cache" and "=" not in a), "params")
        dicts = {name: dict(params)}
    for name, keys in dicts.items():
        if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
            raise SpecError(f"{where}: dicts.{name} must map each key to an option expression, got {keys!r}")
    # a function's own layouts table replaces [convention]'s (helpers such as zero_pad take other arrays)
    layouts = dict(f["layouts"] if "layouts" in f else convention.get("layouts") or {})
    for name, layout in layouts.items():
        if layout not in LAYOUTS:
            raise SpecError(f"{where}: layouts.{name}={layout!r}, but should be one of {LAYOUTS}")
    op = OPS.get(f["op"]) or COURSE_OPS.get(f["op"])
    backward = bool(f.get("forward"))
    if kind == "reference":
        args, returns = args or (), _names(f["returns"], "returns", where) if "returns" in f else ()
    else:
        if args is None:
            if backward:
                args = _names(convention.get("backward_args", ["dout", "cache"]), "backward_args", where)
            elif op is not None:
                args = tuple(op.inputs) + tuple(dicts)
            else:
                raise SpecError(f"{where}: op {f['op']!r} has no default signature: give args")
        if "returns" in f:
            returns = _names(f["returns"], "returns", where)
        elif backward and op is not None:
            returns = tuple(op.outputs)
        elif not backward:
            returns = _names(convention.get("forward_returns", ["out", "cache"]), "forward_returns", where)
        else:
            raise SpecError(f"{where}: op {f['op']!r} has no default outputs: give returns")
        for a in args:
            if "=" not in a and a not in dicts and a != "cache" and op is not None and a not in op.inputs \
                    and a != "dout":
                raise SpecError(f"{where}: args entry {a!r} is not an input of {f['op']} ({op.inputs}), a dict "
                                f"of dicts ({sorted(dicts)}), 'cache' or 'name=option'")
        if backward and "cache" not in args:
            raise SpecError(f"{where}: a backward (forward = {f['forward']!r}) must take 'cache' in its args")
    merged = {k: e for keys in dicts.values() for k, e in keys.items()} or None
    found = []
    for k, v in enumerate(f.get("variants") or []):
        if not isinstance(v, dict) or v.get("op") not in {**OPS, **COURSE_OPS}:
            raise SpecError(f"{where}: variants[{k}] needs an 'op' of convcheck.checks, got {v!r}")
        found.append({"op": v["op"], "args": _names(v.get("args", list(args)), "variants.args", where)})
    return FunctionSpec(f["name"], f["op"], items, f.get("forward"), merged, tuple(args), tuple(returns),
                        dicts, layouts, dict(f.get("contract") or {}), tuple(found))


def _numpy_requirement(value, source: str) -> str | None:
    if value is None:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(str(value))
    except InvalidSpecifier:
        raise SpecError(f"{source}: [limits] numpy={value!r} is not a version requirement "
                        "(e.g. \"<2\" or \"==1.26.4\")") from None
    return str(value)


def _module_list(value, key: str, source: str) -> tuple[str, ...]:
    if not (isinstance(value, (list, tuple)) and all(isinstance(m, str) and m.strip() for m in value)):
        raise SpecError(f"{source}: [limits] {key} must be a list of module names, got {value!r}")
    return tuple(m.strip() for m in value)
def _budget(limits: dict, key: str, default: float, source: str) -> float | None:
    value = limits.get(key, default)
    if value in (0, False, "none"):
        return None  # explicitly unbounded
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{source}: [limits] {key}={value!r} is not a number of seconds") from None
    if value < 0:
        raise SpecError(f"{source}: [limits] {key} must be >= 0 (0 = no budget)")
    return value


def unknown_checks(assignment: Assignment) -> list[str]:
    """Check names of the spec that ``convcheck.checks.list_checks()`` does not know (empty when all are)."""
    from convcheck.checks import list_checks

    known = {spec.name for spec in list_checks()}
    return [item.check for f in assignment.functions for item in f.checks
            if not item.is_grader_check and item.check not in known]
