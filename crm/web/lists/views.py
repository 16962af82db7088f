"""List pages, "my day" and the global search."""

from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from crm.activities.selectors import my_open_tasks_until
from crm.deals.selectors import deals_needing_next_step

MY_DAY_LIMIT = 30


@login_required
@require_GET
def my_day(request: HttpRequest) -> HttpResponse:
    """Today's and overdue tasks, and the user's deals that have no next step planned."""
    now = timezone.localtime()
    end_of_today = (now + datetime.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    tasks = list(my_open_tasks_until(request.user, end_of_today)[:MY_DAY_LIMIT])  # type: ignore[arg-type]
    deals = list(deals_needing_next_step(request.user)[:MY_DAY_LIMIT])  # type: ignore[arg-type]
    return render(request, "crm/lists/my_day.html", {"tasks": tasks, "deals": deals, "now": now})
