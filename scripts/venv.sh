# Sourced by scripts/setup-dev, scripts/test and scripts/demo, from the
# repository root: which interpreter and which virtualenv they use.
#
#   PYTHON  the interpreter: a command or a path, any CPython >= 3.10
#           (a distribution's /usr/bin/python3 works). Default: python3 on PATH.
#   VENV    the virtualenv directory. Default: .venv when PYTHON is not set,
#           else .venv-<version>-<hash of the interpreter's path>, so that
#           `PYTHON=/usr/bin/python3 scripts/test` leaves .venv alone.

# Set VENV (see above). PYTHON must run.
resolve_venv() {
    if [ -n "${VENV:-}" ]; then
        return
    fi
    if [ -z "${PYTHON:-}" ]; then
        VENV=.venv
        return
    fi
    local id
    id=$("$PYTHON" -c 'import hashlib, os, platform, sys
print(platform.python_version() + "-" + hashlib.sha256(os.path.realpath(sys.executable).encode()).hexdigest()[:8])') || {
        echo "setup: cannot run PYTHON=$PYTHON" >&2
        exit 1
    }
    VENV=.venv-$id
}
