"""`volunteer_add USERNAME CAMPAIGN_SLUG [--password P]`: let someone record cash for a campaign."""

from __future__ import annotations

import getpass

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from campaigns.models import Campaign
from donations.services.cash import volunteer_assign


class Command(BaseCommand):
    help = (
        "Create the user if missing, add them to the Volunteers group and assign the campaign. "
        "Asks for a password when the user is new and --password is not given."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("campaign_slug")
        parser.add_argument("--password", help="Password for a new user, or a new password.")
        parser.add_argument("--email", default="", help="Email for password resets.")

    def handle(self, *args, username: str, campaign_slug: str, password, email: str, **options):
        try:
            campaign = Campaign.objects.get(slug=campaign_slug)
        except Campaign.DoesNotExist as error:
            raise CommandError(f"No campaign with the slug {campaign_slug!r}.") from error
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None and password is None:
            password = self._ask_password()
        with transaction.atomic():
            created = user is None
            if created:
                user = user_model.objects.create_user(username=username, email=email)
            if password is not None:
                self._validate(password, user)
                user.set_password(password)
            if email and not user.email:
                user.email = email
            user.save()
            volunteer_assign(by=None, user=user, campaign=campaign)  # the operator
        verb = "Created" if created else "Updated"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {username}: may record cash for {campaign.slug}.")
        )

    def _ask_password(self) -> str:
        for _attempt in range(3):
            password = getpass.getpass("Password: ")
            if password and password == getpass.getpass("Password (again): "):
                return password
            self.stderr.write("The passwords were empty or did not match.")
        raise CommandError("No password given.")

    def _validate(self, password: str, user) -> None:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
