"""Rates are changed by superusers only, with history; completions and receipt resends too.

The Organizers group loses its rights to add, change or delete exchange rates (it keeps
seeing them: gifts are converted with them). A rate's changes and a receipt sent again each
get a history row (a campaign's completion gets campaigns.CampaignChange).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


RATE_RIGHTS_TAKEN = ["add_exchangerate", "change_exchangerate", "delete_exchangerate"]


def _organizer_rights(apps):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    organizers, _created = Group.objects.get_or_create(name="Organizers")
    return organizers, Permission.objects.filter(content_type__app_label="donations")


def take_rate_rights(apps, schema_editor):
    organizers, permissions = _organizer_rights(apps)
    organizers.permissions.remove(*permissions.filter(codename__in=RATE_RIGHTS_TAKEN))


def give_rate_rights_back(apps, schema_editor):
    organizers, permissions = _organizer_rights(apps)
    organizers.permissions.add(
        *permissions.filter(codename__in=["add_exchangerate", "change_exchangerate"])
    )


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0007_organizer_block'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('donations', '0017_team_members_protect_their_gifts'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ExchangeRateChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date', models.DateField(verbose_name='date')),
                ('currency', models.CharField(max_length=3, verbose_name='currency')),
                ('changed_at', models.DateTimeField(auto_now_add=True, verbose_name='changed at')),
                ('action', models.CharField(choices=[('add', 'Added by hand'), ('edit', 'Changed by hand'), ('delete', 'Deleted'), ('import', 'Imported')], max_length=20, verbose_name='action')),
                ('changes', models.JSONField(default=dict, verbose_name='changes')),
                ('reason', models.TextField(blank=True, verbose_name='reason')),
            ],
            options={
                'verbose_name': 'exchange rate change',
                'verbose_name_plural': 'exchange rate changes',
                'ordering': ['-changed_at', '-id'],
            },
        ),
        migrations.RemoveConstraint(
            model_name='donationchange',
            name='donation_change_action_valid',
        ),
        migrations.AlterField(
            model_name='donationchange',
            name='action',
            field=models.CharField(choices=[('start', 'Checkout started'), ('payment', 'Payment recorded'), ('failure', 'Payment failed'), ('expiry', 'Checkout expired'), ('refund', 'Refund'), ('dispute', 'Dispute'), ('stripe', 'Stripe details updated'), ('record', 'Cash recorded'), ('edit', 'Edited'), ('void', 'Voided'), ('deposit', 'Cash deposited'), ('moderate', 'Moderated'), ('donor', 'Changed by the donor'), ('purge', 'Personal data removed'), ('member', 'Moved to another team member'), ('receipt', 'Receipt sent again')], max_length=20, verbose_name='action'),
        ),
        migrations.AddConstraint(
            model_name='donationchange',
            constraint=models.CheckConstraint(condition=models.Q(('action__in', ['start', 'payment', 'failure', 'expiry', 'refund', 'dispute', 'stripe', 'record', 'edit', 'void', 'deposit', 'moderate', 'donor', 'purge', 'member', 'receipt'])), name='donation_change_action_valid'),
        ),
        migrations.AddField(
            model_name='exchangeratechange',
            name='changed_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='exchange_rate_changes', to=settings.AUTH_USER_MODEL, verbose_name='changed by'),
        ),
        migrations.AddField(
            model_name='exchangeratechange',
            name='rate',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='changes', to='donations.exchangerate', verbose_name='exchange rate'),
        ),
        migrations.AddConstraint(
            model_name='exchangeratechange',
            constraint=models.CheckConstraint(condition=models.Q(('action__in', ['add', 'edit', 'delete', 'import'])), name='exchange_rate_change_action_valid'),
        ),
        migrations.RunPython(take_rate_rights, give_rate_rights_back),
    ]
