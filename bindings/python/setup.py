"""Build and install the tcpsession Python package.

    pip install --no-build-isolation bindings/python      (from the repository)

Nothing is downloaded: the machine's setuptools and swig are used. The C
sources are taken from the repository this folder sits in (../../
tcpsession.h and the shared layer in ../../lib), so the package is built
from a checkout, from any working directory. It links libcrypto, libarchive and zlib (Debian: libssl-dev
libarchive-dev zlib1g-dev)."""
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
HEADER = os.path.join(TOP, "tcpsession.h")
LIB = os.path.join(TOP, "lib")

os.chdir(HERE)  # setuptools takes package paths relative to the working directory
if not os.path.isfile(HEADER):
    sys.exit("setup.py: %s is missing: build from a tcpsession checkout (bindings/python)" % HEADER)


def version():
    with open(HEADER) as f:
        for line in f:
            if line.startswith("#define TCPS_VERSION_STRING"):
                return line.split('"')[1]
    return "0"


class BuildExt(build_ext):
    """Run swig into the build folder, compile, and put the proxy module next to the extension."""

    def build_extension(self, ext):
        swig = os.environ.get("SWIG", "swig")
        tmp = os.path.abspath(self.build_temp)
        os.makedirs(tmp, exist_ok=True)
        wrap = os.path.join(tmp, "tcpsession_wrap.c")
        subprocess.check_call([swig, "-python", "-I" + TOP, "-I" + LIB, "-o", wrap, "-outdir", tmp,
                               os.path.join(TOP, "bindings", "tcpsession.i")])
        ext.sources = [wrap, os.path.join(TOP, "bindings", "impl.c")] + \
            sorted(os.path.join(LIB, s) for s in os.listdir(LIB) if s.endswith(".c"))
        super().build_extension(ext)
        dest = os.path.dirname(os.path.abspath(self.get_ext_fullpath(ext.name)))
        os.makedirs(dest, exist_ok=True)
        shutil.copyfile(os.path.join(tmp, "core.py"), os.path.join(dest, "core.py"))


setup(
    name="tcpsession",
    version=version(),
    description="TCP session reassembly from pcap and pcapng captures (Python binding of tcpsession.h)",
    license="MIT",
    packages=["tcpsession"],
    package_dir={"tcpsession": "tcpsession"},
    package_data={"tcpsession": ["__init__.pyi", "py.typed"]},
    ext_modules=[Extension(
        "tcpsession._core",
        sources=["../tcpsession.i"],  # replaced by BuildExt
        include_dirs=[TOP, LIB, HERE],
        define_macros=[("_POSIX_C_SOURCE", "200809L")],
        extra_compile_args=["-std=c99"],
        libraries=["crypto", "archive", "z"],
        extra_link_args=["-pthread"],
    )],
    cmdclass={"build_ext": BuildExt},
    python_requires=">=3.8",
    zip_safe=False,
)
