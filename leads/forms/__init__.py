"""The forms of Relocate, by job: the profile (derived from ``leads/profile.py``), the public
form, the list's filters, the actions on leads, CV uploads and the widgets they share.

Forms check and convert input; writes go through the services. Every field has a bound
length so that oversized input is a clear field error, never a database error.
"""

from leads.forms.actions import (
    ActivityForm,
    AssignForm,
    BulkActionForm,
    LeadIdsField,
    MoveStageForm,
    NoteForm,
)
from leads.forms.filters import LeadFilterForm, member_choices
from leads.forms.profile import LeadEditForm, LeadProfileForm, ManualLeadForm
from leads.forms.public import PublicInquiryForm, started_token, started_token_claim
from leads.forms.uploads import CV_MAX_BYTES, clean_cv_upload

__all__ = [
    "CV_MAX_BYTES", "ActivityForm", "AssignForm", "BulkActionForm", "LeadEditForm", "LeadFilterForm", "LeadIdsField",
    "LeadProfileForm", "ManualLeadForm", "MoveStageForm", "NoteForm", "PublicInquiryForm", "clean_cv_upload",
    "member_choices", "started_token", "started_token_claim",
]
