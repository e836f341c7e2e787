"""The recruiter UI (login required, scoped to the user's employers) and the public inquiry form."""

from django.urls import path

from leads.views import (
    account,
    board,
    bulk,
    compose,
    dashboard,
    leads,
    merge,
    next_steps,
    public,
    saved_views,
    team,
    unsubscribe,
)

app_name = "leads"

urlpatterns = [
    # My data download (no login: the signed, expiring my-data link is the credential)
    path("my-data/<str:token>/download/", unsubscribe.my_data_download, name="my_data_download"),
    # Team (employer admins; the invitation link needs no login)
    path("team/", team.team, name="team"),
    path("team/invite/", team.team_invite, name="team_invite"),
    path("team/invite/<str:token>/", team.team_invite_accept, name="team_invite_accept"),
    path("team/members/<int:membership_id>/role/", team.team_member_role, name="team_member_role"),
    path("team/members/<int:membership_id>/round-robin/", team.team_member_round_robin,
         name="team_member_round_robin"),
    path("team/members/<int:membership_id>/resend/", team.team_invite_resend, name="team_invite_resend"),
    path("team/members/<int:membership_id>/remove/", team.team_member_remove, name="team_member_remove"),
    # Tasks
    path("tasks/", next_steps.task_list, name="tasks"),
    path("tasks/<int:task_pk>/done/", next_steps.task_done_view, name="task_done"),
    path("tasks/<int:task_pk>/snooze/", next_steps.task_snooze_view, name="task_snooze"),
    path("tasks/<int:task_pk>/reassign/", next_steps.task_reassign_view, name="task_reassign"),
    path("leads/<int:pk>/tasks/new/", next_steps.lead_task_add, name="lead_task_add"),
    path("leads/<int:pk>/tasks/quick/", next_steps.lead_task_quick, name="lead_task_quick"),
    # Email from the lead page
    path("leads/<int:pk>/email/", compose.lead_email, name="lead_email"),
    # Public: no login, the employer from the URL.
    path("apply/<slug:slug>/", public.apply, name="public_apply"),
    path("apply/<slug:slug>/thanks/", public.thanks, name="public_thanks"),
    path("apply/<slug:slug>/logo/", public.logo, name="public_logo"),
    # Recruiters.
    path("", dashboard.dashboard, name="dashboard"),
    path("account/preferences/", account.preferences, name="preferences"),
    # The page's first address, kept for links already given out.
    path("account/time-zone/", account.preferences, name="time_zone"),
    path("leads/", leads.lead_list, name="lead_list"),
    # Saved views of the list
    path("leads/views/", saved_views.saved_view_create, name="saved_view_create"),
    path("leads/views/<int:view_pk>/delete/", saved_views.saved_view_remove, name="saved_view_delete"),
    # Board
    path("leads/board/", board.board, name="board"),
    path("leads/board/column/<slug:stage>/", board.board_column, name="board_column"),
    path("leads/board/move/<int:pk>/", board.board_move, name="board_move"),
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
