"""The pipeline's steps, one module each: ingest, score, prices, build, report, compact.

The CLI (front door 1) and the Prefect flows in ``pipelines/`` (front door 2) call the same functions here. Each
step reads from and writes to the lake, holds the IO, and leaves the pure transforms to their own modules; each is
idempotent (running it again writes nothing new) and records its run in the ``runs`` table. Import the module you
need (``from sentiment.steps import ingest``): importing one does not load the others' heavy dependencies.
"""
