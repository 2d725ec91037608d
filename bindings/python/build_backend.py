"""A small PEP 517 backend: setuptools builds (setup.py build), this packs the wheel.

setuptools before 70 needs the separate `wheel` package to make wheels; it
is not on every machine and cannot be downloaded here. A wheel is a zip
file with a dist-info folder, so it is written directly."""
import base64
import hashlib
import os
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "tcpsession"


def _version():
    with open(os.path.join(HERE, "..", "..", "tcpsession.h")) as f:
        for line in f:
            if line.startswith("#define TCPS_VERSION_STRING"):
                return line.split('"')[1]
    return "0"


def _tag():
    impl = "cp%d%d" % sys.version_info[:2]
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return "%s-%s-%s" % (impl, impl, plat)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def _metadata(version):
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
            "Summary: TCP session reassembly from pcap and pcapng captures (Python binding of tcpsession.h)\n"
            "License: MIT\nRequires-Python: >=3.8\n" % (NAME, version))


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    version = _version()
    di = "%s-%s.dist-info" % (NAME, version)
    os.makedirs(os.path.join(metadata_directory, di), exist_ok=True)
    with open(os.path.join(metadata_directory, di, "METADATA"), "w") as f:
        f.write(_metadata(version))
    return di


def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    tag = _tag()
    with tempfile.TemporaryDirectory(prefix="tcpsession-build-") as tmp:
        lib = os.path.join(tmp, "lib")
        subprocess.check_call([sys.executable, os.path.join(HERE, "setup.py"), "-q", "build",
                               "--build-base", os.path.join(tmp, "build"), "--build-lib", lib], cwd=HERE)
        name = "%s-%s-%s.whl" % (NAME, version, tag)
        di = "%s-%s.dist-info" % (NAME, version)
        records = []
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
            for root, _dirs, files in os.walk(lib):
                for fn in sorted(files):
                    full = os.path.join(root, fn)
                    arc = os.path.relpath(full, lib).replace(os.sep, "/")
                    with open(full, "rb") as f:
                        data = f.read()
                    z.writestr(arc, data)
                    records.append("%s,%s,%d" % (arc, _digest(data), len(data)))
            extra = {
                di + "/METADATA": _metadata(version),
                di + "/WHEEL": "Wheel-Version: 1.0\nGenerator: tcpsession build_backend\n"
                               "Root-Is-Purelib: false\nTag: %s\n" % tag,
                di + "/top_level.txt": NAME + "\n",
            }
            for arc, text in extra.items():
                data = text.encode()
                z.writestr(arc, data)
                records.append("%s,%s,%d" % (arc, _digest(data), len(data)))
            records.append(di + "/RECORD,,")
            z.writestr(di + "/RECORD", "\n".join(records) + "\n")
    return name


def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError("no sdist: the package is built from a tcpsession checkout")
