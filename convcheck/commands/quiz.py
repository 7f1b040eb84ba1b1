"""``convcheck quiz``: an interactive terminal quiz, checking one answer, and LMS export.

    convcheck quiz [--n 5] [--seed 0] [--topic output-size,params]   ask, check, explain (reads stdin)
    convcheck quiz check conv-out-2d:1234 14x14                       mark one answer from a handout
    convcheck quiz show conv-out-2d:1234                              print a question
    convcheck quiz list                                               templates and topics
    convcheck quiz export --format moodle-xml|gift|json --variants 5 -o quiz.xml
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MAX_TRIES = 3  # malformed answers tolerated per question before it is skipped


def register(sub) -> None:
    p = sub.add_parser("quiz", help="quiz yourself on CNN arithmetic and concepts; export to Moodle/GIFT",
                       description=__doc__.split("\n\n", 1)[1] if "\n\n" in __doc__ else None,
                       formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=5, help="number of questions (default 5)")
    p.add_argument("--seed", type=int, default=None, help="seed of the draw (default: random)")
    p.add_argument("--topic", default=None,
                   help="comma-separated topics or template names (see `convcheck quiz list`)")
    p.set_defaults(func=run, action=None)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    c = actions.add_parser("check", help="mark an answer to a question ID")
    c.add_argument("id", help="question ID, e.g. conv-out-2d:1234")
    c.add_argument("answer", nargs="+", help="the answer as typed, e.g. 14x14, (14, 14), 62,006, 19.5 MiB or c")
    c.add_argument("--json", action="store_true", help="print the verdict as JSON")
    s = actions.add_parser("show", help="print the question with this ID")
    s.add_argument("id", nargs="+")
    s.add_argument("--answer", action="store_true", help="also print the answer and its working")
    actions.add_parser("list", help="list the templates and topics")
    e = actions.add_parser("export", help="write variants for a learning platform")
    e.add_argument("--format", required=True, choices=["moodle-xml", "gift", "json"])
    e.add_argument("--variants", type=int, default=5, help="variants per numeric template (default 5)")
    e.add_argument("--seed", dest="export_seed", type=int, default=0, help="seed of the variant draw")
    e.add_argument("--topic", dest="export_topic", default=None, help="restrict to topics/templates")
    e.add_argument("-o", "--out", required=True, help="output file ('-' for stdout)")


def run(args) -> int:
    from convcheck.assignments import quiz

    try:
        if args.action == "check":
            return _check(quiz, args)
        if args.action == "show":
            for qid in args.id:
                q = quiz.question(qid)
                print(f"[{q.id}]\n{q.prompt()}")
                if args.answer:
                    print(f"answer: {q.answer.display(q.choices)}\n{q.explanation}")
                print()
            return 0
        if args.action == "list":
            return _list(quiz)
        if args.action == "export":
            return _export(quiz, args)
        return interactive(quiz, n=args.n, seed=args.seed, topic=args.topic)
    except ValueError as exc:
        print(f"convcheck quiz: {exc}", file=sys.stderr)
        return 2


def _check(quiz, args) -> int:
    verdict = quiz.check(args.id, " ".join(args.answer))
    if args.json:
        print(json.dumps(verdict.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(f"[{verdict.question.id}] {verdict.message}")
        if verdict.status != "malformed":
            print(_indent(verdict.question.explanation))
    return {"correct": 0, "wrong": 1, "malformed": 2}[verdict.status]


def _list(quiz) -> int:
    for topic in quiz.TOPICS:
        print(f"{topic}:")
        for t in quiz.TEMPLATES.values():
            if t.topic == topic:
                print(f"  {t.name:<30} {t.summary}")
    return 0


def _export(quiz, args) -> int:
    questions = quiz.variants(args.variants, args.export_seed, quiz.select(args.export_topic))
    text = quiz.export(questions, args.format)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {len(questions)} questions ({args.format}, {len(text.encode('utf-8')):,} bytes) "
              f"to {args.out}", file=sys.stderr)
    return 0


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.split("\n"))


def interactive(quiz, n: int = 5, seed: int | None = None, topic: str | None = None,
                stdin=None, stdout=None) -> int:
    """Ask ``n`` questions on ``stdin``/``stdout``; 'skip' reveals an answer, 'quit' stops."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    if seed is None:
        import random
        seed = random.SystemRandom().randrange(10_000)
    questions = quiz.sample(n, seed=seed, topic=topic)
    echo = not (hasattr(stdin, "isatty") and stdin.isatty())  # show piped answers in the transcript

    def say(text=""):
        print(text, file=stdout, flush=True)

    say(f"convcheck quiz: {n} question{'s' if n != 1 else ''} (seed {seed}). "
        "Type your answer; 'skip' shows it, 'quit' stops.")
    score = asked = 0
    for i, q in enumerate(questions, 1):
        say(f"\nQuestion {i}/{n}  [{q.id}]\n{q.prompt()}")
        verdict = None
        for _ in range(MAX_TRIES):
            stdout.write("> ")
            stdout.flush()
            line = stdin.readline()
            if not line:  # end of input: stop like 'quit'
                say()
                return _finish(say, score, asked)
            line = line.strip()
            if echo:
                say(line)
            if line.lower() in ("quit", "exit", "q"):
                return _finish(say, score, asked)
            if line.lower() in ("skip", "?"):
                break
            if not line:
                say("  type an answer, 'skip' or 'quit'")
                continue
            verdict = quiz.check(q, line)
            if verdict.status != "malformed":
                break
            say(f"  {verdict.message}")
            verdict = None
        asked += 1
        if verdict is None:
            say(f"  answer: {q.answer.display(q.choices)}")
        else:
            score += verdict.correct
            say(("  ✓ " if verdict.correct else "  ✗ ") + verdict.message)
        say(_indent(_indent(q.explanation)))
    return _finish(say, score, asked)


def _finish(say, score: int, asked: int) -> int:
    say(f"\nscore: {score}/{asked}")
    return 0
