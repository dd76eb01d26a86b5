"""Team members protect their gifts; the tallies drifted by past member deletions are
recounted from the rows.

Until now a team member's deletion set its gifts' member to none, while the member's tally
kept counting them: the campaign's figures drifted, and a later void or refund of such a gift
tried to take it off the "no member" tally, where it had never been counted. The member
foreign keys now PROTECT, and the tallies of every campaign are set to what their gifts and
monthly gifts add up to (as `totals_verify --fix` would), with the models as they are here.
"""

from decimal import Decimal

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce

# Frozen copies of the rules of donations/models.py at this migration.
SUCCEEDED = "succeeded"
DISPUTE_NOT_COUNTED = ("lost", "appeal_needs_response", "appeal_under_review")
MONTHLY_ACTIVE = ("active", "past_due")
ONLINE = "online"
ZERO = Decimal(0)


def recount_tallies(apps, schema_editor):
    Donation = apps.get_model("donations", "Donation")
    MonthlyGift = apps.get_model("donations", "MonthlyGift")
    GiftTally = apps.get_model("donations", "GiftTally")
    money = models.DecimalField(max_digits=14, decimal_places=2)
    actual: dict[tuple, dict] = {}
    gifts = (
        Donation.objects.filter(status=SUCCEEDED)
        .exclude(dispute_status__in=DISPUTE_NOT_COUNTED)
        .values("campaign_id", "team_member_id", "source")
        .annotate(
            raised=Coalesce(
                Sum(F("amount_converted") - F("amount_refunded_converted")),
                ZERO,
                output_field=money,
            ),
            gifts=Count("id"),
        )
        .order_by()
    )
    for row in gifts:
        key = (row["campaign_id"], row["team_member_id"] or 0, row["source"])
        actual.setdefault(key, {})
        actual[key].update(raised=row["raised"], gifts=row["gifts"])
    monthly = (
        MonthlyGift.objects.filter(status__in=MONTHLY_ACTIVE)
        .values("campaign_id", "team_member_id")
        .annotate(amount=Sum("amount_converted"), active=Count("id"))
        .order_by()
    )
    for row in monthly:
        key = (row["campaign_id"], row["team_member_id"] or 0, ONLINE)
        actual.setdefault(key, {})
        actual[key].update(monthly_amount=row["amount"], monthly_active=row["active"])
    empty = {"raised": ZERO, "gifts": 0, "monthly_amount": ZERO, "monthly_active": 0}
    for tally in GiftTally.objects.all():
        want = {**empty, **actual.pop((tally.campaign_id, tally.member_key, tally.source), {})}
        if any(getattr(tally, field) != value for field, value in want.items()):
            GiftTally.objects.filter(pk=tally.pk).update(**want)
    for (campaign_id, member_key, source), figures in sorted(actual.items()):
        GiftTally.objects.create(
            campaign_id=campaign_id, member_key=member_key, source=source, **{**empty, **figures}
        )


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0008_team_member_retired_and_campaign_history'),
        ('donations', '0016_organizers_see_monthly_gifts'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='donationchange',
            name='donation_change_action_valid',
        ),
        migrations.RemoveConstraint(
            model_name='monthlygiftchange',
            name='monthly_change_action_valid',
        ),
        migrations.AlterField(
            model_name='donation',
            name='team_member',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='donations', to='campaigns.teammember', verbose_name='team member'),
        ),
        migrations.AlterField(
            model_name='donationchange',
            name='action',
            field=models.CharField(choices=[('start', 'Checkout started'), ('payment', 'Payment recorded'), ('failure', 'Payment failed'), ('expiry', 'Checkout expired'), ('refund', 'Refund'), ('dispute', 'Dispute'), ('stripe', 'Stripe details updated'), ('record', 'Cash recorded'), ('edit', 'Edited'), ('void', 'Voided'), ('deposit', 'Cash deposited'), ('moderate', 'Moderated'), ('donor', 'Changed by the donor'), ('purge', 'Personal data removed'), ('member', 'Moved to another team member')], max_length=20, verbose_name='action'),
        ),
        migrations.AlterField(
            model_name='monthlygift',
            name='team_member',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='monthly_gifts', to='campaigns.teammember', verbose_name='team member'),
        ),
        migrations.AlterField(
            model_name='monthlygiftchange',
            name='action',
            field=models.CharField(choices=[('start', 'Checkout started'), ('stripe', 'Stripe reported a change'), ('payment', 'Month recorded'), ('stop', 'Stopped'), ('donor', 'Changed by the donor'), ('moderate', 'Moderated'), ('purge', 'Personal data removed'), ('member', 'Moved to another team member')], max_length=20, verbose_name='action'),
        ),
        migrations.AddConstraint(
            model_name='donationchange',
            constraint=models.CheckConstraint(condition=models.Q(('action__in', ['start', 'payment', 'failure', 'expiry', 'refund', 'dispute', 'stripe', 'record', 'edit', 'void', 'deposit', 'moderate', 'donor', 'purge', 'member'])), name='donation_change_action_valid'),
        ),
        migrations.AddConstraint(
            model_name='monthlygiftchange',
            constraint=models.CheckConstraint(condition=models.Q(('action__in', ['start', 'stripe', 'payment', 'stop', 'donor', 'moderate', 'purge', 'member'])), name='monthly_change_action_valid'),
        ),
        migrations.RunPython(recount_tallies, migrations.RunPython.noop),
    ]
