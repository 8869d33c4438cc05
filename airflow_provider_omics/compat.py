"""Airflow 2.11 / 3.x differences, and what the older libraries of a supported stack lack, in one place (cf.
the Amazon provider's ``version_compat.py``).

Everything else imports Airflow through ``airflow.providers.common.compat`` (what common-compat 1.7.3, MWAA
3.0.6's pin, has too) or paths that exist in every supported version; what cannot be written once is here.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow import __version__ as _airflow_version
from packaging.version import Version

AIRFLOW_VERSION = Version(Version(_airflow_version).base_version)
AIRFLOW_V_3_0_PLUS = Version("3.0.0") <= AIRFLOW_VERSION
AIRFLOW_V_3_1_PLUS = Version("3.1.0") <= AIRFLOW_VERSION
# Triggers get ``on_kill()`` when a user marks their deferred task failed, succeeded or clears it.
AIRFLOW_V_3_3_PLUS = Version("3.3.0") <= AIRFLOW_VERSION

# What a DAG file and the package import from Airflow's authoring interface. ``common.compat.sdk`` has it
# from common-compat 1.8; Amazon MWAA 3.0.6 pins 1.7.3, which has not, so it is imported where each Airflow
# keeps it. The example DAGs import these names from here, so they run unchanged on every supported stack.
try:
    from airflow.providers.common.compat.sdk import (
        DAG,
        AirflowException,
        BaseOperator,
        BaseSensorOperator,
        Param,
        TaskGroup,
        conf,
        get_current_context,
        task,
    )
except ImportError:
    if not TYPE_CHECKING:  # types are the newest stack's (above); the older stacks run the whole suite
        from airflow.configuration import conf
        from airflow.exceptions import AirflowException

        if AIRFLOW_V_3_0_PLUS:
            from airflow.sdk import DAG, BaseOperator, BaseSensorOperator, Param, TaskGroup, get_current_context, task
        else:
            from airflow.decorators import task
            from airflow.models.baseoperator import BaseOperator
            from airflow.models.dag import DAG
            from airflow.models.param import Param
            from airflow.operators.python import get_current_context
            from airflow.sensors.base import BaseSensorOperator
            from airflow.utils.task_group import TaskGroup

__all__ = [
    "DAG",
    "AirflowException",
    "BaseOperator",
    "BaseSensorOperator",
    "EventTriggerBase",
    "Param",
    "TaskGroup",
    "conf",
    "get_current_context",
    "task",
]


# A trigger that starts DAG runs (``AssetWatcher``) is a BaseEventTrigger from Airflow 3.0; 2.11 has no such
# thing, and defers a sensor on a BaseTrigger.
if AIRFLOW_V_3_0_PLUS or TYPE_CHECKING:
    from airflow.triggers.base import BaseEventTrigger as EventTriggerBase
else:
    from airflow.triggers.base import BaseTrigger as EventTriggerBase


async def task_state(ti: Any) -> str | None:
    """The state a task instance has now, asked from inside a trigger (raises if Airflow cannot say).

    Airflow 3 triggers have no database: they ask the API server through the triggerer's supervisor
    channel, from the event loop (``asend``: the channel is not safe to use from another thread).
    Airflow 2 triggerers read the database, in a thread.
    """
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.comms import GetTaskStates

        request = GetTaskStates(dag_id=ti.dag_id, map_index=ti.map_index, task_ids=[ti.task_id], run_ids=[ti.run_id])
        response: Any = await task_runner.SUPERVISOR_COMMS.asend(request)
        states = response.task_states
        key = ti.task_id if ti.map_index is None or ti.map_index < 0 else f"{ti.task_id}_{ti.map_index}"
        state: str | None = states.get(ti.run_id, {}).get(key)
        return state
    return await asyncio.to_thread(_task_state_from_database, ti)


def _task_state_from_database(ti: Any) -> str | None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(
            select(TaskInstance.state).where(
                TaskInstance.dag_id == ti.dag_id,
                TaskInstance.task_id == ti.task_id,
                TaskInstance.run_id == ti.run_id,
                TaskInstance.map_index == ti.map_index,
            )
        )


def ensure_asset_alias(name: str) -> None:
    """Airflow 2.11 records Asset events added through an alias only if the alias is in its database. A DAG
    processor writes it there from the task's outlets, ``dag.test()`` does not: then the task would fail
    after its job succeeded. Airflow 3 needs nothing."""
    if AIRFLOW_V_3_0_PLUS:
        return
    from airflow.models.dataset import DatasetAliasModel
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    try:
        with create_session() as session:
            if session.scalar(select(DatasetAliasModel.id).where(DatasetAliasModel.name == name)) is None:
                session.add(DatasetAliasModel(name=name))
    except IntegrityError:  # another task added it meanwhile
        pass
