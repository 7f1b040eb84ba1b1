"""Assignment specs: what a submission must define and how each function is graded — data, not code.

A spec is a TOML file in ``assignments/specs/`` (or any path). Adding an assignment means writing one;
the grader reads everything from it. The format, with the ``layers`` spec as the example::

    [assignment]
    name = "layers"
    title = "Layers: affine, ReLU, convolution and max pooling, forward and backward"
    convention = "cs231n"            # calling convention of the student's functions (conventions.py)

    [contract]                       # the Capabilities the checks' strategies draw cases from
    preset = "CS231N"                # a preset of convcheck.checks.capabilities, then overrides:
    exact_division = false           # torch's floor rule: strides that don't divide are allowed
    description = "..."              # one paragraph shown at the top of every report

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
    disk_mb = 64                     # bytes the worker may leave in its working folder ...
    max_files = 256                  # ... and files (checked during and after every call)
    allow_weaker_sandbox = false     # true: grade even where a promise of the sandbox cannot be kept
    numpy = "<2"                     # the NumPy the course's students use (default: the grader's own);
                                     # installed once into the worker's environment, named in every report

    [[functions]]
    name = "conv_forward_naive"      # what the submission must define
    op = "conv_forward"              # the reference op it implements (convcheck.reference.OPS)
    params = { stride = "stride", pad = "padding" }   # cs231n: the param dict built from options

      [[functions.checks]]
      check = "conv_forward.matches_torch"            # a check of convcheck.checks, or grader.*
      title = "out matches torch.nn.functional.conv2d"
      points = 6

    [[functions]]
    name = "conv_backward_naive"
    op = "conv_backward"
    forward = "conv_forward_naive"   # cs231n: the student's forward whose cache this backward takes

A ``params`` value names a reference option (``"stride"``), one element of a per-dimension option
(``"kernel.1"``: element 1 of a tuple, or the int itself), or an option with a fallback for ``None``
(``"stride|kernel.0"``). Check names starting with ``grader.`` are the grader's own checks
(``grader.no_input_mutation``, ``grader.fresh_cache``, ``grader.rectangular_windows``,
``grader.default_arguments``, ``grader.large_logits``, and the ``model``
assignment's ``grader.model_*`` and ``grader.small_convnet_*``, which compare with the bundled model named
by an optional ``[model] reference = "lenet-course"`` table); all others must be names of
``convcheck.checks.list_checks()``.
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
CONVENTIONS = ("cs231n", "reference")
#: The grader's own checks (not in convcheck.checks): name -> what it verifies.
GRADER_CHECKS = {
    "grader.no_input_mutation": "the function leaves its input arrays unchanged",
    "grader.fresh_cache": "backward uses the cache it is given, not state left by the last forward call",
    "grader.rectangular_windows": "a max-pool op is right on rectangular windows that overlap (stride < window)",
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


class SpecError(ValueError):
    """A spec that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class CheckItem:
    """One graded test: a check run on one function, worth ``points``."""

    check: str
    title: str
    points: float
    hint: str | None = None

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


def parse_spec(data: dict, source: str = "<spec>") -> Assignment:
    """Validate a spec's parsed TOML and build the Assignment."""
    head = data.get("assignment") or {}
    for key in ("name", "convention"):
        if key not in head:
            raise SpecError(f"{source}: [assignment] needs {key!r}")
    if head["convention"] not in CONVENTIONS:
        raise SpecError(f"{source}: convention={head['convention']!r}, but should be one of {CONVENTIONS}")
    contract = data.get("contract") or {}
    budget = data.get("budget") or {}
    limits = data.get("limits") or {}
    functions = []
    seen = set()
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
            items.append(CheckItem(c["check"], c.get("title") or c["check"], float(c["points"]), c.get("hint")))
        if not items:
            raise SpecError(f"{where}: function {f['name']!r} has no checks")
        functions.append(FunctionSpec(f["name"], f["op"], tuple(items), f.get("forward"), f.get("params")))
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
        capabilities=_capabilities(contract, source),
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
        extra={k: v for k, v in data.items() if k not in ("assignment", "contract", "budget", "limits", "functions")},
    )


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
