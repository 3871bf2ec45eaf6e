"""One layout rule: every top-level Python folder is `vidgen.<folder>` (core/ → vidgen.core,
operator/ → vidgen.operator, storage/ → vidgen.storage, …) and vidgen/ is only the root package
(its __init__ and the `vidgen` command). Never installs a top-level `operator` package: it would
shadow the standard library."""

from setuptools import find_packages, setup

#: The parts, each a top-level folder. operator/ has no __init__.py (see vidgen/__init__.py).
PARTS = ("core", "storage", "runner", "operator", "local", "bot", "analytics", "api")

packages = ["vidgen"]
package_dir = {"vidgen": "vidgen"}
for folder in PARTS:
    name = f"vidgen.{folder}"
    package_dir[name] = folder
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=package_dir)
