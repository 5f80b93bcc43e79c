"""minimodel_fairseq: mini-model adaptation (Marchisio et al., 2023) as a fairseq plugin."""
from setuptools import find_packages, setup

setup(
    name="minimodel_fairseq",
    version="0.1.0",
    description="Mini-model adaptation of masked language models to new languages, as a fairseq --user-dir plugin",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["minimodel_fairseq", "minimodel_fairseq.*"]),
    install_requires=[
        "torch==2.13.0",
        "fairseq-fixed==0.12.3.1",
        "sentencepiece==0.2.1",
        "numpy>=1.26,<3",
    ],
    extras_require={
        "test": ["pytest>=8,<9", "pytest-xdist==3.8.0"],
        # minimodel import-hf / export-hf (imported only inside those commands)
        "hf": ["transformers==5.23.0", "safetensors==0.8.0", "tokenizers==0.23.3"],
        "tensorboard": ["tensorboardX==2.6.5"],
        "anchors": ["uroman==1.3.1.1"],
    },
    entry_points={"console_scripts": ["minimodel=minimodel_fairseq.cli:main"]},
)
