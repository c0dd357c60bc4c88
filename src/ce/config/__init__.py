"""The configuration layer: conda's condarc files and ``CONDA_*`` variables, and channel resolution.

The bottom of ce's layers above the foundation modules: nothing here imports
environments, backends, script mode or the command line.
"""
