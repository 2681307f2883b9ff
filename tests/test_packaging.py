"""The release artifacts: `python -m build` makes a wheel and an sdist from a copy of the source tree; each installs
into a fresh virtualenv and passes unit tests there, importing the installed package, never the checkout.

The copy keeps the build's scratch files (`build/`, `*.egg-info`) out of the checkout; the fresh venvs see neither the
checkout nor this run's venv, so a module missing from the package, an undeclared dependency or a wrong
`requires-python` fails here. The unit tests copied beside each venv are tests/request (the request layer alone);
the installed `fcgi-handlers` command and the pytest plugin (loaded through its `pytest11` entry point) are
exercised too. The builds are pure Python (FCGI_HANDLERS_PURE=1): compiling with mypyc twice would cost minutes, and
the compiled modules have tests of their own. Needs PyPI for the build backend and the runtime dependencies, as
`pip install` does.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIP = (".git", ".venv", "build", "dist", "__pycache__", "*.egg-info", ".mypy_cache", ".pytest_cache", "*.pyc",
        "conformance-report", ".cache")
BUILD_TIMEOUT = 300
INSTALL_TIMEOUT = 300


def run(argv: list[str], cwd: Path, timeout: float) -> str:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                                 "FCGI_HANDLERS_PURE": "1"})
    assert result.returncode == 0, f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout[-3000:]}\n" \
                                   f"{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and the sdist, built from a copy of the tree as a release would build them."""
    source = tmp_path_factory.mktemp("source") / "fcgi-handlers"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*SKIP))
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], source, BUILD_TIMEOUT)
    return out


def one(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    assert len(found) == 1, (pattern, [p.name for p in directory.iterdir()])
    return found[0]


def test_the_sdist_holds_the_sources_and_the_wheel_the_packages(dist: Path) -> None:
    import tarfile
    import zipfile

    wheel = zipfile.ZipFile(one(dist, "*.whl")).namelist()
    assert "fcgi_handlers/testing/plugin.py" in wheel and "mod_python/apache.py" in wheel
    entry_points = next(name for name in wheel if name.endswith(".dist-info/entry_points.txt"))
    metadata = next(name for name in wheel if name.endswith(".dist-info/METADATA"))
    with zipfile.ZipFile(one(dist, "*.whl")) as archive:
        points = archive.read(entry_points).decode()
        meta = archive.read(metadata).decode()
    assert "[pytest11]" in points and "fcgi_handlers = fcgi_handlers.testing.plugin" in points
    assert "Requires-Python: >=3.10" in meta
    assert "Requires-Dist: tomli>=1.1; python_version < \"3.11\"" in meta
    sdist = tarfile.open(one(dist, "*.tar.gz")).getnames()
    assert any(name.endswith("/pyproject.toml") for name in sdist)
    assert any(name.endswith("/fcgi_handlers/app.py") for name in sdist)


@pytest.mark.parametrize("kind", ["*.whl", "*.tar.gz"])
def test_installed_into_a_fresh_venv_the_unit_tests_pass(dist: Path, tmp_path: Path, kind: str) -> None:
    artifact = one(dist, kind)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, clear=True)
    python = str(env_dir / "bin" / "python")
    run([python, "-m", "pip", "install", "-q", str(artifact), "pytest>=7", "hypothesis>=6"], tmp_path, INSTALL_TIMEOUT)
    where = run([python, "-c", "import fcgi_handlers, mod_python.apache; print(fcgi_handlers.__file__)"],
                tmp_path, 60)
    assert where.startswith(str(env_dir)), where   # the installed copy, not the checkout
    assert "fcgi-handlers" in run([str(env_dir / "bin" / "fcgi-handlers"), "--version"], tmp_path, 60)
    tests = tmp_path / "tests"
    shutil.copytree(REPO / "tests" / "request", tests / "request", ignore=shutil.ignore_patterns("__pycache__"))
    (tests / "pytest.ini").write_text("[pytest]\n")
    output = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tests), "-c",
                  str(tests / "pytest.ini"), str(tests / "request")], tests, INSTALL_TIMEOUT)
    assert " passed" in output and "failed" not in output
    fixtures = run([python, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider", "-c", str(tests / "pytest.ini"),
                    str(tests / "request")], tests, INSTALL_TIMEOUT)
    assert "mp_client" in fixtures and "httpd" in fixtures   # the plugin, loaded from the installed entry point
