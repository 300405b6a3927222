"""Writes a minimal, valid pure-Python wheel (PEP 427) for the class tests: make_wheel.py NAME VERSION OUTDIR.

No build backend and no network: the wheel holds one module, NAME.py, defining GREETING, plus the dist-info files
pip and twine check (METADATA 2.1, WHEEL, RECORD with sha256 digests).
"""
import base64
import hashlib
import os
import sys
import zipfile


def digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main() -> None:
    name, version, outdir = sys.argv[1:4]
    module = name.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {
        f"{module}.py": f'GREETING = "hello from {name} {version}"\n'.encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: connectors test package\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: connectors-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},{digest(data)},{len(data)}\n" for path, data in files.items()) + f"{info}/RECORD,,\n"
    files[f"{info}/RECORD"] = record.encode()
    path = os.path.join(outdir, f"{module}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for p, data in files.items():
            z.writestr(p, data)
    print(path)


if __name__ == "__main__":
    main()
