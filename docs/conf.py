"""Sphinx configuration of the documentation site (``make docs``: warnings are errors)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# autodoc imports Airflow, which makes its home on import: keep it inside the build, not in ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / "docs" / "_build" / "airflow-home"))

from airflow_provider_omics import __version__  # noqa: E402

project = "airflow-provider-omics"
author = "airflow-provider-omics contributors"
copyright = "2026, airflow-provider-omics contributors"  # the footer: "Copyright © 2026, ..."
release = version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.viewcode"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3  # `[text](page.md#a-heading)` is checked like any reference

html_theme = "furo"
html_title = f"airflow-provider-omics {release}"
html_static_path = ["_static"]
html_css_files = ["omics.css"]

autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the docstrings say what each argument takes; signatures stay readable
autodoc_default_options = {"members": True, "show-inheritance": True}
suppress_warnings = ["myst.header"]  # an included CHANGELOG starts below the page's own title level


def _skip_operator_methods(app: Sphinx, what: str, name: str, obj: object, skip: bool, options: object) -> bool:
    """Operators, sensors and triggers are documented by their arguments; their methods are Airflow's to call."""
    owner, _, member = getattr(obj, "__qualname__", "").partition(".")
    airflow_calls_it = owner.startswith("Omics") and owner.endswith(("Operator", "Sensor", "Trigger", "Link"))
    return skip or bool(member and airflow_calls_it)


def _publish_facet_schema(app: Sphinx, exception: Exception | None) -> None:
    """The OpenLineage facet's ``_schemaURL`` points here: ``_static/schemas/OmicsRunFacet.json``."""
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "schemas"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "airflow_provider_omics" / "schemas" / "OmicsRunFacet.json", target)


def setup(app: Sphinx) -> None:
    app.connect("autodoc-skip-member", _skip_operator_methods)
    app.connect("build-finished", _publish_facet_schema)
