"""The recruiter UI (login required, scoped to the user's employers) and the public inquiry form."""

from django.urls import path

from leads.views import account, board, bulk, dashboard, leads, merge, public

app_name = "leads"

urlpatterns = [
    # Public: no login, the employer from the URL.
    path("apply/<slug:slug>/", public.apply, name="public_apply"),
    path("apply/<slug:slug>/thanks/", public.thanks, name="public_thanks"),
    path("apply/<slug:slug>/logo/", public.logo, name="public_logo"),
    # Recruiters.
    path("", dashboard.dashboard, name="dashboard"),
    path("account/time-zone/", account.time_zone, name="time_zone"),
    path("leads/", leads.lead_list, name="lead_list"),
    path("leads/board/", board.board, name="board"),
    path("leads/new/", leads.lead_add, name="lead_add"),
    path("leads/bulk/", bulk.bulk_action, name="bulk_action"),
    path("leads/export.csv", bulk.export_csv, name="export_csv"),
    path("leads/<int:pk>/", leads.lead_detail, name="lead_detail"),
    path("leads/<int:pk>/move/", leads.lead_move, name="lead_move"),
    path("leads/<int:pk>/assign/", leads.lead_assign_view, name="lead_assign"),
    path("leads/<int:pk>/note/", leads.lead_note, name="lead_note"),
    path("leads/<int:pk>/activity/", leads.lead_activity, name="lead_activity"),
    path("leads/<int:pk>/followups/", leads.lead_followups, name="lead_followups"),
    path("leads/<int:pk>/edit/", leads.lead_edit, name="lead_edit"),
    path("leads/<int:pk>/cv/", leads.lead_cv, name="lead_cv"),
    path("leads/<int:pk>/changes/<int:change_pk>/", leads.lead_profile_change, name="lead_profile_change"),
    path("leads/<int:pk>/merge/<int:other_pk>/", merge.lead_merge_view, name="lead_merge"),
    path("leads/<int:pk>/not-duplicate/<int:other_pk>/", merge.duplicates_dismiss_view, name="lead_not_duplicate"),
]
