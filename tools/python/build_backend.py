"""A PEP 517 build backend with no requirements, so that `pip install tools/python` works offline.

It builds a pure-Python wheel of the `spkv` package (and an sdist of this folder): the files of spkv/, plus the
.dist-info metadata that pip needs (METADATA from pyproject.toml's [project] table, WHEEL, RECORD with hashes).
"""
import base64
import hashlib
import io
import os
import tarfile
import zipfile

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11: the two fields we need, read by hand
    tomllib = None

HERE = os.path.dirname(os.path.abspath(__file__))
TAG = "py3-none-any"


def _project():
    text = open(os.path.join(HERE, "pyproject.toml"), encoding="utf-8").read()
    if tomllib:
        return tomllib.loads(text)["project"]
    fields = {}
    for line in text.splitlines():
        if "=" in line and line.split("=")[0].strip() in ("name", "version", "description", "requires-python"):
            key, value = line.split("=", 1)
            fields[key.strip()] = value.strip().strip('"')
    fields["dependencies"] = ["numpy"]
    return fields


def _metadata(project):
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}",
             f"Summary: {project.get('description', '')}", f"Requires-Python: {project.get('requires-python', '>=3')}"]
    lines += [f"Requires-Dist: {d}" for d in project.get("dependencies", [])]
    return "\n".join(lines) + "\n"


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = _project()
    dist = f"{project['name']}-{project['version']}"
    files = []
    for root, _, names in os.walk(os.path.join(HERE, "spkv")):
        for n in sorted(names):
            if n.endswith(".py"):
                path = os.path.join(root, n)
                files.append((os.path.relpath(path, HERE).replace(os.sep, "/"), open(path, "rb").read()))
    files.append((f"{dist}.dist-info/METADATA", _metadata(project).encode()))
    files.append((f"{dist}.dist-info/WHEEL", f"Wheel-Version: 1.0\nGenerator: spkv build_backend\nRoot-Is-Purelib: true\nTag: {TAG}\n".encode()))
    record = [_record_line(n, d) for n, d in files] + [f"{dist}.dist-info/RECORD,,"]
    files.append((f"{dist}.dist-info/RECORD", ("\n".join(record) + "\n").encode()))
    wheel = f"{dist}-{TAG}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            z.writestr(name, data)
    return wheel


def build_sdist(sdist_directory, config_settings=None):
    project = _project()
    dist = f"{project['name']}-{project['version']}"
    path = os.path.join(sdist_directory, dist + ".tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for name in ["pyproject.toml", "build_backend.py", "README.md", "spkv/__init__.py"]:
            tar.add(os.path.join(HERE, name), arcname=f"{dist}/{name}")
        info = tarfile.TarInfo(f"{dist}/PKG-INFO")
        data = _metadata(project).encode()
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return os.path.basename(path)
