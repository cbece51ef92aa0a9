"""Plans: the trial and the monthly execution limit of each, with what a workspace used."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from api import statistics as stats
from api.state import AppState
from schemas.envelope import now

TRIAL_DAYS = 14
# Executions a month by plan; None is unlimited.
PLAN_LIMITS: dict[str, int | None] = {"trial": 1_000, "free": 500, "starter": 10_000, "pro": 100_000, "enterprise": None}


def trial_info(plan: str, created_at: datetime, today: date) -> dict[str, Any]:
    ends = (created_at + timedelta(days=TRIAL_DAYS)).date()
    on_trial = plan == "trial"
    return {
        "plan": plan,
        "is_trial": on_trial,
        "trial_started_at": created_at if on_trial else None,
        "trial_ends_at": ends.isoformat() if on_trial else None,
        "days_left": max(0, (ends - today).days) if on_trial else None,
        "trial_expired": on_trial and today > ends,
    }


async def plan_and_limits(state: AppState, row: Any) -> dict[str, Any]:
    """Plan, trial and the monthly execution limit with what this month used (the statistics counters)."""
    moment = now()
    month_start = datetime(moment.year, moment.month, 1, tzinfo=moment.tzinfo)
    used = (await stats.window(state.pool, row["id"], month_start, moment + timedelta(hours=1))).started
    limit = PLAN_LIMITS.get(row["plan"])
    return {
        "plan": row["plan"],
        "trial_info": trial_info(row["plan"], row["created_at"], moment.date()),
        "execution_limits": {
            "monthly_limit": limit,
            "used_this_month": used,
            "remaining": None if limit is None else max(0, limit - used),
        },
    }
