"""Execution history, served from the projection."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from api.deps import PrincipalDep, StateDep
from api.filters import DateFrom, DateTo
from api.pagination import PagingDep
from api.services.executions import execution_detail, execution_page
from schemas.answers.common import CappedPage
from schemas.answers.executions import ExecutionDetail, ExecutionSummary

router = APIRouter(prefix="/executions", tags=["executions"])


@router.get("", response_model=CappedPage[ExecutionSummary])
async def list_executions(
    request: Request,
    state: StateDep,
    principal: PrincipalDep,
    paging: PagingDep,
    workflow: str | None = Query(default=None, max_length=100),
    status: str | None = Query(default=None, max_length=20),
    user: str | None = Query(default=None, max_length=200),
    date_from: DateFrom | None = None,
    date_to: DateTo | None = None,
) -> dict[str, Any]:
    return await execution_page(
        request, state, principal.workspace_id, workflow=workflow, status=status, user=user,
        date_from=date_from, date_to=date_to, paging=paging,
    )


@router.get("/{execution_id}", response_model=ExecutionDetail)
async def get_execution(execution_id: str, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    return await execution_detail(state, principal.workspace_id, execution_id)
