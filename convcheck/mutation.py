"""Single-point mutants of a Python module, made with the mistakes students make (stdlib ``ast`` only).

A caller gives source text and gets :class:`Mutant` objects back: each holds the whole mutated
module, a small diff and a stable ID; running anything against the mutants is the caller's job.

Operators (``Mutant.operator``), each a slip seen in student convolution code:

  binop-swap          ``+``↔``-``, ``*``↔``/``, ``//``→``/``, ``%``→``//``, ``**``→``*``, ``@``→``*``
  compare-swap        ``<``↔``<=``, ``>``↔``>=``, ``==``↔``!=``, ``is``↔``is not``, ``in``↔``not in``
  boolop-swap         ``and``↔``or``
  const-off-by-one    an int literal ``n`` → ``n + 1`` and ``n − 1``
  slice-bound         a bound of ``a[lo:hi]`` or ``slice(lo, hi)`` dropped or moved by one
  swap-index          ``a[i, j]`` → ``a[j, i]`` (adjacent entries of a subscript tuple)
  swap-loop-var       ``for i, j in`` → ``for j, i in``; a use of loop variable ``i`` → ``j``
  augassign-to-assign ``x += y`` → ``x = y``
  reduction-axis      ``axis=0`` → ``1`` (and back), an entry of ``axis=(0, 2, 3)`` dropped,
                      ``axis=axes`` dropped (a reduction over everything)
  drop-term           ``a + b`` → ``a`` or ``b``; ``a − b`` → ``a``
  default-arg         an int default ``± 1``, a bool default flipped

Mutant IDs are ``function:operator:hash`` where the hash covers the mutated node's text, its
replacement and the statement around it — not line numbers — so an ID survives edits elsewhere in
the module and can key a table of equivalent mutants (``{id: reason}``).
"""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import random
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Mapping

__all__ = ["Mutant", "OPERATORS", "generate", "sample", "stale_equivalents"]

OPERATORS = (
    "binop-swap", "compare-swap", "boolop-swap", "const-off-by-one", "slice-bound", "swap-index",
    "swap-loop-var", "augassign-to-assign", "reduction-axis", "drop-term", "default-arg",
)

MODULE = "<module>"


@dataclass(frozen=True)
class Mutant:
    """One single-point change of a module. ``source`` is the whole mutated module."""

    id: str
    function: str          # qualified name of the enclosing function, or "<module>"
    lineno: int
    operator: str
    description: str       # e.g. "`k - 1` → `k + 1`"
    source: str
    diff: str
    equivalent: str | None = None   # the reason, when a table passed to generate() marks it


# --- where mutants may go ------------------------------------------------------------------------

def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _skipped(tree: ast.AST) -> set[ast.AST]:
    """Nodes no mutant touches: annotations, docstrings, messages (f-strings, raise/assert), __all__."""
    skip: set[ast.AST] = set()

    def drop(node):
        if node is not None:
            skip.update(ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            drop(node.returns)
            for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs + [node.args.vararg,
                                                                                      node.args.kwarg]:
                if a is not None:
                    drop(a.annotation)
        elif isinstance(node, ast.AnnAssign):
            drop(node.annotation)
        elif isinstance(node, ast.JoinedStr):
            drop(node)
        elif isinstance(node, ast.Raise):
            drop(node.exc)
        elif isinstance(node, ast.Assert):
            drop(node.msg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            drop(node)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                   for t in node.targets):
            drop(node)
    return skip


def _functions(tree: ast.AST) -> dict[ast.AST, str]:
    """The qualified name of the innermost function (or class) holding each node; a def's
    signature (defaults included) belongs to the function it defines."""
    owner: dict[ast.AST, str] = {}

    def visit(node, name):
        for child in ast.iter_child_nodes(node):
            owner[child] = name
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, child.name if name == MODULE else f"{name}.{child.name}")
            else:
                visit(child, name)

    visit(tree, MODULE)
    return owner


# --- the operators: each yields (node, replacement, description) --------------------------------

_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
          ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.MatMult: ast.Mult}
_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
        ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
           ast.Pow: "**", ast.MatMult: "@", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
           ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
           ast.NotIn: "not in", ast.And: "and", ast.Or: "or"}


def _is_text(node) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)))


def _is_int(node) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _plus(node: ast.expr, k: int) -> ast.expr:
    """``node + k`` (folded when node is an int literal)."""
    if _is_int(node):
        return ast.Constant(node.value + k)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)) and _is_int(node.right):
        c = node.right.value + (k if isinstance(node.op, ast.Add) else -k)   # fold: k + 2 → k + 3
        if c == 0:
            return copy.deepcopy(node.left)
        op = type(node.op) if c > 0 else (ast.Sub if isinstance(node.op, ast.Add) else ast.Add)
        return ast.BinOp(copy.deepcopy(node.left), op(), ast.Constant(abs(c)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and _is_int(node.operand):
        return ast.Constant(-node.operand.value + k)
    return ast.BinOp(copy.deepcopy(node), ast.Add() if k > 0 else ast.Sub(), ast.Constant(abs(k)))


def _binop_swap(node, ctx):
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOP and not (_is_text(node.left) or _is_text(node.right)):
        new = ast.BinOp(copy.deepcopy(node.left), _BINOP[type(node.op)](), copy.deepcopy(node.right))
        yield node, new, f"{_SYMBOL[type(node.op)]} → {_SYMBOL[type(new.op)]}"
    elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOP and not _is_text(node.value):
        new = ast.AugAssign(copy.deepcopy(node.target), _BINOP[type(node.op)](), copy.deepcopy(node.value))
        yield node, new, f"{_SYMBOL[type(node.op)]}= → {_SYMBOL[type(new.op)]}="


def _compare_swap(node, ctx):
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _CMP:
                new = copy.deepcopy(node)
                new.ops[i] = _CMP[type(op)]()
                yield node, new, f"{_SYMBOL[type(op)]} → {_SYMBOL[type(new.ops[i])]}"


def _boolop_swap(node, ctx):
    if isinstance(node, ast.BoolOp):
        new = ast.BoolOp(ast.Or() if isinstance(node.op, ast.And) else ast.And(), copy.deepcopy(node.values))
        yield node, new, f"{_SYMBOL[type(node.op)]} → {_SYMBOL[type(new.op)]}"


def _const_off_by_one(node, ctx):
    if _is_int(node) and not ctx.is_default(node) and not ctx.is_axis(node):
        parent = ctx.parents.get(node)
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub):
            return                                  # -1 is handled at the UnaryOp
        for k in (1, -1):
            yield node, ast.Constant(node.value + k), f"{node.value} → {node.value + k}"
    elif (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and _is_int(node.operand)
          and not ctx.is_default(node) and not ctx.is_axis(node)):
        v = -node.operand.value
        for k in (1, -1):
            yield node, ast.Constant(v + k), f"{v} → {v + k}"


def _bound_mutants(bound: ast.expr | None, what: str):
    if bound is None:
        return
    yield None, f"{what} bound `{ast.unparse(bound)}` dropped"
    yield _plus(bound, 1), f"{what} bound `{ast.unparse(bound)}` → `{ast.unparse(_plus(bound, 1))}`"
    yield _plus(bound, -1), f"{what} bound `{ast.unparse(bound)}` → `{ast.unparse(_plus(bound, -1))}`"


def _slice_bound(node, ctx):
    if isinstance(node, ast.Slice):
        for field in ("lower", "upper"):
            for repl, text in _bound_mutants(getattr(node, field), field):
                new = copy.deepcopy(node)
                setattr(new, field, repl)
                yield node, new, text
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "slice"
          and 2 <= len(node.args) <= 3 and not node.keywords):
        for i, what in ((0, "lower"), (1, "upper")):
            for repl, text in _bound_mutants(node.args[i], what):
                new = copy.deepcopy(node)
                new.args[i] = ast.Constant(None) if repl is None else repl
                yield node, new, text


def _swap_index(node, ctx):
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Tuple):
        elts = node.slice.elts
        for i in range(len(elts) - 1):
            if ast.dump(elts[i]) != ast.dump(elts[i + 1]) and not any(isinstance(e, ast.Starred) for e in elts[i:i + 2]):
                new = copy.deepcopy(node)
                new.slice.elts[i], new.slice.elts[i + 1] = new.slice.elts[i + 1], new.slice.elts[i]
                yield node, new, f"indices {i} and {i + 1} swapped"


def _names(target) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


def _swap_loop_var(node, ctx):
    if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Tuple):
        elts = node.target.elts
        for i in range(len(elts) - 1):
            if isinstance(elts[i], ast.Name) and isinstance(elts[i + 1], ast.Name):
                new_target = copy.deepcopy(node.target)
                new_target.elts[i], new_target.elts[i + 1] = new_target.elts[i + 1], new_target.elts[i]
                yield node.target, new_target, f"loop targets `{elts[i].id}` and `{elts[i + 1].id}` swapped"
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        loop_vars = ctx.loop_vars(node)
        if node.id in loop_vars and len(loop_vars) > 1:
            other = loop_vars[(loop_vars.index(node.id) + 1) % len(loop_vars)]
            yield node, ast.Name(other, ast.Load()), f"loop variable `{node.id}` → `{other}`"


def _augassign_to_assign(node, ctx):
    if isinstance(node, ast.AugAssign):
        new = ast.Assign([copy.deepcopy(node.target)], copy.deepcopy(node.value))
        yield node, new, f"{_SYMBOL.get(type(node.op), '?')}= → ="


def _reduction_axis(node, ctx):
    if not isinstance(node, ast.Call):
        return
    for i, kw in enumerate(node.keywords):
        if kw.arg != "axis":
            continue
        value = kw.value
        replacements = []
        if _is_int(value) or (isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub) and _is_int(value.operand)):
            v = value.value if _is_int(value) else -value.operand.value
            w = {0: 1, 1: 0, -1: -2}.get(v, v - 1 if v > 0 else v + 1)
            replacements.append((ast.Constant(w), f"axis={v} → axis={w}"))
        elif isinstance(value, ast.Tuple):
            for j in range(len(value.elts)):
                if len(value.elts) > 1:
                    elts = [copy.deepcopy(e) for k, e in enumerate(value.elts) if k != j]
                    replacements.append((ast.Tuple(elts, ast.Load()),
                                         f"axis entry `{ast.unparse(value.elts[j])}` dropped"))
        else:
            replacements.append((None, f"axis={ast.unparse(value)} dropped (reduce over all axes)"))
        for repl, text in replacements:
            new = copy.deepcopy(node)
            if repl is None:
                del new.keywords[i]
            else:
                new.keywords[i].value = repl
            yield node, new, text


def _drop_term(node, ctx):
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)) and not (
            _is_text(node.left) or _is_text(node.right)):
        sign = "+" if isinstance(node.op, ast.Add) else "-"
        yield node, copy.deepcopy(node.left), f"term `{sign} {ast.unparse(node.right)}` dropped"
        if isinstance(node.op, ast.Add):
            yield node, copy.deepcopy(node.right), f"term `{ast.unparse(node.left)} +` dropped"


def _default_arg(node, ctx):
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return
    for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
        if isinstance(d, ast.Constant) and isinstance(d.value, bool):
            yield d, ast.Constant(not d.value), f"default {d.value} → {not d.value}"
        elif _is_int(d):
            for k in (1, -1):
                yield d, ast.Constant(d.value + k), f"default {d.value} → {d.value + k}"


_OPERATORS: dict[str, Callable] = {
    "binop-swap": _binop_swap, "compare-swap": _compare_swap, "boolop-swap": _boolop_swap,
    "const-off-by-one": _const_off_by_one, "slice-bound": _slice_bound, "swap-index": _swap_index,
    "swap-loop-var": _swap_loop_var, "augassign-to-assign": _augassign_to_assign,
    "reduction-axis": _reduction_axis, "drop-term": _drop_term, "default-arg": _default_arg,
}
assert tuple(_OPERATORS) == OPERATORS


class _Context:
    """What the operators need to know about a node's surroundings."""

    def __init__(self, tree):
        self.parents = _parents(tree)
        self.defaults = {id(d) for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                         for d in node.args.defaults + node.args.kw_defaults if d is not None}
        self.axes = {id(n) for node in ast.walk(tree) if isinstance(node, ast.Call)
                     for kw in node.keywords if kw.arg == "axis" for n in ast.walk(kw.value)}

    def is_default(self, node) -> bool:
        return id(node) in self.defaults

    def is_axis(self, node) -> bool:
        return id(node) in self.axes

    def loop_vars(self, node) -> list[str]:
        """Names bound by the loops (for statements, comprehensions) that enclose ``node``."""
        names: list[str] = []
        child, parent = node, self.parents.get(node)
        while parent is not None and not isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if isinstance(parent, ast.For) and child is not parent.iter and child is not parent.target:
                names = _names(parent.target) + names
            elif isinstance(parent, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                for gen in parent.generators:
                    if child is not gen:
                        names = _names(gen.target) + names
            child, parent = parent, self.parents.get(parent)
        return list(dict.fromkeys(names))


# --- rendering one mutant ------------------------------------------------------------------------

def _offsets(source: str) -> list[int]:
    starts, total = [0], 0
    for line in source.splitlines(keepends=True):
        total += len(line.encode("utf-8"))
        starts.append(total)
    return starts


def _span(node, starts) -> tuple[int, int]:
    """Byte offsets of ``node`` in the source (ast's col_offsets count UTF-8 bytes)."""
    return starts[node.lineno - 1] + node.col_offset, starts[node.end_lineno - 1] + node.end_col_offset


def _render(source: bytes, starts, node, replacement) -> list[bytes]:
    """Candidate texts of the module with ``node`` replaced, smallest edit first."""
    a, b = _span(node, starts)
    old = source[a:b].decode("utf-8")
    candidates = []
    if isinstance(node, ast.stmt):
        indent = " " * node.col_offset
        text = ast.unparse(replacement).replace("\n", "\n" + indent)
        candidates.append(text)
    else:
        text = ast.unparse(replacement)
        # an operator changed in place keeps the author's spacing and parentheses
        if type(node) is type(replacement) and isinstance(node, (ast.BinOp, ast.Compare, ast.BoolOp)):
            candidates.append(_swap_operator_text(node, replacement, old, starts, a))
        if isinstance(node, ast.Tuple) and not old.startswith("(") and text.startswith("("):
            candidates.append(text[1:-1])          # `for i, j in` stays without parentheses
        candidates.append(text)
        candidates.append(f"({text})")
    return [source[:a] + c.encode("utf-8") + source[b:] for c in candidates if c is not None]


def _swap_operator_text(node, replacement, old: str, starts, a: int) -> str | None:
    """``old`` with only its operator token(s) replaced, when that is the whole change."""
    if isinstance(node, ast.BinOp):
        if ast.dump(node.left) != ast.dump(replacement.left) or ast.dump(node.right) != ast.dump(replacement.right):
            return None
        gap = [(node.left, node.right, _SYMBOL[type(node.op)], _SYMBOL[type(replacement.op)])]
    elif isinstance(node, ast.Compare):
        if len(node.ops) != len(replacement.ops):
            return None
        operands = [node.left, *node.comparators]
        gap = [(operands[i], operands[i + 1], _SYMBOL[type(o)], _SYMBOL[type(n)])
               for i, (o, n) in enumerate(zip(node.ops, replacement.ops)) if type(o) is not type(n)]
    else:
        gap = [(node.values[i], node.values[i + 1], _SYMBOL[type(node.op)], _SYMBOL[type(replacement.op)])
               for i in range(len(node.values) - 1)]
    raw = old.encode("utf-8")
    for left, right, was, now in reversed(gap):       # right to left keeps earlier offsets valid
        lo, hi = _span(left, starts)[1] - a, _span(right, starts)[0] - a
        between = raw[lo:hi].decode("utf-8")
        if between.count(was) != 1 and not (was == "is" and between.count("is") == 1):
            return None
        idx = between.index(was)
        # `is` inside `is not`, `<` inside `<=`: the whole token must match
        token_end = idx + len(was)
        rest = between[token_end:]
        if (was in ("<", ">", "=") and rest.startswith("=")) or (was == "*" and rest.startswith("*")) \
                or (was == "/" and rest.startswith("/")) or (was == "is" and rest.lstrip().startswith("not")):
            return None
        between = between[:idx] + now + between[token_end:]
        raw = raw[:lo] + between.encode("utf-8") + raw[hi:]
    return raw.decode("utf-8")


def _swap_in(parents, node, replacement) -> Callable[[], None]:
    """Put ``replacement`` where ``node`` is in its tree; returns the function that undoes it."""
    parent = parents[node]
    for field, value in ast.iter_fields(parent):
        if value is node:
            setattr(parent, field, replacement)
            return lambda: setattr(parent, field, node)
        if isinstance(value, list):
            for i, v in enumerate(value):
                if v is node:
                    value[i] = replacement
                    return lambda: value.__setitem__(i, node)
    raise LookupError("node not found under its parent")


def _top_level(parents, node) -> int:
    """Index in the module body of the top-level statement that holds ``node``."""
    while not isinstance(parents.get(node), ast.Module):
        node = parents[node]
    return parents[node].body.index(node)


def _context_text(node, parents) -> str:
    """The text around ``node`` that its ID hashes: the simple statement holding it, or for a
    compound statement (if, for, def) only the expression of its header that holds it."""
    child, parent = node, parents.get(node)
    while parent is not None and not isinstance(parent, ast.stmt):
        child, parent = parent, parents.get(parent)
    if parent is None:
        return ""
    if isinstance(node, ast.stmt):
        child, parent = node, node
    if not hasattr(parent, "body"):
        return ast.unparse(parent)
    return type(parent).__name__ + ":" + ("" if child is parent else ast.unparse(child))


def _diff(old: str, new: str, filename: str) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 f"a/{filename}", f"b/{filename}", n=1)
    return "".join(lines)


# --- the API -------------------------------------------------------------------------------------

def _sites(tree, operators) -> Iterator[tuple[str, ast.AST, ast.AST | None, str]]:
    ctx = _Context(tree)
    skip = _skipped(tree)
    nodes = sorted((n for n in ast.walk(tree) if hasattr(n, "lineno") or isinstance(n, ast.comprehension)),
                   key=lambda n: (n.target.lineno, n.target.col_offset) if isinstance(n, ast.comprehension)
                   else (n.lineno, n.col_offset))
    for node in nodes:
        if node in skip:
            continue
        for name in operators:
            for target, replacement, text in _OPERATORS[name](node, ctx):
                if target not in skip:
                    yield name, target, replacement, text


def generate(source: str, *, functions: Iterable[str] | None = None, seed: int = 0,
             per_function: int | None = None, operators: Iterable[str] | None = None,
             equivalents: Mapping[str, str] | None = None, filename: str = "module.py") -> list[Mutant]:
    """All single-point mutants of ``source`` (or ``per_function`` of each function, sampled with
    ``seed``), in source order. ``functions`` keeps only those qualified names (``"<module>"`` for
    module-level code); ``operators`` only those operators. ``equivalents`` maps mutant IDs to the
    reason each is equivalent; such mutants come back with ``equivalent`` set. Every mutant parses,
    differs from ``source`` in its AST, and no two share a text."""
    operators = tuple(operators) if operators is not None else OPERATORS
    unknown = set(operators) - set(OPERATORS)
    if unknown:
        raise ValueError(f"unknown mutation operators {sorted(unknown)}; known: {OPERATORS}")
    wanted = set(functions) if functions is not None else None
    tree = ast.parse(source)
    top_dumps: dict[int, str] = {}
    parents = _parents(tree)
    owners = _functions(tree)
    raw, starts = source.encode("utf-8"), _offsets(source)
    seen_text = {source}
    seen_id: dict[str, int] = {}
    out: list[Mutant] = []
    for name, node, replacement, text in _sites(tree, operators):
        function = owners.get(node, MODULE)
        if wanted is not None and function not in wanted:
            continue
        ast.fix_missing_locations(ast.copy_location(replacement, node))
        top = _top_level(parents, node)
        before = top_dumps.setdefault(top, ast.dump(tree.body[top]))
        undo = _swap_in(parents, node, replacement)
        try:
            expected_dump = ast.dump(tree.body[top])
        finally:
            undo()
        if expected_dump == before:
            continue
        mutated = None
        for candidate in _render(raw, starts, node, replacement):
            try:
                text_src = candidate.decode("utf-8")
                body = ast.parse(text_src).body
            except SyntaxError:
                continue
            # the text changed only inside statement `top`: comparing it alone is enough
            if len(body) == len(tree.body) and ast.dump(body[top]) == expected_dump:
                mutated = text_src
                break
        if mutated is None or mutated in seen_text:
            continue
        seen_text.add(mutated)
        key = "\x00".join((_context_text(node, parents), ast.unparse(node), ast.unparse(replacement)))
        base = f"{function}:{name}:{hashlib.sha1(key.encode()).hexdigest()[:8]}"
        seen_id[base] = seen_id.get(base, 0) + 1
        mid = base if seen_id[base] == 1 else f"{base}-{seen_id[base]}"
        old_text = ast.unparse(node) if not isinstance(node, ast.stmt) else ast.unparse(node).splitlines()[0]
        new_text = ast.unparse(replacement).splitlines()[0]
        description = f"{text}: `{old_text}` → `{new_text}`" if len(old_text) < 80 else text
        out.append(Mutant(mid, function, node.lineno, name, description, mutated, _diff(source, mutated, filename),
                          (equivalents or {}).get(mid)))
    if per_function is not None:
        out = _per_function(out, per_function, seed)
    return out


def _per_function(mutants: list[Mutant], n: int, seed: int) -> list[Mutant]:
    by_function: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_function.setdefault(m.function, []).append(m)
    keep = set()
    for function, group in by_function.items():
        rng = random.Random(f"{seed}:{function}")
        keep.update(m.id for m in rng.sample(group, min(n, len(group))))
    return [m for m in mutants if m.id in keep]


def sample(mutants: list[Mutant], n: int, seed: int = 0) -> list[Mutant]:
    """``n`` of ``mutants`` spread evenly over their functions (round robin over each function's
    shuffled mutants, functions in a shuffled order), returned in source order. Deterministic."""
    if n >= len(mutants):
        return list(mutants)
    by_function: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_function.setdefault(m.function, []).append(m)
    rng = random.Random(f"{seed}:sample")
    queues = []
    for function in sorted(by_function):
        group = list(by_function[function])
        rng.shuffle(group)
        queues.append(group)
    rng.shuffle(queues)
    chosen: set[str] = set()
    while len(chosen) < n:
        for q in queues:
            if q and len(chosen) < n:
                chosen.add(q.pop().id)
    return [m for m in mutants if m.id in chosen]


def stale_equivalents(mutants: Iterable[Mutant], equivalents: Mapping[str, str]) -> list[str]:
    """IDs in ``equivalents`` that match none of ``mutants`` (generate them all, unsampled, first):
    a marked mutant that the code no longer has, to be removed from the table."""
    ids = {m.id for m in mutants}
    return sorted(k for k in equivalents if k not in ids)
