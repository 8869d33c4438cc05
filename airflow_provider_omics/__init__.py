"""Apache Airflow provider for AWS HealthOmics."""

from airflow_provider_omics import versions

__version__ = "0.1.0"

versions.check()  # an environment it cannot serve fails here, where a DAG is parsed, naming what it needs
