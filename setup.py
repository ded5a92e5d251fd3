"""Build the Cython kernels. They are optional at build time: without a compiler the NumPy
reference kernels run instead, and `solverhub plugins` says so (CI fails on it)."""
import sys
from pathlib import Path

import numpy as np
from setuptools import Extension, find_packages, setup

try:
    from Cython.Build import cythonize
except ImportError:  # pragma: no cover - Cython is a build requirement (pyproject.toml)
    cythonize = None
    # pip's isolated build always has it; a direct `python setup.py build_ext` may not: say so
    # instead of building nothing silently
    print("solverhub setup.py: Cython is not installed, so no kernel is compiled (the NumPy "
          "references run; `solverhub plugins` shows it). pip install 'Cython>=3.0' to build them.",
          file=sys.stderr)

directives = {
    "boundscheck": False,
    "wraparound": False,
    "initializedcheck": False,
    "cdivision": True,
    "language_level": 3,
}

# One extension module per solverhub/cython_ext/<name>.pyx (the package lists the same names in
# solverhub.cython_ext.EXTENSIONS; tests/test_kernels.py keeps the two in step). Optional: without
# a compiler the NumPy references run, and `solverhub plugins` says which extension is missing
# and why; CI (.ci/run, tests/test_kernels.py) insists on compiled kernels.
extensions = [
    Extension(
        f"solverhub.cython_ext.{pyx.stem}",
        [pyx.as_posix()],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
        optional=True,
    )
    for pyx in sorted(Path("solverhub/cython_ext").glob("*.pyx"))
]

# solvers_cfg/ sits at the repository root (DESIGN.md) and ships inside the package as
# solverhub.solvers_cfg, so `solverhub run` finds the quickstart from an installed package.
packages = find_packages(include=["solverhub", "solverhub.*"]) + ["solverhub.solvers_cfg"]
package_dir = {"solverhub.solvers_cfg": "solvers_cfg"}

setup(packages=packages, package_dir=package_dir,
      ext_modules=cythonize(extensions, compiler_directives=directives) if cythonize else [])
