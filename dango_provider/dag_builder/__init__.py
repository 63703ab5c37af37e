from dango_provider.dag_builder.build import build_dags
from dango_provider.dag_builder.register import register

__all__ = ["build_dags", "register"]
