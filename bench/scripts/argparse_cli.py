"""A command-line tool's front end: argparse with subcommands, help text through textwrap."""
import argparse
import textwrap


def build():
    parser = argparse.ArgumentParser(prog="tool", description=textwrap.dedent("""\
        A tool that does many things to many files. """ * 3),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("--config", metavar="PATH", help="configuration file " * 4)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("build", "test", "deploy", "clean", "lint", "serve"):
        p = sub.add_parser(name, help=f"{name} the project " * 3)
        p.add_argument("targets", nargs="*", help="what to " + name)
        p.add_argument("-j", "--jobs", type=int, default=1, help="parallel jobs")
        p.add_argument("--mode", choices=["debug", "release", "profile"], default="debug")
        p.add_argument("--define", "-D", action="append", default=[], metavar="K=V")
        p.add_argument("--dry-run", action="store_true")
        group = p.add_mutually_exclusive_group()
        group.add_argument("--quiet", action="store_true")
        group.add_argument("--loud", action="store_true")
    return parser


checks = 0
for i in range(30):
    parser = build()
    for argv in (["-vv", "build", "a", "b", "-j", "4", "--mode", "release", "-D", "x=1"],
                 ["test", "--dry-run", "--quiet", "t1"], ["--config", "c.toml", "deploy"],
                 ["serve", "-D", "a=1", "-D", "b=2", "--loud"]):
        ns = parser.parse_args(argv)
        checks += ns.verbose + len(ns.targets) + ns.jobs + len(ns.define)
    text = parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in action.choices.values():
                text += sp.format_help()
    wrapped = textwrap.fill(text, width=60 + i % 20)
    checks += len(wrapped.splitlines()) + len(textwrap.shorten(text, 200))
print(checks)
