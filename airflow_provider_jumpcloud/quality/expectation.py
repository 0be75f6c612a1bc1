"""GX Core 1.x custom expectation: every row of the gathered-values table matches its field's spec type.

The table (see :mod:`.gxrun`) has one row per distinct value of a field, with the field, its spec type and,
for ``constant_keyword`` fields, the expected constant; one expectation over those columns covers every
field of the spec, so the suite does not grow with the number of fields present.

Importing this module imports Great Expectations (seconds); only :mod:`.gxrun` imports it, inside the
quality check, never at DAG parse time.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import MulticolumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import MulticolumnMapMetricProvider
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (
    multicolumn_condition_partial,
)
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer

from airflow_provider_jumpcloud.quality.checks import match_array

METRIC = "multicolumn_values.match_spec_type"
#: The columns the expectation reads, in this order: field name, value, spec type, expected constant.
TYPE_COLUMNS = ("field", "value", "spec_type", "expected")


class MulticolumnValuesMatchSpecType(MulticolumnMapMetricProvider):
    """Map metric: whether each row's value matches the row's spec type (and expected constant)."""

    condition_metric_name = METRIC
    condition_domain_keys = ("batch_id", "table", "column_list", "row_condition", "condition_parser",
                             "ignore_row_if")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        values = column_list["value"].to_numpy(dtype=object)
        ok = np.ones(len(values), dtype=bool)
        groups = column_list.groupby(["spec_type", "expected"], observed=True, dropna=False, sort=False).indices
        for (spec_type, constant), rows in groups.items():
            ok[rows] = match_array(values[rows], str(spec_type), constant if isinstance(constant, str) else None)
        return pd.Series(ok, index=column_list.index)


class ExpectRowValuesToMatchSpecType(MulticolumnMapExpectation):
    """Expect every row's value (or every array element) to match the Elasticsearch type of its field."""

    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"

    map_metric: ClassVar[str] = METRIC
    args_keys: ClassVar[tuple[str, ...]] = ("column_list",)

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
        return [
            RenderedStringTemplateContent(
                content_block_type="string_template",
                string_template={
                    "template": "each field's values must match its spec type (a constant_keyword field its "
                                "constant); arrays of such values are accepted.",
                    "params": {},
                    "styling": runtime_configuration.get("styling"),
                },
            )
        ]
