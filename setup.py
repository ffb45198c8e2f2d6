"""Package layout that pyproject.toml alone cannot express.

envs/, planners/ and benchmarks/ live at the top of the repository (DESIGN.md layout) but
install as subpackages of ``cosmos_sim``, so no generic top-level name (``envs``, ``planners``)
lands in site-packages. Every subpackage below them is found and mapped automatically.
"""

from setuptools import find_packages, setup

PACKAGE_ROOTS = {
    "cosmos_sim": "cosmos_sim",
    "cosmos_sim.envs": "envs",
    "cosmos_sim.planners": "planners",
    "cosmos_sim.benchmarks": "benchmarks",
}

packages, package_dir = [], {}
for package, folder in PACKAGE_ROOTS.items():
    package_dir[package] = folder
    packages.append(package)
    packages += [f"{package}.{sub}" for sub in find_packages(folder)]

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={
        "cosmos_sim": ["configs/**/*.yaml", "zoo/**/*.json", "zoo/**/*.safetensors", "zoo/**/*.md"]
    },
)
