"""``chainrule datasets``: the known data sets, where each was found, and how to get a missing one."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser("datasets", help="list the known data sets and where they are")
    p.add_argument("--root", help="folder to look in first")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args) -> int:
    from chainrule.datasets import describe_datasets

    rows = describe_datasets(args.root)
    if args.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        where = r["path"] or "NOT FOUND"
        print(f"{r['name']:<14} {where}")
        print(f"{'':<14} {r['title']}; train {r['n_train']}, val {r['n_val']}, test {r['n_test']}")
        if not r["path"]:
            print(f"{'':<14} how to get it: {r['how_to_get']}")
    return 0
