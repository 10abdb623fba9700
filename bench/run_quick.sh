#!/bin/sh
# Run every benchmark in its quick mode (about a minute and a half), as CI does.
# Prints each bench's figures. Exits non-zero only when a bench crashes: a
# missed target is a figure to read, not a failed build.
#
#     bench/run_quick.sh                  # with the project's .venv
#     PYTHON=python3 bench/run_quick.sh   # with another Python that has voicecoach installed
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-"$here/../.venv/bin/python"}
failed=""
for bench in export pacing startup firstsound; do
    echo "== bench/$bench.py --quick"
    if ! "$python" "$here/$bench.py" --quick; then
        echo "bench/$bench.py crashed" >&2
        failed="$failed $bench"
    fi
done
if [ -n "$failed" ]; then
    echo "crashed:$failed" >&2
    exit 1
fi
