"""GX Core 1.x custom expectation: every value of a column matches its exported-fields spec type.

Importing this module imports Great Expectations (seconds); only :mod:`.gxrun` imports it, inside the
quality check, never at DAG parse time.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics import ColumnMapMetricProvider, column_condition_partial
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer

from airflow_provider_jumpcloud.quality.checks import EXPECTED_SHAPE, match_array

METRIC = "column_values.match_spec_type"


class ColumnValuesMatchSpecType(ColumnMapMetricProvider):
    """Map metric: whether each non-null value of a column matches a spec type."""

    condition_metric_name = METRIC
    condition_value_keys = ("spec_type", "expected_value")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, spec_type: str, expected_value: str | None = None, **kwargs: Any
                ) -> pd.Series:
        return pd.Series(match_array(column.to_numpy(dtype=object), spec_type, expected_value),
                         index=column.index)


class ExpectColumnValuesToMatchSpecType(ColumnMapExpectation):
    """Expect every value (or every array element) of a column to match its Elasticsearch spec type."""

    spec_type: str
    expected_value: str | None = None

    map_metric: ClassVar[str] = METRIC
    success_keys: ClassVar[tuple[str, ...]] = ("spec_type", "expected_value", "mostly")
    args_keys: ClassVar[tuple[str, ...]] = ("column", "spec_type", "expected_value")

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(
        cls,
        configuration: Any = None,
        result: Any = None,
        runtime_configuration: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[RenderedStringTemplateContent]:
        runtime_configuration = runtime_configuration or {}
        params = dict(configuration.kwargs) if configuration is not None else {}
        spec_type = params.get("spec_type")
        params["shape"] = EXPECTED_SHAPE.get(str(spec_type), "?")
        template = "values must match spec type $spec_type ($shape)"
        if params.get("expected_value") is not None:
            template += " equal to $expected_value"
        template += "; arrays of such values are accepted."
        if runtime_configuration.get("include_column_name") is not False:
            template = "$column " + template
        return [
            RenderedStringTemplateContent(
                content_block_type="string_template",
                string_template={
                    "template": template,
                    "params": params,
                    "styling": runtime_configuration.get("styling"),
                },
            )
        ]
