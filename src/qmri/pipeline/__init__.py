"""The Snakemake pipeline's helpers, in the spirit of pypsa-eur's ``_helpers.py``: the study a job reads from the
config (``study``), what the workflow plans with at parse time (``plan``), a rule job's set-up (``rulejob``) and
the fit stage (``fits``)."""
