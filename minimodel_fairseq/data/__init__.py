"""Data preparation for minimodel_fairseq (real-text corpora)."""
