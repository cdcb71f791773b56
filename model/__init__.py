"""The paper's CNN and everything around it: data, training, artifacts, evaluation.

This package never imports ``fervid.pipeline``; the pipeline imports it.
"""
