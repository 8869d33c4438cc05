"""Apache Airflow provider for AWS HealthOmics."""

__version__ = "0.1.0"
