from django.apps import AppConfig


class LeadsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "leads"
    verbose_name = "Relocate"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from leads.services.preferences import session_store_time_zone, user_time_zone

        def remember_time_zone(sender, request, user, **kwargs) -> None:
            # A saved zone follows the person to every new session.
            session_store_time_zone(request.session, user_time_zone(user))

        user_logged_in.connect(remember_time_zone, dispatch_uid="relocate-remember-time-zone")
