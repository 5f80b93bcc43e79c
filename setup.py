"""minimodel_fairseq: mini-model adaptation (Marchisio et al., 2023) as a fairseq plugin.

Every version pin lives here; scripts/setup.sh installs ``.[all]`` from this file (after torch and
fairseq's build requirements, which fairseq's build without isolation needs first).
"""

import os

from setuptools import find_packages, setup

EXTRAS = {
    "test": ["pytest>=8,<9", "pytest-xdist==3.8.0", "ruff==0.14.8"],
    # minimodel import-hf / export-hf (imported only inside those commands)
    "hf": ["transformers==5.23.0", "safetensors==0.8.0", "tokenizers==0.23.3"],
    "tensorboard": ["tensorboardX==2.6.5"],
    "anchors": ["uroman==1.3.1.1"],
    # benchmarks/transfer.py's accuracy-versus-compute plot
    "plot": ["matplotlib>=3.8,<4"],
}
EXTRAS["all"] = sorted({req for reqs in EXTRAS.values() for req in reqs})

setup(
    name="minimodel_fairseq",
    version="0.1.0",
    description="Mini-model adaptation of masked language models to new languages, as a fairseq --user-dir plugin",
    long_description=open("README.md", encoding="utf-8").read()
    if os.path.exists("README.md")
    else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # minimodel_recipes: the recipes' settings, tables and statistics (standard library and numpy at import)
    packages=find_packages(
        include=["minimodel_fairseq", "minimodel_fairseq.*", "minimodel_recipes"]
    ),
    install_requires=[
        "torch==2.13.0",
        "fairseq-fixed==0.12.3.1",
        "sentencepiece==0.2.1",
        "numpy>=1.26,<3",
        "sacrebleu>=2.4,<3",
    ],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["minimodel=minimodel_fairseq.cli:main"]},
)
