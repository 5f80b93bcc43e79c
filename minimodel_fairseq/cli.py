"""The ``minimodel`` command: small tools around the fairseq steps of the method.

    minimodel user-dir            print the path to give fairseq's --user-dir
"""
import argparse
import sys


class UserError(Exception):
    """Bad input: printed as one line (``minimodel: error: ...``), exit code 2."""


def _user_dir(args):
    import os

    # Only the path: no need to import fairseq for this.
    print(os.path.dirname(os.path.abspath(__file__)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minimodel", description="Mini-model adaptation tools for fairseq (minimodel_fairseq)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "user-dir",
        help="print the plugin's path, for `fairseq-train --user-dir $(minimodel user-dir)`",
    )
    p.set_defaults(func=_user_dir)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except UserError as e:
        parser.exit(2, f"minimodel: error: {e}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
