"""What the stages that run Apache Beam pipelines share: the configured runner (`runners`), Beam's Dask
runner with the project's fixes (`dask_runner`), and reading an artifact's JSON lines in blocks (`io`)."""
