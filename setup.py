"""Maps the top-level folders onto the import names vidgen.core, vidgen.bot, vidgen.operator and
vidgen.runner (one distribution). Never installs a top-level `operator` package: it would shadow
the standard library."""

from setuptools import find_packages, setup

ROOTS = {
    "vidgen": "vidgen",
    "vidgen.core": "core",
    "vidgen.bot": "bot",
    "vidgen.operator": "operator",
    "vidgen.runner": "runner",
    "vidgen.analytics": "analytics",
}

packages: list[str] = []
package_dir: dict[str, str] = {}
for name, folder in ROOTS.items():
    package_dir[name] = folder
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=package_dir)
