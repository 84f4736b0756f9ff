"""Build of the _overdrive C extension and the start-up autoload .pth file.

The extension is compiled from src/ with -Wall -Wextra -Werror. It must not link
libpython (Debian's python3.11 and python3.11-dbg link it statically); tests/test_build.py
checks separately that every CPython symbol it uses is exported by libpython.
"""
import glob
import os

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
# Every .c under src/, at any depth (layers may have sub-folders: src/tier2/hir, ...).
SOURCES = sorted(
    os.path.relpath(p, HERE)
    for p in glob.glob(os.path.join(HERE, "src", "**", "*.c"), recursive=True)
)
PTH = "overdrive-autoload.pth"


class BuildWithPth(build_py):
    """Also installs the .pth file at the top of site-packages (start-up autoload), in
    regular and in editable installs."""

    def run(self):
        super().run()
        source = os.path.join(HERE, "overdrive", "_autoload.pth")
        self.copy_file(source, os.path.join(self.build_lib, PTH), preserve_mode=0)
        if getattr(self, "editable_mode", False):
            # pip install -e . (setuptools >= 64, PEP 660): the editable wheel is built from
            # the install command's install_lib, and what build_py writes to build_lib is
            # dropped, so the hook goes there too; python -m overdrive needs it.
            install_lib = self.get_finalized_command("install").install_lib
            self.copy_file(source, os.path.join(install_lib, PTH), preserve_mode=0)

    def get_outputs(self, include_bytecode=1):
        return super().get_outputs(include_bytecode) + [os.path.join(self.build_lib, PTH)]


setup(
    ext_modules=[
        Extension(
            "_overdrive",
            sources=SOURCES,
            # -fno-plt: the runtime's calls into libpython (about 2,400 sites) go through
            # the GOT, not a PLT stub each: short programs execute 0.1-0.2% fewer
            # instructions and miss the instruction cache 1-4% less (cachegrind,
            # docs/performance.md "Thirteenth session"); start-up does not change.
            extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2",
                                "-fvisibility=hidden", "-fno-plt",
                                "-Wno-missing-field-initializers"],
            # libm by name: tier 2 calls pow, sin, exp... for float ** and math's functions
            # (src/tier2/rt/helpers.c), and must get the versions CPython's float_pow and
            # math module get (pow@@GLIBC_2.29, ...), not the unversioned reference's oldest
            # (pow@GLIBC_2.2.5: the SVID compatibility wrapper, 20 instructions more a call)
            libraries=["m"],
        )
    ],
    cmdclass={"build_py": BuildWithPth},
)
