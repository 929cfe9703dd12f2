"""`python -m bench.ask`: one Django process answering the benchmark's polls. Each line read is
JSON `[module, *args]`; each line written is `{"result": ...}`, the last line `python -m module
*args` would print (from `module.main(args)`), or `{"error": traceback}`.

A poll every second or so that started Django each time would take most of a core of the two
the system under test has."""

from __future__ import annotations

import io
import json
import os
import sys
import traceback
from contextlib import redirect_stdout
from importlib import import_module


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connections

    for line in sys.stdin:
        module, *args = json.loads(line)
        printed = io.StringIO()
        try:
            with redirect_stdout(printed):
                import_module(module).main(args)
            reply = {"result": json.loads(printed.getvalue().strip().splitlines()[-1])}
        except Exception:
            reply = {"error": traceback.format_exc()}
        finally:
            connections.close_all()  # the next poll connects anew (the database may restart)
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
