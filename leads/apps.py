from django.apps import AppConfig


class LeadsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "leads"
    verbose_name = "Relocate"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from leads.services.preferences import session_store_preferences

        def remember_time_zone(sender, request, user, **kwargs) -> None:
            # A saved zone and UI language follow the person to every new session.
            session_store_preferences(request.session, user)

        user_logged_in.connect(remember_time_zone, dispatch_uid="relocate-remember-time-zone")
        from leads import audit_signals

        audit_signals.connect()
        self._forget_public_pages_on_change()
        from leads import checks  # noqa: F401 - registers the deploy checks

    @staticmethod
    def _forget_public_pages_on_change() -> None:
        """The public form is served from a cached snapshot of the employer and its openings;
        any save or delete of either drops it, now and again once the change is committed
        (so that a request in between cannot cache the old state for long)."""
        from django.db import transaction
        from django.db.models.signals import post_delete, post_save, pre_save

        from leads.models import Employer, Opening
        from leads.selectors.public import public_page_forget

        def forget(*slugs: str) -> None:
            public_page_forget(*slugs)
            transaction.on_commit(lambda: public_page_forget(*slugs))

        def employer_renamed(sender, instance, raw=False, **kwargs) -> None:
            if instance.pk and not raw:
                instance._slug_before = (
                    Employer.objects.filter(pk=instance.pk).values_list("slug", flat=True).first()
                )

        def employer_changed(sender, instance, **kwargs) -> None:
            forget(instance.slug, getattr(instance, "_slug_before", None) or "")

        def opening_changed(sender, instance, **kwargs) -> None:
            slug = Employer.objects.filter(pk=instance.employer_id).values_list("slug", flat=True).first()
            forget(slug or "")

        pre_save.connect(employer_renamed, sender=Employer, dispatch_uid="relocate-public-page-employer-pre")
        post_save.connect(employer_changed, sender=Employer, dispatch_uid="relocate-public-page-employer")
        post_delete.connect(employer_changed, sender=Employer, dispatch_uid="relocate-public-page-employer-del")
        post_save.connect(opening_changed, sender=Opening, dispatch_uid="relocate-public-page-opening")
        post_delete.connect(opening_changed, sender=Opening, dispatch_uid="relocate-public-page-opening-del")
