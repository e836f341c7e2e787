"""The board at /leads/board/: a column per milestone; cards move through the pipeline service
(the move itself is ``leads.views.leads.lead_move``)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from leads.forms import LeadFilterForm, member_choices
from leads.models import Stage
from leads.selectors.board import BOARD_COLUMN_CAP, board_columns
from leads.selectors.leads import leads_filtered
from leads.views.common import recruiter_view


@require_GET
@recruiter_view
def board(request: HttpRequest) -> HttpResponse:
    owners = member_choices(request.employer_ids)
    form = LeadFilterForm(request.GET or None, employer_ids=request.employer_ids, owners=owners)
    filters = form.filters()
    filters.pop("stage", None)  # the columns are the stages
    columns = board_columns(leads_filtered(request.employer_ids, filters))
    context = {"form": form, "columns": columns, "stages": Stage.choices, "cap": BOARD_COLUMN_CAP,
               "filter_query": request.GET.urlencode()}
    return render(request, "leads/board.html", context)
